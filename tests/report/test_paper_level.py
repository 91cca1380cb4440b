"""The paper's loss threshold is read in the paper's units only; competence stands in for other losses."""

from __future__ import annotations

import dataclasses

import numpy as np

from mirror_neurons.report import sections
from .synthetic import synthetic_inputs


def mixed_losses():
    """Four checkpoints: two trained with the paper's loss (val loss 0.05 and 0.07), two with
    cross-entropy (val loss 0.2, far above 0.06 in other units), one of them competent."""
    inp = synthetic_inputs(n_checkpoints=4)
    c = dict(inp.checkpoints)
    c["hyperparameters.loss"] = np.array(["mse_l2", "mse_l2", "cross_entropy", "cross_entropy"], dtype=object)
    c["encoding"] = np.array(["raw", "raw", "onehot", "onehot"], dtype=object)
    c["model_id"] = np.array(["paper_a", "paper_b", "ce_a", "ce_b"], dtype=object)
    c["val_loss"] = np.array([0.05, 0.07, 0.2, 0.2])
    c["competent"] = np.array([0.0, 0.0, 1.0, 0.0])
    c["cmni"] = np.array([0.001, 0.02, 0.009, 0.03])
    return dataclasses.replace(inp, checkpoints=c)


def test_threshold_for_the_papers_loss_competence_for_the_others():
    inp = mixed_losses()
    assert list(inp.paper_loss()) == [True, True, False, False]
    assert list(inp.at_paper_level()) == [True, False, True, False]


def test_a_table_without_a_loss_column_is_the_papers_loss():
    inp = synthetic_inputs(n_checkpoints=4)
    assert "hyperparameters.loss" not in inp.checkpoints and inp.paper_loss().all()
    assert list(inp.at_paper_level()) == list(np.asarray(inp.checkpoints["val_loss"]) < 0.06)


def test_table_1_claim_counts_competent_cross_entropy_checkpoints_not_their_loss():
    """Of the four, the eligible ones are paper_a (0.05 < 0.06) and ce_a (competent): max CMNI 0.009 > 0.005."""
    row = next(r for r in sections.claim_rows(mixed_losses()) if r[0].endswith("(Table 1)"))
    assert row[0].endswith("(Table 1)")
    assert (
        "max CMNI 0.00900 among 2 checkpoints at the paper's loss level (1 of them trained with another loss" in row[2]
    )
    assert row[3] == "reproduced"


def test_training_section_names_the_recipes_and_reads_the_threshold_for_the_papers_loss_only():
    s = sections.section_training(mixed_losses())
    assert "2 with the paper's loss" in s.intro and "2 with softmax cross-entropy on onehot input" in s.intro
    assert "each in its own objective" in s.figures[0].reading
