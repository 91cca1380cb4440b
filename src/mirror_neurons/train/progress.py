"""Watching a sweep: a rich progress display, an optional TensorBoard log, and the epochs as ``progress``.

The display and the log are ``on_epoch`` hooks (``trainer.EpochHook``, see
``trainer.train_many``): they receive one row per model-epoch and never
influence training. ``epoch_progress`` turns those rows into the package's one
progress signature, ``progress(done, total, note)`` (``mirror_neurons.progress``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from mirror_neurons.errors import OptionalDependencyError
from mirror_neurons.progress import Progress


@contextlib.contextmanager
def sweep_progress(n_models: int, console: Console | None = None) -> Iterator[Callable[[dict], None]]:
    """A live display in at most 80 columns: models finished of n, models running, the last epoch's
    validation loss and the best so far, elapsed time. For example::

        models ━━━━━━━━━━   3/33 30 running, epoch 12, val 0.5321, best 0.5123 0:01:02
    """
    best: dict[str, float] = {}
    finished: set[str] = set()
    seen: set[str] = set()
    columns = (
        TextColumn("[bold]models"),
        BarColumn(bar_width=10),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    console = console or Console()
    # drawn in a terminal only: in a pipe or a log file, a bar's frames are noise (the command prints its result)
    with RichProgress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        task = bar.add_task("sweep", total=n_models, detail="starting")

        def update(event: dict) -> None:
            mid = event["model_id"]
            seen.add(mid)
            if math.isfinite(event.get("best_val_loss", math.inf)):
                best[mid] = event["best_val_loss"]
            if event["status"] != "running":
                finished.add(mid)
            top = min(best.values(), default=math.nan)
            detail = (
                f"{len(seen - finished)} running, epoch {event['epoch']}, val {event['val_loss']:.4f}, best {top:.4f}"
            )
            bar.update(task, completed=len(finished), detail=detail)

        yield update


def tensorboard_log(log_dir: str | Path) -> Callable[[dict], None]:
    """One TensorBoard run per model with every epoch's losses; needs the optional tensorboard package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise OptionalDependencyError("--tensorboard needs the tensorboard package: pip install tensorboard") from e
    writers: dict[str, SummaryWriter] = {}

    def log(event: dict) -> None:
        mid = event["model_id"]
        if mid not in writers:
            writers[mid] = SummaryWriter(str(Path(log_dir) / mid))
        w = writers[mid]
        for key in ("train_loss", "val_loss", "val_mse", "val_accuracy"):
            w.add_scalar(key, event[key], global_step=event["steps"])
        w.flush()

    return log


def chain(*callbacks: Callable[[dict], None] | None) -> Callable[[dict], None]:
    live = [c for c in callbacks if c is not None]

    def call(event: dict) -> None:
        for c in live:
            c(event)

    return call


def epoch_progress(progress: Progress, total: int) -> Callable[[dict], None]:
    """An ``on_epoch`` hook that calls ``progress(epochs seen, total, note)``, one epoch at a time.

    ``total`` is the sweep's model-epochs if no model stops early; the note names the
    model by its short id (``c000r0``), its epoch and its best validation loss so far.
    """
    seen = 0

    def on_epoch(row: dict) -> None:
        nonlocal seen
        seen += 1
        loss = row.get("best_val_loss")
        note = f"{str(row.get('model_id', '')).split('_')[0][:12]} epoch {row.get('epoch', '?')}" + (
            f" best {loss:.4f}" if isinstance(loss, float) and math.isfinite(loss) else ""
        )
        progress(seen, total, note)

    return on_epoch
