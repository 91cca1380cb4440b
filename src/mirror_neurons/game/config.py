"""The game's configuration: one frozen dataclass, validated on creation."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from numbers import Integral, Real

from mirror_neurons.errors import ConfigError


@dataclass(frozen=True)
class GameConfig:
    """Rules that may vary between studies; the defaults are the paper's game."""

    max_turns: int = 1000
    """Turns per episode (Frog's and Toad's turns both count); the game ends after this many."""
    fly_spawn_prob: float = 0.01
    """Probability that an empty column gets a fly at each world update."""
    rate_step: float = 0.005
    """Growth of the obstacle rate at every moving action."""
    rate_max: float = 0.075
    """Cap of the obstacle rate."""
    help_leap_prob: float = 0.25
    """Probability that a successful help also makes the partner leap."""
    dependency: float = 1.0
    """D in 0..1: weight of the trailing player in the scroll anchor. 1 = the paper's average;
    0 = the world follows the leading player, so a stuck partner no longer stalls you."""
    veil: float = 1.0
    """I in 0..1: probability that a state shows both players' distress with the shared code 9.
    1 = the paper (distress is anonymous); 0 = Toad's distress always shows as code 10."""

    def __post_init__(self) -> None:
        for name in ("max_turns", "fly_spawn_prob", "rate_step", "rate_max", "help_leap_prob", "dependency", "veil"):
            value, kinds = getattr(self, name), Integral if name == "max_turns" else Real
            if isinstance(value, bool) or not isinstance(value, kinds) or value != value:  # a string, or NaN
                raise ConfigError(
                    f"{name} must be {'an integer' if name == 'max_turns' else 'a number'}, got {value!r}"
                )
        if self.max_turns < 1:
            raise ConfigError(f"max_turns must be >= 1, got {self.max_turns}")
        for name in ("fly_spawn_prob", "help_leap_prob", "dependency", "veil"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in 0..1, got {value}")
        if self.rate_step < 0 or not 0.0 <= self.rate_max <= 1.0:
            raise ConfigError(f"rate_step must be >= 0 and rate_max in 0..1, got {self.rate_step}, {self.rate_max}")

    def to_dict(self) -> dict:
        return asdict(self)
