"""Which files to lint, and reading them: directory walks with excludes and .gitignore (gitignore.py),
reads that never hang on special files, and the decoding Python itself would apply.
"""

from __future__ import annotations

import ast
import codecs
import os
import re
import stat
import tokenize
from dataclasses import dataclass

from convlint.config import Configuration
from convlint.gitignore import GitIgnore

SOURCE_SUFFIXES = (".py", ".ipynb")
# Documentation pages whose code blocks are checked (markup.py): named on the command line,
# or in walks with `include-docs = true`.
DOC_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".txt")


def is_doc_path(path: str) -> bool:
    return path.lower().endswith(DOC_SUFFIXES)


@dataclass(frozen=True)
class FileError:
    """A file that could not be read or decoded: reported as one line, the run goes on."""

    path: str
    message: str


@dataclass
class Discovered:
    """What a walk found: the files to lint (sorted), the paths that cannot be walked or do
    not exist (errors), and the files left alone on purpose, with why (notes)."""

    files: list[str]
    errors: list[FileError]
    notes: list[FileError]


def discover_files(paths: list[str], config: Configuration) -> Discovered:
    """The files to lint under `paths`, each directory's entries judged by its own settings
    (a nested configuration file rules its subtree).

    A file named explicitly is always linted (whatever its suffix) unless its settings set
    `force_exclude` and an exclude pattern matches it. A symlink found in a walk is the file it
    points to: linted once (under the name that is not a link, when the walk meets both),
    and only when that file is inside one of the directories walked, so that a fix never
    writes outside them.
    """
    found: dict[str, str] = {}  # the real path of each file -> the path it is linted as
    errors: list[FileError] = []
    notes: list[FileError] = []
    roots = [(path, os.path.realpath(path)) for path in paths if _is_directory(path)]
    for path in paths:
        try:
            status = os.stat(path)
        except OSError as e:
            if not os.path.islink(path):
                errors.append(FileError(path, error_message(e)))
                continue
            status = None  # a broken link: reading it says why
        if status is not None and stat.S_ISDIR(status.st_mode):
            if _force_excluded(path, config.settings_for(path)):
                continue
            for file, real, is_link in _walk(path, os.path.realpath(path), config, errors):
                if not is_link:
                    found[real] = file
                elif any(_inside(real, root) for _, root in roots):
                    found.setdefault(real, file)
                else:
                    notes.append(FileError(file, f"not checked: a symlink to a file outside the checked directories ({real})"))
        elif not _force_excluded(path, config.settings_for(path)):
            found.setdefault(os.path.realpath(path), path)
    return Discovered(sorted(found.values(), key=path_sort_key), errors, notes)


def _force_excluded(path: str, settings) -> bool:
    return settings.force_exclude and settings.is_excluded(path)


def _is_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(os.path.join(root, ""))


def path_sort_key(path: str) -> list[str]:
    return os.path.normpath(path).split(os.sep)


def _walk(top: str, real_top: str, config: Configuration, errors: list[FileError]):
    """The files under `top`: (path, real path, is a symlink). Directories that cannot be
    listed are added to `errors`."""
    stack = [(top, real_top, GitIgnore.for_directory(top))]
    while stack:
        directory, real_directory, ignore = stack.pop()
        absolute = os.path.abspath(directory)
        settings = config.settings_for_directory(absolute)
        ignore = ignore.enter(absolute)
        gitignore = ignore if settings.respect_gitignore else None
        suffixes = SOURCE_SUFFIXES + (DOC_SUFFIXES if settings.include_docs else ())
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name, reverse=True)
        except OSError as e:
            errors.append(FileError(directory, f"cannot list the directory: {error_message(e)}"))
            continue
        for entry in entries:
            path = entry.path if directory != "." else entry.name
            try:
                # Symlinked directories are not followed: they lead to loops and to trees
                # outside the project.
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not is_dir and not entry.name.endswith(suffixes) and not (
                    settings.extend_include and settings.is_included(path)):
                continue
            if settings.excludes_entry(entry.name, path):
                continue
            if gitignore is not None and gitignore.ignores(os.path.join(absolute, entry.name), is_dir):
                continue
            real = os.path.join(real_directory, entry.name)  # directory links are not followed
            if is_dir:
                stack.append((path, real, ignore))
            elif entry.is_symlink():
                yield path, os.path.realpath(path), True
            else:
                yield path, real, False


def read_bytes(path: str) -> tuple[bytes, os.stat_result]:
    """The file's bytes and its stat. Raises OSError, with a clear strerror, for anything
    but a regular file.

    O_NONBLOCK keeps a FIFO named `x.py` from blocking the run; fstat then rejects it.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        status = os.fstat(fd)
        mode = status.st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory")
        if not stat.S_ISREG(mode):
            raise OSError(0, "Not a regular file")
        # Reads of the size fstat gives, plus one byte: a read that comes back short is the
        # end (one system call for most files), and a file that grew is read on. Reads
        # through a fixed large buffer would fragment the heap over thousands of files.
        size = max(status.st_size + 1, 4096)
        chunks = []
        while chunk := os.read(fd, size):
            chunks.append(chunk)
            if len(chunk) < size:
                break
        return b"".join(chunks), status
    finally:
        os.close(fd)


@dataclass(frozen=True)
class DecodedSource:
    text: str
    encoding: str  # the codec to write the text back with ("utf-8-sig" keeps a BOM)


def decode_source(data: bytes) -> DecodedSource:
    """Decode like the interpreter: a BOM or a PEP 263 cookie, else UTF-8.

    Raises SyntaxError (as Python would) for an unknown codec or undecodable bytes.
    """
    try:
        encoding, _ = tokenize.detect_encoding(_first_lines(data))
    except SyntaxError as e:
        if data.startswith(codecs.BOM_UTF8):  # a BOM and another cookie: Python's own words
            raise SyntaxError(_python_decoding_error(data) or str(e)) from None
        # tokenize says "invalid or missing encoding declaration": say which byte is wrong.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            row = data[: bad.start].count(b"\n") + 1
            raise SyntaxError(
                f"cannot decode the file as utf-8: byte 0x{data[bad.start]:02x} on line {row} "
                "is not valid UTF-8 and there is no encoding declaration"
            ) from None
        raise SyntaxError(str(e)) from None
    try:
        codecs.lookup(encoding)
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as e:
        raise SyntaxError(f"cannot decode the file as {encoding}: {e}") from None
    return DecodedSource(text, encoding)


_LINE_BREAK = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)?")


def _first_lines(data: bytes):
    """`readline` over the lines an encoding cookie may be on, split as Python splits
    lines (tokenize's own readline would take a CR-only file for one line)."""
    first = _LINE_BREAK.match(data)
    second = _LINE_BREAK.match(data, first.end())
    lines = iter([first.group(), second.group()])
    return lambda: next(lines, b"")


def _python_decoding_error(data: bytes) -> str | None:
    """What the interpreter says about the encoding of `data`: the lines the cookie may be
    on are comments, so compiling them alone says only that."""
    head = b"".join(data.splitlines(keepends=True)[:2])
    try:
        compile(head, "<source>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as e:
        return e.msg
    return None


# Codecs that encode any text to exactly the bytes it was decoded from, character by
# character: for them the whole text is simply encoded.
_ROUND_TRIP = {"utf-8", "utf-8-sig", "ascii", "latin-1", "iso8859-1"}


def encode_like(decoded: DecodedSource, data: bytes, new_text: str) -> bytes:
    """`new_text` in the file's encoding, every stretch of it that the fix did not change
    kept as the file's own bytes.

    Re-encoding the whole text is not enough for codecs that do not round-trip (cp932,
    utf-7, raw_unicode_escape: `# \\x87\\x90` would become `# \\x81\\xe0` far from any
    edit). Raises UnicodeError when the new text cannot be spliced into the bytes so that
    they decode to it.
    """
    encoding = decoded.encoding
    if codecs.lookup(encoding).name in _ROUND_TRIP:
        return new_text.encode(encoding)
    old_text = decoded.text
    boundaries = _char_boundaries(data, encoding)
    out, last = [], 0  # `last`: the byte after the last one copied
    for old_start, old_end, new_start, new_end in _changed_spans(old_text, new_text):
        # Widen a span to the nearest points where a character starts in the bytes.
        while old_start not in boundaries:
            old_start, new_start = old_start - 1, new_start - 1
        while old_end not in boundaries:
            old_end, new_end = old_end + 1, new_end + 1
        start = boundaries[old_start]
        if start < last:
            raise UnicodeError(f"the fix cannot be written in the file's encoding ({encoding})")
        out += [data[last:start], new_text[new_start:new_end].encode(encoding)]
        last = boundaries[old_end]
    out.append(data[last:])
    spliced = b"".join(out)
    if spliced.decode(encoding) != new_text:
        raise UnicodeError(f"the fix cannot be written in the file's encoding ({encoding}) without changing other bytes")
    return spliced


def _char_boundaries(data: bytes, encoding: str) -> dict[int, int]:
    """For each character offset of the decoded text where a character starts on a byte
    the decoder holds nothing back at (no partial sequence, no shift state), that byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    boundaries = {0: 0}
    chars = 0
    for i in range(len(data)):
        chars += len(decoder.decode(data[i : i + 1]))
        pending, state = decoder.getstate()
        if not pending and not state:
            boundaries.setdefault(chars, i + 1)
    return boundaries


def _changed_spans(old: str, new: str) -> list[tuple[int, int, int, int]]:
    """The stretches that differ, as (old start, old end, new start, new end): a line diff,
    narrowed to the characters that differ in each changed block of lines."""
    spans = []
    old_at = new_at = 0  # where the last unchanged stretch ended
    for old_start, old_end, new_start in unchanged_stretches(old, new, _PYTHON_LINE):
        o1, o2, n1, n2 = old_at, old_start, new_at, new_start
        while o1 < o2 and n1 < n2 and old[o1] == new[n1]:
            o1, n1 = o1 + 1, n1 + 1
        while o2 > o1 and n2 > n1 and old[o2 - 1] == new[n2 - 1]:
            o2, n2 = o2 - 1, n2 - 1
        if o1 < o2 or n1 < n2:
            spans.append((o1, o2, n1, n2))
        old_at, new_at = old_end, new_start + old_end - old_start
    return spans


_PYTHON_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def unchanged_stretches(old: str, new: str, line: re.Pattern) -> list[tuple[int, int, int]]:
    """The runs of whole lines (as `line` matches them) that `old` and `new` share, as (start
    in old, end in old, start in new), in order; the last is the empty run at both ends."""
    from difflib import SequenceMatcher

    a, b = line.findall(old), line.findall(new)
    a_at, b_at = _offsets(a), _offsets(b)
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return [(a_at[i], a_at[i + n], b_at[j]) for i, j, n in blocks]


def _offsets(lines: list[str]) -> list[int]:
    offsets = [0]
    for text in lines:
        offsets.append(offsets[-1] + len(text))
    return offsets


def error_message(error: OSError) -> str:
    return error.strerror or str(error)
