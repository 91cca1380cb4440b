"""The batched Frog and Toad engine: pure NumPy, arrays over games.

``GameBatch`` holds B independent games and advances all of them by one turn
per ``step`` with no Python loop over games. Rules are SPEC section 2, in the
order of the published game loop: the acting player's action, then the world
update (flies spawn, then drift), then, after a moving action (hop, leap,
help, successful or not), the obstacle rate grows and the world scrolls.
Finally the next actor's turn starts and its symbol returns to its base
symbol, so a state observed at the start of a player's turn shows that player
as ``f``/``t`` (or distress) and its partner with the partner's last action.

Randomness comes from ``streams``: every draw is a function of
(seed, game index, turn, slot, i), so a game's trajectory depends only on
those and on the actions taken. ``rules.Game`` is the one-game twin written
rule by rule in plain Python; tests check that the two agree step by step.

All games of a batch take their turns together, so the turn counter and hence
the actor (Frog on even turns) are shared: per-player arrays are stored
player-major, ``(2, B)``, and the actor's row is a view, not a gather.

For speed, each game's 32-column ground and flies rows are stored as 32-bit
masks in an int64 (bit ``c`` = column ``c``): scrolling is a shift, catching a
fly clears a bit, and fly drift is three masks. ``ground`` and ``flies``
decode them on demand (read-only arrays; assign a whole array to change them).

Public arrays (B = number of games):
    ground  (B, 32) uint8   Symbol.SOLID / Symbol.ROUGH          (decoded, read-only)
    flies   (B, 32) bool                                         (decoded, read-only)
    pos     (B, 2)  int64   column of Frog (0) and Toad (1)      (writable view)
    energy  (B, 2)  int64   0..20                                (writable view)
    score   (B, 2)  int64                                        (writable view)
    symbol  (B, 2)  uint8   base or last-action symbol; distress is derived from the ground
    rate    (B,)    float64 obstacle rate
    queued  (B,)    int64   columns left in the queued obstacle run (rough ones, then one solid)
    turn    (B,)    int64   turns taken, the same in every game (read-only)
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

_COLS = np.arange(WIDTH, dtype=np.int64)
_BITS = np.int64(1) << _COLS  # (32,) bit of each column
_ALL = (1 << WIDTH) - 1  # mask of the 32 columns
_LAST = 1 << (WIDTH - 1)
_LOW32 = np.uint64(0xFFFFFFFF)
_S11, _S32 = np.uint64(11), np.uint64(32)
_BASE = np.array([Symbol.FROG, Symbol.TOAD], dtype=np.uint8)
_LEAP_LEN = 5
_FLY_ENERGY = 4
_HELP_ENERGY = 2
# plain ints: comparing arrays with IntEnum members costs an enum attribute lookup per use
_HOP, _JUMP, _LEAP, _HELP = (int(a) for a in (Action.HOP, Action.JUMP, Action.LEAP, Action.HELP))
_SYM_JUMP, _SYM_LEAP, _SYM_HELP = int(Symbol.JUMP), int(Symbol.LEAP), int(Symbol.HELP)
_SLOT_FLIES, _SLOT_SPAWN, _SLOT_HELP, _SLOT_COLUMNS = (
    int(Slot.FLIES),
    int(Slot.FLY_SPAWN),
    int(Slot.HELP_LEAP),
    int(Slot.COLUMNS),
)


def _encode(rows: np.ndarray) -> np.ndarray:
    """(B, 32) bool -> (B,) int64 column masks."""
    return (np.asarray(rows, dtype=bool).astype(np.int64) << _COLS).sum(axis=1)


def _decode(masks: np.ndarray) -> np.ndarray:
    """(B,) int64 column masks -> (B, 32) bool."""
    return ((masks[:, None] >> _COLS) & 1).astype(bool)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


_SYMBOLS = np.array(
    [[Symbol.FROG, Symbol.JUMP, Symbol.LEAP, Symbol.HELP], [Symbol.TOAD, Symbol.JUMP, Symbol.LEAP, Symbol.HELP]],
    dtype=np.uint8,
)
"""Symbol shown after each action (index: player, action); a hop shows the base symbol."""
_SPAWN_BLOCKS = (2, 8)  # spawn draws in the first block (games that spawn at all), then per block
_DRIFT_BLOCKS = (2, 8)  # drift rounds in the first extra block (games with undecided flies), then per block


def _drift_rounds(undecided: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resolve bit-sliced drift rounds: ``undecided`` (k,) fly masks, ``bits`` (R, k) one draw per round.

    Per round, column c's 2-bit number (bit c of the high half, bit c of the low half) is 00 left,
    01 stay, 10 right, 11 undecided. A fly is decided in the first round where it is not 11:
    ``before[r]`` = flies undecided in rounds 0..r-1 (a running AND of the 11 masks).
    Returns the (k,) masks of flies moving left, moving right, and still undecided.
    """
    low = (bits & _LOW32).view(np.int64)
    high = (bits >> _S32).view(np.int64)
    again = low & high  # (R, k) the 11 columns of each round
    before = np.empty_like(again)
    before[0] = undecided
    np.bitwise_and(np.bitwise_and.accumulate(again[:-1], axis=0), undecided, out=before[1:])
    decided = before & ~again
    left = np.bitwise_or.reduce(decided & ~(high | low), axis=0)
    right = np.bitwise_or.reduce(decided & high, axis=0)  # decided and high bit 1: 10
    return left, right, before[-1] & again[-1]


class GameBatch:
    """B independent games advanced together; ``GameBatch(..., game_ids=[i])`` is one game."""

    def __init__(self, config: GameConfig, seed: int, game_ids: np.ndarray | list[int] | int):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise GameError(
                f"seed must be an integer in 0..2**64-1 (the streams are 64-bit), got {seed!r}; pass e.g. seed=0"
            )
        ids = np.arange(game_ids) if np.isscalar(game_ids) else np.asarray(game_ids)
        if ids.ndim != 1 or len(ids) == 0 or ids.dtype.kind not in "iu" or (ids < 0).any():
            raise GameError(f"game_ids must be a non-empty 1-D array of indices >= 0, got {game_ids!r}")
        self.config = config
        self.seed = int(seed)
        self.game_ids = ids.astype(np.uint64)
        self.keys = streams.game_keys(self.seed, self.game_ids)
        b = len(ids)
        self._rough = np.zeros(b, dtype=np.int64)  # ground mask: bit c set = column c rough
        self._flies = np.zeros(b, dtype=np.int64)  # flies mask
        self._pos = np.empty((2, b), dtype=np.int64)
        self._pos[0], self._pos[1] = FROG_START, TOAD_START
        self._energy = np.full((2, b), MAX_ENERGY, dtype=np.int64)
        self._score = np.zeros((2, b), dtype=np.int64)
        self._symbol = np.repeat(_BASE[:, None], b, axis=1)
        self.rate = np.zeros(b, dtype=np.float64)
        self.queued = np.zeros(b, dtype=np.int64)
        self._turn = 0
        thresholds = streams.spawn_thresholds(config.fly_spawn_prob)  # (33,) decreasing
        self._spawn_gaps = thresholds[1:][::-1].copy()  # ascending, for searchsorted
        self._no_spawn = thresholds[WIDTH]  # u53 below this: the gap passes all 32 columns
        self._update_flies(-1)  # the reset draws at turn -1

    # -- state -----------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.game_ids)

    @property
    def ground(self) -> np.ndarray:
        """(B, 32) uint8 Symbol.SOLID / ROUGH (a decoded copy, read-only; assign to change)."""
        return _readonly(_decode(self._rough).astype(np.uint8) + np.uint8(Symbol.SOLID))

    @ground.setter
    def ground(self, value: np.ndarray) -> None:
        v = np.broadcast_to(np.asarray(value), (self.size, WIDTH))
        if not np.isin(v, (Symbol.SOLID, Symbol.ROUGH)).all():
            raise GameError("ground must hold only Symbol.SOLID (1) and Symbol.ROUGH (2)")
        self._rough = _encode(v == Symbol.ROUGH)

    @property
    def flies(self) -> np.ndarray:
        """(B, 32) bool (a decoded copy, read-only; assign to change)."""
        return _readonly(_decode(self._flies))

    @flies.setter
    def flies(self, value: np.ndarray) -> None:
        self._flies = _encode(np.broadcast_to(np.asarray(value), (self.size, WIDTH)))

    @property
    def rough_mask(self) -> np.ndarray:
        """(B,) int64: bit c set = ground column c is rough (the stored form of ``ground``; read-only)."""
        return _readonly(self._rough.copy())

    @property
    def fly_mask(self) -> np.ndarray:
        """(B,) int64: bit c set = a fly over column c (the stored form of ``flies``; read-only)."""
        return _readonly(self._flies.copy())

    @property
    def pos(self) -> np.ndarray:
        """(B, 2) int64 columns (a writable view)."""
        return self._pos.T

    @pos.setter
    def pos(self, value: np.ndarray) -> None:
        self._pos.T[...] = value

    @property
    def energy(self) -> np.ndarray:
        """(B, 2) int64 energies (a writable view)."""
        return self._energy.T

    @energy.setter
    def energy(self, value: np.ndarray) -> None:
        self._energy.T[...] = value

    @property
    def score(self) -> np.ndarray:
        """(B, 2) int64 scores (a writable view)."""
        return self._score.T

    @score.setter
    def score(self, value: np.ndarray) -> None:
        self._score.T[...] = value

    @property
    def symbol(self) -> np.ndarray:
        """(B, 2) uint8 base or last-action symbols (a writable view)."""
        return self._symbol.T

    @symbol.setter
    def symbol(self, value: np.ndarray) -> None:
        self._symbol.T[...] = value

    @property
    def turn(self) -> np.ndarray:
        """(B,) int64 turns taken: the same in every game of a batch (read-only)."""
        return np.broadcast_to(np.int64(self._turn), (self.size,))

    @turn.setter
    def turn(self, value: int | np.ndarray) -> None:
        v = np.unique(np.asarray(value))
        if v.size != 1 or v[0] < 0:
            raise GameError(f"all games of a batch share one turn >= 0, got {value!r}")
        self._turn = int(v[0])

    # -- queries ---------------------------------------------------------------

    @property
    def actor(self) -> np.ndarray:
        """(B,) index of the player whose turn it is (0 Frog, 1 Toad); the same in every game."""
        return np.broadcast_to(np.int64(self._turn & 1), (self.size,))

    @property
    def done(self) -> np.ndarray:
        """(B,) bool: the episode has used all its turns."""
        return np.broadcast_to(self._turn >= self.config.max_turns, (self.size,))

    def distress(self) -> np.ndarray:
        """(B, 2) bool: the player stands on rough ground."""
        return ((self._rough >> self._pos) & 1).astype(bool).T

    def displayed_symbols(self) -> np.ndarray:
        """(B, 2) uint8: what the players row shows for each player.

        Distress (standing on rough ground) shows 9. Below ``veil`` = 1, Toad's
        distress shows 10 unless this state's veil draw says the code is shared.
        """
        shown = np.where(self.distress(), np.uint8(Symbol.DISTRESS), self.symbol)
        if self.config.veil < 1.0:
            shared = streams.uniform(self.keys, self._turn, Slot.VEIL)[:, 0] < self.config.veil
            toad_distress = (shown[:, 1] == Symbol.DISTRESS) & ~shared
            shown[toad_distress, 1] = Symbol.TOAD_DISTRESS
        return shown

    def observe(self, player: int | np.ndarray) -> np.ndarray:
        """The 100-integer state vector of SPEC section 3 from ``player``'s view: (B, 100) int64."""
        b = self.size
        rows = np.arange(b)
        who = np.broadcast_to(np.asarray(player, dtype=np.int64), (b,))
        out = np.zeros((b, STATE_SIZE), dtype=np.int64)
        out[:, 0:32] = ((self._rough[:, None] >> _COLS) & 1) + Symbol.SOLID
        shown = self.displayed_symbols()
        out[rows, 32 + self._pos[0]] = shown[:, 0]
        out[rows, 32 + self._pos[1]] = shown[:, 1]  # Toad drawn last: shown when they share a column
        out[:, 64:96] = ((self._flies[:, None] >> _COLS) & 1) * Symbol.FLY
        out[:, OWN_SYMBOL] = shown[rows, who]
        out[:, OWN_ENERGY] = self._energy[who, rows]
        out[:, OWN_SCORE] = self._score[who, rows]
        out[:, OWN_POSITION] = self._pos[who, rows]
        return out

    # -- the turn ----------------------------------------------------------------

    def step(self, actions: np.ndarray | list[int] | int) -> np.ndarray:
        """Play one turn in every game: the actor takes ``actions`` (B,) codes 0..3.

        Returns (B, 2) int64, the change in each player's score this turn.
        """
        act = np.asarray(actions)
        if act.shape != (self.size,):
            if act.ndim > 1 or act.size not in (1, self.size):
                raise GameError(f"actions must be one per game ({self.size}), got shape {act.shape}")
            act = np.broadcast_to(act.reshape(-1), (self.size,))
        if act.dtype.kind not in "iu" or act.min() < 0 or act.max() > 3:
            bad = act[(act < 0) | (act > 3)] if act.dtype.kind in "iu" else act
            raise GameError(f"actions must be integers 0..3 (hop, jump, leap, help), got {bad[:5].tolist()}")
        if self._turn >= self.config.max_turns:
            raise GameError(
                f"game(s) {self.game_ids[:5].tolist()} already ended after "
                f"{self.config.max_turns} turns; start a new GameBatch to play again"
            )
        t = self._turn
        a, o = t & 1, 1 - (t & 1)
        p_a, e_a, p_o, e_o = self._pos[a], self._energy[a], self._pos[o], self._energy[o]  # (B,) views
        able = e_a > 0

        # hop (+1 column, +1 score) and leap (+5 columns, 1 energy); landing on rough ground hurts
        hop = (act == _HOP) & able & (p_a < WIDTH - 1)
        leap = (act == _LEAP) & able & (p_a < WIDTH - _LEAP_LEN)
        p_a += hop
        p_a += _LEAP_LEN * leap
        e_a -= leap
        e_a -= (self._rough >> p_a) & (hop | leap)  # bit 0: rough under the landing column
        self._score[a] += hop

        # jump: catch the fly in the own column (works at energy 0)
        jump = act == _JUMP
        fed = (self._flies >> p_a) & jump  # (B,) int64 0/1
        if fed.any():
            np.minimum(e_a + _FLY_ENERGY * fed, MAX_ENERGY, out=e_a)
            self._flies &= ~(fed << p_a)

        # help: partner gains 2 (helper pays 1) if below the cap; then maybe the partner leaps
        help_ = (act == _HELP) & able
        self._symbol[a] = _SYMBOLS[a][act * (jump | leap | help_)]  # a failed leap or help shows the base
        reach = help_ & (p_o < WIDTH - _LEAP_LEN)
        if reach.any():
            give = reach & (e_o < MAX_ENERGY)
            np.minimum(e_o + _HELP_ENERGY * give, MAX_ENERGY, out=e_o)
            e_a -= give
            helped = np.nonzero(reach)[0]  # the partner leaps with help_leap_prob (rules of leap)
            u = (streams.draw_at(self.keys[helped], t, _SLOT_HELP, 0) >> _S11).astype(np.float64) * 2.0**-53
            leapers = helped[(u < self.config.help_leap_prob) & (e_o[helped] > 0)]
            p_o[leapers] += _LEAP_LEN
            e_o[leapers] -= 1 + ((self._rough[leapers] >> p_o[leapers]) & 1)
        np.maximum(e_a, 0, out=e_a)  # a leap onto rough ground at energy 1 would reach -1
        np.maximum(e_o, 0, out=e_o)

        self._update_flies(t)
        moving = ~jump
        if moving.any():
            self._scroll(moving)
        self._symbol[o] = _BASE[o]  # the next actor's turn starts: its symbol returns to base
        self._turn = t + 1
        delta = np.zeros((self.size, 2), dtype=np.int64)
        delta[:, a] = hop
        return delta

    # -- world -------------------------------------------------------------------

    def _update_flies(self, turn: int) -> None:
        """Empty columns get a fly with p = fly_spawn_prob, then every fly drifts -1/0/+1 (merging).

        Draws as ``streams`` describes: geometric gaps for the spawns, bit-sliced rounds for the
        drift. Every game needs the first spawn gap and drift rounds 0 and 1, hashed in one call;
        the few games that need more get them in blocks, resolved without a loop per draw.
        """
        keys, flies = self.keys, self._flies
        offsets = np.array(
            [
                streams.offset(turn, _SLOT_SPAWN, 0),
                streams.offset(turn, _SLOT_FLIES, 0),
                streams.offset(turn, _SLOT_FLIES, 1),
            ],
            dtype=np.uint64,
        )
        first = streams.mix64(offsets[:, None] + keys)  # (3, B)
        # spawn: first column = gap 0; each next one = previous + 1 + next gap; stop past column 31
        u53 = first[0] >> _S11
        live = np.nonzero(u53 >= self._no_spawn)[0]  # below it, the first gap passes all 32 columns
        col = WIDTH - np.searchsorted(self._spawn_gaps, u53[live], side="right")  # (k,) < 32
        i = 1
        while len(live):
            n = min(_SPAWN_BLOCKS[min(i, 2) - 1], 1 + WIDTH - i)
            gaps = self._spawn_gap(streams.draw_block(keys[live], turn, _SLOT_SPAWN, i, n))  # (n, k)
            cols = np.concatenate([col[None], col + np.cumsum(gaps + 1, axis=0)])  # (n+1, k)
            spawned = (np.int64(1) << np.minimum(cols, 63)) & _ALL  # columns past 31 add nothing
            flies[live] |= np.bitwise_or.reduce(spawned, axis=0)
            inside = cols[-1] < WIDTH  # more spawns to come: draw the next block
            live, col, i = live[inside], cols[-1][inside], i + n
        # drift: rounds 0 and 1 for everyone, then blocks of rounds for games with undecided flies
        left, right, undecided = _drift_rounds(flies, first[1:])
        live = np.nonzero(undecided)[0]
        r = 2
        while len(live) and r < streams.DRIFT_ROUNDS:
            n = min(_DRIFT_BLOCKS[r > 2], streams.DRIFT_ROUNDS - r)
            more_left, more_right, still = _drift_rounds(
                undecided[live], streams.draw_block(keys[live], turn, _SLOT_FLIES, r, n)
            )
            left[live] |= more_left
            right[live] |= more_right
            undecided[live] = still
            live, r = live[still != 0], r + n
        stay = flies ^ left ^ right  # left and right are disjoint subsets of flies
        self._flies = stay | ((right << 1) & _ALL) | (right & _LAST) | (left >> 1) | (left & 1)

    def _spawn_gap(self, bits: np.ndarray) -> np.ndarray:
        """Columns skipped before the next spawn: 0..32, P(gap >= j) = (1-p)**j."""
        return WIDTH - np.searchsorted(self._spawn_gaps, bits >> _S11, side="right")

    def _anchor(self) -> np.ndarray:
        """Column the scroll keeps at the centre: the players' mean at D = 1, the leader at D = 0."""
        d = self.config.dependency
        if d == 1.0:
            return (self._pos[0] + self._pos[1]) >> 1
        lead = np.maximum(self._pos[0], self._pos[1])
        trail = np.minimum(self._pos[0], self._pos[1])
        return np.floor(((2.0 - d) * lead + d * trail) / 2.0).astype(np.int64)

    def _scroll(self, moving: np.ndarray) -> None:
        """After a moving action: the obstacle rate grows, then the world scrolls by the anchor's offset."""
        cfg = self.config
        grown = np.minimum(self.rate + cfg.rate_step, cfg.rate_max)
        np.copyto(self.rate, grown, where=moving)
        shift = self._anchor() - CENTER  # (B,)
        shift *= moving
        need = np.nonzero(shift > 0)[0]  # games that append columns on the right
        if len(need):
            count = shift[need]
            new = self._new_columns(need, count)
            self._rough[need] = (self._rough[need] >> count) | (new << (WIDTH - count))
        left = np.nonzero(shift < 0)[0]  # games that prepend solid columns on the left
        if len(left):
            self._rough[left] = (self._rough[left] << -shift[left]) & _ALL
        self._pos -= shift
        np.maximum(self._pos, 0, out=self._pos)
        np.minimum(self._pos, WIDTH - 1, out=self._pos)

    def _new_columns(self, need: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Rough-column masks of ``count`` (k,) new columns for games ``need``; bit j = j-th new column."""
        n = int(count.max())
        bits = streams.draw_block(self.keys[need], self._turn, _SLOT_COLUMNS, 0, n)  # (n, k)
        threshold = (self.rate[need] * streams.TWO32).astype(np.uint64)
        active = count > np.arange(n)[:, None]  # (n, k) column j is one of this game's new columns
        may_start = active & ((bits & _LOW32) < threshold)  # a run starts here if none is queued
        run = streams.high_choice(bits, 4) + 2  # 1..4 rough columns, then one solid: 2..5 queued
        queued = self.queued[need]
        new = np.zeros(len(need), dtype=np.int64)
        for j in range(n):
            queued = np.where(may_start[j] & (queued == 0), run[j], queued)
            new |= ((queued > 1) & active[j]).astype(np.int64) << j
            queued -= (queued > 0) & active[j]
        self.queued[need] = queued
        return new
