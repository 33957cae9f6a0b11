"""The reported files' text, for the formats that show or point into it: code frames, and the
positions in a notebook's JSON that CI systems and code review show (a finding's own rows
are a cell's). Each file is read once, when a format first asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convlint.diagnostics import Edit, Location
from convlint.source import SourceText

if TYPE_CHECKING:  # notebooks are read only when a finding is in one
    from convlint.notebook import NotebookJson


class Sources:
    """`given` texts (standard input, fixed sources that were not written) are used as they
    are; any other file is read from disk. A file that cannot be read has no text: formats
    then print what they can without it."""

    def __init__(self, given: dict[str, str] | None = None):
        self._texts: dict[str, str | None] = dict(given or {})
        self._lines: dict[str, SourceText] = {}
        self._notebooks: dict[str, NotebookJson] = {}

    def text(self, path: str) -> str | None:
        """The file's decoded text (a notebook's JSON)."""
        if path not in self._texts:
            self._texts[path] = _read(path)
        return self._texts[path]

    def lines(self, path: str) -> SourceText:
        if path not in self._lines:
            self._lines[path] = SourceText(self.text(path) or "")
        return self._lines[path]

    def notebook(self, path: str) -> NotebookJson:
        if path not in self._notebooks:
            from convlint.notebook import NotebookJson

            self._notebooks[path] = NotebookJson(self.text(path) or "")
        return self._notebooks[path]

    def code(self, path: str, cell: int | None) -> SourceText | None:
        """The text a finding's rows count in: the file, or the notebook cell."""
        if cell is None:
            return self.lines(path) if self.text(path) is not None else None
        code = self.notebook(path).cell_code(cell)
        return SourceText(code) if code is not None else None

    def file_location(self, path: str, cell: int | None, loc: Location) -> Location:
        """A finding's location in the file as a consumer shows it: the same outside
        notebooks; in a notebook, where that line of the cell is in the JSON (the first line
        when it cannot be worked out)."""
        if cell is None:
            return loc
        return self.notebook(path).json_location(cell, loc) or Location(1, 1)

    def file_edit(self, path: str, edit: Edit) -> Edit | None:
        """An edit of the file's own text: the same outside notebooks; in a notebook, the
        span of the JSON with the content escaped as JSON (it stays inside the cell's
        strings), or None when the cell's source cannot be mapped."""
        if edit.cell is None:
            return edit
        return self.notebook(path).json_edit(edit.cell, edit)

    def utf8_column(self, path: str, loc: Location) -> int:
        """The 1-based column of a file location counted in UTF-8 bytes (reviewdog's)."""
        line = self.lines(path).line_text(loc.row).rstrip("\r\n")
        before = loc.column - 1
        return len(line[:before].encode("utf-8", "surrogatepass")) + max(0, before - len(line)) + 1


def _read(path: str) -> str | None:
    from convlint.files import decode_source, read_bytes

    try:
        return decode_source(read_bytes(path)[0]).text
    except (OSError, SyntaxError, ValueError):
        return None
