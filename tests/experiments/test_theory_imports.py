"""The theory experiment reaches the report through one public loader; it never imports the report (docs/design.md)."""

import ast
from pathlib import Path

import mirror_neurons.experiments.theory as theory
import mirror_neurons.report.html as html

PACKAGE = Path(theory.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):  # every import, at the top or inside a function
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_theory_module_imports_the_report_package():
    for path in sorted(PACKAGE.glob("*.py")):
        bad = sorted(m for m in _imported_modules(path) if m.startswith("mirror_neurons.report"))
        assert not bad, f"{path.name} imports {bad}: experiments come before the report"


def test_the_rules_stand_alone():
    """The pre-registered rules read no files and import no stage: numpy, the errors and the experiment's statistics."""
    mods = {m for m in _imported_modules(PACKAGE / "rules.py") if m.startswith("mirror_neurons")}
    assert mods <= {"mirror_neurons.errors", "mirror_neurons.experiments.stats"}, mods


def test_the_report_uses_only_the_public_loader():
    mods = {m for m in _imported_modules(Path(html.__file__)) if m.startswith("mirror_neurons.experiments.theory")}
    assert mods == {"mirror_neurons.experiments.theory"}
    source = Path(html.__file__).read_text()
    assert "from mirror_neurons.experiments.theory import load_section" in source
    assert "_environment" not in "".join(p.read_text() for p in PACKAGE.glob("*.py"))
