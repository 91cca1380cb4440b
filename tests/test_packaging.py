"""What a wheel ships: every data file of the package is matched by a package-data pattern, the licence exists.

Checked from ``pyproject.toml`` itself, without building: a file the patterns miss (the reference curve's
provenance, ``reference_cmni_by_epoch.md``, was once such a file) would be missing from an installed package.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "mirror_neurons"


def test_every_data_file_of_the_package_is_shipped():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mirror_neurons"]
    data = [
        p
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert any(p.name == "reference_cmni_by_epoch.md" for p in data)
    missed = [
        str(p.relative_to(PACKAGE))
        for p in data
        if not any(p.relative_to(PACKAGE).match(pat) or p.match(pat.removeprefix("**/")) for pat in patterns)
    ]
    assert missed == [], f"add a package-data pattern for {missed}"


def test_licence_and_project_urls():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert all(url.startswith("https://") for url in config["project"]["urls"].values())
