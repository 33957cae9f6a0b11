"""The language server's input: LSP frames read from standard input, hardened against
malformed ones, and the answer to "has the client sent more already?" that lets a burst of
changes be linted once.

`FrameReader` caps a frame's size and resynchronizes on the next header. It reads through
`Input`, which buffers the bytes itself so that the event loop's thread can ask, while the
reader's thread waits for input, whether any input is waiting (read but not yet handed over,
or in the pipe): a change followed by more input is not linted yet.
"""

from __future__ import annotations

import logging
import os
import re
import select
import threading
from collections.abc import Callable

# Larger frames are dropped: a buffer of tens of megabytes is already more than any editor
# sends, and reading what a frame claims (`Content-Length: 999999999999`) would exhaust memory.
MAX_FRAME = 64 * 2**20
MAX_HEADER_LINE = 8192
CHUNK = 1 << 16
_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)[ \t]*", re.IGNORECASE)
_log = logging.getLogger(__name__)


class Input:
    """A binary stream read in chunks into a buffer of our own (`readline(limit)` and
    `read(n)` as a buffered reader gives them), with `waiting()` for another thread.

    Where the stream is a file descriptor that `select` can poll (POSIX), the reader waits
    for input without holding the lock and reads it under the lock, so `waiting()` never
    misses input: it is in the pipe, in the buffer, or `held` (taken by the frame reader,
    which releases it once the frame is whole). Elsewhere `waiting()` sees only what was
    read (a burst may then be linted more than once; never a stale version).
    """

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()
        self.held = 0  # bytes taken for a frame not yet handed over whole
        self._buffer = bytearray()
        self._eof = False
        try:
            self._fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
        self._poll = self._fd is not None and os.name == "posix"

    def readline(self, limit: int) -> bytes:
        while True:
            end = self._buffer.find(b"\n", 0, limit)
            if end >= 0:
                return self._take(end + 1)
            if len(self._buffer) >= limit or not self._fill():
                return self._take(min(limit, len(self._buffer)))

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n and self._fill():
            pass
        return self._take(min(n, len(self._buffer)))

    def waiting(self) -> bool:
        """Whether input has arrived that the reader has not handed over (hold `lock`)."""
        if self._buffer or self.held:
            return True
        if not self._poll or self._eof:
            return False
        try:
            return bool(select.select([self._fd], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def _take(self, n: int) -> bytes:
        with self.lock:
            data = bytes(self._buffer[:n])
            del self._buffer[:n]
            self.held += n
        return data

    def _fill(self) -> bool:
        """Read what is there (waiting for some); False at the end of the input."""
        if self._eof:
            return False
        if self._poll:
            try:
                select.select([self._fd], [], [])
            except (OSError, ValueError):
                self._poll = False
        if self._poll:
            with self.lock:  # readable: the read does not block
                data = self._read_chunk()
                self._buffer += data
        else:
            data = self._read_chunk()
            with self.lock:
                self._buffer += data
        if not data:
            self._eof = True
        return bool(data)

    def _read_chunk(self) -> bytes:
        try:
            if self._fd is not None:
                return os.read(self._fd, CHUNK)
            read = getattr(self.stream, "read1", None) or self.stream.read
            return read(CHUNK)
        except OSError:
            return b""


class FrameReader:
    """A reader of LSP frames that hands pygls only well-formed ones: `Content-Length: N`,
    a blank line, N bytes.

    Header lines may end in LF alone; unknown headers are ignored; a frame without a valid
    length, or longer than MAX_FRAME, is dropped, and reading resumes at the next line that
    holds a `Content-Length` header. `on_idle` is called (in the reader's thread) when the
    reader starts on a frame with no input waiting: every message before it is handled.
    """

    def __init__(self, raw, on_idle: Callable[[], None] | None = None):
        self.raw = raw if isinstance(raw, Input) else Input(raw)
        self.on_idle = on_idle
        self._lines: list[bytes] = []  # header lines of the frame being handed over
        self._body = b""

    def waiting(self) -> bool:
        """Whether the client has sent input that is not handled yet (any thread)."""
        with self.raw.lock:
            return bool(self._lines or self._body) or self.raw.waiting()

    def readline(self) -> bytes:
        if not self._lines:
            if self.on_idle is not None and not self.waiting():
                self.on_idle()
            if not self._next_frame():
                return b""
        return self._lines.pop(0)

    def read(self, n: int) -> bytes:
        body, self._body = self._body[:n], self._body[n:]
        return body

    def _next_frame(self) -> bool:
        """Read up to the next well-formed frame; False at the end of the input."""
        while True:
            with self.raw.lock:
                self.raw.held = 0  # what was taken before this header block was no message
            length = self._headers()
            if length is None:
                return False
            if length > MAX_FRAME:
                _log.error("dropped a frame of %d bytes (at most %d)", length, MAX_FRAME)
                continue  # resynchronize on the next header
            body = self.raw.read(length)
            if len(body) < length:
                return False
            with self.raw.lock:
                self._lines = [b"Content-Length: %d\r\n" % length, b"\r\n"]
                self._body = body
                self.raw.held = 0
            return True

    def _headers(self) -> int | None:
        """Read a header block: the length it gives (-1 when it gives none, then the block is
        skipped), or None at the end of the input."""
        length = -1
        seen_header = False
        while True:
            line = self._line()
            if line is None:
                return None
            stripped = line.strip()
            if not stripped:
                if seen_header and length >= 0:
                    return length
                if seen_header:
                    seen_header = False  # a block without a length: skip it
                continue
            match = _CONTENT_LENGTH.search(line)
            if match:  # also a header after junk on the same line (a short body, say)
                length, seen_header = int(match.group(1)), True
            elif seen_header and b":" in stripped:
                continue  # another header (Content-Type)
            else:
                length, seen_header = -1, False  # junk between frames

    def _line(self) -> bytes | None:
        line = self.raw.readline(MAX_HEADER_LINE)
        if len(line) == MAX_HEADER_LINE and not line.endswith(b"\n"):  # too long for a header
            while line and not line.endswith(b"\n"):
                line = self.raw.readline(MAX_HEADER_LINE)
            return b"\0\n" if line else None  # junk: it ends any header block
        return line or None
