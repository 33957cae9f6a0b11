"""Jupyter notebooks: their code cells as one Python source, and fixed cells written back.

The cells are joined with a boundary comment between them, so that names bound in one cell
are known in the next, and so that a fixed source splits back into its cells. IPython
magics and shell lines become `pass` placeholders that are restored on the way back. Only
the sources of changed code cells change: outputs, metadata, key order, the JSON indentation
and the trailing newline are kept, or the notebook is not rewritten at all.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace

from convlint.diagnostics import Diagnostic, Edit, Location

BOUNDARY = "# convlint-cell-boundary-6d1f0c"
_PLACEHOLDER = re.compile(r"^(\s*)pass  # convlint-magic-(\d+)$")
# Cell magics whose body is Python; any other (%%bash, %%html, %%writefile...) is not.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "autoreload"}
# Lines IPython rewrites before Python sees them: magics, shell escapes, help, and
# assignments from either (`files = !ls`).
_MAGIC_LINE = re.compile(r"^\s*(?:[%!]|\?|[\w.]+\?\??\s*$|[\w.,\s]+=\s*[%!])")


class NotebookError(Exception):
    """The file is not a notebook convlint can read (or write back without reformatting)."""


@dataclass
class _Cell:
    index: int  # in nb["cells"]
    was_list: bool  # source stored as a list of lines (nbformat's usual form)
    ended_with_newline: bool
    magics: list[str] = field(default_factory=list)  # original lines behind placeholders


@dataclass
class Notebook:
    data: dict
    text: str  # the original JSON
    cells: list[_Cell]
    source: str  # the analysable Python source: every code cell, joined
    starts: list[int]  # the row in `source` where each cell's first line is

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        """Move a diagnostic (and its fix edits) from `source` rows to cell rows."""
        cell, start = self._cell_location(diagnostic.start)
        _, end = self._cell_location(diagnostic.end)
        fix = diagnostic.fix
        if fix is not None and fix.edits:
            fix = replace(fix, edits=tuple(self._locate_edit(e) for e in fix.edits))
        noqa_row = diagnostic.noqa_row
        if noqa_row is not None:
            noqa_row = self._cell_location(Location(noqa_row, 1))[1].row
        return replace(diagnostic, start=start, end=end, cell=cell, fix=fix, noqa_row=noqa_row)

    def _locate_edit(self, edit: Edit) -> Edit:
        cell, start = self._cell_location(edit.start)
        _, end = self._cell_location(edit.end)
        return replace(edit, start=start, end=end, cell=cell)

    def _cell_location(self, loc: Location) -> tuple[int, Location]:
        i = max(bisect_right(self.starts, loc.row) - 1, 0)
        return self.cells[i].index + 1, Location(loc.row - self.starts[i] + 1, loc.column)

    def render(self, fixed_source: str) -> str:
        """The notebook's JSON with the code cells taken from a fixed `source`."""
        chunks = fixed_source.split(BOUNDARY + "\n")[1:]
        if len(chunks) != len(self.cells):
            raise NotebookError("the fix moved code across cell boundaries; not written")
        # How the JSON was written is worked out only now: `check` never needs it.
        layout = _layout(self.text, self.data)
        data = json.loads(self.text)  # a copy to change
        for cell, chunk in zip(self.cells, chunks):
            text = _restore_magics(chunk, cell.magics)
            if not cell.ended_with_newline and text.endswith("\n"):
                text = text[:-1]
            data["cells"][cell.index]["source"] = text.splitlines(keepends=True) if cell.was_list else text
        return _dump(data, layout)


def load_notebook(text: str) -> Notebook:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(f"invalid notebook JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("invalid notebook: no list of cells")
    cells: list[_Cell] = []
    parts: list[str] = []
    starts: list[int] = []
    row = 1
    if _is_python(data):
        for index, raw in enumerate(data["cells"]):
            if not isinstance(raw, dict) or raw.get("cell_type") != "code":
                continue
            source = raw.get("source", "")
            text_source = "".join(source) if isinstance(source, list) else str(source)
            cell = _Cell(index, isinstance(source, list), text_source.endswith("\n"))
            python = _python_of(text_source, cell.magics)
            if python is None:
                continue
            if not python.endswith("\n"):
                python += "\n"
            cells.append(cell)
            parts.append(BOUNDARY + "\n" + python)
            starts.append(row + 1)
            row += 1 + python.count("\n")
    return Notebook(data, text, cells, "".join(parts), starts)


def _is_python(data: dict) -> bool:
    metadata = data.get("metadata") or {}
    language = (metadata.get("kernelspec") or {}).get("language") or (
        metadata.get("language_info") or {}
    ).get("name")
    return language in (None, "python", "python3")


def _python_of(source: str, magics: list[str]) -> str | None:
    """The cell's source as Python, or None for a cell in another language (%%bash...)."""
    lines = source.splitlines(keepends=True)
    first = next((ln for ln in lines if ln.strip()), "")
    if first.lstrip().startswith("%%"):
        name = first.lstrip()[2:].split()[0] if first.lstrip()[2:].split() else ""
        if name not in _PYTHON_CELL_MAGICS:
            return None
    out = []
    for line in lines:
        if _MAGIC_LINE.match(line):
            body = line.rstrip("\r\n")
            indent = body[: len(body) - len(body.lstrip())]
            out.append(f"{indent}pass  # convlint-magic-{len(magics)}" + line[len(body):])
            magics.append(body)
        else:
            out.append(line)
    return "".join(out)


def _restore_magics(text: str, magics: list[str]) -> str:
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = _PLACEHOLDER.match(body)
        if match and int(match.group(2)) < len(magics):
            lines[i] = magics[int(match.group(2))] + line[len(body):]
    return "".join(lines)


def _layout(text: str, data: dict) -> tuple | None:
    """How the JSON was written (indent, ASCII only, trailing newline), or None when `data`
    would not be written back to exactly `text`: rewriting is then refused."""
    indent_match = re.match(r"\{\r?\n( +)\"", text)
    indent = len(indent_match.group(1)) if indent_match else None
    layout = (indent, text.isascii(), text.endswith("\n"))
    if _dump(data, layout) != text:
        return None  # type: ignore[return-value]
    return layout


def _dump(data: dict, layout: tuple | None) -> str:
    if layout is None:
        raise NotebookError("the notebook's JSON layout cannot be kept; not rewritten")
    indent, ensure_ascii, trailing = layout
    return json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + ("\n" if trailing else "")


# --------------------------------------------------------------------------- positions in the JSON
# Consumers that show the .ipynb file itself (CI annotations, SARIF, code review) need the
# line of the notebook's JSON where a cell's line sits, not the cell's own row.

_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_PLAIN = re.compile(r'[^"\\]*')
_JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class NotebookJson:
    """Each cell's source and where each of its characters is in the notebook's JSON text.

    A scan of the JSON that keeps positions (json.loads forgets them). A cell whose source
    is not a string or a list of strings has no positions; a text that is not a notebook
    has no cells. Never raises.
    """

    def __init__(self, text: str):
        self.text = text
        # 1-based cell number (counting every cell) -> (source, the JSON offset of each of
        # its characters followed by the offset where the source ends; None for no strings)
        self._cells: dict[int, tuple[str, list[int] | None]] = {}
        try:
            _JsonScanner(text, self._cells).notebook()
        except (ValueError, IndexError, KeyError):  # not JSON, or not a notebook's shape
            pass
        self._lines = None

    def cell_source(self, cell: int) -> str | None:
        """The cell's source as the notebook holds it."""
        found = self._cells.get(cell)
        return found[0] if found is not None else None

    def cell_code(self, cell: int) -> str | None:
        """The cell's source as the analysis reads it, the text a finding's rows count in:
        a newline ends its last line (load_notebook adds one where the cell has none)."""
        source = self.cell_source(cell)
        if source is None or source.endswith("\n"):
            return source
        return source + "\n"

    def json_offset(self, cell: int, loc: Location) -> int | None:
        """The offset in the JSON text of a (1-based, in characters) location in a cell's
        code; the added newline, and anything past it, is where the source ends."""
        found = self._cells.get(cell)
        if found is None or found[1] is None:
            return None
        source, offsets = found
        return offsets[max(0, min(self._code_offset(cell, loc), len(source)))]

    def json_location(self, cell: int, loc: Location) -> Location | None:
        """Where a location in a cell is in the JSON text: its line and column there."""
        offset = self.json_offset(cell, loc)
        return self._json_lines().location(offset) if offset is not None else None

    def json_edit(self, cell: int, edit: Edit) -> Edit | None:
        """An edit of a cell's code as an edit of the JSON text, its content escaped for
        the JSON string it lands in; it gives the source the notebook's writer writes."""
        found = self._cells.get(cell)
        if found is None or found[1] is None:
            return None
        source, offsets = found
        start, end = self._code_offset(cell, edit.start), self._code_offset(cell, edit.end)
        content = edit.content
        if end > len(source):  # it reaches the newline the analysis added: none is written
            content = ("\n" if start > len(source) else "") + content
            start, end = min(start, len(source)), len(source)
            content = content[:-1] if content.endswith("\n") else content
        lines = self._json_lines()
        return Edit(lines.location(offsets[start]), lines.location(offsets[end]), self.escape(content))

    def _code_offset(self, cell: int, loc: Location) -> int:
        from convlint.source import SourceText  # only consumers of JSON positions need it

        code = SourceText(self.cell_code(cell))
        return min(code.offset(loc), len(code.text))

    def _json_lines(self):
        if self._lines is None:
            from convlint.source import SourceText

            self._lines = SourceText(self.text)
        return self._lines

    def escape(self, content: str) -> str:
        """`content` spelled as it goes inside a JSON string of this notebook."""
        return json.dumps(content, ensure_ascii=self.text.isascii())[1:-1]


class _JsonScanner:
    """Walks a notebook's JSON down to the strings of each cell's `source`; every other
    value is skipped by the json module's own decoder. Each step returns where it ended."""

    def __init__(self, text: str, cells: dict):
        self.text = text
        self.cells = cells
        self.decoder = json.JSONDecoder()

    def notebook(self) -> None:
        pos = self._space(0)
        if self.text[pos] == "{":
            self._object(pos, self._top_member)

    def _top_member(self, key: str, pos: int) -> int:
        if key == "cells" and self.text[pos] == "[":
            self.cells.clear()  # a repeated key: json.loads keeps the last one
            return self._array(pos, self._cell)
        return self._skip(pos)

    def _cell(self, index: int, pos: int) -> int:
        number = index + 1
        if self.text[pos] != "{":
            return self._skip(pos)
        return self._object(pos, lambda key, at: self._cell_member(number, key, at))

    def _cell_member(self, number: int, key: str, pos: int) -> int:
        if key != "source":
            return self._skip(pos)
        self.cells.pop(number, None)
        starts: list[int] = []
        if self.text[pos] == '"':
            starts.append(pos)
            end = self._skip(pos)
        elif self.text[pos] == "[":
            end = self._array(pos, lambda _, at: starts.append(at) or self._skip(at))
        else:
            return self._skip(pos)
        if all(self.text[at] == '"' for at in starts):
            # An empty list is an empty source, with no string to point into.
            self.cells[number] = self._decode(starts) if starts else ("", None)
        return end

    def _decode(self, starts: list[int]) -> tuple[str, list[int]]:
        """The strings starting at `starts`, joined, with the offset of each character."""
        text = self.text
        chars: list[str] = []
        offsets: list[int] = []
        i = 0
        for start in starts:
            i = start + 1
            while True:
                plain = _JSON_PLAIN.match(text, i).end()
                chars.append(text[i:plain])
                offsets.extend(range(i, plain))
                i = plain
                if text[i] == '"':
                    break
                if text[i + 1] == "u":
                    code, size = int(text[i + 2 : i + 6], 16), 6
                    if 0xD800 <= code < 0xDC00 and text.startswith("\\u", i + 6):
                        low = int(text[i + 8 : i + 12], 16)
                        if 0xDC00 <= low < 0xE000:  # a surrogate pair is one character
                            code, size = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), 12
                    chars.append(chr(code))
                else:
                    chars.append(_JSON_ESCAPES[text[i + 1]])
                    size = 2
                offsets.append(i)
                i += size
        offsets.append(i)  # the closing quote of the last string: where the source ends
        return "".join(chars), offsets

    def _object(self, pos: int, member) -> int:
        pos = self._space(pos + 1)
        if self.text[pos] == "}":
            return pos + 1
        while True:
            if self.text[pos] != '"':
                raise ValueError("expected a key")
            key, pos = json.decoder.scanstring(self.text, pos + 1)
            pos = self._space(pos)
            if self.text[pos] != ":":
                raise ValueError("expected ':'")
            pos = self._space(member(key, self._space(pos + 1)))
            if self.text[pos] == "}":
                return pos + 1
            if self.text[pos] != ",":
                raise ValueError("expected ',' or '}'")
            pos = self._space(pos + 1)

    def _array(self, pos: int, item) -> int:
        pos = self._space(pos + 1)
        if self.text[pos] == "]":
            return pos + 1
        index = 0
        while True:
            pos = self._space(item(index, pos))
            index += 1
            if self.text[pos] == "]":
                return pos + 1
            if self.text[pos] != ",":
                raise ValueError("expected ',' or ']'")
            pos = self._space(pos + 1)

    def _skip(self, pos: int) -> int:
        return self.decoder.raw_decode(self.text, pos)[1]

    def _space(self, pos: int) -> int:
        return _JSON_SPACE.match(self.text, pos).end()
