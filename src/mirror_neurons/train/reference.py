"""What the fast trainer computes, written as a plain PyTorch loop: the statement the trainer is tested against.

``train.trainer`` trains many models at once through hand-written stacked
tensors (``train.stack``), buffers reused from step to step, and dropout masks
from 16-bit draws. This module trains one model the way a reader expects:
``nn.Sequential`` of ``nn.Linear``, autograd, ``torch.optim.Adam``, a Python
loop over epochs and minibatches. It follows the trainer's documented random
protocol (``train.trainer`` module docstring) so both see the same initial
weights, minibatches and dropout masks; the equivalence test
(tests/train/test_trainer.py) requires the weights of both to agree after two
epochs for every loss, encoding and sampling it covers.

It covers what that test exercises: the ReLU activation, the ``raw`` and
``onehot`` encodings (the one-hot layout written out from its description,
not taken from ``train.encoding``), all three losses, both samplings, the
rule's labels, whole epochs (no ``epoch_rows``). Anything else is refused
rather than computed differently. It is slow (a Python step per minibatch) and
never used for real training.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mirror_neurons.data.dataset import Dataset
from mirror_neurons.errors import ConfigError
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.trainer import CHUNK_STEPS, model_generator

ONEHOT_ROWS = ((slice(0, 32), (1, 2)), (slice(32, 64), (0, 4, 5, 6, 7, 8, 9, 10)), (slice(64, 96), (0, 3)))
"""The one-hot layout written out from the docs: per row of the board (its cells), the symbol codes it can hold."""

ENERGY = 97
"""Index of Frog's energy in the state vector; the one-hot encoding keeps it as energy / 20."""


def plain_onehot(x: torch.Tensor) -> torch.Tensor:
    """The onehot encoding of states ``x`` (n, 100) written independently: F.one_hot of each cell's
    position in its row's code list, then energy / 20; (n, 32 * 2 + 32 * 8 + 32 * 2 + 1) float32."""
    parts = []
    for cells, codes in ONEHOT_ROWS:
        lookup = torch.full((256,), len(codes), dtype=torch.long)  # codes a row cannot hold -> an extra, dropped class
        lookup[list(codes)] = torch.arange(len(codes))
        hot = nn.functional.one_hot(lookup[x[:, cells].long()], len(codes) + 1)[..., : len(codes)]
        parts.append(hot.reshape(len(x), -1).float())
    parts.append(x[:, ENERGY : ENERGY + 1].float() / 20)
    return torch.cat(parts, dim=1)


def _check_covered(config: TrainConfig) -> None:
    covered = {
        "activation": (config.model.activation, ("relu",)),
        "encoding": (config.model.encoding, ("raw", "onehot")),
        "labels": (config.labels, ("rule",)),
        "epoch_rows": (config.epoch_rows, (0, None)),
    }
    for name, (value, allowed) in covered.items():
        if value not in allowed:
            raise ConfigError(
                f"the reference loop covers {name} in {allowed}, not {value!r}; compare such models with the trainer alone"
            )


def reference_train(config: TrainConfig, dataset: Dataset, epochs: int) -> nn.Sequential:
    """Train ``config`` on ``dataset``'s training split for ``epochs`` epochs, plainly; the trained network.

    The paper's recipe (MSE to one-hot + l2 * sum of squared kernels, dropout after
    each hidden layer) and the competent one (cross-entropy, class-balanced sampling)
    are the same loop with another loss and row sampler.
    """
    _check_covered(config)
    g = model_generator(config.seed)  # protocol step 1
    raw = torch.from_numpy(dataset.train.x.astype(np.float32))
    x = {"raw": raw, "onehot": plain_onehot(torch.from_numpy(dataset.train.x))}[config.model.encoding]
    sizes = (x.shape[1], *config.model.hidden, 4)
    linears = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    for lin in linears:  # protocol step 2: Glorot uniform, zero bias, in layer order, from g
        bound = math.sqrt(6.0 / (lin.in_features + lin.out_features))
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=g)
            lin.bias.zero_()
    net = nn.Sequential(*linears)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps)
    label = torch.from_numpy(dataset.train.label.astype(np.int64))
    y = nn.functional.one_hot(label, 4).float()
    n, B, d = len(x), config.batch_size, config.model.dropout
    steps = -(-n // B)
    for _ in range(epochs):
        # protocol step 3: the epoch's rows
        if config.sampling == "balanced":  # every class equally likely: rows weighted 1 / (rows of their class)
            weights = 1.0 / torch.bincount(label, minlength=4).double()[label]
            perm = torch.multinomial(weights, n, replacement=True, generator=g)
        else:
            perm = torch.randperm(n, generator=g)
        for step in range(steps):
            if step % CHUNK_STEPS == 0:  # protocol step 4: 16-bit draws, four per 64-bit random number
                shape = (min(CHUNK_STEPS, steps - step), B, sum(config.model.hidden))
                words = torch.empty(-(-math.prod(shape) // 4), dtype=torch.int64).random_(
                    -(2**63), 2**63 - 1, generator=g
                )
                u = words.view(torch.int16)[: math.prod(shape)].view(shape).int() + 32768  # 0..65535
            rows = perm[step * B : (step + 1) * B]
            keep = u[step % CHUNK_STEPS, : len(rows)]
            h, start = x[rows], 0
            for lin, width in zip(linears[:-1], config.model.hidden):
                h = torch.relu(lin(h)) * (keep[:, start : start + width] >= round(d * 65536)) / (1 - d)
                start += width
            out = linears[-1](h)
            if config.loss == "cross_entropy":
                data_loss = nn.functional.cross_entropy(out, label[rows])
            else:
                data_loss = ((out - y[rows]) ** 2).mean()
            loss = data_loss + config.l2 * sum((lin.weight**2).sum() for lin in linears)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net
