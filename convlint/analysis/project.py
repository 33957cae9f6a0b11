"""The project a file belongs to: its other files' indices, the import resolver, and the
search for a function's callers.

A project is found from a file's own location, never from the working directory: the
nearest directory above the file with a `pyproject.toml`, `setup.py`, `setup.cfg` or `.git`
(or the configuration's directory, when settings name one), else the parent of the
outermost package around the file, else the file's folder. Imports resolve as Python would
for that file run as a script or imported from the project: absolute imports from the
file's own folder (`sys.path[0]` of a script), from the outermost package's parent, from the
project root and its `src/`; relative imports from the file's package; a package's
`__init__` re-exports followed. Indices of other files are cached by path, modification
time and size (a long-running server sees edits), at most `MAX_INDICES` of them.
"""

from __future__ import annotations

import bisect
import os
import re
from collections import OrderedDict
from dataclasses import dataclass

from convlint.analysis.index import FileIndex
from convlint.analysis.syntax import parse

MAX_INDICES = 512
# Caller searches read every Python file of the project once and keep the bytes, up to
# this much in all (a larger project is not searched: callers elsewhere stay unknown).
MAX_CACHED_BYTES = 256 << 20
# Up to this much of the project's text is kept in memory; beyond it, in a temporary file,
# read back CORPUS_CHUNK_BYTES at a time by each search.
CORPUS_MEMORY_BYTES = 16 << 20
CORPUS_CHUNK_BYTES = 4 << 20
_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


@dataclass(frozen=True)
class Resolved:
    """What an import names in the project: a module (`symbol` None) or a name in one."""

    index: FileIndex
    symbol: str | None = None


def project_root(path: str, configured: str | None = None) -> str:
    """The root of the project `path` belongs to (see the module docstring)."""
    if configured:
        return os.path.abspath(configured)
    directory = os.path.dirname(os.path.abspath(path))
    probe = directory
    while True:
        if any(os.path.exists(os.path.join(probe, marker)) for marker in _MARKERS):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return _package_root(directory)


def _package_root(directory: str) -> str:
    """The parent of the outermost package around `directory` (itself when not a package)."""
    root = directory
    while os.path.isfile(os.path.join(root, "__init__.py")):
        parent = os.path.dirname(root)
        if parent == root:
            break
        root = parent
    return root


class Project:
    def __init__(self, root: str):
        self.root = root
        self._indices: OrderedDict[str, tuple[tuple, FileIndex | None]] = OrderedDict()
        self._modules: dict[tuple[str, str], str | None] = {}
        self._files: list[str] | None = None
        self._text: _Corpus | bool | None = None  # every file's bytes, for caller searches
        self._mentions: dict[tuple[str, str], list[str]] = {}
        # The files read to answer questions about the files being analysed (see
        # `consulted`): what a cached answer depends on.
        self.consulted: set[str] = set()
        self.searched_callers = False

    # ---- indices

    def add_source(self, path: str, text: str, tree, key: tuple | None = None) -> FileIndex:
        """The index of a file being analysed (its text in hand), shared with the files that
        import it."""
        # A source without a file (`<source>`, standard input) keeps its name: it is in no
        # directory, and nothing imports it.
        absolute = path if path.startswith("<") or path == "-" else os.path.abspath(path)
        if key is not None:
            cached = self._indices.get(absolute)
            if cached is not None and cached[0] == key and cached[1] is not None and cached[1].text == text:
                return cached[1]  # already read as an import of a file analysed before
        index = FileIndex(tree, absolute, text)
        if key is not None:
            self._store(absolute, key, index)
        return index

    def index_at(self, path: str) -> FileIndex | None:
        """The index of another project file, from disk (None when it cannot be read or
        parsed)."""
        path = os.path.abspath(path)
        try:
            status = os.stat(path)
        except OSError:
            return None
        key = (status.st_mtime_ns, status.st_size)
        cached = self._indices.get(path)
        if cached is not None and cached[0] == key:
            self._indices.move_to_end(path)
            self.consulted.add(path)
            return cached[1]
        index = None
        self._store(path, key, None)  # an import cycle meets "unknown", not a loop
        try:
            from convlint.files import decode_source, read_bytes  # noqa: PLC0415 - no cycle at import time

            data = read_bytes(path)[0]
            text = decode_source(data).text
            index = FileIndex(parse(text, path).tree, path, text, lazy=True)
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            index = None
        self._store(path, key, index)
        self.consulted.add(path)
        return index

    def _store(self, path: str, key: tuple, index: FileIndex | None) -> None:
        self._indices[path] = (key, index)
        self._indices.move_to_end(path)
        while len(self._indices) > MAX_INDICES:
            self._indices.popitem(last=False)

    # ---- imports

    def resolve(self, qualified: str, importer: FileIndex) -> Resolved | None:
        """The project module (or name in a module) that `qualified`, imported by
        `importer`, refers to; None for anything outside the project (a library)."""
        level = len(qualified) - len(qualified.lstrip("."))
        dotted = qualified[level:]
        parts = dotted.split(".") if dotted else []
        if level:
            base = os.path.dirname(importer.path)
            for _ in range(level - 1):
                base = os.path.dirname(base)
            roots = [base]
        else:
            roots = self._roots(importer.path)
        for root in roots:
            # The longest prefix that is a module; what follows is a name in it.
            # (an empty module name is the package itself, for `from . import x` only)
            for cut in range(len(parts), -1 if level else 0, -1):
                module = self._module_file(root, parts[:cut])
                if module is None:
                    continue
                if not level and os.path.abspath(module) == importer.path:
                    break  # `import lightning` in a script named lightning.py: the library
                if cut == len(parts):
                    index = self.index_at(module)
                    return Resolved(index) if index is not None else None
                index = self.index_at(module)
                if index is None:
                    return None
                if cut == len(parts) - 1:
                    return Resolved(index, parts[-1])
                return None  # a.b.c with a.b a module: c an attribute of attribute b
            if not level and parts and self._module_file(root, parts[:1]) is not None:
                return None
        return None

    def _roots(self, path: str) -> list[str]:
        here = os.path.dirname(path)
        roots = [here, _package_root(here), self.root, os.path.join(self.root, "src")]
        return list(dict.fromkeys(roots))

    def _module_file(self, root: str, parts: list[str]) -> str | None:
        key = (root, ".".join(parts))
        if key in self._modules:
            return self._modules[key]
        found = None
        if not parts:
            init = os.path.join(root, "__init__.py")
            found = init if os.path.isfile(init) else None
        else:
            base = os.path.join(root, *parts)
            for candidate in (base + ".py", os.path.join(base, "__init__.py")):
                if os.path.isfile(candidate):
                    found = candidate
                    break
        self._modules[key] = found
        return found

    # ---- callers

    def files(self) -> list[str]:
        """Every Python file of the project (see `project_python_files`)."""
        if self._files is None:
            from convlint.discovery import project_python_files  # noqa: PLC0415 - no cycle at import time

            self._files = project_python_files(self.root)
        return self._files

    def mentioning(self, name: str, module: str, limit: int) -> list[FileIndex] | None:
        """The indices of the project files that may import and call `name`, defined in the
        file `module`: those whose text holds the name and either a name the module is
        imported by (its own, or that of a package above it whose __init__ names it: a
        re-export) or, inside its package, a relative import of the name. None when more
        than `limit` do, or the project is too large to search."""
        self.searched_callers = True
        key = (name, module)
        paths = self._mentions.get(key)
        if paths is None:
            corpus = self._corpus()
            if corpus is None:
                return None
            words = [w.encode() for w in _import_names(module, name)]
            found = corpus.files_with_each([name.encode(), *words])
            named = found[name.encode()]
            importing: set[int] = set().union(*(found[w] for w in words))
            if named:
                package = os.path.join(_package_root(os.path.dirname(module)), "")
                inside = {i for i in named if corpus.paths[i].startswith(package)}
                importing |= corpus.files_importing_relatively(name.encode(), inside - importing)
            paths = [corpus.paths[i] for i in sorted(named & importing)]
            self._mentions[key] = paths
        if len(paths) > limit:
            return None
        return [index for index in map(self.index_at, paths) if index is not None]

    def _corpus(self) -> "_Corpus | None":
        if self._text is None:
            self._text = _Corpus.read(self.files())
        return self._text or None


def _import_names(module: str, name: str) -> list[str]:
    """The names another file may import `module` by to call `name`: its stem (a package's
    name for its __init__.py), and the name of each package around it whose __init__.py
    imports `name` (`from pkg import f`, where pkg re-exports f)."""
    directory, stem = os.path.split(os.path.splitext(module)[0])
    names = [os.path.basename(directory) if stem == "__init__" else stem]
    if stem == "__init__":
        directory = os.path.dirname(directory)
    imported = _importing(name.encode())
    while os.path.isfile(init := os.path.join(directory, "__init__.py")):
        try:
            with open(init, "rb") as f:
                if imported.search(f.read()):
                    names.append(os.path.basename(directory))
        except OSError:
            pass
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return names


class _Corpus:
    """Every project file's bytes in a few large buffers (chunks of whole files), so that
    finding the files that hold a word is a scan in C, not one Python step per file.

    A small project's chunks stay in memory; a large one's go to a temporary file, read back
    one chunk at a time for each search, so that memory stays bounded by a chunk, not by the
    project's size.
    """

    def __init__(self, paths: list[str], starts: list[int], chunks: list[tuple[int, bytes | int]], spill=None):
        self.paths = paths
        self.starts = starts  # where each file's bytes begin, in the corpus's offsets
        self.chunks = chunks  # (offset, bytes), or (offset, length) of a chunk in `spill`
        self.spill = spill
        self._found: dict[bytes, set[int]] = {}  # files_with's answers

    @classmethod
    def read(cls, files: list[str], chunk_bytes: int = CORPUS_CHUNK_BYTES,
             memory_bytes: int = CORPUS_MEMORY_BYTES) -> "_Corpus | bool":
        corpus = cls([], [], [])
        size, chunk = 0, bytearray()
        try:
            for path in files:
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                if size + len(data) + 1 > MAX_CACHED_BYTES:
                    return False  # too large to search: callers elsewhere stay unknown
                if chunk and len(chunk) + len(data) + 1 > chunk_bytes:
                    corpus._keep(size - len(chunk), chunk, memory_bytes)
                    chunk = bytearray()
                corpus.paths.append(path)
                corpus.starts.append(size)
                chunk += data
                chunk += b"\0"
                size += len(data) + 1
            if chunk:
                corpus._keep(size - len(chunk), chunk, memory_bytes)
            if corpus.spill is not None:
                corpus.spill.flush()  # searches read it with pread
        except OSError:  # no room for the temporary file: not searched
            corpus.close()
            return False
        return corpus

    def _keep(self, offset: int, chunk: bytearray, memory_bytes: int) -> None:
        if self.spill is None and offset + len(chunk) > memory_bytes:
            import tempfile  # noqa: PLC0415 - only a large project needs it

            self.spill = tempfile.TemporaryFile(prefix="convlint-corpus-")
            for kept_offset, data in self.chunks:
                self.spill.write(data)
            self.chunks = [(kept_offset, len(data)) for kept_offset, data in self.chunks]
        if self.spill is None:
            self.chunks.append((offset, bytes(chunk)))
        else:
            self.spill.write(chunk)
            self.chunks.append((offset, len(chunk)))

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()

    def _buffers(self):
        if self.spill is None:
            yield from self.chunks
            return
        for offset, length in self.chunks:  # pread: no file position shared with a fork
            yield offset, os.pread(self.spill.fileno(), length, offset)

    def files_with(self, word: bytes) -> set[int]:
        """The files in which `word` occurs as a whole name (not inside a longer
        identifier: a file that calls or imports `load` spells `load`, not `_load_all`)."""
        return self.files_with_each([word])[word]

    def files_with_each(self, words: list[bytes]) -> dict[bytes, set[int]]:
        """`files_with` of each word, in one pass over the text (a spilled corpus is read
        once for them all); each word's answer is kept for the next search."""
        missing = [w for w in dict.fromkeys(words) if w not in self._found]
        if missing:
            found: dict[bytes, set[int]] = {w: set() for w in missing}
            for offset, buffer in self._buffers():
                for word in missing:
                    self._search(word, offset, buffer, found[word])
            self._found.update(found)
        return {w: self._found[w] for w in words}

    def _search(self, word: bytes, offset: int, buffer: bytes, found: set[int]) -> None:
        starts = self.starts
        check_before = _NAME_BYTE.fullmatch(word[:1]) is not None
        check_after = _NAME_BYTE.fullmatch(word[-1:]) is not None
        at = buffer.find(word)  # memchr-fast; the bytes around a hit are looked at in Python
        while at != -1:
            end = at + len(word)
            if (check_before and at and _NAME_BYTE.fullmatch(buffer, at - 1, at)) or \
                    (check_after and _NAME_BYTE.fullmatch(buffer, end, end + 1)):
                at = buffer.find(word, at + 1)  # inside a longer name
                continue
            i = bisect.bisect_right(starts, offset + at) - 1
            found.add(i)
            at = buffer.find(word, starts[i + 1] - offset) if i + 1 < len(starts) else -1

    def files_importing_relatively(self, name: bytes, among: set[int]) -> set[int]:
        """Those of the files `among` with a relative import of `name`: `from . import
        name`, `from ..m import (a,\n name)`."""
        pattern = _importing(name, rb"from[ \t]+\.+[\w.]*[ \t]+")
        return {i for i in among if pattern.search(self._text(i))}

    def _text(self, i: int) -> bytes:
        """File i's bytes."""
        start = self.starts[i]
        end = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else None
        if self.spill is None:
            for offset, buffer in self.chunks:
                if offset <= start < offset + len(buffer):
                    return buffer[start - offset:(end - offset) if end is not None else len(buffer) - 1]
            return b""
        if end is None:
            offset, length = self.chunks[-1]
            end = offset + length - 1
        return os.pread(self.spill.fileno(), end - start, start)


def _importing(name: bytes, before: bytes = b"") -> re.Pattern:
    """An import statement that imports `name` (after `before`: `from . ` for a relative
    one): `import name`, `from m import a, name`, `from m import (a,\n name)`."""
    return re.compile(before + rb"import[ \t]*(?:\([^)]*?|[^\n;]*?)(?<!" + _NAME_BYTE.pattern + b")" + re.escape(name)
                      + b"(?!" + _NAME_BYTE.pattern + b")")


# A byte of an identifier: ASCII letters, digits, `_`, and any byte of a non-ASCII
# character (UTF-8), which may be part of a longer name.
_NAME_BYTE = re.compile(rb"[A-Za-z0-9_\x80-\xff]")


_PROJECTS: dict[str, Project] = {}


def forget_projects() -> None:
    """Drop every cached project: a new run sees the files as they are now."""
    _PROJECTS.clear()


def project_for(path: str, configured_root: str | None = None) -> Project:
    """The (per process) Project of the file at `path`."""
    root = project_root(path, configured_root)
    project = _PROJECTS.get(root)
    if project is None:
        project = _PROJECTS[root] = Project(root)
    return project
