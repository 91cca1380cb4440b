"""Frog and Toad as a Gymnasium ``VectorEnv``: thousands of games per call on the batched engine (issue 17).

A thin adapter: the rules are ``engine.GameBatch``; this module only turns
its turns into the vector API (batched observations, rewards, autoreset) and
names the reward settings of the RL experiment.
"""

from __future__ import annotations

import secrets

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from mirror_neurons.errors import ConfigError, GameError
from mirror_neurons.game import adapters
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import OWN_POSITION, OWN_SCORE, OWN_SYMBOL, PLAYERS, STATE_SIZE, Player, Symbol
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.scripted import SCRIPTED, BatchPolicy

REWARDS = {
    "score": "the change in Frog's score (its successful hops): the existing single env's default",
    "team": "the change in both players' scores (Frog's and Toad's hops)",
    "selfish": "Frog's score change + survival x [Frog's energy > 0 after the cycle]: own score and survival",
    "shared": "both scores' change + survival x ([Frog's energy > 0] + [Toad's energy > 0]): both players' score and survival",
}
"""Reward settings, each paid to Frog once per cycle (Frog's turn, then Toad's)."""

PARTNERS = tuple(SCRIPTED)
"""Scripted partners by name (``game.scripted``); a callable ``GameBatch -> actions`` is also accepted
(a frozen network or a second learner, built by ``train.ppo``)."""

STATE_KEYS = ("rough", "flies", "pos", "energy", "score", "symbol", "rate", "queued", "turn", "game_ids")


def check_reward(reward: str) -> str:
    if reward not in REWARDS:
        raise ConfigError(f"unknown reward setting {reward!r}; choose one of {', '.join(REWARDS)}")
    return reward


def resolve_partner(partner: str | BatchPolicy) -> BatchPolicy:
    """A partner by name (``PARTNERS``) or a callable as it is."""
    if callable(partner):
        return partner
    if partner not in SCRIPTED:
        raise ConfigError(f"unknown partner setting {partner!r}; choose one of {', '.join(PARTNERS)}, or pass a policy")
    return SCRIPTED[partner]


def learner_view(batch: GameBatch, player: int) -> np.ndarray:
    """(B, 100) uint8: ``player``'s state vector as a network reads it.

    Indices 96 (own symbol), 98 (score) and 99 (position) are zero, as in the
    dataset (SPEC section 4), so the learner finds itself in the players row.
    Toad's view swaps the base symbols (Toad shows 4, Frog 5): a network
    trained as Frog reads Toad's board as its own.
    """
    x = batch.observe(player)
    x[:, [OWN_SYMBOL, OWN_SCORE, OWN_POSITION]] = 0
    if player == Player.TOAD:
        row = x[:, PLAYERS]
        frog, toad = row == Symbol.FROG, row == Symbol.TOAD
        row[frog], row[toad] = Symbol.TOAD, Symbol.FROG
        x[:, PLAYERS] = row
    return x.astype(np.uint8)


def cycle_reward(reward: str, score_delta: np.ndarray, energy: np.ndarray, survival: float) -> np.ndarray:
    """(B,) float32 reward of one cycle: ``score_delta`` (B, 2) and ``energy`` (B, 2) after it (Frog, Toad)."""
    alive = (energy > 0).astype(np.float32)
    if reward == "score":
        r = score_delta[:, 0]
    elif reward == "team":
        r = score_delta.sum(1)
    elif reward == "selfish":
        r = score_delta[:, 0] + survival * alive[:, 0]
    else:
        r = score_delta.sum(1) + survival * alive.sum(1)
    return r.astype(np.float32)


class FrogAndToadVectorEnv(VectorEnv):
    """``num_envs`` games of Frog and Toad; the learner plays Frog, a partner policy plays Toad.

    ## Actions, observations

    ``action_space``: ``MultiDiscrete([4] * num_envs)`` (0 hop, 1 jump, 2 leap,
    3 help). ``observation_space``: ``Box(0, high, (num_envs, 100), uint8)``,
    Frog's state vector with indices 96, 98, 99 zero (``learner_view``).

    ## A step

    One step is one cycle in every game: Frog acts, then (unless the game has
    just ended) Toad acts with ``partner``, which sees the whole batch
    (``GameBatch -> (B,) actions``): a scripted policy by name (``PARTNERS``),
    a frozen network or a second learner (callables built by ``train.ppo``).

    ## Rewards

    ``reward``: one of ``REWARDS`` (paid to Frog per cycle). ``survival`` is the
    weight of each player's survival term (energy > 0: able to move) in
    ``selfish`` and ``shared``. The dependency D is the game's knob:
    ``dependency=`` (``GameConfig``), as every other game option.

    ## Episodes, autoreset, seeding

    Every game lasts ``max_turns`` turns, so all games of the vector end on the
    same step (``terminated`` is all True then; no truncation). Autoreset is
    ``SAME_STEP``: that step returns the first observation of the next games,
    and ``info["final_obs"]`` (with mask ``info["_final_obs"]``) the last one of
    the finished games; ``info["episode_return"]`` and ``info["episode_score"]``
    (B, 2) summarise the finished episodes. ``reset(seed=s)`` plays games
    ``k * num_envs + i`` of the per-game random streams of ``s`` in episode k
    (``GameBatch(config, s, ids)``), so game i of the first episode is the game
    ``FrogAndToadEnv`` plays after ``reset(seed=s)`` when i = 0. A list of seeds
    is refused: the streams already give every game its own.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1024,
        *,
        partner: str | BatchPolicy = "random",
        reward: str = "shared",
        survival: float = 1.0,
        config: GameConfig | None = None,
        **game_options,
    ):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ConfigError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if isinstance(survival, bool) or not isinstance(survival, (int, float)) or not np.isfinite(survival):
            raise ConfigError(f"survival must be a finite number, got {survival!r}")
        self.num_envs = int(num_envs)
        self.config = adapters.make_config(config, game_options)
        self.reward = check_reward(reward)
        self.survival = float(survival)
        self.partner = resolve_partner(partner)
        self.partner_name = partner if isinstance(partner, str) else getattr(partner, "name", "callable")
        self.single_observation_space = spaces.Box(
            0, adapters.observation_high(self.config).astype(np.uint8), (STATE_SIZE,), np.uint8
        )
        self.single_action_space = spaces.Discrete(4)
        self.observation_space = spaces.Box(
            0, np.tile(self.single_observation_space.high, (self.num_envs, 1)), (self.num_envs, STATE_SIZE), np.uint8
        )
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, 4))
        self.seed: int | None = None
        self.episode = 0
        self.batch: GameBatch | None = None
        self._return = np.zeros(self.num_envs, dtype=np.float64)

    # -- the vector API ----------------------------------------------------------------

    def reset(self, *, seed: int | list | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            if isinstance(seed, (list, tuple, np.ndarray)):
                raise ConfigError(
                    "reset takes one seed for the whole vector (game i plays stream (seed, i)), not a list"
                )
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
                raise ConfigError(f"seed must be an integer in 0..2**64-1, got {seed!r}")
            self.seed = int(seed)
        elif self.seed is None:
            self.seed = secrets.randbits(63)
        self.episode = 0
        self._start_episode()
        return learner_view(self.batch, Player.FROG), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if self.batch is None:
            raise GameError("step() before reset(); call reset() first")
        b = self.batch
        if b.actor[0] != Player.FROG:
            raise GameError("the vector env is out of step (Toad to move); reset() it")
        delta = b.step(np.asarray(actions, dtype=np.int64))
        if not b.done[0]:
            delta = delta + b.step(np.asarray(self.partner(b), dtype=np.int64))
        reward = cycle_reward(self.reward, delta, b.energy, self.survival)
        self._return += reward
        done = bool(b.done[0])
        terminated = np.full(self.num_envs, done)
        truncated = np.zeros(self.num_envs, dtype=bool)
        obs = learner_view(b, Player.FROG)
        info: dict = {}
        if done:
            info = {"final_obs": obs, "_final_obs": terminated.copy(), "episode_return": self._return.copy(),
                    "episode_score": b.score.copy()}  # fmt: skip
            self.episode += 1
            self._start_episode()
            obs = learner_view(self.batch, Player.FROG)
        return obs, reward, terminated, truncated, info

    def _start_episode(self) -> None:
        ids = np.arange(self.num_envs, dtype=np.int64) + self.episode * self.num_envs
        self.batch = GameBatch(self.config, self.seed, ids)
        self._return[:] = 0.0

    # -- state, for resuming a training run exactly ---------------------------------------

    def get_state(self) -> dict[str, np.ndarray]:
        """Every array the games' future depends on, plus the episode counter and running returns."""
        b = self.batch
        return {
            "rough": b.rough_mask.copy(), "flies": b.fly_mask.copy(), "pos": b.pos.copy(), "energy": b.energy.copy(),
            "score": b.score.copy(), "symbol": b.symbol.copy(), "rate": b.rate.copy(), "queued": b.queued.copy(),
            "turn": np.array([int(b.turn[0])]), "game_ids": b.game_ids.astype(np.int64),
            "episode_seed": np.array([self.episode, self.seed], dtype=np.uint64), "episode_return": self._return.copy(),
        }  # fmt: skip

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        episode, seed = (int(v) for v in state["episode_seed"])
        if len(state["game_ids"]) != self.num_envs:
            raise ConfigError(f"saved env state holds {len(state['game_ids'])} games, this env {self.num_envs}")
        self.seed, self.episode = seed, episode
        b = GameBatch(self.config, seed, state["game_ids"])
        b.ground = np.where(((state["rough"][:, None] >> np.arange(32)) & 1).astype(bool), Symbol.ROUGH, Symbol.SOLID)
        b.flies = ((state["flies"][:, None] >> np.arange(32)) & 1).astype(bool)
        b.pos, b.energy, b.score, b.symbol = state["pos"], state["energy"], state["score"], state["symbol"]
        b.rate[:], b.queued[:] = state["rate"], state["queued"]
        b.turn = int(state["turn"][0])
        self.batch = b
        self._return[:] = state["episode_return"]
