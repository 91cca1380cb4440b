"""SPEC section 2, one table per rule, on both the scalar ``Game`` and the batched ``GameBatch``.

Each row builds an exact situation by setting the state directly, plays one
turn, and compares with values worked out by hand from the rule (the comment
on a row shows the arithmetic). Randomness is switched off where a row must
be exact (no fly spawns, obstacle rate held fixed, the help leap at
probability 0 or 1); the random rules (fly spawn 0.01, drift, help leap 0.25,
run width 1..4, obstacle rate, veil) have statistical tests with fixed seeds
and 5-sigma binomial bounds.

Every table also runs as one batch holding all its rows, so the batched engine
is checked on mixed situations side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from mirror_neurons.game import Game, GameBatch, GameConfig
from mirror_neurons.game.constants import Action, Player, Symbol
from mirror_neurons.game.streams import spawn_thresholds

HOP, JUMP, LEAP, HELP = Action.HOP, Action.JUMP, Action.LEAP, Action.HELP
F, T = int(Symbol.FROG), int(Symbol.TOAD)
J, L, H, X = int(Symbol.JUMP), int(Symbol.LEAP), int(Symbol.HELP), int(Symbol.DISTRESS)

EXACT = dict(fly_spawn_prob=0.0, rate_step=0.0)  # no new flies, obstacle rate stays where it is set


@dataclass(frozen=True)
class Case:
    """One situation, one action, and the hand-derived outcome."""

    name: str
    frog: tuple[int, int]  # (column, energy) before the turn
    toad: tuple[int, int]
    action: Action
    want_frog: tuple[int, int, int]  # (column, energy, score) after the turn, scroll included
    want_toad: tuple[int, int, int]
    want_shown: tuple[int, int] = (F, T)  # each player's own displayed symbol (index 96) afterwards
    actor: Player = Player.FROG
    rough: frozenset[int] = frozenset()
    flies: frozenset[int] = frozenset()
    rate: float = 0.0
    queued: int = 0
    config: dict = field(default_factory=dict)
    want_rough: frozenset[int] | None = None  # None: rough columns unchanged (no scroll)
    want_flies: frozenset[int] | None = None  # None: not checked
    want_queued: int | None = None

    def game_config(self) -> GameConfig:
        return GameConfig(**{**EXACT, **self.config})


@dataclass(frozen=True)
class Outcome:
    frog: tuple[int, int, int]
    toad: tuple[int, int, int]
    shown: tuple[int, int]
    rough: frozenset[int]
    flies: frozenset[int]
    queued: int
    rate: float
    delta: tuple[int, int]  # score change of (Frog, Toad)


def scalar_game(case: Case, seed: int = 0, game_id: int = 0) -> Game:
    g = Game(case.game_config(), seed, game_id)
    g.turn = int(case.actor)
    for p, (pos, energy) in zip(g.players, (case.frog, case.toad), strict=True):
        p.pos, p.energy = pos, energy
    g.ground = [int(Symbol.ROUGH if c in case.rough else Symbol.SOLID) for c in range(32)]
    g.flies = [c in case.flies for c in range(32)]
    g.rate, g.queued = case.rate, case.queued
    return g


def play_scalar(case: Case) -> Outcome:
    g = scalar_game(case)
    before = [p.score for p in g.players]
    g.step(int(case.action))
    return Outcome(
        frog=(g.players[0].pos, g.players[0].energy, g.players[0].score),
        toad=(g.players[1].pos, g.players[1].energy, g.players[1].score),
        shown=(g.observe(Player.FROG)[96], g.observe(Player.TOAD)[96]),
        rough=frozenset(c for c in range(32) if g.ground[c] == Symbol.ROUGH),
        flies=frozenset(c for c in range(32) if g.flies[c]),
        queued=g.queued,
        rate=g.rate,
        delta=(g.players[0].score - before[0], g.players[1].score - before[1]),
    )


def batch_of(cases: list[Case], seed: int = 0, repeat: int = 1) -> GameBatch:
    """All ``cases`` (same config and actor) as rows of one batch, each ``repeat`` times in a row
    (the copies are different games, so they draw differently)."""
    (config,) = {c.game_config() for c in cases}
    (actor,) = {c.actor for c in cases}
    b = GameBatch(config, seed, np.arange(len(cases) * repeat))

    def rows(values: list) -> np.ndarray:
        return np.repeat(np.asarray(values), repeat, axis=0)

    b.turn = int(actor)
    b.pos = rows([[c.frog[0], c.toad[0]] for c in cases])
    b.energy = rows([[c.frog[1], c.toad[1]] for c in cases])
    b.ground = rows([[Symbol.ROUGH if k in c.rough else Symbol.SOLID for k in range(32)] for c in cases])
    b.flies = rows([[k in c.flies for k in range(32)] for c in cases])
    b.rate = rows([c.rate for c in cases]).astype(np.float64)
    b.queued = rows([c.queued for c in cases]).astype(np.int64)
    return b


def play_batch(cases: list[Case]) -> list[Outcome]:
    b = batch_of(cases)
    delta = b.step(np.array([int(c.action) for c in cases]))
    frog_view, toad_view = b.observe(Player.FROG), b.observe(Player.TOAD)
    ground, flies = b.ground, b.flies
    return [
        Outcome(
            frog=(int(b.pos[i, 0]), int(b.energy[i, 0]), int(b.score[i, 0])),
            toad=(int(b.pos[i, 1]), int(b.energy[i, 1]), int(b.score[i, 1])),
            shown=(int(frog_view[i, 96]), int(toad_view[i, 96])),
            rough=frozenset(np.flatnonzero(ground[i] == Symbol.ROUGH).tolist()),
            flies=frozenset(np.flatnonzero(flies[i]).tolist()),
            queued=int(b.queued[i]),
            rate=float(b.rate[i]),
            delta=(int(delta[i, 0]), int(delta[i, 1])),
        )
        for i in range(len(cases))
    ]


def check(case: Case, got: Outcome) -> None:
    assert got.frog == case.want_frog, "Frog (column, energy, score)"
    assert got.toad == case.want_toad, "Toad (column, energy, score)"
    assert got.shown == case.want_shown, "displayed symbols"
    want_rough = case.rough if case.want_rough is None else case.want_rough
    assert got.rough == want_rough, "rough columns"
    if case.want_flies is not None:
        assert got.flies == case.want_flies, "fly columns"
    if case.want_queued is not None:
        assert got.queued == case.want_queued, "queued obstacle run"
    # every row starts at score 0, so the actor's change is its final score; the partner's is 0
    want_delta = (case.want_frog[2], 0) if case.actor == Player.FROG else (0, case.want_toad[2])
    assert got.delta == want_delta, "returned score change"


def run_table(table: list[Case]) -> None:
    """Each row on the scalar game and as a batch of one; then the whole table (per config) as one batch."""
    for case in table:
        check(case, play_scalar(case))
        check(case, play_batch([case])[0])
    groups: dict[tuple, list[Case]] = {}
    for case in table:
        groups.setdefault((case.game_config(), case.actor), []).append(case)
    for cases in groups.values():
        for case, got in zip(cases, play_batch(cases), strict=True):
            check(case, got)


def ids(table: list[Case]) -> list[str]:
    return [c.name for c in table]


# Frog at 15 and Toad at 17 keep the scroll anchor at (15 + 17) // 2 = 16 (no scroll) after most rows.

HOP_TABLE = [
    Case("moves one column and scores", (15, 20), (17, 20), HOP, (16, 20, 1), (17, 20, 0)),  # (16+17)//2=16
    Case("landing on rough hurts", (15, 20), (17, 20), HOP, (16, 19, 1), (17, 20, 0), (X, T), rough=frozenset({16})),
    Case(
        "energy 1 onto rough ends at 0", (15, 1), (17, 20), HOP, (16, 0, 1), (17, 20, 0), (X, T), rough=frozenset({16})
    ),
    Case("needs energy > 0", (15, 0), (17, 20), HOP, (15, 0, 0), (17, 20, 0)),
    Case("does not spend energy", (15, 3), (17, 20), HOP, (16, 3, 1), (17, 20, 0)),
    Case("not past the right edge, no score", (31, 20), (1, 20), HOP, (31, 20, 0), (1, 20, 0)),  # (31+1)//2=16
    Case("Toad hops too", (15, 20), (16, 20), HOP, (15, 20, 0), (17, 20, 1), actor=Player.TOAD),
]

JUMP_TABLE = [
    Case(
        "catches the fly overhead: +4",
        (15, 10),
        (17, 20),
        JUMP,
        (15, 14, 0),
        (17, 20, 0),
        (J, T),
        flies=frozenset({15}),
        want_flies=frozenset(),
    ),
    Case(
        "energy capped at 20",
        (15, 18),
        (17, 20),
        JUMP,
        (15, 20, 0),
        (17, 20, 0),
        (J, T),
        flies=frozenset({15}),
        want_flies=frozenset(),
    ),
    Case(
        "works at energy 0",
        (15, 0),
        (17, 20),
        JUMP,
        (15, 4, 0),
        (17, 20, 0),
        (J, T),
        flies=frozenset({15}),
        want_flies=frozenset(),
    ),
    Case(
        "no fly overhead: nothing gained",
        (15, 10),
        (17, 20),
        JUMP,
        (15, 10, 0),
        (17, 20, 0),
        (J, T),
        want_flies=frozenset(),
    ),
    Case("never scrolls", (20, 10), (20, 10), JUMP, (20, 10, 0), (20, 10, 0), (J, T)),  # a move would shift 4
]

LEAP_TABLE = [
    Case("five columns for one energy", (10, 20), (17, 20), LEAP, (15, 19, 0), (17, 20, 0), (L, T)),
    Case(
        "landing on rough costs one more",
        (10, 20),
        (17, 20),
        LEAP,
        (15, 18, 0),
        (17, 20, 0),
        (X, T),
        rough=frozenset({15}),
    ),
    Case(
        "energy 1 onto rough ends at 0, not -1",
        (10, 1),
        (17, 20),
        LEAP,
        (15, 0, 0),
        (17, 20, 0),
        (X, T),
        rough=frozenset({15}),
    ),
    # no leap at energy 0, but a moving action scrolls anyway: (10+17)//2 = 13, shift -3
    Case("needs energy > 0", (10, 0), (17, 20), LEAP, (13, 0, 0), (20, 20, 0)),
    Case("not past the right edge", (27, 20), (5, 20), LEAP, (27, 20, 0), (5, 20, 0)),  # 27+5 = 32
    Case("up to the last column", (26, 20), (2, 20), LEAP, (31, 19, 0), (2, 20, 0), (L, T)),  # (31+2)//2=16
    Case("scores nothing", (10, 20), (17, 20), LEAP, (15, 19, 0), (17, 20, 0), (L, T)),
]

HELP_TABLE = [  # help_leap_prob = 0: the gift alone
    Case("partner +2, helper -1", (15, 10), (17, 10), HELP, (15, 9, 0), (17, 12, 0), (H, T)),
    Case("a full partner costs nothing", (15, 10), (17, 20), HELP, (15, 10, 0), (17, 20, 0), (H, T)),
    Case("partner capped at 20", (15, 10), (17, 19), HELP, (15, 9, 0), (17, 20, 0), (H, T)),
    Case("helper needs energy > 0", (15, 0), (17, 10), HELP, (15, 0, 0), (17, 10, 0)),
    Case("partner at 0 is revived", (15, 1), (17, 0), HELP, (15, 0, 0), (17, 2, 0), (H, T)),
    # partner at 27: 27 + 5 = 32 is outside the world, so nothing happens; (5+27)//2 = 16
    Case("partner's leap must fit", (5, 10), (27, 10), HELP, (5, 10, 0), (27, 10, 0), (H, T)),
    Case("Toad helps Frog", (15, 10), (17, 10), HELP, (15, 12, 0), (17, 9, 0), (F, H), actor=Player.TOAD),
]
HELP_TABLE = [Case(**{**c.__dict__, "config": {"help_leap_prob": 0.0}}) for c in HELP_TABLE]

HELP_LEAP_TABLE = [  # help_leap_prob = 1: the partner always leaps when helped
    # Toad 10 -> 12, leaps to 22 for 1 -> 11; anchor (15+22)//2 = 18, shift 2: Frog 13, Toad 20
    Case("gift, then the partner leaps", (15, 10), (17, 10), HELP, (13, 9, 0), (20, 11, 0), (H, T)),
    # Toad lands on rough 22 (-1 more); the scroll moves that column to 20
    Case(
        "the helped leap hurts on rough",
        (15, 10),
        (17, 10),
        HELP,
        (13, 9, 0),
        (20, 10, 0),
        (H, X),
        rough=frozenset({22}),
        want_rough=frozenset({20}),
    ),
    Case("a full partner still leaps", (15, 10), (17, 20), HELP, (13, 10, 0), (20, 19, 0), (H, T)),
    Case("a partner at 0 is revived, then leaps", (15, 10), (17, 0), HELP, (13, 9, 0), (20, 1, 0), (H, T)),
    Case("out of reach: no gift, no leap", (5, 10), (27, 10), HELP, (5, 10, 0), (27, 10, 0), (H, T)),
    Case("helper at 0: no leap", (15, 0), (17, 10), HELP, (15, 0, 0), (17, 10, 0)),
    # Toad helps Frog: Frog 10 -> 12 -> leaps 15 -> 20 for 1 -> 11; anchor (20+17)//2 = 18, shift 2
    Case("Frog leaps when Toad helps", (15, 10), (17, 10), HELP, (18, 11, 0), (15, 9, 0), (F, H), actor=Player.TOAD),
]
HELP_LEAP_TABLE = [Case(**{**c.__dict__, "config": {"help_leap_prob": 1.0}}) for c in HELP_LEAP_TABLE]

ENERGY_TABLE = [  # energy stays in 0..20 at both limits
    Case("hop at 0 stays at 0", (15, 0), (17, 0), HOP, (15, 0, 0), (17, 0, 0)),
    Case("jump with no fly at 0", (15, 0), (17, 0), JUMP, (15, 0, 0), (17, 0, 0), (J, T)),
    Case("fly at 17 caps at 20", (15, 17), (17, 0), JUMP, (15, 20, 0), (17, 0, 0), (J, T), flies=frozenset({15})),
    Case(
        "fly at 16 reaches exactly 20", (15, 16), (17, 0), JUMP, (15, 20, 0), (17, 0, 0), (J, T), flies=frozenset({15})
    ),
    Case(
        "help from 1 to a partner at 19",
        (15, 1),
        (17, 19),
        HELP,
        (15, 0, 0),
        (17, 20, 0),
        (H, T),
        config={"help_leap_prob": 0.0},
    ),
]

SCROLL_TABLE = [
    # Frog 20 -> 21; anchor (21+20)//2 = 20, shift +4: columns 0..3 dropped, 4 solid columns appended
    Case(
        "positive shift drops left columns",
        (20, 20),
        (20, 20),
        HOP,
        (17, 20, 1),
        (16, 20, 0),
        rough=frozenset({3, 5, 25}),
        want_rough=frozenset({1, 21}),
    ),
    # Frog 5 -> 6; anchor (6+10)//2 = 8, shift -8: 8 solid columns prepended, column 27 (-> 35) dropped
    Case(
        "negative shift prepends solid columns",
        (5, 20),
        (10, 20),
        HOP,
        (14, 20, 1),
        (18, 20, 0),
        rough=frozenset({0, 27}),
        want_rough=frozenset({8}),
    ),
    Case("a failed move still scrolls", (20, 0), (20, 20), HOP, (16, 0, 0), (16, 20, 0)),  # shift +4
    Case("a jump never scrolls", (20, 20), (20, 20), JUMP, (20, 20, 0), (20, 20, 0), (J, T)),
    # hop blocked at 31; anchor (31+0)//2 = 15, shift -1: Frog 32 is clamped to 31
    Case("positions clamped at the right edge", (31, 20), (0, 20), HOP, (31, 20, 0), (1, 20, 0)),
    # anchor (16+19)//2 = 17, shift +1, after Toad's hop
    Case("Toad's move scrolls too", (16, 20), (18, 20), HOP, (15, 20, 0), (18, 20, 1), actor=Player.TOAD),
    # D = 0: anchor = floor((2*31 + 0*5)/2) = 31, shift 15: Frog 16, Toad 5-15 = -10 clamped to 0
    Case(
        "D=0 follows the leader; left clamp",
        (26, 20),
        (5, 20),
        LEAP,
        (16, 19, 0),
        (0, 20, 0),
        (L, T),
        config={"dependency": 0.0},
    ),
    # D = 0.5: lead 20, trail 16: floor((1.5*20 + 0.5*16)/2) = 19, shift 3
    Case("D=0.5 leans to the leader", (15, 20), (20, 20), HOP, (13, 20, 1), (17, 20, 0), config={"dependency": 0.5}),
]

RUN_TABLE = [  # new columns from a queued obstacle run (rate 0: no new run starts); shift +4 as above
    Case(
        "a queued run continues: 2 rough then solid",
        (20, 20),
        (20, 20),
        HOP,
        (17, 20, 1),
        (16, 20, 0),
        queued=3,
        want_rough=frozenset({28, 29}),
        want_queued=0,
    ),
    Case(
        "a long run spans scrolls",
        (20, 20),
        (20, 20),
        HOP,
        (17, 20, 1),
        (16, 20, 0),
        queued=5,
        want_rough=frozenset({28, 29, 30, 31}),
        want_queued=1,
    ),
    Case(
        "only the closing solid column left",
        (20, 20),
        (20, 20),
        HOP,
        (17, 20, 1),
        (16, 20, 0),
        queued=1,
        want_rough=frozenset(),
        want_queued=0,
    ),
    Case(
        "nothing queued, rate 0: solid",
        (20, 20),
        (20, 20),
        HOP,
        (17, 20, 1),
        (16, 20, 0),
        want_rough=frozenset(),
        want_queued=0,
    ),
]


@pytest.mark.parametrize(
    "table",
    [HOP_TABLE, JUMP_TABLE, LEAP_TABLE, HELP_TABLE, HELP_LEAP_TABLE, ENERGY_TABLE, SCROLL_TABLE, RUN_TABLE],
    ids=["hop", "jump", "leap", "help", "help-leap", "energy-limits", "scroll", "obstacle-runs"],
)
def test_rule_table(table: list[Case]) -> None:
    run_table(table)


def test_rate_one_starts_a_run_with_the_first_new_column() -> None:
    """rate = 1 and nothing queued: new columns are runs of 1-4 rough then one solid, back to back."""
    case = Case("", (20, 20), (20, 20), HOP, (0, 0, 0), (0, 0, 0), rate=1.0, config={"rate_max": 1.0})
    b = batch_of([case], repeat=200)  # 200 different games: different run widths
    b.step(np.full(200, HOP))
    ground_rows = [b.ground[i] for i in range(200)]
    for i in range(3):  # the scalar game draws the same columns
        g = scalar_game(case, game_id=i)
        g.step(int(HOP))
        assert g.ground == ground_rows[i].tolist()
    for row in ground_rows:
        new = "".join("R" if c == Symbol.ROUGH else "s" for c in row[28:])  # the 4 appended columns
        assert new[0] == "R"
        assert "ss" not in new and "RRRRR" not in new


# -- the obstacle rate ramp ----------------------------------------------------------------------------


def test_rate_grows_by_step_per_moving_action_up_to_the_cap() -> None:
    """0 -> 0.075 by 0.005 per hop/leap/help (successful or not); a jump leaves it."""
    config = GameConfig()  # the paper's 0.005 and 0.075
    actions = [HOP, JUMP, LEAP, HELP, JUMP, JUMP] + [HOP, HELP] * 10
    want = [0.005, 0.005, 0.010, 0.015, 0.015, 0.015] + [0.005 * m for m in range(4, 16)] + [0.075] * 8
    g = Game(config, seed=3)
    b = GameBatch(config, seed=3, game_ids=[0])
    for a, w in zip(actions, want, strict=True):
        g.step(int(a))
        b.step([int(a)])
        assert g.rate == pytest.approx(w, abs=1e-12)
        assert b.rate[0] == pytest.approx(w, abs=1e-12)
    assert g.rate == 0.075 and b.rate[0] == 0.075  # capped exactly


def test_failed_moves_grow_the_rate() -> None:
    """Energy 0: hop, leap and help all fail, yet each counts as a moving action."""
    g = Game(GameConfig(), seed=0)
    for p in g.players:
        p.energy = 0
    for a in (HOP, LEAP, HELP, JUMP):
        g.step(int(a))
    assert g.rate == pytest.approx(0.015)


# -- statistics of the random rules ---------------------------------------------------------------------


def within_binomial(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_spawn_thresholds_are_exact_powers() -> None:
    """For p = 1/2 the thresholds are 2**53 * 2**-j exactly; p = 0 never spawns, p = 1 always."""
    assert spawn_thresholds(0.5).tolist() == [2 ** (53 - j) for j in range(33)]
    assert spawn_thresholds(0.0).tolist() == [2**53] * 33
    assert spawn_thresholds(1.0).tolist() == [2**53] + [0] * 32


def test_fly_spawn_probability_per_column() -> None:
    """After the reset's world update each column holds a fly with probability p (drift keeps it: a column
    receives from its left (1/3), itself (1/3) and its right (1/3); the walls give back what they clamp)."""
    n = 20_000
    b = GameBatch(GameConfig(), seed=11, game_ids=np.arange(n))
    per_column = b.flies.sum(axis=0)  # (32,)
    assert all(within_binomial(int(c), n, 0.01) for c in per_column), per_column
    assert within_binomial(int(per_column.sum()), 32 * n, 0.01)
    scalar = [Game(GameConfig(), seed=11, game_id=i).flies for i in range(300)]
    assert np.array_equal(np.array(scalar), b.flies[:300])  # the twin draws the same spawns


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_fly_spawn_other_probabilities(p: float) -> None:
    """p = 0: never. p = 1: all 32 columns get a fly, then drift merges them: a column receives at
    most 3 flies, so at least 11 remain; an inner column stays empty with probability (2/3)**3, an
    edge column with 1/3 * 2/3, so on average 30 * 19/27 + 2 * 7/9 = 22.67 columns keep a fly."""
    b = GameBatch(GameConfig(fly_spawn_prob=p), seed=5, game_ids=np.arange(2_000))
    counts = b.flies.sum(axis=1)
    if p == 0.0:
        assert counts.max() == 0
    elif p == 1.0:
        assert counts.min() >= 11
        assert abs(counts.mean() - (30 * 19 / 27 + 2 * 7 / 9)) < 5 * counts.std() / np.sqrt(len(counts))
    else:  # before merging, 32 * 0.3 = 9.6 per game; merging only removes flies
        assert 6 < counts.mean() < 9.6


def one_fly_games(columns: list[int], n: int, seed: int = 2) -> np.ndarray:
    """Flies after one jump (no scroll, no spawns) in ``n`` games starting with flies at ``columns``."""
    case = Case("", (5, 20), (6, 20), JUMP, (0, 0, 0), (0, 0, 0), flies=frozenset(columns))
    b = batch_of([case], seed=seed, repeat=n)
    b.step(np.full(n, JUMP))
    return b.flies


def test_fly_drift_is_uniform_over_left_stay_right() -> None:
    n = 9_000
    flies = one_fly_games([20], n)
    assert (flies.sum(axis=1) == 1).all()
    for col in (19, 20, 21):
        assert within_binomial(int(flies[:, col].sum()), n, 1 / 3), col


def test_fly_drift_is_clamped_at_the_walls() -> None:
    n = 9_000
    left, right = one_fly_games([0], n), one_fly_games([31], n)
    assert (left.sum(axis=1) == 1).all() and (right.sum(axis=1) == 1).all()
    assert within_binomial(int(left[:, 0].sum()), n, 2 / 3)  # stay or left (clamped)
    assert within_binomial(int(left[:, 1].sum()), n, 1 / 3)
    assert within_binomial(int(right[:, 31].sum()), n, 2 / 3)
    assert within_binomial(int(right[:, 30].sum()), n, 1 / 3)


@pytest.mark.parametrize(
    ("columns", "p_merge"),
    [
        ([10, 12], 1 / 9),  # 10 right and 12 left
        ([10, 11], 2 / 9),  # (10 right, 11 stays) or (10 stays, 11 left); crossing keeps both
    ],
)
def test_two_flies_landing_on_one_column_merge(columns: list[int], p_merge: float) -> None:
    """Merging happens exactly when both drifts land on one column: independent uniform drifts."""
    n = 9_000
    merged = int((one_fly_games(columns, n).sum(axis=1) == 1).sum())
    assert within_binomial(merged, n, p_merge)


def test_help_leap_probability() -> None:
    n = 8_000
    case = HELP_LEAP_TABLE[0]
    case = Case(**{**case.__dict__, "config": {}})  # the paper's 0.25
    b = batch_of([case], seed=9, repeat=n)
    b.step(np.full(n, HELP))
    leapt = int((b.energy[:, 1] == 11).sum())  # 10 + 2, then the leap's 1
    assert int((b.energy[:, 1] == 12).sum()) == n - leapt  # the others got the gift and stayed
    assert within_binomial(leapt, n, 0.25)


def test_run_width_is_uniform_1_to_4() -> None:
    """rate 1: the first new column starts a run; its rough width is uniform over 1..4."""
    n = 8_000
    # Frog 26 leaps to 31 beside Toad at 31: anchor 31, shift 15, so 15 new columns (16..31)
    case = Case("", (26, 20), (31, 20), LEAP, (0, 0, 0), (0, 0, 0), rate=1.0, config={"rate_max": 1.0})
    b = batch_of([case], seed=4, repeat=n)
    b.step(np.full(n, LEAP))
    new = b.ground[:, 17:] == Symbol.ROUGH  # the 15 new columns
    width = np.argmin(new, axis=1)  # leading rough columns before the closing solid one
    for w in (1, 2, 3, 4):
        assert within_binomial(int((width == w).sum()), n, 0.25), w
    assert width.min() >= 1 and width.max() <= 4


@pytest.mark.parametrize("rate", [0.02, 0.075])
def test_obstacle_run_starts_with_probability_rate(rate: float) -> None:
    """One new column per game (shift 1), nothing queued: it is rough with probability ``rate``."""
    n = 20_000
    # Frog 17 -> 18 beside Toad 16: anchor 17, shift 1
    case = Case("", (17, 20), (16, 20), HOP, (0, 0, 0), (0, 0, 0), rate=rate, config={"rate_max": 0.075})
    b = batch_of([case], seed=6, repeat=n)
    b.step(np.full(n, HOP))
    rough = int((b.ground[:, 31] == Symbol.ROUGH).sum())
    assert within_binomial(rough, n, rate)
    assert (b.queued[b.ground[:, 31] == Symbol.ROUGH] >= 1).all()  # the run's rest (and its solid) is queued


# -- what the players row shows ------------------------------------------------------------------------


def displayed(frog: int, toad: int, rough: set[int], symbols=(F, T), veil: float = 1.0):
    """(players row, Frog's own symbol, Toad's own symbol) from Game and from GameBatch."""
    config = GameConfig(veil=veil)
    g = Game(config, seed=0)
    g.players[0].pos, g.players[1].pos = frog, toad
    g.players[0].symbol, g.players[1].symbol = symbols
    g.ground = [int(Symbol.ROUGH if c in rough else Symbol.SOLID) for c in range(32)]
    b = GameBatch(config, seed=0, game_ids=[0])
    b.pos[0] = [frog, toad]
    b.symbol[0] = symbols
    b.ground = [[Symbol.ROUGH if c in rough else Symbol.SOLID for c in range(32)]]
    out = []
    for views in ((g.observe(0), g.observe(1)), (b.observe(0)[0].tolist(), b.observe(1)[0].tolist())):
        row = {c: v for c, v in enumerate(views[0][32:64]) if v}
        out.append((row, views[0][96], views[1][96]))
    assert out[0] == out[1]
    return out[0]


@pytest.mark.parametrize(
    ("frog", "toad", "rough", "symbols", "want_row", "want_own"),
    [
        (10, 12, set(), (F, T), {10: F, 12: T}, (F, T)),
        (10, 12, {10}, (F, T), {10: X, 12: T}, (X, T)),  # distress = standing on rough ground
        (10, 12, {12}, (J, T), {10: J, 12: X}, (J, X)),
        (10, 12, {10, 12}, (L, H), {10: X, 12: X}, (X, X)),  # both in distress: the same code
        (12, 12, set(), (F, T), {12: T}, (F, T)),  # a shared column shows Toad
        (12, 12, set(), (L, T), {12: T}, (L, T)),
        (12, 12, {12}, (F, T), {12: X}, (X, X)),
        (11, 12, {11, 13}, (H, T), {11: X, 12: T}, (X, T)),  # rough next door is not distress
    ],
)
def test_distress_display(frog, toad, rough, symbols, want_row, want_own) -> None:
    row, frog_own, toad_own = displayed(frog, toad, rough, symbols)
    assert row == want_row
    assert (frog_own, toad_own) == want_own


def test_veil_0_gives_toad_its_own_distress_code() -> None:
    row, frog_own, toad_own = displayed(10, 12, {10, 12}, veil=0.0)
    assert row == {10: X, 12: int(Symbol.TOAD_DISTRESS)} and toad_own == int(Symbol.TOAD_DISTRESS)
    assert frog_own == X


def test_veil_shares_the_code_with_probability_i() -> None:
    n = 8_000
    b = GameBatch(GameConfig(veil=0.3), seed=1, game_ids=np.arange(n))
    b.pos = np.tile([10, 12], (n, 1))
    b.ground = np.where(np.isin(np.arange(32), [10, 12]), Symbol.ROUGH, Symbol.SOLID)[None].repeat(n, 0)
    shown = b.displayed_symbols()
    assert (shown[:, 0] == X).all()
    assert within_binomial(int((shown[:, 1] == X).sum()), n, 0.3)
    assert set(np.unique(shown[:, 1]).tolist()) == {X, int(Symbol.TOAD_DISTRESS)}


def test_symbol_shows_the_last_action_until_the_players_next_turn() -> None:
    """Frog leaps: during Toad's turn Frog shows leap; at the start of Frog's next turn it is back to f."""
    config = GameConfig(**EXACT)
    g, b = Game(config, seed=0), GameBatch(config, seed=0, game_ids=[0])
    g.flies, b.flies = [False] * 32, np.zeros((1, 32), bool)
    seen = []
    for action in (LEAP, JUMP, HOP, HELP):
        g.step(int(action))
        b.step([int(action)])
        pair = (g.observe(0)[96], g.observe(1)[96])
        assert pair == tuple(b.observe(0)[0, 96:97].tolist() + b.observe(1)[0, 96:97].tolist())
        seen.append(pair)
    # after Frog's leap (Toad to move): Frog L, Toad back to t; after Toad's jump: Frog f, Toad J; ...
    assert seen == [(L, T), (F, J), (F, T), (F, H)]


def test_observe_lays_out_the_100_codes() -> None:
    """One hand-built state, both views, written out code by code from SPEC section 3."""
    config = GameConfig(**EXACT)
    g = Game(config, seed=0)
    g.ground = [2 if c in (3, 4) else 1 for c in range(32)]
    g.flies = [c in (0, 31) for c in range(32)]
    g.players[0].pos, g.players[0].energy, g.players[0].score = 3, 7, 12
    g.players[1].pos, g.players[1].energy, g.players[1].score, g.players[1].symbol = 9, 0, 5, J
    b = GameBatch(config, seed=0, game_ids=[0])
    b.ground, b.flies = [g.ground], [g.flies]
    b.pos[0], b.energy[0], b.score[0], b.symbol[0] = [3, 9], [7, 0], [12, 5], [F, J]
    ground = [1, 1, 1, 2, 2] + [1] * 27
    players = [0, 0, 0, 9, 0, 0, 0, 0, 0, 6] + [0] * 22
    flies = [3] + [0] * 30 + [3]
    want_frog = ground + players + flies + [9, 7, 12, 3]
    want_toad = ground + players + flies + [6, 0, 5, 9]
    assert g.observe(0) == want_frog and b.observe(0)[0].tolist() == want_frog
    assert g.observe(1) == want_toad and b.observe(1)[0].tolist() == want_toad
