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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirror_neurons.errors import AnalysisError
from mirror_neurons.game.constants import PLAYERS, Scenario, Symbol

GROUPS = ("none", "frog", "toad", "both")
"""Group names in the order used by every (4, units) array of the analysis."""

_RULES = {
    True: {
        "none": "scenario 0",
        "frog": "scenario 1 with Toad visible as 5 in the players row",
        "toad": "scenario 2 with Frog visible as 4 in the players row",
        "both": "scenario 3",
    },
    False: {"none": "scenario 0", "frog": "scenario 1", "toad": "scenario 2", "both": "scenario 3"},
}


@dataclass(frozen=True)
class Groups:
    """Membership of each state: ``label`` (n,) int8, the index into GROUPS, or -1 (in no group)."""

    label: np.ndarray
    filtered: bool

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

    def order(self) -> np.ndarray:
        """A stable permutation that makes every group contiguous (none, frog, toad, both, then the rest)."""
        key = np.where(self.label < 0, len(GROUPS), self.label)
        return np.argsort(key, kind="stable")

    def take(self, index: np.ndarray) -> Groups:
        return Groups(self.label[index], self.filtered)

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


def split_groups(split, *, filtered: bool = True) -> Groups:
    """``scenario_groups`` of a dataset ``Split``."""
    return scenario_groups(split.x, split.scenario, filtered=filtered)
