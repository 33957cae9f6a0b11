"""`check --watch`: check, then check again after each change to a checked file or to a
configuration file. Changes come from watchfiles (the OS's file events) when it is
installed, else from polling the files' stat."""

from __future__ import annotations

import os
import time
from typing import Callable, Iterable, Iterator

from convlint.config import CONFIG_NAMES
from convlint.files import SOURCE_SUFFIXES

POLL_SECONDS = 0.5


def watch(check_once: Callable[[], None], changes: Iterable[set[str]], announce: Callable[[str], None]) -> None:
    """Run `check_once`, then again after each batch of changed paths."""
    announce("Starting linter in watch mode...")
    check_once()
    for _ in changes:
        announce("File change detected...")
        check_once()


def relevant(path: str) -> bool:
    """A change that can change the findings: a source file or a configuration file."""
    name = os.path.basename(path)
    return name.endswith(SOURCE_SUFFIXES) or name in CONFIG_NAMES


def file_changes(roots: list[str], list_files: Callable[[], list[str]]) -> Iterator[set[str]]:
    """Batches of changed paths under `roots`: from watchfiles when it is installed, else
    by polling the files `list_files` names every POLL_SECONDS. Watching starts now, before
    the first check, so that a change made while it runs is not missed."""
    try:
        import watchfiles
    except ImportError:
        return poll_changes(PollingWatcher(list_files))
    ignored = watchfiles.DefaultFilter()  # .git, __pycache__, virtualenvs, editors' swap files
    keep = lambda change, path: relevant(path) and ignored(change, path)  # noqa: E731
    # watchfiles starts its watcher at the first step, which returns after at most the
    # timeout; the watcher then keeps the changes that come between two steps.
    batches = watchfiles.watch(*roots, watch_filter=keep, rust_timeout=200, yield_on_timeout=True)
    next(batches)
    return (changed for changed in ({path for _, path in batch} for batch in batches) if changed)


class PollingWatcher:
    """Compares the stat of the watched files with the last look: a file that appears,
    disappears or changes (mtime, size, inode) is a change."""

    def __init__(self, list_files: Callable[[], list[str]]):
        self._list_files = list_files
        self._seen = self._look()

    def changed(self) -> set[str]:
        now = self._look()
        changed = {path for path in now.keys() | self._seen.keys() if now.get(path) != self._seen.get(path)}
        self._seen = now
        return changed

    def _look(self) -> dict[str, tuple]:
        seen = {}
        for path in self._list_files():
            try:
                status = os.stat(path)
            except OSError:
                continue
            seen[path] = (status.st_mtime_ns, status.st_size, status.st_ino)
        return seen


def poll_changes(watcher: PollingWatcher, sleep: Callable[[float], None] = time.sleep) -> Iterator[set[str]]:
    while True:
        sleep(POLL_SECONDS)
        changed = watcher.changed()
        if changed:
            yield changed


def config_files(paths: list[str]) -> list[str]:
    """The configuration files that exist in the directories of `paths` and above them."""
    found: dict[str, None] = {}
    for path in paths:
        directory = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
        while True:
            for name in CONFIG_NAMES:
                candidate = os.path.join(directory, name)
                if os.path.isfile(candidate):
                    found.setdefault(candidate, None)
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    return list(found)
