"""``mirror-neurons play``: a person plays Frog in the terminal against a policy-driven Toad.

One key per action (``constants.ACTION_KEYS``: h hop, j jump, l leap, p help;
q quits). When stdin is a terminal, keys need no Enter (cbreak mode, restored
on exit) and Ctrl-C or Ctrl-D quit like ``q``; when it is a pipe or file, keys
are read line by line, every non-blank character being one key. The screen is
redrawn before each of Frog's turns, with a legend line under the board;
until Frog's first move ``INTRO`` above it explains the game. A column both
players share shows ``&`` (``render(show_both=True)``), so Frog never
disappears under Toad; the state vector keeps SPEC's rule (Toad shown).
``play`` takes its keys and output as arguments, so it runs the same way in a
test as in a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from mirror_neurons.errors import ConfigError
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import ACTION_KEYS, Action, Player
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions
from mirror_neurons.game.render import render

QUIT_KEY = "q"
CTRL_C, CTRL_D = "\x03", "\x04"
"""On a terminal these arrive as keys (signals are off while playing) and quit like ``q``."""
HELP_LINE = "keys: " + "  ".join(f"{k} {a.name.lower()}" for k, a in ACTION_KEYS.items()) + f"  {QUIT_KEY} quit"
CLEAR_SCREEN = "\x1b[H\x1b[2J"

ACTION_HELP = {
    Action.HOP: "1 column right, 1 point; needs energy above 0",
    Action.JUMP: "catch a fly (.) in your own column: +4 energy, even at 0",
    Action.LEAP: "5 columns right for 1 energy (no point)",
    Action.HELP: "Toad +2 energy for 1 of yours; 1 time in 4 Toad leaps",
}
"""What each key does, in a line (SPEC section 2's action table, for a player)."""
INTRO = "\n".join(
    [
        "Frog and Toad. You are Frog (f); Toad (t) is played by the computer.",
        "Run right together: every hop that moves you scores 1 point.",
        *(f"  {key} {action.name.lower():<5} {ACTION_HELP[action]}" for key, action in ACTION_KEYS.items()),
        "Energy runs 0..20 (you start at 20). At 0 you cannot move until you catch",
        "a fly or Toad helps you. Rough ground (^) hurts: landing on it costs 1",
        "energy, and whoever stands on it is in distress (X). The world scrolls to",
        "keep you two centred: if Toad is stuck, you soon reach the right edge.",
    ]
)
"""Shown above the board until Frog's first move: the goal, the keys, energy, rough ground, flies, help."""
LEGEND = "f Frog  t Toad  & both  X distress  J L H Toad's last jump, leap, help  . fly"
"""Under the board every turn. At the start of Frog's turn Frog shows f or X, so J, L, H are Toad's."""

TOAD_POLICIES: dict[str, Callable[[GameBatch], np.ndarray]] = {"random": random_actions}
"""Policies Toad can follow, by name: ``batch -> (1,) actions``."""


@dataclass(frozen=True)
class PlayResult:
    frog_score: int
    toad_score: int
    turns: int
    """Turns played (Frog's and Toad's both count)."""
    quit: bool
    """The player pressed ``q`` (or input ended) before the game's last turn."""


def _read_keys(fd: int) -> Iterator[str]:
    """Key presses from a file descriptor, one byte at a time, until end of input."""
    while data := os.read(fd, 1):
        yield data.decode(errors="replace")


def _line_keys(stream: TextIO) -> Iterator[str]:
    """Keys from a pipe or file: every non-blank character of every line."""
    for line in stream:
        yield from (ch for ch in line if not ch.isspace())


@contextmanager
def keys_from(stream: TextIO):
    """Keys from ``stream``: one key press at a time on a terminal, else line by line.

    A terminal is put in cbreak mode on entry, before anything is drawn, so no
    key typed after the first picture waits for Enter; it is restored on exit.
    The switch keeps type-ahead (``TCSANOW``, not the default flush). Signal
    keys are turned off too, so Ctrl-C arrives as a key and quits cleanly
    between turns instead of interrupting one halfway.
    """
    if not stream.isatty():
        yield _line_keys(stream)
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        mode = termios.tcgetattr(fd)
        mode[3] &= ~termios.ISIG  # lflag: Ctrl-C, Ctrl-Z, Ctrl-\ become plain keys
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        yield _read_keys(fd)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def play(
    seed: int = 0,
    turns: int = 100,
    toad: str = "random",
    *,
    keys: Iterable[str],
    out: TextIO,
    clear: bool = False,
) -> PlayResult:
    """Play one game: Frog's actions come from ``keys``, Toad's from the named policy.

    ``turns`` is the game's length in turns (both players' turns count, as
    ``GameConfig.max_turns``). ``clear`` redraws in place with an ANSI clear
    screen (for terminals) instead of printing the frames one under another.
    """
    if toad not in TOAD_POLICIES:
        raise ConfigError(f"unknown Toad policy {toad!r}; choose one of {sorted(TOAD_POLICIES)}")
    toad_policy = TOAD_POLICIES[toad]
    batch = GameBatch(GameConfig(max_turns=turns), seed, [0])
    last: list[Action | None] = [None, None]
    key_iter = iter(keys)
    message = f"Toad follows the {toad} policy. Your move, Frog."
    quit_ = False

    def draw(footer: str, intro: bool = False) -> None:
        picture = render(batch, last_actions=last, show_both=True)
        head = INTRO + "\n\n" if intro else ""
        out.write((CLEAR_SCREEN if clear else "\n") + head + picture + "\n" + LEGEND + "\n" + footer + "\n")
        out.flush()

    while not batch.done[0]:
        if batch.actor[0] == Player.TOAD:
            action = Action(int(toad_policy(batch)[0]))
            batch.step([action])
            last[Player.TOAD] = action
            continue
        draw(f"{message}\n{HELP_LINE}", intro=int(batch.turn[0]) == 0)
        key = next(key_iter, QUIT_KEY)
        if key in (QUIT_KEY, CTRL_C, CTRL_D):
            quit_ = True
            break
        if key not in ACTION_KEYS:
            message = f"unknown key {key!r}"
            continue
        action = ACTION_KEYS[key]
        batch.step([action])
        last[Player.FROG] = action
        message = f"you chose {action.name.lower()}"

    frog, toad_score = (int(s) for s in batch.score[0])
    ending = "you quit" if quit_ else "game over"
    draw(f"{ending} after {int(batch.turn[0])} turns: Frog {frog}, Toad {toad_score}")
    return PlayResult(frog_score=frog, toad_score=toad_score, turns=int(batch.turn[0]), quit=quit_)


def play_in_terminal(seed: int = 0, turns: int = 100, toad: str = "random") -> PlayResult:
    """``play`` on this process's stdin and stdout (what ``mirror-neurons play`` runs)."""
    with keys_from(sys.stdin) as keys:
        return play(seed, turns, toad, keys=keys, out=sys.stdout, clear=sys.stdout.isatty())
