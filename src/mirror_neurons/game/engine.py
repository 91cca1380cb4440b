"""The batched Frog and Toad engine: pure NumPy, arrays over games.

``GameBatch`` holds B independent games and advances all of them by one turn
per ``step`` with no Python loop over games. Rules are SPEC section 2, in the
order of the published game loop: the acting player's action, then the world
update (flies spawn, then drift), then, after a moving action (hop, leap,
help, successful or not), the obstacle rate grows and the world scrolls.

Randomness comes from ``streams``: every draw is a function of
(seed, game index, turn, slot), so a game's trajectory depends only on those
and on the actions taken. ``rules.Game`` is the one-game twin written rule by
rule in plain Python; tests check that the two agree step by step.

Array shapes (B = number of games):
    ground  (B, 32) uint8   Symbol.SOLID / Symbol.ROUGH
    flies   (B, 32) bool
    pos     (B, 2)  int64   column of Frog (0) and Toad (1)
    energy  (B, 2)  int64   0..20
    score   (B, 2)  int64
    symbol  (B, 2)  uint8   base or last-action symbol (distress is derived from the ground)
    rate    (B,)    float64 obstacle rate
    queued  (B,)    int64   columns left in the queued obstacle run (rough ones, then one solid)
    turn    (B,)    int64   turns taken; the actor is turn % 2 (Frog first)
"""

from __future__ import annotations

import numpy as np

from mirror_neurons.errors import GameError
from mirror_neurons.game import streams
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import (
    CENTER,
    FROG_START,
    MAX_ENERGY,
    OWN_ENERGY,
    OWN_POSITION,
    OWN_SCORE,
    OWN_SYMBOL,
    STATE_SIZE,
    TOAD_START,
    WIDTH,
    Action,
    Symbol,
)
from mirror_neurons.game.streams import Slot

_MAX_SHIFT = WIDTH  # a scroll never moves more than the world's width
_BASE = np.array([Symbol.FROG, Symbol.TOAD], dtype=np.uint8)
_COLS = np.arange(WIDTH)


class GameBatch:
    """B independent games advanced together; ``GameBatch(..., game_ids=[i])`` is one game."""

    def __init__(self, config: GameConfig, seed: int, game_ids: np.ndarray | list[int] | int):
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise GameError(f"seed must be a non-negative integer, got {seed!r}; pass e.g. seed=0")
        ids = np.arange(game_ids) if np.isscalar(game_ids) else np.asarray(game_ids)
        if ids.ndim != 1 or len(ids) == 0 or (ids < 0).any():
            raise GameError(f"game_ids must be a non-empty 1-D array of indices >= 0, got {game_ids!r}")
        self.config = config
        self.seed = int(seed)
        self.game_ids = ids.astype(np.uint64)
        self.keys = streams.game_keys(self.seed, self.game_ids)
        b = len(ids)
        self.ground = np.full((b, WIDTH), Symbol.SOLID, dtype=np.uint8)
        self.pos = np.tile(np.array([FROG_START, TOAD_START], dtype=np.int64), (b, 1))
        self.energy = np.full((b, 2), MAX_ENERGY, dtype=np.int64)
        self.score = np.zeros((b, 2), dtype=np.int64)
        self.symbol = np.tile(_BASE, (b, 1))
        self.rate = np.zeros(b, dtype=np.float64)
        self.queued = np.zeros(b, dtype=np.int64)
        self.turn = np.zeros(b, dtype=np.int64)
        self.flies = np.zeros((b, WIDTH), dtype=bool)
        self._rows = np.arange(b)
        self._spawn_threshold = streams.bernoulli_threshold(config.fly_spawn_prob)
        self._update_flies(self.turn - 1)  # the reset draws at turn -1

    # -- queries ---------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.game_ids)

    @property
    def actor(self) -> np.ndarray:
        """Index of the player whose turn it is, per game (0 Frog, 1 Toad)."""
        return self.turn & 1

    @property
    def done(self) -> np.ndarray:
        """(B,) bool: the episode has used all its turns."""
        return self.turn >= self.config.max_turns

    def distress(self) -> np.ndarray:
        """(B, 2) bool: the player stands on rough ground."""
        return np.take_along_axis(self.ground, self.pos, axis=1) == Symbol.ROUGH

    def displayed_symbols(self) -> np.ndarray:
        """(B, 2) uint8: what the players row shows for each player.

        Distress (standing on rough ground) shows 9. Below ``veil`` = 1, Toad's
        distress shows 10 unless this state's veil draw says the code is shared.
        """
        shown = np.where(self.distress(), np.uint8(Symbol.DISTRESS), self.symbol)
        if self.config.veil < 1.0:
            shared = streams.uniform(self.keys, self.turn, Slot.VEIL)[:, 0] < self.config.veil
            toad_distress = (shown[:, 1] == Symbol.DISTRESS) & ~shared
            shown[toad_distress, 1] = Symbol.TOAD_DISTRESS
        return shown

    def observe(self, player: int | np.ndarray) -> np.ndarray:
        """The 100-integer state vector of SPEC section 3 from ``player``'s view: (B, 100) int64."""
        b = self.size
        who = np.broadcast_to(np.asarray(player, dtype=np.int64), (b,))
        out = np.zeros((b, STATE_SIZE), dtype=np.int64)
        out[:, 0:32] = self.ground
        shown = self.displayed_symbols()
        players = np.zeros((b, WIDTH), dtype=np.int64)
        players[self._rows, self.pos[:, 0]] = shown[:, 0]
        players[self._rows, self.pos[:, 1]] = shown[:, 1]  # Toad drawn last: shown when they share a column
        out[:, 32:64] = players
        out[:, 64:96] = np.where(self.flies, Symbol.FLY, Symbol.EMPTY)
        out[:, OWN_SYMBOL] = shown[self._rows, who]
        out[:, OWN_ENERGY] = self.energy[self._rows, who]
        out[:, OWN_SCORE] = self.score[self._rows, who]
        out[:, OWN_POSITION] = self.pos[self._rows, who]
        return out

    # -- the turn ----------------------------------------------------------------

    def step(self, actions: np.ndarray | list[int] | int) -> np.ndarray:
        """Play one turn in every game: the actor takes ``actions`` (B,) codes 0..3.

        Returns (B, 2) int64, the change in each player's score this turn.
        """
        act = np.broadcast_to(np.asarray(actions), (self.size,))
        if act.dtype.kind not in "iu" or ((act < 0) | (act > 3)).any():
            bad = act[(act < 0) | (act > 3)] if act.dtype.kind in "iu" else act
            raise GameError(f"actions must be integers 0..3 (hop, jump, leap, help), got {bad[:5].tolist()}")
        if self.done.any():
            raise GameError(
                f"game(s) {self.game_ids[self.done][:5].tolist()} already ended after "
                f"{self.config.max_turns} turns; start a new GameBatch to play again"
            )
        act = act.astype(np.int64)
        score_before = self.score.copy()
        rows, a = self._rows, self.actor
        o = 1 - a
        self.symbol[rows, a] = _BASE[a]  # a player's symbol returns to base at the start of its turn

        e_a = self.energy[rows, a]
        e_o = self.energy[rows, o]
        p_a = self.pos[rows, a]
        p_o = self.pos[rows, o]

        # hop: +1 column, +1 score; landing on rough ground hurts
        hop = (act == Action.HOP) & (e_a > 0) & (p_a + 1 < WIDTH)
        p_a = np.where(hop, p_a + 1, p_a)
        self.score[rows, a] += hop
        e_a = e_a - (hop & self._rough_at(p_a))

        # jump: catch the fly in the own column
        jump = act == Action.JUMP
        self.symbol[rows[jump], a[jump]] = Symbol.JUMP
        fed = jump & self.flies[rows, p_a]
        e_a = np.where(fed, np.minimum(MAX_ENERGY, e_a + 4), e_a)
        self.flies[rows[fed], p_a[fed]] = False

        # leap: +5 columns for 1 energy; landing on rough ground hurts
        leap = (act == Action.LEAP) & (e_a > 0) & (p_a + 5 < WIDTH)
        self.symbol[rows[leap], a[leap]] = Symbol.LEAP
        p_a = np.where(leap, p_a + 5, p_a)
        e_a = e_a - leap - (leap & self._rough_at(p_a))

        # help: partner gains 2 (helper pays 1) if below the cap; then maybe the partner leaps
        help_ = (act == Action.HELP) & (e_a > 0)
        self.symbol[rows[help_], a[help_]] = Symbol.HELP
        reach = help_ & (p_o + 5 < WIDTH)
        give = reach & (e_o < MAX_ENERGY)
        e_o = np.where(give, np.minimum(MAX_ENERGY, e_o + 2), e_o)
        e_a = e_a - give
        if reach.any():
            u = streams.uniform(self.keys, self.turn, Slot.HELP_LEAP)[:, 0]
            partner_leap = reach & (u < self.config.help_leap_prob) & (e_o > 0)
            self.symbol[rows[partner_leap], o[partner_leap]] = Symbol.LEAP
            p_o = np.where(partner_leap, p_o + 5, p_o)
            e_o = e_o - partner_leap - (partner_leap & self._rough_at(p_o))

        self.energy[rows, a] = np.maximum(e_a, 0)
        self.energy[rows, o] = np.maximum(e_o, 0)
        self.pos[rows, a] = p_a
        self.pos[rows, o] = p_o

        self._update_flies(self.turn)
        moving = act != Action.JUMP
        if moving.any():
            self._scroll(moving)
        self.turn += 1
        return self.score - score_before

    # -- world -------------------------------------------------------------------

    def _rough_at(self, cols: np.ndarray) -> np.ndarray:
        return self.ground[self._rows, cols] == Symbol.ROUGH

    def _update_flies(self, turn: np.ndarray) -> None:
        """Empty columns get a fly with p = fly_spawn_prob, then every fly drifts -1/0/+1 (merging)."""
        bits = streams.draw_bits(self.keys, turn, Slot.FLIES, WIDTH)  # (B, 32)
        flies = self.flies | (streams.low_u32(bits) < self._spawn_threshold)
        drift = streams.high_choice(bits, 3) - 1  # (B, 32) in -1, 0, +1
        stay = flies & (drift == 0)
        right = flies & (drift == 1)
        left = flies & (drift == -1)
        new = stay.copy()
        new[:, 1:] |= right[:, :-1]
        new[:, :-1] |= left[:, 1:]
        new[:, -1] |= right[:, -1]  # clamped at the walls
        new[:, 0] |= left[:, 0]
        self.flies = new

    def _anchor(self) -> np.ndarray:
        """Column the scroll keeps at the centre: the players' mean at D = 1, the leader at D = 0."""
        d = self.config.dependency
        if d == 1.0:
            return (self.pos[:, 0] + self.pos[:, 1]) // 2
        lead = self.pos.max(axis=1)
        trail = self.pos.min(axis=1)
        return np.floor(((2.0 - d) * lead + d * trail) / 2.0).astype(np.int64)

    def _scroll(self, moving: np.ndarray) -> None:
        """After a moving action: the obstacle rate grows, then the world scrolls by the anchor's offset."""
        cfg = self.config
        self.rate = np.where(moving, np.minimum(cfg.rate_max, self.rate + cfg.rate_step), self.rate)
        shift = np.where(moving, self._anchor() - CENTER, 0)  # (B,)
        if not shift.any():
            return
        new_cols = self._new_columns(np.maximum(shift, 0))  # (B, _MAX_SHIFT)
        solid = np.full((self.size, _MAX_SHIFT), Symbol.SOLID, dtype=np.uint8)
        extended = np.concatenate([solid, self.ground, new_cols], axis=1)  # (B, 3*32)
        index = _MAX_SHIFT + shift[:, None] + _COLS[None, :]
        self.ground = np.take_along_axis(extended, index, axis=1)
        self.pos = np.clip(self.pos - shift[:, None], 0, WIDTH - 1)

    def _new_columns(self, count: np.ndarray) -> np.ndarray:
        """Draw ``count`` (B,) new right-hand columns per game; (B, _MAX_SHIFT) uint8 (SOLID past count)."""
        cols = np.full((self.size, _MAX_SHIFT), Symbol.SOLID, dtype=np.uint8)
        need = np.nonzero(count > 0)[0]
        if len(need) == 0:
            return cols
        n = int(count[need].max())
        bits = streams.draw_bits(self.keys[need], self.turn[need], Slot.COLUMNS, n)  # (k, n)
        start_run = streams.low_u32(bits) < (self.rate[need, None] * streams.TWO32).astype(np.uint64)
        width = streams.high_choice(bits, 4) + 1  # 1..4 rough columns
        queued = self.queued[need]
        for j in range(n):
            active = count[need] > j
            fresh = active & (queued == 0) & start_run[:, j]
            queued = np.where(fresh, width[:, j] + 1, queued)  # the run, then one solid column
            rough = active & (queued > 1)
            cols[need[rough], j] = Symbol.ROUGH
            queued = np.where(active & (queued > 0), queued - 1, queued)
        self.queued[need] = queued
        return cols
