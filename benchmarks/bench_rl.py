"""Benchmark PPO training: environment steps per second, ours against Stable-Baselines3's, in one run.

    python benchmarks/bench_rl.py
    python benchmarks/bench_rl.py --steps 2000000 --sb3-steps 4096

One environment step is one Frog turn followed by Toad's (one ``step`` of
either environment). Rows:

* ``ours``: ``train.ppo.train_ppo`` on ``game.vector_env.FrogAndToadVectorEnv``
  (Toad random, shared reward, the policy and value networks 2 x 17 on the
  one-hot encoding), whole training iterations (rollout + update) with the
  settings given; the time split into engine (the vector env's ``step``),
  policy (acting: encoding, both networks, sampling) and update (GAE and the
  minibatch epochs);
* ``ours, N workers``: N agents (seeds 0..N-1) trained at once in N processes of one torch
  thread each, as ``experiment rl --workers N`` trains its agents; the rate is all their steps
  over the wall time of the whole (``--workers``, default 2; 0 skips the row);
* ``ours, env only``: the vector env stepped with fixed actions (the ceiling);
* ``sb3``: Stable-Baselines3's ``PPO("MlpPolicy", ...)`` on the single env
  ``mirror_neurons/FrogAndToad-v0`` with its default vector wrapper (one env
  in a ``DummyVecEnv``), default settings (n_steps 2048, 10 epochs of
  minibatches of 64), ``--sb3-steps`` steps.

Each row gives the wall-clock rate and the rate per second of this process's
CPU time (machines are shared: under load the wall figures fall while the CPU
figure holds). Torch runs on ``--threads`` threads for both trainers.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from mirror_neurons.game.vector_env import FrogAndToadVectorEnv
from mirror_neurons.train.ppo import PPOConfig, train_ppo


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_ours(args, seed: int = 0) -> dict:
    cfg = PPOConfig(num_envs=args.num_envs, num_steps=args.num_steps, total_steps=args.steps, update_epochs=args.epochs,
                    num_minibatches=args.minibatches, checkpoint_every=10**6, seed=seed)  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        box = {}
        wall, cpu = timed(lambda: box.setdefault("r", train_ppo(cfg, out)))
    r = box["r"]
    parts = sum(r.seconds.values())
    return {"steps": r.env_steps, "wall": wall, "cpu": cpu, "split": {k: v / parts for k, v in r.seconds.items()}}


def _one_worker(args, seed: int) -> dict:
    torch.set_num_threads(1)
    return bench_ours(args, seed)


def bench_workers(args) -> dict | None:
    if args.workers < 1:
        return None
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        list(pool.map(abs, range(args.workers)))  # start the workers (imports) before the clock
        wall = time.perf_counter()
        rows = list(pool.map(_one_worker, [args] * args.workers, range(args.workers)))
        wall = time.perf_counter() - wall
    return {"steps": sum(r["steps"] for r in rows), "wall": wall, "cpu": sum(r["cpu"] for r in rows)}


def bench_env(args) -> dict:
    env = FrogAndToadVectorEnv(args.num_envs, partner="random", reward="shared", max_turns=400)
    env.reset(seed=0)
    actions = np.zeros(args.num_envs, dtype=np.int64)
    n = max(1, args.steps // args.num_envs // 2)
    wall, cpu = timed(lambda: [env.step(actions) for _ in range(n)])
    return {"steps": n * args.num_envs, "wall": wall, "cpu": cpu}


def bench_sb3(args) -> dict | None:
    try:
        import gymnasium as gym
        from stable_baselines3 import PPO
    except ImportError:
        return None
    import mirror_neurons.game  # noqa: F401  (registers the env)

    env = gym.make("mirror_neurons/FrogAndToad-v0", max_turns=400)
    model = PPO("MlpPolicy", env, seed=0, device="cpu", verbose=0)
    wall, cpu = timed(lambda: model.learn(total_timesteps=args.sb3_steps))
    return {"steps": args.sb3_steps, "wall": wall, "cpu": cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1_048_576, help="environment steps of our PPO")
    p.add_argument("--num-envs", type=int, default=4096)
    p.add_argument("--num-steps", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--minibatches", type=int, default=2)
    p.add_argument("--sb3-steps", type=int, default=4096)
    p.add_argument("--threads", type=int, default=1, help="torch threads of the 'ours' and 'sb3' rows")
    p.add_argument("--workers", type=int, default=2, help="processes of the 'ours, N workers' row (0: skip it)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = {"ours": bench_ours(args), f"ours, {args.workers} workers": bench_workers(args),
            "ours, env only": bench_env(args), "sb3": bench_sb3(args)}  # fmt: skip
    print(f"PPO settings (ours): num_envs {args.num_envs}, num_steps {args.num_steps}, epochs {args.epochs}, "
          f"minibatches {args.minibatches}; torch threads {args.threads}")  # fmt: skip
    print(f"{'trainer':16s} {'steps':>10s} {'wall s':>8s} {'steps/s (wall)':>15s} {'steps/s (CPU)':>14s}")
    for name, r in rows.items():
        if r is None:
            if name == "sb3":
                print(f"{name:16s} (stable-baselines3 not installed: pip install 'mirror-neurons[test]')")
            continue
        print(
            f"{name:16s} {r['steps']:>10,d} {r['wall']:>8.1f} {r['steps'] / r['wall']:>15,.0f} {r['steps'] / r['cpu']:>14,.0f}"
        )
    ours, sb3 = rows["ours"], rows["sb3"]
    print("time split (ours): " + ", ".join(f"{k} {v:.0%}" for k, v in ours["split"].items()))
    if sb3 is not None:
        ratio = lambda key: (ours["steps"] / ours[key]) / (sb3["steps"] / sb3[key])  # noqa: E731
        print(f"ours / sb3: {ratio('wall'):.0f}x (wall), {ratio('cpu'):.0f}x (CPU)")
        both = rows[f"ours, {args.workers} workers"]
        if both is not None:
            r = (both["steps"] / both["wall"]) / (sb3["steps"] / sb3["wall"])
            print(f"ours, {args.workers} workers / sb3 on {args.threads} thread(s): {r:.0f}x (wall)")


if __name__ == "__main__":
    main()
