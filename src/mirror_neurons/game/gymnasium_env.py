"""Frog and Toad as a one-agent Gymnasium environment: the learner plays Frog.

Registered as ``mirror_neurons/FrogAndToad-v0`` when ``mirror_neurons.game``
is imported. Toad is part of the environment, driven by a pluggable policy.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from mirror_neurons.errors import ConfigError, GameError
from mirror_neurons.game import adapters
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Action, Player

ENV_ID = "mirror_neurons/FrogAndToad-v0"

ToadPolicy = Callable[[np.ndarray], int]
"""Toad's policy: its own (100,) int64 state vector -> an action code 0..3."""


class FrogAndToadEnv(gym.Env):
    """Frog and Toad from Frog's side: the agent plays Frog, Toad follows a fixed policy.

    ## Description

    The two-player game of SPEC section 2 (see ``pettingzoo_env.FrogAndToadAEC``
    for the rules in brief). One ``step`` is one cycle: Frog (the agent) takes
    its turn, then, unless the game has just ended, Toad takes its turn with
    ``toad_policy``. The agent observes the world again when it is Frog's turn.

    ## Action space

    ``Discrete(4)``: 0 hop, 1 jump, 2 leap, 3 help (``constants.Action``; the
    table is in ``FrogAndToadAEC``'s docstring). An action outside 0..3 raises
    ``GameError``.

    ## Observation space

    ``Box(0, high, (100,), int64)``: the state vector of SPEC section 3 from
    Frog's view, ``GameBatch.observe(Player.FROG)``: ground row (0-31), players
    row (32-63), flies row (64-95), own symbol, energy, score, position (96-99).
    ``high`` is ``adapters.observation_high(config)``.

    ## Toad

    ``toad="random"`` (default): the published random policy (hop 50 %, jump
    25 %, leap 12.5 %, help 12.5 %) drawn from the game's own random stream, so
    an episode is a pure function of the seed and Frog's actions. Or any
    callable ``policy(toad_observation) -> action`` taking Toad's own-view
    (100,) int64 state vector; it must bring its own (seeded) randomness.

    ## Rewards

    ``reward="score"`` (default): the change in Frog's score over the cycle
    (1 when Frog hops successfully, else 0). ``reward="team"``: the change in
    both players' scores summed (Frog's and Toad's hops), a cooperative signal.

    ## Starting state

    Frog at column 15, Toad at 16, energy 20 each, score 0, solid ground.

    ## Episode end

    * Termination: the game has played ``max_turns`` turns (``GameConfig``,
      default 1000 = 500 steps).
    * Truncation: none from the environment; wrap it in ``TimeLimit``
      (``gym.make(..., max_episode_steps=n)``) for shorter episodes.

    ## Arguments

    ``gym.make("mirror_neurons/FrogAndToad-v0", toad="random", reward="score",
    render_mode=None, config=None, **game_options)``, ``game_options`` being
    ``GameConfig`` fields such as ``dependency``, ``veil`` or ``max_turns``.

    ## Seeding

    ``reset(seed=s)`` plays game 0 of seed ``s``, the game of ``GameBatch(config, s, [0])``
    (``adapters.OneGame`` plays it on the scalar twin, ``rules.Game``); each later
    ``reset()`` without a seed plays the next game of ``s``. A first
    reset without a seed draws ``s`` from ``self.np_random``.

    ## Info

    ``turn`` (turns played), ``scores`` (Frog's, Toad's), and after a step
    ``toad_action`` (-1 when the game ended before Toad's turn).

    ## Rendering

    ``render_mode="ansi"``: ``render()`` returns the text picture of
    ``render.render``; ``"human"``: prints it after every reset and step;
    ``"rgb_array"``: returns a (64, 512, 3) uint8 image of the same board
    (``render.picture_rgb``: coloured cells, energy bars), which is what
    Stable-Baselines3's ``make_vec_env`` asks for by default and what
    ``gymnasium.wrappers.RecordVideo`` records (writing the file needs
    ``moviepy``). Any other mode raises ``adapters.UnsupportedRenderMode``,
    a Gymnasium ``error.UnsupportedMode``.

    ## Version history

    * v0: initial version (mirror-neurons 0.1); later the ``rgb_array`` render mode, with no change to the game.
    """

    metadata = {"render_modes": list(adapters.RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        toad: str | ToadPolicy = "random",
        reward: str = "score",
        render_mode: str | None = None,
        config: GameConfig | None = None,
        **game_options,
    ):
        adapters.check_render_mode(render_mode)
        if not (toad == "random" or callable(toad)):
            raise ConfigError(f"toad must be 'random' or a callable observation -> action, got {toad!r}")
        self.config = adapters.make_config(config, game_options)
        self.toad = toad
        self.reward_mode = adapters.check_reward_mode(reward)
        self.render_mode = render_mode
        self.observation_space = adapters.observation_space(self.config)
        self.action_space = adapters.action_space()
        self._seeds = adapters.EpisodeSeeds(fresh=lambda: int(self.np_random.integers(2**63 - 1)))
        self.one: adapters.OneGame | None = None
        self.last_actions: list[Action | None] = [None, None]

    def _observation(self) -> np.ndarray:
        return self.one.observe(Player.FROG)

    def _info(self) -> dict:
        return {"turn": self.one.turn, "scores": self.one.scores()}  # (Frog's, Toad's)

    def _toad_action(self) -> int:
        if self.toad == "random":
            return self.one.random_action()
        return adapters.check_action(self.toad(self.one.observe(Player.TOAD)), "toad")

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        game_seed, game_id = self._seeds.next(seed)
        self.one = adapters.OneGame(self.config, game_seed, game_id)
        self.last_actions = [None, None]
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.one is None:
            raise GameError("step() before reset(); call reset() first")
        code = adapters.check_action(action, "frog")
        reward = adapters.rewards(self.one.step(code), self.reward_mode)[Player.FROG]
        self.last_actions[Player.FROG] = Action(code)
        toad_action = -1
        if not self.one.done:
            toad_action = self._toad_action()
            reward += adapters.rewards(self.one.step(toad_action), self.reward_mode)[Player.FROG]
            self.last_actions[Player.TOAD] = Action(toad_action)
        terminated = self.one.done
        if self.render_mode == "human":
            self.render()
        info = {**self._info(), "toad_action": toad_action}
        return self._observation(), float(reward), terminated, False, info

    def render(self) -> str | np.ndarray | None:
        return adapters.render_frame(self.one, self.last_actions, self.render_mode)


def register() -> None:
    """Register ``mirror_neurons/FrogAndToad-v0`` with Gymnasium (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point=FrogAndToadEnv)
