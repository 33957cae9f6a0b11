"""A process pool whose workers die with the run that started them, and the check a worker
makes before it writes: a run killed with `kill -9` leaves no worker writing files.
"""

from __future__ import annotations

import os
import sys


def pool_map(function, items: list, jobs: int) -> list:
    """`map` over a process pool of up to `jobs` workers, each taking a few items at a time.

    The workers die with this process (a `kill -9` of it cannot be caught to stop them), and
    a worker whose parent is gone writes nothing.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor  # a run with a pool pays for it

    workers = min(jobs, len(items))
    chunksize = max(1, len(items) // (workers * 4))
    # fork: workers start with everything imported (forkserver and spawn would import
    # convlint again in each, which costs more than most runs).
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    if sys.platform == "linux":
        import ctypes  # noqa: F401 - imported once here, not in every worker
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                             initargs=(os.getpid(),)) as pool:
        return list(pool.map(function, items, chunksize=chunksize))


_PARENT: int | None = None  # in a worker: the pid of the run that started it


def _start_worker(parent: int) -> None:
    global _PARENT
    _PARENT = parent
    _die_with_parent()
    if os.getppid() != parent:  # it died before the worker could ask to die with it
        os._exit(1)


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies (Linux); elsewhere the
    check before each write (`parent_gone`) is what stops a worker."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def parent_gone() -> bool:
    """In a worker: whether the run that started it has died (nobody would get the result,
    and a write it never sees must not happen)."""
    return _PARENT is not None and os.getppid() != _PARENT
