"""Sweeps: many configurations described in a TOML file, trained at once by ``train_many``.

A sweep file (the presets in ``train/presets/`` are examples)::

    [sweep]
    name = "paper"
    seed = 2511          # root seed: each model's seed is spawned from it (SeedSequence)
    replicates = 1       # models per configuration, each with its own seed ([[configs]] may set its own)
    dataset = "data/x"   # optional; --data overrides (relative paths: from the TOML file)

    [limits]             # max_epochs, patience, epoch_rows (0 = whole split), val_rows (0 = all)
    max_epochs = 500
    patience = 10

    [defaults]           # any configuration key, applied where a configuration does not set it
    dropout = 0.12

    [grid]               # optional: every combination of these lists
    hidden = [[17, 17], [11, 11]]
    lr = [4e-6, 5e-5]

    [[configs]]          # optional: explicit configurations (listed before the grid's)
    hidden = [17, 17]
    lr = 4e-6
    batch_size = 25
    replicates = 10      # optional: this configuration's number of seeds (default: [sweep] replicates)

Configuration keys: hidden, lr, batch_size, dropout, activation, encoding
(raw, onehot, recoded), loss (mse_l2, mse, cross_entropy), l2, sampling
(shuffle, balanced), labels (rule, toad_blind, shuffled: the training-level
nulls), beta1, beta2, eps. An unknown key or a value out of range raises ConfigError
naming the key, the table and the allowed values.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from mirror_neurons import atomic
from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.distributed.executors import Executor, LocalExecutor
from mirror_neurons.errors import ConfigError
from mirror_neurons.progress import Progress
from mirror_neurons.tables import SWEEP_SUMMARY
from mirror_neurons.train.config import TrainConfig, check_range, describe_range
from mirror_neurons.train.groups import train_distributed
from mirror_neurons.train.model import ACTIVATIONS, ModelConfig
from mirror_neurons.train.progress import chain, epoch_progress
from mirror_neurons.train.run_folder import run_info
from mirror_neurons.train.trainer import EpochHook, TrainResult, train_many

PRESETS = ("paper", "demo", "competent", "recipes")

CONFIG_KEYS = (
    "hidden",
    "lr",
    "batch_size",
    "dropout",
    "activation",
    "encoding",
    "loss",
    "l2",
    "sampling",
    "labels",
    "beta1",
    "beta2",
    "eps",
)
LIMIT_KEYS = ("max_epochs", "patience", "epoch_rows", "val_rows")
SWEEP_KEYS = ("name", "description", "seed", "replicates", "dataset", "paper_relation")
TABLES = ("sweep", "limits", "defaults", "grid", "configs")
MAX_LAYERS, MAX_UNITS, MAX_REPLICATES, MAX_LR = 16, 4096, 1000, 1.0


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep: the configurations (without seeds), replicates and root seed."""

    name: str
    configs: tuple[TrainConfig, ...]
    """One per configuration, seed 0 (``models()`` spawns the seeds)."""
    seed: int = 0
    replicates: int = 1
    counts: tuple[int, ...] = ()
    """Models (seeds) of each configuration; empty: ``replicates`` for every one."""
    dataset: str | None = None
    description: str = ""
    source: str = ""
    raw: dict = field(default_factory=dict, compare=False)

    def models(self) -> list[tuple[str, TrainConfig]]:
        """(model_id, TrainConfig with its spawned seed) for every configuration x replicate.

        Seeds are spawned from the root seed in order, configuration by configuration and
        replicate by replicate, so a sweep whose counts are all ``replicates`` gets the same
        seeds as before per-configuration counts existed."""
        counts = self.counts or (self.replicates,) * len(self.configs)
        pairs = [(c, r) for c, k in enumerate(counts) for r in range(k)]
        children = np.random.SeedSequence(self.seed).spawn(len(pairs))
        out = []
        for i, (c, r) in enumerate(pairs):
            seed = int(children[i].generate_state(1, np.uint64)[0] >> np.uint64(1))
            config = TrainConfig.from_dict({**self.configs[c].to_dict(), "seed": seed})
            out.append((f"c{c:03d}r{r}_{config.describe()}", config))
        return out

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "seed": self.seed,
            "replicates": self.replicates,
            **({"counts": list(self.counts)} if self.counts else {}),
            "dataset": self.dataset,
            "description": self.description,
            "source": self.source,
            "configs": [c.to_dict() for c in self.configs],
        }


@dataclass
class SweepResult:
    run_dir: Path
    results: list[TrainResult]

    @property
    def checkpoints(self) -> list[Path]:
        return [p for r in self.results for p in r.checkpoints]


def preset_path(name: str) -> Path:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return Path(str(resources.files("mirror_neurons.train") / "presets" / f"{name}.toml"))


def load_sweep(path_or_preset: str | Path) -> SweepSpec:
    """Read a sweep TOML file (a ``Path``, or a str that is no preset's name), or a preset by name (one of PRESETS).

    A preset's name always means the preset, so a file or folder of that name in the working directory
    changes nothing; pass ``Path("demo")`` to read a file named like a preset."""
    text_path = Path(path_or_preset)
    if isinstance(path_or_preset, str) and path_or_preset in PRESETS:
        text_path = preset_path(path_or_preset)
    if not text_path.is_file():
        raise ConfigError(f"sweep file {text_path} does not exist; give a TOML file or a preset ({', '.join(PRESETS)})")
    return parse_sweep(atomic.read_toml(text_path, ConfigError, "the sweep file"), source=str(text_path))


def parse_sweep(raw: dict, source: str = "<sweep>") -> SweepSpec:
    where = f"{source}: "
    _only(raw, TABLES, where, "top level")
    sweep = raw.get("sweep", {})
    limits = raw.get("limits", {})
    defaults = raw.get("defaults", {})
    grid = raw.get("grid", {})
    listed = raw.get("configs", [])
    _only(sweep, SWEEP_KEYS, where, "[sweep]")
    _only(limits, LIMIT_KEYS, where, "[limits]")
    _only(defaults, CONFIG_KEYS, where, "[defaults]")
    _only(grid, CONFIG_KEYS, where, "[grid]")
    if not isinstance(listed, list):
        raise ConfigError(f"{where}configs must be an array of tables ([[configs]])")
    for i, c in enumerate(listed):
        _only(c, (*CONFIG_KEYS, "replicates"), where, f"[[configs]] #{i + 1}")

    for key in ("name", "description", "dataset", "paper_relation"):
        if key in sweep and not isinstance(sweep[key], str):
            raise ConfigError(f'{where}[sweep] {key} = {sweep[key]!r} must be a string, e.g. {key} = "text"')
    seed = sweep.get("seed", 0)
    check_range("seed", seed, f"{where}[sweep] ")
    if not isinstance(seed, int):  # 1.5 would train with seed 1
        raise ConfigError(f"{where}[sweep] seed = {seed!r} must be an integer in {describe_range('seed')}")
    replicates = sweep.get("replicates", 1)
    if not isinstance(replicates, int) or isinstance(replicates, bool) or not 1 <= replicates <= MAX_REPLICATES:
        raise ConfigError(f"{where}[sweep] replicates = {replicates!r} is out of range; allowed 1..{MAX_REPLICATES}")
    for key, value in limits.items():
        check_range(key, value, f"{where}[limits] ")
        if not isinstance(value, int):
            raise ConfigError(f"{where}[limits] {key} = {value!r} must be an integer in {describe_range(key)}")

    entries: list[tuple[str, dict]] = [(f"[[configs]] #{i + 1}", dict(c)) for i, c in enumerate(listed)]
    counts = []
    for label, entry in entries:
        k = entry.pop("replicates", replicates)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_REPLICATES:
            raise ConfigError(f"{where}{label} replicates = {k!r} is out of range; allowed 1..{MAX_REPLICATES}")
        counts.append(k)
    if grid:
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{where}[grid] {key} must be a non-empty list of values, got {values!r}")
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            entries.append((f"[grid] {dict(zip(keys, combo))}", dict(zip(keys, combo))))
    if not entries:
        raise ConfigError(f"{where}no configurations: add a [grid] table or [[configs]] entries")
    counts += [replicates] * (len(entries) - len(counts))  # the grid's configurations

    configs = tuple(_config({**defaults, **entry}, limits, f"{where}{label} ") for label, entry in entries)
    name = sweep.get("name", Path(source).stem)
    return SweepSpec(
        name=str(name),
        configs=configs,
        seed=int(seed),
        replicates=int(replicates),
        counts=() if all(k == replicates for k in counts) else tuple(counts),
        dataset=sweep.get("dataset"),
        description=str(sweep.get("description", "")),
        source=source,
        raw=raw,
    )


def _only(table: object, allowed: tuple[str, ...], where: str, name: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}{name} must be a table, got {table!r}")
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}unknown key {key!r} in {name}; allowed keys: {', '.join(allowed)}")


def _config(d: dict, limits: dict, where: str) -> TrainConfig:
    """One configuration from merged keys, with sweep-file ranges checked key by key."""
    for key in ("activation", "encoding", "loss", "sampling", "labels"):
        if key in d and not isinstance(d[key], str):
            raise ConfigError(f'{where}{key} = {d[key]!r} must be a name in quotes, e.g. {key} = "..."')
    hidden = d.get("hidden", [17, 17])
    if (
        not isinstance(hidden, list)
        or not 1 <= len(hidden) <= MAX_LAYERS
        or not all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= MAX_UNITS for h in hidden)
    ):
        raise ConfigError(
            f"{where}hidden = {hidden!r} is out of range; allowed a list of 1..{MAX_LAYERS} widths, each 1..{MAX_UNITS}"
        )
    lr = d.get("lr", 4e-6)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr) or not 0 < lr <= MAX_LR:
        raise ConfigError(f"{where}lr = {lr!r} is out of range; allowed (0, {MAX_LR:g}]")
    dropout = d.get("dropout", 0.12)
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout < 1:
        raise ConfigError(f"{where}dropout = {dropout!r} is out of range; allowed [0, 1)")
    activation = d.get("activation", "relu")
    if activation not in ACTIVATIONS:
        raise ConfigError(
            f"{where}activation = {activation!r} is not allowed; choose one of {', '.join(sorted(ACTIVATIONS))}"
        )
    # loss, encoding, sampling and labels: TrainConfig and ModelConfig name a bad value and the choices (below)
    loss, encoding, sampling, labels = (
        d.get("loss", "mse_l2"),
        d.get("encoding", "raw"),
        d.get("sampling", "shuffle"),
        d.get("labels", "rule"),
    )
    for key in ("batch_size", "l2", "beta1", "beta2", "eps"):
        if key in d:
            check_range(key, d[key], where)
    if "batch_size" in d and not isinstance(d["batch_size"], int):
        raise ConfigError(
            f"{where}batch_size = {d['batch_size']!r} must be an integer in {describe_range('batch_size')}"
        )
    kwargs = {k: d[k] for k in ("batch_size", "l2", "beta1", "beta2", "eps") if k in d}
    try:
        return TrainConfig(
            model=ModelConfig(hidden=tuple(hidden), dropout=float(dropout), activation=activation, encoding=encoding),
            lr=float(lr),
            loss=loss,
            sampling=sampling,
            labels=labels,
            **kwargs,
            **limits,
        )
    except ConfigError as e:
        raise ConfigError(f"{where}{e}") from None


def run_sweep(
    spec: SweepSpec,
    data_dir: str | Path | None,
    out_dir: str | Path,
    *,
    on_epoch: EpochHook | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    group_size: int | None = None,
    threads: int | None = 1,
) -> SweepResult:
    """Train every model of ``spec`` on the dataset at ``data_dir`` into ``out_dir`` (resuming if it exists).

    With an ``executor`` from the caller (``distributed.executors``), the models are
    cut into groups of at most ``group_size`` that train as separate tasks
    (``train.groups``), in this process, in worker processes or on a Ray cluster;
    without one, all train here in one ``train_many`` call, unless the run was
    started in groups: it then resumes in the same groups, here one after another.
    ``threads`` is torch's thread count in each process that trains (``train_many``).
    ``on_epoch`` receives each model-epoch's row (``trainer.EpochHook``); ``progress``
    counts them, ``progress(done, total, note)``, of the model-epochs the sweep allows.
    """
    if data_dir is None:
        if spec.dataset is None:
            raise ConfigError(f"sweep {spec.name!r} names no dataset; pass --data DIR")
        data_dir = Path(spec.dataset)
        if not data_dir.is_absolute() and spec.source:
            data_dir = Path(spec.source).parent / data_dir
    dataset = load_dataset(data_dir, splits=("train", "val"))
    out_dir = Path(out_dir)
    models = spec.models()
    if progress is not None:  # the bar counts model-epochs; early stopping ends some models sooner
        total = sum(c.max_epochs for _, c in models)
        progress(0, total)
        on_epoch = chain(on_epoch, epoch_progress(progress, total))
    if executor is None and (run_info(out_dir) or {}).get("group_size") is not None:
        executor = LocalExecutor()
    if executor is None:
        results = train_many(
            [c for _, c in models],
            dataset,
            out_dir,
            model_ids=[mid for mid, _ in models],
            on_epoch=on_epoch,
            run_info={"sweep": spec.to_dict()},
            threads=threads,
        )
    else:
        results = train_distributed(
            executor,
            [c for _, c in models],
            [mid for mid, _ in models],
            dataset,
            out_dir,
            run_info={"sweep": spec.to_dict()},
            group_size=group_size,
            on_epoch=on_epoch,
            threads=threads,
        )
    summary = [
        {
            "model_id": r.model_id,
            "status": r.status,
            "reason": r.reason,
            "epochs": r.epochs,
            "best_epoch": r.best_epoch,
            "best_val_loss": r.best_val_loss if math.isfinite(r.best_val_loss) else None,
            "checkpoints": len(r.checkpoints),
        }
        for r in results
    ]
    record = SWEEP_SUMMARY.writing({"sweep": spec.name, "models": summary}, out_dir / SWEEP_SUMMARY.file)
    atomic.write_json(out_dir / SWEEP_SUMMARY.file, record)
    return SweepResult(run_dir=out_dir, results=results)
