"""Reading and writing source files: which suffixes are sources, reads that never hang on
special files, the decoding Python itself would apply, encoding a fixed text back into the
file's own bytes, and writing those bytes atomically. Which files to lint is discovery.py's job.
"""

from __future__ import annotations

import ast
import codecs
import os
import re
import stat
import tokenize
from dataclasses import dataclass

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


def write_atomic(path: str, data: bytes, expected: os.stat_result | None) -> None:
    """Write through a temporary file and a rename, keeping the mode, the owner and the group.

    Refuses a file that is read-only, that changed on disk since it was read, that has other
    hard links (a rename would split them: the other names would keep the old text), or whose
    owner or group this process cannot give the new file (it would become ours).
    """
    target = os.path.realpath(path)  # write through a symlink, keep the link
    current = os.stat(target)
    if not (current.st_mode & 0o222) or not os.access(target, os.W_OK):
        raise PermissionError(13, "the file is read-only")
    if expected is not None and (current.st_mtime_ns, current.st_size, current.st_ino) != (
        expected.st_mtime_ns, expected.st_size, expected.st_ino
    ):
        raise OSError(0, "the file changed on disk since it was read")
    if current.st_nlink > 1:
        raise OSError(0, f"the file has {current.st_nlink} hard links, which writing it through a rename would break")
    directory, name = os.path.split(target)
    directory = directory or "."
    _remove_stale_temporaries(directory)
    # The pid in the name lets a later run tell a temporary whose writer was killed before
    # its rename (SIGKILL cannot be caught) from one that a live run is writing.
    import tempfile  # only runs that write pay for the import

    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=TEMPORARY_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            _keep_owner(f.fileno(), current)
        os.chmod(tmp, stat.S_IMODE(current.st_mode))  # after chown, which may clear set-id bits
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _keep_owner(fd: int, original: os.stat_result) -> None:
    """Give the new file the original's owner and group, or raise PermissionError."""
    created = os.fstat(fd)
    if (created.st_uid, created.st_gid) == (original.st_uid, original.st_gid) or not hasattr(os, "fchown"):
        return
    try:
        os.fchown(fd, original.st_uid, original.st_gid)
    except PermissionError:
        if created.st_uid == original.st_uid:  # only the group differs: one we are in may do
            try:
                os.fchown(fd, -1, original.st_gid)
            except PermissionError:
                pass
    after = os.fstat(fd)
    if (after.st_uid, after.st_gid) != (original.st_uid, original.st_gid):
        raise PermissionError(13, "its owner or group cannot be kept (writing it would make the file ours)")


TEMPORARY_SUFFIX = ".convlint-tmp"
_TEMPORARY = re.compile(r"\..+\.(\d+)\.[^.]+" + re.escape(TEMPORARY_SUFFIX), re.DOTALL)
_SWEPT: set[str] = set()  # directories this process has cleaned


def _remove_stale_temporaries(directory: str) -> None:
    """Delete the temporaries of writers that died between creating and renaming them (at
    most one a killed process), the first time this process writes into `directory`."""
    if directory in _SWEPT or os.name != "posix":  # os.kill(pid, 0) is a liveness test on POSIX only
        return
    _SWEPT.add(directory)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for entry in names:
        match = _TEMPORARY.fullmatch(entry)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # another user's process (EPERM), or not a pid at all
        return True
    try:  # a killed worker stays a zombie until it is reaped, and answers kill(pid, 0)
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:  # no /proc: believe kill(pid, 0)
        return True


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
