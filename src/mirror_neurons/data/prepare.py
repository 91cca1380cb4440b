"""Preparation and labeling of recorded states (SPEC section 4), vectorised over rows.

A recorded state is Frog's view at the start of one of Frog's turns. What the
game contributes to a prepared state is its *board*: the ground row and the
players row (distress shown as 9, or Toad's as 10 below veil 1), plus Frog's
position as metadata. The rest of the model input is not the game's: energy is
resampled (step 4), the flies row is one of six fixed patterns (step 5), and
indices 96, 98 and 99 are zero.

A board packs exactly into one ``uint64`` (``board_keys``): 32 ground bits, then
the players row as its (at most two) occupied columns and their symbols, then
Frog's position. De-duplication works on these keys *before* the random draws
of steps 4-5, so re-randomising can never make a repeated board look new (the
published pipeline's defect, SPEC section 8). The draws for a board come from
the stream of the game and turn where it first occurred (``Slot.PREPARE``), so
they do not depend on batching, chunking or workers.

Array shapes: n rows; ``x`` is (n, 100) uint8.
"""

from __future__ import annotations

import numpy as np

from mirror_neurons.errors import DataError
from mirror_neurons.game import streams
from mirror_neurons.game.constants import (
    FLIES,
    GROUND,
    OWN_ENERGY,
    PLAYERS,
    STATE_SIZE,
    WIDTH,
    Action,
    Scenario,
    Symbol,
)
from mirror_neurons.game.streams import Slot

ENERGY_VALUES = np.array([0, 1, 2, 4, 6, 8, 10, 12, 14, 16, 18], dtype=np.uint8)
ENERGY_PROBS = np.array([1 / 2] + [1 / 16] * 4 + [1 / 20] * 3 + [1 / 30] * 3)
"""Step 4's resampling distribution. The reference writes 0.0333 for 14, 16, 18; read as 1/30 so it sums to 1."""

FLY_PATTERNS = (
    (0, 1, 10, 15, 16, 21, 26),
    (0, 3, 5, 8, 13, 18, 19, 24, 28),
    (1, 3, 13, 19, 23, 27, 28, 31),
    (1, 4, 12, 19, 26),
    (1, 5, 12, 14, 18, 29),
    (1, 6, 12, 14, 17, 23, 24, 28),
)
"""Step 5: the six fixed flies rows (fly columns), chosen uniformly."""

PATTERN_ROWS = np.zeros((len(FLY_PATTERNS), WIDTH), dtype=np.uint8)
for _i, _cols in enumerate(FLY_PATTERNS):
    PATTERN_ROWS[_i, list(_cols)] = Symbol.FLY

DISTRESS_CODES = (Symbol.DISTRESS, Symbol.TOAD_DISTRESS)
"""Symbols meaning "this player stands on rough ground" (10 exists only below veil 1)."""

# bit layout of a board key: ground 0..31 | col_a 32..36 | sym_a 37..40 | col_b 41..45 | sym_b 46..49 | frog 50..54
_COL_A, _SYM_A, _COL_B, _SYM_B, _FROG = 32, 37, 41, 46, 50
_BOARD_BITS = np.uint64((1 << _FROG) - 1)
_U = np.uint64


def frog_view_boards(ground: np.ndarray, pos: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Board keys (B,) uint64 of Frog's view at the start of Frog's turn.

    ``ground`` (B, 32) Symbol.SOLID/ROUGH, ``pos`` (B, 2) columns of Frog and Toad,
    ``shown`` (B, 2) the engine's displayed symbols (distress already 9, or 10 for
    Toad below veil 1). Frog's own symbol has returned to its base ``f`` at the
    start of its turn (SPEC section 2), so Frog shows 4 unless in distress.
    Toad is drawn last, so it is the one shown when both share a column.
    """
    frog_sym = np.where(shown[:, 0] == Symbol.DISTRESS, Symbol.DISTRESS, Symbol.FROG).astype(np.uint64)
    toad_sym = shown[:, 1].astype(np.uint64)
    pf = pos[:, 0].astype(np.uint64)
    pt = pos[:, 1].astype(np.uint64)
    frog_shown = pf != pt  # else the shared column shows Toad
    frog_first = pf < pt
    col_a = np.where(frog_first, pf, pt)
    sym_a = np.where(frog_first, frog_sym, toad_sym)
    col_b = np.where(frog_shown & frog_first, pt, np.where(frog_shown, pf, pt))
    sym_b = np.where(frog_shown & frog_first, toad_sym, np.where(frog_shown, frog_sym, toad_sym))
    rough = np.ascontiguousarray(ground == Symbol.ROUGH)
    bits = np.packbits(rough, axis=1, bitorder="little").view("<u4")[:, 0].astype(np.uint64)
    return (
        bits
        | (col_a << _U(_COL_A))
        | (sym_a << _U(_SYM_A))
        | (col_b << _U(_COL_B))
        | (sym_b << _U(_SYM_B))
        | (pf << _U(_FROG))
    )


def board_without_frog(keys: np.ndarray) -> np.ndarray:
    """The part of a board key that the model input shows (ground and players rows), (n,) uint64."""
    return keys & _BOARD_BITS


def decode_boards(keys: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Board keys (n,) -> (ground (32, n) uint8, players (32, n) uint8, frog_pos (n,) uint8).

    The rows come column-major (one row of the result per board column), the
    layout the Parquet columns x0..x63 need; ``.T`` gives the (n, 32) view.
    ``out`` (>= 64, n) uint8, if given, receives ground then players rows in place.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    n = len(keys)
    if out is None:
        out = np.empty((2 * WIDTH, n), dtype=np.uint8)
    ground, players = out[GROUND], out[PLAYERS]
    rough = (keys & _U(0xFFFFFFFF)).astype(np.uint32)
    for c in range(WIDTH):  # a scalar shift per column: far faster than a broadcast (32, n) shift
        np.bitwise_and(rough >> np.uint32(c), 1, out=ground[c], casting="unsafe")
    ground += np.uint8(Symbol.SOLID)

    def field(shift: int, width: int) -> np.ndarray:
        return ((keys >> _U(shift)) & _U((1 << width) - 1)).astype(np.int64)

    rows = np.arange(n)
    players[...] = Symbol.EMPTY
    players[field(_COL_A, 5), rows] = field(_SYM_A, 4)
    players[field(_COL_B, 5), rows] = field(_SYM_B, 4)
    return ground, players, field(_FROG, 5).astype(np.uint8)


def preparation_draws(seed: int, game_ids: np.ndarray, turns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps 4-5 draws for rows first seen at (game, turn): (energy (n,) uint8, pattern (n,) int64)."""
    keys = streams.game_keys(seed, np.asarray(game_ids, dtype=np.uint64))
    bits = streams.draw_bits(keys, np.asarray(turns, dtype=np.int64), Slot.PREPARE, 2)  # (n, 2)
    u = (bits[:, 0] >> _U(11)).astype(np.float64) * 2.0**-53
    energy = ENERGY_VALUES[np.minimum(np.searchsorted(np.cumsum(ENERGY_PROBS), u, side="right"), 10)]
    pattern = streams.high_choice(bits[:, 1], len(FLY_PATTERNS))
    return energy, pattern


def prepare(keys: np.ndarray, game_ids: np.ndarray, turns: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for unique boards: (x (n, 100) uint8, column-major, frog_pos (n,) uint8).

    ``x`` holds the ground and players rows, a fixed flies pattern and the
    resampled energy; indices 96 (own symbol), 98 (score, later the scenario)
    and 99 (position) are zero. It is Fortran-ordered so that each of the
    Parquet columns x0..x99 is contiguous (NumPy transposes uint8 slowly).
    """
    x_t = np.zeros((STATE_SIZE, len(keys)), dtype=np.uint8)  # (100, n)
    _, _, frog_pos = decode_boards(keys, out=x_t)
    energy, pattern = preparation_draws(seed, game_ids, turns)
    for c in range(WIDTH):  # one 6-entry lookup per column: a (32, n) fancy gather is much slower
        x_t[FLIES.start + c] = np.take(PATTERN_ROWS[:, c], pattern)
    x_t[OWN_ENERGY] = energy
    return x_t.T, frog_pos


def label_states(x: np.ndarray, frog_pos: np.ndarray, *, toad_blind: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """SPEC section 4's labeler: (best action (n,) uint8, scenario (n,) uint8).

    ``p`` = Frog's position; Frog's symbol is the players row at ``p``; Toad is
    the other occupied column, or shares Frog's column and symbol if there is
    none. Best action, first rule that applies: energy <= 0 -> jump;
    ``p == 31`` -> help; ``p >= 26`` and Frog not in distress and Toad in distress
    -> help; solid ground at ``p + 1`` -> hop; ``p + 5 < 31`` -> leap; else hop.

    ``toad_blind`` drops the one rule that reads Toad (the third), so the best action
    never depends on the partner's distress: the labels of the Toad-blind training
    null (``TrainConfig.labels``). The scenario is the same either way.
    """
    x = np.asarray(x)
    p = np.asarray(frog_pos, dtype=np.int64)
    rows = np.arange(len(x))
    if ((p < 0) | (p >= WIDTH)).any():
        raise DataError(f"Frog's position must be in 0..{WIDTH - 1}, got {p[(p < 0) | (p >= WIDTH)][:5].tolist()}")
    players_t = x.T[PLAYERS]  # (32, n): one row per column, contiguous for the column-major x of ``prepare``
    frog_sym = x[rows, PLAYERS.start + p]
    toad_col = p.copy()
    occupied = np.zeros(len(x), dtype=np.int64)
    for c in range(WIDTH):  # Toad: the occupied column other than Frog's, if any
        filled = players_t[c] != Symbol.EMPTY
        occupied += filled
        toad_col[filled & (p != c)] = c
    if (frog_sym == Symbol.EMPTY).any() or (occupied > 2).any():
        raise DataError("states to label need Frog's position on an occupied players-row column and at most 2 players")
    toad_sym = x[rows, PLAYERS.start + toad_col]
    frog_distress = (frog_sym == Symbol.DISTRESS) | (frog_sym == Symbol.TOAD_DISTRESS)
    toad_distress = (toad_sym == Symbol.DISTRESS) | (toad_sym == Symbol.TOAD_DISTRESS)
    scenario = frog_distress * Scenario.FROG.value + toad_distress * Scenario.TOAD.value

    ground_ahead = x[rows, GROUND.start + np.minimum(p + 1, WIDTH - 1)]
    label = np.select(
        [
            x[:, OWN_ENERGY] <= 0,
            p == WIDTH - 1,
            (p >= 26) & ~frog_distress & toad_distress & (not toad_blind),
            ground_ahead == Symbol.SOLID,
            p + 1 + 4 < WIDTH - 1,
        ],
        [Action.JUMP, Action.HELP, Action.HELP, Action.HOP, Action.LEAP],
        default=Action.HOP,
    )
    return label.astype(np.uint8), scenario.astype(np.uint8)
