"""The theory experiment's results for people: Markdown, figures, and the content of its report section.

Nothing here imports the report package: ``theory_section`` returns the
section's content (Matplotlib figures, tables as text) in plain dataclasses,
and the report lays it out (``report.html.section_from_content``). The report
reaches a finished experiment through one public loader, ``load_section``.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from mirror_neurons import atomic, tables
from mirror_neurons.errors import DataError
from mirror_neurons.experiments import plots
from mirror_neurons.experiments.theory.content import FigureContent, SectionContent, TableContent, verdict_table
from mirror_neurons.experiments.theory.grid import TheoryGrid
from mirror_neurons.experiments.theory.markdown import BY_COMPLEXITY_M, BY_DI, markdown_table, p_table, s_table
from mirror_neurons.experiments.theory.present2 import round_two_section
from mirror_neurons.experiments.theory.rules import DEFINITION_NAMES, DEFINITIONS


def _ratio_rows(summary: dict, records: Sequence[dict], definition: str) -> list[dict]:
    """P per (complexity, M) point with its mean S/M."""
    ratio: dict[tuple, list[float]] = {}
    for r in records:
        ratio.setdefault((r["rate_max"], r["M"]), []).append(r["S"] / r["M"])
    return [
        {**row, "ratio": float(np.mean(ratio[(row["rate_max"], row["M"])]))}
        for row in summary["definitions"][definition]["by_complexity_M"]
    ]


def figure_set(summary: dict, records: Sequence[dict]) -> list[tuple[str, str, object]]:
    """(file stem, title, Matplotlib figure) for each of the experiment's figures."""

    out = []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plots.plot_p_vs_ratio({d: _ratio_rows(summary, records, d) for d in DEFINITIONS}, ax=ax)
    out.append(("p_vs_ratio", "P against S/M (pooled over D, I and seeds; 95 % Wilson intervals)", fig))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, d in zip(axes, DEFINITIONS):
        plots.plot_di_heatmap(summary["definitions"][d]["by_DI"], ax=ax, title=DEFINITION_NAMES[d].split(" (")[0])
    out.append(("p_by_DI", "P over the (D, I) grid, both definitions (k/n and 95 % Wilson interval per cell)", fig))
    by_cell: dict[str, list[float]] = {}
    for r in sorted(records, key=lambda r: (r["rate_max"], r["dependency"], r["veil"])):
        by_cell.setdefault(f"r{r['rate_max']:g} D{r['dependency']:g} I{r['veil']:g}", []).append(r["cmni"])
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(by_cell)), 4))
    plots.plot_cmni_by_cell(by_cell, ax=ax)
    out.append(("cmni_by_cell", "CMNI of every model's analysed checkpoint, per dataset cell", fig))
    return out


def write_figures(summary: dict, records: Sequence[dict], folder: Path) -> list[Path]:

    paths = []
    for stem, _title, fig in figure_set(summary, records):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        path = folder / f"{stem}.png"
        atomic.write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def _fmt(v: float) -> str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:.3g}"


def _interval(bounds: Sequence[float]) -> str:
    return f"[{_fmt(bounds[0])}, {_fmt(bounds[1])}]"


def _hidden(row: dict) -> str:
    """An architecture as its layer widths, 8x8."""
    return "x".join(map(str, row["hidden"]))


NULL_COLUMNS = ["hidden", "M", "models", "CMNI", "permutation null q95", "random-init null q95"]
"""The first columns of a table of CMNI against its nulls per architecture (``summary["nulls_by_M"]``)."""


def _null_cells(row: dict) -> list[str]:
    """A ``nulls_by_M`` row's cells under ``NULL_COLUMNS``."""
    return [_hidden(row), str(row["M"]), str(row["n"])] + [f"{row[k]:.4f}" for k in ("cmni", "perm_q95", "init_q95")]


def results_markdown(summary: dict, grid: TheoryGrid) -> str:
    """The results as Markdown: counts, tables of P, the fitted coefficients and the generated statement."""
    lines = [
        f"Models analysed: {summary['n_models']} (grid: {len(grid.cells())} datasets x {len(grid.hidden)} architectures x {grid.seeds} seeds); "
        f"{summary.get('reached_threshold', 0)} reached val loss < 0.06. CMNI median {summary.get('cmni', {}).get('median', math.nan):.4g}, "
        f"max {summary.get('cmni', {}).get('max', math.nan):.4g}.",
        "",
    ]
    if "S_by_complexity" in summary:
        lines += s_table(summary["S_by_complexity"], "mean S_H (label entropy, bits)")
        lines.append("")
    for definition, d in summary["definitions"].items():
        lines += [
            f"### Emergence, {DEFINITION_NAMES[definition]}",
            "",
            f"{d['k']} of {summary['n_models']} models.",
            "",
        ]
        lines += ["P over (D, I), pooled over complexity, capacity and seeds:", ""] + p_table(d["by_DI"], BY_DI)
        lines += ["", "P per game complexity and capacity, pooled over D, I and seeds:", ""]
        lines += p_table(d["by_complexity_M"], BY_COMPLEXITY_M)
        fit = d["fit"]
        lines.append("")
        if "terms" in fit:
            lines += [
                f"Fitted model ({fit['method']}, n = {fit['n']}, {fit['events']} emergent; x = log(S/M) - {fit['x_mean']:.3g}):",
                "",
            ]
            lines += markdown_table(
                ["term", "coefficient", "SE", "95 % Wald", "95 % profile"],
                (
                    [name, f"{t['coef']:.3g}", f"{t['se']:.3g}", _interval(t["wald"]), _interval(t["profile"])]
                    for name, t in fit["terms"].items()
                ),
            )
            lines += [f"Note: {n}" for n in fit.get("notes", [])]
        else:
            lines.append(f"No fit: {fit['reason']}.")
        lines += ["", "Verdicts (pre-registered rules):", ""]
        lines += [f"- {v['part']}: **{v['verdict']}** ({v['because']})." for v in d["verdicts"]]
        lines += ["", "Sensitivity:", ""]
        for name, s in d["sensitivity"].items():
            short = "; ".join(
                f"{v['part']}: {v['verdict']}" + (f" ({v['because']})" if v["verdict"] == "reported" else "")
                for v in s["verdicts"]
                if v["part"] != "D and I interact"
            )
            lines.append(f"- {name}: {short}.")
        lines.append("")
    if summary.get("nulls_by_M"):
        lines += ["### CMNI against its nulls, per architecture (medians over models)", ""]
        lines += markdown_table(
            [*NULL_COLUMNS, "beat perm", "beat init", ">= 1 mirror unit"],
            (
                [*_null_cells(r), str(r["beats_perm"]), str(r["beats_init"]), str(r["with_mirror_unit"])]
                for r in summary["nulls_by_M"]
            ),
        )
        lines.append("")
        if all("es_cmni" in r for r in summary["nulls_by_M"]):
            lines += [
                "Exploratory (not pre-registered): the scale-free index (`effect_size_cmni`: MNS from Cohen's d) of the same checkpoints "
                "against untrained networks of the same architecture on the same states (medians over models):",
                "",
            ]
            lines += markdown_table(
                ["hidden", "models", "scale-free CMNI", "untrained null q95", "beat the untrained null"],
                (
                    [_hidden(r), str(r["n"]), f"{r['es_cmni']:.4f}", f"{r['es_init_q95']:.4f}", str(r["es_beats_init"])]
                    for r in summary["nulls_by_M"]
                ),
            )
            lines.append("")
    ex = summary.get("exploratory")
    if ex:
        lines += [
            f"### Exploratory: {ex['definition']}",
            "",
            f"{ex['k']} of {summary['n_models']} models.",
            "",
        ]
        lines += p_table(ex["by_DI"], BY_DI) + [""] + p_table(ex["by_complexity_M"], BY_COMPLEXITY_M)
        fit = ex["fit"]
        if "terms" in fit:
            lines += [
                "",
                f"Fit ({fit['method']}, {fit['events']} of {fit['n']}):",
                "",
            ]
            lines += markdown_table(
                ["term", "coefficient", "95 % profile"],
                ([name, f"{t['coef']:.3g}", _interval(t["profile"])] for name, t in fit["terms"].items()),
            )
        lines += ["", "Readings by the same rules (exploratory, not verdicts):", ""]
        lines += [f"- {v['part']}: {v['verdict']} ({v['because']})." for v in ex["readings"]]
        lines.append("")
    return "\n".join(lines)


# --- the report section, as content the report lays out ---------------------------------------------


def load_section(out: str | Path, number: int = 9) -> SectionContent:
    """The public loader: the theory section of a finished experiment folder ``out``.

    Used by ``mirror-neurons report --theory`` and by the experiment's own page.
    """
    out = Path(out)
    files = [out / tables.THEORY_SUMMARY.file, out / tables.THEORY_RECORDS.file]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(
            f"{out} holds no finished theory experiment ({', '.join(missing)} missing); "
            f"run `mirror-neurons experiment theory --out {out}` first"
        )
    fix = f"run `mirror-neurons experiment theory --out {out}` again to rewrite it"
    summary = atomic.read_json_object(files[0], DataError, fix)
    try:
        records = json.loads(files[1].read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{files[1]} is not valid JSON ({getattr(e, 'msg', e)}); {fix}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(f"{files[1]} must hold a list of records; {fix}")
    second = summary.get("round") == 2
    for schema, value, path in zip(
        (tables.THEORY2_SUMMARY, tables.THEORY2_RECORDS) if second else (tables.THEORY_SUMMARY, tables.THEORY_RECORDS),
        (summary, records),
        files,
    ):
        schema.require(value, path)
    try:
        if second:
            return round_two_section(summary, number=number)
        return theory_section(summary, records, number=number)
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # a summary of another shape than run_theory writes
        raise DataError(f"{files[0]} is not a theory summary (bad or missing {e}); {fix}") from None


def theory_section(summary: dict, records: Sequence[dict], number: int = 9) -> SectionContent:
    """The experiment as the content of one section of the project's HTML report."""
    s = SectionContent(
        "theory",
        f"{number}. Theory: P ~ f(S/M, E) * g(D, I)",
        f"{summary['n_models']} models over capacity M, game complexity (S), dependency D and veil I; "
        "emergence by two pre-registered definitions, P per cell with 95 % Wilson intervals, and the "
        "pre-registered logistic fit read by fixed decision rules (docs/theory.md).",
        facts={
            "models": summary["n_models"],
            **{f"emergent ({d})": v["k"] for d, v in summary.get("definitions", {}).items()},
        },
    )
    if not records:
        s.notes.append("No model has been analysed yet.")
        return s
    readings = {
        "p_vs_ratio": "; ".join(
            f"{DEFINITION_NAMES[d].split(' (')[0]}: P from {min(r['p'] for r in rows):.2f} to {max(r['p'] for r in rows):.2f} across S/M"
            for d in DEFINITIONS
            if (rows := summary["definitions"][d]["by_complexity_M"])
        )
        + ".",
        "p_by_DI": "; ".join(
            f"{DEFINITION_NAMES[d].split(' (')[0]}: {summary['definitions'][d]['k']} of {summary['n_models']} models emergent"
            for d in DEFINITIONS
        )
        + ".",
        "cmni_by_cell": f"Median CMNI {summary['cmni']['median']:.4f}, largest {summary['cmni']['max']:.4f}; the dashed line is the paper's 0.005.",
    }
    for stem, title, fig in figure_set(summary, records):
        s.figures.append(FigureContent(title, fig, readings[stem]))
    for d in DEFINITIONS:
        s.tables.append(
            verdict_table(f"Verdicts, {DEFINITION_NAMES[d]} definition", summary["definitions"][d]["verdicts"])
        )
    nulls = summary.get("nulls_by_M", [])
    if nulls:
        scale_free = all("es_cmni" in r for r in nulls)
        columns = [*NULL_COLUMNS, "beat both"]
        columns += ["scale-free CMNI", "untrained null q95", "beat it (exploratory)"] if scale_free else []
        rows = []
        for r in nulls:
            row = [
                *_null_cells(r),
                str(
                    sum(
                        1
                        for m in records
                        if m["M"] == r["M"] and m["cmni"] > m["perm_q95"] and m["cmni"] > m["init_q95"]
                    )
                ),
            ]
            if scale_free:
                row += [f"{r['es_cmni']:.4f}", f"{r['es_init_q95']:.4f}", str(r["es_beats_init"])]
            rows.append(row)
        s.tables.append(TableContent("CMNI against its nulls per architecture (medians over models)", columns, rows))
    return s
