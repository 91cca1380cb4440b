"""Small task functions the executor tests send to Ray workers (importable by name there)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mirror_neurons.errors import ConfigError


def square(x: int) -> int:
    return x * x


def square_after(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x * x


def refuse(x: int, marker_dir: str) -> int:
    _record_attempt(Path(marker_dir), x)
    raise ConfigError(f"bad value {x}")


def square_once_killed(x: int, marker_dir: str) -> tuple[int, int]:
    """Square ``x``; on its first attempt task 0 announces its pid and waits to be killed.

    Each attempt leaves a file ``{x}.{pid}`` in ``marker_dir``, so the test can
    count attempts per task. Task 0's first attempt also writes ``victim`` (its
    worker's pid) and then sleeps for up to 60 s: the test kills that process.
    """
    marker_dir = Path(marker_dir)
    attempts = _record_attempt(marker_dir, x)
    if x == 0 and attempts == 1:
        (marker_dir / "victim.tmp").write_text(str(os.getpid()))
        os.replace(marker_dir / "victim.tmp", marker_dir / "victim")
        time.sleep(60)
    return x * x, os.getpid()


def _record_attempt(marker_dir: Path, x: int) -> int:
    (marker_dir / f"{x}.{os.getpid()}.{time.monotonic_ns()}").touch()
    return len(list(marker_dir.glob(f"{x}.*")))


def kill_when_marked(marker: Path, timeout: float = 60.0) -> int:
    """Wait for ``marker`` to name a pid, SIGKILL that process, and return the pid."""
    import signal

    deadline = time.monotonic() + timeout
    while not marker.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no task wrote {marker} within {timeout} s")
        time.sleep(0.05)
    pid = int(marker.read_text())
    os.kill(pid, signal.SIGKILL)
    return pid


def marked(marker_dir: str, fn, *args):
    """Run ``fn(*args)`` after leaving a file named after this worker's pid (one per attempt)."""
    path = Path(marker_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{os.getpid()}.{time.monotonic_ns()}").touch()
    return fn(*args)


def run_files(run_dir) -> dict[str, str]:
    """{relative path: sha256} of every file a sweep wrote."""
    from mirror_neurons.atomic import sha256_file

    return {str(p.relative_to(run_dir)): sha256_file(p) for p in sorted(run_dir.rglob("*")) if p.is_file()}


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def exit_on_one(x: int) -> int:
    """Task 1's worker process ends abruptly, as a killed or out-of-memory worker would."""
    if x == 1:
        os._exit(3)
    return x * x
