"""Activations of every Dense layer, captured in memory by named hooks (SPEC section 6).

``capture(model, x)`` runs the model in inference mode (``eval()``, no dropout,
``no_grad``) and records the output of each hook point ``model.points[name]``:
every hidden Dense layer after its activation and the linear output layer
(a 2 x 17 model gives 17 + 17 + 4 = 38 units). Hooks are registered for the
duration of one call and removed in ``finally``, so an exception never leaves
a hook behind; the model's previous train/eval mode is restored. The published
pipeline wrote activations to CSV and re-parsed them for every statistic; here
they stay in memory, with an optional typed export (safetensors or Parquet).

Any ``torch.nn.Module`` with named ``nn.Linear`` layers can be read, not only
this package's ``MLP``: ``activation_points`` says where each layer is read
(after the activation module that follows a Linear in an ``nn.Sequential``; at
the Linear's own output otherwise), and a module without a Linear layer is
refused with one line that says what is needed.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mirror_neurons import atomic
from mirror_neurons.errors import AnalysisError

Activations = dict[str, np.ndarray]
"""{layer name ("dense_0".."dense_L"): (n states, units) float32}, in layer order."""


def _is_activation(module: nn.Module) -> bool:
    """A module from ``torch.nn``'s activations (ReLU, Tanh, GELU, Softmax, ...)."""
    return type(module).__module__ == "torch.nn.modules.activation"


def _sequential_points(model: nn.Sequential) -> dict[str, nn.Module]:
    """Each Linear child by its name, read after the activation module right after it (Dropout and Identity
    between them skipped), or at its own output when none follows."""
    children = list(zip(model._modules, model))  # named_children() would skip a module that appears twice
    points: dict[str, nn.Module] = {}
    for k, (name, module) in enumerate(children):
        if not isinstance(module, nn.Linear):
            continue
        point: nn.Module = module
        for _, after in children[k + 1 :]:
            if isinstance(after, (nn.Dropout, nn.Identity)):
                continue
            if _is_activation(after):
                point = after
            break
        if any(point is p for p in points.values()):
            raise AnalysisError(
                f"the activation module after Linear {name!r} also follows an earlier Linear, so its "
                f"outputs mix two layers; give each Linear its own activation module"
            )
        points[name] = point
    return points


def activation_points(model: nn.Module) -> dict[str, nn.Module]:
    """Where ``capture`` reads each layer: {layer name: module whose output is the layer's activation}.

    This package's ``MLP``: ``model.points`` ("dense_0".."dense_L", each Dense layer after its activation).
    An ``nn.Sequential``: each ``nn.Linear`` by its name in the Sequential ("0", "2", ...), after the
    activation module that follows it. Any other ``nn.Module``: each named ``nn.Linear`` (``named_modules``
    order) at its own output, that is before an activation applied in ``forward`` (a hook cannot see
    ``F.relu``). ``AnalysisError`` when there is no Linear layer to read.
    """
    points = getattr(model, "points", None)
    if isinstance(points, nn.ModuleDict):
        return dict(points.items())
    if not isinstance(model, nn.Module):
        raise AnalysisError(f"expected a torch.nn.Module with named nn.Linear layers, got {type(model).__name__}")
    found = _sequential_points(model) if isinstance(model, nn.Sequential) else {}
    if not found:
        found = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    if not found:
        raise AnalysisError(
            f"{type(model).__name__} has no nn.Linear layer: the analysis reads the outputs of named "
            f"nn.Linear layers (or of this package's MLP)"
        )
    return found


def as_inputs(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The model's input as a float32 tensor (n, 100); a uint8 state array is converted once."""
    if isinstance(x, torch.Tensor):
        return x if x.dtype == torch.float32 else x.float()
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


@contextlib.contextmanager
def hooks(model: nn.Module, fns: Mapping[str, Callable]) -> Iterator[None]:
    """Register forward hooks ``fns[name](module, input, output)`` on ``activation_points(model)``; always removed."""
    points = activation_points(model)
    unknown = sorted(set(fns) - set(points))
    if unknown:
        raise AnalysisError(f"unknown layer(s) {unknown}; this model has {list(points)}")
    handles = []
    try:
        for name, fn in fns.items():
            handles.append(points[name].register_forward_hook(fn))
        yield
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def inference(model: nn.Module) -> Iterator[None]:
    """eval() and no_grad for the block; the previous mode comes back afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def capture(
    model: nn.Module,
    x: np.ndarray | torch.Tensor,
    *,
    layers: tuple[str, ...] | None = None,
    batch_size: int = 1 << 17,
    masks: Mapping[str, np.ndarray] | None = None,
) -> Activations:
    """Every Dense layer's post-activation output on ``x`` (n, 100), in inference mode.

    ``model``: this package's ``MLP`` or any ``nn.Module`` with named Linear layers (``activation_points``).
    ``layers`` restricts the capture (default: all, output layer included).
    ``masks`` {layer: (units,) 0/1} multiplies a layer's output by the mask
    *inside* the forward pass, so later layers see the ablation (see ``ablation``).
    Returns {layer: (n, units) float32 numpy}.
    """
    names = tuple(activation_points(model)) if layers is None else tuple(layers)
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


def predict(
    model: nn.Module, x: np.ndarray | torch.Tensor, masks: Mapping[str, np.ndarray] | None = None
) -> np.ndarray:
    """Predicted action per state (n,) int64: argmax of the last layer's outputs."""
    last = tuple(activation_points(model))[-1]
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

        cols = {
            f"{name}.{j}": np.ascontiguousarray(a[:, j], dtype=np.float32)
            for name, a in acts.items()
            for j in range(a.shape[1])
        }
        buf = io.BytesIO()
        pq.write_table(pa.table(cols), buf, compression="zstd")
        atomic.write_bytes(path, buf.getvalue())
    else:
        raise AnalysisError(f"cannot export activations to {path.name}: use a .safetensors or .parquet file name")
    return path
