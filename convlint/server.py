"""The language server (`convlint server`, LSP over stdio): findings and fixes for editor buffers."""

from __future__ import annotations

import os
from collections.abc import Sequence

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from convlint import __version__
from convlint.config import ConfigError, Settings, find_config, load_settings
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

    def settings_for(self, path: str) -> Settings:
        """The [tool.convlint] settings of the project `path` is in; defaults (anchored at the
        workspace folder) where there is none or it is broken. Read afresh each time (a small
        TOML file: find_config parses it anyway), so an edited pyproject.toml takes effect."""
        try:
            config = find_config(path)
            if config is not None:
                return load_settings(config, KNOWN_CODES)
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
    """One buffer's findings, with what converting their positions and fixing them needs."""

    def __init__(self, server: ConvlintServer, document: TextDocument):
        self.document = document
        self.path = os.path.abspath(document.path)
        self.settings = server.settings_for(self.path)
        self.source = SourceText(document.source)
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
        """convlint's 1-based character location as LSP's 0-based line and client code units
        (UTF-16 unless the client negotiated otherwise)."""
        return lsp_position(self.source, self.codec, location)

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

    return server


def serve() -> None:
    build_server().start_io()


def analyze(ls: ConvlintServer, uri: str) -> Analysis | None:
    document = ls.workspace.get_text_document(uri)
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
