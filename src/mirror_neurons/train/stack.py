"""Many MLPs as one set of stacked tensors: forward, backward and Adam for all at once.

Training 50 small models one after the other spends almost all its time in
Python and PyTorch dispatch, not in arithmetic: a 2 x 17 model at batch 25
does ~0.3 MFLOP per step. Here M models of the same depth share one set of
tensors, so one step of all of them is ~30 tensor operations:

- each layer's kernel and bias are one *extended kernel* ``K[l]`` (M, out,
  in + 1), ``nn.Linear.weight`` with the bias as its last column: a layer is one
  ``bmm`` of its input with a column of ones appended (the trainer's data carry
  that column; hidden activations are written into buffers that end in it), and
  one ``bmm`` of the backward pass gives kernel and bias gradients together;
- all extended kernels live in one flat buffer, layer after layer (layer-major:
  ``K[l]`` is a contiguous (M, out, in + 1) block), so each gradient ``bmm``
  writes straight into its block of the gradient buffer and Adam runs once on
  the whole buffer;
- the output layer runs transposed (``K @ h^T``, 4 x 18 x 25 per model): MKL's
  small matrix products are 2-3x faster with the 4-wide dimension outside;
- models of different widths are zero-padded to the widest. A padded unit has
  zero weights in and out and a dropout mask of 0 (so even an activation with
  f(0) != 0, like sigmoid, passes nothing on); its gradients are exactly 0,
  Adam never moves it (0 / (0 + eps) = 0), and the real units compute the same
  sums as an unpadded model;
- the backward pass is written out by hand (two ``bmm`` per layer), and Adam is
  applied to the flat buffer with a per-model learning rate
  (``torch.optim.Adam``'s formula, through PyTorch's fused CPU Adam kernel).

``load_member``/``member_state`` convert to and from ``MLP.state_dict`` (unpadded).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mirror_neurons.train.model import ModelConfig


def _activation(name: str):
    """(forward, backward) where backward(grad_a, z, a) -> grad_z."""
    if name == "relu":
        return torch.relu, lambda g, z, a: torch.ops.aten.threshold_backward(g, z, 0)
    if name == "tanh":
        return torch.tanh, lambda g, z, a: g * (1 - a * a)
    if name == "sigmoid":
        return torch.sigmoid, lambda g, z, a: g * a * (1 - a)
    if name == "elu":
        return torch.nn.functional.elu, lambda g, z, a: torch.where(z > 0, g, g * (a + 1))
    if name == "gelu":
        inv_sqrt2, inv_sqrt2pi = 0.5**0.5, (2 * np.pi) ** -0.5

        def gelu_backward(g, z, a):
            cdf = 0.5 * (1 + torch.erf(z * inv_sqrt2))
            return g * (cdf + z * torch.exp(-0.5 * z * z) * inv_sqrt2pi)

        return torch.nn.functional.gelu, gelu_backward
    raise ValueError(name)  # ModelConfig has validated the name


def with_ones(x: torch.Tensor) -> torch.Tensor:
    """``x`` (..., n) with a column of ones appended (..., n + 1): the input ``Stack.train_step`` takes."""
    return torch.cat([x, torch.ones(*x.shape[:-1], 1, dtype=x.dtype)], dim=-1)


class Stack:
    """M models of one depth, one activation, one loss and one set of Adam betas.

    ``lr`` (M,) and ``l2`` (M,) may differ per model; so may widths (padded).
    """

    def __init__(
        self,
        models: Sequence[ModelConfig],
        *,
        lr: Sequence[float],
        l2: Sequence[float],
        loss: str,
        betas: tuple[float, float],
        eps: float,
        pad_to: Sequence[int] | None = None,
    ):
        """``pad_to``: hidden widths to pad to (default: the widest of ``models``). Padding
        changes the matmul shapes and so the rounding, so callers fix it per run, not per stack."""
        depth = {len(m.hidden) for m in models}
        acts = {m.activation for m in models}
        features = {m.n_features for m in models}
        assert len(depth) == 1 and len(acts) == 1 and len(features) == 1, (
            "a stack holds models of one depth, activation and input width"
        )
        self.configs = list(models)
        self.M = M = len(models)
        self.loss = loss
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.act, self.act_backward = _activation(acts.pop())
        first = models[0]
        widths = [max(m.widths[i] for m in models) for i in range(len(first.widths))]
        if pad_to is not None:
            assert len(pad_to) == len(first.hidden) and all(p >= w for p, w in zip(pad_to, widths)), (pad_to, widths)
            widths = [*pad_to, first.n_outputs]
        self.sizes = [first.n_features, *widths]  # padded (features, H1, ..., 4)
        self.L = len(widths)
        self.shapes = [(fan_out, fan_in + 1) for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:])]
        self.P = sum(a * b for a, b in self.shapes)  # parameters per model
        self.flat = torch.zeros(M * self.P)  # layer-major: K[0] of all models, then K[1], ...
        self.m = torch.zeros(M * self.P)
        self.v = torch.zeros(M * self.P)
        self.step_count = torch.zeros(())  # optimizer steps taken, the same for every model of a stack
        self.lr = np.asarray(lr, dtype=np.float64)
        self.l2 = np.asarray(l2, dtype=np.float64)
        self._bind()

    def _blocks(self, buffer: torch.Tensor) -> list[torch.Tensor]:
        """The per-layer (M, out, in + 1) views of a layer-major buffer."""
        out, offset = [], 0
        for a, b in self.shapes:
            out.append(buffer[offset : offset + self.M * a * b].view(self.M, a, b))
            offset += self.M * a * b
        return out

    def _bind(self) -> None:
        """(Re)make the per-layer views of ``flat`` and the per-model constants, in the same layout."""
        M = self.M
        self.K = self._blocks(self.flat)
        self._grad = torch.zeros(M * self.P)
        self.G = self._blocks(self._grad)
        self._delta = torch.zeros(M * self.P)
        self.kernel_mask = torch.zeros(M * self.P)  # 1 on kernel entries, 0 on the bias column
        for block in self._blocks(self.kernel_mask):
            block[:, :, :-1] = 1.0
        self._lr = torch.zeros(M * self.P)
        self.l2_grad = torch.zeros(M * self.P)  # d/dflat of l2 * sum(W**2): 2 * l2 * W on kernels, 0 on biases
        lr, l2 = torch.from_numpy(self.lr).float(), torch.from_numpy(2 * self.l2).float()
        for block_lr, block_l2, mask in zip(
            self._blocks(self._lr), self._blocks(self.l2_grad), self._blocks(self.kernel_mask)
        ):
            block_lr[:] = lr[:, None, None]
            block_l2[:] = l2[:, None, None] * mask
        # views made once, not per step: each costs microseconds of dispatch
        self._K_t = [K.transpose(1, 2) for K in self.K]  # (M, in + 1, out)
        self._K_kernel = [K[:, :, :-1] for K in self.K]  # (M, out, in), without the bias column
        self._hidden_in: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def _hidden_buffers(self, b: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per hidden layer, an (M, b, H_l + 1) buffer whose last column is 1 (the bias input) and its first H_l columns."""
        if b not in self._hidden_in:
            buffers = [torch.ones(self.M, b, h + 1) for h in self.sizes[1:-1]]
            self._hidden_in[b] = [(buffer, buffer[:, :, :-1]) for buffer in buffers]
        return self._hidden_in[b]

    def keep(self, index: Sequence[int], frozen: Sequence[int] = ()) -> None:
        """Keep only the models at ``index`` (used when some stop); rows ``frozen`` of the result get lr 0."""
        ix = torch.as_tensor(list(index), dtype=torch.long)

        def take(buffer: torch.Tensor) -> torch.Tensor:
            return torch.cat([block[ix].reshape(-1) for block in self._blocks(buffer)])

        self.flat, self.m, self.v = take(self.flat), take(self.m), take(self.v)
        self.lr, self.l2 = self.lr[list(index)].copy(), self.l2[list(index)]
        self.lr[list(frozen)] = 0.0
        self.configs = [self.configs[i] for i in index]
        self.M = len(index)
        self._bind()

    # ---- per-model state in and out (unpadded, nn.Linear layout) -------------------

    def load_member(self, i: int, params: dict[str, torch.Tensor], adam: dict[str, torch.Tensor], steps: int) -> None:
        """Set model i from ``params`` / Adam moments keyed like MLP.state_dict ("layers.0.weight")."""
        for target, source in ((self.flat, params), (self.m, adam.get("m")), (self.v, adam.get("v"))):
            for l, block in enumerate(self._blocks(target)):
                K = block[i]  # (out, in + 1): the kernel, then the bias column
                K.zero_()
                if source is None:
                    continue
                w = source[f"layers.{l}.weight"]  # (out, in)
                K[: w.shape[0], : w.shape[1]] = w
                K[: w.shape[0], -1] = source[f"layers.{l}.bias"]
        self.step_count.fill_(steps)  # the caller stacks only models that have taken the same number of steps

    def member_state(self, i: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(params, {"m": ..., "v": ...}) of model i, unpadded, keyed like MLP.state_dict."""
        config = self.configs[i]
        sizes = (config.n_features, *config.widths)
        out = []
        for source in (self.flat, self.m, self.v):
            d = {}
            for l, (block, fan_in, fan_out) in enumerate(zip(self._blocks(source), sizes[:-1], sizes[1:])):
                d[f"layers.{l}.weight"] = block[i, :fan_out, :fan_in].clone()
                d[f"layers.{l}.bias"] = block[i, :fan_out, -1].clone()
            out.append(d)
        return out[0], {"m": out[1], "v": out[2]}

    # ---- training ------------------------------------------------------------------

    def train_step(self, x1: torch.Tensor, y: torch.Tensor, masks: Sequence[torch.Tensor]) -> torch.Tensor:
        """One optimizer step of every model on its own minibatch; returns each model's batch data loss (M,).

        x1 (M, b, 101): the inputs followed by a column of ones (``with_ones``; may be a
        strided view), y (M, b, 4) one-hot targets, masks[l] (M, b, H_l) the
        inverted-dropout factors (0 or 1/(1-d)) of hidden layer l.
        """
        b = x1.shape[1]
        hidden_in = self._hidden_buffers(b)
        inputs, zs, activations = [x1], [], []
        h = x1
        for l in range(self.L - 1):
            z = torch.bmm(h, self._K_t[l])  # (M, b, H_l), bias included
            a = self.act(z)
            h, units = hidden_in[l]
            torch.mul(a, masks[l], out=units)  # the ones column stays
            zs.append(z)
            activations.append(a)
            inputs.append(h)
        out_t = torch.bmm(self.K[-1], h.transpose(1, 2))  # (M, 4, b): transposed, see the module docstring
        y_t = y.transpose(1, 2)

        if self.loss == "cross_entropy":
            logp = torch.log_softmax(out_t, dim=1)
            batch_loss = -(logp * y_t).sum(dim=(1, 2)) / b
            g_t = (torch.exp(logp) - y_t) / b
        else:  # mse, the Keras way: mean over the 4 outputs, then over the batch
            diff = out_t.sub_(y_t)
            batch_loss = (diff * diff).sum(dim=(1, 2)) / (b * y.shape[2])
            g_t = diff.mul_(2.0 / (b * y.shape[2]))

        for l in range(self.L - 1, -1, -1):  # g_t: d loss / d z_l, (M, out, b)
            torch.bmm(g_t, inputs[l], out=self.G[l])  # (M, out, in + 1): kernel and bias gradients
            if l > 0:
                g = torch.bmm(g_t.transpose(1, 2), self._K_kernel[l]).mul_(masks[l - 1])  # (M, b, in)
                g_t = self.act_backward(g, zs[l - 1], activations[l - 1]).transpose(1, 2)
        self._grad.addcmul_(self.flat, self.l2_grad)
        self._adam(self._grad)
        return batch_loss

    def _adam(self, grad: torch.Tensor) -> None:
        """torch.optim.Adam (no weight decay, no amsgrad) for every model, with per-model learning rates.

        PyTorch's fused CPU Adam kernel computes, in one pass, the step
        ``-u = -m_hat / (sqrt(v_hat) + eps)`` into a zeroed buffer (lr 1), and
        ``flat += lr * (-u)`` applies each model's own learning rate. Same
        formula as torch.optim.Adam; rounding differs by ~1 ulp per step.
        """
        self.step_count += 1
        self._delta.zero_()
        torch._fused_adam_(
            [self._delta], [grad], [self.m], [self.v], [], [self.step_count],
            lr=1.0, beta1=self.beta1, beta2=self.beta2, weight_decay=0.0, eps=self.eps, amsgrad=False, maximize=False,
        )  # fmt: skip
        self.flat.addcmul_(self._delta, self._lr)

    # ---- evaluation --------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, label: torch.Tensor, chunk: int = 8192) -> dict[str, np.ndarray]:
        """Inference-mode metrics of every model on (x (n, features), already encoded; label (n,)).

        Returns per-model arrays: ``data_loss`` (the loss without penalty), ``mse``
        (of the outputs, or of softmax probabilities for cross-entropy, to one-hot),
        ``accuracy``, ``penalty`` (l2 * sum of squared kernels), ``loss`` = data_loss + penalty,
        and ``recall`` (M, outputs): the share of each class's rows predicted as that class
        (NaN for a class with no rows).
        """
        n = len(x)
        n_out = self.sizes[-1]
        sq = torch.zeros(self.M, dtype=torch.float64)
        ce = torch.zeros(self.M, dtype=torch.float64)
        correct = torch.zeros(self.M, dtype=torch.int64)
        hits = torch.zeros(self.M, n_out, dtype=torch.int64)  # per class: rows of that class predicted right
        K0 = self.K[0]  # (M, out_0, in + 1)
        first_kernel = K0[:, :, :-1].permute(2, 0, 1).reshape(K0.shape[2] - 1, -1)  # (in, M * out_0)
        first_bias = K0[:, :, -1].reshape(-1)
        for start in range(0, n, chunk):
            xc, lc = x[start : start + chunk], label[start : start + chunk]
            y = torch.nn.functional.one_hot(lc, n_out).float()
            # the first layer sees the same rows in every model: one large matrix product for all
            z = torch.addmm(first_bias, xc, first_kernel).view(len(xc), self.M, -1).transpose(0, 1)  # (M, c, out_0)
            for l in range(1, self.L):
                h = self.act(z)
                z = torch.baddbmm(self.K[l][:, None, :, -1], h, self.K[l][:, :, :-1].transpose(1, 2))  # (M, c, out_l)
            out = z  # (M, c, 4)
            if self.loss == "cross_entropy":
                logp = torch.log_softmax(out, dim=2)
                ce += -(logp * y).sum(dim=(1, 2)).double()
                pred = torch.exp(logp)
            else:
                pred = out
            sq += ((pred - y) ** 2).sum(dim=(1, 2)).double()
            right = out.argmax(dim=2) == lc  # (M, c)
            correct += right.sum(dim=1)
            hits.index_add_(1, lc, right.to(torch.int64))
        mse = (sq / (n * n_out)).numpy()
        data_loss = (ce / n).numpy() if self.loss == "cross_entropy" else mse
        penalty = self.l2 * sum((K[:, :, :-1].double() ** 2).sum(dim=(1, 2)) for K in self.K).numpy()
        per_class = np.bincount(label.numpy(), minlength=n_out)[:n_out]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(per_class > 0, hits.numpy() / per_class, np.nan)
        return {
            "recall": recall,
            "loss": data_loss + penalty,
            "data_loss": data_loss,
            "mse": mse,
            "accuracy": correct.numpy() / n,
            "penalty": penalty,
        }
