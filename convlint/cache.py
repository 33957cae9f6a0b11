"""The result cache of `check`, like Ruff's: `.convlint_cache/` at the project root.

One file per convlint build, Python version and settings (`fingerprint`); in it, for each
file checked, its stat and content hash and what the check found. A file whose stat is
unchanged is not read again; one whose content hash is unchanged is not parsed again; a file
whose answer read other project files (an imported module) is also keyed by those files'
hashes and by the torch pins and formatter styles it read (targets.py, style.py); one whose answer searched every project file (for a function's callers), by the
list and stats of the project's files. Writes go through a temporary file and a rename, so concurrent
runs never see half a file; a cache that cannot be read is ignored with a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import sys
import time
from enum import Enum

from convlint import __version__
from convlint.config import Settings
from convlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from convlint.files import FileError
from convlint.modes import FileResult
from convlint.plans import CallRewrite, Guard

CACHE_DIRECTORY = ".convlint_cache"
_FORMAT = 1
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This directory is convlint's cache (convlint clean removes it).\n"


def fingerprint(settings: Settings, edits: bool) -> str:
    """What, beside a file's own content and its dependencies, decides its findings: the
    file's settings and whether fix edits are materialized."""
    return hashlib.sha256(f"{settings.fingerprint()} {edits}".encode()).hexdigest()[:20]


def cache_root(settings: Settings) -> str:
    return os.path.join(settings.project_root or os.getcwd(), CACHE_DIRECTORY)


# A file modified this recently may change again within the clock's granularity, keeping
# its stat: its entry is checked by content next time ("racily clean", as git calls it).
RACY_NS = 2_000_000_000


def stat_key(status: os.stat_result) -> tuple[int, int] | None:
    """What a file's stat says of its content: None when too recent to say anything."""
    if time.time_ns() - status.st_mtime_ns < RACY_NS:
        return None
    return status.st_mtime_ns, status.st_size


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _build() -> str:
    """This convlint: its version and the stat of its own modules (an edited checkout is
    another build, whatever its version says)."""
    package = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.blake2b(f"{__version__} {sys.implementation.name} {sys.version_info[:2]}".encode(),
                             digest_size=10)
    for directory, dirs, files in sorted(os.walk(package)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                status = os.stat(os.path.join(directory, name))
                digest.update(f"{directory[len(package):]}/{name} {status.st_mtime_ns} {status.st_size}\n".encode())
    return f"{__version__}-{digest.hexdigest()}"


@dataclasses.dataclass
class Entry:
    """What a check of one file found, and what that answer rests on."""

    stat: tuple[int, int] | None  # mtime_ns, size when it was read (None: too recent to trust)
    hash: str | None  # of the content; None for a file the prefilter passed over
    deps: dict[str, str | None]  # other files the answer read -> their hash (None: unreadable)
    result: dict | None  # the encoded FileResult; None: no finding possible (not a candidate)


class ResultCache:
    """The entries of one run's settings, loaded once; new entries are saved at the end."""

    def __init__(self, path: str, entries: dict[str, Entry], warning: str | None = None):
        self.path = path
        self.entries = entries
        self.new: dict[str, Entry] = {}
        self.warning = warning  # why the cache on disk was ignored
        self._hashes: dict[str, str | None] = {}
        self.cwd = os.getcwd()

    @classmethod
    def load(cls, settings: Settings, edits: bool) -> "ResultCache":
        path = os.path.join(cache_root(settings), _build(), fingerprint(settings, edits) + ".json")
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read())
            if data.get("format") != _FORMAT:
                return cls(path, {})
            entries = {key: Entry(tuple(e["stat"]) if e["stat"] else None, e["hash"], e["deps"], e["result"])
                       for key, e in data["entries"].items()}
        except FileNotFoundError:
            return cls(path, {})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            return cls(path, {}, f"ignoring the unreadable cache file {path}: {type(e).__name__}: {e}")
        return cls(path, entries)

    def key(self, path: str) -> str:
        # The path as linted (it is in the findings) and where it is read from.
        return f"{self.cwd}\0{path}"

    def by_stat(self, path: str, status: os.stat_result) -> Entry | None:
        entry = self.entries.get(self.key(path))
        if (entry is not None and entry.stat is not None and entry.stat == (status.st_mtime_ns, status.st_size)
                and self._deps_hold(entry)):
            return entry
        return None

    def by_content(self, path: str, data: bytes) -> Entry | None:
        entry = self.entries.get(self.key(path))
        if entry is not None and entry.hash is not None and entry.hash == content_hash(data) and self._deps_hold(entry):
            return entry
        return None

    def _deps_hold(self, entry: Entry) -> bool:
        return all(self.hash_of(dep) == digest for dep, digest in entry.deps.items())

    def hash_of(self, path: str) -> str | None:
        """The content hash of a file as it is now, or of a whole project's file list and
        stats (`project_dependency`), once per run."""
        if path not in self._hashes:
            if path.startswith(_PROJECT):
                self._hashes[path] = _project_digest(path[len(_PROJECT):])
            elif path.startswith((_PINS, _STYLE)):
                self._hashes[path] = _context_digest(path)
            else:
                try:
                    with open(path, "rb") as f:
                        self._hashes[path] = content_hash(f.read())
                except OSError:
                    self._hashes[path] = None
        return self._hashes[path]

    # ---- what a run asks of it (runner.py)

    def stat_answer(self, path: str) -> Entry | None:
        """The entry that answers for `path` from its stat alone (not reading it), if any."""
        try:
            status = os.stat(path)
        except OSError:
            return None
        return self.by_stat(path, status) if stat.S_ISREG(status.st_mode) else None

    @staticmethod
    def kept(path: str, entry: Entry) -> FileResult | None:
        """The FileResult a candidate's entry kept; None when it does not decode (the file
        is then checked again)."""
        try:
            kept = decode(entry.result)
            return FileResult(path, diagnostics=list(kept["diagnostics"]), notes=list(kept["notes"]),
                              skipped=list(kept["skipped"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def learn_not_a_candidate(self, path: str, status: os.stat_result, new: dict) -> None:
        """Remember in `new` that the file cannot have a finding (when its stat can be trusted)."""
        if stat_key(status) is not None:
            new[self.path, self.key(path)] = Entry(stat_key(status), None, {}, None)

    def learn_same_content(self, path: str, entry: Entry, status: os.stat_result, new: dict) -> None:
        """Remember in `new` that an entry found by content holds for the file's new stat."""
        new[self.path, self.key(path)] = dataclasses.replace(entry, stat=stat_key(status))

    def entry_for(self, path: str, data: bytes, status: os.stat_result, result: FileResult, project) -> Entry | None:
        """The entry that answers for this file next time, resting on the files `project`
        consulted for it; None when the answer cannot be kept (an error)."""
        if result.errors:
            return None
        try:
            encoded = encode({"diagnostics": result.diagnostics, "notes": result.notes, "skipped": result.skipped})
        except TypeError:  # a fix plan the cache does not know how to keep
            return None
        absolute = os.path.abspath(path)
        deps = {dep: self.hash_of(dep) for dep in sorted(project.consulted) if dep != absolute}
        if project.searched_callers:  # any file of the project may be a caller
            dependency = project_dependency(project.root)
            deps[dependency] = self.hash_of(dependency)
        for dependency in context_dependencies():  # the torch pins and formatter styles it read
            deps[dependency] = self.hash_of(dependency)
        return Entry(stat_key(status), content_hash(data), deps, encoded)

    def save(self) -> str | None:
        """Write the entries (old ones kept, new ones over them) atomically; the warning
        to print when that fails."""
        if not self.new:
            return None
        entries = {k: e for k, e in {**self.entries, **self.new}.items()
                   if k in self.new or os.path.exists(os.path.join(*k.split("\0", 1)))}  # deleted files go
        directory = os.path.dirname(self.path)
        try:
            _make_cache_root(os.path.dirname(directory))
            os.makedirs(directory, exist_ok=True)
            data = json.dumps({"format": _FORMAT, "entries": {k: {"stat": e.stat, "hash": e.hash, "deps": e.deps, "result": e.result} for k, e in entries.items()}},
                              separators=(",", ":")).encode()
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path)
        except OSError as e:
            return f"the cache was not written: {self.path}: {e.strerror or e}"
        return None


_PROJECT = "project:"


def project_dependency(root: str) -> str:
    """The dependency of an answer that searched every file of the project at `root` (the
    callers of a function): any file added, removed or changed there (by its stat)."""
    return _PROJECT + root


def _project_digest(root: str) -> str:
    from convlint.discovery import project_python_files

    digest = hashlib.blake2b(digest_size=16)
    for path in project_python_files(root):
        try:
            key = stat_key(os.stat(path))
        except OSError:
            continue
        if key is None:  # too recent to trust: matches nothing
            return f"racy-{time.time_ns()}"
        digest.update(f"{path}\0{key[0]}\0{key[1]}\n".encode())
    return digest.hexdigest()


_PINS, _STYLE = "pins:", "style:"


def forget_context() -> None:
    """From here on, record the torch pins and formatter styles an answer reads."""
    for name in ("convlint.targets", "convlint.style"):
        module = sys.modules.get(name)
        if module is not None:
            module.consulted.clear()


def context_dependencies() -> list[str]:
    """What an answer read beside the files it imports, since `forget_context`: the torch
    release a project pins (whether a converter exists, so whether a fix is safe) and the
    formatter style of a directory (how a fix's edits are laid out)."""
    found = []
    for name, kind in (("convlint.targets", _PINS), ("convlint.style", _STYLE)):
        module = sys.modules.get(name)
        if module is not None:
            found += sorted(kind + path for path in module.consulted)
    return found


def _context_digest(dependency: str) -> str:
    kind, _, path = dependency.partition(":")
    if kind + ":" == _PINS:
        from convlint.targets import torch_version

        value = torch_version(path)
    else:
        from convlint.style import style_for

        value = style_for(os.path.join(path, "-"))  # a file of that directory
    return content_hash(repr(value).encode("utf-8", "surrogatepass"))


def _make_cache_root(root: str) -> None:
    os.makedirs(root, exist_ok=True)
    for name, text in (("CACHEDIR.TAG", _TAG), (".gitignore", "# Automatically created by convlint.\n*\n")):
        target = os.path.join(root, name)
        if not os.path.exists(target):
            with open(target, "w", encoding="utf-8") as f:
                f.write(text)


def clean(directory: str) -> list[str]:
    """Remove every `.convlint_cache` under `directory` (itself included); the ones removed."""
    import shutil

    removed = []
    for current, dirs, _ in os.walk(directory):
        if CACHE_DIRECTORY in dirs:
            target = os.path.join(current, CACHE_DIRECTORY)
            shutil.rmtree(target, ignore_errors=True)
            removed.append(target)
        dirs[:] = [d for d in dirs if d not in (CACHE_DIRECTORY, ".git")]
    return removed


# --------------------------------------------------------------------------- encoding

def _types() -> dict[str, type]:
    """The only types rebuilt from a cache file: it is data, never code (no pickle). A
    rule's fix plan is one of them (frozen dataclasses of plain values, plans.py)."""
    return {cls.__name__: cls for cls in (Diagnostic, Fix, Edit, Location, FileError, CallRewrite, Guard)}


_TYPES: dict[str, type] = {}


def encode(value):
    if isinstance(value, Enum):
        return {"__enum": type(value).__name__, "value": value.value}
    if dataclasses.is_dataclass(value):
        name = type(value).__name__
        if not _TYPES:
            _TYPES.update(_types())
        if _TYPES.get(name) is not type(value):
            raise TypeError(f"{name} cannot be cached")
        return {"__type": name, **{f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (list, tuple)):
        return {"__tuple": [encode(v) for v in value]} if isinstance(value, tuple) else [encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"{type(value).__name__} cannot be cached")


_ENUMS = {"Applicability": Applicability}


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__enum" in value:
        return _ENUMS[value["__enum"]](value["value"])
    if "__tuple" in value:
        return tuple(decode(v) for v in value["__tuple"])
    if "__dict" in value:
        return {decode(k): decode(v) for k, v in value["__dict"]}
    if not _TYPES:
        _TYPES.update(_types())
    cls = _TYPES[value["__type"]]
    return cls(**{k: decode(v) for k, v in value.items() if k != "__type"})
