"""Where the pipeline's independent tasks run: in this process, or on a Ray cluster.

Two stages split into tasks that do not talk to each other: data generation
(chunks of game indices) and sweeps (groups of models trained together). An
``Executor`` runs a list of such tasks and returns their results in order. The
stages decide *what* a task is; the executor only decides *where* it runs, so
the same plan gives the same bytes on either executor:

* ``LocalExecutor`` (the default) runs the tasks one after another in this
  process, exactly as the stages do without any executor.
* ``ProcessExecutor`` runs them in N worker processes on this machine (the
  CLI's ``--executor local --workers N``, and ``data.generate`` for its own
  ``workers``): small models are bound by one core each, so a sweep cut into N
  groups trains N times the models at once. It is the package's one process
  pool for stage tasks (the analysis's pool, which keeps a prepared test set in
  each worker, is the other).
* ``RayExecutor`` submits each task to a Ray cluster with a resource request
  (``num_cpus``, ``num_gpus``) and ``max_retries``: a worker process that dies
  mid-task (killed, out of memory, node lost) has its task re-run elsewhere.
  Tasks must therefore be idempotent: they write through ``atomic`` into
  folders that a re-run resumes or overwrites with identical bytes.

Ray is an optional extra imported only when a ``RayExecutor`` is made, so the
package and the local path never need it. Task functions must be importable by
name on the workers (module-level functions of ``mirror_neurons``), and every
path a task reads or writes must be on storage all nodes share.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import select
import signal
import socket
import sys
import threading
import time
import warnings
from abc import ABC, abstractmethod
from contextlib import contextmanager
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mirror_neurons.errors import ConfigError, ExecutorError, OptionalDependencyError

log = logging.getLogger(__name__)

EXECUTORS = ("local", "processes", "ray")
INSTALL_HINT = "pip install 'mirror-neurons[ray]'"

OnResult = Callable[[int, Any], None]

TASK_MODULES = ("mirror_neurons.train.groups", "mirror_neurons.data.build")
"""The modules whose functions are the stages' tasks (named, not imported: this module imports no stage)."""


@dataclass(frozen=True)
class Resources:
    """What one task asks the scheduler for. The local executor ignores it."""

    num_cpus: float = 1.0
    """CPU cores reserved per task; Ray also sets the task's thread count (OMP_NUM_THREADS) from it."""
    num_gpus: float = 0.0
    """GPUs reserved per task (fractions share a device)."""

    def __post_init__(self) -> None:
        if not self.num_cpus > 0:
            raise ConfigError(f"num_cpus per task must be > 0, got {self.num_cpus}")
        if self.num_gpus < 0:
            raise ConfigError(f"num_gpus per task must be >= 0, got {self.num_gpus}")


@dataclass
class TaskTiming:
    """Wall-clock seconds of one task as seen by the driver (submission to result)."""

    index: int
    seconds: float


@dataclass
class Executor(ABC):
    """Runs independent tasks ``fn(*args)`` and returns their results in input order."""

    name: str = field(init=False, default="")
    timings: list[TaskTiming] = field(init=False, default_factory=list)

    def map(
        self,
        fn: Callable[..., Any],
        args: Sequence[tuple],
        *,
        resources: Resources = Resources(),
        on_result: OnResult | None = None,
    ) -> list[Any]:
        """Run ``fn(*a)`` for each ``a`` in ``args``; ``on_result(i, result)`` as each one ends.

        Results come back in the order of ``args`` whatever order tasks finish in.
        If a task fails (after its retries), the rest are cancelled and the error
        is raised; what finished tasks wrote stays on disk for a resumed run.
        """
        self.timings = []
        return self._map(fn, list(args), resources, on_result or (lambda i, r: None))

    @property
    def parallelism(self) -> int:
        """How many one-CPU tasks can run at once (stages cut at least this many chunks)."""
        return 1

    @abstractmethod
    def _map(self, fn, args: list[tuple], resources: Resources, on_result: OnResult) -> list[Any]: ...

    def close(self) -> None:
        """Release what the executor holds (a Ray connection or the local cluster it started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class LocalExecutor(Executor):
    """Runs each task in this process, one after another (today's behaviour)."""

    def __post_init__(self) -> None:
        self.name = "local"

    def _map(self, fn, args, resources, on_result):
        results = []
        for i, a in enumerate(args):
            start = time.perf_counter()
            result = fn(*a)
            self.timings.append(TaskTiming(i, time.perf_counter() - start))
            on_result(i, result)
            results.append(result)
        return results


@dataclass
class ProcessExecutor(Executor):
    """Runs the tasks in ``workers`` processes on this machine, at most ``workers`` at a time.

    On Linux the workers are forked from a fork server that has imported the
    trainer and the data stage once (``forkserver`` with preloaded modules): they
    start in milliseconds, and, unlike a plain fork, never inherit the driver's
    threads (its progress display, its OpenMP pool) or the locks those hold.
    Elsewhere they are spawned (about a second each). Each sets torch to one
    thread before its first task. When a task fails, the other workers are
    stopped at once (their models resume from their last epoch); a worker that
    dies (killed, out of memory) fails the map with a one-line error. The tasks
    are idempotent, so running the same command again resumes.
    """

    workers: int = 0
    """Worker processes; 0 = one per core."""
    preload: tuple[str, ...] = TASK_MODULES
    """Modules the fork server imports once, before it forks any worker (Linux only; the first
    ``ProcessExecutor`` of a process to start the fork server decides them)."""

    def __post_init__(self) -> None:
        self.name = "processes"
        if self.workers < 0:
            raise ConfigError(f"--workers must be >= 0 (0 = one per core), got {self.workers}")
        self.workers = self.workers or os.cpu_count() or 1

    @property
    def parallelism(self) -> int:
        return self.workers

    def _map(self, fn, args, resources, on_result):
        results: list[Any] = [None] * len(args)
        if not args:
            return results
        start = time.perf_counter()
        pool = ProcessPoolExecutor(
            min(self.workers, len(args)),
            mp_context=_context(self.preload),
            initializer=_one_thread,
            initargs=(os.getpid(),),
        )
        with pool:
            futures = {pool.submit(fn, *a): i for i, a in enumerate(args)}
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=futures.get):
                        i = futures[future]
                        results[i] = future.result()
                        self.timings.append(TaskTiming(i, time.perf_counter() - start))
                        on_result(i, results[i])
            except BaseException as e:
                _stop(pool, pending)
                if isinstance(e, BrokenProcessPool):
                    unfinished = sorted(futures[f] for f in pending)
                    raise ExecutorError(
                        f"a worker process died (killed or out of memory) with {len(unfinished)} of {len(args)} tasks "
                        "unfinished; what finished is on disk: run the same command again to resume"
                    ) from None
                raise
        return results


def _context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    if sys.platform != "linux":
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def _stop(pool: ProcessPoolExecutor, pending: set) -> None:
    """Cancel the tasks not started and end the workers still running others (their work resumes later)."""
    for future in pending:
        future.cancel()
    for process in list((getattr(pool, "_processes", None) or {}).values()):  # no public way before Python 3.14
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _one_thread(driver: int | None = None) -> None:
    """Worker initialiser: one torch (and MKL/OpenMP) thread per worker process, ended with its ``driver``.

    Torch is set to one thread if the worker has it already (preloaded by the fork
    server); otherwise OMP_NUM_THREADS makes it start with one when a task imports
    it, and a worker whose tasks never need torch (games) never pays its import.
    """
    if driver is not None:
        die_with(driver)
    os.environ["OMP_NUM_THREADS"] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


PR_SET_PDEATHSIG = 1
"""prctl option (linux/prctl.h): the signal this process gets when its parent thread ends."""


def die_with(driver: int) -> None:
    """Worker initialiser: end this process as soon as the process ``driver`` ends, kill -9 included.

    A worker left running after its driver was killed keeps training into the
    run folder the next run resumes. Two guards: on Linux, the kernel's
    parent-death signal, for a worker whose parent (the fork server, or the
    driver) dies; and a daemon thread that waits for the driver itself to end
    (a pidfd; where there is none, a poll every half second) and kills this process.
    """
    if sys.platform == "linux":
        import ctypes

        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_wait_for_exit, args=(driver,), name="die-with-driver", daemon=True).start()


def boot_worker(driver: int, target: str, *args) -> None:
    """Initialiser of a spawned worker: arm ``die_with(driver)`` first, then import ``target``
    ("package.module:function") and call it with ``args``.

    A spawned worker unpickles its initialiser and arguments before running it, and unpickling a
    function of a heavy module imports that module (torch: seconds on a busy machine); a driver
    killed in those seconds would leave the worker running until its import ended. This function
    and its arguments (plain values only) import nothing but this stdlib-only module.

    The worker's warnings print as the CLI prints the driver's (``cli.one_line_warning``): one
    line, ``warning: ...``, without Python's file, line and source line.
    """
    die_with(driver)
    warnings.showwarning = _one_line_warning
    module, name = target.split(":")
    getattr(importlib.import_module(module), name)(*args)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _wait_for_exit(driver: int) -> None:
    """Block until process ``driver`` ends, then kill this process (what it wrote is atomic: nothing torn)."""
    try:
        fd = os.pidfd_open(driver)
    except ProcessLookupError:
        fd = None  # already gone
    except (AttributeError, OSError):  # no pidfd (not Linux, or before 5.3): poll
        while _exists(driver):
            time.sleep(0.5)
    else:
        select.select([fd], [], [])  # readable when the driver exits
    os.kill(os.getpid(), signal.SIGKILL)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process has taken the number: ours has ended
        return False
    return True


@dataclass
class RayExecutor(Executor):
    """Runs each task as a Ray task with a resource request and retries on worker death.

    ``address=None`` starts a private local Ray instance for this executor
    (``num_cpus`` workers; shut down by ``close``). Any other address is passed
    to ``ray.init``: ``"auto"`` for a cluster started on this machine with
    ``ray start``, ``"HOST:PORT"`` for a head node's GCS, ``"ray://HOST:10001"``
    for Ray Client. If Ray is already initialised in this process (a test
    fixture, a notebook), that connection is used and left open.
    """

    address: str | None = None
    num_cpus: int | None = None
    """Workers of the private local instance (``address=None`` only); all cores if None."""
    max_retries: int = 3
    """How many times a task whose worker died is re-run before the map fails."""
    _owns_connection: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.name = "ray"
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.num_cpus is not None and self.address is not None:
            raise ConfigError("num_cpus sizes a private local Ray instance; it cannot be combined with --address")
        ray = import_ray()
        if ray.is_initialized():
            return
        if self.address is None:
            ray.init(address="local", num_cpus=self.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
        else:
            _check_reachable(self.address)
            try:
                ray.init(address=self.address, logging_level=logging.WARNING)
            except ConnectionError as e:
                raise ConfigError(
                    f"cannot reach a Ray cluster at --address {self.address!r} ({e}); start one with "
                    "`ray start --head` or omit --address to start a local one for this run"
                ) from None
        self._owns_connection = True
        log.info("ray: %s", ray.cluster_resources())

    @property
    def parallelism(self) -> int:
        return max(1, int(import_ray().cluster_resources().get("CPU", 1)))

    def _map(self, fn, args, resources, on_result):
        ray = import_ray()
        remote = ray.remote(fn).options(
            num_cpus=resources.num_cpus,
            num_gpus=resources.num_gpus,
            max_retries=self.max_retries,
            retry_exceptions=False,  # a Python error in the task is a bug or bad input, not a fault
        )
        start = time.perf_counter()
        refs = [remote.remote(*a) for a in args]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = index[ref]
                    results[i] = ray.get(ref)
                    self.timings.append(TaskTiming(i, time.perf_counter() - start))
                    on_result(i, results[i])
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return results

    def close(self) -> None:
        if self._owns_connection:
            import_ray().shutdown()
            self._owns_connection = False


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (``ray.init`` would retry for minutes)."""
    if address == "auto":
        return  # Ray looks the address up itself and fails at once if there is none
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--address {address!r} is not HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConfigError(
            f"cannot reach a Ray cluster at --address {address!r} ({e.strerror or e}); start one with "
            "`ray start --head` or omit --address to start a local one for this run"
        ) from None


def import_ray():
    """The ``ray`` module, or ``OptionalDependencyError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise OptionalDependencyError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def make_executor(
    name: str = "local", *, address: str | None = None, num_cpus: int | None = None, workers: int | None = None
) -> Executor:
    """The executor the CLI's ``--executor NAME [--address ADDR] [--workers N]`` asks for.

    ``local`` with ``workers`` > 1 is the ``processes`` executor.
    """
    if name in ("local", "processes"):
        if address is not None:
            raise ConfigError(f"--address {address!r} needs --executor ray (the {name} executor runs on this machine)")
        if name == "processes" or (workers is not None and workers != 1):
            return ProcessExecutor(workers=workers or 0)
        return LocalExecutor()
    if name == "ray":
        if workers is not None and workers != 1:
            raise ConfigError(
                f"--workers {workers} starts processes on this machine; with --executor ray the cluster's CPUs are the "
                "workers: drop --workers (or use --executor local)"
            )
        return RayExecutor(address=address, num_cpus=num_cpus)
    raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


@contextmanager
def executor_or_none(
    name: str = "local", *, address: str | None = None, workers: int | None = None, group_size: int | None = None
) -> Iterator[Executor | None]:
    """``None`` when the CLI's options ask for in-process work, else ``make_executor``'s executor, closed on exit.

    In process means ``--executor local`` with no ``--address``, at most one
    worker (``workers`` None or 1) and no ``--group-size``: the stage then runs
    as its library function does without an executor. A caller whose stage has
    its own pool (the data stage's ``--workers``) passes ``workers=None``.
    """
    if name == "local" and address is None and workers in (None, 1) and not group_size:
        yield None
        return
    with make_executor(name, address=address, workers=workers) as executor:
        yield executor


def local_path(location: str | os.PathLike) -> Path:
    """A folder given as a path or a ``file://`` URI, as a path every worker can open.

    Run folders and datasets must be on storage all nodes share (NFS, a mounted
    bucket). Other URI schemes (``s3://``, ``gs://``) are refused with a hint to
    mount them, since checkpoints are written with atomic renames that object
    stores do not offer.
    """
    text = os.fspath(location)
    parsed = urlparse(text)
    if parsed.scheme == "":
        return Path(text)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"file URI {text!r} names host {parsed.netloc!r}; use file:///absolute/path")
        return Path(unquote(parsed.path))
    raise ConfigError(
        f"storage {text!r}: only local paths and file:// URIs are supported; mount {parsed.scheme}:// storage "
        "on every node (for example with s3fs or mountpoint-s3) and pass the mounted path"
    )
