"""Bad input to any command: exit code 2, one line on stderr, no traceback, nothing left behind (issue 14).

A table of hostile inputs over every CLI command and every file the tool
reads: mutated JSON, truncated binaries, hostile paths, wrong types, sizes
that cannot fit, seeds out of range, a read-only or full disk. Each case
copies a small finished study's folders, damages them, runs one command
in-process and checks the promise of the README: "Bad input never gives a
traceback: one line names the value and the fix, and the exit code is 2."
"""

from __future__ import annotations

import errno
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mirror_neurons import atomic
from mirror_neurons.cli import app

runner = CliRunner()
TRAIN = ["--hidden", "4", "--lr", "1e-3", "--max-epochs", "2"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """data/ (12,000 states: enough for the analysis's matched groups), run/ (one model, 2 epochs) and run/analysis/, made once."""
    root = tmp_path_factory.mktemp("fuzz")
    for args in (
        ["data", "--states", "12000", "--workers", "1", "--out", str(root / "data")],
        ["train", "--data", str(root / "data"), "--out", str(root / "run"), *TRAIN],
        [
            "analyze",
            str(root / "run"),
            "--no-controls",
            "--no-significance",
            "--no-statistics",
            "--games",
            "2",
            "--turns",
            "4",
        ],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return root


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]
    """The command; {d} is the dataset folder, {r} the run folder, {t} the test's folder."""
    damage: Callable[[Path], None] = lambda root: None
    message: str = ""
    """A piece of the one error line."""


def write(rel: str, text: str | bytes) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / rel
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return damage


def edit_json(pattern: str, **fields) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        for path in sorted(root.glob(pattern)):
            path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))

    return damage


def truncate(pattern: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        for path in sorted(root.glob(pattern)):
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return damage


def drop(pattern: str, key: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        for path in sorted(root.glob(pattern)):
            meta = json.loads(path.read_text())
            meta.pop(key)
            path.write_text(json.dumps(meta))

    return damage


def remove(rel: str) -> Callable[[Path], None]:
    return lambda root: shutil.rmtree(root / rel)


def both(*damages: Callable[[Path], None]) -> Callable[[Path], None]:
    return lambda root: [d(root) for d in damages] and None


def empty_table(root: Path) -> None:
    path = root / "run/analysis/checkpoints.parquet"
    pq.write_table(pq.read_table(path).slice(0, 0), path)


def tiny_dataset(root: Path) -> None:
    """A dataset of 4 train rows: fewer than a batch."""
    table = pq.read_table(root / "data" / "train.parquet").slice(0, 4)
    shutil.rmtree(root / "data")
    from mirror_neurons.data.dataset import load_split, write_dataset

    pq.write_table(table, root / "t.parquet")
    split = load_split(root / "t.parquet")
    (root / "t.parquet").unlink()
    write_dataset(root / "data", {"train": split, "val": split, "test": split}, {"seed": 0})


TRAIN_AGAIN = ["train", "--data", "{d}", "--out", "{r}", *TRAIN]
ANALYZE = [
    "analyze",
    "{r}",
    "--data",
    "{d}",
    "--no-controls",
    "--no-significance",
    "--no-statistics",
    "--games",
    "2",
    "--turns",
    "4",
]
REPORT = ["report", "{r}", "--data", "{d}"]
CK = "run/models/*/*_epoch-*.json"
STATE = "run/models/*/state.json"

CASES = [
    # the dataset's manifest and files
    Case("manifest []", ["data", "describe", "{d}"], write("data/manifest.json", "[]"), "not a manifest object"),
    Case("manifest {}", TRAIN_AGAIN, write("data/manifest.json", "{}"), "'files' = None must map"),
    Case(
        "manifest files [1, 2]",
        ["data", "describe", "{d}"],
        edit_json("data/manifest.json", files=[1, 2]),
        "'files' = [1, 2]",
    ),
    Case("manifest rows 'lots'", TRAIN_AGAIN, edit_json("data/manifest.json", rows="lots"), "'rows' = 'lots'"),
    Case(
        "manifest not UTF-8", TRAIN_AGAIN, write("data/manifest.json", b"\xff\xfe{}"), "manifest.json is not valid JSON"
    ),
    Case(
        "manifest no dataset_hash",
        ANALYZE,
        drop("data/manifest.json", "dataset_hash"),
        "dataset_hash None is not the hash",
    ),
    Case(
        "train.parquet truncated",
        TRAIN_AGAIN,
        truncate("data/train.parquet"),
        "train.parquet does not match its manifest hash",
    ),
    Case(
        "test.parquet garbage", ANALYZE, write("data/test.parquet", b"PAR1garbagePAR1"), "test.parquet does not match"
    ),
    Case(
        "train split smaller than a batch",
        ["train", "--data", "{d}", "--out", "{t}/new", *TRAIN],
        tiny_dataset,
        "fewer than its batch size 25",
    ),
    # the run folder that training resumes
    Case("run.json []", TRAIN_AGAIN, write("run/run.json", "[]"), "run.json holds a JSON list, not an object"),
    Case(
        "state.json []",
        TRAIN_AGAIN,
        write("run/models/h4_d0p12_lr0p001_b25_s0/state.json", "[]"),
        "state.json is damaged",
    ),
    Case(
        "state.json tensors ../",
        TRAIN_AGAIN,
        edit_json(STATE, tensors="../../../../../etc/passwd"),
        "outside its model folder",
    ),
    Case("state.json epoch 'seven'", TRAIN_AGAIN, edit_json(STATE, epoch="seven"), "epoch = 'seven' is not an integer"),
    Case(
        "checkpoint truncated, rerun",
        TRAIN_AGAIN,
        truncate("run/models/*/*_epoch-*.safetensors"),
        "is missing or damaged",
    ),
    # checkpoints that the analysis reads
    Case("checkpoint epoch 'seven'", ANALYZE, edit_json(CK, epoch="seven"), "epoch = 'seven' is not an integer"),
    Case("checkpoint weights_file 5", ANALYZE, edit_json(CK, weights_file=5), "weights_file = 5 is not a string"),
    Case(
        "checkpoint weights_file ../",
        ANALYZE,
        edit_json(CK, weights_file="../../../../etc/passwd"),
        "outside the checkpoint's folder",
    ),
    Case(
        "checkpoint n_inputs 'a'",
        ANALYZE,
        edit_json(CK, model={"hidden": [4], "n_inputs": "a"}),
        "must be positive integers",
    ),
    Case("checkpoint hidden [1e9]", ANALYZE, edit_json(CK, model={"hidden": [1e9]}), "must be positive integers"),
    Case("checkpoint hidden 10**9", ANALYZE, edit_json(CK, model={"hidden": [10**9]}), "of memory"),
    Case(
        "checkpoint without dataset_hash",
        ANALYZE,
        both(drop(CK, "dataset_hash"), remove("run/analysis")),
        "records no dataset hash",
    ),
    Case(
        "checkpoints.parquet truncated",
        REPORT,
        truncate("run/analysis/checkpoints.parquet"),
        "checkpoints.parquet is damaged",
    ),
    Case("part file garbage", ANALYZE, write("run/analysis/parts/000009-1.checkpoints.parquet", b"junk"), "is damaged"),
    Case("analysis/case.json []", REPORT, write("run/analysis/case.json", "[]"), "case.json holds a JSON list"),
    Case(
        "analysis/case.safetensors garbage",
        REPORT,
        write("run/analysis/case.safetensors", b"junk"),
        "case.safetensors cannot be read",
    ),
    Case(
        "report without units.parquet",
        REPORT,
        lambda root: (root / "run/analysis/units.parquet").unlink(),
        "no analysis/units.parquet",
    ),
    Case("report of an empty table", REPORT, empty_table, "holds no checkpoints"),
    Case("analysis/baselines.json {", REPORT, write("run/analysis/baselines.json", "{"), "baselines.json is not valid"),
    Case("report, state.json without history", REPORT, drop(STATE, "history"), "state.json is not the resume state"),
    # output paths
    Case(
        "train --out a file",
        ["train", "--data", "{d}", "--out", "{d}/manifest.json", *TRAIN],
        message="is a file, not a folder",
    ),
    Case(
        "sweep --out under a file",
        ["sweep", "--preset", "demo", "--data", "{d}", "--out", "{d}/manifest.json/x"],
        message="lies under",
    ),
    Case("run --out a file", ["run", "--out", "{d}/manifest.json"], message="is a file, not a folder"),
    Case("data --out under a file", ["data", "--states", "3000", "--out", "{d}/manifest.json/x"], message="lies under"),
    Case("report --out a folder", [*REPORT, "--out", "{t}"], message="is a folder; give the HTML file"),
    Case("report --figures a file", [*REPORT, "--figures", "{d}/manifest.json"], message="--figures"),
    # sweep files
    Case(
        "sweep file not UTF-8",
        ["sweep", "{t}/s.toml", "--out", "{t}/s"],
        write("s.toml", b"[sweep]\nname = '\xff'\n"),
        "not UTF-8",
    ),
    Case(
        "sweep dataset = 5",
        ["sweep", "{t}/s.toml", "--out", "{t}/s"],
        write("s.toml", "[sweep]\ndataset = 5\n"),
        "dataset = 5 must be a string",
    ),
    Case(
        "sweep seed = 1.5",
        ["sweep", "{t}/s.toml", "--out", "{t}/s"],
        write("s.toml", "[sweep]\nseed = 1.5\n"),
        "seed = 1.5 must be an integer",
    ),
    # seeds and sizes
    Case(
        "data --seed 2**64",
        ["data", "--seed", str(2**64), "--out", "{t}/d"],
        message="seeds are integers in 0..2**64-1",
    ),
    Case("play --seed 10**23", ["play", "--seed", str(10**23)], message="seeds are integers in 0..2**64-1"),
    Case("analyze --seed -1", [*ANALYZE, "--seed", "-1"], message="--seed -1 is out of range"),
    Case(
        "theory --seed -1",
        ["experiment", "theory", "--seed", "-1", "--out", "{t}/th"],
        message="--seed -1 is out of range",
    ),
    Case("data --states 99999999999999", ["data", "--states", "99999999999999", "--out", "{t}/d"], message="of memory"),
    Case(
        "train --hidden 100000000",
        ["train", "--data", "{d}", "--out", "{t}/n", "--hidden", "100000000"],
        message="--hidden",
    ),
    Case(
        "train --lr inf",
        ["train", "--data", "{d}", "--out", "{t}/n", "--lr", "inf"],
        message="lr = inf is out of range",
    ),
    # values click cannot parse: one line too, not the usage in a box
    Case("play --seed 1e23", ["play", "--seed", "1e23"], message="Invalid value for '--seed'"),
    Case(
        "data --states abc", ["data", "--states", "abc", "--out", "{t}/d"], message="see `mirror-neurons data --help`"
    ),
    Case("unknown command", ["bogus"], message="No such command 'bogus'"),
    Case("unknown option", ["train", "--nope", "3"], message="No such option: --nope"),
    Case(
        "analyze --games --turns 1e8", [*ANALYZE, "--games", "100000000", "--turns", "100000000"], message="of memory"
    ),
]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    # one error line; a warning the command gave before failing is its own labelled line, never a traceback
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(pristine, tmp_path, case):
    shutil.copytree(pristine / "data", tmp_path / "data")
    shutil.copytree(pristine / "run", tmp_path / "run")
    case.damage(tmp_path)
    before = tree(tmp_path)
    args = [a.format(d=tmp_path / "data", r=tmp_path / "run", t=tmp_path) for a in case.args]
    line = one_error_line(runner.invoke(app, args, input="q\n"))
    assert case.message in line
    assert tree(tmp_path) == before  # nothing written, nothing removed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"data", "run", *(Path(k).parts[0] for k in before)})


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
@pytest.mark.parametrize("command", ["train", "analyze"])
def test_read_only_or_full_disk_is_one_line(pristine, tmp_path, monkeypatch, code, command):
    shutil.copytree(pristine / "data", tmp_path / "data")
    shutil.copytree(pristine / "run", tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "analysis")
    before = tree(tmp_path)

    def refuse(path, data, *, fsync=True):
        raise OSError(code, "no room" if code == errno.ENOSPC else "Read-only file system", str(path))

    monkeypatch.setattr(atomic, "write_bytes", refuse)
    out = tmp_path / ("new" if command == "train" else "run")
    args = ["train", "--data", str(tmp_path / "data"), "--out", str(out), *TRAIN] if command == "train" else ANALYZE
    args = [a.format(d=tmp_path / "data", r=tmp_path / "run", t=tmp_path) for a in args]
    line = one_error_line(runner.invoke(app, args))
    assert line.startswith(f"error: {tmp_path}") and ("free some space" if code == errno.ENOSPC else "writable") in line
    after = tree(tmp_path)
    assert after == before
