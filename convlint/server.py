"""The language server (`convlint server`, LSP over stdio): findings and fixes for editor buffers.

It lints only the buffers an editor has opened (never a file it would have to read: a FIFO or
/dev/zero named in a request must not block it or fill its memory), and it outlives any
malformed input: frames are read by `FrameReader`, which caps their size and resynchronizes
on the next header.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Sequence
from urllib.parse import unquote

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from convlint import __version__
from convlint.config import Configuration, ConfigError, Settings
from convlint.diagnostics import Applicability, Diagnostic, Edit, Location
from convlint.engine import fix_source, lint_buffer, materialize_fixes
from convlint.rules import KNOWN_CODES, SYNTAX_ERROR
from convlint.source import SourceText

SOURCE = "convlint"
FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.{SOURCE}"
QUICK_FIX = types.CodeActionKind.QuickFix.value


class ConvlintServer(LanguageServer):
    def __init__(self) -> None:
        # Full sync: pygls applies incremental changes with str.splitlines(), which also
        # breaks lines at form feeds and U+2028, so the client's line numbers would drift.
        super().__init__(SOURCE, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self._told: set[str] = set()
        self.shut_down = False  # a `shutdown` request came: `exit` (or the end of input) is clean

    def settings_for(self, path: str) -> Settings:
        """The settings `convlint check` gives the file (its closest configuration file);
        defaults (anchored at the workspace folder) where that is broken. Read afresh each
        time (small TOML files), so an edited configuration takes effect."""
        try:
            return Configuration(KNOWN_CODES).settings_for(path)
        except ConfigError as e:
            self._tell(str(e))
        return Settings(project_root=self.workspace_root(path))

    def workspace_root(self, path: str) -> str:
        folders = [f for f in map(to_fs_path, self.workspace.folders) if f]
        inside = [f for f in folders if os.path.commonpath([f, path]) == f]
        if inside:
            return max(inside, key=len)
        return self.workspace.root_path or os.path.dirname(path)

    def _tell(self, message: str) -> None:
        """Show a configuration error, once: buffers are linted on every keystroke."""
        if message not in self._told:
            self._told.add(message)
            error = types.ShowMessageParams(type=types.MessageType.Error, message=f"convlint: {message}")
            self.window_show_message(error)


class Analysis:
    """One buffer's findings, with what converting their positions and fixing them needs.

    A buffer that starts with U+FEFF is analysed without it, as `check` reads a file with
    a BOM; positions on its first line then count it again, for the client.
    """

    def __init__(self, server: ConvlintServer, document: TextDocument):
        self.document = document
        self.path = os.path.abspath(document.path)
        self.settings = server.settings_for(self.path)
        self.buffer = SourceText(document.source)
        self.bom = 1 if self.buffer.text.startswith("\ufeff") else 0
        self.source = SourceText(self.buffer.text[self.bom:]) if self.bom else self.buffer
        self.codec = server.workspace.position_codec
        # A buffer is linted like a file named on the command line: excluded only with
        # force-exclude.
        if self.settings.force_exclude and self.settings.is_excluded(self.path):
            self.diagnostics: list[Diagnostic] = []
        else:
            self.diagnostics = lint_buffer(self.source.text, self.path, self.settings)

    def range(self, start: Location, end: Location) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(end))

    def position(self, location: Location) -> types.Position:
        """convlint's 1-based character location in the analysed source as LSP's 0-based
        line and client code units (UTF-16 unless the client negotiated otherwise)."""
        at = self.source.location(self.source.offset(location))
        if at.row == 1 and self.bom:
            at = Location(1, at.column + self.bom)
        return lsp_position(self.buffer, self.codec, at)

    def lsp_diagnostic(self, d: Diagnostic) -> types.Diagnostic:
        severity = types.DiagnosticSeverity.Warning
        if d.code == SYNTAX_ERROR:
            severity = types.DiagnosticSeverity.Error
        return types.Diagnostic(
            range=self.range(d.start, d.end), message=d.message, severity=severity, code=d.code, source=SOURCE
        )

    def text_edit(self, edit: Edit) -> types.TextEdit:
        return types.TextEdit(range=self.range(edit.start, edit.end), new_text=edit.content)


def lsp_position(source: SourceText, codec: PositionCodec, location: Location) -> types.Position:
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


def build_server() -> ConvlintServer:
    server = ConvlintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ConvlintServer, params: types.DidOpenTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ConvlintServer, params: types.DidChangeTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ConvlintServer, params: types.DidSaveTextDocumentParams) -> None:
        if params.text_document.uri.endswith("/pyproject.toml"):  # the settings may have changed
            for uri in list(ls.workspace.text_documents):
                publish(ls, uri)
        else:
            publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ConvlintServer, params: types.DidCloseTextDocumentParams) -> None:
        cleared = types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        ls.text_document_publish_diagnostics(cleared)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL]),
    )
    def code_action(ls: ConvlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        analysis = analyze(ls, params.text_document.uri)
        if analysis is None:
            return []
        actions = []
        if wanted(params.context.only, QUICK_FIX):
            actions.extend(quick_fixes(ls, analysis, params.range))
        if wanted(params.context.only, FIX_ALL):
            actions.extend(fix_all(ls, analysis))
        return actions

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: ConvlintServer, params: None) -> None:
        ls.shut_down = True

    return server


def serve() -> None:
    """Serve on standard input and output until `exit` or the end of the input. Exit 0 after
    a `shutdown` request, else 1 (as the protocol says)."""
    server = build_server()
    server.start_io(stdin=FrameReader(sys.stdin.buffer))
    sys.exit(0 if server.shut_down else 1)


# Larger frames are dropped: a buffer of tens of megabytes is already more than any editor
# sends, and reading what a frame claims (`Content-Length: 999999999999`) would exhaust memory.
MAX_FRAME = 64 * 2**20
MAX_HEADER_LINE = 8192
_CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)[ \t]*", re.IGNORECASE)
_log = logging.getLogger(__name__)


class FrameReader:
    """A reader of LSP frames that hands pygls only well-formed ones: `Content-Length: N`,
    a blank line, N bytes.

    Header lines may end in LF alone; unknown headers are ignored; a frame without a valid
    length, or longer than MAX_FRAME, is dropped, and reading resumes at the next line that
    holds a `Content-Length` header.
    """

    def __init__(self, raw):
        self.raw = raw
        self._lines: list[bytes] = []  # header lines of the frame being handed over
        self._body = b""

    def readline(self) -> bytes:
        if not self._lines and not self._next_frame():
            return b""
        return self._lines.pop(0)

    def read(self, n: int) -> bytes:
        body, self._body = self._body[:n], self._body[n:]
        return body

    def _next_frame(self) -> bool:
        """Read up to the next well-formed frame; False at the end of the input."""
        while True:
            length = self._headers()
            if length is None:
                return False
            if length > MAX_FRAME:
                _log.error("dropped a frame of %d bytes (at most %d)", length, MAX_FRAME)
                continue  # resynchronize on the next header
            body = self.raw.read(length)
            if len(body) < length:
                return False
            self._lines = [b"Content-Length: %d\r\n" % length, b"\r\n"]
            self._body = body
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


def analyze(ls: ConvlintServer, uri: str) -> Analysis | None:
    """The analysis of an open buffer; None for anything else (a file on disk is never read)."""
    document = ls.workspace.text_documents.get(unquote(uri))
    if document is None:
        return None
    if document.language_id != "python" and not document.path.endswith((".py", ".pyi")):
        return None
    return Analysis(ls, document)


def publish(ls: ConvlintServer, uri: str) -> None:
    try:
        analysis = analyze(ls, uri)
    except Exception as e:  # one buffer convlint cannot handle must not stop the server
        message = f"convlint: {uri}: internal error: {type(e).__name__}: {e}"
        ls.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=message))
        return
    if analysis is None:
        return
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=uri,
            version=analysis.document.version,
            diagnostics=[analysis.lsp_diagnostic(d) for d in analysis.diagnostics],
        )
    )


def wanted(only: Sequence[str] | None, kind: str) -> bool:
    """Whether a code action request's `only` filter admits `kind` (kinds are hierarchical)."""
    return only is None or any(kind == k or kind.startswith(f"{k}.") for k in only)


def quick_fixes(ls: ConvlintServer, analysis: Analysis, at: types.Range) -> list[types.CodeAction]:
    def overlaps(r: types.Range) -> bool:
        start, end = (r.start.line, r.start.character), (r.end.line, r.end.character)
        return start <= (at.end.line, at.end.character) and (at.start.line, at.start.character) <= end

    hits = [d for d in analysis.diagnostics if d.fix is not None and overlaps(analysis.range(d.start, d.end))]
    resolved, _ = materialize_fixes(hits, analysis.source)
    actions = []
    for d in resolved:
        if d.fix is None or not d.fix.edits:  # the fix could not be computed
            continue
        safe = d.fix.applicability is Applicability.SAFE
        actions.append(
            types.CodeAction(
                title=f"{d.fix.message} ({d.code}{'' if safe else ', unsafe'})",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[analysis.lsp_diagnostic(d)],
                is_preferred=safe,
                edit=workspace_edit(ls, analysis.document, [analysis.text_edit(e) for e in d.fix.edits]),
            )
        )
    return actions


def fix_all(ls: ConvlintServer, analysis: Analysis) -> list[types.CodeAction]:
    """Every safe fix at once, as `convlint fix --write` applies them (fix-on-save)."""
    if not analysis.diagnostics:
        return []
    outcome = fix_source(analysis.source.text, analysis.path, analysis.settings, unsafe=False)
    if outcome.text == analysis.source.text:
        return []
    edit = analysis.text_edit(smallest_edit(analysis.source, outcome.text))
    return [
        types.CodeAction(
            title=f"Fix all convlint findings with a safe fix ({outcome.fixed})",
            kind=FIX_ALL,
            edit=workspace_edit(ls, analysis.document, [edit]),
        )
    ]


def workspace_edit(
    ls: ConvlintServer, document: TextDocument, edits: list[types.TextEdit]
) -> types.WorkspaceEdit:
    # A versioned edit lets the client refuse it once the buffer has moved on.
    if get_capability(ls.client_capabilities, "workspace.workspace_edit.document_changes", False):
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=document.uri, version=document.version)
        change = types.TextDocumentEdit(text_document=identifier, edits=edits)
        return types.WorkspaceEdit(document_changes=[change])
    return types.WorkspaceEdit(changes={document.uri: edits})
