"""The byte patterns that decide whether a file may hold a module conversion, shared by the
CL101/CL102 rule's prefilter and the console launcher's fast path (which must not import
the linter, lint.py). Pure `re`: cheap to import.
"""

from __future__ import annotations

import re

# `memory_format=` (not `==`) whose value is not a literal contiguous/preserve format. The
# lookahead refuses a blank too, so that backtracking over the blanks cannot skip past it.
LIVE_FORMAT_KEYWORD = re.compile(
    rb"memory_format[ \t]*=(?!=)[ \t]*(?![ \t]|(?:\w+\.)?(?:contiguous_format|preserve_format)\b)"
)
# ...and whose value is a plain name (a parameter, a variable): its format may come from a
# caller in another file, so the file may have a finding without naming channels_last.
VARIABLE_FORMAT_KEYWORD = re.compile(rb"memory_format[ \t]*=(?!=)[ \t]*[A-Za-z_]\w*[ \t]*[,)]")


def may_convert_a_module(data: bytes) -> bool:
    """False when the bytes prove there is no `.to(memory_format=<channels_last>)` to find:
    a finding needs a live `memory_format=` keyword that may be an argument of a `.to(`
    call, and a channels_last format that this file names or a format held in a name
    (which a caller elsewhere may pass)."""
    if b"channels_last" in data:
        keywords = LIVE_FORMAT_KEYWORD.finditer(data)
    elif b"memory_format" in data:
        keywords = VARIABLE_FORMAT_KEYWORD.finditer(data)
    else:
        return False
    return any(_may_be_an_argument_of_to(data, m.start()) for m in keywords)


# How far back a keyword's call is looked for; further is "may be".
_CALL_SCAN = 4096
_CLOSE, _OPEN = frozenset(b")]}"), frozenset(b"([{")
_UNSURE = frozenset(b"\"'#\\")  # a string, a comment or a continuation: brackets not countable
_UNSURE_TEXT = re.compile(rb"[\"'#\\]")
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _may_be_an_argument_of_to(data: bytes, at: int) -> bool:
    """False only when the keyword at `at` is surely an argument of a call whose callee is a
    name other than `to` (`x.contiguous(memory_format=...)`, `torch.empty_like(...)`): the
    bytes back to the call's `(` hold no string, comment or line continuation, so its
    brackets count exactly, and the callee is a whole ASCII identifier on the same line."""
    depth = 0
    for i in range(at - 1, max(-1, at - 1 - _CALL_SCAN), -1):
        c = data[i]
        if c in _UNSURE:
            return True
        if c == 0x0A and _UNSURE_TEXT.search(data, data.rfind(b"\n", 0, i) + 1, i):
            return True  # the line above may end in a comment, met here before its `#`
        if c in _CLOSE:
            depth += 1
        elif c in _OPEN:
            if depth:
                depth -= 1
                continue
            if c != 0x28:  # inside a [ ] or { }: not a call's argument list
                return True
            return _callee_may_be_to(data, i)
    return True


def _callee_may_be_to(data: bytes, paren: int) -> bool:
    end = paren
    while end > 0 and data[end - 1] in b" \t":
        end -= 1
    start = end
    while start > 0 and data[start - 1] in _WORD:
        start -= 1
    if start == end or (start > 0 and data[start - 1] >= 0x80) or data[start] in b"0123456789":
        return True  # no identifier, or one that may hold non-ASCII (NFKC could make it `to`)
    return data[start:end] == b"to"
