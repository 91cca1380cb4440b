"""The data stage's configuration: one frozen dataclass and its presets."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from numbers import Integral

from mirror_neurons.errors import ConfigError
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.policies import PUBLISHED_PROBS, check_probs

PAPER_STATES = 6_000_000
PAPER_TEST_SIZE = 100_000
TEST_LABEL_SHARES = (0.4, 0.4, 0.1, 0.1)
"""The test set's label mix: hop, jump, leap, help (SPEC section 4)."""

PRESETS = {
    "demo": {"n_states": 300_000},
    "paper": {"n_states": PAPER_STATES},
}


@dataclass(frozen=True)
class DataConfig:
    """Everything that decides a dataset's content; the same config gives the same bytes."""

    n_states: int = 300_000
    """Unique labeled states in the dataset (train + val + test)."""
    seed: int = 0
    """Seed of every draw: the games, the preparation draws and the split."""
    policy: tuple[float, float, float, float] = PUBLISHED_PROBS
    """Both players' random policy: probabilities of hop, jump, leap, help."""
    game: GameConfig = field(default_factory=GameConfig)
    """The game's rules; ``game.max_turns`` is the episode length, ``game.dependency`` D, ``game.veil`` I."""
    test_size: int | None = None
    """Test rows; None scales the paper's 100,000 of 6,000,000 to ``n_states`` (at least 1,000, at most n/6)."""
    val_fraction: float = 0.2
    """Share of the non-test rows held out for validation."""
    max_games: int | None = None
    """Give up (with an error) after this many games; None allows 4x the games a 25 % unique yield would need."""
    preset_name: str = "custom"
    """Name of the preset this config came from (for the manifest only). Not called ``preset``:
    that name is the ``preset`` class method, which would shadow the field's default."""

    def __post_init__(self) -> None:
        for name, low in (("n_states", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
                kind = "a positive" if low else "a non-negative"
                raise ConfigError(f"{name} must be {kind} integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.seed >= 2**64:  # the game streams are 64-bit
            raise ConfigError(f"seed must be an integer in 0..2**64-1, got {self.seed}; pass e.g. --seed 0")
        object.__setattr__(self, "policy", tuple(float(p) for p in check_probs(self.policy)))
        if not isinstance(self.game, GameConfig):
            raise ConfigError(f"game must be a GameConfig, got {type(self.game).__name__}")
        if self.game.max_turns < 2:
            raise ConfigError(f"episodes need at least 2 turns to record a state, got max_turns={self.game.max_turns}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.test_size is not None and not (0 <= self.test_size < self.n_states):
            raise ConfigError(f"test_size must be in 0..n_states-1 (n_states={self.n_states}), got {self.test_size}")
        if not isinstance(self.preset_name, str):
            raise ConfigError(f"preset_name must be a string, got {self.preset_name!r}")
        if self.max_games is not None and self.max_games < 1:
            raise ConfigError(f"max_games must be >= 1, got {self.max_games}")

    @classmethod
    def preset(cls, name: str, **overrides) -> DataConfig:
        """A preset (``demo``: 300,000 states; ``paper``: 6,000,000) with fields replaced.

        ``dependency``, ``veil`` and ``episode_turns`` are accepted as shortcuts for
        the nested ``game`` config's ``dependency``, ``veil`` and ``max_turns``.
        """
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        overrides = {k: v for k, v in overrides.items() if v is not None}  # None: keep the preset's value
        game_overrides = {k: overrides.pop(k) for k in ("dependency", "veil") if k in overrides}
        if "episode_turns" in overrides:
            game_overrides["max_turns"] = overrides.pop("episode_turns")
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown DataConfig field(s) {sorted(unknown)}")
        game = overrides.pop("game", GameConfig())
        if game_overrides:
            game = replace(game, **game_overrides)
        values = {**PRESETS[name], "preset_name": name, "game": game}
        values.update(overrides)
        return cls(**values)

    @property
    def frog_turns(self) -> int:
        """States recorded per game: one at the start of each of Frog's turns."""
        return (self.game.max_turns + 1) // 2

    @property
    def resolved_test_size(self) -> int:
        if self.test_size is not None:
            return self.test_size
        scaled = round(PAPER_TEST_SIZE * self.n_states / PAPER_STATES)
        return min(PAPER_TEST_SIZE, self.n_states // 6, max(scaled, 1_000))

    @property
    def resolved_max_games(self) -> int:
        if self.max_games is not None:
            return self.max_games
        return 4 * math.ceil(self.n_states / (0.25 * self.frog_turns)) + 64

    def to_dict(self) -> dict:
        """JSON-ready dict (the manifest's ``config``); equal dicts mean equal datasets."""
        return json.loads(json.dumps(asdict(self)))
