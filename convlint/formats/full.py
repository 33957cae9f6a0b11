"""`full`, Ruff's default format: each finding with a code frame (line numbers, the span
marked with carets), its fix as a diff, and whether the fix is unsafe."""

from __future__ import annotations

import difflib
import unicodedata
from itertools import groupby

from convlint.diagnostics import Applicability, Diagnostic, Location
from convlint.formats.report import Report, printable, where
from convlint.formats.text import fix_marker
from convlint.source import SourceText, apply_edits

CONTEXT = 2  # lines shown around a finding's span (diffs show one)
UNSAFE_NOTE = "This is an unsafe fix and may change runtime behavior"


def format_full(report: Report) -> str:
    return "".join(_finding(d, report) + "\n" for d in report.diagnostics)


def _finding(d: Diagnostic, report: Report) -> str:
    style = report.style
    code = report.sources.code(d.path, d.cell)
    width, frame = _frame(code, d.start, d.end, style) if code is not None else (1, [])
    lines = [
        f"{style(d.code, 'bold', 'bright_red')}{fix_marker(d, report)} {style(printable(d.message), 'bold')}",
        f"{' ' * width}{style('-->', 'bold', 'bright_blue')} {where(d)}",
        *frame,
    ]
    if d.fix is not None:
        lines.append(f"{style('help', 'bold', 'bright_cyan')}{style(': ' + printable(d.fix.message), 'bold')}")
        lines += _fix_diff(d, report)
        if d.fix.applicability is Applicability.UNSAFE:
            lines.append(f"{style('note', 'bold', 'yellow')}{style(': ' + UNSAFE_NOTE, 'bold')}")
    return "".join(line + "\n" for line in lines)


# --------------------------------------------------------------------------- code frame


def _frame(code: SourceText, start: Location, end: Location, style) -> tuple[int, list[str]]:
    """The lines around the span, numbered, the span marked: carets under a one-line span,
    a guide from its first character to its last across lines. Also the width of the line
    numbers."""
    last_row = max(len(code.lines), 1)
    start = Location(min(start.row, last_row), start.column)
    if end.row > start.row and end.column == 1:  # ends at a line break: the line before
        end = Location(end.row - 1, len(_body(code, end.row - 1)) + 1)
    end = max(start, Location(min(end.row, last_row), end.column))
    first = max(1, start.row - CONTEXT)
    last = min(last_row, end.row + CONTEXT)
    while first < start.row and not _body(code, first).strip():
        first += 1
    while last > end.row and not _body(code, last).strip():
        last -= 1
    width = len(str(last))
    pad = " " * width
    bar = style("|", "bold", "bright_blue")
    mark = lambda text: style(text, "bold", "bright_red")  # noqa: E731
    multiline = end.row > start.row
    out = [f"{pad} {bar}"]
    for row in range(first, last + 1):
        body = _body(code, row)
        guide = (mark("|") + " " if start.row < row <= end.row else "  ") if multiline else ""
        out.append(f"{style(str(row).rjust(width), 'bold', 'bright_blue')} {bar} {guide}{_show(body)}".rstrip())
        if not multiline and row == start.row:
            before = _width(body[: start.column - 1])
            span = _width(body[start.column - 1 : end.column - 1])
            out.append(f"{pad} {bar} {' ' * before}{mark('^' * max(1, span))}")
        elif multiline and row == start.row:
            out.append(f"{pad} {bar}  {mark('_' * (_width(body[: start.column - 1]) + 1) + '^')}")
        elif multiline and row == end.row:
            out.append(f"{pad} {bar} {mark('|' + '_' * (_width(body[: max(end.column - 2, 0)]) + 1) + '^')}")
    out.append(f"{pad} {bar}")
    return width, out


def _body(code: SourceText, row: int) -> str:
    return code.line_text(row).rstrip("\r\n")


def _show(text: str) -> str:
    """A source line as printed: tabs as four spaces, control characters escaped."""
    return printable(text.replace("\t", "    "))


def _width(text: str) -> int:
    """How many terminal columns `text` takes once shown."""
    total = 0
    for char in _show(text):
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


# --------------------------------------------------------------------------- fix diff


def _fix_diff(d: Diagnostic, report: Report) -> list[str]:
    """The fix's edits as a diff of the lines they change, one line of context; in a
    notebook, a diff per cell the fix changes."""
    style = report.style
    out = []
    edits = sorted(d.fix.edits, key=lambda e: (e.cell or 0, e.start, e.end))
    for cell, cell_edits in groupby(edits, key=lambda e: e.cell):
        code = report.sources.code(d.path, cell)
        if code is None:
            return []
        old = [line.rstrip("\r\n") for line in code.lines]
        new = [line.rstrip("\r\n") for line in SourceText(apply_edits(code.text, code, list(cell_edits))).lines]
        groups = list(difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(1))
        width = max((len(str(j2)) for group in groups for *_, j2 in group), default=1)
        pad = " " * width
        bar = style("|", "bold", "bright_blue")
        if cell is not None:
            out.append(f"{pad}{style(':::', 'bold', 'bright_blue')} cell {cell}")
        out.append(f"{pad} {bar}")
        for n, group in enumerate(groups):
            if n:
                out.append(f"{pad} {style('...', 'bold', 'bright_blue')}")
            for tag, i1, i2, j1, j2 in group:
                if tag == "equal":
                    out += [f"{_number(j + 1, width, style)} {bar} {_show(new[j])}".rstrip() for j in range(j1, j2)]
                    continue
                out += [f"{pad} {style('-', 'bold', 'red')} {style(_show(old[i]), 'red')}".rstrip() for i in range(i1, i2)]
                out += [f"{_number(j + 1, width, style)} {style('+', 'bold', 'green')} {style(_show(new[j]), 'green')}".rstrip()
                        for j in range(j1, j2)]
        out.append(f"{pad} {bar}")
    return out


def _number(n: int, width: int, style) -> str:
    return style(str(n).rjust(width), "bold", "bright_blue")
