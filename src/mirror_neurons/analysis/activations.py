"""Activations of every Dense layer, captured in memory by named hooks (SPEC section 6).

``capture(model, x)`` runs the model in inference mode (``eval()``, no dropout,
``no_grad``) and records the output of each hook point ``model.points[name]``:
every hidden Dense layer after its activation and the linear output layer
(a 2 x 17 model gives 17 + 17 + 4 = 38 units). Hooks are registered for the
duration of one call and removed in ``finally``, so an exception never leaves
a hook behind; the model's previous train/eval mode is restored. The published
pipeline wrote activations to CSV and re-parsed them for every statistic; here
they stay in memory, with an optional typed export (safetensors or Parquet).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import torch

from mirror_neurons import atomic
from mirror_neurons.errors import AnalysisError
from mirror_neurons.train.model import MLP

Activations = dict[str, np.ndarray]
"""{layer name ("dense_0".."dense_L"): (n states, units) float32}, in layer order."""


def as_inputs(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The model's input as a float32 tensor (n, 100); a uint8 state array is converted once."""
    if isinstance(x, torch.Tensor):
        return x if x.dtype == torch.float32 else x.float()
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


@contextlib.contextmanager
def hooks(model: MLP, fns: Mapping[str, Callable]) -> Iterator[None]:
    """Register forward hooks ``fns[name](module, input, output)`` on ``model.points``; always removed."""
    unknown = sorted(set(fns) - set(model.points))
    if unknown:
        raise AnalysisError(f"unknown layer(s) {unknown}; this model has {list(model.points)}")
    handles = []
    try:
        for name, fn in fns.items():
            handles.append(model.points[name].register_forward_hook(fn))
        yield
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def inference(model: MLP) -> Iterator[None]:
    """eval() and no_grad for the block; the previous mode comes back afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def capture(
    model: MLP,
    x: np.ndarray | torch.Tensor,
    *,
    layers: tuple[str, ...] | None = None,
    batch_size: int = 1 << 17,
    masks: Mapping[str, np.ndarray] | None = None,
) -> Activations:
    """Every Dense layer's post-activation output on ``x`` (n, 100), in inference mode.

    ``layers`` restricts the capture (default: all, output layer included).
    ``masks`` {layer: (units,) 0/1} multiplies a layer's output by the mask
    *inside* the forward pass, so later layers see the ablation (see ``ablation``).
    Returns {layer: (n, units) float32 numpy}.
    """
    names = tuple(model.points) if layers is None else tuple(layers)
    inputs = as_inputs(x)
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}

    def record(name: str) -> Callable:
        def fn(_module, _inp, out):
            parts[name].append(out.detach())

        return fn

    def mask(m: torch.Tensor) -> Callable:
        return lambda _module, _inp, out: out * m

    fns: dict[str, list[Callable]] = {}
    for name, m in (masks or {}).items():
        fns.setdefault(name, []).append(mask(torch.as_tensor(np.asarray(m), dtype=torch.float32)))
    for name in names:
        fns.setdefault(name, []).append(record(name))
    # A masking hook must run before the recording one, so chain them per point.
    chained = {name: _chain(fs) for name, fs in fns.items()}
    with inference(model), hooks(model, chained):
        for start in range(0, max(len(inputs), 1), batch_size):
            model(inputs[start : start + batch_size])
    return {name: _join(parts[name]).numpy() for name in names}


def _join(parts: list[torch.Tensor]) -> torch.Tensor:
    if not parts:
        return torch.zeros((0, 0))
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _chain(fns: list[Callable]) -> Callable:
    def fn(module, inp, out):
        for f in fns:
            res = f(module, inp, out)
            if res is not None:
                out = res
        return out

    return fn


def predict(model: MLP, x: np.ndarray | torch.Tensor, masks: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Predicted action per state (n,) int64: argmax of the linear outputs."""
    last = tuple(model.points)[-1]
    return capture(model, x, layers=(last,), masks=masks)[last].argmax(axis=1)


def export_activations(acts: Mapping[str, np.ndarray], path: str | Path) -> Path:
    """Write activations atomically: ``.safetensors`` (one tensor per layer) or ``.parquet``
    (one float32 column per unit, named ``LAYER.INDEX``)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.numpy import save

        atomic.write_bytes(path, save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in acts.items()}))
    elif path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = {f"{name}.{j}": np.ascontiguousarray(a[:, j], dtype=np.float32) for name, a in acts.items() for j in range(a.shape[1])}
        buf = io.BytesIO()
        pq.write_table(pa.table(cols), buf, compression="zstd")
        atomic.write_bytes(path, buf.getvalue())
    else:
        raise AnalysisError(f"cannot export activations to {path.name}: use a .safetensors or .parquet file name")
    return path
