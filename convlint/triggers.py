"""The byte patterns that decide whether a file may hold a module conversion, shared by the
CL101/CL102 rule's prefilter and the console launcher's fast path (which must not import
the engine). Pure `re`: cheap to import.
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
    a finding needs a live `memory_format=` keyword, and a channels_last format that this
    file names or a format held in a name (which a caller elsewhere may pass)."""
    if b"channels_last" in data:
        return LIVE_FORMAT_KEYWORD.search(data) is not None
    return b"memory_format" in data and VARIABLE_FORMAT_KEYWORD.search(data) is not None
