"""A decoded source file: its lines, its newline style, and positions.

`ast` reports columns as UTF-8 byte offsets; convlint reports and edits in characters.
"""

from __future__ import annotations

import ast
import bisect
import re

from convlint.diagnostics import Edit, Location

# Python's line breaks: not str.splitlines(), which also breaks at form feeds and others.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class SourceText:
    def __init__(self, text: str):
        self.text = text
        self.lines = _LINE.findall(text)
        self.line_starts = []
        offset = 0
        for line in self.lines:
            self.line_starts.append(offset)
            offset += len(line)
        self.newline = _first_newline(text)

    def offset(self, loc: Location) -> int:
        """The character offset of a 1-based location (a row past the end: end of text)."""
        if loc.row > len(self.lines):
            return len(self.text)
        return self.line_starts[loc.row - 1] + loc.column - 1

    def location(self, offset: int) -> Location:
        if offset >= len(self.text) and self.text.endswith(("\n", "\r")):
            return Location(len(self.lines) + 1, 1)  # past the last newline: a new line
        row = bisect.bisect_right(self.line_starts, offset)
        if row == 0:
            return Location(1, 1)
        return Location(row, offset - self.line_starts[row - 1] + 1)

    def ast_location(self, lineno: int, col_offset: int) -> Location:
        """Convert ast's (1-based line, UTF-8 byte column) to a character Location."""
        if lineno > len(self.lines):
            return Location(lineno, 1)
        line = self.lines[lineno - 1]
        if line.isascii():
            return Location(lineno, col_offset + 1)
        return Location(lineno, len(line.encode("utf-8")[:col_offset].decode("utf-8", "replace")) + 1)

    def node_start(self, node: ast.AST) -> Location:
        return self.ast_location(node.lineno, node.col_offset)

    def node_end(self, node: ast.AST) -> Location:
        return self.ast_location(node.end_lineno, node.end_col_offset)

    def node_text(self, node: ast.AST) -> str:
        return self.text[self.offset(self.node_start(node)) : self.offset(self.node_end(node))]

    def line_text(self, row: int) -> str:
        return self.lines[row - 1] if 0 < row <= len(self.lines) else ""


def _first_newline(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match else "\n"


def apply_edits(text: str, source: SourceText, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (sorted by start) to `text`."""
    out = []
    last = 0
    for edit in edits:
        start, end = source.offset(edit.start), source.offset(edit.end)
        out.append(text[last:start])
        out.append(edit.content)
        last = end
    out.append(text[last:])
    return "".join(out)
