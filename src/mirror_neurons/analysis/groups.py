"""Scenario groups: which test states count as "no distress", "Frog in distress", ... (SPEC section 6).

Default (``filtered=True``), the published pipeline's filters:

    none = scenario 0
    frog = scenario 1 AND Toad visible as its base symbol (a 5 somewhere in the players row)
    toad = scenario 2 AND Frog visible as its base symbol (a 4 somewhere in the players row)
    both = scenario 3

The filters drop distress states in which the *other* player shows an action
symbol (jump 6, leap 7, help 8) instead of its base symbol, so the frog and
toad groups differ from "none" only in who shows distress. The alternative
(``filtered=False``) uses the scenario code alone: frog = scenario 1,
toad = scenario 2. An empty group is an error (``AnalysisError`` naming the
group), never a silent zero.

**Composition matching** (``match_composition``, the default of the analysis).
The test set is balanced by action label, so the groups differ in more than
distress: Frog stands at column >= 26 in about half of the toad states and an
eighth of the none states, and energy is 0 in a quarter of the toad states
against 43 % of the none states. Every state therefore gets a *stratum*: energy
0 or > 0 (input 97) x Frog's column < 26 or >= 26 (``Split.frog_pos``) x action
label, 16 strata (``stratum_name``). The **common support** is the strata in
which none, frog and toad each hold at least ``min_count`` states. Each group
is reweighted to the none group's composition over the common support: a state
of group g in stratum s weighs ``pi_s / n(g, s)``, with ``pi_s`` the share of the
supported none states in s (the "both" group likewise, over the supported strata
it fills, renormalised). A group mean is then ``sum_s pi_s mean(g, s)``, and a
contrast ``mean(frog) - mean(none) = sum_s pi_s (mean(frog, s) - mean(none, s))``,
a stratum-weighted mean difference: a unit that only tracks energy, Frog's
position band or the label has contrast 0 (tested). States outside the common
support count in no measure; the strata dropped are named in a warning and
their share is in the tables (``matched_share_*``), never silently.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mirror_neurons.errors import AnalysisError
from mirror_neurons.game.constants import OWN_ENERGY, PLAYERS, Action, Scenario, Symbol
from mirror_neurons.tables import GROUPS

__all__ = ["GROUPS"]  # group names in the order of every (4, units) array: the scenarios' own (tables.GROUPS)

_RULES = {
    True: {
        "none": "scenario 0",
        "frog": "scenario 1 with Toad visible as 5 in the players row",
        "toad": "scenario 2 with Frog visible as 4 in the players row",
        "both": "scenario 3",
    },
    False: {"none": "scenario 0", "frog": "scenario 1", "toad": "scenario 2", "both": "scenario 3"},
}


FROG_BAND = 26
"""Frog's column that splits the position strata: < 26 and >= 26 (where the help rule starts)."""
MIN_STRATUM_STATES = 20
"""Default ``min_count``: a stratum enters the common support when none, frog and toad each hold this many states."""
N_STRATA = 16


def stratum_codes(x: np.ndarray, frog_pos: np.ndarray, label: np.ndarray, *, by_label: bool = True) -> np.ndarray:
    """(n,) int16 stratum of each state: 8 * (energy > 0) + 4 * (Frog at column >= 26) + action label.

    ``by_label=False`` leaves the label out (every state counts as label 0, hop): 4 strata.
    """
    energy = np.asarray(x)[:, OWN_ENERGY]
    lab = np.asarray(label) if by_label else np.zeros(len(energy), dtype=np.int64)
    return (8 * (energy > 0) + 4 * (np.asarray(frog_pos) >= FROG_BAND) + lab).astype(np.int16)


def stratum_name(code: int, *, by_label: bool = True) -> str:
    """'energy>0, Frog col>=26, help' for a stratum code (without the label when ``by_label`` is False)."""
    energy = "energy>0" if code & 8 else "energy=0"
    band = f"Frog col>={FROG_BAND}" if code & 4 else f"Frog col<{FROG_BAND}"
    return f"{energy}, {band}, {Action(code & 3).name.lower()}" if by_label else f"{energy}, {band}"


@dataclass(frozen=True)
class Composition:
    """The common support of a composition-matched grouping and its target composition."""

    codes: np.ndarray  # (S,) stratum codes of the common support
    target: np.ndarray  # (4 groups, S) stratum weights of each group; rows sum to 1 (0 where a group lacks the stratum)
    kept: np.ndarray  # (4,) share of each group's states inside the common support
    min_count: int
    dropped: tuple[str, ...]  # the strata left out, each with its counts per group
    by_label: bool = True  # whether the strata include the action label


@dataclass(frozen=True)
class Groups:
    """Membership of each state: ``label`` (n,) int8, the index into GROUPS, or -1 (in no group).

    ``stratum`` (n,) int16 is each state's index into ``composition.codes`` (-1: outside the
    common support) when the groups are composition-matched (``match_composition``), else None.
    """

    label: np.ndarray
    filtered: bool
    stratum: np.ndarray | None = None
    composition: Composition | None = None

    @property
    def matched(self) -> bool:
        return self.composition is not None

    @property
    def n_strata(self) -> int:
        return 1 if self.composition is None else len(self.composition.codes)

    @cached_property
    def cells(self) -> list[list[np.ndarray | slice]]:
        """cells[g][s]: the states of group g in stratum s (one stratum, the whole group, when not matched).

        A slice where those states are contiguous (``prepare_test`` orders by group, then stratum).
        """
        s = np.zeros(self.n, dtype=np.int16) if self.stratum is None else self.stratum
        key = np.where((self.label >= 0) & (s >= 0), self.label.astype(np.int32) * N_STRATA + s, -1)
        out = []
        for g in range(len(GROUPS)):
            row = []
            for k in range(self.n_strata):
                idx = np.flatnonzero(key == g * N_STRATA + k)
                contiguous = len(idx) and idx[-1] - idx[0] + 1 == len(idx)
                row.append(slice(int(idx[0]), int(idx[-1]) + 1) if contiguous else idx)
            out.append(row)
        return out

    def cell_counts(self) -> np.ndarray:
        """(4, S) number of states per group and stratum."""
        size = lambda c: c.stop - c.start if isinstance(c, slice) else len(c)  # noqa: E731
        return np.array([[size(c) for c in row] for row in self.cells], dtype=np.int64)

    def target(self) -> np.ndarray:
        """(4, S) stratum weights of each group (rows sum to 1); (4, 1) ones when not matched."""
        return np.ones((len(GROUPS), 1)) if self.composition is None else self.composition.target

    def state_weights(self) -> np.ndarray:
        """(n,) weight of each state within its group (a group's weights sum to 1; 0 outside any cell)."""
        w = np.zeros(self.n)
        counts, target = self.cell_counts(), self.target()
        for g, row in enumerate(self.cells):
            for k, c in enumerate(row):
                if counts[g, k]:
                    w[c] = target[g, k] / counts[g, k]
        return w

    @property
    def n(self) -> int:
        return len(self.label)

    def counts(self) -> dict[str, int]:
        c = np.bincount(self.label[self.label >= 0], minlength=len(GROUPS))
        return {g: int(c[i]) for i, g in enumerate(GROUPS)}

    def index(self, group: str) -> np.ndarray:
        """Indices of the states in ``group`` (raises AnalysisError if there are none)."""
        idx = np.flatnonzero(self.label == GROUPS.index(group))
        if len(idx) == 0:
            raise AnalysisError(
                f"scenario group {group!r} ({_RULES[self.filtered][group]}) has no states among {self.n} test "
                f"states; the test set lacks this scenario{' after the published filters (try --unfiltered, i.e. filtered=False)' if self.filtered else ''}"
            )
        return idx

    def require(self, *groups: str) -> None:
        for g in groups:
            self.index(g)

    def slices(self) -> dict[str, slice | np.ndarray]:
        """Per group a slice when its states are contiguous (see ``order``), else an index array."""
        out: dict[str, slice | np.ndarray] = {}
        for g in GROUPS:
            idx = np.flatnonzero(self.label == GROUPS.index(g))
            if len(idx) and idx[-1] - idx[0] + 1 == len(idx):
                out[g] = slice(int(idx[0]), int(idx[-1]) + 1)
            else:
                out[g] = idx
        return out

    def take(self, index: np.ndarray) -> Groups:
        stratum = None if self.stratum is None else self.stratum[index]
        return Groups(self.label[index], self.filtered, stratum, self.composition)

    def order(self) -> np.ndarray:
        """A stable permutation that makes every group, and within it every stratum, contiguous (the rest last)."""
        key = np.where(self.label < 0, len(GROUPS), self.label).astype(np.int32) * (N_STRATA + 1)
        if self.stratum is not None:
            key = key + np.where(self.stratum < 0, N_STRATA, self.stratum)
        return np.argsort(key, kind="stable")

    def onehot(self, groups: tuple[str, ...] = GROUPS) -> np.ndarray:
        """(n, len(groups)) float32 membership matrix."""
        return np.stack([self.label == GROUPS.index(g) for g in groups], axis=1).astype(np.float32)


def scenario_groups(x: np.ndarray, scenario: np.ndarray, *, filtered: bool = True) -> Groups:
    """Groups of SPEC section 6 from states ``x`` (n, 100) and their ``scenario`` codes (n,)."""
    x = np.asarray(x)
    scenario = np.asarray(scenario)
    if x.ndim != 2 or x.shape[0] != len(scenario):
        raise AnalysisError(f"need states (n, 100) and n scenario codes, got {x.shape} and {scenario.shape}")
    label = np.full(len(scenario), -1, dtype=np.int8)
    frog = scenario == Scenario.FROG
    toad = scenario == Scenario.TOAD
    if filtered:
        players = x[:, PLAYERS]
        frog &= (players == Symbol.TOAD).any(axis=1)
        toad &= (players == Symbol.FROG).any(axis=1)
    label[scenario == Scenario.NONE] = GROUPS.index("none")
    label[frog] = GROUPS.index("frog")
    label[toad] = GROUPS.index("toad")
    label[scenario == Scenario.BOTH] = GROUPS.index("both")
    return Groups(label=label, filtered=filtered)


def match_composition(
    groups: Groups, codes: np.ndarray, *, min_count: int = MIN_STRATUM_STATES, by_label: bool = True
) -> Groups:
    """``groups`` reweighted to the none group's composition over strata ``codes`` (n,) (see the module docstring).

    Warns (naming them) when strata fall outside the common support; ``AnalysisError`` when none is left.
    """
    codes = np.asarray(codes)
    if codes.shape != groups.label.shape:
        raise AnalysisError(f"need one stratum code per state, got {codes.shape} for {groups.label.shape} states")
    counts = np.zeros((len(GROUPS), N_STRATA), dtype=np.int64)
    for g in range(len(GROUPS)):
        counts[g] = np.bincount(codes[groups.label == g], minlength=N_STRATA)[:N_STRATA]
    compared = counts[:3]  # none, frog, toad
    support = np.flatnonzero((compared >= min_count).all(axis=0))
    dropped = tuple(
        f"{stratum_name(c, by_label=by_label)} (none {counts[0, c]}, frog {counts[1, c]}, toad {counts[2, c]})"
        for c in range(N_STRATA) if compared[:, c].any() and c not in support
    )  # fmt: skip
    if len(support) == 0:
        raise AnalysisError(
            f"no stratum (energy x Frog's position band{' x label' if by_label else ''}) holds at least {min_count} none, "
            f"frog and toad states ({'; '.join(dropped) or 'no states'}); the groups cannot be composition-matched: use a "
            f"larger test set, a smaller min_stratum_states, or the paper's view (--paper-view)"
        )
    pi = counts[0, support] / counts[0, support].sum()
    target = np.tile(pi, (len(GROUPS), 1))
    both = counts[3, support] >= min_count
    target[3] = np.where(both, pi, 0.0) / max(pi[both].sum(), 1e-300) if both.any() else 0.0
    group_total = np.maximum(counts.sum(axis=1), 1)
    kept = np.array([counts[g, support][target[g] > 0].sum() for g in range(len(GROUPS))]) / group_total
    index = np.full(N_STRATA + 1, -1, dtype=np.int16)
    index[support] = np.arange(len(support))
    stratum = index[np.where((codes >= 0) & (codes < N_STRATA), codes, N_STRATA)]
    if dropped:
        warnings.warn(
            f"composition matching: {len(dropped)} strata hold fewer than {min_count} states of none, frog or toad and "
            f"are left out of every measure: {'; '.join(dropped)}; kept share of states: "
            + ", ".join(f"{g} {k:.3f}" for g, k in zip(GROUPS, kept)),
            stacklevel=2,
        )
    composition = Composition(support.astype(np.int16), target, kept, min_count, dropped, by_label)
    return Groups(groups.label, groups.filtered, stratum, composition)


def split_groups(split, *, filtered: bool = True) -> Groups:
    """``scenario_groups`` of a dataset ``Split``."""
    return scenario_groups(split.x, split.scenario, filtered=filtered)
