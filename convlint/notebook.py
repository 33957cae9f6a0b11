"""Jupyter notebooks: their code cells as one Python source, and fixed cells written back.

The cells are joined with a boundary comment between them, so that names bound in one cell
are known in the next, and so that a fixed source splits back into its cells. IPython
magics and shell lines become `pass` placeholders that are restored on the way back. The
boundary and the placeholders carry a token that no cell of the notebook contains, so no user
line is taken for one. Only code cells whose code changed are written, and in those only the
changed lines: outputs, metadata, other cells (however their source is stored), key order,
the JSON indentation and the trailing newline are kept, or the notebook is not rewritten.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from bisect import bisect_right
from collections.abc import Callable
from typing import ClassVar
from dataclasses import dataclass, field, replace

from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.files import unchanged_stretches

_BOUNDARY = "# convlint-cell-boundary-"
_MAGIC = "convlint-magic-"
# Cell magics whose body is Python; any other (%%bash, %%html, %%writefile...) is not.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "autoreload"}
# Lines IPython rewrites before Python sees them: magics, shell escapes, help, and
# assignments from either (`files = !ls`).
_MAGIC_LINE = re.compile(r"^\s*(?:[%!]|\?|[\w.]+\?\??\s*$|[\w.,\s]+=\s*[%!])")
# Lines that install packages: an import the fix adds goes after them.
_INSTALL_LINE = re.compile(r"^\s*(?:!\s*|%)(?:pip|pip3|conda|mamba|uv)\b|^\s*!\s*(?:python3?\s+-m\s+pip|uv\s+pip)\b")
# A line break as nbformat stores lines: only at "\n"; as Python reads them: \r\n, \r, \n.
_NB_LINE = re.compile(r"[^\n]*\n|[^\n]+")
_PY_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


class NotebookError(Exception):
    """The file is not a notebook convlint can read (or write back without reformatting)."""


@dataclass
class _Cell:
    index: int  # in nb["cells"]
    python: str  # the cell as it is analysed: magics replaced, ending with a newline
    magics: list[str] = field(default_factory=list)  # original lines behind placeholders


@dataclass
class Notebook:
    data: dict
    text: str  # the original JSON
    cells: list[_Cell]
    token: str  # in the boundary and placeholder lines; in no cell
    source: str  # the analysable Python source: every code cell, joined
    starts: list[int]  # the row in `source` where each cell's first line is
    # What a documentation page (markup.Page) also has: notebooks have no such blocks.
    block_noqa: ClassVar[None] = None
    skipped: ClassVar[tuple[str, ...]] = ()

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        """Move a diagnostic (and its fix edits) from `source` rows to cell rows."""
        cell, start = self._cell_location(diagnostic.start)
        _, end = self._cell_location(diagnostic.end)
        fix = diagnostic.fix
        if fix is not None and fix.edits:
            fix = replace(fix, edits=tuple(self.locate_edit(e) for e in fix.edits))
        noqa_row = diagnostic.noqa_row
        if noqa_row is not None:
            noqa_row = self._cell_location(Location(noqa_row, 1))[1].row
        return replace(diagnostic, start=start, end=end, cell=cell, fix=fix, noqa_row=noqa_row)

    def locate_edit(self, edit: Edit) -> Edit:
        """Move an edit from `source` rows to the rows of the cell it starts in."""
        cell, start = self._cell_location(edit.start)
        _, end = self._cell_location(edit.end)
        return replace(edit, start=start, end=end, cell=cell)

    def _cell_location(self, loc: Location) -> tuple[int, Location]:
        i = max(bisect_right(self.starts, loc.row) - 1, 0)
        return self.cells[i].index + 1, Location(loc.row - self.starts[i] + 1, loc.column)

    def changed_cells(self, fixed_source: str) -> list[tuple[int, str]]:
        """The code cells a fixed `source` changes: each one's index (as the cells were
        given) and new code, magics restored. A cell whose code did not end in a newline
        ends in one here (the join added it): `keep_ending` takes it off again."""
        chunks = fixed_source.split(_boundary(self.token) + "\n")[1:]
        if len(chunks) != len(self.cells):
            raise NotebookError("the fix moved code across cell boundaries; not written")
        return [(cell.index, _restore_magics(chunk, cell.magics, self.token))
                for cell, chunk in zip(self.cells, chunks) if chunk != cell.python]

    def render(self, fixed_source: str) -> str:
        """The notebook's JSON with the code cells taken from a fixed `source`."""
        changed = self.changed_cells(fixed_source)
        # How the JSON was written is worked out only now: `check` never needs it.
        layout = _layout(self.text, self.data)
        data = json.loads(self.text)  # a copy to change
        for index, new in changed:
            raw = data["cells"][index]
            new = keep_ending(_source_text(raw.get("source")), new)
            if isinstance(raw.get("source"), list):
                raw["source"] = _resplit(raw["source"], new)
            else:
                raw["source"] = new
        return _dump(data, layout)


def keep_ending(old: str, new: str) -> str:
    """A cell's new code without the newline the join added, where its old code had none."""
    return new[:-1] if not old.endswith("\n") and new.endswith("\n") else new


def load_notebook(text: str) -> Notebook:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(f"invalid notebook JSON: {e}") from None
    except RecursionError:
        raise NotebookError("invalid notebook JSON: nested too deeply to read") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("invalid notebook: no list of cells")
    code: list[tuple[int, str]] = []
    if _is_python(data):
        for index, raw in enumerate(data["cells"]):
            if isinstance(raw, dict) and raw.get("cell_type") == "code":
                code.append((index, _cell_source(raw, index)))
    return _join(data, text, code)


def join_cells(sources: list[str]) -> Notebook:
    """The code cells an editor holds (their texts, in order) joined as `load_notebook`
    joins a file's: a cell's index is its place in `sources`. Such a notebook has no JSON
    to render; `changed_cells` gives what a fix changes."""
    return _join({}, "", list(enumerate(sources)))


def _join(data: dict, text: str, code: list[tuple[int, str]]) -> Notebook:
    token = _token(code)
    cells: list[_Cell] = []
    parts: list[str] = []
    starts: list[int] = []
    row = 1
    for index, text_source in code:
        magics: list[str] = []
        python = _python_of(text_source, magics, token)
        if python is None:
            continue
        if not python.endswith("\n"):
            python += "\n"
        cells.append(_Cell(index, python, magics))
        parts.append(_boundary(token) + "\n" + python)
        starts.append(row + 1)
        row += 1 + python.count("\n")
    return Notebook(data, text, cells, token, "".join(parts), starts)


def _cell_source(raw: dict, index: int) -> str:
    """A code cell's source as one string; a missing or null one is empty."""
    source = raw.get("source")
    if source is None or isinstance(source, str):
        return source or ""
    if isinstance(source, list):
        wrong = [x for x in source if not isinstance(x, str)]
        if not wrong:
            return "".join(source)
        raise NotebookError(f"invalid notebook: the source of cell {index + 1} holds {_json_type(wrong[0])}, not only strings")
    raise NotebookError(f"invalid notebook: the source of cell {index + 1} is {_json_type(source)}")


def _source_text(source) -> str:
    return "".join(source) if isinstance(source, list) else (source or "")


def _is_python(data: dict) -> bool:
    metadata = _object(data, "metadata", "metadata")
    kernelspec = _object(metadata, "kernelspec", "metadata.kernelspec")
    language_info = _object(metadata, "language_info", "metadata.language_info")
    language = kernelspec.get("language") or language_info.get("name")
    return language in (None, "python", "python3")


def _object(parent: dict, key: str, name: str) -> dict:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NotebookError(f"invalid notebook: {name} is {_json_type(value)}, not an object")
    return value


def _json_type(value) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
             dict: "an object", type(None): "null"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), "a value")


def _token(code: list[tuple[int, str]]) -> str:
    """A token that no cell contains, the same for the same cells (stable output)."""
    digest = hashlib.sha256("\0".join(text for _, text in code).encode("utf-8", "surrogatepass")).hexdigest()
    for i in range(0, len(digest) - 8):
        token = digest[i : i + 8]
        if not any(token in text for _, text in code):
            return token
    n = 0  # a notebook holding every candidate: count on
    while any(f"{digest}{n}" in text for _, text in code):
        n += 1
    return f"{digest}{n}"


def _boundary(token: str) -> str:
    return f"{_BOUNDARY}{token}"


_INSTALLS = "-install"  # the end of an install line's placeholder


def _placeholder(token: str, n: int, line: str) -> str:
    return f"pass  # {_MAGIC}{token}-{n}" + (_INSTALLS if _INSTALL_LINE.match(line) else "")


def _python_of(source: str, magics: list[str], token: str) -> str | None:
    """The cell's source as Python, or None for a cell in another language (%%bash...)."""
    lines = _PY_LINE.findall(source)
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
            out.append(indent + _placeholder(token, len(magics), body) + line[len(body):])
            magics.append(body)
        else:
            out.append(line)
    return "".join(out)


def _restore_magics(text: str, magics: list[str], token: str) -> str:
    placeholder = re.compile(rf"^(\s*)pass  # {_MAGIC}{token}-(\d+)(?:{_INSTALLS})?$")
    lines = _PY_LINE.findall(text)
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = placeholder.match(body)
        if match and int(match.group(2)) < len(magics):
            lines[i] = magics[int(match.group(2))] + line[len(body):]
    return "".join(lines)


def _resplit(old: list[str], new: str) -> list[str]:
    """`new` as a list of strings that keeps each element of `old` whose text is unchanged
    (however it was split: at form feeds, U+2028, mid-line), and splits the changed text at
    "\n" only, as nbformat does."""
    same = unchanged_stretches("".join(old), new, _NB_LINE)
    out: list[str] = []
    at = 0  # how much of `new` is placed
    start = 0
    for element in old:
        end = start + len(element)
        k = bisect_right(same, (start, float("inf"), float("inf"))) - 1
        if element and k >= 0 and same[k][0] <= start and end <= same[k][1]:
            new_start = same[k][2] + start - same[k][0]
            if new_start >= at:
                out.extend(_NB_LINE.findall(new[at:new_start]))
                out.append(element)
                at = new_start + len(element)
        start = end
    out.extend(_NB_LINE.findall(new[at:]))
    return out


# --------------------------------------------------------------------------- for fix planning


@dataclass(frozen=True)
class CellLayout:
    """Where the cells of a notebook's joined source are: what a fix planner needs to put an
    import in the right cell. Rows are 1-based rows of the joined source."""

    cells: tuple[tuple[int, int], ...]  # each code cell's first and last row
    placeholders: frozenset[int]  # rows standing for an IPython magic or shell line
    installs: frozenset[int]  # those of them that install packages (`!pip`, `%pip`, `%conda`)
    page: bool = False  # the code blocks of a documentation page (markup.py), not cells


def cell_layout(path: str, text: str) -> CellLayout | None:
    """The layout of the joined source `text` of the notebook `path` or of a documentation
    page's code blocks (markup.py); None for a .py file."""
    from convlint.markup import BOUNDARY as PAGE_BOUNDARY

    page = not path.endswith(".ipynb")
    if page and not text.startswith(f"import torch  {PAGE_BOUNDARY}"):
        return None  # a .py file: asked once per fix, it must cost nothing
    lines = _PY_LINE.findall(text)
    if not lines:
        return None
    if page:  # its first row imports torch, for fragments that use it without an import
        match = re.fullmatch(rf"import torch  {PAGE_BOUNDARY}([0-9a-f]+)(?:-noqa)?\n", lines[0])
    else:
        match = re.fullmatch(rf"{_BOUNDARY}(\w+)\n", lines[0])
    if match is None:
        return None
    token = match.group(1)
    boundary = f"{PAGE_BOUNDARY if page else _BOUNDARY}{token}\n"
    noqa_boundary = f"{PAGE_BOUNDARY}{token}-noqa\n" if page else boundary
    placeholder = re.compile(rf"\s*pass  # {_MAGIC}{token}-\d+(?:{_INSTALLS})?\r?\n?")
    cells, placeholders = [], set()
    for row, line in enumerate(lines, start=1):
        if line in (boundary, noqa_boundary) or row == 1:
            cells.append([row + 1, row])
        else:
            cells[-1][1] = row
            if placeholder.fullmatch(line):
                placeholders.add(row)
    installs = {row for row in placeholders if lines[row - 1].rstrip("\r\n").endswith(_INSTALLS)}
    if page:
        placeholders.add(1)
    return CellLayout(tuple(map(tuple, cells)), frozenset(placeholders), frozenset(installs), page)


def _is_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.Import, ast.ImportFrom))


def converter_import_row(layout: CellLayout, tree: ast.Module, first_use: int | None = None,
                         is_import: Callable[[ast.stmt], bool] = _is_import) -> int:
    """The row before which a fix adds an import to a notebook: in the first code cell that
    imports (at its top level), after its leading imports and magics and after any line of
    it that installs packages (`!pip install torch`); in a
    notebook that imports nothing, before the first statement that is not a magic. Never
    after `first_use` (the row of the first statement that needs the import): then before
    the top-level statement holding it. `is_import`: what counts as an import statement
    (the planner's notion, e.g. a `try:` of imports too)."""
    body = tree.body
    row = None
    for first, last in layout.cells:
        statements = [s for s in body if first <= s.lineno <= last]
        if any(is_import(s) for s in statements):
            row = _after_leading(statements, layout, first, is_import)
            # What the cell installs must be installed before the import runs.
            row = max([row] + [r + 1 for r in layout.installs if first <= r <= last])
            break
    if row is None:
        code = [s for s in body if s.lineno not in layout.placeholders]
        if code:
            cell = next(c for c in layout.cells if c[0] <= code[0].lineno <= c[1])
            row = _after_leading([s for s in body if cell[0] <= s.lineno <= cell[1]], layout, cell[0], is_import)
        else:
            row = layout.cells[0][0] if layout.cells else 1
    if first_use is not None and row > first_use:
        holder = next((s for s in reversed(body) if s.lineno <= first_use), None)
        row = holder.lineno if holder is not None else first_use
    return row


def _after_leading(statements: list[ast.stmt], layout: CellLayout, first_row: int, is_import) -> int:
    """The row after a cell's leading imports and magics (its first row if there are none)."""
    row = first_row
    for s in statements:
        if not (s.lineno in layout.placeholders or is_import(s)):
            break
        row = s.end_lineno + 1
    return row


def _layout(text: str, data: dict) -> tuple | None:
    """How the JSON was written (indent, ASCII only, trailing newline, line break: CRLF in
    a checkout with git's autocrlf), or None when `data` would not be written back to
    exactly `text`: rewriting is then refused."""
    indent_match = re.match(r"\{(\r?\n)( +)\"", text)
    indent = len(indent_match.group(2)) if indent_match else None
    newline = indent_match.group(1) if indent_match else ("\r\n" if text.endswith("\r\n") else "\n")
    layout = (indent, text.isascii(), text.endswith("\n"), newline)
    if _dump(data, layout) != text:
        return None  # type: ignore[return-value]
    return layout


def _dump(data: dict, layout: tuple | None) -> str:
    if layout is None:
        raise NotebookError("the notebook's JSON layout cannot be kept; not rewritten")
    indent, ensure_ascii, trailing, newline = layout
    text = json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + ("\n" if trailing else "")
    # json.dumps escapes every line break inside a string: each "\n" left is between lines.
    return text if newline == "\n" else text.replace("\n", newline)


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
