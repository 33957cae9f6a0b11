"""What every format reads: the findings with the run's choices (colour, unsafe fixes), each
rule's documentation URL, and the escaping that keeps one finding on one terminal line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from convlint.diagnostics import Diagnostic
from convlint.formats.sources import Sources
from convlint.formats.style import Style
from convlint.codes import RULE_NAMES

# Each rule has a heading in the README (`### CL101: module-to-channels-last`); its anchor is
# the rule's stable documentation URL (JSON `url`, SARIF `helpUri`, rdjson `code.url`).
HOMEPAGE = "https://github.com/convlint/convlint"


def rule_url(code: str) -> str | None:
    name = RULE_NAMES.get(code)
    return f"{HOMEPAGE}#{code.lower()}-{name}" if name else None


@dataclass
class Report:
    diagnostics: list[Diagnostic]
    unsafe_fixes: bool = False
    style: Style = field(default_factory=Style)
    sources: Sources = field(default_factory=Sources)
    show_reasons: bool = False  # --show-reasons: each finding's reason under it


def reason_line(d: Diagnostic, report: Report, indent: str = "  ") -> str:
    """`  reason: ...` under a finding, with --show-reasons (and a reason to show)."""
    if not report.show_reasons or not d.reason:
        return ""
    return f"{indent}{report.style('reason', 'bold', 'yellow')}: {printable(d.reason)}\n"


# Characters that would move the cursor, end the line or reorder text on a terminal: C0 and
# C1 controls, DEL, the Unicode line and paragraph separators, the bidirectional overrides
# and isolates, and lone surrogates (the undecodable bytes of a POSIX file name).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` with each unprintable character written as a Python escape (`\\n`, `\\x1b`,
    `\\u202e`; an undecodable byte of a file name as `\\xNN`), so that it stays on one line
    and cannot drive the terminal."""
    return _UNPRINTABLE.sub(_escape_one, text)


def _escape_one(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's surrogateescape of byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def where(d: Diagnostic) -> str:
    """`path:row:col`, or `path:cell N:row:col` in a notebook, printable."""
    return printable(d.where)


def noqa_row(d: Diagnostic) -> int:
    """The row a `# noqa` for the finding goes on (the analysis may set it; else the start)."""
    return d.noqa_row if d.noqa_row is not None else d.start.row


def cell_prefix(d: Diagnostic) -> str:
    """For a CI format that points into a notebook's JSON: the cell position, as the
    concise format spells it (`cell 4:2:9: `); empty outside notebooks."""
    return f"cell {d.cell}:{d.start.row}:{d.start.column}: " if d.cell is not None else ""
