"""Preparation and labeling, against the rules of SPEC section 4 written out row by row."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.generate import record_chunk
from mirror_neurons.data.prepare import (
    ENERGY_PROBS,
    ENERGY_VALUES,
    FLY_PATTERNS,
    decode_boards,
    frog_view_boards,
    label_states,
    prepare,
    preparation_draws,
)
from mirror_neurons.errors import DataError
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Action, Player, Scenario, Symbol
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions

SOLID, ROUGH = int(Symbol.SOLID), int(Symbol.ROUGH)
F, T, X, X10 = int(Symbol.FROG), int(Symbol.TOAD), int(Symbol.DISTRESS), int(Symbol.TOAD_DISTRESS)


def state(frog: int, toad: int, frog_sym: int = F, toad_sym: int = T, energy: int = 10, rough=()) -> np.ndarray:
    """A prepared model input (100,) with the given players row and rough ground columns."""
    x = np.zeros(100, dtype=np.uint8)
    x[0:32] = SOLID
    x[list(rough)] = ROUGH
    x[32 + frog] = frog_sym
    x[32 + toad] = toad_sym  # Toad drawn last, as in the game
    x[97] = energy
    return x


# (description, frog pos, toad pos, frog symbol, toad symbol, energy, rough columns, best action, scenario)
LABEL_TABLE = [
    ("energy 0 -> jump, whatever else", 31, 5, F, X, 0, (5,), Action.JUMP, Scenario.TOAD),
    ("p = 31 -> help", 31, 20, F, T, 4, (), Action.HELP, Scenario.NONE),
    ("p = 31 in distress -> help", 31, 20, X, T, 4, (31,), Action.HELP, Scenario.FROG),
    ("p >= 26, Toad in distress -> help", 26, 20, F, X, 4, (20,), Action.HELP, Scenario.TOAD),
    ("p >= 26, both in distress -> not help", 27, 20, X, X, 4, (20, 27), Action.HOP, Scenario.BOTH),
    ("p = 25, Toad in distress -> not help (leap over rough)", 25, 20, F, X, 4, (20, 26), Action.LEAP, Scenario.TOAD),
    ("solid ahead -> hop", 10, 11, F, T, 4, (), Action.HOP, Scenario.NONE),
    ("rough ahead, room to leap -> leap", 10, 11, F, T, 4, (11,), Action.LEAP, Scenario.NONE),
    ("rough ahead, p + 5 = 31 -> hop", 26, 12, F, T, 4, (27,), Action.HOP, Scenario.NONE),
    ("Toad's last action shows, Frog in distress", 3, 9, X, int(Symbol.LEAP), 2, (3,), Action.HOP, Scenario.FROG),
    ("Toad's distress code 10 counts as distress", 27, 20, F, X10, 4, (20,), Action.HELP, Scenario.TOAD),
    ("shared column: Toad's symbol is Frog's too", 12, 12, F, X, 4, (12,), Action.HOP, Scenario.BOTH),
]


@pytest.mark.parametrize("case", LABEL_TABLE, ids=[c[0] for c in LABEL_TABLE])
def test_label_rules(case):
    _, frog, toad, fs, ts, energy, rough, action, scenario = case
    x = state(frog, toad, fs, ts, energy, rough)[None]
    label, scen = label_states(x, np.array([frog], dtype=np.uint8))
    assert (label[0], scen[0]) == (action, scenario)


def reference_label(x: np.ndarray, p: int) -> tuple[int, int]:
    """SPEC section 4's labeler for one row, written as a reader would apply it by hand."""
    players = [int(v) for v in x[32:64]]
    frog_sym = players[p]
    others = [c for c in range(32) if players[c] != 0 and c != p]
    toad_sym = players[others[0]] if others else frog_sym
    frog_d, toad_d = frog_sym in (9, 10), toad_sym in (9, 10)
    scenario = {(False, False): 0, (True, False): 1, (False, True): 2, (True, True): 3}[(frog_d, toad_d)]
    if x[97] <= 0:
        return 1, scenario
    if p == 31:
        return 3, scenario
    if p >= 26 and not frog_d and toad_d:
        return 3, scenario
    if x[p + 1] == 1:
        return 0, scenario
    if p + 1 + 4 < 31:
        return 2, scenario
    return 0, scenario


@pytest.mark.parametrize("veil", [1.0, 0.3])
def test_prepared_games_match_the_row_by_row_labeler(veil):
    config = DataConfig(n_states=10, game=GameConfig(max_turns=400, veil=veil))
    boards = record_chunk(config, 0, 8)
    x, frog_pos = prepare(boards.keys, boards.game, boards.turn, seed=0)
    label, scenario = label_states(x, frog_pos)
    expected = [reference_label(x[i], int(frog_pos[i])) for i in range(len(x))]
    assert [(int(a), int(s)) for a, s in zip(label, scenario, strict=True)] == expected
    assert set(np.unique(label)) == {0, 1, 2, 3}  # every rule fires somewhere in real games
    assert (x[:, 32:64] == X10).any() == (veil < 1.0)  # Toad's own distress code only below veil 1
    assert (x[:, [96, 98, 99]] == 0).all()
    patterns = {tuple(np.flatnonzero(row == Symbol.FLY)) for row in x[:, 64:96]}
    assert patterns <= set(FLY_PATTERNS)
    assert set(np.unique(x[:, 97])) <= set(ENERGY_VALUES.tolist())


@pytest.mark.slow
def test_board_keys_hold_exactly_the_frog_view_rows():
    """Decoded keys equal the engine's own observe(FROG) ground and players rows, Frog shown as f or X."""
    batch = GameBatch(GameConfig(max_turns=300, veil=0.5), seed=3, game_ids=np.arange(64))
    checked = 0
    for t in range(300):
        if t % 2 == 0:
            view = batch.observe(Player.FROG)
            ground, players, frog_pos = decode_boards(
                frog_view_boards(batch.ground, batch.pos, batch.displayed_symbols())
            )
            expected = view[:, 32:64].copy()
            rows = np.arange(64)
            pf, pt = batch.pos[:, 0], batch.pos[:, 1]
            alone = pf != pt  # Frog's own symbol is its base f at the start of its turn, unless in distress
            expected[rows[alone], pf[alone]] = np.where(view[alone, 32 + pf[alone]] == X, X, F)
            np.testing.assert_array_equal(ground.T, view[:, 0:32])
            np.testing.assert_array_equal(players.T, expected)
            np.testing.assert_array_equal(frog_pos, pf)
            checked += 1
        batch.step(random_actions(batch))
    assert checked == 150


def test_energy_and_pattern_draws_follow_the_published_distribution():
    n = 200_000
    energy, pattern = preparation_draws(7, np.arange(n) // 50, 2 * (np.arange(n) % 50))
    freq = np.array([(energy == v).mean() for v in ENERGY_VALUES])
    se = np.sqrt(ENERGY_PROBS * (1 - ENERGY_PROBS) / n)
    assert (np.abs(freq - ENERGY_PROBS) < 5 * se).all(), (freq, ENERGY_PROBS)
    assert np.isclose(ENERGY_PROBS.sum(), 1.0)
    counts = np.bincount(pattern, minlength=6)
    assert (np.abs(counts / n - 1 / 6) < 5 * np.sqrt(1 / 6 * 5 / 6 / n)).all()
    again = preparation_draws(7, np.arange(n) // 50, 2 * (np.arange(n) % 50))
    np.testing.assert_array_equal(energy, again[0])


def test_labeler_rejects_a_position_without_frog():
    x = state(4, 9)[None]
    with pytest.raises(DataError, match="occupied"):
        label_states(x, np.array([5], dtype=np.uint8))
