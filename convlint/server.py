"""The language server (`convlint server`, LSP over stdio): findings and fixes for editor buffers.

It lints only the documents an editor has opened, Python buffers and notebooks (never a file
it would have to read: a FIFO or /dev/zero named in a request must not block it or fill its
memory), and it outlives any malformed input (server_input.py). A burst of changes is linted
once, on the latest version: a lint waits while the client has sent more input. Findings are
pushed (`publishDiagnostics`), or pulled (`textDocument/diagnostic`) by a client that
can; a document's analysis is kept until it changes, so code actions, hovers and pulls of an
unchanged document cost nothing, and a change re-parses only the top-level statements it
touches (analysis/reparse.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from urllib.parse import unquote

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from convlint import __version__
from convlint.analysis.project import forget_projects
from convlint.analysis.reparse import Reparser
from convlint.config import FIX_TARGETS, Configuration, ConfigError, Settings, check_selectors, merge_cli
from convlint.diagnostics import Applicability
from convlint.files import DOC_SUFFIXES
from convlint.lint import NOT_SUPPRESSIBLE, materialize_fixes
from convlint.rules import KNOWN_CODES, RULE_DOCS
from convlint.server_buffers import SOURCE, Analysis, BufferAnalysis, Edits, NotebookAnalysis
from convlint.server_input import FrameReader
from convlint.suppress import add_noqa_edits

FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.{SOURCE}"
QUICK_FIX = types.CodeActionKind.QuickFix.value
CONFIG_FILES = ("pyproject.toml", "convlint.toml", ".convlint.toml")
SETTINGS_SECTION = "convlint"
# How long the first lints wait for the client's answer to `workspace/configuration` at most
# (a client that never answers must not leave its buffers unlinted).
CONFIGURATION_WAIT = 5.0
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[types.NotebookDocumentFilterWithCells(
        cells=[types.NotebookCellLanguage(language="python")], notebook="jupyter-notebook",
    )],
    save=True,
)
_log = logging.getLogger(__name__)


def _settings_for(path: str) -> Settings | None:
    """The settings of the configuration that applies to the file at `path` (None: there is
    none). The one place the server asks config.py how configuration resolves; raises
    ConfigError for a broken file."""
    settings, sources = Configuration(KNOWN_CODES).resolve(path)
    return settings if sources else None


class ConvlintServer(LanguageServer):
    def __init__(self) -> None:
        # Full sync: pygls applies incremental changes with str.splitlines(), which also
        # breaks lines at form feeds and U+2028, so the client's line numbers would drift.
        super().__init__(SOURCE, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full,
                         notebook_document_sync=NOTEBOOK_SYNC)
        self._told: set[str] = set()
        self.shut_down = False  # a `shutdown` request came: `exit` (or the end of input) is clean
        self.overrides: dict = {}  # the client's settings, as merge_cli takes them
        self.pull = False  # the client pulls diagnostics: none are pushed
        self.configured = asyncio.Event()  # cleared while the client's settings are awaited
        self.configured.set()
        self.input_waiting = lambda: False  # the client has sent input not handled yet
        self._settings: dict[str, Settings] = {}  # by directory
        self._generation = 0  # bumped when settings may have changed: every analysis is stale
        self._analyses: dict[str, tuple[tuple, Analysis]] = {}  # by document (or notebook) URI
        self._parsers: dict[str, Reparser] = {}
        self._pending: dict[str, None] = {}  # documents changed and not linted since
        self._published: dict[str, set[str]] = {}  # a notebook's cells last published to
        self.lints = 0  # analyses run (what the debounce saves)
        self.loop: asyncio.AbstractEventLoop | None = None

    # ---- settings

    def settings_for(self, path: str) -> Settings:
        """The settings for the file at `path`: its configuration (defaults anchored at the
        workspace folder where there is none or it is broken), then the client's settings.
        Kept per directory until a configuration file changes."""
        directory = os.path.dirname(path)
        settings = self._settings.get(directory)
        if settings is None:
            try:
                settings = _settings_for(path)
            except ConfigError as e:
                self._tell(str(e))
                settings = None
            if settings is None:
                settings = Settings(project_root=self.workspace_root(path))
            settings = self._settings[directory] = merge_cli(settings, **self.overrides)
        return settings

    def settings_changed(self) -> None:
        """A configuration file or the client's settings changed: forget what was derived
        from them, and lint every open document again."""
        self._settings.clear()
        self._told.clear()
        self.files_changed()

    def files_changed(self) -> None:
        """Files on disk may have changed (a save): what the analysis read of the project
        (which modules exist, their indices, the callers of a function) is read again, and
        every open document is linted again, as it may import the saved file."""
        forget_projects()
        self._generation += 1
        if self.pull:
            if get_capability(self.client_capabilities, "workspace.diagnostics.refresh_support", False):
                self.workspace_diagnostic_refresh(None)
            return
        for uri in self.open_documents():
            self.schedule(uri)

    def use_client_settings(self, raw: object) -> None:
        self.overrides = self._client_overrides(raw)
        self.settings_changed()

    def _client_overrides(self, raw: object) -> dict:
        """select / extendSelect / ignore / fixTarget from the client (also spelled as in
        pyproject.toml); a wrong one is shown and left out."""
        if isinstance(raw, dict) and isinstance(raw.get("settings"), dict):
            raw = raw["settings"]  # initializationOptions = {"settings": {...}}, as Ruff's
        if not isinstance(raw, dict):
            return {}
        out = {}
        for key, value in raw.items():
            name = key.replace("-", "_").replace("extendSelect", "extend_select").replace("fixTarget", "fix_target")
            where = f"client setting `{key}`"
            if name in ("select", "extend_select", "ignore"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    self._tell(f"{where} must be a list of rule codes")
                    continue
                try:
                    check_selectors(value, KNOWN_CODES, where)
                except ConfigError as e:
                    self._tell(str(e))
                    continue
                out[name] = value
            elif name == "fix_target":
                if value not in FIX_TARGETS:
                    self._tell(f"{where} must be one of {', '.join(map(repr, FIX_TARGETS))}")
                    continue
                out[name] = value
        return out

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

    # ---- documents

    def open_documents(self) -> list[str]:
        """The URIs linted: each open notebook, and each open document that is no cell."""
        cells = {cell.document for nb in self.workspace.notebook_documents.values() for cell in nb.cells}
        return list(self.workspace.notebook_documents) + [u for u in self.workspace.text_documents if u not in cells]

    def analysis(self, uri: str) -> Analysis | None:
        """The analysis of the open document (a notebook for any of its cells), computed once
        per version; None for anything else (a file on disk is never read)."""
        notebook = self.workspace.get_notebook_document(cell_uri=uri) or \
            self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is not None:
            cells = [self.workspace.text_documents.get(unquote(c.document)) for c in notebook.cells
                     if c.kind == types.NotebookCellKind.Code]
            cells = [c for c in cells if c is not None and c.language_id == "python"]
            target, key = unquote(notebook.uri), tuple((c.uri, c.version, c.source) for c in cells)
        else:
            document = self.workspace.text_documents.get(unquote(uri))
            if document is None:
                return None
            # Python buffers, and pages with code blocks (by suffix: their rows are a page's).
            if document.language_id != "python" and not document.path.endswith((".py", ".pyi") + DOC_SUFFIXES):
                return None
            target, key = unquote(document.uri), (document.version, document.source)
        key = (self._generation, *key)
        cached = self._analyses.get(target)
        if cached is not None and cached[0] == key:
            return cached[1]
        parser = self._parsers.setdefault(target, Reparser()).parse
        codec = self.workspace.position_codec
        self.lints += 1
        if notebook is not None:
            path = notebook_path(notebook.uri)
            analysis: Analysis = NotebookAnalysis(cells, path, self.settings_for(path), codec, parser)
        else:
            path = os.path.abspath(document.path)
            analysis = BufferAnalysis(document, path, self.settings_for(path), codec, parser)
        analysis.serial = self.lints
        self._analyses[target] = (key, analysis)
        return analysis

    def forget(self, uri: str) -> None:
        uri = unquote(uri)
        for table in (self._analyses, self._parsers, self._pending):
            table.pop(uri, None)

    # ---- publishing, once a burst of changes is over

    def schedule(self, uri: str) -> None:
        """Lint the document once the client has sent nothing more (push mode only)."""
        if self.pull:
            return
        self._pending[unquote(uri)] = None
        self.loop = self.loop or asyncio.get_event_loop()
        self.loop.call_soon(self.flush)

    def idle(self) -> None:
        """The reader has handled every message (called in the reader's thread)."""
        if self._pending and self.loop is not None:
            self.loop.call_soon_threadsafe(self.flush)

    def flush(self) -> None:
        if not self._pending or not self.configured.is_set() or self.input_waiting():
            return  # the next message, or the reader once idle, flushes again
        uris, self._pending = list(self._pending), {}
        for uri in uris:
            self.publish(uri)

    def publish(self, uri: str) -> None:
        try:
            analysis = self.analysis(uri)
        except Exception as e:  # one buffer convlint cannot handle must not stop the server
            message = f"convlint: {uri}: internal error: {type(e).__name__}: {e}"
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=message))
            return
        if analysis is None:
            return
        documents = analysis.documents()
        if isinstance(analysis, NotebookAnalysis):  # clear the cells gone from the program
            now = {d.uri for d in documents}
            for cell in self._published.pop(uri, set()) - now:
                self.clear(cell)
            self._published[uri] = now
        for document in documents:
            params = types.PublishDiagnosticsParams(
                uri=document.uri, version=document.version,
                diagnostics=[lsp for _, lsp in analysis.found_in(document.uri)],
            )
            self.text_document_publish_diagnostics(params)

    def clear(self, uri: str) -> None:
        if not self.pull:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def notebook_path(uri: str) -> str:
    """Where a notebook is, for its settings; an .ipynb name also for one never saved
    (`untitled:`), so that its fixes place imports as in a notebook file."""
    path = os.path.abspath(to_fs_path(uri) or unquote(uri).split(":", 1)[-1] or "notebook")
    return path if path.endswith(".ipynb") else path + ".ipynb"


def build_server() -> ConvlintServer:
    server = ConvlintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: ConvlintServer, params: types.InitializeParams) -> None:
        ls.pull = get_capability(params.capabilities, "text_document.diagnostic", None) is not None
        ls.overrides = ls._client_overrides(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls: ConvlintServer, params: types.InitializedParams) -> None:
        ls.loop = asyncio.get_event_loop()
        capabilities = ls.client_capabilities
        if get_capability(capabilities, "workspace.did_change_watched_files.dynamic_registration", False):
            watchers = [types.FileSystemWatcher(glob_pattern=f"**/{name}") for name in CONFIG_FILES]
            registration = types.Registration(
                id="convlint-configuration-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
            )
            ls.client_register_capability(types.RegistrationParams(registrations=[registration]))
        if get_capability(capabilities, "workspace.configuration", False):
            request_configuration(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: ConvlintServer, params: types.DidChangeConfigurationParams) -> None:
        if get_capability(ls.client_capabilities, "workspace.configuration", False):
            request_configuration(ls)
        elif isinstance(params.settings, dict):
            ls.use_client_settings(params.settings.get(SETTINGS_SECTION, params.settings))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: ConvlintServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(is_config_file(change.uri) for change in params.changes or ()):
            ls.settings_changed()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ConvlintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ConvlintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ConvlintServer, params: types.DidSaveTextDocumentParams) -> None:
        if is_config_file(params.text_document.uri):  # for clients that do not watch files
            ls.settings_changed()
        else:
            ls.files_changed()

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ConvlintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)
        ls.clear(params.text_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: ConvlintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: ConvlintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        structure = params.change.cells.structure if params.change.cells else None
        for cell in (structure.did_close or ()) if structure else ():
            ls.clear(cell.uri)
        ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: ConvlintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.files_changed()

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(ls: ConvlintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        ls.forget(params.notebook_document.uri)
        ls._published.pop(unquote(params.notebook_document.uri), None)
        for cell in params.cell_text_documents:
            ls.clear(cell.uri)

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(identifier=SOURCE, inter_file_dependencies=True, workspace_diagnostics=False),
    )
    async def diagnostic(ls: ConvlintServer, params: types.DocumentDiagnosticParams):
        await ls.configured.wait()  # the first pull already has the client's settings
        uri = params.text_document.uri
        analysis = ls.analysis(uri)
        if analysis is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        result_id = str(analysis.serial)  # a new analysis for each version and settings
        if params.previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        items = [lsp for _, lsp in analysis.found_in(uri)]
        return types.RelatedFullDocumentDiagnosticReport(items=items, result_id=result_id)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: ConvlintServer, params: types.HoverParams) -> types.Hover | None:
        analysis = ls.analysis(params.text_document.uri)
        if analysis is None:
            return None
        at = params.position
        hits = [lsp for _, lsp in analysis.found_in(params.text_document.uri) if contains(lsp.range, at)]
        codes = list(dict.fromkeys(str(d.code) for d in hits if d.code in RULE_DOCS))
        if not codes:
            return None
        text = "\n---\n\n".join(RULE_DOCS[code] for code in codes)
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=hits[0].range)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL]),
    )
    def code_action(ls: ConvlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = unquote(params.text_document.uri)
        analysis = ls.analysis(uri)
        if analysis is None:
            return []
        actions = []
        if wanted(params.context.only, QUICK_FIX):
            actions.extend(quick_fixes(ls, analysis, uri, params.range))
        if wanted(params.context.only, FIX_ALL):
            actions.extend(fix_all(ls, analysis))
        return actions

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: ConvlintServer, params: None) -> None:
        ls.shut_down = True

    return server


def request_configuration(ls: ConvlintServer) -> None:
    """Ask the client for its `convlint` settings; lints wait for the answer (a while)."""
    ls.configured.clear()
    scope = ls.workspace.root_uri
    params = types.ConfigurationParams(items=[types.ConfigurationItem(section=SETTINGS_SECTION, scope_uri=scope)])

    def answered(future) -> None:
        if ls.configured.is_set():
            return  # given up on
        ls.configured.set()
        try:
            result = future.result()
        except Exception as e:  # the client could not answer: keep what there is
            _log.warning("workspace/configuration failed: %s", e)
            result = None
        first = result[0] if isinstance(result, (list, tuple)) and result else None
        if isinstance(first, dict):  # the client's settings win over initializationOptions
            ls.use_client_settings(first)
        ls.flush()

    future = ls.workspace_configuration(params)
    future.add_done_callback(lambda f: ls.loop.call_soon_threadsafe(answered, f) if ls.loop else answered(f))
    if ls.loop is not None:
        ls.loop.call_later(CONFIGURATION_WAIT, lambda: ls.configured.is_set() or _give_up(ls))


def _give_up(ls: ConvlintServer) -> None:
    ls.configured.set()
    ls.flush()


def is_config_file(uri: str) -> bool:
    return unquote(uri).rstrip("/").rsplit("/", 1)[-1] in CONFIG_FILES


def contains(r: types.Range, at: types.Position) -> bool:
    return (r.start.line, r.start.character) <= (at.line, at.character) <= (r.end.line, r.end.character)


def overlaps(r: types.Range, at: types.Range) -> bool:
    start, end = (r.start.line, r.start.character), (r.end.line, r.end.character)
    return start <= (at.end.line, at.end.character) and (at.start.line, at.start.character) <= end


def serve() -> None:
    """Serve on standard input and output until `exit` or the end of the input. Exit 0 after
    a `shutdown` request, else 1 (as the protocol says)."""
    server = build_server()
    reader = FrameReader(sys.stdin.buffer, on_idle=server.idle)
    server.input_waiting = reader.waiting
    server.start_io(stdin=reader)
    sys.exit(0 if server.shut_down else 1)


def wanted(only: Sequence[str] | None, kind: str) -> bool:
    """Whether a code action request's `only` filter admits `kind` (kinds are hierarchical)."""
    return only is None or any(kind == k or kind.startswith(f"{k}.") for k in only)


def quick_fixes(ls: ConvlintServer, analysis: Analysis, uri: str, at: types.Range) -> list[types.CodeAction]:
    """For each finding in the range: its fix (an unsafe one too, not preferred), and a
    `# noqa` for its line."""
    hits = [(d, lsp) for d, lsp in analysis.found_in(uri) if overlaps(lsp.range, at)]
    resolved, _ = materialize_fixes([d for d, _ in hits if d.fix is not None], analysis.source)
    fixed = {(d.code, d.start): d for d in resolved}
    actions = []
    for d, lsp in hits:
        d = fixed.get((d.code, d.start), d)
        edits = analysis.text_edits(d.fix.edits) if d.fix is not None and d.fix.edits else None
        if edits:  # None: the fix could not be computed, or would span cells
            safe = d.fix.applicability is Applicability.SAFE
            actions.append(types.CodeAction(
                title=f"{d.fix.message} ({d.code}{'' if safe else ', unsafe'})", kind=types.CodeActionKind.QuickFix,
                diagnostics=[lsp], is_preferred=safe, edit=workspace_edit(ls, analysis, edits),
            ))
    for d, lsp in hits:
        if d.code in NOT_SUPPRESSIBLE:
            continue
        edits = analysis.text_edits(add_noqa_edits(analysis.source, [d]))
        if edits:
            actions.append(types.CodeAction(
                title=f"Disable {d.code} for this line", kind=types.CodeActionKind.QuickFix,
                diagnostics=[lsp], edit=workspace_edit(ls, analysis, edits),
            ))
    return actions


def fix_all(ls: ConvlintServer, analysis: Analysis) -> list[types.CodeAction]:
    """Every safe fix at once, as `convlint fix --write` applies them (fix-on-save)."""
    edits, fixed = analysis.fix_all_edits()
    if not edits:
        return []
    return [types.CodeAction(
        title=f"Fix all convlint findings with a safe fix ({fixed})", kind=FIX_ALL,
        edit=workspace_edit(ls, analysis, edits),
    )]


def workspace_edit(ls: ConvlintServer, analysis: Analysis, edits: Edits) -> types.WorkspaceEdit:
    # A versioned edit lets the client refuse it once the document has moved on.
    if get_capability(ls.client_capabilities, "workspace.workspace_edit.document_changes", False):
        versions = {d.uri: d.version for d in analysis.documents()}
        changes = [
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=versions.get(uri)),
                edits=list(text_edits),
            )
            for uri, text_edits in edits.items()
        ]
        return types.WorkspaceEdit(document_changes=changes)
    return types.WorkspaceEdit(changes=dict(edits))


__all__ = ["ConvlintServer", "build_server", "serve"]
