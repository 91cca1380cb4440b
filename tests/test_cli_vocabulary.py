"""One vocabulary of options across the commands, help that reads in a pipe, output at 80 columns (issue 15, items 1, 3, 5, 6).

The expectations come from the issue, not from the code: every command that
runs torch takes ``--threads``; ``--workers`` means the same everywhere
(1 = this process, 0 = one per core); help shows no ``<bool>`` on flags and
prints ``mirror-neurons[ray]`` as written; a progress line fits 80 columns.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mirror_neurons.cli import app

runner = CliRunner()

TORCH_COMMANDS = [
    ["train"],
    ["sweep"],
    ["analyze"],
    ["run"],
    ["report"],
    ["experiment", "theory"],
    ["experiment", "planted"],
]
WORKER_COMMANDS = [["data"], ["train"], ["sweep"], ["analyze"], ["run"], ["experiment", "theory"]]
ALL_COMMANDS = [["play"], ["data", "describe"], *TORCH_COMMANDS, ["data"]]
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def help_text(command: list[str]) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(autouse=True)
def keep_threads():
    """Commands set torch's thread count for their process; give the test process its own back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def option_help(text: str, option: str) -> str:
    """The help of one option: from its name to the next option's line."""
    match = re.search(rf"^  {re.escape(option)}\b(.*?)(?=^  -|\Z)", text, flags=re.S | re.M)
    assert match, f"{option} missing from\n{text}"
    return " ".join(match.group(1).split())


@pytest.mark.parametrize("command", TORCH_COMMANDS, ids=" ".join)
def test_every_command_that_runs_torch_takes_threads(command):
    assert "[default: 1; x>=1]" in option_help(help_text(command), "--threads")


@pytest.mark.parametrize("command", WORKER_COMMANDS, ids=" ".join)
def test_workers_means_the_same_everywhere(command):
    text = option_help(help_text(command), "--workers")
    assert "(1: this process only; 0: one per core)" in text and "[default: 1; x>=0]" in text


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=" ".join)
def test_help_has_no_bool_metavar_and_fits_80_columns(command):
    text = help_text(command)
    assert "<bool>" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize("command", [["data"], ["sweep"], ["run"]], ids=" ".join)
def test_brackets_in_help_are_printed_as_written(command):
    assert "mirror-neurons[ray]" in " ".join(help_text(command).split()).replace("mirror- neurons", "mirror-neurons")


def test_presets_list_their_choices_and_required_options_are_marked():
    shipped = {p.stem for p in (Path(__file__).parents[1] / "src" / "mirror_neurons" / "studies").glob("*.toml")}
    assert shipped == {"demo", "paper"} and "--preset [demo|paper]" in help_text(["run"])
    sweep_presets = sorted(
        p.stem for p in (Path(__file__).parents[1] / "src" / "mirror_neurons" / "train" / "presets").glob("*.toml")
    )
    assert sorted(re.search(r"--preset \[([a-z|]+)\]", help_text(["sweep"])).group(1).split("|")) == sweep_presets
    for command in (["train"], ["sweep"], ["experiment", "theory"], ["experiment", "planted"], ["data"]):
        assert "[required]" in option_help(help_text(command), "--out"), command


def test_positional_arguments_are_spelled_one_way():
    names = set()
    for command in ALL_COMMANDS:
        section = help_text(command).partition("Arguments:")[2].partition("Options:")[0]
        names |= set(re.findall(r"^  (\S+)", section, flags=re.M))
    assert names == {"RUN_DIR", "DATA_DIR", "SWEEP_FILE"}


def test_run_takes_seed_tensorboard_and_a_study_file():
    text = help_text(["run"])
    for option in ("--seed", "--tensorboard", "--config", "--workers", "--threads"):
        assert f"  {option} " in text, option


# --- item 3: presets and paths never collide -----------------------------------------------------


def write_tiny_dataset(path: Path) -> Path:
    """600/200/100 rows of game-like codes; the label is which of inputs 0..3 is largest (learnable)."""
    from mirror_neurons.data.dataset import Split, write_dataset

    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        x = rng.integers(0, 10, size=(n, 100), dtype=np.uint8)
        x[:, 98] = 0
        return Split(
            x=x,
            label=np.argmax(x[:, :4], axis=1).astype(np.uint8),
            scenario=rng.integers(0, 4, n, dtype=np.uint8),
            frog_pos=rng.integers(0, 32, n, dtype=np.uint8),
        )

    write_dataset(path, {"train": split(600), "val": split(200), "test": split(100)}, {"source": "tests synthetic"})
    return path


def test_a_folder_named_like_a_preset_changes_nothing(tmp_path, monkeypatch):
    from mirror_neurons.study import resolve_study
    from mirror_neurons.train.sweep import load_sweep

    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()  # as `run --out demo` leaves it
    assert load_sweep("demo").name == "demo" and resolve_study("demo").name == "demo"
    dataset = write_tiny_dataset(tmp_path / "data")
    result = runner.invoke(app, ["run", "--preset", "demo", "--out", str(dataset)])
    # the preset was found; what stops the run is the --out check, not "sweep file demo does not exist"
    assert result.exit_code == 2 and "is a dataset folder" in result.stderr, result.output


def test_a_sweep_file_is_never_taken_for_a_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sweep", "demo", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "sweep file demo does not exist" in result.stderr, result.output


# --- item 1: --threads reaches training -----------------------------------------------------------


def test_train_and_sweep_train_with_the_threads_asked_for(tmp_path, monkeypatch):
    import mirror_neurons.train.trainer as trainer

    seen = []
    original = trainer._train_group

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())  # inside the trainer's thread setting
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer, "_train_group", spy)
    data = write_tiny_dataset(tmp_path / "data")
    common = ["--data", str(data), "--threads", "2"]
    result = runner.invoke(
        app, ["train", *common, "--out", str(tmp_path / "one"), "--max-epochs", "1", "--hidden", "4"]
    )
    assert result.exit_code == 0, result.output
    (tmp_path / "s.toml").write_text("[limits]\nmax_epochs = 1\n[[configs]]\nhidden = [4]\nlr = 1e-3\n")
    result = runner.invoke(app, ["sweep", str(tmp_path / "s.toml"), *common, "--out", str(tmp_path / "many")])
    assert result.exit_code == 0, result.output
    assert seen == [2, 2]


# --- item 5: output at 80 columns and in a pipe -----------------------------------------------


def test_the_training_line_fits_80_columns_with_its_bar_and_losses():
    from rich.console import Console

    from mirror_neurons.train.progress import sweep_progress

    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=True, color_system=None)
    with sweep_progress(100, console=console) as update:  # a wide case: 3-digit counts, a loss above 10
        for i in range(30):
            update(
                {
                    "model_id": f"c{i:03d}r0_h17-17",
                    "status": "running",
                    "epoch": 500,
                    "val_loss": 12.345678,
                    "best_val_loss": 0.51234,
                }
            )
        for i in range(20):
            update(
                {
                    "model_id": f"c{i:03d}r0_h17-17",
                    "status": "stopped",
                    "epoch": 500,
                    "val_loss": 12.345678,
                    "best_val_loss": 0.51234,
                }
            )
    lines = [line for line in re.split(r"[\r\n]", ANSI.sub("", buffer.getvalue())) if line.strip()]
    last = lines[-1]
    assert len(last) <= 80 and "━" in last and "20/100" in last
    assert "val 12.3457" in last and "best 0.5123" in last and "10 running" in last


def test_log_lines_go_through_the_progress_console(monkeypatch):
    """A record logged while a bar is live prints whole, on its own line, through the console that draws the bar."""
    from rich.console import Console
    from rich.progress import Progress

    import mirror_neurons.cli as cli

    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=True, color_system=None)
    monkeypatch.setattr(cli, "err_console", console)
    handler = cli.ConsoleLogHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("mirror_neurons.test_vocabulary")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with Progress(console=console, transient=False) as bar:
            task = bar.add_task("stage", total=10)
            bar.update(task, completed=3)
            logger.warning("test set reduced from 500 to 220 rows")
            bar.update(task, completed=10)
    finally:
        logger.removeHandler(handler)
    lines = re.split(r"[\r\n]", ANSI.sub("", buffer.getvalue()))
    assert "WARNING mirror_neurons.test_vocabulary: test set reduced from 500 to 220 rows" in [
        line.strip() for line in lines
    ]


def test_data_prints_a_summary_not_a_dict(tmp_path):
    out = tmp_path / "d"
    result = runner.invoke(app, ["data", "--states", "3000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        rf"wrote {re.escape(str(out))}: 3,000 rows \(train ([\d,]+), val ([\d,]+), test ([\d,]+)\), "
        rf"dataset [0-9a-f]{{12}}; see `mirror-neurons data describe {re.escape(str(out))}`",
        line,
    )
    assert match, line
    assert sum(int(n.replace(",", "")) for n in match.groups()) == 3000  # --states 3000 unique rows in all


def test_theory_prints_its_verdicts_as_text_not_markdown(tmp_path, monkeypatch):
    import mirror_neurons.experiments.theory as theory
    import mirror_neurons.report.html as html

    statement = "P rises with S/M: **cannot decide** (slope 0.1, *p* = 0.3)"
    calls = []

    def run_theory(grid, out, **options):
        calls.append(options)
        return {"definitions": {"strict": {"statement": statement}}}

    monkeypatch.setattr(theory, "run_theory", run_theory)
    monkeypatch.setattr(html, "write_theory_report", lambda out: None)
    result = runner.invoke(
        app, ["experiment", "theory", "--preset", "tiny", "--out", str(tmp_path / "t"), "--threads", "2"]
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["threads"] == 2
    assert "P rises with S/M: cannot decide (slope 0.1, p = 0.3)" in result.stdout and "*" not in result.stdout


def test_ctrl_c_exits_130_saying_how_to_resume(tmp_path, monkeypatch):
    import mirror_neurons.study as study

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "run_study", interrupted)
    result = runner.invoke(app, ["run", "--out", str(tmp_path / "s")])
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == ["interrupted; run the same command again to resume"]
