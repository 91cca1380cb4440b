"""A real headless Chromium for report tests: find it, load a page, read its DOM and console.

Chromium is Debian's ``chromium`` package. The test suite never installs system
packages: when no browser is found the caller skips with ``MISSING`` as its
reason, and CI installs one first (``.ci/run``). The page is loaded from disk (``file://``) with networking features off
and a fresh profile. ``--dump-dom`` gives the DOM after the load event, which
is where the report's own script records each image's decoded size;
``--enable-logging=stderr`` puts console messages on stderr, which the test
scans for errors.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)


MISSING = "no chromium on PATH (install Debian's chromium package; .ci/run installs it in CI)"
"""Why a browser test skips when ``find_chromium`` finds none."""


def find_chromium() -> str | None:
    """The path of a Chromium executable on PATH, or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLoad:
    dom: str
    console: list[str]
    """stderr lines that come from the page's console (``CONSOLE`` in Chromium's log)."""
    stderr: str


def _run(chromium: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=timeout
        )


def load(chromium: str, page: Path, timeout: float = 60) -> PageLoad:
    done = _run(chromium, ["--dump-dom", "--virtual-time-budget=5000", page.resolve().as_uri()], timeout)
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    return PageLoad(done.stdout, console, done.stderr)


def screenshot(chromium: str, page: Path, out: Path, size: tuple[int, int] = (1100, 6000), timeout: float = 60) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(
        chromium,
        [
            f"--screenshot={out.resolve()}",
            f"--window-size={size[0]},{size[1]}",
            "--hide-scrollbars",
            page.resolve().as_uri(),
        ],
        timeout,
    )
    return out
