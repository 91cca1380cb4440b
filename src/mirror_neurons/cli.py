"""The command line: one thin command per stage, each a call into the library.

Every command parses its options, calls one library function and writes under
``--out``, holding that folder's writer lock. Errors the user can fix
(``errors.MirrorNeuronsError``, a read-only or full disk, an option click
cannot parse) become one line on stderr and exit code 2; anything else is a
bug and keeps its traceback. Ctrl-C exits 130 with one line saying how to resume.

Results go to stdout; progress bars and log lines to stderr, through one rich
console, so a log line never cuts through a bar and piped output holds only the
results. Help is plain text (``rich_markup_mode=None``): it reads the same in a
terminal and in a pipe, and brackets such as ``mirror-neurons[ray]`` stay as written.
Options shared by several commands (``--workers``, ``--threads``, ``--seed``,
``--executor``...) are defined once below, with one meaning everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from rich.console import Console

from mirror_neurons import __version__, atomic
from mirror_neurons.errors import MirrorNeuronsError

console = Console()
err_console = Console(stderr=True)


class OneLineUsageErrors(typer.core.TyperGroup):
    """The top-level group: an option's value of the wrong type, an unknown option or command is one
    line and exit code 2, like every other user error (click would print the usage in a box)."""

    def invoke(self, ctx):
        usage_error = typer.BadParameter.__base__  # click's UsageError, as vendored by typer (no public name)
        try:
            return super().invoke(ctx)
        except usage_error as e:
            where = e.ctx.command_path if e.ctx is not None else "mirror-neurons"
            err_console.print(
                f"error: {e.format_message().rstrip('.')}; see `{where} --help`",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None


app = typer.Typer(
    name="mirror-neurons",
    help="Do cooperating neural networks grow mirror neurons? Frog and Toad, end to end.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=OneLineUsageErrors,
    rich_markup_mode=None,
)
log = logging.getLogger(__name__)

# --executor/--address/--group-size, shared by data, sweep, run and experiment theory (docs/ray.md)
EXECUTOR_HELP = (
    "local (this machine: in this process, or on --workers N processes), processes (= local with --workers) "
    "or ray (tasks on a Ray cluster; needs mirror-neurons[ray]; docs/ray.md)."
)
ADDRESS_HELP = (
    "With --executor ray: a cluster's HOST:PORT, ray://HOST:10001 or auto; default: start a local one for this run."
)
GROUP_SIZE_HELP = (
    "Models per training task (0 = one group per kind of stack on one worker, groups of ceil(models / workers) "
    "on several); a resumed run keeps its groups; with Ray, --out and --data on shared storage."
)
THREADS_HELP = "Torch threads per process (1: small models gain nothing from more, and a busy machine loses)."


def workers_option(what: str, note: str = "") -> typer.models.OptionInfo:
    """``--workers N``, the same on every command: N processes of this machine, 1 = this process, 0 = one per core."""
    return typer.Option(
        1, "--workers", min=0, help=f"Processes {what} on this machine (1: this process only; 0: one per core){note}."
    )


def threads_option() -> typer.models.OptionInfo:
    """``--threads N``, the same on every command that runs torch (``use_threads``)."""
    return typer.Option(1, "--threads", min=1, help=THREADS_HELP)


def executor_option(help: str = EXECUTOR_HELP) -> typer.models.OptionInfo:
    """``--executor NAME`` (default local); ``help`` for a command whose tasks are other units (theory's cells)."""
    return typer.Option("local", "--executor", help=help)


def address_option(help: str = ADDRESS_HELP) -> typer.models.OptionInfo:
    """``--address HOST:PORT`` of a Ray cluster, with ``--executor ray``; default none (start a local one)."""
    return typer.Option(None, "--address", help=help)


def group_size_option() -> typer.models.OptionInfo:
    """``--group-size N``: models per training task, the same on sweep and run."""
    return typer.Option(0, "--group-size", min=0, help=GROUP_SIZE_HELP)


def tensorboard_option(folder: str = "OUT/tensorboard") -> typer.models.OptionInfo:
    """``--tensorboard``: also log every model's curves for TensorBoard, under ``folder``."""
    return typer.Option(
        False,
        "--tensorboard",
        help=f"Also log every model's curves for TensorBoard under {folder} (needs the tensorboard package).",
    )


def seed_option(help: str) -> typer.models.OptionInfo:
    """``--seed N`` (default 0); ``help`` says what the command draws from it."""
    return typer.Option(0, "--seed", help=help)


def use_threads(threads: int) -> int:
    """Set torch's thread count in this process and return it, for the library calls that set it in theirs.

    More threads than free cores oversubscribe them: analysing 146 checkpoints took 8 min 44 s on
    torch's default threads and 54 s on one (issue 15), and training is alike (docs/training.md).
    """
    import torch

    torch.set_num_threads(threads)
    return threads


def resolve_workers(workers: int) -> int:
    """``--workers`` as a number of processes: 0 is one per core this process may use."""
    from mirror_neurons import limits

    return workers or limits.cores()


# file-system errors the user fixes (a read-only or full disk, a file where a folder goes), and the fix
USER_OS_ERRORS = {
    errno.ENOSPC: "free some space or choose another --out",
    errno.EDQUOT: "free some space or choose another --out",
    errno.EROFS: "choose an --out on a writable file system",
    errno.EACCES: "choose an --out you may write to",
    errno.EPERM: "choose an --out you may write to",
    errno.ENOTDIR: "a file stands where a folder is needed; choose another path",
    errno.EEXIST: "a file stands where a folder is needed; choose another path",
    errno.EISDIR: "a folder stands where a file is needed; choose another path",
}


INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""


@contextlib.contextmanager
def user_errors(resumable: bool = True) -> Iterator[None]:
    """Turn a ``MirrorNeuronsError`` or a file-system error in ``USER_OS_ERRORS`` into one line and exit code 2,
    and Ctrl-C into one line (how to resume, if ``resumable``) and exit code 130."""
    try:
        yield
    except KeyboardInterrupt:
        hint = "; run the same command again to resume" if resumable else ""
        err_console.print(f"interrupted{hint}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(INTERRUPTED) from None
    except MirrorNeuronsError as e:
        err_console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except OSError as e:
        if e.errno not in USER_OS_ERRORS:
            raise
        where = f"{e.filename}: " if e.filename else ""
        err_console.print(
            f"error: {where}{e.strerror}; {USER_OS_ERRORS[e.errno]}", markup=False, highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None


def command(*args, lock: Callable[[dict], Path | None] | None = None, **kwargs) -> Callable:
    """``app.command`` that turns user errors into one line and exit code 2 (``user_errors``).

    ``lock(options)`` names the folder the command writes: its writer lock
    (``atomic.folder_lock``) is held for the whole command, so a second writer is refused.
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with user_errors(resumable=lock is not None), warnings.catch_warnings():
                warnings.showwarning = one_line_warning
                folder = lock(k) if lock is not None else None
                with atomic.folder_lock(check_out(folder)) if folder is not None else contextlib.nullcontext():
                    return fn(*a, **k)

        return kwargs.pop("_app", app).command(*args, **kwargs)(wrapper)

    return decorate


class ConsoleLogHandler(logging.Handler):
    """Log records printed through ``err_console``: a live progress bar on that console is redrawn below them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            err_console.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging must never raise (logging.Handler's convention)
            self.handleError(record)


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library warning as one line on stderr, "warning: ...", without Python's file, line and source."""
    err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


def check_out(folder: Path, option: str = "--out") -> Path:
    """``folder`` if it can be a folder to write: ``ConfigError`` naming it if it, or a folder above it, is a file."""
    from mirror_neurons.errors import ConfigError

    for p in (folder, *folder.parents):
        if p.exists() and not p.is_dir():
            what = f"{option} {folder}" if p == folder else f"{option} {folder} lies under {p}, which"
            raise ConfigError(f"{what} is a file, not a folder; give a folder path for {option}")
    return folder


def _version(value: bool) -> None:
    if value:
        console.print(f"mirror-neurons {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    handler = ConsoleLogHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler]
    )  # no-op if logging is set up


# --- game: play -----------------------------------------------------------------


@command("play", short_help="Play Frog in the terminal against Toad.")
def play(
    seed: int = seed_option("Game seed (>= 0); the same seed and keys replay the same game."),
    turns: int = typer.Option(100, "--turns", help="Game length in turns (Frog's and Toad's both count)."),
    toad: str = typer.Option("random", "--toad", help="Toad's policy: 'random' (the published 50/25/12.5/12.5 %)."),
) -> None:
    """Play Frog in the terminal against Toad: h hop, j jump, l leap, p help, q quit."""
    from mirror_neurons import limits
    from mirror_neurons.game.play import play_in_terminal

    result = play_in_terminal(seed=limits.check_seed(seed), turns=turns, toad=toad)
    console.print(
        f"[bold]Frog {result.frog_score}[/bold] · Toad {result.toad_score} after {result.turns} turns"
        + (" (quit)" if result.quit else "")
    )


# --- data ----------------------------------------------------------------------

data_app = typer.Typer(
    help="Build a dataset of labeled game states, or describe one.", add_completion=False, rich_markup_mode=None
)
app.add_typer(data_app, name="data")


@data_app.callback(invoke_without_command=True)
def data_command(
    ctx: typer.Context,
    preset: str = typer.Option(
        "demo", "--preset", metavar="[demo|paper]", help="demo (300,000 states) or paper (6,000,000)."
    ),
    states: int | None = typer.Option(None, "--states", help="Unique labeled states (default: the preset's)."),
    seed: int = seed_option("Seed of the games, the preparation draws and the split."),
    workers: int = workers_option("playing games", "; the bytes do not depend on it"),
    dependency: float | None = typer.Option(
        None, "--dependency", help="Agent dependency D in 0..1 (default 1, the paper)."
    ),
    veil: float | None = typer.Option(None, "--veil", help="Veil of ignorance I in 0..1 (default 1, the paper)."),
    out: Path | None = typer.Option(None, "--out", help="Dataset folder to create.  [required]"),
    executor: str = executor_option(),
    address: str | None = address_option(),
) -> None:
    """Generate, prepare, label, de-duplicate and split game states into a dataset folder."""
    if ctx.invoked_subcommand is not None:
        return
    with user_errors():
        _build_data(preset, states, seed, workers, dependency, veil, out, executor, address)


def _build_data(preset, states, seed, workers, dependency, veil, out, executor="local", address=None) -> None:
    from rich.progress import Progress

    from mirror_neurons import limits
    from mirror_neurons.data.build import build_dataset, existing_dataset
    from mirror_neurons.data.config import DataConfig
    from mirror_neurons.data.dataset import read_manifest
    from mirror_neurons.distributed.executors import executor_or_none, local_path
    from mirror_neurons.errors import ConfigError

    if out is None:
        raise ConfigError("--out is required: the dataset folder to create, e.g. --out data/demo")
    check_out(out)
    limits.check_seed(seed)
    config = DataConfig.preset(preset, n_states=states, seed=seed, dependency=dependency, veil=veil)
    if existing_dataset(config, out):
        console.print(
            f"{out} already holds this dataset ({read_manifest(out)['dataset_hash'][:12]}); nothing rewritten"
        )
        return
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        tasks: dict[str, int] = {}

        def progress(done: int, total: int, note: str = "") -> None:  # one bar per step (generate, write)
            if note not in tasks:
                tasks[note] = bar.add_task(note, total=total)
            bar.update(tasks[note], completed=done, total=total)

        # --workers: the local stage's own processes, the processes executor's, or (ray) a floor on the chunks
        with executor_or_none(executor, address=address, workers=workers if executor == "processes" else None) as ex:
            chunks = resolve_workers(workers) if ex is None else max(workers, ex.parallelism)  # >= 1 per core
            build_dataset(config, local_path(out), progress, workers=chunks, executor=ex)
    console.print(dataset_summary(out, read_manifest(out)), markup=False, highlight=False, soft_wrap=True)


def dataset_summary(path: Path, manifest: dict) -> str:
    """One line for a written dataset: rows in all and per split, and its hash (``data describe`` has the rest)."""
    rows = manifest.get("rows") or {}
    splits = ", ".join(f"{name} {rows[name]:,}" for name in ("train", "val", "test") if name in rows)
    return f"wrote {path}: {sum(rows.values()):,} rows ({splits}), dataset {manifest['dataset_hash'][:12]}; see `mirror-neurons data describe {path}`"


@command("describe", _app=data_app, short_help="Print a dataset's manifest as tables.")
def data_describe(
    path: Path = typer.Argument(..., metavar="DATA_DIR", help="A dataset folder (from `mirror-neurons data`)."),
) -> None:
    """Print a dataset's manifest as tables: configuration, rows, label and scenario distributions."""
    from mirror_neurons.data.describe import manifest_tables

    for table in manifest_tables(path):
        console.print(table)


# --- train: train, sweep --------------------------------------------------------


def _train_callbacks(n_models: int, out: Path, tensorboard: bool):
    from mirror_neurons.train.progress import chain, sweep_progress, tensorboard_log

    board = tensorboard_log(out / "tensorboard") if tensorboard else None
    live = sweep_progress(n_models, console=err_console)
    return live, board, chain


def _check_train_sizes(widths: tuple[int, ...], lr: float) -> None:
    """The sweep file's caps on depth, width and learning rate, for ``train`` too (a 1e8-unit layer fills memory)."""
    from mirror_neurons.errors import ConfigError
    from mirror_neurons.train.sweep import MAX_LAYERS, MAX_LR, MAX_UNITS

    if not 1 <= len(widths) <= MAX_LAYERS or not all(1 <= h <= MAX_UNITS for h in widths):
        raise ConfigError(
            f"--hidden {','.join(map(str, widths))} is out of range: give 1..{MAX_LAYERS} widths, each 1..{MAX_UNITS}, such as 17,17"
        )
    if not lr <= MAX_LR:  # inf and nan too (TrainConfig refuses lr <= 0)
        raise ConfigError(f"lr = {lr!r} is out of range; allowed (0, {MAX_LR:g}], such as --lr 4e-6")


@command("train", lock=lambda o: o["out"], short_help="Train one model, with a checkpoint at every best epoch.")
def train_command(
    data: Path = typer.Option(..., "--data", help="Dataset folder (from `mirror-neurons data`)."),
    out: Path = typer.Option(..., "--out", help="Run folder; rerunning the same command resumes it."),
    hidden: str = typer.Option("17,17", help="Hidden layer widths, comma-separated (the paper: 1-3 layers of 5-50)."),
    dropout: float = typer.Option(0.12, help="Dropout after each hidden layer."),
    activation: str = typer.Option("relu", help="relu, tanh, sigmoid, gelu or elu."),
    encoding: str = typer.Option(
        "raw", "--encoding", help="Input encoding: raw (the paper's), onehot or recoded (docs/training.md)."
    ),
    lr: float = typer.Option(4e-6, help="Adam learning rate."),
    batch_size: int = typer.Option(25, help="Rows per step."),
    max_epochs: int = typer.Option(500, help="Epoch limit."),
    patience: int = typer.Option(10, help="Early-stopping patience in epochs."),
    loss: str = typer.Option("mse_l2", help="mse_l2 (the paper's), mse or cross_entropy."),
    l2: float = typer.Option(None, help="L2 coefficient on kernels (default 0.01 for mse_l2, else 0)."),
    sampling: str = typer.Option(
        "shuffle", "--sampling", help="shuffle (each epoch a permutation) or balanced (classes drawn equally often)."
    ),
    labels: str = typer.Option(
        "rule", "--labels", help="rule (the dataset's), or a training-level null: toad_blind or shuffled."
    ),
    seed: int = seed_option("Seed of the weights, shuffles and dropout masks."),
    epoch_rows: int = typer.Option(0, help="Training rows per epoch (0 = the whole split)."),
    tensorboard: bool = tensorboard_option(),
    workers: int = workers_option("training models", "; one model trains in one process"),
    threads: int = threads_option(),
) -> None:
    """Train one model, checkpointing every epoch whose validation loss is the best so far."""
    from mirror_neurons import limits
    from mirror_neurons.data.dataset import load_dataset
    from mirror_neurons.errors import ConfigError
    from mirror_neurons.train.config import TrainConfig
    from mirror_neurons.train.model import ModelConfig
    from mirror_neurons.train.trainer import train_many

    try:
        widths = tuple(int(h) for h in hidden.split(","))
    except ValueError:
        raise ConfigError(f"--hidden {hidden!r} must be comma-separated integers such as 17,17") from None
    _check_train_sizes(widths, lr)
    limits.check_seed(seed)
    config = TrainConfig(
        model=ModelConfig(hidden=widths, dropout=dropout, activation=activation, encoding=encoding),
        lr=lr, batch_size=batch_size, max_epochs=max_epochs, patience=patience,
        loss=loss, l2=l2, seed=seed, epoch_rows=epoch_rows, sampling=sampling, labels=labels,
    )  # fmt: skip
    dataset = load_dataset(data, splits=("train", "val"))
    live, board, chain = _train_callbacks(1, out, tensorboard)
    with live as show:
        (result,) = train_many([config], dataset, out, on_epoch=chain(show, board), threads=use_threads(threads))
    console.print(
        f"{result.model_id}: {result.status} after {result.epochs} epochs ({result.reason}); "
        f"best val loss {result.best_val_loss:.6f} at epoch {result.best_epoch}; "
        f"{len(result.checkpoints)} checkpoints in {out}"
    )


@command("sweep", lock=lambda o: o["out"], short_help="Train every model of a sweep at once; resumable.")
def sweep_command(
    spec: Path = typer.Argument(
        None, metavar="SWEEP_FILE", help="Sweep TOML file (docs/training.md); or --preset NAME."
    ),
    preset: str = typer.Option(
        None,
        "--preset",
        metavar="[paper|demo|competent|recipes]",
        help="A shipped sweep instead of a file: paper, demo, competent (the paper's architectures, trained to competence) or recipes (from the paper's recipe to the competent one).",
    ),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: the sweep file's dataset)."),
    out: Path = typer.Option(..., "--out", help="Run folder; rerunning the same command resumes it."),
    tensorboard: bool = tensorboard_option(),
    executor: str = executor_option(),
    address: str | None = address_option(),
    group_size: int = group_size_option(),
    workers: int = workers_option("training groups of models at once"),
    threads: int = threads_option(),
) -> None:
    """Train every model of a sweep at once; resumable after any interruption."""
    from mirror_neurons.distributed.executors import executor_or_none, local_path
    from mirror_neurons.errors import ConfigError
    from mirror_neurons.train.sweep import load_sweep, preset_path, run_sweep

    if (spec is None) == (preset is None):
        raise ConfigError("give either a sweep file (SWEEP_FILE) or --preset NAME, not both or neither")
    sweep = load_sweep(spec if spec is not None else preset_path(preset))  # a file is a Path: never taken for a preset
    threads = use_threads(threads)
    n_models = len(sweep.models())
    live, board, chain = _train_callbacks(n_models, out, tensorboard)
    with live as show:
        with executor_or_none(executor, address=address, workers=workers, group_size=group_size) as ex:
            result = run_sweep(
                sweep, data and local_path(data), local_path(out), on_epoch=chain(show, board),
                executor=ex, group_size=group_size or None, threads=threads,
            )  # fmt: skip
    counts: dict[str, int] = {}
    for r in result.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    best = min(result.results, key=lambda r: r.best_val_loss)
    console.print(
        f"sweep {sweep.name}: {n_models} models ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}), "
        f"{len(result.checkpoints)} checkpoints in {out}; best val loss {best.best_val_loss:.6f} ({best.model_id})"
    )


# --- analysis: analyze ----------------------------------------------------------


@command(
    "analyze",
    short_help="Analyse every checkpoint of a run: CMNI, classes, controls.",
    lock=lambda o: o["run_dir"] / "analysis" if o["run_dir"].is_dir() else None,
)
def analyze(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A run or sweep folder (the --out of train/sweep)."),
    data: Path | None = typer.Option(None, "--data", help="Dataset folder; default: the one the run recorded."),
    controls: bool = typer.Option(
        True, "--controls/--no-controls", help="Null distributions, bootstrap, decoding, ablations."
    ),
    allow_other_data: bool = typer.Option(
        False, "--allow-other-data", help="Warn instead of failing on a dataset hash mismatch."
    ),
    mixed_encodings: bool = typer.Option(
        False, "--mixed-encodings", help="Analyse checkpoints of several input encodings in one table."
    ),
    hidden_only: bool = typer.Option(
        False, "--hidden-only", help="CMNI over hidden units only (the paper counts outputs too)."
    ),
    unfiltered: bool = typer.Option(
        False, "--unfiltered", help="Scenario groups by code alone, without the published filters."
    ),
    paper_view: bool = typer.Option(
        False, "--paper-view", help="Raw group means, as the paper (default: composition-matched contrasts)."
    ),
    seed: int = seed_option("Root seed of the controls' random draws."),
    significance: bool = typer.Option(
        True, "--significance/--no-significance", help="Per-unit rank tests and unit classes."
    ),
    statistics: bool = typer.Option(
        True, "--statistics/--no-statistics", help="Skewness, kurtosis and KL per unit (off: means, variances)."
    ),
    games: int = typer.Option(
        256,
        "--games",
        min=1,
        help="Seeded games per policy in which the case checkpoint plays (the report's behaviour section).",
    ),
    turns: int = typer.Option(200, "--turns", min=2, help="Turns per behaviour game."),
    workers: int = workers_option("analysing checkpoints"),
    threads: int = threads_option(),
) -> None:
    """Analyse every checkpoint of a run: CMNI, unit statistics and classes, controls -> RUN_DIR/analysis/."""
    from rich.progress import Progress

    from mirror_neurons import limits, tables
    from mirror_neurons.analysis.paired import answer_summary
    from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_run, competence_summary, summary_table

    limits.check_seed(seed)
    # the behaviour games keep each game's board and a few bytes per Frog turn, one policy at a time
    limits.check_memory(
        games * (2048 + 16 * turns),
        f"--games {games:,} --turns {turns:,}",
        "use fewer --games or --turns (default 256 and 200)",
    )
    config = AnalysisConfig(
        controls=controls, significance=significance, statistics=statistics, hidden_only=hidden_only,
        filtered=not unfiltered, matched=not paper_view, seed=seed, behaviour_games=games, behaviour_turns=turns,
    )  # fmt: skip
    with Progress(
        console=err_console, transient=True, disable=not err_console.is_terminal
    ) as progress:  # no blank line in a log
        task = progress.add_task("analysing checkpoints", total=None)
        out = analyze_run(
            run_dir, data, config, allow_other_data=allow_other_data, mixed_encodings=mixed_encodings,
            workers=resolve_workers(workers), threads=use_threads(threads), progress=lambda done, n, _note: progress.update(task, completed=done, total=n),
        )  # fmt: skip
    console.print(summary_table(out))
    console.print(competence_summary(out))
    console.print(answer_summary(out), markup=False, highlight=False)
    console.print(
        f"wrote {out / tables.CHECKPOINTS.file}, {out / tables.UNITS.file}, {out / tables.BASELINES.file}, "
        f"{out / tables.PAIRED.file} and the case example ({out / tables.CASE.file})"
    )


# --- report: run, report --------------------------------------------------------


def _run_out(options: dict) -> Path:
    """``run``'s --out: as given, or runs/NAME for the study's name (read early, for the folder's writer lock)."""
    if options["out"] is not None:
        return options["out"]
    if options["config"] is None:
        return Path("runs") / (options["preset"] or "demo")
    from mirror_neurons.study import load_study

    return Path("runs") / load_study(options["config"]).name


@command("run", lock=_run_out, short_help="The whole study: data, sweep, analysis, report; resumable.")
def run(
    preset: str | None = typer.Option(
        None,
        "--preset",
        metavar="[demo|paper]",
        help="A shipped study: demo (the default; about 2 minutes on 2 idle cores) or paper (the paper's scale).",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        metavar="STUDY_FILE",
        help="A study file instead of a preset: data, sweep, analysis and seed in one TOML file (docs/study.md).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Study folder (default runs/NAME, NAME the study's); run again with the same --out to resume.",
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="One seed for the data, the sweep and the analysis (default: the study's own seeds)."
    ),
    tensorboard: bool = tensorboard_option("OUT/sweep/tensorboard"),
    executor: str = executor_option(),
    address: str | None = address_option(),
    group_size: int = group_size_option(),
    workers: int = workers_option("playing games and training groups of models"),
    threads: int = threads_option(),
) -> None:
    """The whole study in one command: data, sweep, analysis and the report, resumable."""
    from mirror_neurons import limits
    from mirror_neurons.distributed.executors import executor_or_none, local_path
    from mirror_neurons.errors import ConfigError
    from mirror_neurons.study import resolve_study, run_study

    if preset is not None and config is not None:
        raise ConfigError(f"give --preset {preset} or --config {config}, not both")
    study = resolve_study(
        config if config is not None else (preset or "demo"), seed=None if seed is None else limits.check_seed(seed)
    )
    out = out if out is not None else Path("runs") / study.name
    options = dict(console=err_console, threads=use_threads(threads), tensorboard=tensorboard)
    with executor_or_none(executor, address=address, workers=workers, group_size=group_size) as ex:
        # with an executor: data chunks and sweep groups as its tasks; analysis and report here
        report = run_study(study, local_path(out), executor=ex, group_size=group_size or None, **options)
    console.print(f"report: {report}", highlight=False, soft_wrap=True)


@command("report")
def report(
    run_dir: Path = typer.Argument(
        ..., metavar="RUN_DIR", help="A study folder (the --out of run) or an analysed sweep folder."
    ),
    data: Path | None = typer.Option(None, "--data", help="Dataset folder, for a sweep folder outside a study."),
    out: Path | None = typer.Option(None, "--out", help="HTML file to write; default RUN_DIR/report/report.html."),
    figures: Path | None = typer.Option(
        None,
        "--figures",
        help="Also write every figure (PNG at 200 dpi and SVG) into this folder; the report always writes them to its own figures/ folder.",
    ),
    theory: Path | None = typer.Option(
        None, "--theory", help="Also show a finished `experiment theory` folder as the last section."
    ),
    planted: Path | None = typer.Option(
        None, "--planted", help="Show a finished `experiment planted` folder (default: RUN_DIR/planted if it exists)."
    ),
    rl: Path | None = typer.Option(
        None, "--rl", help="Show a finished `experiment rl` folder (default: RUN_DIR/rl if it exists)."
    ),
    threads: int = threads_option(),
) -> None:
    """Render the report again from an existing, analysed run."""
    from mirror_neurons.errors import ConfigError
    from mirror_neurons.report.html import write_report

    use_threads(threads)

    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give the HTML file to write, e.g. --out {out / 'report.html'}")
    if out is not None:
        check_out(out.parent)
    if figures is not None:  # checked now: failing after the report was rewritten would leave half a result
        check_out(figures, "--figures")
    path = write_report(
        run_dir, out=out, data_dir=data, figures_dir=figures, theory_dir=theory, planted_dir=planted, rl_dir=rl
    )
    console.print(f"report: {path}", highlight=False, soft_wrap=True)


# --- experiments: experiment theory ----------------------------------------------

experiment_app = typer.Typer(
    help="Experiments across the whole pipeline (docs/theory.md).", add_completion=False, rich_markup_mode=None
)
app.add_typer(experiment_app, name="experiment")


@contextlib.contextmanager
def experiment_progress(name: str) -> Iterator[Callable[[int, int, str], None]]:
    """An experiment's ``progress(done, total, note)``: the study's bar for one stage (``study.StageProgress``)
    on stderr, and each note also as a line above it, so a pipe or a log file keeps every step it went through."""
    from rich.progress import Progress as Bar

    from mirror_neurons.study import StageProgress, stage_columns

    with Bar(*stage_columns(), console=err_console, transient=False) as bar:
        stage = StageProgress(bar, bar.add_task(name, total=None, status="starting"))

        def progress(done: int, total: int, note: str = "") -> None:
            if note:
                err_console.print(note, markup=False, highlight=False, soft_wrap=True)
            stage(done, total, note)

        yield progress


@command("theory", _app=experiment_app, lock=lambda o: o["out"])
def experiment_theory(
    preset: str = typer.Option(
        "demo",
        "--preset",
        metavar="[demo|full|tiny]",
        help="demo (2-core machine, about 30 min), full (a Ray cluster; see docs/theory.md) or tiny (a smoke test).",
    ),
    out: Path = typer.Option(..., "--out", help="Folder of the experiment; run the same command again to resume."),
    seed: int = seed_option("The one seed of every dataset, model and null."),
    executor: str = executor_option(
        "local (cells one after another here, or on --workers N processes) or ray (one task per cell on a Ray cluster)."
    ),
    address: str | None = address_option("Ray cluster address (with --executor ray); --out must be on shared storage."),
    workers: int = workers_option("running cells of the grid"),
    threads: int = threads_option(),
    round_: int = typer.Option(
        1,
        "--round",
        min=1,
        max=2,
        help="1: the first registration; 2: competent networks, each against its own initialisation (docs/theory.md).",
    ),
) -> None:
    """Test P ~ f(S/M, E) * g(D, I): grid, training, analysis, fit and pre-registered verdicts."""
    from mirror_neurons.distributed.executors import executor_or_none
    from mirror_neurons.experiments.theory import TheoryGrid, run_theory
    from mirror_neurons.experiments.theory.round2 import RoundTwoGrid, run_round_two, verdict_lines
    from mirror_neurons.report.html import write_theory_report

    from mirror_neurons import limits

    from rich.markdown import Markdown

    grid = (RoundTwoGrid if round_ == 2 else TheoryGrid).preset(preset, seed=limits.check_seed(seed))
    run = run_round_two if round_ == 2 else run_theory
    threads = use_threads(threads)
    err_console.print(
        f"theory round {round_} ({preset}): {len(grid.cells())} datasets, {grid.n_models} models -> {out}",
        highlight=False,
        soft_wrap=True,
    )
    with executor_or_none(executor, address=address, workers=workers) as ex, experiment_progress("theory") as say:
        summary = run(grid, out, progress=say, executor=ex, threads=threads)
    write_theory_report(out)
    if round_ == 2:
        console.print("\n".join(verdict_lines(summary)), markup=False, highlight=False, soft_wrap=True)
    for definition, d in summary.get("definitions", {}).items():
        console.print(Markdown(d["statement"]))  # the statements are markdown (results.md): rendered, not raw
    console.print(f"results: {out / 'results.md'}  report: {out / 'report.html'}", highlight=False, soft_wrap=True)


@command("planted", _app=experiment_app, lock=lambda o: o["out"])
def experiment_planted(
    source: Path = typer.Argument(
        ..., metavar="RUN_DIR", help="A finished study folder (the --out of run) or an analysed sweep folder."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Folder for units.parquet, analyses.parquet and summary.json (rewritten on each run)."
    ),
    preset: str = typer.Option(
        "demo",
        "--preset",
        metavar="[demo|quick]",
        help="demo (the full grid, population grid included) or quick (2 reps, no population grid).",
    ),
    reps: int | None = typer.Option(None, "--reps", min=1, help="Replicates per model (default: the preset's)."),
    models: int = typer.Option(0, "--models", min=0, help="Competent models to plant into (0 = all)."),
    seed: int = seed_option("The one seed of every planted unit."),
    paper_view: bool = typer.Option(
        False, "--paper-view", help="Raw group means as the paper (default: the study's setting, composition-matched)."
    ),
    threads: int = threads_option(),
) -> None:
    """What the measures can see: plant mirror units and decoys into competent networks (docs/analysis.md)."""
    from mirror_neurons import limits, tables
    from mirror_neurons.experiments.planted import PlantedGrid, run_planted

    use_threads(threads)
    grid = PlantedGrid.preset(
        preset, seed=limits.check_seed(seed), max_models=models, **({"reps": reps} if reps else {})
    )
    with experiment_progress("planted") as say:
        summary = run_planted(source, out, grid, matched=False if paper_view else None, progress=say)
    smallest = summary["smallest_detected"].get("class=mirror")
    console.print(
        f"{summary['n_plants']} planted units in {len(summary['models'])} models ({summary['seconds']:.0f} s); class=mirror "
        f"calls >= 80 % of mirror plants from d = {smallest if smallest is not None else 'never'}; summary: {out / tables.PLANTED_SUMMARY.file}",
        highlight=False, soft_wrap=True,
    )  # fmt: skip


@command("rl", _app=experiment_app, lock=lambda o: o["out"])
def experiment_rl(
    preset: str = typer.Option(
        "demo",
        "--preset",
        metavar="[demo|full]",
        help="demo (2 cores, <= 15 min) or full (more steps, D 0/0.5/1, 12 seeds).",
    ),
    out: Path = typer.Option(..., "--out", help="Folder of the experiment; run the same command again to resume."),
    rewards: str | None = typer.Option(
        None,
        "--rewards",
        help="Reward settings to compare, comma-separated (score, team, selfish, shared); default: the preset's.",
    ),
    partner: str | None = typer.Option(
        None,
        "--partner",
        help="Toad: a scripted policy (random, rule, hop, selfish, forager, helper, carer), self, or network.",
    ),
    partner_checkpoint: Path | None = typer.Option(
        None, "--partner-checkpoint", help="The frozen network's checkpoint JSON (with --partner network)."
    ),
    seeds: int | None = typer.Option(
        None, "--seeds", min=1, help="PPO seeds per cell (default: the preset's; the paired test needs 10)."
    ),
    workers: int = workers_option("training agents"),
    threads: int = threads_option(),
) -> None:
    """Agents that learn by reward (docs/rl.md): does a shared reward make them help, and grow mirror units?"""
    from mirror_neurons import tables
    from mirror_neurons.experiments.rl import RLGrid, run_rl

    use_threads(threads)
    overrides: dict = {"workers": resolve_workers(workers)}
    if rewards is not None:
        overrides["rewards"] = tuple(r.strip() for r in rewards.split(","))
    if partner is not None:
        overrides["partner"] = partner
    if partner_checkpoint is not None:
        overrides["partner_checkpoint"] = str(partner_checkpoint)
    if seeds is not None:
        overrides["seeds"] = seeds
    grid = RLGrid.preset(preset, **overrides)
    err_console.print(
        f"rl ({preset}): {len(grid.agent_configs())} agents ({len(grid.rewards)} rewards x {len(grid.dependencies)} D x {grid.seeds} seeds) -> {out}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    with experiment_progress("rl") as say:
        summary = run_rl(grid, out, progress=say)
    for cell, beats in summary["agents_beat_random_score_per_turn"].items():
        c = summary["cells"][cell]
        console.print(f"{cell}: score/turn {c['score_per_turn']['mean']:.3f}, help when only Toad is in distress "
                      f"{c['help_rate_partner_distress']['mean']:.3f}, mirror change {c['mirror_change']['mean']:+.4f}"
                      f"{'' if beats else ' (does not beat random play)'}", highlight=False, soft_wrap=True)  # fmt: skip
    console.print(f"summary: {out / tables.RL_SUMMARY.file}", highlight=False, soft_wrap=True)
