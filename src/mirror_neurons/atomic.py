"""Atomic writes: a file or folder appears complete or not at all.

Everything the pipeline writes goes through here: write to a temporary
sibling, flush and fsync, then ``os.replace``. A run killed at any moment
leaves either the old content or the new, never a torn file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (same-folder temp file, fsync, rename).

    ``fsync=False`` keeps the write atomic against a killed process (the rename
    happens only after the whole file is written) but not durable against a
    power loss; for files written by the thousand, whose readers verify hashes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str, *, fsync: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), fsync=fsync)


def write_json(path: str | os.PathLike, obj: object, *, fsync: bool = True) -> None:
    """Atomically write ``obj`` as indented, key-sorted JSON."""
    write_text(path, json_text(obj), fsync=fsync)


def json_text(obj: object) -> str:
    """``obj`` as ``write_json`` writes it (for writing one text to several files)."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"


def read_json_object(path: str | os.PathLike, error: type[Exception], fix: str, what: str = "an object") -> dict:
    """The JSON object in ``path``; ``error`` naming the file and ``fix`` if it is not UTF-8 JSON holding an object
    (``what`` names the object the file should hold: 'a manifest object')."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{path} is not valid JSON ({getattr(e, 'msg', e)}); {fix}") from None
    if not isinstance(value, dict):
        raise error(f"{path} holds a JSON {type(value).__name__}, not {what}; {fix}")
    return value


def read_toml(path: str | os.PathLike, error: type[Exception], what: str) -> dict:
    """The tables of the TOML file ``path`` (``what``: 'the study file'); ``error`` naming the file and the fix if
    it is not UTF-8 TOML."""
    import tomllib

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise error(f"{path} is not UTF-8 text (byte {e.start}); save {what} as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path} is not valid TOML: {e}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(obj: object) -> object:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


@contextlib.contextmanager
def staged_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``final`` when the block ends without error.

    ``final`` must not exist yet (callers decide what to do with an existing one).
    On error the temporary folder is removed and ``final`` is untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; the finished folder is an ordinary one
    try:
        yield tmp
        _fsync_tree(tmp)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold ``folder``'s writer lock for the block; ``BusyError`` if another process holds it.

    The lock is ``flock`` on the sibling file ``.NAME.lock`` (a sibling, since a
    dataset folder appears by rename and must not exist before): the kernel
    releases it when its holder dies, kill -9 included, so a killed run never
    blocks the next. The file is removed on release; a lock taken on a file
    that another holder removed meanwhile is dropped and taken again.
    """
    import fcntl

    from mirror_neurons.errors import BusyError

    folder = Path(folder)
    created = [p for p in folder.parents if not p.exists()]  # removed again if still empty at the end
    folder.parent.mkdir(parents=True, exist_ok=True)
    path = folder.parent / f".{folder.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise BusyError(
                f"{folder} is being written by another mirror-neurons process (pid {holder}); "
                f"wait for it to end or choose another --out"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed this file as we opened it: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)
        for parent in created:  # innermost first
            with contextlib.suppress(OSError):
                parent.rmdir()


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
