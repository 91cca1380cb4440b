"""What this machine can hold: sizes refused up front, with the estimate in the message.

A request that cannot fit (a dataset larger than the free memory, a report that
plays more games than fit, more worker processes than cores) is refused before
any work starts, so a user waits seconds for a one-line error instead of
minutes for the kernel's out-of-memory killer or a full disk. The estimates are
deliberately rough (measured per-item costs, rounded up); they only need to
tell "fits" from "cannot fit".
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mirror_neurons.errors import ConfigError


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def available_memory() -> int:
    """Bytes of memory available to new allocations (Linux's MemAvailable; elsewhere the physical size)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def free_disk(path: str | os.PathLike) -> int:
    """Bytes free on the file system that holds ``path`` (or would: its nearest existing folder)."""
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def size(n: float) -> str:
    """``n`` bytes for a person: 1.2 GB, 300 MB."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def check_memory(need: float, what: str, fix: str) -> None:
    """Raise ``ConfigError`` if ``need`` bytes exceed the available memory."""
    have = available_memory()
    if need > have:
        raise ConfigError(f"{what} needs about {size(need)} of memory but {size(have)} is available; {fix}")


def check_disk(path: str | os.PathLike, need: float, what: str, fix: str) -> None:
    """Raise ``ConfigError`` if ``need`` bytes exceed the free space where ``path`` is (to be) written."""
    have = free_disk(path)
    if need > have:
        raise ConfigError(f"{what} needs about {size(need)} of disk at {path} but {size(have)} is free; {fix}")


def check_seed(value: int, option: str = "--seed") -> int:
    """``value`` if it is a seed every stage accepts (0..2**64-1: the game streams and SeedSequence); else ``ConfigError``."""
    if not 0 <= value < 2**64:
        raise ConfigError(f"{option} {value} is out of range; seeds are integers in 0..2**64-1, e.g. {option} 0")
    return value
