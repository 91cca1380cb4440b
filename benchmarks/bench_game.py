"""Benchmark the game engine: agent-steps per second.

    python benchmarks/bench_game.py
    python benchmarks/bench_game.py --seconds 3 --repeats 5 --baseline 496fd33

One agent-step is one player's turn in one game: one ``GameBatch.step`` on a
batch of B games is B agent-steps. Whole episodes are played (the paper's
1,000 turns; a finished batch is replaced by a fresh one, inside the timing),
with actions drawn beforehand from the published random policy (hop 50 %,
jump 25 %, leap 12.5 %, help 12.5 %), so the "step" column times the engine
alone. The "+ random_actions" rows also draw each action from the game's
own stream with ``policies.random_actions``, as the data stage does.

Rows: ``GameBatch`` at each batch size; the scalar twin ``rules.Game`` (plain
Python, one game); the PettingZoo AEC and Parallel interfaces and the
Gymnasium environment (one game each, on the scalar twin; skipped when the
library or the adapter is missing); with ``--baseline COMMIT``, the
``GameBatch`` of that commit, loaded from git and timed in the same run, so
the ratio is a side-by-side measurement. Each row shows the best and the
median wall-clock rate of ``--repeats`` timed windows of ``--seconds`` each,
and the best rate per second of this process's CPU time: the machines are
shared, and under load the wall-clock figures fall while the CPU figure holds.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from mirror_neurons import game
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import PUBLISHED_PROBS, random_actions
from mirror_neurons.game.rules import Game

CONFIG = GameConfig()  # the paper's game: 1,000 turns per episode
PRE_DRAWN = 1000  # distinct pre-drawn action rows, reused cyclically


def rate(run_window: Callable[[float], int], seconds: float, repeats: int) -> tuple[float, float, float]:
    """Agent-steps/s over ``repeats`` windows: (best wall-clock, median wall-clock, best per CPU second).

    ``run_window(s)`` plays about ``s`` seconds and returns the agent-steps taken. The CPU-second
    rate (``time.process_time``) is what the engine does when it has the core to itself; the
    wall-clock rates are what a user sees, and fall when other processes share the machine.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        steps = run_window(seconds)
        wall.append(steps / (time.perf_counter() - start))
        cpu.append(steps / max(time.process_time() - start_cpu, 1e-9))
    return max(wall), statistics.median(wall), max(cpu)


def batch_window(make_batch: Callable[[int, int], object], size: int, policy: bool) -> Callable[[float], int]:
    """A timed window of whole episodes on batches of ``size`` games (``make_batch(seed, size)``)."""
    actions = np.random.default_rng(0).choice(4, size=(PRE_DRAWN, size), p=PUBLISHED_PROBS)
    episode = [0]

    def run(seconds: float) -> int:
        steps, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            batch = make_batch(episode[0], size)
            episode[0] += 1
            for t in range(CONFIG.max_turns):
                batch.step(random_actions(batch) if policy else actions[t % PRE_DRAWN])
                if t % 64 == 63 and time.perf_counter() >= deadline:
                    steps += (t + 1) * size
                    break
            else:
                steps += CONFIG.max_turns * size
        return steps

    return run


def episodes_window(play: Callable[[int, float], int]) -> Callable[[float], int]:
    """A timed window of whole episodes: ``play(seed, deadline)`` plays episode ``seed`` (it may stop
    early once ``deadline`` has passed) and returns its agent-steps."""

    def run(seconds: float) -> int:
        steps, deadline, seed = 0, time.perf_counter() + seconds, 0
        while time.perf_counter() < deadline:
            steps += play(seed, deadline)
            seed += 1
        return steps

    return run


def scalar_row(seconds: float, repeats: int) -> tuple[str, tuple[float, float, float]]:
    """The scalar twin, one game at a time, pre-drawn actions."""
    actions = np.random.default_rng(0).choice(4, size=CONFIG.max_turns, p=PUBLISHED_PROBS).tolist()

    def play(seed: int, deadline: float) -> int:
        one = Game(CONFIG, seed)
        for a in actions:
            one.step(a)
        return len(actions)

    return "rules.Game (scalar twin)", rate(episodes_window(play), seconds, repeats)


def engine_at_commit(commit: str) -> type:
    """``GameBatch`` as it was at ``commit`` (read with ``git show``; it imports today's streams)."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "show", f"{commit}:src/mirror_neurons/game/engine.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"engine_{commit}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"engine_{commit}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GameBatch


# -- interface rows: one game through each standard interface, the published policy's probabilities
#    drawn by NumPy; an agent-step is one player's turn


def pettingzoo_row(seconds: float, repeats: int) -> tuple[str, tuple[float, float, float]]:
    """PettingZoo AEC env (``mirror_neurons.game.env()``, with PettingZoo's default wrappers); one agent-step
    is one ``env.step`` with an action."""
    rng = np.random.default_rng(0)

    def play(seed: int, deadline: float) -> int:
        env, steps = game.env(), 0
        env.reset(seed=seed)
        for _agent in env.agent_iter():
            _, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            env.step(int(rng.choice(4, p=PUBLISHED_PROBS)))
            steps += 1
            if steps % 256 == 0 and time.perf_counter() >= deadline:
                break
        env.close()
        return steps

    return "PettingZoo AEC env()", rate(episodes_window(play), seconds, repeats)


def parallel_row(seconds: float, repeats: int) -> tuple[str, tuple[float, float, float]]:
    """PettingZoo Parallel env (``mirror_neurons.game.parallel_env()``); one ``step`` plays Frog's turn then
    Toad's, so it counts as two agent-steps."""
    rng = np.random.default_rng(0)

    def play(seed: int, deadline: float) -> int:
        env, steps = game.parallel_env(), 0
        env.reset(seed=seed)
        while env.agents:
            env.step({agent: int(rng.choice(4, p=PUBLISHED_PROBS)) for agent in env.agents})
            steps += 2
            if steps % 256 == 0 and time.perf_counter() >= deadline:
                break
        env.close()
        return steps

    return "PettingZoo Parallel parallel_env()", rate(episodes_window(play), seconds, repeats)


def gymnasium_row(seconds: float, repeats: int) -> tuple[str, tuple[float, float, float]]:
    """Gymnasium ``mirror_neurons/FrogAndToad-v0`` (``gym.make``, default wrappers), Toad the built-in random
    policy; one ``step`` is two agent-steps (two turns)."""
    rng = np.random.default_rng(0)
    env = gym.make(game.ENV_ID)

    def play(seed: int, deadline: float) -> int:
        env.reset(seed=seed)
        steps, terminated = 0, False
        while not terminated:
            _, _, terminated, _, _ = env.step(int(rng.choice(4, p=PUBLISHED_PROBS)))
            steps += 2
            if steps % 256 == 0 and time.perf_counter() >= deadline:
                break
        return steps

    result = rate(episodes_window(play), seconds, repeats)
    env.close()
    return "Gymnasium FrogAndToad-v0", result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,64,4096", help="comma-separated batch sizes")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per figure")
    parser.add_argument("--baseline", default=None, help="also time GameBatch at this git commit")
    parser.add_argument(
        "--only-steps",
        type=int,
        default=None,
        metavar="N",
        help="no timing: build one batch (the first of --batches; --baseline's engine if given), "
        "play N turns and exit; for instruction counts under valgrind",
    )
    args = parser.parse_args()
    sizes = [int(b) for b in args.batches.split(",")]
    if args.only_steps is not None:
        cls = engine_at_commit(args.baseline) if args.baseline else GameBatch
        actions = np.random.default_rng(0).choice(4, size=(PRE_DRAWN, sizes[0]), p=PUBLISHED_PROBS)
        batch = cls(CONFIG, 0, np.arange(sizes[0]))
        for t in range(args.only_steps):
            batch.step(actions[t % PRE_DRAWN])
        return

    print(
        f"numpy {np.__version__}, python {sys.version.split()[0]}, {args.repeats} windows of "
        f"{args.seconds:g} s per row; agent-steps/s"
    )
    print(f"{'engine':40} {'batch':>6} {'wall best':>12} {'wall median':>12} {'per CPU s':>12}")

    def line(label: str, size: int, r: tuple[float, float, float]) -> None:
        print(f"{label:40} {size:>6} {r[0]:>12,.0f} {r[1]:>12,.0f} {r[2]:>12,.0f}", flush=True)

    engines = [("GameBatch", GameBatch)]
    if args.baseline:
        engines.append((f"GameBatch at {args.baseline}", engine_at_commit(args.baseline)))
    for size in sizes:
        for label, cls in engines:
            make = lambda seed, n, cls=cls: cls(CONFIG, seed, np.arange(n))  # noqa: E731
            line(label, size, rate(batch_window(make, size, policy=False), args.seconds, args.repeats))
            line(
                f"{label} + random_actions",
                size,
                rate(batch_window(make, size, policy=True), args.seconds, args.repeats),
            )
    for row in (scalar_row, pettingzoo_row, parallel_row, gymnasium_row):
        label, result = row(args.seconds, args.repeats)
        line(label, 1, result)


if __name__ == "__main__":
    main()
