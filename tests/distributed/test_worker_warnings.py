"""A worker process's warnings read like the driver's (issue 15, item 5): one line, no file, line or source."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import os
from mirror_neurons.distributed.executors import boot_worker
boot_worker(os.getppid(), "warnings:warn", "cross-decoding skipped for ck.json: no states for a group")
"""


def test_a_worker_warning_is_one_labelled_line():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["warning: cross-decoding skipped for ck.json: no states for a group"]
