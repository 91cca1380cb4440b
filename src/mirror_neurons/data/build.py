"""The data stage end to end: ``build_dataset(config, out)`` writes one dataset folder.

generate (distinct boards in game order) -> prepare (energy and flies draws)
-> label -> split -> write. Re-running with the same config on the same folder
finds the dataset already there and rewrites nothing; a folder holding any
other dataset is an error, and is never touched.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np

from mirror_neurons import atomic, limits
from mirror_neurons.data.config import TEST_LABEL_SHARES, DataConfig
from mirror_neurons.data.dataset import MANIFEST, Split, read_manifest, verify_files, write_dataset
from mirror_neurons.data.generate import collect_boards
from mirror_neurons.data.prepare import ENERGY_PROBS, ENERGY_VALUES, FLY_PATTERNS, label_states, prepare
from mirror_neurons.data.split import fit_test_size, present_shares, split_rows
from mirror_neurons.errors import DataError
from mirror_neurons.progress import Progress

log = logging.getLogger(__name__)


def existing_dataset(config: DataConfig, out: str | Path) -> bool:
    """True if ``out`` already holds this config's dataset, intact; False if ``out`` does not exist.

    Raises ``DataError`` if ``out`` holds anything else (another dataset, a
    damaged one, or a folder that is not a dataset).
    """
    out = Path(out)
    if not out.exists():
        return False
    if not (out / MANIFEST).is_file():
        raise DataError(
            f"{out} already exists and is not a dataset folder (no {MANIFEST}); choose another --out or remove it"
        )
    manifest = read_manifest(out)
    theirs, ours = manifest.get("config"), config.to_dict()
    if theirs != ours:
        differ = sorted(k for k in ours if not isinstance(theirs, dict) or theirs.get(k) != ours[k])
        raise DataError(
            f"{out} already holds a different dataset (differs in {', '.join(differ) or 'format'}); "
            f"choose another --out or remove that folder"
        )
    try:
        verify_files(out, manifest)
    except DataError as e:
        raise DataError(f"{out} holds this dataset but it is damaged: {e}; remove {out} and rerun") from None
    return True


MEMORY_PER_STATE = 400
"""Peak bytes of memory per state while building (measured: about 330 at 100,000 states)."""
DISK_PER_STATE = 16
"""Bytes on disk per state, compressed (measured: about 11)."""


def check_fits(config: DataConfig, out: Path) -> None:
    """Raise ``ConfigError`` if ``config``'s dataset cannot fit in memory or on the disk at ``out``."""
    n = config.n_states
    limits.check_memory(MEMORY_PER_STATE * n, f"--states {n:,}", "ask for fewer --states")
    limits.check_disk(
        out.parent, DISK_PER_STATE * n + (1 << 20), f"--states {n:,}", "free some space or choose another --out"
    )


def build_rows(
    config: DataConfig, *, workers: int = 1, batch_games: int = 8192, progress: Progress | None = None, executor=None
):
    """All ``config.n_states`` prepared, labeled, unique rows in generation order, and generation stats."""
    boards, stats = collect_boards(
        config, workers=workers, batch_games=batch_games, progress=progress, executor=executor
    )
    x, frog_pos = prepare(boards.keys, boards.game, boards.turn, config.seed)
    label, scenario = label_states(x, frog_pos)
    return Split(x=x, label=label, scenario=scenario, frog_pos=frog_pos), stats


def build_dataset(
    config: DataConfig,
    out: str | Path,
    progress: Progress | None = None,
    *,
    workers: int = 1,
    batch_games: int = 8192,
    executor=None,
) -> Path:
    """Generate, prepare, label, split and write ``config``'s dataset to the new folder ``out``.

    ``workers`` (processes) and ``batch_games`` (games per engine batch) change
    only the speed: the files are byte-identical for any values. An
    ``executor`` (``mirror_neurons.distributed``, e.g. Ray) plays the chunks of
    games as its tasks; the files are the same bytes again.
    """
    out = Path(out)
    with atomic.folder_lock(out):  # one writer per folder; released if this process dies
        for stale in out.parent.glob(f".{out.name}.*.partial"):  # left by a killed run: no writer holds it now
            shutil.rmtree(stale, ignore_errors=True)
        return _build_dataset(config, out, progress, workers=workers, batch_games=batch_games, executor=executor)


def _build_dataset(
    config: DataConfig, out: Path, progress: Progress | None, *, workers: int, batch_games: int, executor
) -> Path:
    if existing_dataset(config, out):
        log.info("%s already holds this dataset; nothing to do", out)
        return out
    check_fits(config, out)
    if executor is None and workers > limits.cores():  # more processes than cores only take turns (15x slower at 1000)
        log.info("%d workers asked, %d cores: using %d", workers, limits.cores(), limits.cores())
        workers = limits.cores()
    start = time.perf_counter()
    rows, stats = build_rows(config, workers=workers, batch_games=batch_games, progress=progress, executor=executor)
    shares = present_shares(rows.label)
    if shares != TEST_LABEL_SHARES:
        log.warning("some labels never occur with this config; test label shares %s", shares)
    test_size = config.resolved_test_size
    if config.test_size is None:  # scaled automatically: shrink it if a label is too rare to fill its quota
        test_size = fit_test_size(rows.label, test_size, shares)
        if test_size < config.resolved_test_size:
            log.warning(
                "test set reduced from %d to %d rows: too few rare-label rows", config.resolved_test_size, test_size
            )
    splits = split_rows(rows, test_size, config.val_fraction, config.seed, shares)
    if progress is not None:
        progress(0, 1, "write")
    info = {
        "config": config.to_dict(),
        "seed": config.seed,
        "test_size": {"planned": config.resolved_test_size, "used": test_size},
        "generation": stats,
        "natural_distribution": rows.distributions(),
        "test_label_shares": dict(zip(("hop", "jump", "leap", "help"), shares, strict=True)),
        "preparation": {
            "energy_values": ENERGY_VALUES.tolist(),
            "energy_probs": np.round(ENERGY_PROBS, 6).tolist(),
            "fly_patterns": [list(p) for p in FLY_PATTERNS],
            "dedup_key": "ground and players rows (before the energy and flies draws)",
        },
    }
    write_dataset(out, splits, info)
    if progress is not None:
        progress(1, 1, "write")
    log.info("wrote %s (%d rows) in %.1f s", out, len(rows), time.perf_counter() - start)
    return out
