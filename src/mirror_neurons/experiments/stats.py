"""Small, tested statistics for the theory experiment's first round: proportions and logistic fits.

Round one was registered and run with these hand-written fits, and they stay as
its code. Round two needs what they do not do (standard errors clustered by
dataset, a mixed model) and uses statsmodels instead (``theory.rules2``). What
is here, short enough to read in one sitting:

- ``wilson_interval`` (from ``analysis.stats``, where the planted-unit controls use it too): the
  score interval for a binomial proportion, which keeps its coverage at small n and at 0 or n
  successes (the Wald interval does not).
- ``fit_logistic``: logistic regression by Newton's method (iteratively
  reweighted least squares) with step halving, Wald standard errors from the
  Fisher information, and Firth's penalised likelihood for separated data
  (where the maximum-likelihood estimate does not exist).
- ``profile_interval``: the profile-likelihood interval of one coefficient,
  the interval the decision rules use, since Wald intervals fail near separation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from mirror_neurons.analysis.stats import wilson_interval  # noqa: F401  (re-exported: the theory experiment's proportions)
from mirror_neurons.errors import AnalysisError


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic regression. ``coef``, ``se`` are (p,); ``cov`` is (p, p)."""

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    cov: np.ndarray
    loglik: float
    """Log-likelihood (penalised by 0.5 log det I for Firth fits) at the estimate."""
    method: str
    """"ml" or "firth"."""
    converged: bool
    n: int
    events: int
    notes: tuple[str, ...] = field(default=())

    def wald_interval(self, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        z = stats.norm.ppf(0.5 + confidence / 2)
        return self.coef - z * self.se, self.coef + z * self.se

    def __getitem__(self, name: str) -> float:
        return float(self.coef[self.names.index(name)])


def _loglik(X, y, beta, offset, firth: bool) -> float:
    eta = X @ beta + offset
    ll = float(np.sum(y * eta - np.logaddexp(0, eta)))
    if firth:
        p = special.expit(eta)
        w = p * (1 - p)
        sign, logdet = np.linalg.slogdet((X * w[:, None]).T @ X)
        ll += 0.5 * logdet if sign > 0 else -np.inf
    return ll


def _newton(X, y, beta, offset, firth: bool, max_iter: int = 200, tol: float = 1e-10, X_full=None):
    """Maximise the (penalised) log-likelihood over ``beta``; returns (beta, converged).

    For Firth with a fixed coefficient (profiling), the penalty's information
    matrix comes from ``X_full`` (all columns) while only ``X``'s coefficients move.
    """
    ll = _loglik_any(X, y, beta, offset, firth, X_full)
    for _ in range(max_iter):
        eta = X @ beta + offset
        p = special.expit(eta)
        w = p * (1 - p)
        info = (X * w[:, None]).T @ X
        resid = y - p
        if firth:
            F = X if X_full is None else X_full
            info_full = (F * w[:, None]).T @ F
            # hat values of the weighted design: h_i = w_i f_i' I^-1 f_i
            h = w * np.einsum("ij,ij->i", F @ np.linalg.pinv(info_full), F)
            resid = resid + h * (0.5 - p)
        score = X.T @ resid
        step = np.linalg.lstsq(info, score, rcond=None)[0]
        t = 1.0
        while True:
            new = beta + t * step
            new_ll = _loglik_any(X, y, new, offset, firth, X_full)
            if new_ll >= ll - 1e-12 or t < 1e-8:
                break
            t /= 2
        beta, delta, ll = new, new_ll - ll, new_ll
        if np.max(np.abs(t * step)) < tol or abs(delta) < tol * 1e-2:
            return beta, True
    return beta, False


def _loglik_any(X, y, beta, offset, firth, X_full):
    if not firth or X_full is None:
        return _loglik(X, y, beta, offset, firth)
    # penalty from the full design, with the fixed coefficient folded into the offset
    eta = X @ beta + offset
    ll = float(np.sum(y * eta - np.logaddexp(0, eta)))
    p = special.expit(eta)
    w = p * (1 - p)
    sign, logdet = np.linalg.slogdet((X_full * w[:, None]).T @ X_full)
    return ll + (0.5 * logdet if sign > 0 else -np.inf)


def is_separated(X: np.ndarray, y: np.ndarray) -> bool:
    """True if some direction b separates the outcomes (X b >= 0 where y = 1, <= 0 where y = 0,
    not all zero): then the maximum-likelihood estimate does not exist.

    Solved as a linear programme: maximise sum |X b| over signed constraints in a box.
    """
    s = np.where(np.asarray(y) > 0, 1.0, -1.0)
    A = -(X * s[:, None])  # want s_i x_i b >= 0  <=>  -s_i x_i b <= 0
    c = -(s[:, None] * X).sum(axis=0)  # maximise sum s_i x_i b
    res = optimize.linprog(c, A_ub=A, b_ub=np.zeros(len(X)), bounds=[(-1, 1)] * X.shape[1], method="highs")
    return bool(res.status == 0 and -res.fun > 1e-7)


def fit_logistic(X, y, names=None, *, method: str = "auto") -> LogisticFit:
    """Logistic regression of binary ``y`` (n,) on ``X`` (n, p) (include a column of ones for an intercept).

    ``method``: "ml", "firth", or "auto" (maximum likelihood unless the data are
    separated, then Firth). Standard errors are sqrt(diag(I^-1)) with I the
    Fisher information at the estimate.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    names = tuple(names) if names is not None else tuple(f"b{i}" for i in range(p))
    if len(names) != p or len(y) != n:
        raise AnalysisError(f"design is {X.shape} with {len(names)} names and {len(y)} outcomes")
    if not np.all((y == 0) | (y == 1)):
        raise AnalysisError("outcomes must be 0 or 1")
    if np.linalg.matrix_rank(X) < p:
        raise AnalysisError(
            f"the design matrix is rank-deficient (rank {np.linalg.matrix_rank(X)} < {p} columns {names})"
        )
    notes = []
    if method == "auto":
        method = "ml"
        if is_separated(X, y):
            method = "firth"
            notes.append(
                "the outcomes are separated by the covariates: maximum likelihood does not exist, Firth's penalised likelihood used"
            )
    if method not in ("ml", "firth"):
        raise AnalysisError(f"method must be ml, firth or auto, got {method!r}")
    firth = method == "firth"
    beta, converged = _newton(X, y, np.zeros(p), np.zeros(n), firth)
    eta = X @ beta
    w = special.expit(eta) * (1 - special.expit(eta))
    cov = np.linalg.pinv((X * w[:, None]).T @ X)
    return LogisticFit(
        names=names,
        coef=beta,
        se=np.sqrt(np.clip(np.diag(cov), 0, None)),
        cov=cov,
        loglik=_loglik(X, y, beta, np.zeros(n), firth),
        method=method,
        converged=converged,
        n=n,
        events=int(y.sum()),
        notes=tuple(notes),
    )


def profile_loglik(X, y, j: int, value: float, fit: LogisticFit) -> float:
    """Maximum (penalised) log-likelihood with coefficient ``j`` fixed at ``value``."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = [i for i in range(X.shape[1]) if i != j]
    offset = X[:, j] * value
    firth = fit.method == "firth"
    start = fit.coef[keep].copy()
    beta, _ = _newton(X[:, keep], y, start, offset, firth, X_full=X if firth else None)
    return _loglik_any(X[:, keep], y, beta, offset, firth, X if firth else None)


def profile_interval(X, y, fit: LogisticFit, name: str, confidence: float = 0.95) -> tuple[float, float]:
    """Profile-likelihood interval of one coefficient: where 2 (ll_max - ll_profile) = chi2_1 quantile.

    An end that cannot be found within 50 standard errors (or +-50 on the
    coefficient's scale) is returned as -inf / +inf.
    """
    j = fit.names.index(name)
    crit = stats.chi2.ppf(confidence, 1)
    b, se = fit.coef[j], max(fit.se[j], 1e-3)

    def excess(v):
        return 2 * (fit.loglik - profile_loglik(X, y, j, v, fit)) - crit

    ends = []
    for direction in (-1, 1):
        step = se
        far = b + direction * step
        found = False
        for _ in range(12):
            if excess(far) > 0:
                found = True
                break
            step *= 2
            far = b + direction * step
            if step > 50 * se + 50:
                break
        if not found:
            ends.append(direction * np.inf)
            continue
        near = b + direction * step / 2 if step > se else b
        ends.append(optimize.brentq(excess, *sorted((near, far)), xtol=1e-8))
    return float(ends[0]), float(ends[1])
