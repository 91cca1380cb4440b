"""Did training make mirror units? Each model against its own initialisation, over seeds.

The unit of replication is the model (its seed), not the checkpoint: a model's
checkpoints share its initial weights and its training data order, so testing
them as independent samples inflates every p-value (issue 13). Here each model
contributes one pair:

- its **initial** checkpoint (epoch 0, ``init: true``, written by the trainer
  before the first step), and
- its **trained** checkpoint: the model's last checkpoint, the one with the best
  validation loss. The choice is fixed before any measure is looked at; picking
  the checkpoint with the highest index would bias every test upward.

For a measure ``m`` (default: the scale-free index ``cmni_effect_size``, then
raw ``cmni`` and the mirror-unit count), the model's change is
``m(trained) - m(init)``. Models are grouped into *configurations*: models whose
recorded hyper-parameters are equal and that differ only in their seed. For
each configuration with at least ``MIN_SEEDS`` models:

- the one-sided Wilcoxon signed-rank test of "the change is > 0" (exact for the
  small numbers of seeds used here; its smallest possible p-value, the floor, is
  ``1 / 2**n`` for n models without ties or zero changes, and is recorded);
- the mean change, its standard deviation and ``d_z`` = mean / sd (the paired
  effect size), and a BCa bootstrap interval of the mean change over models;
- how many of the trained checkpoints are competent (``analysis.competence``).

Configurations with fewer seeds are listed with their changes but get no test
("fewer than MIN_SEEDS seeds: not established"). Training-level nulls (models
trained on Toad-blind or shuffled labels, ``TrainConfig.labels``) are compared
with the models of the same architecture trained on the rule's labels by a
Mann-Whitney test on the per-model changes (one-sided: larger under the rule).

``paired_tables(checkpoints)`` returns the per-model rows and the per-configuration
results; ``write_paired(analysis_dir)`` reads ``checkpoints.parquet`` and writes
``paired_models.parquet`` and ``paired.json``. ``paired.json`` also holds the
paper's Table 2 comparison at model level (``depth_comparison``), so the report
only reads the numbers its reproduction table shows.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

from mirror_neurons import atomic
from mirror_neurons.tables import CHECKPOINTS, PAIRED, PAIRED_MODELS
from mirror_neurons.analysis.competence import COMPETENT_COLUMN
from mirror_neurons.errors import AnalysisError

MEASURES = ("cmni_effect_size", "cmni", "n_mirror")
"""Measures tested, the primary first."""
MIN_SEEDS = 10
"""Models (seeds) a configuration needs for its paired test (issue 13: >= 10 seeds per configuration)."""
ALPHA = 0.05
CONFIG_PREFIX = "hyperparameters."
"""Columns that define a configuration (everything a model's training was given, except its seed)."""
IGNORED_KEYS = ("hyperparameters.max_epochs", "hyperparameters.patience")
"""Stopping settings do not make another configuration."""
PAIRED_MODELS_FILE = PAIRED_MODELS.file
PAIRED_FILE = PAIRED.file


@dataclass(frozen=True)
class ConfigTest:
    """One configuration's paired test on one measure."""

    configuration: str
    """The grouping key: every recorded hyper-parameter but the seed and the stopping settings."""
    label: str
    """The configuration in words (``configuration_label``)."""
    measure: str
    labels: str
    n_models: int
    n_competent: int
    mean_init: float
    mean_trained: float
    mean_change: float
    sd_change: float
    d_z: float
    ci_low: float
    ci_high: float
    p_value: float | None
    p_floor: float | None
    verdict: str


def _is_init(row: dict) -> bool:
    init = row.get("init")
    return bool(init) if init is not None else row.get("epoch") == 0


def configuration_key(row: dict) -> str:
    """The configuration a checkpoint row belongs to: its hyper-parameters as sorted key=value pairs."""
    items = sorted(
        (k[len(CONFIG_PREFIX) :], row[k]) for k in row if k.startswith(CONFIG_PREFIX) and k not in IGNORED_KEYS
    )
    return ", ".join(f"{k}={v}" for k, v in items) or "(no hyper-parameters recorded)"


def configuration_label(row: dict) -> str:
    """A configuration in words for tables: "2 x 17, onehot, cross_entropy (l2 0), balanced, labels rule, lr 0.003, batch 128, dropout 0"."""
    g = lambda k, default=None: row.get(f"{CONFIG_PREFIX}{k}", default)  # noqa: E731
    hidden = g("hidden")
    try:
        widths = " x ".join(str(w) for w in (json.loads(hidden) if isinstance(hidden, str) else hidden))
    except (TypeError, ValueError):
        widths = str(hidden)
    return (
        f"{widths}, {g('encoding', 'raw')}, {g('loss', 'mse_l2')} (l2 {g('l2')}), {g('sampling', 'shuffle')}, "
        f"labels {g('labels', 'rule')}, lr {g('lr')}, batch {g('batch_size')}, dropout {g('dropout')}"
    )


def model_pairs(checkpoints: dict[str, list]) -> list[dict]:
    """One row per model with both an initial and a trained checkpoint: the measures at each and the change."""
    n = len(checkpoints.get("model_id", ()))
    rows = [{k: v[i] for k, v in checkpoints.items()} for i in range(n)]
    by_model: dict[str, list[dict]] = {}
    for row in rows:
        by_model.setdefault(str(row["model_id"]), []).append(row)
    out = []
    for model_id, group in sorted(by_model.items()):
        inits = [r for r in group if _is_init(r)]
        trained = [r for r in group if not _is_init(r)]
        if not inits or not trained:
            continue
        init, last = inits[0], max(trained, key=lambda r: r["epoch"])
        pair = {
            "model_id": model_id,
            "configuration": configuration_key(last),
            "label": configuration_label(last),
            "labels": str(last.get("hyperparameters.labels") or "rule"),
            "architecture": str(last.get("hyperparameters.hidden")),
            "encoding": str(last.get("hyperparameters.encoding") or "raw"),
            "trained_epoch": int(last["epoch"]),
            "competent": bool(last.get(COMPETENT_COLUMN) or False),
        }
        for m in MEASURES:
            a, b = _float(init.get(m)), _float(last.get(m))
            pair[f"{m}_init"], pair[f"{m}_trained"], pair[f"{m}_change"] = a, b, b - a
        out.append(pair)
    return out


def _float(v) -> float:
    return float(v) if v is not None else math.nan


def wilcoxon_floor(n: int) -> float:
    """Smallest one-sided exact Wilcoxon signed-rank p-value with n non-zero, untied changes: all positive."""
    return 2.0**-n


def config_tests(pairs: list[dict], *, seed: int = 0) -> list[ConfigTest]:
    """The paired test of every configuration and measure (``MIN_SEEDS`` or more models, else no test)."""
    by_config: dict[str, list[dict]] = {}
    for p in pairs:
        by_config.setdefault(p["configuration"], []).append(p)
    rng = np.random.default_rng(seed)
    out = []
    for config, group in sorted(by_config.items()):
        for m in MEASURES:
            change = np.array([p[f"{m}_change"] for p in group], dtype=float)
            change = change[np.isfinite(change)]
            n = len(change)
            sd = float(np.std(change, ddof=1)) if n > 1 else math.nan
            mean = float(np.mean(change)) if n else math.nan
            lo = hi = math.nan
            p_value = p_floor = None
            if n < MIN_SEEDS:
                verdict = f"fewer than {MIN_SEEDS} seeds ({n}): not established"
            else:
                if np.ptp(change) > 0:
                    ci = stats.bootstrap(
                        (change,), np.mean, n_resamples=9999, method="BCa", random_state=rng
                    ).confidence_interval
                    lo, hi = float(ci.low), float(ci.high)
                else:
                    lo = hi = mean
                nonzero = change[change != 0]
                if len(nonzero) == 0:
                    p_value, p_floor = 1.0, 1.0
                else:
                    p_value = float(stats.wilcoxon(nonzero, alternative="greater").pvalue)
                    p_floor = wilcoxon_floor(len(nonzero))
                verdict = (
                    "training increased it"
                    if p_value < ALPHA
                    else "no increase detected"
                    + (f" (the test's floor {p_floor:.2g} is not below {ALPHA})" if p_floor >= ALPHA else "")
                )
            d_z = mean / sd if n > 1 and sd > 0 else math.nan
            out.append(ConfigTest(
                configuration=config, label=group[0]["label"], measure=m, labels=group[0]["labels"], n_models=n,
                n_competent=sum(p["competent"] for p in group),
                mean_init=float(np.nanmean([p[f"{m}_init"] for p in group])),
                mean_trained=float(np.nanmean([p[f"{m}_trained"] for p in group])),
                mean_change=mean, sd_change=sd, d_z=d_z, ci_low=lo, ci_high=hi, p_value=p_value, p_floor=p_floor, verdict=verdict,
            ))  # fmt: skip
    return out


def null_comparisons(pairs: list[dict], measure: str = MEASURES[0]) -> list[dict]:
    """Rule-trained models against training-level nulls of the same architecture and encoding (model level).

    One-sided Mann-Whitney: are the rule-trained models' changes larger? If mirror patterns grow as
    much when the partner's distress is useless (toad_blind) or nothing is learnable (shuffled),
    they are not about the partner.
    """
    out = []
    kinds = sorted({p["labels"] for p in pairs} - {"rule"})
    for kind in kinds:
        for arch, enc in sorted({(p["architecture"], p["encoding"]) for p in pairs if p["labels"] == kind}):
            rule = np.array(
                [
                    p[f"{measure}_change"]
                    for p in pairs
                    if p["labels"] == "rule" and p["architecture"] == arch and p["encoding"] == enc
                ]
            )
            null = np.array(
                [
                    p[f"{measure}_change"]
                    for p in pairs
                    if p["labels"] == kind and p["architecture"] == arch and p["encoding"] == enc
                ]
            )
            rule, null = rule[np.isfinite(rule)], null[np.isfinite(null)]
            row = {"null": kind, "architecture": arch, "encoding": enc, "measure": measure, "n_rule": len(rule), "n_null": len(null),
                   "mean_change_rule": float(np.mean(rule)) if len(rule) else math.nan,
                   "mean_change_null": float(np.mean(null)) if len(null) else math.nan, "p_value": None, "p_floor": None}  # fmt: skip
            if len(rule) >= 2 and len(null) >= 2:
                row["p_value"] = float(
                    stats.mannwhitneyu(
                        rule, null, alternative="greater", method="exact" if len(rule) + len(null) <= 30 else "auto"
                    ).pvalue
                )
                row["p_floor"] = 1.0 / math.comb(len(rule) + len(null), len(rule))
            out.append(row)
    return out


MEASURE_NAMES = {
    "cmni_effect_size": "the scale-free mirror index",
    "cmni": "raw CMNI",
    "n_mirror": "the number of mirror units",
}


def _fmt(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def answer(tests: list[ConfigTest], nulls: list[dict]) -> dict:
    """The run's answer to "did training make mirror units?", with its evidence and the control that decided it.

    The question is asked of the *case configuration*: among configurations trained on the rule's
    labels with at least ``MIN_SEEDS`` models, the one with the most competent trained checkpoints
    (ties: the most models). Its paired test on the primary measure decides whether training moved
    the index; the Toad-blind comparison decides whether what moved is about the partner.
    """
    primary = MEASURES[0]
    candidates = [t for t in tests if t.measure == primary and t.labels == "rule" and t.n_models >= MIN_SEEDS]
    if not candidates:
        return {
            "verdict": "not established",
            "decided_by": "none",
            "headline": (
                f"Not established: no configuration has {MIN_SEEDS} or more seeds trained on the rule's labels "
                f"with epoch-0 checkpoints, so training cannot be tested against initialisation at model level."
            ),
            "evidence": [],
            "configuration": None,
        }
    case = max(candidates, key=lambda t: (t.n_competent, t.n_models))
    same = {t.measure: t for t in tests if t.configuration == case.configuration}
    blind = [r for r in nulls if r["null"] == "toad_blind" and r["measure"] == primary]
    name = MEASURE_NAMES[primary]
    evidence = [
        f"{name.capitalize()} of the {case.n_models} models ({case.n_competent} competent): {_fmt(case.mean_init)} at "
        f"initialisation, {_fmt(case.mean_trained)} trained; mean change {_fmt(case.mean_change)} "
        f"(95 % BCa interval {_fmt(case.ci_low)} to {_fmt(case.ci_high)}, d_z {_fmt(case.d_z, 2)}), one-sided Wilcoxon "
        f"p = {_fmt(case.p_value, 4)} (floor {_fmt(case.p_floor, 4)}).",
    ]
    raw = same.get("cmni")
    if raw is not None and raw.p_value is not None:
        evidence.append(
            f"Raw CMNI (the paper's index, not scale-free): {_fmt(raw.mean_init)} -> {_fmt(raw.mean_trained)}, "
            f"p = {_fmt(raw.p_value, 4)}; it is not scale-free, so it moves with the size of activations, which training changes."
        )
    for r in blind:
        if r["p_value"] is not None:
            evidence.append(
                f"Networks of the same architecture trained on Toad-blind labels ({r['n_null']} seeds) changed it by "
                f"{_fmt(r['mean_change_null'])} on average against {_fmt(r['mean_change_rule'])} under the rule; "
                f"one-sided Mann-Whitney (rule larger) p = {_fmt(r['p_value'], 4)} (floor {_fmt(r['p_floor'], 6)})."
            )
    for t in encoding_twins(case, tests):
        moved = "raised" if t.p_value < ALPHA and t.ci_low > 0 else "did not raise"
        evidence.append(
            f"The same recipe on the {_encoding(t.configuration)} input ({t.n_models} seeds, the encoding control): "
            f"{_fmt(t.mean_init)} at initialisation, {_fmt(t.mean_trained)} trained, one-sided Wilcoxon "
            f"p = {_fmt(t.p_value, 4)} (floor {_fmt(t.p_floor, 4)}); training {moved} it there."
        )
    if case.p_value is None:
        verdict, decided, headline = "not established", "paired test against initialisation", case.verdict
    elif case.p_value < ALPHA and case.ci_low > 0:
        about_partner = [r for r in blind if r["p_value"] is not None and r["p_value"] < ALPHA]
        if about_partner:
            verdict, decided = "yes", "paired test against initialisation and the Toad-blind training null"
            headline = (
                f"Yes: training raised {name} over each network's own initialisation, and more than training on "
                f"Toad-blind labels did, so the rise is tied to the partner's distress."
            )
        else:
            verdict, decided = (
                "not about the partner" if blind else "yes, partner not tested",
                (
                    "paired test against initialisation; Toad-blind training null"
                    if blind
                    else "paired test against initialisation"
                ),
            )
            headline = (
                f"Training raised {name} over each network's own initialisation, but not more than training on "
                f"Toad-blind labels did: the rise is not shown to be about the partner."
                if blind
                else f"Training raised {name} over each network's own initialisation; no Toad-blind null was trained, so "
                f"whether the rise is about the partner is not established."
            )
    else:
        verdict, decided = "no", "paired test against initialisation"
        headline = (
            f"No: in the {case.n_models} networks of the case configuration ({case.n_competent} competent), training did "
            f"not raise {name} above each network's own "
            f"initialisation (mean change {_fmt(case.mean_change)}, one-sided p = {_fmt(case.p_value, 3)}, whose floor "
            f"{_fmt(case.p_floor, 4)} could have reached significance)."
        )
    return {
        "verdict": verdict,
        "decided_by": decided,
        "headline": headline,
        "evidence": evidence,
        "configuration": case.label,
        "configuration_key": case.configuration,
        "measure": primary,
    }


def _encoding(configuration: str) -> str:
    found = re.search(r"(?:^|, )encoding=(\w+)", configuration)
    return found.group(1) if found else "raw"


def encoding_twins(case: ConfigTest, tests: list[ConfigTest]) -> list[ConfigTest]:
    """Tests of ``case``'s measure in configurations that differ from it in the input encoding only, with a p-value
    (the encoding control: the same recipe and labels on another coding of the same states)."""
    same_but_encoding = re.sub(r"(?:^|, )encoding=\w+", "", case.configuration)
    return [
        t
        for t in tests
        if t.measure == case.measure
        and t.configuration != case.configuration
        and t.p_value is not None
        and re.sub(r"(?:^|, )encoding=\w+", "", t.configuration) == same_but_encoding
    ]


def depth_comparison(checkpoints: dict[str, list], measure: str = "cmni") -> dict:
    """The paper's Table 2 at model level: three-layer models against shallower ones, one value per model.

    Each model gives the ``measure`` of its last competent trained checkpoint (highest epoch; epoch 0 and
    checkpoints that fail the competence rule are left out, so a model with no competent checkpoint gives
    nothing). One-sided Mann-Whitney test that three-layer models have the lower values (exact below 41
    models, asymptotic above); its floor is ``1 / C(k + m, k)`` for k and m models, and with a floor at or
    above ``ALPHA`` no p-value is given ("too few models").
    """
    rows = [dict(zip(checkpoints, values)) for values in zip(*checkpoints.values())]
    last: dict[str, dict] = {}
    for r in rows:
        if _is_init(r) or r.get(COMPETENT_COLUMN) is not True or not math.isfinite(_float(r.get(measure))):
            continue
        m = str(r.get("model_id"))
        if m not in last or r.get("epoch", 0) > last[m].get("epoch", 0):
            last[m] = r
    deep = np.array([_float(r[measure]) for r in last.values() if r.get("n_layers") == 3])
    shallow = np.array([_float(r[measure]) for r in last.values() if r.get("n_layers") != 3])
    k, m = len(deep), len(shallow)
    out = {
        "rule": (
            f"one value per model, its last competent trained checkpoint's {measure}; one-sided Mann-Whitney "
            f"test that three-layer models have the lower values"
        ),
        "measure": measure,
        "n_deep": k,
        "n_shallow": m,
        "median_deep": float(np.median(deep)) if k else None,
        "median_shallow": float(np.median(shallow)) if m else None,
        "p_floor": 1.0 / math.comb(k + m, k) if k and m else None,
        "p_value": None,
    }
    if k and m and out["p_floor"] < ALPHA:
        method = "exact" if k + m <= 40 else "asymptotic"
        out["p_value"] = float(stats.mannwhitneyu(deep, shallow, alternative="less", method=method).pvalue)
        out["method"] = method
    return out


def paired_tables(checkpoints: dict[str, list], *, seed: int = 0) -> tuple[list[dict], list[ConfigTest], list[dict]]:
    """(per-model pairs, per-configuration tests, training-null comparisons) of an analysis table."""
    pairs = model_pairs(checkpoints)
    return pairs, config_tests(pairs, seed=seed), null_comparisons(pairs)


def write_paired(analysis_dir: str | Path, *, seed: int = 0) -> Path:
    """Read ``checkpoints.parquet`` of an analysis folder; write ``paired_models.parquet`` and ``paired.json``."""
    analysis_dir = Path(analysis_dir)
    table_path = analysis_dir / CHECKPOINTS.file
    if not table_path.is_file():
        raise AnalysisError(f"{table_path} is missing; run `mirror-neurons analyze` first")
    checkpoints = pq.read_table(table_path).to_pydict()
    pairs, tests, nulls = paired_tables(checkpoints, seed=seed)
    n_models = len(set(checkpoints.get("model_id", ())))
    atomic.write_bytes(analysis_dir / PAIRED_MODELS_FILE, _parquet_bytes(pairs, analysis_dir / PAIRED_MODELS_FILE))
    record = {
        "rule": (
            f"each model's last (best validation loss) checkpoint against its epoch-0 checkpoint; one-sided exact "
            f"Wilcoxon signed-rank over the models of a configuration (>= {MIN_SEEDS} seeds), BCa bootstrap interval "
            f"of the mean change over models"
        ),
        "measures": list(MEASURES),
        "min_seeds": MIN_SEEDS,
        "alpha": ALPHA,
        "models": n_models,
        "models_paired": len(pairs),
        "models_without_init": n_models - len(pairs),
        "configurations": [_clean(asdict(t)) for t in tests],
        "training_nulls": [_clean(r) for r in nulls],
        "answer": answer(tests, nulls),
        "depth": _clean(depth_comparison(checkpoints)),
    }
    PAIRED.writing(record, analysis_dir / PAIRED_FILE)
    atomic.write_text(analysis_dir / PAIRED_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return analysis_dir / PAIRED_FILE


def read_paired(path: str | Path) -> dict:
    """``paired.json`` checked against ``tables.PAIRED``, its answer holding a headline and the control that decided
    it; a damaged or incomplete file is one ``AnalysisError`` naming the fix."""
    fix = "run `mirror-neurons analyze` on the run again to rewrite it"
    paired = PAIRED.require(atomic.read_json_object(path, AnalysisError, fix), path)
    a = paired["answer"]
    if not ("headline" in a and "decided_by" in a):
        raise AnalysisError(f"{path} holds no answer (an 'answer' object with a 'headline' and 'decided_by'); {fix}")
    return paired


def answer_summary(analysis_dir: str | Path) -> str:
    """One paragraph for the terminal: the answer of ``paired.json`` and the control that decided it."""
    path = Path(analysis_dir) / PAIRED_FILE
    if not path.is_file():
        return f"no {PAIRED_FILE} in {analysis_dir}: the model-level paired test has not run"
    a = read_paired(path)["answer"]
    return f"Did training make mirror units? {a['headline']} (decided by: {a['decided_by']})"


def _clean(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _parquet_bytes(rows: list[dict], path: Path) -> bytes:
    """``rows`` as the Parquet bytes of ``path``, checked against ``PAIRED_MODELS`` first."""
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pylist(rows) if rows else pa.table({"model_id": pa.array([], pa.string())})
    pq.write_table(PAIRED_MODELS.writing(table, path), sink)
    return sink.getvalue().to_pybytes()
