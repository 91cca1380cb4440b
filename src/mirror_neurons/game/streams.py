"""Counter-based random streams: one per game, independent of batching.

Every random number the game draws is a pure function of
``(seed, game index, turn, slot, i)``: a SplitMix64 hash of the game's key plus
a counter. Running a game alone, in a batch of 4,096, or in chunks on several
processes therefore yields the same trajectory, which a stateful
``np.random.Generator`` per batch cannot promise. Draws are vectorised over
games with NumPy ``uint64`` arithmetic (wrap-around is the intended modulus).

Slots name what a draw is for, so adding a draw never shifts another one.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
TWO32 = float(2**32)


class Slot(IntEnum):
    """What a draw is for; each slot has its own counters within a turn."""

    FLIES = 0  # 32 draws: low 32 bits spawn test, high 32 bits drift (-1, 0, +1)
    HELP_LEAP = 1  # 1 draw: does the helped partner leap?
    COLUMNS = 2  # up to 48 draws: new ground columns (rate test, run width)
    POLICY = 3  # 1 draw: the built-in random policy's action
    VEIL = 4  # 1 draw: does this state use the shared distress symbol?
    PREPARE = 5  # draws for the data stage's preparation (energy, fly pattern)


_MAX_DRAWS = 64  # draws per (turn, slot); counters never collide below this


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (returns a new array)."""
    x = x ^ (x >> _S30)
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def game_keys(seed: int, game_ids: np.ndarray) -> np.ndarray:
    """Per-game stream keys, shape (B,) uint64, from a seed and game indices."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    ids = np.asarray(game_ids, dtype=np.uint64)
    with np.errstate(over="ignore"):
        base = mix64(np.array([seed], dtype=np.uint64) * _GOLDEN + _GOLDEN)
        return mix64(base + ids * _GOLDEN)


def draw_bits(keys: np.ndarray, turn: np.ndarray | int, slot: int, n: int) -> np.ndarray:
    """``n`` 64-bit draws per game for ``(turn, slot)``: shape (B, n) uint64.

    ``turn`` is the game's turn counter (scalar or (B,)); turn -1 is the reset.
    """
    assert 0 < n <= _MAX_DRAWS
    t = np.asarray(turn, dtype=np.int64) + 1  # reset draws at turn -1 -> counter 0
    counter = (t.astype(np.uint64) * np.uint64(8) + np.uint64(slot)) * np.uint64(_MAX_DRAWS)
    with np.errstate(over="ignore"):
        start = np.asarray(keys, dtype=np.uint64) + counter * _GOLDEN  # (B,)
        steps = (np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN)[None, :]
        return mix64(start.reshape(-1, 1) + steps)


def uniform(keys: np.ndarray, turn: np.ndarray | int, slot: int, n: int = 1) -> np.ndarray:
    """Uniform floats in [0, 1), shape (B, n), from the same counters as ``draw_bits``."""
    return (draw_bits(keys, turn, slot, n) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def low_u32(bits: np.ndarray) -> np.ndarray:
    """Low 32 bits as uint64 (compare against ``p * 2**32`` for a Bernoulli(p) test)."""
    return bits & _LOW32


def high_choice(bits: np.ndarray, k: int) -> np.ndarray:
    """Uniform integer in 0..k-1 from the high 32 bits (bias below 2**-32 * k)."""
    return (((bits >> _S32) * np.uint64(k)) >> _S32).astype(np.int64)


def bernoulli_threshold(p: float) -> np.uint64:
    """Threshold on ``low_u32`` bits giving probability ``p`` (exact to 2**-32)."""
    return np.uint64(min(int(round(p * TWO32)), 2**32))
