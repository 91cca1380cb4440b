"""JSON files the report reads, of the wrong type, are one error naming the file (issue 14)."""

from __future__ import annotations

import pytest

from mirror_neurons.errors import AnalysisError, DataError
from mirror_neurons.experiments.theory import load_section
from mirror_neurons.report.collect import locate


@pytest.mark.parametrize("text", ["[]", '"x"', "7", "{"])
def test_analysis_config_and_study_record_must_be_objects(tmp_path, text):
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "config.json").write_text(text)
    from mirror_neurons.analysis.case import read_case

    (tmp_path / "analysis" / "case.json").write_text(text)
    with pytest.raises(AnalysisError, match=r"case.json (holds a JSON|is not valid JSON)"):
        read_case(tmp_path / "analysis")
    with pytest.raises(AnalysisError, match=r"config.json (holds a JSON|is not valid JSON)"):
        locate(tmp_path, None)
    (tmp_path / "study.json").write_text(text)
    with pytest.raises(AnalysisError, match=r"study.json (holds a JSON|is not valid JSON)"):
        locate(tmp_path, None)


@pytest.mark.parametrize(
    ("summary", "records", "message"),
    [
        ("[]", "[]", "summary.json holds a JSON list, not an object"),
        ("{}", "[]", r"summary.json is not the summary.json this version writes \(no key 'n_models'; .*theory"),
        ('{"n_models": 1}', "{}", "records.json must hold a list of records"),
        ('{"n_models": 1}', "[1, 2]", "records.json must hold a list of records"),
    ],
)
def test_theory_folder_of_the_wrong_shape(tmp_path, summary, records, message):
    (tmp_path / "summary.json").write_text(summary)
    (tmp_path / "records.json").write_text(records)
    with pytest.raises(DataError, match=message):
        load_section(tmp_path)
