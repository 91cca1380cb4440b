"""One game of Frog and Toad, written rule by rule in plain Python.

This is the readable statement of SPEC section 2 and the scalar twin of the
batched ``engine.GameBatch``: both draw from the same per-game counter-based
stream (``streams``; here in plain Python integers), so for the same seed,
game index and actions they agree step by step (tested). Use ``GameBatch``
for speed and this class to read, debug or check a rule.

The state is plain lists: ``ground[c]`` is ``Symbol.SOLID`` or ``ROUGH``,
``flies[c]`` a bool, ``players[Player.FROG]`` / ``players[Player.TOAD]`` the
two ``PlayerState``s. Set them directly to build a situation.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from mirror_neurons.errors import GameError
from mirror_neurons.game import streams
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import (
    BASE_SYMBOL,
    CENTER,
    FROG_START,
    MAX_ENERGY,
    STATE_SIZE,
    TOAD_START,
    WIDTH,
    Action,
    Symbol,
)
from mirror_neurons.game.streams import Slot

LEAP_LENGTH = 5
DRIFT = {(0, 0): -1, (0, 1): 0, (1, 0): +1}
"""A fly's drift from its two bits (high, low) in a drift round; (1, 1) means draw again."""
FLY_ENERGY = 4
HELP_ENERGY = 2


@dataclass
class PlayerState:
    pos: int
    symbol: int
    energy: int = MAX_ENERGY
    score: int = 0


@dataclass
class Game:
    """One game; ``seed`` and ``game_id`` select its random stream."""

    config: GameConfig
    seed: int
    game_id: int = 0
    ground: list[int] = field(default_factory=lambda: [int(Symbol.SOLID)] * WIDTH)
    flies: list[bool] = field(default_factory=lambda: [False] * WIDTH)
    rate: float = 0.0
    queued: int = 0
    turn: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**64 or self.game_id < 0:  # the streams are 64-bit, as in GameBatch
            raise GameError(
                f"seed must be in 0..2**64-1 and game_id >= 0, got seed={self.seed}, game_id={self.game_id}"
            )
        self.key = int(streams.game_keys(self.seed, np.array([self.game_id]))[0])
        self.players = [PlayerState(FROG_START, int(Symbol.FROG)), PlayerState(TOAD_START, int(Symbol.TOAD))]
        thresholds = [int(t) for t in streams.spawn_thresholds(self.config.fly_spawn_prob)]  # T[0..32]
        self._gap_thresholds = thresholds[1:][::-1]  # T[32], ..., T[1]: ascending, for bisect
        self._world_update(turn=-1)

    # -- draws from this game's stream --------------------------------------------

    def _draw(self, slot: Slot, i: int = 0, turn: int | None = None) -> int:
        return streams.draw_int(self.key, self.turn if turn is None else turn, slot, i)

    def _uniform(self, slot: Slot) -> float:
        return streams.uniform_int(self._draw(slot))

    # -- queries -------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.turn >= self.config.max_turns

    def in_distress(self, who: int) -> bool:
        """Distress = standing on rough ground."""
        return self.ground[self.players[who].pos] == Symbol.ROUGH

    def shown_symbol(self, who: int) -> int:
        if not self.in_distress(who):
            return self.players[who].symbol
        if who == 1 and self.config.veil < 1.0 and not self._uniform(Slot.VEIL) < self.config.veil:
            return int(Symbol.TOAD_DISTRESS)
        return int(Symbol.DISTRESS)

    def observe(self, who: int) -> list[int]:
        players_row = [0] * WIDTH
        for p in (0, 1):  # Toad last: shown when both share a column
            players_row[self.players[p].pos] = self.shown_symbol(p)
        me = self.players[who]
        state = (
            list(self.ground)
            + players_row
            + [int(Symbol.FLY) if f else 0 for f in self.flies]
            + [self.shown_symbol(who), me.energy, me.score, me.pos]
        )
        assert len(state) == STATE_SIZE
        return state

    # -- one turn --------------------------------------------------------------------

    def step(self, action: int) -> int:
        """The actor (Frog on even turns) takes ``action``; returns its score change."""
        if isinstance(action, bool) or action not in tuple(Action):
            raise GameError(f"action must be 0..3 (hop, jump, leap, help), got {action!r}")
        if self.done:
            raise GameError(f"the game ended after {self.config.max_turns} turns; start a new Game")
        who = self.turn % 2
        me, other = self.players[who], self.players[1 - who]
        me.symbol = int(BASE_SYMBOL[who])  # a hop shows the base symbol
        before = me.score
        if action == Action.HOP and me.energy > 0 and me.pos + 1 < WIDTH:
            me.pos += 1
            me.score += 1
            self._land(me)
        elif action == Action.JUMP:
            me.symbol = int(Symbol.JUMP)
            if self.flies[me.pos]:
                me.energy = min(MAX_ENERGY, me.energy + FLY_ENERGY)
                self.flies[me.pos] = False
        elif action == Action.LEAP and me.energy > 0 and me.pos + LEAP_LENGTH < WIDTH:
            me.symbol = int(Symbol.LEAP)
            self._leap(me)
        elif action == Action.HELP and me.energy > 0:
            me.symbol = int(Symbol.HELP)
            if other.pos + LEAP_LENGTH < WIDTH:
                if other.energy < MAX_ENERGY:
                    other.energy = min(MAX_ENERGY, other.energy + HELP_ENERGY)
                    me.energy -= 1
                if self._uniform(Slot.HELP_LEAP) < self.config.help_leap_prob and other.energy > 0:
                    self._leap(other)  # no leap symbol: the partner's own turn starts right after
        self._world_update(self.turn)
        if action != Action.JUMP:
            self._scroll()
        other.symbol = int(BASE_SYMBOL[1 - who])  # the partner's turn starts: back to its base symbol
        self.turn += 1
        return me.score - before

    def _land(self, p: PlayerState) -> None:
        """Landing on rough ground hurts: 1 energy, never below 0."""
        if self.ground[p.pos] == Symbol.ROUGH:
            p.energy = max(0, p.energy - 1)

    def _leap(self, p: PlayerState) -> None:
        p.energy -= 1
        p.pos += LEAP_LENGTH
        self._land(p)

    def _world_update(self, turn: int) -> None:
        """Each empty column gets a fly with p = fly_spawn_prob; then every fly drifts -1/0/+1."""
        # spawn, drawn as geometric gaps between spawning columns (see streams)
        col, i = 0, 0
        while True:
            u53 = self._draw(Slot.FLY_SPAWN, i, turn) >> 11
            gap = WIDTH - bisect.bisect_right(self._gap_thresholds, u53)  # number of j with u53 < T[j]
            col += gap
            if col >= WIDTH:
                break
            self.flies[col] = True
            col += 1
            i += 1
        # drift: per round, 2 bits (b1, b0) per undecided column: 00 left, 01 stay, 10 right, 11 again
        drift: dict[int, int] = {}
        undecided = [c for c in range(WIDTH) if self.flies[c]]
        for r in range(streams.DRIFT_ROUNDS):
            if not undecided:
                break
            bits = self._draw(Slot.FLIES, r, turn)
            still = []
            for c in undecided:
                two_bits = ((bits >> (32 + c)) & 1, (bits >> c) & 1)
                if two_bits == (1, 1):
                    still.append(c)
                else:
                    drift[c] = DRIFT[two_bits]
            undecided = still
        moved = [False] * WIDTH
        for c, d in drift.items():  # two flies landing on one column merge
            moved[min(WIDTH - 1, max(0, c + d))] = True
        for c in undecided:  # still undecided after every round (probability 4**-32): stays
            moved[c] = True
        self.flies = moved

    def _scroll(self) -> None:
        """After a moving action: the obstacle rate grows, then the world scrolls by the anchor's offset."""
        cfg = self.config
        self.rate = min(cfg.rate_max, self.rate + cfg.rate_step)
        a, b = self.players[0].pos, self.players[1].pos
        if cfg.dependency == 1.0:
            anchor = (a + b) // 2
        else:
            lead, trail = max(a, b), min(a, b)
            anchor = math.floor(((2.0 - cfg.dependency) * lead + cfg.dependency * trail) / 2.0)
        shift = anchor - CENTER
        if shift > 0:
            threshold = int(self.rate * streams.TWO32)
            for j in range(shift):
                bits = self._draw(Slot.COLUMNS, j)
                if self.queued == 0 and (bits & 0xFFFFFFFF) < threshold:
                    self.queued = streams.high_choice_int(bits, 4) + 1 + 1  # 1..4 rough, then one solid
                rough = self.queued > 1
                if self.queued:
                    self.queued -= 1
                self.ground = self.ground[1:] + [int(Symbol.ROUGH if rough else Symbol.SOLID)]
        elif shift < 0:
            self.ground = [int(Symbol.SOLID)] * (-shift) + self.ground[: WIDTH + shift]
        for p in self.players:
            p.pos = min(WIDTH - 1, max(0, p.pos - shift))
