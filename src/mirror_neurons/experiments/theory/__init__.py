"""Testing the paper's theory P ~ f(S/M, E) * g(D, I) (SPEC section 7; docs/theory.md).

The experiment, in order, one module per step:

1. ``grid``: ``TheoryGrid``, the factors (capacity M by architecture, game
   complexity by the obstacle cap, dependency D, veil I, seeds), one dataset per
   (rate_max, D, I) and one many-models training run per dataset.
2. ``rules``: the pre-registered part, alone: the measured quantities, the
   best-checkpoint rule, the two definitions of emergence, the logistic model
   and the decision rules that turn its profile intervals into "supports /
   contradicts / cannot decide".
3. ``run``: ``run_theory`` builds, trains and analyses every cell (each step
   skipped when its output is complete, so a killed run resumes), locally or
   one cell per executor task.
4. ``summary``: proportions, fits, verdicts, sensitivity and exploratory readings.
5. ``present`` (``content``, ``markdown``): Markdown, figures and the report section's content; the
   report package lays that out and reaches it through ``load_section`` only.

Round two (docs/theory.md, "Round two"): ``rules2`` (its pre-registered rules, alone),
``power`` (the power analysis), ``round2`` (grid, run, summary) and ``present2``.

The definitions in ``rules`` are the pre-registration's; changing one means
recording the change and its reason in docs/theory.md.
"""

from mirror_neurons.experiments.theory.grid import VAL_FRACTION, DataCell, TheoryGrid
from mirror_neurons.experiments.theory.content import SectionContent
from mirror_neurons.experiments.theory.present import (
    figure_set,
    load_section,
    results_markdown,
    theory_section,
    write_figures,
)
from mirror_neurons.experiments.theory.rules import (
    DEFINITION_NAMES,
    DEFINITIONS,
    MEANINGFUL_OR,
    MIN_EVENTS,
    NULL_QUANTILE,
    PAPER_CMNI_THRESHOLD,
    PAPER_LOSS_THRESHOLD,
    TERMS,
    TheoryFit,
    Verdict,
    above_null,
    choose_checkpoint,
    design,
    emergence,
    fit_theory,
    n_parameters,
    proportions,
    signal_complexity,
    statement,
    verdicts,
)
from mirror_neurons.experiments.theory.run import run_cell, run_theory
from mirror_neurons.experiments.theory.summary import exploratory, nulls_by_capacity, summarise

__all__ = [
    "DEFINITIONS",
    "DEFINITION_NAMES",
    "MEANINGFUL_OR",
    "MIN_EVENTS",
    "NULL_QUANTILE",
    "PAPER_CMNI_THRESHOLD",
    "PAPER_LOSS_THRESHOLD",
    "TERMS",
    "VAL_FRACTION",
    "DataCell",
    "SectionContent",
    "TheoryFit",
    "TheoryGrid",
    "Verdict",
    "above_null",
    "choose_checkpoint",
    "design",
    "emergence",
    "exploratory",
    "figure_set",
    "fit_theory",
    "load_section",
    "n_parameters",
    "nulls_by_capacity",
    "proportions",
    "results_markdown",
    "run_cell",
    "run_theory",
    "signal_complexity",
    "statement",
    "summarise",
    "theory_section",
    "verdicts",
    "write_figures",
]
