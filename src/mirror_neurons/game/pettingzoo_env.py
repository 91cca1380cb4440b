"""Frog and Toad as PettingZoo environments: ``env()`` (AEC) and ``parallel_env()`` (Parallel).

Both classes translate between one game and PettingZoo's conventions: the game
is ``adapters.OneGame``, which plays the scalar ``rules.Game`` (the batched
engine's twin, tested turn for turn against it), and every rule is there.
The AEC class is the game as played: turns alternate, each player sees the
other's last move. The Parallel class is a simultaneous-move reading of it for
libraries that need one (see its docstring for what a parallel step means).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers

from mirror_neurons.errors import ConfigError, GameError
from mirror_neurons.game import adapters
from mirror_neurons.game.adapters import AGENTS
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Action, Player

_METADATA = {
    "render_modes": list(adapters.RENDER_MODES),
    "is_parallelizable": True,
    "render_fps": 4,
}


def _set_options(env, config, game_options: dict, max_cycles: int | None, reward: str, render_mode: str | None) -> None:
    """Check both environments' options and set what they share: the game, its spaces, the episode seeds."""
    adapters.check_render_mode(render_mode)
    if max_cycles is not None and (not isinstance(max_cycles, (int, np.integer)) or max_cycles < 1):
        raise ConfigError(f"max_cycles must be a positive integer or None, got {max_cycles!r}")
    env.config = adapters.make_config(config, game_options)
    env.max_cycles = max_cycles
    env.reward_mode = adapters.check_reward_mode(reward)
    env.render_mode = render_mode
    env.possible_agents = list(AGENTS)
    env._observation_space = adapters.observation_space(env.config)
    env._action_space = adapters.action_space()
    env._seeds = adapters.EpisodeSeeds()
    env.one = None  # adapters.OneGame once reset


class FrogAndToadAEC(AECEnv, EzPickle):
    """Frog and Toad, turn by turn (PettingZoo AEC), the game of SPEC section 2.

    ## Description

    Two players run right through a 32-column world, catching flies for energy,
    hopping over rough ground and helping each other; the world scrolls to keep
    the two players' average centred, so each depends on the other (the
    paper's *agent dependency*). Frog moves first, then Toad, alternately.

    ## Agents

    ``"frog"`` and ``"toad"``; ``agent_selection`` is Frog on even turns and
    Toad on odd ones.

    ## Action space

    ``Discrete(4)``, the same for both agents (``constants.Action``):

    | code | action | effect (SPEC section 2) |
    |------|--------|--------------------------|
    | 0 | hop  | +1 column, score +1; needs energy > 0; rough landing costs 1 energy |
    | 1 | jump | catch a fly in the own column: energy +4 (cap 20); works at energy 0 |
    | 2 | leap | +5 columns for 1 energy; needs energy > 0; rough landing costs 1 more |
    | 3 | help | partner +2 energy (helper pays 1) if partner < 20; then p = 0.25 the partner leaps |

    An action outside 0..3 raises ``GameError`` naming it.

    ## Observation space

    ``Box(0, high, (100,), int64)``: the state vector of SPEC section 3 from the
    observing agent's own view (``GameBatch.observe(player)``):

    | index  | content | values |
    |--------|---------|--------|
    | 0-31   | ground row | 1 solid, 2 rough |
    | 32-63  | players row | 0 empty, 4 Frog, 5 Toad, 6 jump, 7 leap, 8 help, 9 distress, 10 Toad's distress (veil < 1) |
    | 64-95  | flies row | 0 none, 3 fly |
    | 96     | own displayed symbol | 4..10 |
    | 97     | own energy | 0..20 |
    | 98     | own score | 0..max_turns |
    | 99     | own position | 0..31 |

    ``high`` is ``adapters.observation_high(config)``. ``observe`` may be called
    for either agent at any time; ``state()`` is not provided (the two views
    together are the full state, apart from the obstacle rate and queued run).

    ## Rewards

    After every turn, both agents get a reward; ``last()`` returns the sum since
    the agent last acted. ``reward="score"`` (default): the change in the agent's
    own score (1 for a successful hop, else 0). ``reward="team"``: the change in
    both players' scores summed, given to both (a fully cooperative signal).

    ## Starting state

    Frog at column 15 and Toad at 16, energy 20, score 0, solid ground, flies
    drawn by the game's random stream.

    ## Episode end

    * Termination: the game has played ``max_turns`` turns (``GameConfig``,
      default 1000 turns = 500 cycles). Both agents terminate together.
    * Truncation: ``max_cycles`` cycles (one cycle = Frog's turn then Toad's)
      have been played, when ``max_cycles`` is set (default ``None``: the game
      ends only by its own turn limit). Both agents are truncated together.

    After the end each agent must step once with ``None`` (PettingZoo's dead step).

    ## Arguments

    ``env(config=None, *, max_cycles=None, reward="score", render_mode=None,
    **game_options)``, where ``game_options`` are ``GameConfig`` fields
    (``max_turns``, ``dependency``, ``veil``, ...) overriding ``config``.
    ``render_mode`` ``"ansi"`` makes ``render()`` return the picture of
    ``render.render`` as a string; ``"human"`` prints it after every step;
    ``"rgb_array"`` returns it as a (64, 512, 3) uint8 image
    (``render.picture_rgb``). Another mode raises ``adapters.UnsupportedRenderMode``.

    ## Seeding

    ``reset(seed=s)`` plays game 0 of seed ``s``, the same game as
    ``GameBatch(config, s, [0])`` given the same actions (``adapters.OneGame`` plays it on the
    scalar twin, ``rules.Game``); each later ``reset()`` without a seed plays the next game of
    that seed (1, 2, ...). A first reset without a seed draws ``s`` from the operating system.

    ## Version history

    * v0: initial version (mirror-neurons 0.1); later the ``rgb_array`` render mode, with no change to the game.
    """

    metadata = {**_METADATA, "name": "frog_and_toad_v0"}

    def __init__(
        self,
        config: GameConfig | None = None,
        *,
        max_cycles: int | None = None,
        reward: str = "score",
        render_mode: str | None = None,
        **game_options,
    ):
        EzPickle.__init__(self, config, max_cycles=max_cycles, reward=reward, render_mode=render_mode, **game_options)
        super().__init__()
        _set_options(self, config, game_options, max_cycles, reward, render_mode)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_space

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        game_seed, game_id = self._seeds.next(seed)
        self.one = adapters.OneGame(self.config, game_seed, game_id)
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: {} for agent in self.agents}
        self.agent_selection = AGENTS[Player.FROG]
        self.last_actions: list[Action | None] = [None, None]

    def observe(self, agent: str) -> np.ndarray:
        return self.one.observe(adapters.agent_index(agent))

    def step(self, action: int | None) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        who = adapters.agent_index(agent)
        code = adapters.check_action(action, agent)
        self._cumulative_rewards[agent] = 0
        delta = self.one.step(code)  # (Frog's, Toad's) score changes this turn
        self.last_actions[who] = Action(code)
        reward = adapters.rewards(delta, self.reward_mode)
        self.rewards["frog"], self.rewards["toad"] = reward
        turn = self.one.turn
        if self.one.done:
            self.terminations = dict.fromkeys(self.agents, True)
        elif self.max_cycles is not None and turn >= 2 * self.max_cycles:
            self.truncations = dict.fromkeys(self.agents, True)
        self.agent_selection = AGENTS[turn % 2]
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def render(self) -> str | np.ndarray | None:
        return adapters.render_frame(self.one, self.last_actions, self.render_mode)

    def close(self) -> None:
        self.one = None


class FrogAndToadParallel(ParallelEnv, EzPickle):
    """Frog and Toad with simultaneous moves (PettingZoo Parallel).

    The game is turn-based; this class reads it as simultaneous moves so that
    libraries built on the Parallel API can use it. **One parallel step is one
    cycle: both agents choose an action from the observations they were given,
    then Frog's action is applied (a full turn: action, flies, scroll) and then
    Toad's.** So, unlike the AEC environment, Toad commits its action before
    seeing Frog's move of the same cycle. If the game's turn limit falls
    between the two (odd ``max_turns``), Toad's action of that last cycle is
    ignored. For the game exactly as the paper plays it, use the AEC ``env()``.

    Spaces, seeding, arguments and render modes are those of ``FrogAndToadAEC``
    (see its docstring for the action table and the observation layout).

    ## Observations

    After ``reset`` and after each step, each agent's own-view state vector
    (``GameBatch.observe``), taken at the start of the next cycle (Frog to move).

    ## Rewards

    Per step, the sum over the cycle's two turns of the AEC rewards:
    ``reward="score"`` (default) the change in the agent's own score,
    ``reward="team"`` the change in both scores summed, given to both.

    ## Episode end

    * Termination: the game has played ``max_turns`` turns (default 1000 = 500 steps).
    * Truncation: ``max_cycles`` steps, when set (default ``None``).

    Both agents end together; ``agents`` is then empty.

    ## Version history

    * v0: initial version (mirror-neurons 0.1); later the ``rgb_array`` render mode, with no change to the game.
    """

    metadata = {**_METADATA, "name": "frog_and_toad_parallel_v0"}

    def __init__(
        self,
        config: GameConfig | None = None,
        *,
        max_cycles: int | None = None,
        reward: str = "score",
        render_mode: str | None = None,
        **game_options,
    ):
        EzPickle.__init__(self, config, max_cycles=max_cycles, reward=reward, render_mode=render_mode, **game_options)
        _set_options(self, config, game_options, max_cycles, reward, render_mode)
        self.agents: list[str] = []
        self.cycles = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_space

    def _observations(self) -> dict[str, np.ndarray]:
        return {name: self.one.observe(who) for who, name in enumerate(AGENTS)}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        game_seed, game_id = self._seeds.next(seed)
        self.one = adapters.OneGame(self.config, game_seed, game_id)
        self.agents = list(self.possible_agents)
        self.cycles = 0
        self.last_actions: list[Action | None] = [None, None]
        return self._observations(), {agent: {} for agent in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        if self.one is None:
            raise GameError("step() before reset(); call reset() first")
        if not self.agents:
            raise GameError("step() after the episode ended; call reset() to play again")
        if not isinstance(actions, dict):
            raise GameError(
                f"step() takes a dict of actions by agent, e.g. {{'frog': 0, 'toad': 0}}; got {actions!r:.60}"
            )
        codes = {}
        for agent in self.agents:
            if agent not in actions:
                raise ConfigError(f"missing action for {agent!r}; got actions for {sorted(actions)}")
            codes[agent] = adapters.check_action(actions[agent], agent)
        total = [0, 0]
        for who, name in enumerate(AGENTS):
            if self.one.done:
                break  # odd max_turns: the game ended after Frog's turn
            delta = self.one.step(codes[name])
            reward = adapters.rewards(delta, self.reward_mode)
            total = [total[0] + reward[0], total[1] + reward[1]]
            self.last_actions[who] = Action(codes[name])
        self.cycles += 1
        terminated = self.one.done
        truncated = not terminated and self.max_cycles is not None and self.cycles >= self.max_cycles
        agents = self.agents
        observations = self._observations()
        rewards = dict(zip(AGENTS, total))
        terminations = dict.fromkeys(agents, terminated)
        truncations = dict.fromkeys(agents, truncated)
        infos = {agent: {} for agent in agents}
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | np.ndarray | None:
        return adapters.render_frame(self.one, self.last_actions, self.render_mode)

    def close(self) -> None:
        self.one = None


def raw_env(**kwargs) -> FrogAndToadAEC:
    """The AEC environment without PettingZoo's order-enforcing wrapper (for speed)."""
    return FrogAndToadAEC(**kwargs)


def env(**kwargs) -> AECEnv:
    """The AEC environment, wrapped so that misuse (step before reset) gets PettingZoo's clear error."""
    return wrappers.OrderEnforcingWrapper(FrogAndToadAEC(**kwargs))


def parallel_env(**kwargs) -> FrogAndToadParallel:
    return FrogAndToadParallel(**kwargs)
