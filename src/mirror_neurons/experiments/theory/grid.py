"""The theory experiment's factors: one dataset per (rate_max, D, I) cell, the architectures and seeds within it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mirror_neurons.errors import ConfigError

VAL_FRACTION = 0.3
"""Validation share of each dataset; its first half judges training, its second half is analysed."""


@dataclass(frozen=True)
class DataCell:
    """One dataset of the grid: a game complexity level and a (D, I) point."""

    rate_max: float
    dependency: float
    veil: float

    @property
    def name(self) -> str:
        return f"r{self.rate_max:g}_D{self.dependency:g}_I{self.veil:g}"


@dataclass(frozen=True)
class TheoryGrid:
    """The experiment's factors and the fixed training and analysis settings."""

    hidden: tuple[tuple[int, ...], ...] = ((4,), (16,), (32, 32), (64, 64, 64))
    """Architectures (capacity M); M = n_parameters(hidden)."""
    rate_max: tuple[float, ...] = (0.025, 0.075)
    """Game complexity levels: the obstacle rate cap (the paper: 0.075)."""
    dependency: tuple[float, ...] = (0.0, 0.5, 1.0)
    """Agent dependency D levels (GameConfig.dependency)."""
    veil: tuple[float, ...] = (0.0, 0.5, 1.0)
    """Veil of ignorance I levels (GameConfig.veil)."""
    seeds: int = 3
    """Models per (dataset, architecture), each with its own seed."""
    n_states: int = 30_000
    """Unique labeled states per dataset."""
    lr: float = 3e-3
    batch_size: int = 100
    """Larger than the paper's 20-25 to fit the demo's time budget (a run-time choice, see docs/theory.md)."""
    max_epochs: int = 12
    patience: int = 2
    dropout: float = 0.12
    n_permutations: int = 100
    """Label permutations for the permutation null of each analysed checkpoint."""
    n_random_inits: int = 40
    """Random initialisations for the random-init null of each architecture in each cell."""
    seed: int = 0
    """The one seed from which every dataset, model and null is derived."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(tuple(int(w) for w in h) for h in self.hidden))
        for name in ("rate_max", "dependency", "veil"):
            values = tuple(float(v) for v in getattr(self, name))
            object.__setattr__(self, name, values)
            if not values or any(not 0.0 <= v <= 1.0 for v in values):
                raise ConfigError(f"{name} levels must be a non-empty list in 0..1, got {values}")
        if not self.hidden or any(not h or min(h) < 1 for h in self.hidden):
            raise ConfigError(f"hidden must list architectures with widths >= 1, got {self.hidden}")
        for name in ("seeds", "n_states", "batch_size", "max_epochs", "patience", "n_permutations", "n_random_inits"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

    @classmethod
    def preset(cls, name: str, **overrides) -> TheoryGrid:
        """``demo`` (2-core machine, <= 30 min), ``full`` (a Ray cluster), ``tiny`` (tests)."""
        presets = {
            "demo": {},
            "full": dict(
                hidden=tuple((w,) * depth for depth in (1, 2, 3) for w in (4, 8, 16, 32, 64)),
                rate_max=(0.025, 0.075, 0.15),
                dependency=(0.0, 0.25, 0.5, 0.75, 1.0),
                veil=(0.0, 0.25, 0.5, 0.75, 1.0),
                seeds=10,
                n_states=300_000,
                max_epochs=30,
                patience=5,
                batch_size=25,
                n_permutations=1000,
                n_random_inits=500,
            ),
            "tiny": dict(
                hidden=((4,), (16,)),
                rate_max=(0.075,),
                dependency=(0.0, 1.0),
                veil=(1.0,),
                seeds=2,
                n_states=3000,
                max_epochs=2,
                patience=1,
                batch_size=50,
                n_permutations=20,
                n_random_inits=10,
            ),
        }
        if name not in presets:
            raise ConfigError(f"unknown theory preset {name!r}; choose one of {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})

    def cells(self) -> list[DataCell]:
        return [DataCell(r, d, i) for r in self.rate_max for d in self.dependency for i in self.veil]

    @property
    def n_models(self) -> int:
        return len(self.cells()) * len(self.hidden) * self.seeds

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = [list(h) for h in self.hidden]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TheoryGrid:
        return cls(**{**d, "hidden": tuple(tuple(h) for h in d["hidden"])})
