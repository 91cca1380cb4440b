"""Did a network learn the game? Baselines, confusion matrices and a stated competence rule.

A mirror-unit figure only means something for a network that plays the game, so
every checkpoint is judged against three baselines on the same test states:

* the **energy rule** ("energy 0 -> jump, otherwise hop"), which reads one input.
  The labeling rule's first clause makes every energy-0 state a jump and no other
  state a jump, so on any test set the energy rule has recall 1 for hop and jump
  and 0 for leap and help: macro recall 0.5 whatever the class balance, and
  accuracy 0.8 on the balanced 40/40/10/10 test set;
* the **label prior**, always the most frequent training label;
* the **information ceiling**: the best accuracy any function of the model's
  input can reach. The input hides Frog's position, and when both players are
  in distress both show the same symbol, so two states with the same 100
  integers can carry different labels. Estimated as the share of test rows
  whose label is the majority label among all dataset rows (train, val and
  test) with the same input. The labeling rule itself scores 1 by construction
  (the labels are its output) and is not a useful bar.

Competence (``is_competent``): a checkpoint is competent when its macro recall
(mean recall over the classes present) is at least the energy rule's plus
``MARGIN``, its leap and help recalls are both at least ``FLOOR``, and its
accuracy is at least the energy rule's. The constants and why they are chosen are
on their docstrings. The last clause keeps out a network that buys leap and help by
losing hop: with the paper's L2 term and balanced sampling, networks reach macro
recall 0.72-0.74 with hop recall 0.46-0.64 and accuracy 0.72-0.78, below the one-input
rule's 0.80 (docs/training.md, recipe g): they play worse than the rule, so they have
not learned the game.

Numpy only: predictions in, scores out. Actions are ``game.constants.Action``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirror_neurons.errors import AnalysisError
from mirror_neurons.game.constants import OWN_ENERGY, STATE_SIZE, Action

N_ACTIONS = len(Action)
ACTION_NAMES = tuple(a.name.lower() for a in Action)
"""Class names in code order: hop, jump, leap, help."""

MARGIN = 0.15
"""Macro recall a competent network needs above the energy rule's.

The energy rule already has recall 1 for hop and jump and 0 for leap and help
(macro 0.5). With four classes, 0.15 of macro recall is 0.6 of recall summed
over classes: for a network as good as the energy rule on hop and jump, leap and
help recall adding up to at least 0.6 (30 % each); a network that buys leap or
help by losing hop or jump needs correspondingly more. Small enough for the
issue's goal (leap and help >= 0.5) to clear it easily, large enough that test
noise on 10,000 leap or help states (standard error below 0.005) cannot."""

FLOOR = 0.30
"""Recall of leap and of help a competent network needs, each.

Above 0.25, what a network guessing uniformly among the four actions gets on
every class, so each of the two actions the energy rule never predicts must be
predicted from the input better than by guessing. Without the floor, the margin
could be met by one of the two alone (leap 0.6, help 0)."""

_TIE = 1e-9
"""Rounding slack: 3/10 + 3/10 recall averaged with two 1s is 0.6499999999999999, which is the bar 0.65."""

COMPETENCE_RULE = (
    f"competent = macro recall >= the energy rule's + {MARGIN:g}, and leap recall >= {FLOOR:g}, "
    f"and help recall >= {FLOOR:g}, and accuracy >= the energy rule's"
)

RECALL_COLUMNS = tuple(f"recall_{name}" for name in ACTION_NAMES)
"""Per-class test recall columns of ``analysis/checkpoints.parquet``."""
CONFUSION_COLUMNS = tuple(f"confusion_{t}_{p}" for t in ACTION_NAMES for p in ACTION_NAMES)
"""Confusion matrix columns, ``confusion_<true>_<predicted>``, row-major (true label major)."""
MACRO_RECALL_COLUMN = "macro_recall"
COMPETENT_COLUMN = "competent"


@dataclass(frozen=True)
class Scores:
    """How a set of predictions matches the labels."""

    confusion: np.ndarray  # (4, 4) int64, rows true label, columns prediction
    recall: np.ndarray  # (4,) float64; NaN for a class absent from the labels
    macro_recall: float
    """Mean recall over the classes present in the labels."""
    accuracy: float

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    def as_dict(self) -> dict:
        """JSON-ready: accuracy, recall by class name (None when absent), macro recall, confusion rows."""
        return {
            "accuracy": self.accuracy,
            "recall": {name: (None if np.isnan(r) else float(r)) for name, r in zip(ACTION_NAMES, self.recall)},
            "macro_recall": self.macro_recall,
            "confusion": self.confusion.tolist(),
        }

    def columns(self) -> dict:
        """The checkpoint-table columns: ``RECALL_COLUMNS``, ``macro_recall`` and ``CONFUSION_COLUMNS``."""
        cols: dict = {c: (None if np.isnan(r) else float(r)) for c, r in zip(RECALL_COLUMNS, self.recall)}
        cols[MACRO_RECALL_COLUMN] = self.macro_recall
        cols.update({c: int(v) for c, v in zip(CONFUSION_COLUMNS, self.confusion.ravel())})
        return cols


def _as_actions(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1:
        raise AnalysisError(f"{name} must be a 1-D array of action codes, got shape {a.shape}")
    if not a.size:
        return a.astype(np.int64)
    if not np.issubdtype(a.dtype, np.integer):  # argmax gives integers; floats or strings are a caller's mix-up
        raise AnalysisError(
            f"{name} has dtype {a.dtype} (first value {a.ravel()[0].item()!r}); give integer action codes "
            f"0..{N_ACTIONS - 1} (hop, jump, leap, help)"
        )
    if a.min() < 0 or a.max() >= N_ACTIONS:
        bad = a[(a < 0) | (a >= N_ACTIONS)][0]
        raise AnalysisError(f"{name} holds {int(bad)}, not an action code 0..{N_ACTIONS - 1} (hop, jump, leap, help)")
    return a.astype(np.int64)


def confusion(pred, label) -> np.ndarray:
    """(4, 4) int64 counts: row = true label, column = predicted action."""
    pred, label = _as_actions(pred, "pred"), _as_actions(label, "label")
    if len(pred) != len(label):
        raise AnalysisError(
            f"pred has {len(pred)} rows but label has {len(label)}; give one prediction per labeled state"
        )
    return np.bincount(label * N_ACTIONS + pred, minlength=N_ACTIONS * N_ACTIONS).reshape(N_ACTIONS, N_ACTIONS)


def scores_from_confusion(cm: np.ndarray) -> Scores:
    cm = np.asarray(cm, dtype=np.int64)
    if cm.shape != (N_ACTIONS, N_ACTIONS) or cm.sum() == 0:
        raise AnalysisError(
            f"a confusion matrix must be {N_ACTIONS}x{N_ACTIONS} with at least one state, got {cm.shape}"
        )
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, np.diag(cm) / support, np.nan)
    return Scores(cm, recall, float(np.nanmean(recall)), float(np.trace(cm) / cm.sum()))


def score(pred, label) -> Scores:
    """Confusion matrix, per-class recall, macro recall and accuracy of ``pred`` against ``label``."""
    if len(np.asarray(label)) == 0:
        raise AnalysisError("no labeled states to score; the test split is empty")
    return scores_from_confusion(confusion(pred, label))


def is_competent(scores: Scores, energy: Scores) -> bool:
    """``COMPETENCE_RULE`` against the energy rule's scores on the same states; a test set without
    leap or help states cannot show competence (False)."""
    leap, help_ = scores.recall[Action.LEAP], scores.recall[Action.HELP]
    bar = energy.macro_recall + MARGIN - _TIE  # a score exactly at the bar meets it, whatever the rounding
    return bool(
        scores.macro_recall >= bar
        and leap >= FLOOR - _TIE
        and help_ >= FLOOR - _TIE
        and scores.accuracy >= energy.accuracy - _TIE
    )


# -- baselines --------------------------------------------------------------------


def _as_states(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != STATE_SIZE:
        raise AnalysisError(f"{name} must be (n, {STATE_SIZE}) game states, got shape {x.shape}")
    return x


def energy_rule(x) -> np.ndarray:
    """(n,) int64: jump where own energy is 0, hop elsewhere."""
    x = _as_states(x, "x")
    return np.where(x[:, OWN_ENERGY] == 0, int(Action.JUMP), int(Action.HOP)).astype(np.int64)


def label_prior(train_label, n: int) -> np.ndarray:
    """(n,) int64: the most frequent training label (ties: the lower action code) for every state."""
    train_label = _as_actions(train_label, "train_label")
    if not len(train_label):
        raise AnalysisError("the label prior needs training labels; the train split is empty")
    return np.full(n, int(np.argmax(np.bincount(train_label, minlength=N_ACTIONS))), dtype=np.int64)


def ceiling_prediction(x, all_x, all_label) -> np.ndarray:
    """(n,) int64: for each row of ``x``, the majority label of the rows of ``all_x`` with the same input.

    ``all_x``/``all_label`` are every dataset row (train, val and test); ties go
    to the lower action code. A row of ``x`` absent from ``all_x`` is refused:
    the ceiling is estimated from the dataset that contains the test set.
    """
    x, all_x = _as_states(x, "x"), _as_states(all_x, "all_x")
    all_label = _as_actions(all_label, "all_label")
    if len(all_x) != len(all_label):
        raise AnalysisError(f"all_x has {len(all_x)} rows but all_label has {len(all_label)}")
    key = np.ascontiguousarray(np.concatenate([all_x, x]).astype(np.uint8)).view(np.dtype((np.void, STATE_SIZE)))[:, 0]
    _, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.ravel()
    ids, test_ids = inverse[: len(all_x)], inverse[len(all_x) :]
    n_ids = int(inverse.max()) + 1
    counts = np.bincount(ids * N_ACTIONS + all_label, minlength=n_ids * N_ACTIONS).reshape(n_ids, N_ACTIONS)
    if np.any(counts[test_ids].sum(axis=1) == 0):
        raise AnalysisError("some test states are not among the dataset rows given; pass train, val and test together")
    return counts.argmax(axis=1)[test_ids].astype(np.int64)  # argmax: ties to the lower code


@dataclass(frozen=True)
class Baselines:
    """The baselines' scores on one test set, and the competence bar they set."""

    energy_rule: Scores
    label_prior: Scores
    ceiling: Scores
    prior_label: int
    validation: dict[str, Scores] | None = None
    """The energy rule and the label prior on the validation split (the trainer's curves are measured there)."""

    @property
    def competent_macro_recall(self) -> float:
        return self.energy_rule.macro_recall + MARGIN

    def as_dict(self) -> dict:
        """The layout of ``analysis/baselines.json``."""
        return {
            "classes": list(ACTION_NAMES),
            "test_states": self.energy_rule.n,
            "rule": {
                "statement": COMPETENCE_RULE,
                "margin": MARGIN,
                "floor": FLOOR,
                "competent_macro_recall": self.competent_macro_recall,
            },
            "baselines": {
                "energy_rule": {"description": "energy 0 -> jump, otherwise hop", **self.energy_rule.as_dict()},
                "label_prior": {
                    "description": f"always the most frequent training label ({ACTION_NAMES[self.prior_label]})",
                    "label": ACTION_NAMES[self.prior_label],
                    **self.label_prior.as_dict(),
                },
                "ceiling": {
                    "description": "the majority label of all dataset rows with the same input: the best any "
                    "function of the model's input can do",
                    **self.ceiling.as_dict(),
                },
                "label_rule": {
                    "description": "the labeling rule itself: 1 by construction (the labels are its output)",
                    "accuracy": 1.0,
                    "macro_recall": 1.0,
                },
            },
            "validation": {name: s.as_dict() for name, s in (self.validation or {}).items()},
        }


def baselines(test_x, test_label, train_label, all_x, all_label, val_x=None, val_label=None) -> Baselines:
    """Every baseline scored on the test states (``all_*``: every dataset row, for the ceiling).

    With ``val_x``/``val_label`` (not empty), the energy rule and the prior are also scored on the
    validation split, where the trainer measures its per-epoch curves.
    """
    test_x = _as_states(test_x, "test_x")
    prior = label_prior(train_label, len(test_x))
    validation = None
    if val_x is not None and len(val_x):
        val_x = _as_states(val_x, "val_x")
        validation = {
            "energy_rule": score(energy_rule(val_x), val_label),
            "label_prior": score(np.full(len(val_x), prior[0] if len(prior) else 0), val_label),
        }
    return Baselines(
        energy_rule=score(energy_rule(test_x), test_label),
        label_prior=score(prior, test_label),
        ceiling=score(ceiling_prediction(test_x, all_x, all_label), test_label),
        prior_label=int(label_prior(train_label, 1)[0]),
        validation=validation,
    )


def best_per_model(model_ids, macro_recall, competent) -> dict[str, int]:
    """Per model, the index of the checkpoint that represents it in a competence table.

    Its competent checkpoint with the highest macro recall, or, when none is
    competent, its checkpoint with the highest macro recall; ties to the later
    index (a later epoch in a table sorted by epoch). A model is competent when
    its representative is.
    """
    model_ids = np.asarray(model_ids).astype(str)
    macro = np.nan_to_num(np.asarray(macro_recall, dtype=float), nan=-1.0)
    comp = np.asarray(competent, dtype=bool)
    out = {}
    for m in dict.fromkeys(model_ids.tolist()):
        rows = np.flatnonzero(model_ids == m)
        pool = rows[comp[rows]] if comp[rows].any() else rows
        best = macro[pool].max()
        out[m] = int(pool[macro[pool] == best][-1])
    return out


__all__ = [
    "ACTION_NAMES",
    "COMPETENCE_RULE",
    "COMPETENT_COLUMN",
    "CONFUSION_COLUMNS",
    "FLOOR",
    "MACRO_RECALL_COLUMN",
    "MARGIN",
    "RECALL_COLUMNS",
    "Baselines",
    "Scores",
    "baselines",
    "best_per_model",
    "ceiling_prediction",
    "confusion",
    "energy_rule",
    "is_competent",
    "label_prior",
    "score",
    "scores_from_confusion",
]
