"""The batched Frog and Toad vector env as a Stable-Baselines3 ``VecEnv`` (issue 17).

A thin adapter: ``FrogAndToadVectorEnv`` (the Gymnasium ``VectorEnv`` on the
batched engine) already steps every game in one call; this module only turns
its step into SB3's (``step_async``/``step_wait``, ``dones``, a list of info
dicts with ``terminal_observation`` on autoreset) so SB3's algorithms and
``VecEnvWrapper``s (``VecMonitor``, ``VecCheckNan``, ``VecNormalize``) take it
without a ``DummyVecEnv`` of one-game envs. Nothing imports this module but
who asks for it, so SB3 stays optional (``pip install stable-baselines3``; it
is in the ``test`` extra).

The games share one engine, so an attribute or a method is the whole vector's:
``get_attr`` gives the same value for every index, and ``set_attr`` and
``env_method`` act on all games; asked for some games only, they refuse.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

from mirror_neurons.errors import ConfigError, GameError, OptionalDependencyError
from mirror_neurons.game.vector_env import FrogAndToadVectorEnv

try:
    from stable_baselines3.common.vec_env import VecEnv
    from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices
except ImportError as e:  # pragma: no cover - exercised only without SB3
    raise OptionalDependencyError(
        "the Stable-Baselines3 adapter needs stable-baselines3: pip install stable-baselines3 "
        "(or pip install -e '.[test]')"
    ) from e


class FrogAndToadSB3VecEnv(VecEnv):
    """``num_envs`` games of Frog and Toad as an SB3 ``VecEnv``; the learner plays Frog.

    ``FrogAndToadSB3VecEnv(env)`` wraps a ``FrogAndToadVectorEnv``;
    ``FrogAndToadSB3VecEnv(num_envs=..., reward=..., partner=..., **game_options)``
    builds one. Spaces are the single game's: ``Box(0, high, (100,), uint8)``
    observations (``learner_view``) and ``Discrete(4)`` actions (0 hop, 1 jump,
    2 leap, 3 help). Rewards are the vector env's (``REWARDS``).

    Episodes end together after ``max_turns`` turns: that step's ``dones`` are
    all True, the observations are the next games' first ones (autoreset), and
    ``infos[i]["terminal_observation"]`` is game i's last observation
    (``"TimeLimit.truncated"`` False: the game ends by its rules).

    Seeding: ``seed(s)`` makes the next ``reset()`` play stream ``s`` for the
    whole vector, game i the per-game stream ``(s, i)``, exactly as
    ``FrogAndToadVectorEnv.reset(seed=s)``; ``seed`` returns ``[s] * num_envs``
    (SB3's default, ``s + i`` per env, would name streams the games do not play).
    """

    def __init__(self, env: FrogAndToadVectorEnv | None = None, **env_options):
        if env is not None and env_options:
            raise ConfigError(f"give a FrogAndToadVectorEnv or its options, not both (got {sorted(env_options)})")
        self.env = env if env is not None else FrogAndToadVectorEnv(**env_options)
        if not isinstance(self.env, FrogAndToadVectorEnv):
            raise ConfigError(f"env must be a FrogAndToadVectorEnv, got {type(self.env).__name__}")
        self._actions: np.ndarray | None = None
        super().__init__(self.env.num_envs, self.env.single_observation_space, self.env.single_action_space)

    # -- stepping ------------------------------------------------------------------------

    def reset(self) -> np.ndarray:
        """(B, 100) uint8: the first observations, with the seed of the last ``seed()`` if any (then forgotten)."""
        obs, _ = self.env.reset(seed=self._seeds[0])
        self._reset_seeds()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """obs (B, 100) uint8, rewards (B,) float32, dones (B,) bool, infos: one dict per game."""
        if self._actions is None:
            raise GameError("step_wait() without step_async(actions); call step(actions)")
        obs, rewards, terminated, truncated, info = self.env.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = info["final_obs"][i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards, dones, infos

    def close(self) -> None:
        self.env.close()

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        if seed is None:
            seed = secrets.randbits(63)
        self._seeds = [int(seed)] * self.num_envs
        return self._seeds

    # -- attributes and methods: the vector's, the same for every game -------------------------------

    def _all_games(self, indices: VecEnvIndices, what: str) -> list[int]:
        chosen = list(self._get_indices(indices))
        if sorted(chosen) != list(range(self.num_envs)):
            raise ConfigError(
                f"{what} acts on every game of the vector (they share one engine), not on games {chosen}; "
                "pass indices=None"
            )
        return chosen

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.env, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._all_games(indices, "set_attr")
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        chosen = self._all_games(indices, "env_method")
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result for _ in chosen]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """False for every game: the games are rows of one engine, never Gymnasium envs that a wrapper could wrap."""
        return [False for _ in self._get_indices(indices)]
