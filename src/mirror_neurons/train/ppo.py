"""PPO for Frog, in the style of CleanRL's ``ppo.py``: one readable function (issue 17).

``train_ppo(config, out)`` trains Frog in ``game.vector_env.FrogAndToadVectorEnv``
and writes, under ``out``:

* ``config.json``: the ``PPOConfig`` (a resumed run must have the same one);
* ``checkpoints/<model_id>_step-<iteration>.{safetensors,json}``: the *policy*
  network (the project's ``MLP``: 100 raw inputs -> encoding -> hidden layers ->
  4 action logits) at iteration 0 (its initialisation, ``init: true``) and every
  ``checkpoint_every`` iterations, in the supervised checkpoints' format, so
  ``mirror-neurons analyze`` reads them unchanged. ``epoch`` is the iteration;
  ``env_steps`` the environment steps taken;
* ``resume.safetensors``: one atomic file with everything a resumed run needs
  (both networks, Adam's moments, the random generator, the games' state) and,
  in its header, the iteration and running statistics. ``kill -9`` at any
  moment leaves the previous one whole; running again continues from it and
  gives the same weights as a run never interrupted;
* ``log.json``: per-iteration statistics.

The value function is a second MLP of the same hidden shape (one output) that
is not part of the checkpoints: analysis looks at the network that acts. The
policy has no dropout (``dropout = 0``): PPO's ratio needs the same network
for acting and for the update.

A NaN or infinite loss stops the run with ``TrainingError`` naming the
iteration and the model; checkpoints and the resume file written before it stay.

Partners (Toad): a scripted policy by name (``game.scripted``), ``"network"``
(a frozen policy checkpoint, ``partner_checkpoint``; it acts greedily on Toad's
role-swapped view, ``vector_env.learner_view``), or ``"self"``: Toad is played
by the learner's own current network (parameters shared), sampled like Frog's
actions; only Frog's turns train it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save

from mirror_neurons import __version__, atomic, tables
from mirror_neurons.errors import CheckpointError, ConfigError, TrainingError
from mirror_neurons.game.constants import Player
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.scripted import SCRIPTED
from mirror_neurons.game.vector_env import REWARDS, FrogAndToadVectorEnv, learner_view
from mirror_neurons.train.checkpoint import load_checkpoint, save_checkpoint
from mirror_neurons.train.model import MLP, ModelConfig

log = logging.getLogger(__name__)

PARTNERS = (*SCRIPTED, "self", "network")
CONFIG_FILE = tables.PPO_CONFIG.file
RESUME_FILE = "resume.safetensors"
LOG_FILE = tables.PPO_LOG.file


@dataclass(frozen=True)
class PPOConfig:
    """Everything a PPO run depends on; the defaults are the RL experiment's demo cell."""

    reward: str = "shared"
    """One of ``vector_env.REWARDS``: score, team, selfish, shared."""
    survival: float = 1.0
    """Weight of each survival term (energy > 0 after the cycle) in the selfish and shared rewards."""
    partner: str = "random"
    """Toad: a scripted policy (``game.scripted``), ``self`` (the learner, parameter-shared) or ``network``."""
    partner_checkpoint: str | None = None
    """The frozen network's checkpoint JSON when ``partner = "network"``."""
    dependency: float = 1.0
    """The game's D (``GameConfig.dependency``)."""
    max_turns: int = 400
    """Turns per game (200 Frog turns)."""
    hidden: tuple[int, ...] = (17, 17)
    """Hidden layers of the policy and of the value network (the paper's case model: 2 x 17)."""
    encoding: str = "onehot"
    """Input encoding of both networks (``train.encoding``)."""
    activation: str = "relu"
    num_envs: int = 512
    """Games stepped together."""
    num_steps: int = 64
    """Cycles per game per rollout: a rollout is num_envs x num_steps environment steps."""
    total_steps: int = 1_000_000
    """Environment steps (Frog turns) of the whole run; rounded up to whole rollouts."""
    lr: float = 2.5e-3
    """Adam's learning rate, annealed linearly to 0."""
    gamma: float = 0.98
    gae_lambda: float = 0.95
    reward_scale: float = 0.1
    """Rewards are multiplied by this before the value function sees them (returns near 1 per unit of
    (1 - gamma)); advantages are normalised per minibatch anyway, so this only conditions the value fit."""
    update_epochs: int = 4
    num_minibatches: int = 4
    clip_coef: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    checkpoint_every: int = 10
    """Iterations (rollouts) between checkpoints; iteration 0 and the last are always written."""
    seed: int = 0
    """Seeds the networks' initialisation, the sampling of actions and minibatches, and the games (stream seed)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.reward not in REWARDS:
            raise ConfigError(f"unknown reward setting {self.reward!r}; choose one of {', '.join(REWARDS)}")
        if self.partner not in PARTNERS:
            raise ConfigError(f"unknown partner setting {self.partner!r}; choose one of {', '.join(PARTNERS)}")
        if (self.partner == "network") != (self.partner_checkpoint is not None):
            raise ConfigError(
                "partner 'network' needs partner_checkpoint (a policy checkpoint JSON), and only it takes one"
            )
        for name in (
            "num_envs",
            "num_steps",
            "total_steps",
            "update_epochs",
            "num_minibatches",
            "checkpoint_every",
            "max_turns",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
        if (self.num_envs * self.num_steps) % self.num_minibatches:
            raise ConfigError(
                f"num_envs x num_steps ({self.num_envs * self.num_steps}) must divide into {self.num_minibatches} minibatches"
            )
        for name in (
            "lr",
            "gamma",
            "gae_lambda",
            "reward_scale",
            "clip_coef",
            "ent_coef",
            "vf_coef",
            "max_grad_norm",
            "survival",
            "dependency",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        if not 0 <= self.dependency <= 1 or not 0 < self.gamma <= 1:
            raise ConfigError(f"dependency must be in 0..1 and gamma in (0, 1], got {self.dependency}, {self.gamma}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be an integer in 0..2**63-1, got {self.seed!r}")
        self.policy_config  # validates hidden, encoding, activation  # noqa: B018

    @property
    def policy_config(self) -> ModelConfig:
        return ModelConfig(hidden=self.hidden, dropout=0.0, activation=self.activation, encoding=self.encoding)

    @property
    def value_config(self) -> ModelConfig:
        return ModelConfig(
            hidden=self.hidden, dropout=0.0, activation=self.activation, encoding=self.encoding, n_outputs=1
        )

    @property
    def num_iterations(self) -> int:
        return -(-self.total_steps // (self.num_envs * self.num_steps))

    @property
    def model_id(self) -> str:
        return f"ppo_{self.reward}_D{self.dependency:g}_{self.partner}_seed{self.seed}"

    def hyperparameters(self) -> dict:
        """The flat summary the analysis groups models by (everything but the seed)."""
        d = self.to_dict()
        d.pop("seed")
        return {**d, "layers": len(self.hidden), "units": self.hidden[0], "dropout": 0.0, "algorithm": "ppo"}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PPOConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown PPO option(s) {unknown}; valid ones are {sorted(known)}")
        return cls(**{**d, **({"hidden": tuple(d["hidden"])} if "hidden" in d else {})})


@dataclass
class PPOResult:
    out: Path
    iterations: int
    env_steps: int
    checkpoints: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time in the engine (env steps), the policy (acting) and the update."""


class Adam:
    """Adam (Kingma and Ba) over a list of tensors: torch.optim.Adam's formula, without its import cost.

    ``torch.optim`` imports TorchDynamo on first use (seconds, tens of seconds on a busy machine, in
    every worker process); this is the same update in a few lines, and its state is three plain tensors
    per parameter and a step count, saved as they are in the resume file.
    """

    def __init__(
        self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-5
    ):
        self.params, self.lr, (self.beta1, self.beta2), self.eps = params, lr, betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.step_count = 0

    @torch.no_grad()
    def step(self, max_grad_norm: float) -> None:
        """Clip the gradients to a global norm of ``max_grad_norm``, then one Adam step."""
        grads = [p.grad for p in self.params]
        norm = torch.sqrt(sum((g * g).sum() for g in grads))
        scale = min(1.0, max_grad_norm / (float(norm) + 1e-6))
        self.step_count += 1
        c1, c2 = 1 - self.beta1**self.step_count, 1 - self.beta2**self.step_count
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            g = g * scale
            m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            p.addcdiv_(m / c1, (v / c2).sqrt_().add_(self.eps), value=-self.lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def state(self) -> dict[str, torch.Tensor]:
        out = {f"adam.m.{i}": m for i, m in enumerate(self.m)} | {f"adam.v.{i}": v for i, v in enumerate(self.v)}
        return out | {"adam.step": torch.tensor([self.step_count])}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        for i in range(len(self.params)):
            self.m[i].copy_(tensors[f"adam.m.{i}"])
            self.v[i].copy_(tensors[f"adam.v.{i}"])
        self.step_count = int(tensors["adam.step"][0])


# -- partners ----------------------------------------------------------------------------------


def network_partner(model: MLP, *, sample: torch.Generator | None = None) -> Callable[[GameBatch], np.ndarray]:
    """Toad played by ``model`` on its role-swapped view: greedy, or sampled with ``sample``."""
    if model.config.n_inputs != 100 or model.config.n_outputs != 4:
        raise ConfigError(
            f"a partner network must read the 100-integer state and give 4 action values; this one is "
            f"{model.config.n_inputs} -> {list(model.config.hidden)} -> {model.config.n_outputs}"
        )

    @torch.no_grad()
    def act(batch: GameBatch) -> np.ndarray:
        logits = model(torch.from_numpy(learner_view(batch, Player.TOAD)))
        return (_sample(logits, sample) if sample is not None else logits.argmax(1)).numpy()

    act.name = "network"
    return act


def load_partner(path: str | Path) -> MLP:
    """The frozen partner's policy from a checkpoint; ``ConfigError`` if it cannot be one."""
    try:
        model = load_checkpoint(path).model
    except CheckpointError as e:
        raise ConfigError(f"partner checkpoint: {e}") from None
    network_partner(model)  # checks the shape
    return model


def _sample(logits: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """(n, 4) logits -> (n,) actions by inverse CDF on one uniform per row (reproducible with ``g``)."""
    cdf = torch.softmax(logits, 1).cumsum(1)
    u = torch.rand(len(logits), 1, generator=g)
    return (cdf < u).sum(1).clamp_(max=logits.shape[1] - 1)


# -- the run -----------------------------------------------------------------------------------


def train_ppo(config: PPOConfig, out: str | Path, *, on_iteration: Callable[[dict], None] | None = None) -> PPOResult:
    """Train (or resume) one PPO run in ``out``; returns where it wrote and the time spent per part."""
    out = Path(out)
    _check_config_file(out, config)
    g = torch.Generator().manual_seed(config.seed)
    policy, value = MLP(config.policy_config), MLP(config.value_config)
    policy.reset_parameters(g)
    value.reset_parameters(g)
    with torch.no_grad():
        value.layers[-1].weight.mul_(0.01)  # a near-zero first value estimate, as CleanRL's small-gain output layer
    params = [*policy.parameters(), *value.parameters()]
    optimizer = Adam(params, lr=config.lr)
    partner = _make_partner(config, policy, g)
    env = FrogAndToadVectorEnv(config.num_envs, partner=partner, reward=config.reward, survival=config.survival,
                               dependency=config.dependency, max_turns=config.max_turns)  # fmt: skip
    obs, _ = env.reset(seed=config.seed)
    history: list[dict] = []
    start = 0
    if (out / RESUME_FILE).is_file():
        start, history, obs = _load_resume(out / RESUME_FILE, policy, value, optimizer, g, env)
        log.info("%s: resumed at iteration %d", config.model_id, start)
    else:
        _checkpoint(out, config, policy, 0, 0, {}, init=True)
    n, t_steps = config.num_envs, config.num_steps
    batch_size = n * t_steps
    minibatch = batch_size // config.num_minibatches
    # The rollout's encoded states (row t * n + game, what the update reads; float32, 385 features: 50 MB
    # at 512 x 64, 200 MB at the benchmark's 4,096 x 32) and a minibatch's rows are allocated once per run:
    # a fresh tensor of that size costs more in page faults than in arithmetic (glibc maps anything over
    # 32 MB anew on every allocation). Reusing mb_buf is safe: each minibatch's backward runs before the
    # next index_select overwrites it (and autograd's version counter would refuse it otherwise).
    feat_buf = torch.empty((t_steps, n, policy.config.n_features))
    mb_buf = torch.empty((minibatch, policy.config.n_features))
    act_buf = torch.zeros((t_steps, n), dtype=torch.int64)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros((t_steps, n)) for _ in range(4))
    seconds = {"engine": 0.0, "policy": 0.0, "update": 0.0}
    done = torch.zeros(n)
    result = PPOResult(out, config.num_iterations, 0, seconds=seconds)
    for it in range(start + 1, config.num_iterations + 1):
        optimizer.lr = config.lr * (1.0 - (it - 1) / config.num_iterations)
        returns_done: list[float] = []
        for t in range(t_steps):  # rollout: num_steps cycles of every game
            tic = time.perf_counter()
            x = torch.from_numpy(obs)
            with torch.no_grad():
                features = feat_buf[t]  # encoded once, for both networks and for the update
                features.copy_(policy.encoding.encode(x))
                logits, values = _both(policy, value, features)  # (n, 4), (n, 1)
                action = _sample(logits, g)
                logp = torch.log_softmax(logits, 1).gather(1, action[:, None])[:, 0]
                val_buf[t] = values[:, 0]
            act_buf[t], logp_buf[t], done_buf[t] = action, logp, done
            toc = time.perf_counter()
            obs, reward, terminated, _, info = env.step(action.numpy())
            seconds["policy"] += toc - tic
            seconds["engine"] += time.perf_counter() - toc
            rew_buf[t] = torch.from_numpy(reward) * config.reward_scale
            done = torch.from_numpy(terminated.astype(np.float32))
            if "episode_return" in info:
                returns_done.extend(info["episode_return"].tolist())
        tic = time.perf_counter()
        stats = _update(config, policy, value, optimizer, params, g, obs, done, feat_buf, act_buf, logp_buf, rew_buf, done_buf,
                        val_buf, mb_buf, it)  # fmt: skip
        seconds["update"] += time.perf_counter() - tic
        env_steps = it * batch_size
        row = {"iteration": it, "env_steps": env_steps, "reward_per_step": float(rew_buf.mean()) / config.reward_scale,
               "episode_return": float(np.mean(returns_done)) if returns_done else None, **stats}  # fmt: skip
        history.append(row)
        if on_iteration is not None:
            on_iteration({"model_id": config.model_id, **row})
        if it % config.checkpoint_every == 0 or it == config.num_iterations:
            result.checkpoints.append(_checkpoint(out, config, policy, it, env_steps, row))
            _save_resume(out / RESUME_FILE, it, history, policy, value, optimizer, g, env, obs)
            atomic.write_json(out / LOG_FILE, tables.PPO_LOG.writing(history, out / LOG_FILE), fsync=False)
    result.env_steps = (config.num_iterations - start) * batch_size  # taken by this call
    return result


def _update(config, policy, value, optimizer, params, g, next_obs, next_done, feat_buf, act_buf, logp_buf, rew_buf, done_buf,
            val_buf, mb_buf: torch.Tensor, it: int) -> dict:  # fmt: skip
    """GAE advantages, then ``update_epochs`` passes of clipped-surrogate minibatch updates."""
    t_steps, n = rew_buf.shape
    with torch.no_grad():
        next_value = value(torch.from_numpy(next_obs))[:, 0]
        adv = torch.zeros_like(rew_buf)
        last = torch.zeros(n)
        for t in reversed(range(t_steps)):  # done_buf[t]: the state at t starts a new game
            nonterminal = 1.0 - (next_done if t == t_steps - 1 else done_buf[t + 1])
            v_next = next_value if t == t_steps - 1 else val_buf[t + 1]
            delta = rew_buf[t] + config.gamma * v_next * nonterminal - val_buf[t]
            last = delta + config.gamma * config.gae_lambda * nonterminal * last
            adv[t] = last
        ret = adv + val_buf
    b_feat, b_act = feat_buf.reshape(-1, feat_buf.shape[-1]), act_buf.reshape(-1)  # encoded in the rollout
    b_logp, b_adv, b_ret = logp_buf.reshape(-1), adv.reshape(-1), ret.reshape(-1)
    minibatch = len(mb_buf)
    clip_fracs, losses = [], []
    for _ in range(config.update_epochs):
        order = torch.randperm(len(b_act), generator=g)
        for s in range(0, len(order), minibatch):
            mb = order[s : s + minibatch]
            features = torch.index_select(b_feat, 0, mb, out=mb_buf)  # one row copy a minibatch, for both networks
            logits, values = _both(policy, value, features)
            logp_all = torch.log_softmax(logits, 1)
            logp = logp_all.gather(1, b_act[mb, None])[:, 0]
            entropy = -(logp_all.exp() * logp_all).sum(1).mean()
            ratio = (logp - b_logp[mb]).exp()
            a = b_adv[mb]
            a = (a - a.mean()) / (a.std() + 1e-8)
            pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)).mean()
            v_loss = 0.5 * ((values[:, 0] - b_ret[mb]) ** 2).mean()
            loss = pg_loss - config.ent_coef * entropy + config.vf_coef * v_loss
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"{config.model_id}: the PPO loss became {loss.item()} at iteration {it} (env step "
                    f"{it * len(b_act)}); the last good checkpoint and resume file are kept; lower --lr or check the rewards"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(config.max_grad_norm)
            with torch.no_grad():
                clip_fracs.append(((ratio - 1).abs() > config.clip_coef).float().mean().item())
                losses.append((pg_loss.item(), v_loss.item(), entropy.item()))
    pg, v, ent = np.mean(losses, axis=0)
    return {
        "policy_loss": float(pg),
        "value_loss": float(v),
        "entropy": float(ent),
        "clip_fraction": float(np.mean(clip_fracs)),
    }


def _both(policy: MLP, value: MLP, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(_body(policy, features), _body(value, features))``, with the two first layers as one product.

    The features are the largest operand (385 columns; 8,192 to 65,536 rows a minibatch): one pass over them
    for both networks instead of two, forward and backward (``_FirstLayers``). It calls the layers' weights
    directly, so forward hooks on ``layers[0]`` do not run here (PPO registers none).
    """
    first_p, first_v = policy.layers[0], value.layers[0]
    h = _FirstLayers.apply(features, first_p.weight, first_p.bias, first_v.weight, first_v.bias)
    k = first_p.out_features
    return _after_first(policy, h[:, :k]), _after_first(value, h[:, k:])


class _FirstLayers(torch.autograd.Function):
    """Two Linear layers on the same input as one ``addmm`` with their kernels stacked.

    The arithmetic is the separate layers': each output is its own dot product, the kernels' gradient
    is one product whose rows are the separate ones, and each bias's gradient is summed over its own
    contiguous columns as autograd does for one layer. For the experiment's 2 x 17 networks every
    number is the same to the last bit (tests/train/test_ppo.py checks it against hashes recorded before
    this path existed); for other widths the BLAS may pick another kernel for the wider product and round
    differently in the last bit: a run still reproduces from its seed.
    """

    @staticmethod
    def forward(ctx, x, w_a, b_a, w_b, b_b):
        assert not x.requires_grad, "no gradient for the features: they are the encoded states, not parameters"
        ctx.save_for_backward(x)
        ctx.k = len(w_a)
        return torch.addmm(torch.cat([b_a, b_b]), x, torch.cat([w_a, w_b]).t())

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        k = ctx.k
        grad_w = grad.t().mm(x)
        return None, grad_w[:k], grad[:, :k].contiguous().sum(0), grad_w[k:], grad[:, k:].contiguous().sum(0)


def _after_first(model: MLP, h: torch.Tensor) -> torch.Tensor:
    """The rest of ``_body`` once the first layer's pre-activations ``h`` are known."""
    if len(model.layers) == 1:  # no hidden layer: the first layer is the output
        return h
    *hidden, out = model.layers
    h = model.activation(h)
    for layer in hidden[1:]:
        h = model.activation(layer(h))
    return out(h)


def _body(model: MLP, features: torch.Tensor) -> torch.Tensor:
    """``model.forward`` after the encoding (dropout is 0): the statement ``_both`` computes faster (tests compare)."""
    *hidden, out = model.layers
    for layer in hidden:
        features = model.activation(layer(features))
    return out(features)


def _make_partner(config: PPOConfig, policy: MLP, g: torch.Generator):
    if config.partner == "self":
        return network_partner(policy, sample=g)
    if config.partner == "network":
        return network_partner(load_partner(config.partner_checkpoint))
    return config.partner


# -- files ---------------------------------------------------------------------------------------


def _check_config_file(out: Path, config: PPOConfig) -> None:
    """Write ``config.json`` for a new run; refuse to resume a run made with another configuration."""
    path = out / CONFIG_FILE
    if path.is_file():
        saved = atomic.read_json_object(path, ConfigError, "remove the folder or choose another --out")
        if saved != json.loads(atomic.json_text(config.to_dict())):
            diff = sorted(
                k
                for k in set(saved) | set(config.to_dict())
                if saved.get(k) != json.loads(atomic.json_text(config.to_dict())).get(k)
            )
            raise ConfigError(f"{out} holds a PPO run with another configuration (differs in {', '.join(diff)}); "
                              "resume with the same options or choose another --out")  # fmt: skip
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, tables.PPO_CONFIG.writing(config.to_dict(), path))


def _checkpoint(
    out: Path, config: PPOConfig, policy: MLP, it: int, env_steps: int, row: dict, *, init: bool = False
) -> Path:
    meta = {
        "model_id": config.model_id, "algorithm": "ppo", "ppo_config": config.to_dict(), "hyperparameters": config.hyperparameters(),
        "seed": config.seed, "epoch": it, "init": init, "env_steps": env_steps,
        "metrics": {k: v for k, v in row.items() if k not in ("iteration", "env_steps")}, "package_version": __version__,
    }  # fmt: skip
    return save_checkpoint(out / "checkpoints" / f"{config.model_id}_step-{it:05d}", policy, meta, fsync=False)


def _save_resume(path: Path, it: int, history: list[dict], policy, value, optimizer, g, env, obs) -> None:
    tensors = {f"policy.{k}": v for k, v in policy.state_dict().items()}
    tensors |= {f"value.{k}": v for k, v in value.state_dict().items()}
    tensors |= optimizer.state()
    tensors["rng"] = g.get_state()
    tensors |= {f"env.{k}": torch.from_numpy(np.ascontiguousarray(v).view(np.int64) if v.dtype == np.uint64 else np.ascontiguousarray(v))
                for k, v in env.get_state().items()}  # fmt: skip
    tensors["obs"] = torch.from_numpy(obs)
    header = {"iteration": str(it), "history": json.dumps(history)}
    atomic.write_bytes(path, save({k: v.contiguous() for k, v in tensors.items()}, metadata=header), fsync=False)


def _load_resume(path: Path, policy, value, optimizer, g, env) -> tuple[int, list[dict], np.ndarray]:
    from safetensors import safe_open

    try:
        tensors = load_file(path)
        with safe_open(path, "pt") as f:
            header = f.metadata()
        policy.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("policy.")})
        value.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("value.")})
        optimizer.load(tensors)
    except Exception as e:  # a damaged file or another architecture
        raise CheckpointError(
            f"{path} cannot be resumed ({str(e).splitlines()[0][:120]}); remove it to start over"
        ) from None
    g.set_state(tensors["rng"])
    env_state = {k[4:]: v.numpy() for k, v in tensors.items() if k.startswith("env.")}
    env_state["episode_seed"] = env_state["episode_seed"].view(np.uint64)
    env.set_state(env_state)
    return int(header["iteration"]), json.loads(header["history"]), tensors["obs"].numpy()
