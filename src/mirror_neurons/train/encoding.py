"""Input encodings: how the model reads the 100-integer state (a model option, issue 12).

The dataset's Parquet files always hold the raw integers of the state vector
(ground row, players row, flies row, own symbol, energy, score, position; see
``game.constants``), and the scenario groups of the analysis are always read
from them. An *encoding* turns that vector into the network's input features.
It is part of the model's architecture (``ModelConfig.encoding``): ``MLP``
encodes inside ``forward``, so every caller (analysis, behaviour, circuits, a
user's notebook) feeds raw states to any model, and a checkpoint's JSON says
how to rebuild it.

- ``raw``: the paper's input, the 100 integers as they are (codes 0..10, energy 0..20).
  The network must learn that code 9 (distress) and code 2 (rough) are categories,
  not magnitudes; with the paper's loss it mostly does not (docs/training.md).
- ``onehot``: each cell of the three rows becomes one indicator per symbol that row
  can hold (ground: solid, rough; players: empty, f, t, jump, leap, help, distress,
  toad-distress; flies: none, fly), and energy is scaled to 0..1 (energy / 20).
  The always-zero inputs (own symbol, score, position) are dropped. 32 x (2 + 8 + 2) + 1
  = 385 features, each with a readable name ("players[5] = distress").
- ``recoded``: the raw layout with the distress-related codes moved *below* the
  others of their row (ground: rough 1, solid 2; players: distress 1, toad-distress 2).
  Same information as ``raw``; a control for the symbol-coding artefact (a large
  code for distress makes untrained ReLU units respond to distress).

One implementation serves training and inference: ``Encoding.stored`` gives the
features as small integers (the trainer keeps the whole dataset in that form,
uint8) and ``scale`` the factor of the columns ``scaled`` (energy in ``onehot``),
so ``encode(x) = stored(x) * scale`` is the same float32 arithmetic in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mirror_neurons.errors import ConfigError
from mirror_neurons.game.constants import (
    FLIES,
    GROUND,
    MAX_ENERGY,
    OWN_ENERGY,
    OWN_POSITION,
    OWN_SCORE,
    OWN_SYMBOL,
    PLAYERS,
    STATE_SIZE,
    Symbol,
)

ROWS = (("ground", GROUND), ("players", PLAYERS), ("flies", FLIES))
"""The three 32-cell rows of the state vector, in order."""

ROW_SYMBOLS: dict[str, tuple[Symbol, ...]] = {
    "ground": (Symbol.SOLID, Symbol.ROUGH),
    "players": (
        Symbol.EMPTY,
        Symbol.FROG,
        Symbol.TOAD,
        Symbol.JUMP,
        Symbol.LEAP,
        Symbol.HELP,
        Symbol.DISTRESS,
        Symbol.TOAD_DISTRESS,
    ),
    "flies": (Symbol.EMPTY, Symbol.FLY),
}
"""The symbols each row can hold: one ``onehot`` indicator each."""

RECODE: dict[str, dict[Symbol, int]] = {
    "ground": {Symbol.ROUGH: 1, Symbol.SOLID: 2},
    "players": {Symbol.DISTRESS: 1, Symbol.TOAD_DISTRESS: 2},
}
"""``recoded``: new codes of a row's symbols (others keep theirs; codes 1-2 are unused in the players row)."""

SCALAR_NAMES = {OWN_SYMBOL: "own_symbol", OWN_ENERGY: "energy", OWN_SCORE: "score", OWN_POSITION: "own_position"}

ENCODINGS = ("raw", "onehot", "recoded")


def raw_feature_name(i: int) -> str:
    """Name of index ``i`` of the 100-integer state: ground[5], players[5], flies[3], energy, ..."""
    for name, sl in ROWS:
        if sl.start <= i < sl.stop:
            return f"{name}[{i - sl.start}]"
    return SCALAR_NAMES[i]


@dataclass(frozen=True)
class Encoding:
    """One encoding: its width, feature names and the integer form plus scale of its features."""

    name: str
    width: int
    feature_names: tuple[str, ...]
    scaled: slice | None
    """Columns whose stored integer is multiplied by ``scale`` (None: none)."""
    scale: float = 1.0

    def stored(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 100) states -> (n, width) features before scaling, in ``x``'s dtype (exact small integers)."""
        if self.name == "raw":
            return x
        if x.ndim != 2 or x.shape[1] != STATE_SIZE:
            raise ConfigError(f"encoding {self.name!r} reads (n, {STATE_SIZE}) states, got shape {tuple(x.shape)}")
        if self.name == "onehot":
            out = _onehot_indicators(x, self.width, x.dtype)
            if out is not None:
                return out
            parts = []  # some cell holds a code its row cannot: no indicator for that cell
            for row, sl in ROWS:
                codes = torch.tensor([int(s) for s in ROW_SYMBOLS[row]], dtype=x.dtype)
                parts.append((x[:, sl, None] == codes).to(x.dtype).reshape(len(x), -1))  # (n, 32 * symbols), cell-major
            parts.append(x[:, OWN_ENERGY : OWN_ENERGY + 1])
            return torch.cat(parts, dim=1)
        if self.name == "recoded":
            out = x.clone()
            for row, sl in ROWS:
                cells = x[:, sl]
                for symbol, code in RECODE.get(row, {}).items():
                    out[:, sl] = torch.where(cells == int(symbol), torch.tensor(code, dtype=x.dtype), out[:, sl])
            return out
        raise AssertionError(self.name)  # every name in _ENCODINGS is handled above

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 100) states -> (n, width) float32 features: ``stored(x) * scale`` on the scaled columns."""
        if self.name == "onehot" and x.ndim == 2 and x.shape[1] == STATE_SIZE:
            out = _onehot_indicators(x, self.width, torch.float32)  # the same values, written as float32 at once
            if out is not None:
                out[:, self.scaled] *= torch.tensor(self.scale, dtype=torch.float32)
                return out
        out = self.stored(x).to(torch.float32)
        if self.scaled is not None:
            out = out.clone() if out is x else out
            out[:, self.scaled] *= torch.tensor(self.scale, dtype=torch.float32)
        return out


def _onehot_table() -> torch.Tensor:
    """(96 * 256,) int64: the ``onehot`` column of cell c holding code k at ``c * 256 + k``, -1 where that row
    cannot hold k. Columns run row by row, cell-major, symbols in ``ROW_SYMBOLS`` order (the feature names')."""
    table = torch.full((FLIES.stop, 256), -1, dtype=torch.int64)
    column = 0
    for row, sl in ROWS:
        for cell in range(sl.start, sl.stop):
            for symbol in ROW_SYMBOLS[row]:
                table[cell, int(symbol)] = column
                column += 1
    return table.reshape(-1)


_ONEHOT_TABLE = _onehot_table()
_CELL_OFFSET = torch.arange(FLIES.stop, dtype=torch.int64) * 256


def _onehot_indicators(x: torch.Tensor, width: int, dtype: torch.dtype) -> torch.Tensor | None:
    """``onehot.stored(x)`` in ``dtype`` by one table lookup a cell (not one comparison per symbol), or None
    when some cell holds a code its row cannot hold (or a non-integer): the caller compares then."""
    cells = x[:, : FLIES.stop]
    if x.is_floating_point() and not bool(((cells >= 0) & (cells < 256) & (cells == cells.floor())).all()):
        return None
    codes = cells.long()  # compared as int64: 256 does not fit an int8 (it would wrap to 0)
    if not x.is_floating_point() and x.dtype != torch.uint8 and not bool(((codes >= 0) & (codes < 256)).all()):
        return None
    columns = _ONEHOT_TABLE.index_select(0, (codes + _CELL_OFFSET).reshape(-1)).view(len(x), FLIES.stop)
    if bool((columns < 0).any()):
        return None
    out = torch.zeros((len(x), width), dtype=dtype).scatter_(1, columns, 1)
    out[:, -1] = x[:, OWN_ENERGY]
    return out


def _onehot() -> Encoding:
    names = [
        f"{row}[{cell}] = {symbol.name.lower().replace('_', '-')}"
        for row, _ in ROWS
        for cell in range(32)
        for symbol in ROW_SYMBOLS[row]
    ]
    names.append(f"energy / {MAX_ENERGY}")
    return Encoding(
        "onehot", len(names), tuple(names), scaled=slice(len(names) - 1, len(names)), scale=1.0 / MAX_ENERGY
    )


_RAW_NAMES = tuple(raw_feature_name(i) for i in range(STATE_SIZE))
_ENCODINGS = {
    "raw": Encoding("raw", STATE_SIZE, _RAW_NAMES, scaled=None),
    "onehot": _onehot(),
    "recoded": Encoding("recoded", STATE_SIZE, _RAW_NAMES, scaled=None),
}


def get_encoding(name: str) -> Encoding:
    """The encoding called ``name``; ConfigError naming the choices otherwise."""
    try:
        return _ENCODINGS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"encoding = {name!r} is not known; choose one of {', '.join(ENCODINGS)}") from None
