"""Every code block of the README and the docs is checked, and the example notebook runs (issue 15, item 10).

- ```` ```python ```` blocks run, in order per file, in a folder that holds a tiny study at ``runs/demo``
  (``tiny_run.py``: the layout ``make demo`` leaves), unless the line before the block reads
  ``<!-- snippet: not run, because REASON -->``.
- ```` ```bash ```` blocks: every ``mirror-neurons`` command (also as ``$mn`` or ``.venv/bin/mirror-neurons``)
  is parsed by the real CLI, so a renamed command or option, or a stray argument, fails here; ``make``
  targets must exist in the Makefile. They are not run: most of them take minutes.
- ```` ```json ```` blocks parse. Blocks without a language are program output or layouts, not code.
- ``examples/quickstart.py`` (a notebook in the percent format) runs top to bottom on the tiny study.

docs/theory.md and docs/benchmarks.md are left out: their blocks are records of measured runs, kept by the
theory and benchmark pages' own tests and commands.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pytest

from tiny_run import make_tiny_run

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in ("theory.md", "benchmarks.md")),
]
NOT_RUN = re.compile(r"<!--\s*snippet:\s*not run, because (.+?)\s*-->")
CLI_PREFIX = re.compile(r"^(?:\$mn|(?:\.venv/bin/)?mirror-neurons)\b")

pytestmark = pytest.mark.slow


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    code: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with the 'not run' reason of the line before each, if any."""
    out, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        before = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        reason = NOT_RUN.search(before)
        out.append(Block(path, start + 1, lang, "\n".join(lines[start + 1 : j]), reason.group(1) if reason else None))
        i = j + 1
    return out


ALL = [b for p in DOCS for b in blocks(p)]
PYTHON = [b for b in ALL if b.lang == "python"]
BASH = [b for b in ALL if b.lang in ("bash", "sh", "shell")]


def test_blocks_are_found_and_every_code_block_is_checked_or_says_why_not():
    assert len(PYTHON) >= 6 and len(BASH) >= 5  # the parser sees the docs' blocks
    unknown = [b.id for b in ALL if b.lang not in ("", "python", "bash", "sh", "shell", "json", "toml")]
    assert unknown == [], f"a code block of a language this test does not check: {unknown}"
    for b in ALL:
        if b.not_run is not None:
            assert len(b.not_run) > 15, f"{b.id}: say why the block is not run"


@pytest.fixture(scope="module")
def study_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("docs")
    make_tiny_run(root)
    return root


@pytest.mark.parametrize(
    "path",
    [p for p in DOCS if any(b.lang == "python" and b.not_run is None for b in blocks(p))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_python_blocks_run(path, study_root, monkeypatch):
    """The file's blocks run in order in one namespace (a later block may use an earlier one's names)."""
    monkeypatch.chdir(study_root)
    namespace: dict = {"__name__": "__docs__"}
    for b in blocks(path):
        if b.lang == "python" and b.not_run is None:
            exec(compile(b.code, b.id, "exec"), namespace)  # noqa: S102  (the docs' own code)


def cli_walk(args: list[str]) -> str:
    """Parse ``args`` with the real CLI down to the command that would run; raise on anything it would refuse."""
    from typer.main import get_command

    from mirror_neurons.cli import app

    cmd, name = get_command(app), "mirror-neurons"
    while True:
        ctx = cmd.make_context(name, list(args), resilient_parsing=True)  # no file checks: the paths need not exist
        if not hasattr(cmd, "resolve_command"):
            assert ctx.args == [], f"'{' '.join(args)}': {name} does not take {ctx.args}"
            return name
        rest = [*(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", None) or []), *ctx.args]
        if not rest:
            return name
        sub_name, sub, args = cmd.resolve_command(ctx, rest)
        assert sub is not None, f"no command {rest[0]!r} under {name}"
        cmd, name = sub, sub_name


def commands(block: Block) -> list[list[str]]:
    """The command lines of a bash block, without comments, continuations joined."""
    text = re.sub(r"\\\n", " ", block.code)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(shlex.split(line, comments=True))
    return out


@pytest.mark.parametrize("block", BASH, ids=lambda b: b.id)
def test_bash_blocks_name_real_commands_and_options(block):
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    checked = 0
    for words in commands(block):
        if not words or "=" in words[0] and not words[0].startswith("-"):  # an assignment such as mn=...
            continue
        if CLI_PREFIX.match(words[0]):
            args = [w for w in words[1:] if w not in ("|",)]
            cli_walk(args)
            checked += 1
        elif words[0] == "make":
            assert set(words[1:]) <= targets, f"{block.id}: no make target {set(words[1:]) - targets}"
            checked += 1
    assert checked or block.not_run, f"{block.id}: a bash block with no command this test knows"


def test_cli_walk_refuses_what_the_cli_refuses():
    assert cli_walk(["analyze", "runs/sweep", "--workers", "2"]) == "analyze"
    with pytest.raises(AssertionError, match="does not take"):
        cli_walk(["analyze", "runs/sweep", "--no-such-option"])
    with pytest.raises(AssertionError, match="no command 'frobnicate'"):
        cli_walk(["frobnicate"])


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == "json" and b.not_run is None], ids=lambda b: b.id)
def test_json_blocks_parse(block):
    json.loads(block.code)


def test_the_quickstart_notebook_runs_on_a_study(study_root, monkeypatch):
    monkeypatch.setenv("MIRROR_NEURONS_RUN", str(study_root / "runs" / "demo"))
    monkeypatch.chdir(study_root)
    done = runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    result, table = done["result"], done["table"]
    assert result.widths == (24, 24, 4)  # the example's own Sequential, analysed as it is
    assert len(done["cmni"]) == len(table["cmni"]) > 0
    assert (study_root / "runs" / "demo" / "quickstart-cmni-vs-chance.png").stat().st_size > 10_000
    assert set(done["acts"]) == {"0", "2", "4"} and done["acts"]["0"].min() >= 0  # read after the ReLUs
    assert os.environ["MIRROR_NEURONS_RUN"].endswith("demo")


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == "toml" and b.not_run is None], ids=lambda b: b.id)
def test_toml_blocks_parse(block):
    import tomllib

    tomllib.loads(block.code)
