"""Counter-based random streams: one per game, independent of batching.

Every random number the game draws is a pure function of
``(seed, game index, turn, slot, i)``: a SplitMix64 hash of the game's key plus
a counter. Running a game alone, in a batch of 4,096, or in chunks on several
processes therefore yields the same trajectory, which a stateful
``np.random.Generator`` per batch cannot promise. Draws are vectorised over
games with NumPy ``uint64`` arithmetic (wrap-around is the intended modulus);
``draw_int`` is the same draw for one game in plain Python integers, used by
the scalar twin ``rules.Game``.

Slots name what a draw is for, so adding a draw never shifts another one.
How each rule turns draws into events (written once here, implemented by both
``engine.GameBatch`` and ``rules.Game``):

* ``FLY_SPAWN``: columns that get a fly, by geometric skipping. Draw ``i``
  gives a gap ``k`` = number of ``j`` in 1..32 with ``u53 < spawn_thresholds(p)[j]``
  (``u53`` = the draw's top 53 bits, ``threshold[j] = floor((1-p)**j * 2**53)``
  computed exactly), so ``P(k >= j) = (1-p)**j``: the gaps between spawning
  columns of 32 independent Bernoulli(p) columns. Starting at column 0, skip
  ``k`` columns, spawn there, continue one column further with draw ``i+1``;
  stop past column 31. About 1.3 draws per update instead of 32.
* ``FLIES``: drift of every fly, bit-sliced, one draw per round. In round
  ``r`` the draw's low 32 bits ``b0`` and high 32 bits ``b1`` give each
  still-undecided column ``c`` (bit ``c``) a 2-bit number ``(b1, b0)``:
  00 left, 01 stay, 10 right, 11 undecided (next round). Each fly's drift is
  uniform over -1/0/+1; rounds stop once no fly is undecided (at most
  ``DRIFT_ROUNDS``; a fly still undecided after that, probability 4**-32,
  stays).
* ``COLUMNS``: draw ``j`` decides the ``j``-th new ground column of this turn:
  low 32 bits against ``rate * 2**32`` (does a run start?), high 32 bits the
  run's width 1..4 (``high_choice``).
* ``HELP_LEAP``, ``POLICY``, ``VEIL``: one ``uniform`` each.
"""

from __future__ import annotations

from enum import IntEnum
from fractions import Fraction

import numpy as np

_GOLDEN_INT = 0x9E3779B97F4A7C15
_M1_INT = 0xBF58476D1CE4E5B9
_M2_INT = 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1

_GOLDEN = np.uint64(_GOLDEN_INT)
_M1 = np.uint64(_M1_INT)
_M2 = np.uint64(_M2_INT)
_S11, _S30, _S27, _S31, _S32 = np.uint64(11), np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
TWO32 = float(2**32)
TWO53 = 2**53

DRIFT_ROUNDS = 32
"""Most bit-sliced drift rounds per world update (see the module docstring)."""


class Slot(IntEnum):
    """What a draw is for; each slot has its own counters within a turn (at most 8 slots)."""

    FLIES = 0  # up to DRIFT_ROUNDS draws: fly drift, bit-sliced (see module docstring)
    HELP_LEAP = 1  # 1 draw: does the helped partner leap?
    COLUMNS = 2  # up to 32 draws: new ground columns (rate test, run width)
    POLICY = 3  # 1 draw: the built-in random policy's action
    VEIL = 4  # 1 draw: does this state use the shared distress symbol?
    PREPARE = 5  # draws for the data stage's preparation (energy, fly pattern)
    FLY_SPAWN = 6  # up to 33 draws: gaps between columns that get a new fly


_MAX_DRAWS = 64  # draws per (turn, slot); counters never collide below this


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (returns a new array)."""
    x = x ^ (x >> _S30)
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def mix64_int(x: int) -> int:
    """``mix64`` of one value in plain Python integers (for the scalar twin)."""
    x ^= x >> 30
    x = (x * _M1_INT) & _MASK64
    x ^= x >> 27
    x = (x * _M2_INT) & _MASK64
    return x ^ (x >> 31)


def game_keys(seed: int, game_ids: np.ndarray) -> np.ndarray:
    """Per-game stream keys, shape (B,) uint64, from a seed and game indices."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    ids = np.asarray(game_ids, dtype=np.uint64)
    with np.errstate(over="ignore"):
        base = mix64(np.array([seed], dtype=np.uint64) * _GOLDEN + _GOLDEN)
        return mix64(base + ids * _GOLDEN)


def offset(turn: int, slot: int, i: int) -> int:
    """What draw ``i`` of ``(turn, slot)`` adds to a game's key before hashing (mod 2**64)."""
    assert 0 <= i < _MAX_DRAWS
    counter = ((turn + 1) * 8 + slot) * _MAX_DRAWS  # reset draws at turn -1 -> counter 0
    return (counter * _GOLDEN_INT + (i + 1) * _GOLDEN_INT) & _MASK64


def draw_at(keys: np.ndarray, turn: int, slot: int, i: int) -> np.ndarray:
    """Draw ``i`` of ``(turn, slot)`` for every game: shape (B,) uint64 (``turn`` shared by all)."""
    return mix64(keys + np.uint64(offset(turn, slot, i)))


def draw_block(keys: np.ndarray, turn: int, slot: int, start: int, n: int) -> np.ndarray:
    """Draws ``start .. start+n-1`` of ``(turn, slot)`` for every game: shape (n, B) uint64."""
    offsets = np.array([offset(turn, slot, i) for i in range(start, start + n)], dtype=np.uint64)
    return mix64(offsets[:, None] + keys)


def draw_int(key: int, turn: int, slot: int, i: int) -> int:
    """The same draw as ``draw_at`` for one game, in plain Python integers."""
    return mix64_int((key + offset(turn, slot, i)) & _MASK64)


def draw_bits(keys: np.ndarray, turn: np.ndarray | int, slot: int, n: int) -> np.ndarray:
    """Draws ``0..n-1`` of ``(turn, slot)`` per game: shape (B, n) uint64.

    ``turn`` is the game's turn counter (scalar or (B,)); turn -1 is the reset.
    Column ``i`` equals ``draw_at(keys, turn, slot, i)``.
    """
    assert 0 < n <= _MAX_DRAWS
    t = np.asarray(turn, dtype=np.int64) + 1
    counter = (t.astype(np.uint64) * np.uint64(8) + np.uint64(slot)) * np.uint64(_MAX_DRAWS)
    with np.errstate(over="ignore"):
        start = np.asarray(keys, dtype=np.uint64) + counter * _GOLDEN  # (B,)
        steps = (np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN)[None, :]
        return mix64(start.reshape(-1, 1) + steps)


def uniform(keys: np.ndarray, turn: np.ndarray | int, slot: int, n: int = 1) -> np.ndarray:
    """Uniform floats in [0, 1), shape (B, n), from the same counters as ``draw_bits``."""
    return (draw_bits(keys, turn, slot, n) >> _S11).astype(np.float64) * 2.0**-53


def uniform_int(bits: int) -> float:
    """The ``uniform`` float of one Python-integer draw."""
    return (bits >> 11) * 2.0**-53


def low_u32(bits: np.ndarray) -> np.ndarray:
    """Low 32 bits as uint64 (compare against ``p * 2**32`` for a Bernoulli(p) test)."""
    return bits & _LOW32


def high_choice(bits: np.ndarray, k: int) -> np.ndarray:
    """Uniform integer in 0..k-1 from the high 32 bits (bias below 2**-32 * k)."""
    return (((bits >> _S32) * np.uint64(k)) >> _S32).astype(np.int64)


def high_choice_int(bits: int, k: int) -> int:
    """``high_choice`` of one Python-integer draw."""
    return ((bits >> 32) * k) >> 32


def bernoulli_threshold(p: float) -> np.uint64:
    """Threshold on ``low_u32`` bits giving probability ``p`` (exact to 2**-32)."""
    return np.uint64(min(int(round(p * TWO32)), 2**32))


def spawn_thresholds(p: float, width: int = 32) -> np.ndarray:
    """``floor((1-p)**j * 2**53)`` for j = 0..width, exactly (rational arithmetic): (width+1,) uint64.

    A gap ``k`` = number of ``j >= 1`` with ``u53 < thresholds[j]`` has ``P(k >= j) = (1-p)**j``.
    """
    q = 1 - Fraction(p)
    return np.array([int(q**j * TWO53) for j in range(width + 1)], dtype=np.uint64)
