"""CLI sizes that cannot fit, and train's caps shared with sweep files (issue 14, items 5 and minor)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mirror_neurons.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--hidden", "100000000"], "--hidden 100000000 is out of range: give 1..16 widths, each 1..4096"),
        (["--hidden", ",".join(["4"] * 17)], "is out of range: give 1..16 widths"),
        (["--hidden", "0"], "--hidden 0 is out of range"),
        (["--lr", "inf"], "lr = inf is out of range; allowed (0, 1]"),
        (["--lr", "nan"], "lr = nan is out of range"),
        (["--lr", "2"], "lr = 2.0 is out of range"),
    ],
)
def test_train_refuses_sizes_and_rates_that_sweeps_cap(tmp_path, options, message):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "nodata"), "--out", str(out), *options])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert message in result.stderr and not out.exists()


def test_analyze_refuses_behaviour_games_that_cannot_fit(tmp_path):
    result = runner.invoke(app, ["analyze", str(tmp_path), "--games", "100000000", "--turns", "100000000"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert "--games 100,000,000 --turns 100,000,000 needs about" in result.stderr and "of memory" in result.stderr


def test_library_warnings_print_as_one_line_without_source():
    """A warning raised inside a command reads 'warning: ...' on stderr: no file name, line number or source line."""
    import typer
    import warnings as w

    from mirror_neurons.cli import command

    app_ = typer.Typer()

    @command("warn", _app=app_)
    def warn_command() -> None:
        w.warn("composition matching: 2 strata hold fewer than 20 states", UserWarning)

    @app_.command("other")
    def other() -> None:  # a second command, so that typer keeps the subcommand name
        pass

    result = CliRunner().invoke(app_, ["warn"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == ["warning: composition matching: 2 strata hold fewer than 20 states"]
