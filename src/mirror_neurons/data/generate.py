"""Generation: play games with the random policy and collect unique boards in a fixed order.

Games are numbered 0, 1, 2, ...; each is played for ``game.max_turns`` turns by
both players' random policy, and Frog's board is recorded at the start of each
of Frog's turns (even turns). The dataset is the first ``n_states`` *distinct*
boards in (game, turn) order, each kept where it first occurred. That order is
a property of the games alone, so the result does not depend on how many games
run at once, how they are cut into chunks, or how many processes play them:
chunks only change the speed. Every draw comes from the per-game streams.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.prepare import board_without_frog, frog_view_boards
from mirror_neurons.distributed.executors import Executor, ProcessExecutor
from mirror_neurons.errors import DataError
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions
from mirror_neurons.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Boards:
    """Distinct boards and where each first occurred: ``keys`` (n,) uint64 (``prepare.frog_view_boards``),
    ``game`` (n,) and ``turn`` (n,) int64."""

    keys: np.ndarray
    game: np.ndarray
    turn: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, index: np.ndarray | slice) -> Boards:
        return Boards(self.keys[index], self.game[index], self.turn[index])

    @staticmethod
    def concat(parts: list[Boards]) -> Boards:
        return Boards(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("keys", "game", "turn")))


def distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values of ``keys`` (m,), index of each one's first occurrence (m,))."""
    if len(keys) == 0:
        return keys[:0], np.zeros(0, dtype=np.int64)
    order = np.argsort(keys)  # not stable (about 2x faster): the first index of a group is its minimum
    sorted_keys = keys[order]
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return sorted_keys[starts], np.minimum.reduceat(order, np.flatnonzero(starts))


def first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Sorted indices of the first occurrence of each distinct value of ``keys`` (n,)."""
    return np.sort(distinct(keys)[1])


def record_chunk(config: DataConfig, first_game: int, n_games: int) -> Boards:
    """Play games ``first_game .. first_game + n_games - 1``; each distinct board once, at its first occurrence.

    The result is sorted by board key (so that merging chunks is a merge of
    sorted runs); ``game`` and ``turn`` say where each board first occurred.
    A module-level function of plain arguments, so worker processes can run it.
    """
    batch = GameBatch(config.game, config.seed, np.arange(first_game, first_game + n_games))
    per_game = config.frog_turns
    keys = np.empty((n_games, per_game), dtype=np.uint64)  # (game, Frog turn)
    for t in range(config.game.max_turns):
        if t % 2 == 0:  # the start of Frog's turn
            keys[:, t // 2] = frog_view_boards(batch.ground, batch.pos, batch.displayed_symbols())
        batch.step(random_actions(batch, config.policy))
    flat = keys.ravel()  # game-major: game 0's turns, then game 1's, ...
    _, first = distinct(board_without_frog(flat))
    return Boards(flat[first], first_game + first // per_game, 2 * (first % per_game))


def _chunks(first_game: int, n_games: int, batch_games: int, workers: int) -> list[tuple[int, int]]:
    """Cut games into consecutive chunks of at most ``batch_games``, at least one per worker."""
    count = max(math.ceil(n_games / batch_games), min(workers, n_games))
    edges = np.linspace(first_game, first_game + n_games, count + 1).round().astype(int)
    return [(int(a), int(b - a)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def default_workers() -> int:
    """CPU cores this process may use (the CLI's ``--workers 0``)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def collect_boards(
    config: DataConfig,
    *,
    workers: int = 1,
    batch_games: int = 8192,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> tuple[Boards, dict]:
    """The first ``config.n_states`` distinct boards, plus generation statistics.

    Plays rounds of games until enough distinct boards exist; raises
    ``DataError`` if ``config.resolved_max_games`` games do not suffice.
    The chunks of games run as tasks of ``executor`` (``distributed.executors``:
    ``workers`` then sets only how many chunks), or, without one, here
    (``workers`` 1) or in ``workers`` processes (a ``ProcessExecutor`` whose
    workers end with this process, even when it is killed).
    """
    if workers < 1 or batch_games < 1:
        raise DataError(f"workers and batch_games must be >= 1, got {workers}, {batch_games}")
    target, limit = config.n_states, config.resolved_max_games
    kept: list[Boards] = []  # new distinct boards of each round, in game order
    seen = np.zeros(0, dtype=np.uint64)  # sorted keys (without Frog's position) of every board kept
    count = games = 0
    yield_per_game = 0.6 * config.frog_turns  # a first guess; measured after each round
    if executor is None and workers > 1:
        executor = ProcessExecutor(workers=workers, preload=(__name__,))  # games need no torch: none preloaded
    while count < target:
        if games >= limit:
            raise DataError(
                f"only {count:,} distinct states after {games:,} games, short of the {target:,} asked; "
                f"ask for fewer states, or allow more games or longer episodes (max_games, episode turns)"
            )
        # round sizes depend on the games only (not on workers), so the statistics are reproducible too
        n = min(limit - games, math.ceil(1.1 * (target - count) / max(yield_per_game, 1e-3)))
        chunks = _chunks(games, n, batch_games, workers)
        if executor is None:
            parts = [record_chunk(config, a, k) for a, k in chunks]
        else:
            parts = executor.map(record_chunk, [(config, a, k) for a, k in chunks])
        found = Boards.concat(parts)  # chunks in game order, each sorted by board
        keys = board_without_frog(found.keys)
        order = np.argsort(keys, kind="stable")  # merges the sorted runs; ties stay in game order
        sorted_keys = keys[order]
        starts = np.ones(len(keys), dtype=bool)
        starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
        values, first = sorted_keys[starts], order[starts]  # first in this round ...
        if len(seen):
            fresh = seen[np.minimum(np.searchsorted(seen, values), len(seen) - 1)] != values
            values, first = values[fresh], first[fresh]  # ... and not seen in earlier rounds
        new = found.take(first)
        new = new.take(np.argsort(new.game * config.frog_turns + new.turn // 2))  # back to (game, turn) order
        kept.append(new)
        seen = np.sort(np.concatenate([seen, values]), kind="stable")  # two sorted runs: a merge
        count += len(new)
        games += n
        yield_per_game = len(new) / n
        log.debug("games %d: %d distinct boards (%.1f new per game)", games, count, yield_per_game)
        if progress is not None:
            progress(min(count, target), target, "generate")
        if len(new) == 0:
            raise DataError(
                f"generation saturated: {n:,} more games added no new state to the {count:,} found, "
                f"short of the {target:,} asked; ask for fewer states or use longer episodes"
            )
    unique = Boards.concat(kept)
    stats = {"games": games, "frog_states_recorded": games * config.frog_turns, "distinct_boards": count}
    return unique.take(slice(0, target)), stats
