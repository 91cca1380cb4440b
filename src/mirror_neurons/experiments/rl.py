"""The RL experiment (issue 17): do agents that learn by reward help, and do they grow mirror units?

``run_rl(grid, out)`` runs, resumably, in ``out``:

1. ``scripted.json``: the scripted policies of ``game.scripted`` as Frog (Toad
   plays the grid's partner) in every dependency D of the grid, over
   ``eval_seeds`` seeds: return under each reward, score per turn, survival,
   help rate when only the partner is in distress, jumps at energy 0. It shows
   whether helping pays (``cooperation_pays``) before any agent learns.
2. ``agents/<model_id>/``: one PPO run (``train.ppo``) per cell (reward x D) and
   seed, checkpoints at iteration 0 and at the end.
3. ``behaviour.json``: every trained agent on the same evaluation games as the
   random and labeling-rule policies (paired by game), the same measures.
4. ``states/``: the analysis states, a dataset folder (``data.dataset``) of
   Frog-turn states the *trained agents* visited in those evaluation games:
   per agent, up to ``states_per_agent`` distinct states, an equal share per
   scenario (none, Frog, Toad, both in distress) where the agent visited
   enough, drawn with the agent's own seed. Every agent contributes the same
   number of draws, so no cell dominates the groups, and one state set serves
   every checkpoint, so all models (and their initialisations) are measured on
   the same states. Labels are the labeling rule's; the RL checkpoints are
   then stamped with the set's ``dataset_hash`` (they were trained on no
   dataset; the field names the states they are analysed on).
5. ``agents/analysis/``: ``analysis.pipeline.analyze_run`` unchanged (CMNI, the
   scale-free index, unit classes, controls, the paired test of each cell
   against its own initialisation).
6. ``summary.json``: the pre-registered hypotheses (docs/rl.md) decided.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from mirror_neurons import atomic, tables
from mirror_neurons.data.dataset import Split, load_dataset, write_dataset
from mirror_neurons.data.prepare import label_states
from mirror_neurons.errors import AnalysisError, ConfigError
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Action, Player, Scenario
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.scripted import HELPING, SCRIPTED, BatchPolicy, get_scripted
from mirror_neurons.game.vector_env import REWARDS, cycle_reward, learner_view, resolve_partner
from mirror_neurons.progress import Progress
from mirror_neurons.train.checkpoint import iter_checkpoints, load_checkpoint, read_meta
from mirror_neurons.train.model import MLP
from mirror_neurons.train.ppo import PARTNERS, PPOConfig, _sample, load_partner, network_partner, train_ppo

log = logging.getLogger(__name__)

EVAL_SEED = 1_000_003
"""Stream seed of the evaluation games (never a training seed: those are small integers)."""
NEVER_HELP = ("hop", "selfish", "forager")
"""Scripted policies that never help: the candidates for "the best selfish policy"."""


@dataclass(frozen=True)
class RLGrid:
    """The experiment's cells (reward x D) and its sizes."""

    rewards: tuple[str, ...] = ("selfish", "shared")
    dependencies: tuple[float, ...] = (0.0, 1.0)
    seeds: int = 10
    """Agents (PPO seeds) per cell; the paired test needs >= 10."""
    partner: str = "random"
    """Toad in every cell: a scripted policy (``game.scripted``), ``self`` (the learner itself, parameter-shared;
    in the scripted table, the same scripted policy as Frog) or ``network`` (``partner_checkpoint``, frozen)."""
    partner_checkpoint: str | None = None
    ppo: PPOConfig = PPOConfig()
    """Every agent's PPO settings; reward, dependency, partner and seed are set per agent."""
    eval_games: int = 256
    """Evaluation games per agent (and per scripted policy and evaluation seed)."""
    eval_seeds: int = 10
    """Seeds of the scripted table (each ``eval_games`` games)."""
    states_per_agent: int = 2000
    workers: int = 2

    def __post_init__(self) -> None:
        for r in self.rewards:
            if r not in REWARDS:
                raise ConfigError(f"unknown reward setting {r!r}; choose from {', '.join(REWARDS)}")
        if self.partner not in PARTNERS:
            raise ConfigError(f"unknown partner setting {self.partner!r}; choose one of {', '.join(PARTNERS)}")
        if (self.partner == "network") != (self.partner_checkpoint is not None):
            raise ConfigError(
                "partner 'network' needs a partner checkpoint (--partner-checkpoint), and only it takes one"
            )
        if self.partner == "network":
            load_partner(self.partner_checkpoint)  # a one-line error now if its shape does not fit
        if self.seeds < 1 or self.eval_games < 1 or self.eval_seeds < 2 or self.states_per_agent < 4:
            raise ConfigError("seeds, eval_games >= 1, eval_seeds >= 2 and states_per_agent >= 4 are needed")

    @classmethod
    def preset(cls, name: str, **overrides) -> RLGrid:
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return replace(PRESETS[name], **overrides)

    def agent_configs(self) -> list[PPOConfig]:
        return [replace(self.ppo, reward=r, dependency=float(d), partner=self.partner, partner_checkpoint=self.partner_checkpoint, seed=s)
                for r in self.rewards for d in self.dependencies for s in range(self.seeds)]  # fmt: skip

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ppo"] = self.ppo.to_dict()
        d.pop("workers")  # where it runs, not what it computes: a resumed run may use other workers
        return d


PRESETS = {
    "demo": RLGrid(
        ppo=PPOConfig(
            num_envs=256, num_steps=32, total_steps=200_000, update_epochs=3, num_minibatches=2, checkpoint_every=1000
        ),
        eval_games=128,
        eval_seeds=5,
        states_per_agent=1500,
    ),  # fmt: skip
    "full": RLGrid(
        dependencies=(0.0, 0.5, 1.0),
        seeds=12,
        ppo=PPOConfig(num_envs=512, num_steps=64, total_steps=2_000_000, checkpoint_every=10),
        eval_games=512,
        eval_seeds=10,
    ),  # fmt: skip
}


# -- playing a policy ----------------------------------------------------------------------------


def network_policy(model: MLP, seed: int) -> BatchPolicy:
    """Frog played by a policy network, actions sampled as in training (seeded)."""
    g = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def act(batch: GameBatch) -> np.ndarray:
        return _sample(model(torch.from_numpy(learner_view(batch, Player.FROG))), g).numpy()

    return act


def play(frog: BatchPolicy, game: GameConfig, *, partner: str | BatchPolicy, seed: int, n_games: int, survival: float = 1.0,
         record: bool = False) -> tuple[dict[str, float], Split | None]:  # fmt: skip
    """Frog by ``frog``, Toad by ``partner`` in ``n_games`` games of stream ``seed``; the measures, and the visited states.

    Measures (per game averaged over games): ``return_<reward>`` for every reward setting, ``score_per_turn``
    (Frog's hops per Frog turn), ``team_score_per_turn``, ``survival`` and ``partner_survival`` (share of
    cycles ending with energy > 0), ``help_rate_partner_distress`` (Frog's helps among its turns with only
    Toad in distress), ``jump_rate_energy0`` (Frog's jumps among its turns at energy 0), ``help_rate``.
    """
    toad = frog if partner == "self" else resolve_partner(partner)
    b = GameBatch(game, seed, n_games)
    returns = {r: np.zeros(n_games) for r in REWARDS}
    alive = np.zeros((n_games, 2))
    cases = {"partner_distress": [0, 0], "energy0": [0, 0], "help": [0, 0]}
    xs, cols, cycles = [], [], 0
    while not b.done[0]:
        distress = b.distress()
        only_toad = distress[:, Player.TOAD] & ~distress[:, Player.FROG]
        energy0 = b.energy[:, Player.FROG] == 0
        if record:
            xs.append(learner_view(b, Player.FROG))
            cols.append(b.pos[:, Player.FROG].copy())
        a = np.asarray(frog(b), dtype=np.int64)
        cases["partner_distress"][0] += int(only_toad.sum())
        cases["partner_distress"][1] += int((only_toad & (a == Action.HELP)).sum())
        cases["energy0"][0] += int(energy0.sum())
        cases["energy0"][1] += int((energy0 & (a == Action.JUMP)).sum())
        cases["help"][0] += n_games
        cases["help"][1] += int((a == Action.HELP).sum())
        delta = b.step(a)
        if not b.done[0]:
            delta = delta + b.step(np.asarray(toad(b), dtype=np.int64))
        for r in REWARDS:
            returns[r] += cycle_reward(r, delta, b.energy, survival)
        alive += b.energy > 0
        cycles += 1
    rate = lambda k: cases[k][1] / cases[k][0] if cases[k][0] else math.nan  # noqa: E731
    score = b.score
    out = {f"return_{r}": float(v.mean()) for r, v in returns.items()}
    out |= {
        "score_per_turn": float(score[:, 0].mean() / cycles), "team_score_per_turn": float(score.sum(1).mean() / cycles),
        "survival": float(alive[:, 0].mean() / cycles), "partner_survival": float(alive[:, 1].mean() / cycles),
        "help_rate_partner_distress": rate("partner_distress"), "jump_rate_energy0": rate("energy0"), "help_rate": rate("help"),
    }  # fmt: skip
    states = None
    if record:
        x = np.concatenate(xs)
        frog_pos = np.concatenate(cols)
        label, scenario = label_states(x, frog_pos)
        states = Split(x, label, scenario, frog_pos.astype(np.uint8))
    return out, states


def interval(values: list[float], level: float = 0.95) -> dict[str, float]:
    """Mean and Student-t interval over seeds (NaN-free values)."""
    v = np.asarray([x for x in values if x == x], dtype=float)
    if len(v) < 2:
        return {"mean": float(v.mean()) if len(v) else math.nan, "low": math.nan, "high": math.nan, "n": len(v)}
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return {"mean": float(v.mean()), "low": float(v.mean() - half), "high": float(v.mean() + half), "n": len(v)}


# -- 1. where cooperation pays ---------------------------------------------------------------------


def scripted_table(grid: RLGrid) -> dict:
    """Every scripted Frog policy in every D, per evaluation seed; means with intervals; does helping pay?"""
    out: dict = {
        "partner": grid.partner,
        "max_turns": grid.ppo.max_turns,
        "games_per_seed": grid.eval_games,
        "cells": {},
    }
    partner = _scripted_partner(grid)
    for d in grid.dependencies:
        game = GameConfig(dependency=float(d), max_turns=grid.ppo.max_turns)
        per_policy = {name: [play(get_scripted(name), game, partner=partner, seed=EVAL_SEED + s, n_games=grid.eval_games,
                                  survival=grid.ppo.survival)[0] for s in range(grid.eval_seeds)] for name in SCRIPTED}  # fmt: skip
        table = {name: {k: interval([r[k] for r in rows]) for k in rows[0]} for name, rows in per_policy.items()}
        out["cells"][f"{d:g}"] = {
            "policies": table,
            "cooperation_pays": {r: _pays(per_policy, f"return_{r}") for r in grid.rewards},
        }
    return out


def _pays(per_policy: dict[str, list[dict]], key: str) -> dict:
    """Best helping policy against always-hop and the best never-helping one: paired differences over seeds."""
    mean = lambda name: np.mean([r[key] for r in per_policy[name]])  # noqa: E731
    helper = max(HELPING, key=mean)
    selfish = max(NEVER_HELP, key=mean)
    diff = lambda other: interval([a[key] - b[key] for a, b in zip(per_policy[helper], per_policy[other])])  # noqa: E731
    vs_hop, vs_selfish = diff("hop"), diff(selfish)
    return {"best_helping": helper, "best_never_helping": selfish, "margin_vs_hop": vs_hop, "margin_vs_best_selfish": vs_selfish,
            "pays": bool(vs_hop["low"] > 0 and vs_selfish["low"] > 0)}  # fmt: skip


# -- 2-6. the experiment ---------------------------------------------------------------------------


def _scripted_partner(grid: RLGrid) -> str | BatchPolicy:
    """Toad for scripted Frogs and evaluations: the named policy, Frog's own policy (``self``) or the frozen network."""
    return network_partner(load_partner(grid.partner_checkpoint)) if grid.partner == "network" else grid.partner


def _train_one(config: dict, folder: str) -> str:
    train_ppo(PPOConfig.from_dict(config), folder)
    return folder


def final_checkpoint(folder: Path) -> Path:
    paths = [p for p in iter_checkpoints(folder / "checkpoints")]
    return max(paths, key=lambda p: read_meta(p)["epoch"])


def run_rl(grid: RLGrid, out: str | Path, *, analyze: bool = True, progress: Progress | None = None) -> dict:
    """The whole experiment in ``out`` (resumable: finished steps are kept); returns the summary.

    ``progress(done, total, note)`` counts the agents trained, of all, with a note for each step
    (without it, the notes are logged).
    """
    from mirror_neurons.distributed.executors import make_executor

    out = Path(out)
    say = progress or (lambda done, total, note="": log.info(note))
    out.mkdir(parents=True, exist_ok=True)
    grid_path = out / tables.RL_GRID.file
    if grid_path.is_file() and json.loads(grid_path.read_text()) != json.loads(atomic.json_text(grid.to_dict())):
        raise ConfigError(
            f"{out} holds an RL experiment with another grid; resume with the same preset or choose another --out"
        )
    atomic.write_json(grid_path, tables.RL_GRID.writing(grid.to_dict(), grid_path))

    configs = grid.agent_configs()
    folders = [out / "agents" / c.model_id for c in configs]
    todo = [(c.to_dict(), str(f)) for c, f in zip(configs, folders) if not _finished(f, c)]
    n_agents, trained = len(configs), len(configs) - len(todo)
    scripted_path = out / tables.RL_SCRIPTED.file
    if not scripted_path.is_file():
        say(trained, n_agents, "scripted policies: does helping pay?")
        atomic.write_json(scripted_path, tables.RL_SCRIPTED.writing(scripted_table(grid), scripted_path))
    if todo:
        say(trained, n_agents, f"training {len(todo)} PPO agents on {grid.workers} process(es)")

        def agent_done(_i: int, folder: str) -> None:
            nonlocal trained
            trained += 1
            say(trained, n_agents, f"agent {Path(folder).name} done")

        with make_executor(workers=grid.workers) as ex:
            ex.map(_train_one, todo, on_result=agent_done)
    behaviour_path = out / tables.RL_BEHAVIOUR.file
    if not behaviour_path.is_file() or not (out / "states").is_dir():
        say(n_agents, n_agents, "behaviour of every agent and the analysis states")
        behaviour, pool = evaluate_agents(grid, configs, folders)
        if not (out / "states").is_dir():
            write_dataset(out / "states", pool, {"kind": "rl-visited-states", "grid": grid.to_dict(),
                                                 "drawn": "per agent, up to states_per_agent distinct Frog-turn states, "
                                                          "equal shares per scenario (docs/rl.md)"})  # fmt: skip
        atomic.write_json(behaviour_path, tables.RL_BEHAVIOUR.writing(behaviour, behaviour_path))
    dataset = load_dataset(out / "states", splits=("test",))
    stamp_checkpoints(out / "agents", dataset.hash, out / "states")
    if analyze:
        from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_run

        say(n_agents, n_agents, "analysis of every checkpoint (mirror-neurons analyze)")
        analyze_run(out / "agents", out / "states", AnalysisConfig(), workers=grid.workers)
    summary = decide(out, grid)
    atomic.write_json(out / SUMMARY_FILE, tables.RL_SUMMARY.writing(summary, out / SUMMARY_FILE))
    write_figures(out, summary)
    return summary


def agent_rows(out: Path) -> list[dict]:
    """Every agent's behaviour and mirror change (NaN before the analysis)."""
    behaviour = _read_behaviour(out)
    changes = _mirror_changes(out / "agents" / "analysis")
    return [
        a | {"model_id": mid, "mirror_change": changes.get(mid, math.nan)} for mid, a in behaviour["agents"].items()
    ]


def write_figures(out: Path, summary: dict) -> list[Path]:
    """``out/figures/rl-*.png``: help rate, score per turn and mirror change per cell; help against mirror change."""
    import matplotlib.pyplot as plt

    from mirror_neurons.experiments import rl_plots

    rows = agent_rows(out)
    base = summary["baselines"]
    d_ref = next(reversed(base))  # the references of the last D (the paper's D = 1 in the presets)
    first = base[d_ref]
    figures = {
        "rl-help-rate.png": lambda ax: rl_plots.plot_by_cell(rows, "help_rate_partner_distress", ax=ax, ylabel="help rate, only Toad in distress",
                                                             references={f"labeling rule, D={d_ref}": first["rule"]["help_rate_partner_distress"],
                                                                         f"carer, D={d_ref}": first["carer"]["help_rate_partner_distress"]}),
        "rl-score-per-turn.png": lambda ax: rl_plots.plot_by_cell(rows, "score_per_turn", ax=ax, ylabel="Frog's score per turn",
                                                                  references={f"random, D={d_ref}": first["random"]["score_per_turn"],
                                                                              f"labeling rule, D={d_ref}": first["rule"]["score_per_turn"]}),
        "rl-mirror-change.png": lambda ax: rl_plots.plot_by_cell(rows, "mirror_change", ax=ax, ylabel="mirror index change over own init"),
        "rl-help-vs-mirror.png": lambda ax: rl_plots.plot_help_vs_mirror(rows, ax=ax),
    }  # fmt: skip
    paths = []
    for name, draw in figures.items():
        fig, ax = plt.subplots(figsize=(6, 3.8))
        draw(ax)
        fig.tight_layout()
        path = out / "figures" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path.with_suffix(".tmp.png"), dpi=110)
        plt.close(fig)
        path.with_suffix(".tmp.png").replace(path)
        paths.append(path)
    return paths


def _finished(folder: Path, config: PPOConfig) -> bool:
    return (folder / "checkpoints").is_dir() and any(
        read_meta(p)["epoch"] == config.num_iterations for p in iter_checkpoints(folder / "checkpoints")
    )


def evaluate_agents(grid: RLGrid, configs: list[PPOConfig], folders: list[Path]) -> tuple[dict, dict[str, Split]]:
    """Every trained agent, and the random and rule policies, on the same evaluation games; the pooled states."""
    agents, parts = {}, []
    baselines: dict = {}
    for d in grid.dependencies:
        game = GameConfig(dependency=float(d), max_turns=grid.ppo.max_turns)
        baselines[f"{d:g}"] = {name: play(get_scripted(name), game, partner=_scripted_partner(grid), seed=EVAL_SEED, n_games=grid.eval_games,
                                          survival=grid.ppo.survival)[0] for name in ("random", "rule", "hop", "carer")}  # fmt: skip
    for c, folder in zip(configs, folders):
        ck = load_checkpoint(final_checkpoint(folder))
        game = GameConfig(dependency=c.dependency, max_turns=c.max_turns)
        frog = network_policy(ck.model, c.seed)
        measures, states = play(frog, game, partner=_scripted_partner(grid), seed=EVAL_SEED,
                                n_games=grid.eval_games, survival=c.survival, record=True)  # fmt: skip
        agents[c.model_id] = {"reward": c.reward, "dependency": c.dependency, "seed": c.seed, **measures}
        parts.append(_draw_states(states, grid.states_per_agent, np.random.default_rng([c.seed, len(parts)])))
    pool = Split(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("x", "label", "scenario", "frog_pos")))
    _, first = np.unique(np.ascontiguousarray(pool.x).view(np.dtype((np.void, 100))), return_index=True)
    pool = pool.take(np.sort(first))
    order = np.random.default_rng(0).permutation(len(pool))
    n_val = len(pool) // 10
    splits = {
        "val": pool.take(order[:n_val]),
        "train": pool.take(order[n_val : 2 * n_val]),
        "test": pool.take(order[2 * n_val :]),
    }
    return {"agents": agents, "baselines": baselines, "eval_seed": EVAL_SEED, "eval_games": grid.eval_games}, splits


def _draw_states(states: Split, n: int, rng: np.random.Generator) -> Split:
    """Up to ``n`` distinct states, ``n / 4`` per scenario where there are that many (the rest filled from the others)."""
    _, first = np.unique(np.ascontiguousarray(states.x).view(np.dtype((np.void, 100))), return_index=True)
    states = states.take(np.sort(first))
    by_scenario = [rng.permutation(np.nonzero(states.scenario == s)[0]) for s in Scenario]
    quota = n // len(by_scenario)
    take = [idx[:quota] for idx in by_scenario]
    rest = rng.permutation(np.concatenate([idx[quota:] for idx in by_scenario]))[: n - sum(len(t) for t in take)]
    return states.take(np.sort(np.concatenate([*take, rest])))


def stamp_checkpoints(agents_dir: Path, dataset_hash: str, data_dir: Path) -> None:
    """Record in every RL checkpoint the analysis states it is measured on (the weights and their hash are untouched)."""
    for path in iter_checkpoints(agents_dir):
        if "analysis" in path.relative_to(agents_dir).parts:
            continue
        meta = read_meta(path)
        if meta.get("dataset_hash") != dataset_hash:
            meta |= {
                "dataset_hash": dataset_hash,
                "data_dir": str(data_dir.resolve()),
                "analysis_states": "rl-visited-states",
            }
            atomic.write_json(path, tables.CHECKPOINT_META.writing(meta, path), fsync=False)


# -- the decisions ----------------------------------------------------------------------------------


def decide(out: Path, grid: RLGrid) -> dict:
    """The pre-registered hypotheses of docs/rl.md, decided from behaviour.json and the paired analysis."""
    behaviour = _read_behaviour(out)
    agents = behaviour["agents"]
    changes = _mirror_changes(out / "agents" / "analysis")
    cells = {}
    for r in grid.rewards:
        for d in grid.dependencies:
            rows = [
                a | {"mirror_change": changes.get(mid, math.nan)}
                for mid, a in agents.items()
                if a["reward"] == r and a["dependency"] == d
            ]
            keys = ("return_" + r, "score_per_turn", "team_score_per_turn", "survival", "partner_survival",
                    "help_rate_partner_distress", "jump_rate_energy0", "mirror_change")  # fmt: skip
            cells[f"{r}, D={d:g}"] = {k: interval([row[k] for row in rows]) for k in keys}
    summary: dict = {"cells": cells, "baselines": behaviour["baselines"], "hypotheses": {}}
    beats = {}
    for d in grid.dependencies:
        random_spt = behaviour["baselines"][f"{d:g}"]["random"]["score_per_turn"]
        for r in grid.rewards:
            beats[f"{r}, D={d:g}"] = cells[f"{r}, D={d:g}"]["score_per_turn"]["low"] > random_spt
    summary["agents_beat_random_score_per_turn"] = beats
    if "shared" in grid.rewards and "selfish" in grid.rewards:
        h1, h2 = {}, {}
        for d in grid.dependencies:
            pick = lambda r, k: [
                a.get(k, math.nan) if k != "mirror_change" else changes.get(mid, math.nan)  # noqa: E731
                for mid, a in agents.items()
                if a["reward"] == r and a["dependency"] == d
            ]
            h1[f"D={d:g}"] = _greater(
                pick("shared", "help_rate_partner_distress"), pick("selfish", "help_rate_partner_distress")
            )
            h2[f"D={d:g}"] = _greater(pick("shared", "mirror_change"), pick("selfish", "mirror_change"))
        summary["hypotheses"]["H1 shared reward raises help"] = h1
        summary["hypotheses"]["H2 shared reward raises mirror units beyond own initialisation"] = {
            "shared_vs_selfish_change": h2,
            "paired_within_cell": _paired_verdicts(out / "agents" / "analysis"),
        }
    both = [(a["help_rate_partner_distress"], changes.get(mid, math.nan)) for mid, a in agents.items()]
    both = [(h, m) for h, m in both if h == h and m == m]
    if len(both) >= 10:
        rho, p = stats.spearmanr(*zip(*both), alternative="greater")
        summary["hypotheses"]["H3 help and mirror change go together across agents"] = {
            "spearman_rho": float(rho),
            "p_value": float(p),
            "n_agents": len(both),
            "supported": bool(p < 0.05),
        }
    return summary


def _greater(a: list[float], b: list[float]) -> dict:
    a = [x for x in a if x == x]
    b = [x for x in b if x == x]
    if len(a) < 2 or len(b) < 2:
        return {"n": [len(a), len(b)], "supported": False, "note": "too few agents with this measure"}
    p = float(stats.mannwhitneyu(a, b, alternative="greater").pvalue)
    return {"shared_mean": float(np.mean(a)), "selfish_mean": float(np.mean(b)), "n": [len(a), len(b)],
            "mann_whitney_p": p, "supported": bool(p < 0.05)}  # fmt: skip


def _read_behaviour(out: Path) -> dict:
    path = out / tables.RL_BEHAVIOUR.file
    return tables.RL_BEHAVIOUR.require(atomic.read_json_object(path, AnalysisError, tables.RL_FIX), path)


def _mirror_changes(analysis_dir: Path) -> dict[str, float]:
    path = analysis_dir / tables.PAIRED_MODELS.file
    if not path.is_file():
        return {}
    import pyarrow.parquet as pq

    t = pq.read_table(path).to_pydict()
    return {m: float(c) for m, c in zip(t["model_id"], t["cmni_effect_size_change"])}


def _paired_verdicts(analysis_dir: Path) -> list[dict]:
    path = analysis_dir / tables.PAIRED.file
    if not path.is_file():
        return []
    rec = tables.PAIRED.require(atomic.read_json_object(path, AnalysisError, tables.RL_FIX), path)
    return [{k: c.get(k) for k in ("label", "configuration", "measure", "n_models", "mean_change", "ci_low", "ci_high", "p_value", "verdict")}
            for c in rec["configurations"] if c.get("measure") == "cmni_effect_size"]  # fmt: skip


# -- the results as plain data, for the report -------------------------------------------------------

SUMMARY_FILE = tables.RL_SUMMARY.file


def load_summary(out: str | Path) -> dict:
    """A finished ``run_rl`` folder as plain data for the report (read only, nothing measured here).

    Keys: ``grid`` (cells, seeds, partner, sizes), ``scripted`` (``scripted.json``: per D, every scripted
    policy's measures as intervals over seeds and ``cooperation_pays``), ``cells`` (per reward and D: the
    agents' measures as intervals over seeds and whether they beat random play, H0), ``baselines`` (the
    scripted references on the agents' evaluation games), ``paired`` (per cell: the scale-free index at
    initialisation and trained, the change's interval and Wilcoxon p, from the analysis), ``hypotheses``
    (one row per pre-registered test of docs/rl.md, with its verdict) and ``agents`` (one row per agent:
    behaviour and mirror change, the figures' points). ``AnalysisError`` naming the fix if the folder is
    not a finished experiment.
    """
    out = Path(out)
    fix = f"run `mirror-neurons experiment rl --out {out}` again (it resumes)"
    read = {}
    for schema in (tables.RL_SUMMARY, tables.RL_SCRIPTED, tables.RL_GRID, tables.RL_BEHAVIOUR):
        path = out / schema.file
        if not path.is_file():
            raise AnalysisError(f"{path} does not exist; {fix}")
        read[schema] = atomic.read_json_object(path, AnalysisError, fix)
    summary, grid = read[tables.RL_SUMMARY], read[tables.RL_GRID]
    if not isinstance(summary.get("cells"), dict) or "hypotheses" not in summary:
        raise AnalysisError(f"{out / SUMMARY_FILE} is not an RL experiment's summary (no cells or hypotheses); {fix}")
    for schema, value in read.items():
        schema.require(value, out / schema.file)
    paired = _paired_by_cell(out / "agents" / "analysis")
    beats = summary.get("agents_beat_random_score_per_turn", {})
    cells = []
    for name, measures in summary["cells"].items():
        reward, d = name.split(", D=")
        cells.append({"name": name, "reward": reward, "dependency": float(d), "measures": measures,
                      "beats_random": beats.get(name), "paired": paired.get((reward, float(d)))})  # fmt: skip
    return {
        "folder": str(out),
        "grid": {k: grid.get(k) for k in ("rewards", "dependencies", "seeds", "partner", "eval_games", "eval_seeds")}
        | {k: grid["ppo"].get(k) for k in ("total_steps", "max_turns", "survival", "hidden", "encoding")},
        "scripted": read[tables.RL_SCRIPTED],
        "cells": cells,
        "baselines": summary.get("baselines", {}),
        "hypotheses": hypothesis_rows(summary, cells),
        "agents": agent_rows(out),
    }


def _paired_by_cell(analysis_dir: Path) -> dict[tuple[str, float], dict]:
    """The analysis's paired test of the scale-free index, keyed by the (reward, D) its configuration names."""
    path = analysis_dir / tables.PAIRED.file
    if not path.is_file():
        return {}
    by_cell = {}
    for c in atomic.read_json_object(path, AnalysisError, "run `mirror-neurons analyze` on the agents again").get(
        "configurations", []
    ):
        cfg = dict(kv.split("=", 1) for kv in c.get("configuration", "").split(", ") if "=" in kv)
        if c.get("measure") == "cmni_effect_size" and "reward" in cfg and "dependency" in cfg:
            keys = (
                "n_models",
                "mean_init",
                "mean_trained",
                "mean_change",
                "ci_low",
                "ci_high",
                "p_value",
                "p_floor",
                "verdict",
            )
            by_cell[(cfg["reward"], float(cfg["dependency"]))] = {k: c.get(k) for k in keys}  # fmt: skip
    return by_cell


def hypothesis_rows(summary: dict, cells: list[dict]) -> list[dict]:
    """One row per decided test of the pre-registration (docs/rl.md): id, claim, scope, test, estimate, p, n, verdict."""
    hyp = summary["hypotheses"]
    rows = [
        {"id": "H0", "claim": "agents beat random play's score per turn", "scope": c["name"],
         "test": "lower end of the 95 % interval over seeds > random's value", "estimate": {"agents": c["measures"]["score_per_turn"]["mean"],
         "random": summary["baselines"].get(f"{c['dependency']:g}", {}).get("random", {}).get("score_per_turn", math.nan)},
         "p_value": None, "n": c["measures"]["score_per_turn"].get("n"), "supported": c["beats_random"]}
        for c in cells if c["beats_random"] is not None
    ]  # fmt: skip
    between = lambda hid, claim, test, record: [  # noqa: E731
        {"id": hid, "claim": claim, "scope": scope, "test": test, "supported": bool(r.get("supported")),
         "estimate": {"shared": r.get("shared_mean", math.nan), "selfish": r.get("selfish_mean", math.nan)},
         "p_value": r.get("mann_whitney_p"), "n": sum(r.get("n", []))}
        for scope, r in record.items()
    ]  # fmt: skip
    rows += between("H1", "shared reward raises help", "one-sided Mann-Whitney, shared > selfish help rate",
                    hyp.get("H1 shared reward raises help", {}))  # fmt: skip
    h2 = hyp.get("H2 shared reward raises mirror units beyond own initialisation", {})
    rows += [
        {"id": "H2a", "claim": "shared agents' mirror index rises over their own initialisation", "scope": c["name"],
         "test": "one-sided exact Wilcoxon signed-rank, change > 0", "estimate": {"mean change": c["paired"]["mean_change"]},
         "p_value": c["paired"]["p_value"], "n": c["paired"]["n_models"],
         "supported": c["paired"]["p_value"] is not None and c["paired"]["p_value"] < 0.05}
        for c in cells if c["reward"] == "shared" and c["paired"] and h2
    ]  # fmt: skip
    rows += between("H2b", "shared agents' mirror change exceeds selfish agents'",
                    "one-sided Mann-Whitney, shared > selfish change", h2.get("shared_vs_selfish_change", {}))  # fmt: skip
    h3 = hyp.get("H3 help and mirror change go together across agents")
    if h3:
        rows.append({"id": "H3", "claim": "help and mirror change go together", "scope": "all agents",
                     "test": "one-sided Spearman correlation > 0", "estimate": {"rho": h3["spearman_rho"]},
                     "p_value": h3["p_value"], "n": h3["n_agents"], "supported": bool(h3["supported"])})  # fmt: skip
    return rows
