"""``mirror-neurons play``: the game loop in process, then the real command through a pseudo-terminal."""

import io
import sys
from pathlib import Path

import pexpect
import pytest

from mirror_neurons.errors import ConfigError
from mirror_neurons.game.play import HELP_LINE, INTRO, LEGEND, keys_from, play

CLI = str(Path(sys.executable).parent / "mirror-neurons")


def test_three_hops_from_the_start_score_three():
    # from energy 20 a hop always succeeds and scores 1, and the scroll keeps Frog off the edge
    out = io.StringIO()
    result = play(seed=1, turns=6, keys="hhh", out=out)
    assert (result.frog_score, result.turns, result.quit) == (3, 6, False)
    assert "game over after 6 turns: Frog 3," in out.getvalue()


def test_the_game_is_explained_before_the_first_move_only():
    out = io.StringIO()
    play(seed=1, turns=10, keys="hq", out=out)
    text = out.getvalue()
    assert text.count(INTRO) == 1 and text.index(INTRO) < text.index("turn 0/10   Frog to move")
    for words in ("hop", "jump", "leap", "help", "fly", "energy", "Rough ground (^)", "distress (X)", "q quit"):
        assert words in INTRO + HELP_LINE, words
    assert text.count(LEGEND) == 3  # under every board: the start, after the hop, at the end


def test_every_line_fits_80_columns():
    out = io.StringIO()
    play(seed=1, turns=10, keys="hxq", out=out)
    assert max(len(line) for line in out.getvalue().splitlines()) <= 80


def test_frog_stays_visible_when_both_share_a_column():
    # seed 1: Frog hops from 15 to 16 and the scroll keeps it there, Toad (at 16) jumps: one column
    out = io.StringIO()
    play(seed=1, turns=10, keys="hq", out=out)
    after_hop = out.getvalue().split("turn 2/10   Frog to move")[1]
    assert "Frog f  col 16" in after_hop and "Toad t  col 16" in after_hop
    players = next(line for line in after_hop.splitlines() if line.startswith("players |"))
    assert players.index("&") == len("players |") + 16 and "J" not in players and "f" not in players[9:]


def test_unknown_key_is_named_and_costs_no_turn():
    out = io.StringIO()
    result = play(seed=1, turns=10, keys="xhq", out=out)
    text = out.getvalue()
    assert "unknown key 'x'" in text and HELP_LINE in text
    assert (result.turns, result.quit) == (2, True)  # Frog's hop and Toad's reply, then q


def test_input_running_out_quits():
    result = play(seed=1, turns=10, keys="", out=io.StringIO())
    assert (result.turns, result.quit) == (0, True)


def test_unknown_toad_policy_is_named():
    with pytest.raises(ConfigError, match="'smart'"):
        play(toad="smart", keys="", out=io.StringIO())


def test_keys_from_a_pipe_are_the_non_blank_characters():
    with keys_from(io.StringIO("h j\n l\n\nq")) as keys:
        assert list(keys) == ["h", "j", "l", "q"]


@pytest.mark.slow
def test_play_in_a_pseudo_terminal_to_the_end():
    child = pexpect.spawn(CLI, ["play", "--seed", "1", "--turns", "6"], encoding="utf-8", timeout=30)
    try:
        child.expect_exact(INTRO.splitlines()[0])  # the game is explained first, on the real terminal too
        child.expect_exact("turn 0/6   Frog to move")
        child.expect_exact(LEGEND)
        child.expect_exact(HELP_LINE)
        child.send("h")  # one key press, no Enter: the terminal is in cbreak mode
        child.expect_exact("turn 2/6   Frog to move")
        child.expect_exact("players |                &")  # Frog and Toad share column 16 (seed 1)
        child.expect_exact("you chose hop")
        child.send("x")
        child.expect_exact("unknown key 'x'")
        child.send("j")
        child.expect_exact("turn 4/6")
        child.send("l")
        child.expect_exact("game over after 6 turns: Frog ")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


@pytest.mark.slow
def test_play_in_a_pseudo_terminal_quits_on_q():
    child = pexpect.spawn(CLI, ["play", "--seed", "1"], encoding="utf-8", timeout=30)
    try:
        child.expect_exact(HELP_LINE)
        child.send("q")
        child.expect_exact("you quit after 0 turns")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


@pytest.mark.slow
def test_play_in_a_pseudo_terminal_quits_on_ctrl_c():
    child = pexpect.spawn(CLI, ["play", "--seed", "1"], encoding="utf-8", timeout=30)
    try:
        child.expect_exact(HELP_LINE)
        child.sendintr()
        child.expect_exact("you quit after 0 turns")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


@pytest.mark.timeout(20)
def test_terminal_keys_are_single_presses_and_the_terminal_is_restored():
    import os
    import pty
    import termios

    master, slave = pty.openpty()
    with os.fdopen(slave, "r", closefd=True) as stream:
        before = termios.tcgetattr(slave)
        with keys_from(stream) as keys:
            assert termios.tcgetattr(slave)[3] & (termios.ICANON | termios.ISIG) == 0
            os.write(master, b"hj")  # no newline: only cbreak mode delivers these
            assert [next(keys), next(keys)] == ["h", "j"]
        assert termios.tcgetattr(slave) == before
    os.close(master)
