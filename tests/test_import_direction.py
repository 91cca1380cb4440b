"""Data flows forward: no module imports a later stage (docs/design.md, "The pipeline reads top to bottom").

Every module's imports are read with ``ast`` (those inside functions too, so a
lazy import cannot hide a backward edge) and each ``mirror_neurons`` import is
checked against the stage order below.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mirror_neurons"

STAGES: tuple[tuple[str, ...], ...] = (
    # infrastructure every stage may use; it imports no stage
    (
        "mirror_neurons",
        "mirror_neurons.errors",
        "mirror_neurons.atomic",
        "mirror_neurons.limits",
        "mirror_neurons.progress",
        "mirror_neurons.distributed",
    ),
    ("mirror_neurons.game",),
    ("mirror_neurons.tables",),  # every file a stage writes, declared once (it names the game's scenarios)
    ("mirror_neurons.data",),
    ("mirror_neurons.train",),
    ("mirror_neurons.analysis",),
    (
        "mirror_neurons.experiments",
    ),  # planted units and the theory grid: train and analyse, then hand tables to the report
    ("mirror_neurons.report",),
    ("mirror_neurons.study",),  # chains the stages for `mirror-neurons run`
    ("mirror_neurons.cli",),
)
"""The stages in pipeline order; a module may import its own stage and earlier ones."""

KNOWN_BACKWARD: dict[tuple[str, str], str] = {}
"""(importer, imported) -> the issue that removes it. Empty: add an entry only with an issue reference."""

HEAD_ONLY = (
    "mirror_neurons.game",
    "mirror_neurons.data",
    "mirror_neurons.train",
    "mirror_neurons.distributed",
    "mirror_neurons.analysis",
    "mirror_neurons.report",
)
"""Packages whose package imports all sit at the top of each file, so its head shows the real graph."""

LAZY: dict[tuple[str, str], str] = {
    (
        "mirror_neurons.game",
        "mirror_neurons.game.pettingzoo_env",
    ): "PettingZoo is imported only by who asks for its environments",
}
"""(importer, imported) package imports allowed inside a function, with the reason."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> int:
    """Index in STAGES of the longest prefix naming ``module``'s stage."""
    best = (-1, -1)
    for rank, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[1]:
                best = (rank, len(prefix))
    if best[0] < 0:
        raise AssertionError(f"{module} is in no stage: place it in STAGES of {__file__}")
    return best[0]


@functools.cache
def package_imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every ``mirror_neurons`` import in ``path``."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nested = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
            # `from mirror_neurons.train import trainer` imports the submodule trainer
            names = [f"{names[0]}.{alias.name}" if (PACKAGE.parent / names[0].replace(".", "/") / f"{alias.name}.py").is_file()
                     or (PACKAGE.parent / names[0].replace(".", "/") / alias.name).is_dir() else names[0]
                     for alias in node.names]  # fmt: skip
        else:
            continue
        found += [(name, node.lineno, id(node) in nested) for name in names if name.split(".")[0] == "mirror_neurons"]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_modules():
    assert len(MODULES) > 30 and all(module_name(p).startswith("mirror_neurons") for p in MODULES)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_a_later_stage(path):
    importer = module_name(path)
    backward = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} (stage {stage(name)} > {stage(importer)})"
        for name, line, _ in package_imports(path)
        if stage(name) > stage(importer) and (importer, name) not in KNOWN_BACKWARD
    ]
    assert not backward, "data flows forward only (docs/design.md):\n" + "\n".join(backward)


@pytest.mark.parametrize(
    "path", [p for p in MODULES if module_name(p).startswith(HEAD_ONLY)], ids=lambda p: module_name(p)
)
def test_package_imports_sit_at_the_file_head(path):
    importer = module_name(path)
    inside = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} inside a function"
        for name, line, nested in package_imports(path)
        if nested and (importer, name) not in LAZY
    ]
    assert not inside, "move these imports to the top of the file (or list them in LAZY with a reason):\n" + "\n".join(
        inside
    )


def test_known_exceptions_still_exist():
    """An entry of KNOWN_BACKWARD or LAZY whose import has gone is removed, so the lists never outgrow the code."""
    present = {(module_name(p), name) for p in MODULES for name, _, _ in package_imports(p)}
    assert not (set(KNOWN_BACKWARD) | set(LAZY)) - present


@pytest.mark.parametrize(
    ("importer", "imported", "backward"),
    [
        ("mirror_neurons.train.trainer", "mirror_neurons.data.dataset", False),
        ("mirror_neurons.data.dataset", "mirror_neurons.tables", False),
        ("mirror_neurons.tables", "mirror_neurons.analysis.groups", True),
        ("mirror_neurons.data.generate", "mirror_neurons.distributed.executors", False),
        ("mirror_neurons.report.html", "mirror_neurons.experiments.theory", False),
        ("mirror_neurons.train.sweep", "mirror_neurons.analysis.stats", True),
        ("mirror_neurons.distributed.executors", "mirror_neurons.train.groups", True),
        ("mirror_neurons.experiments.planted", "mirror_neurons.report.html", True),
    ],
)
def test_the_stage_order_itself(importer, imported, backward):
    assert (stage(imported) > stage(importer)) is backward
