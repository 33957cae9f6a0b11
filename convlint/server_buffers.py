"""What the language server lints, and where its findings go: a Python buffer, or the code
cells of a notebook analysed as one program (as `check` analyses an .ipynb file), each
finding and each fix edit placed in the editor document (the buffer, or its cell) it is in.

Positions are LSP's: 0-based lines, and the client's code units (UTF-16 unless the client
negotiated another encoding).
"""

from __future__ import annotations

import os
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from convlint.config import Settings
from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.fixing import fix_buffer, fix_source
from convlint.lint import lint_buffer
from convlint.formats.report import rule_url
from convlint.notebook import Notebook, NotebookError, join_cells, keep_ending
from convlint.codes import SYNTAX_ERROR
from convlint.source import SourceText

SOURCE = "convlint"
Edits = dict[str, list[types.TextEdit]]  # by document URI


class Analysis:
    """One buffer's findings, in the coordinates of the source that was analysed, and the
    mapping of those coordinates to the editor's documents."""

    def __init__(self, path: str, text: str, settings: Settings, codec: PositionCodec, parser):
        self.path = path
        self.settings = settings
        self.source = SourceText(text)
        self.codec = codec
        self._placed: dict | None = None
        self.serial = 0  # set by the server: which analysis of its run this is
        # A buffer is linted like a file named on the command line: excluded only with
        # force-exclude.
        if settings.force_exclude and settings.is_excluded(path):
            self.diagnostics: list[Diagnostic] = []
        else:
            self.diagnostics = lint_buffer(text, path, settings, parser=parser)

    # ---- what a subclass says

    def documents(self) -> list[TextDocument]:
        """The editor documents the findings are published to."""
        raise NotImplementedError

    def place(self, start: Location, end: Location) -> tuple[TextDocument, types.Range] | None:
        """The document and range of a span of the analysed source (None: in no document)."""
        raise NotImplementedError

    def fix_all_edits(self) -> tuple[Edits, int]:
        """The edits of every safe fix, as `convlint fix --write` applies them, and how many
        findings they fix."""
        raise NotImplementedError

    # ---- shared

    def placed(self) -> dict[str, list[tuple[Diagnostic, types.Diagnostic]]]:
        """Each document's findings, by URI (unquoted; every document, findings or not)."""
        if self._placed is None:
            out: dict[str, list[tuple[Diagnostic, types.Diagnostic]]] = {unquote(d.uri): [] for d in self.documents()}
            for d in self.diagnostics:
                lsp = self.lsp_diagnostic(d)
                if lsp is not None:
                    out.setdefault(unquote(lsp[0].uri), []).append((d, lsp[1]))
            self._placed = out
        return self._placed

    def found_in(self, uri: str) -> list[tuple[Diagnostic, types.Diagnostic]]:
        return self.placed().get(unquote(uri), [])

    def lsp_diagnostic(self, d: Diagnostic) -> tuple[TextDocument, types.Diagnostic] | None:
        where = self.place(d.start, d.end)
        if where is None:
            return None
        severity = types.DiagnosticSeverity.Error if d.code == SYNTAX_ERROR else types.DiagnosticSeverity.Warning
        url = rule_url(d.code)
        return where[0], types.Diagnostic(
            range=where[1], message=d.message, severity=severity, code=d.code, source=SOURCE,
            code_description=types.CodeDescription(href=url) if url else None,
        )

    def text_edits(self, edits: list[Edit] | tuple[Edit, ...]) -> Edits | None:
        """Edits of the analysed source as edits of the documents; None when one of them
        does not lie in one document (it would span two cells)."""
        out: Edits = {}
        for edit in edits:
            start, end = self.place(edit.start, edit.start), self.place(edit.end, edit.end)
            if start is None or end is None or start[0].uri != end[0].uri:
                return None
            out.setdefault(start[0].uri, []).append(
                types.TextEdit(range=types.Range(start=start[1].start, end=end[1].start), new_text=edit.content)
            )
        return out


class BufferAnalysis(Analysis):
    """A Python buffer. One that starts with U+FEFF is analysed without it, as `check` reads
    a file with a BOM; positions on its first line then count it again, for the client."""

    def __init__(self, document: TextDocument, path: str, settings: Settings, codec: PositionCodec, parser):
        self.document = document
        self.buffer = SourceText(document.source)
        self.bom = 1 if self.buffer.text.startswith("\ufeff") else 0
        super().__init__(path, self.buffer.text[self.bom:], settings, codec, parser)

    def documents(self) -> list[TextDocument]:
        return [self.document]

    def place(self, start: Location, end: Location) -> tuple[TextDocument, types.Range]:
        return self.document, types.Range(start=self._position(start), end=self._position(end))

    def _position(self, location: Location) -> types.Position:
        at = self.source.location(self.source.offset(location))
        if at.row == 1 and self.bom:
            at = Location(1, at.column + self.bom)
        return lsp_position(self.buffer, self.codec, at)

    def fix_all_edits(self) -> tuple[Edits, int]:
        if not self.diagnostics:
            return {}, 0
        outcome = fix_buffer(self.source.text, self.path, self.settings, unsafe=False)  # a page's too
        if outcome.text == self.source.text:
            return {}, 0
        return self.text_edits([smallest_edit(self.source, outcome.text)]) or {}, outcome.fixed


class NotebookAnalysis(Analysis):
    """The Python code cells of a notebook, joined as `check` joins an .ipynb file's."""

    def __init__(self, cells: list[TextDocument], path: str, settings: Settings, codec: PositionCodec, parser):
        self.cells = cells
        self.notebook: Notebook = join_cells([cell.source for cell in cells])
        self._sources = [SourceText(cell.source) for cell in cells]
        super().__init__(path, self.notebook.source, settings, codec, parser)

    def documents(self) -> list[TextDocument]:
        return list(self.cells)

    def place(self, start: Location, end: Location) -> tuple[TextDocument, types.Range] | None:
        first = self.notebook.locate_edit(Edit(start, start, ""))
        last = self.notebook.locate_edit(Edit(end, end, ""))
        if first.cell is None or first.cell > len(self.cells):
            return None
        if last.cell != first.cell:  # a span that runs into the next cell ends with its cell
            source = self._sources[first.cell - 1]
            last = Edit(source.location(len(source.text)), source.location(len(source.text)), "", first.cell)
        i = first.cell - 1
        source = self._sources[i]
        return self.cells[i], types.Range(start=lsp_position(source, self.codec, first.start),
                                          end=lsp_position(source, self.codec, last.start))

    def fix_all_edits(self) -> tuple[Edits, int]:
        if not self.diagnostics:
            return {}, 0
        outcome = fix_source(self.source.text, self.path, self.settings, unsafe=False)
        try:
            changed = self.notebook.changed_cells(outcome.text)
        except NotebookError:
            return {}, 0
        out: Edits = {}
        for index, new in changed:
            cell, source = self.cells[index], self._sources[index]
            edit = smallest_edit(source, keep_ending(source.text, new))
            start, end = lsp_position(source, self.codec, edit.start), lsp_position(source, self.codec, edit.end)
            out[cell.uri] = [types.TextEdit(range=types.Range(start=start, end=end), new_text=edit.content)]
        return out, outcome.fixed if out else 0


def lsp_position(source: SourceText, codec: PositionCodec, location: Location) -> types.Position:
    """convlint's 1-based character location as LSP's 0-based line and client code units."""
    at = source.location(source.offset(location))
    in_code_points = types.Position(line=at.row - 1, character=at.column - 1)
    return codec.position_to_client_units(source.lines, in_code_points)


def smallest_edit(source: SourceText, new_text: str) -> Edit:
    """One edit that turns the source into `new_text`, without the unchanged head and tail,
    so that an editor keeps the cursor and the undo step small."""
    old = source.text
    head = len(os.path.commonprefix([old, new_text]))
    tail = 0
    while tail < min(len(old), len(new_text)) - head and old[-1 - tail] == new_text[-1 - tail]:
        tail += 1
    return Edit(source.location(head), source.location(len(old) - tail), new_text[head : len(new_text) - tail])
