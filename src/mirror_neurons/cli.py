"""The command line: one thin command per stage, each a call into the library.

Every command parses its options, calls one library function and writes under
``--out``. Errors the user can fix (``errors.MirrorNeuronsError``) become one
line on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import typer
from rich.console import Console

from mirror_neurons import __version__
from mirror_neurons.errors import MirrorNeuronsError

app = typer.Typer(
    name="mirror-neurons",
    help="Do cooperating neural networks grow mirror neurons? Frog and Toad, end to end.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)
log = logging.getLogger(__name__)


def command(*args, **kwargs) -> Callable:
    """``app.command`` that turns a ``MirrorNeuronsError`` into one line and exit code 2."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a, **k):
            try:
                return fn(*a, **k)
            except MirrorNeuronsError as e:
                err_console.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
                raise typer.Exit(2) from None

        return kwargs.pop("_app", app).command(*args, **kwargs)(wrapper)

    return decorate


def _version(value: bool) -> None:
    if value:
        console.print(f"mirror-neurons {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


# --- game: play, (run until the later stages exist) ---------------------------


@command("play")
def play(
    seed: int = typer.Option(0, "--seed", help="Game seed (>= 0); the same seed and keys replay the same game."),
    turns: int = typer.Option(100, "--turns", help="Game length in turns (Frog's and Toad's both count)."),
    toad: str = typer.Option("random", "--toad", help="Toad's policy: 'random' (the published 50/25/12.5/12.5 %)."),
) -> None:
    """Play Frog in the terminal against Toad: h hop, j jump, l leap, p help, q quit."""
    from mirror_neurons.game.play import play_in_terminal

    result = play_in_terminal(seed=seed, turns=turns, toad=toad)
    console.print(
        f"[bold]Frog {result.frog_score}[/bold] · Toad {result.toad_score} after {result.turns} turns"
        + (" (quit)" if result.quit else "")
    )


# --- data ----------------------------------------------------------------------

# --- train: train, sweep --------------------------------------------------------

# --- analysis: analyze ----------------------------------------------------------

# --- report: run, report --------------------------------------------------------

# --- experiments: experiment theory ----------------------------------------------
