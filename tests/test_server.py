"""`convlint server`: a real LSP client session over stdio (pytest-lsp) against `python -m convlint server`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp", reason="pytest-lsp is in the test extra")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from tests.fixture_cases import ROOT, run_cli  # noqa: E402

# The tests share the module's server session, so they run in its event loop.
in_session = pytest.mark.asyncio(loop_scope="module")

# An astral character (two UTF-16 code units) and a two-byte one before the call, on its line.
FINDINGS = '''\
import torch
from torch import nn

net = nn.Conv2d(3, 3, 3)
label = "\U0001d538\u00e9"; net.to(memory_format=torch.channels_last)
model = load()
model.to(memory_format=torch.channels_last)
'''
CLEAN = "import torch\n\nx = torch.ones(1).to(memory_format=torch.channels_last)\n"
RANK_3D = "import torch\nfrom torch import nn\n\nnet = nn.Conv3d(3, 3, 3)\nnet.to(memory_format=torch.channels_last_3d)\n"


SERVER: dict = {}  # what the server said it supports, at initialization
REGISTERED: list[types.Registration] = []  # what the server registered (client/registerCapability)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workspace")
    (root / "pyproject.toml").write_text('[tool.convlint]\nignore = ["CL102"]\n')
    return root


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "convlint", "server"]),
)
async def client(lsp_client: LanguageClient, workspace: Path):
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        REGISTERED.extend(params.registrations)

    capabilities = client_capabilities("visual-studio-code")
    # A VS Code of today syncs notebooks (1.65's capabilities predate LSP 3.17).
    capabilities.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities())
    params = types.InitializeParams(
        capabilities=capabilities,
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="workspace")],
    )
    result = await lsp_client.initialize_session(params)
    sync = result.capabilities.text_document_sync
    SERVER["sync"] = sync.change if isinstance(sync, types.TextDocumentSyncOptions) else sync
    SERVER["capabilities"] = result.capabilities
    yield
    await lsp_client.shutdown_session()


# --------------------------------------------------------------------------- helpers


def lsp_lines(text: str) -> list[str]:
    """LSP's lines: only \\r\\n, \\r and \\n end one (not form feeds, not U+2028)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def offset_of(text: str, position: types.Position) -> int:
    lines = lsp_lines(text)
    if position.line >= len(lines):
        return len(text)
    start = sum(len(line) for line in lines[: position.line])
    line, units, index = lines[position.line], 0, 0
    while units < position.character:
        units += utf16_units(line[index])
        index += 1
    return start + index


def apply_edit(text: str, uri: str, edit: types.WorkspaceEdit) -> str:
    """Apply a WorkspaceEdit to `text` as an editor would, from the last edit back."""
    (change,) = edit.document_changes  # the client said it supports documentChanges
    assert change.text_document.uri == uri
    for e in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset_of(text, e.range.start)] + e.new_text + text[offset_of(text, e.range.end) :]
    return text


def cli_fixed(text: str, tmp_path: Path) -> str:
    """What `convlint fix --write` makes of the same text (isolated: the defaults)."""
    (tmp_path / "cli.py").write_text(text, encoding="utf-8")
    run_cli(["fix", "--write", "--isolated", "cli.py"], tmp_path)
    return (tmp_path / "cli.py").read_text(encoding="utf-8")


async def published(client: LanguageClient, path: Path, send: Callable[[], None]) -> list[types.Diagnostic]:
    """The diagnostics the server publishes for `path` after `send()`.

    The client's own handler records every publication by URI; waiting on the notification
    instead would miss one that arrives in the same read as another document's.
    """
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    send()
    for _ in range(2000):
        if uri in client.diagnostics:
            return list(client.diagnostics[uri])
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no diagnostics published for {uri}")


def identifier(path: Path | str) -> types.TextDocumentIdentifier:
    """A document by its path, or by a URI (a notebook cell's)."""
    return types.TextDocumentIdentifier(uri=path if isinstance(path, str) else path.as_uri())


async def open_document(client: LanguageClient, path: Path, text: str) -> list[types.Diagnostic]:
    item = types.TextDocumentItem(uri=path.as_uri(), language_id="python", version=1, text=text)
    return await published(client, path, lambda: client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item)))


async def change_document(client: LanguageClient, path: Path, version: int, text: str) -> list[types.Diagnostic]:
    return await send_change(client, path, version, types.TextDocumentContentChangeWholeDocument(text=text))


async def send_change(client: LanguageClient, path: Path, version: int, change) -> list[types.Diagnostic]:
    params = types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=path.as_uri(), version=version), content_changes=[change]
    )
    return await published(client, path, lambda: client.text_document_did_change(params))


async def save_document(client: LanguageClient, path: Path, published_for: Path) -> list[types.Diagnostic]:
    return await published(client, published_for, lambda: saved(client, path))


async def edit_document(client: LanguageClient, path: Path, version: int, old: str, new: str) -> list[types.Diagnostic]:
    """Send the change from `old` to `new` as a client following the server's sync kind does:
    a ranged edit (LSP lines and UTF-16) where it syncs incrementally."""
    if SERVER["sync"] != types.TextDocumentSyncKind.Incremental:
        return await change_document(client, path, version, new)
    head = len(os.path.commonprefix([old, new]))
    tail = len(os.path.commonprefix([old[head:][::-1], new[head:][::-1]]))
    lines = lsp_lines(old[:head])
    start = types.Position(line=len(lines) - 1, character=utf16_units(lines[-1]))
    lines = lsp_lines(old[: len(old) - tail])
    end = types.Position(line=len(lines) - 1, character=utf16_units(lines[-1]))
    change = types.TextDocumentContentChangePartial(range=types.Range(start=start, end=end), text=new[head : len(new) - tail])
    return await send_change(client, path, version, change)


async def code_actions(client, path: Path | str, at: types.Range, only: list[str] | None) -> list[types.CodeAction]:
    params = types.CodeActionParams(
        text_document=identifier(path),
        range=at,
        context=types.CodeActionContext(diagnostics=[], only=only),
    )
    return list(await client.text_document_code_action_async(params) or [])


def is_noqa_action(action: types.CodeAction) -> bool:
    return action.title.startswith("Disable ")


def expected_range(text: str, row: int, needle: str, end_needle: str) -> types.Range:
    """The LSP range of the call that starts at `needle` on 0-based line `row`."""
    line = lsp_lines(text)[row]
    start = line.index(needle)
    end = line.index(end_needle) + len(end_needle)
    return types.Range(
        start=types.Position(line=row, character=utf16_units(line[:start])),
        end=types.Position(line=row, character=utf16_units(line[:end])),
    )


# --------------------------------------------------------------------------- tests


@in_session
async def test_diagnostics_on_open_in_utf16_with_workspace_settings(client: LanguageClient, workspace: Path):
    text = FINDINGS + RANK_3D.split("\n\n", 1)[1].replace("net", "net3d")
    diagnostics = await open_document(client, workspace / "open.py", text)
    # CL102 is ignored by the workspace's pyproject.toml.
    assert [(d.code, d.range.start.line) for d in diagnostics] == [("CL101", 4), ("CL101", 6)]
    first = diagnostics[0]
    assert first.range == expected_range(text, 4, "net.to(", "channels_last)")
    assert first.source == "convlint" and first.severity == types.DiagnosticSeverity.Warning
    # The same line and message as `convlint check` prints.
    (workspace / "open.py").write_text(text, encoding="utf-8")
    check = run_cli(["check", "open.py"], workspace).stdout
    column = lsp_lines(text)[4].index("net.to(") + 1  # convlint counts characters
    assert f"open.py:5:{column}: CL101" in check
    assert first.message in check


@in_session
async def test_settings_come_from_the_nearest_pyproject(client: LanguageClient, tmp_path: Path):
    # Outside the workspace's pyproject, CL102 is not ignored.
    diagnostics = await open_document(client, tmp_path / "rank3d.py", RANK_3D)
    assert [(d.code, d.range.start.line) for d in diagnostics] == [("CL102", 4)]


def watched_file_changed(client: LanguageClient, changed: Path) -> None:
    event = types.FileEvent(uri=changed.as_uri(), type=types.FileChangeType.Changed)
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[event]))


def saved(client: LanguageClient, changed: Path) -> None:
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=identifier(changed)))


@in_session
@pytest.mark.parametrize("notify", [watched_file_changed, saved], ids=["watched", "saved"])
async def test_a_changed_pyproject_relints_open_files(client: LanguageClient, tmp_path: Path, notify):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.convlint]\nignore = ["CL102"]\n')
    path = tmp_path / "rank3d.py"
    assert await open_document(client, path, RANK_3D) == []
    pyproject.write_text("[tool.convlint]\nignore = []\n")
    assert [d.code for d in await published(client, path, lambda: notify(client, pyproject))] == ["CL102"]
    # A broken one: the defaults, and the error shown once.
    pyproject.write_text("[tool.convlint]\nselect = [\n")
    assert [d.code for d in await published(client, path, lambda: notify(client, pyproject))] == ["CL102"]
    await change_document(client, path, 2, RANK_3D + "\n")
    errors = [m.message for m in client.messages if str(pyproject) in m.message]
    assert len(errors) == 1 and "invalid TOML" in errors[0]
    # A change of another file is no reason to read the settings again.
    pyproject.write_text('[tool.convlint]\nignore = ["CL102"]\n')
    notify(client, tmp_path / "other.py")
    assert [d.code for d in await change_document(client, path, 3, RANK_3D)] == ["CL102"]


@in_session
async def test_saving_a_file_relints_the_documents_that_import_it(client: LanguageClient, tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("")
    train, models = tmp_path / "train.py", tmp_path / "models.py"
    text = "import torch\n\nfrom models import build\n\nnet = build()\nnet.to(memory_format=torch.channels_last)\n"
    (before,) = await open_document(client, train, text)
    assert "likely a module" in before.message  # no models.py: a module by its name only
    models.write_text("from torch import nn\n\n\ndef build():\n    return nn.Conv2d(3, 3, 3)\n")
    (after,) = await published(client, train, lambda: saved(client, models))  # the editor saved it
    assert "on a module" in after.message


@in_session
async def test_lints_the_buffer_not_the_file_on_change_save_and_close(client: LanguageClient, workspace: Path):
    path = workspace / "buffer.py"
    path.write_text(CLEAN)  # on disk: nothing to report
    assert [d.code for d in await open_document(client, path, FINDINGS)] == ["CL101", "CL101"]
    assert await change_document(client, path, 2, CLEAN) == []
    assert [d.range.start.line for d in await change_document(client, path, 3, "\n" + FINDINGS)] == [5, 7]
    assert [d.range.start.line for d in await save_document(client, path, path)] == [5, 7]
    # While a buffer does not parse: CL000, as an error, as `convlint check` reports it.
    broken = await change_document(client, path, 4, "import torch\nmodel.to(memory_format=torch.channels_last\n")
    assert [(d.code, d.severity) for d in broken] == [("CL000", types.DiagnosticSeverity.Error)]
    close = types.DidCloseTextDocumentParams(text_document=identifier(path))
    assert await published(client, path, lambda: client.text_document_did_close(close)) == []


@in_session
async def test_line_numbers_ignore_form_feeds_and_line_separators(client: LanguageClient, workspace: Path):
    # str.splitlines() breaks at \x0c and U+2028; Python and LSP do not.
    text = "# page\x0cbreak\n# a\u2028b\n" + FINDINGS
    before = text.replace("net.to(", "net.cpu(")
    path = workspace / "separators.py"
    assert [d.range.start.line for d in await open_document(client, path, before)] == [8]
    diagnostics = await edit_document(client, path, 2, before, text)
    assert [d.range.start.line for d in diagnostics] == [6, 8]
    assert diagnostics[0].range == expected_range(text, 6, "net.to(", "channels_last)")


@in_session
async def test_quick_fix_matches_the_cli_fix(client: LanguageClient, workspace: Path, tmp_path: Path):
    path = workspace / "quickfix.py"
    diagnostics = await open_document(client, path, FINDINGS)
    actions = await code_actions(client, path, diagnostics[0].range, None)
    quick = [a for a in actions if a.kind == types.CodeActionKind.QuickFix and not is_noqa_action(a)]
    assert len(quick) == 1  # only the finding in the range
    assert quick[0].is_preferred and quick[0].diagnostics[0].code == "CL101"
    fixed = apply_edit(FINDINGS, path.as_uri(), quick[0].edit)
    # The safe fix is the CLI's; the other call (a module by its name only) is left as is.
    assert fixed == cli_fixed(FINDINGS, tmp_path)
    assert fixed != FINDINGS and "model.to(memory_format=torch.channels_last)" in fixed


@in_session
async def test_unsafe_fix_is_offered_but_not_preferred(client: LanguageClient, workspace: Path):
    path = workspace / "unsafe.py"
    diagnostics = await open_document(client, path, FINDINGS)
    actions = await code_actions(client, path, diagnostics[1].range, [types.CodeActionKind.QuickFix])
    (action,) = [a for a in actions if not is_noqa_action(a)]
    assert not action.is_preferred and "unsafe" in action.title
    fixed = apply_edit(FINDINGS, path.as_uri(), action.edit)
    assert "model.to(" not in fixed and "net.to(" in fixed


@in_session
async def test_fix_all_source_action(client: LanguageClient, workspace: Path, tmp_path: Path):
    text = FINDINGS + "net2 = nn.Conv2d(3, 3, 1)\nnet2 = net2.to(memory_format=torch.channels_last)\n"
    path = workspace / "fixall.py"
    await open_document(client, path, text)
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    # What an editor asks on save: only source.fixAll.
    (action,) = await code_actions(client, path, whole, [types.CodeActionKind.SourceFixAll])
    assert action.kind == "source.fixAll.convlint"
    fixed = apply_edit(text, path.as_uri(), action.edit)
    assert fixed == cli_fixed(text, tmp_path)
    assert fixed.count("convert_conv2d_weight_memory_format") == 2  # the two safe fixes
    assert await code_actions(client, path, whole, [types.CodeActionKind.QuickFix]) == []
    # A clean buffer offers nothing.
    await change_document(client, path, 2, fixed.replace("model.to(", "model.cpu("))
    assert await code_actions(client, path, whole, None) == []


@in_session
async def test_a_buffer_with_a_bom_is_linted_as_check_lints_a_bom_file(client: LanguageClient, workspace: Path,
                                                                     tmp_path: Path):
    text = "\ufeffimport torch; net = torch.nn.Conv2d(1, 1, 1); net.to(memory_format=torch.channels_last)\n" + FINDINGS
    path = workspace / "bom.py"
    diagnostics = await open_document(client, path, text)
    assert [(d.code, d.range.start.line) for d in diagnostics] == [("CL101", 0), ("CL101", 5), ("CL101", 7)]
    # Line 0 counts the BOM, as the client does.
    assert diagnostics[0].range == expected_range(text, 0, "net.to(", "channels_last)")
    (quick,) = [a for a in await code_actions(client, path, diagnostics[0].range, [types.CodeActionKind.QuickFix])
                if not is_noqa_action(a)]
    assert apply_edit(text, path.as_uri(), quick.edit).startswith(
        "\ufeffimport torch; net = torch.nn.Conv2d(1, 1, 1); "
        "torch.nn.utils.convert_conv2d_weight_memory_format(\n    net, torch.channels_last\n)\n")
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    (action,) = await code_actions(client, path, whole, [types.CodeActionKind.SourceFixAll])
    assert apply_edit(text, path.as_uri(), action.edit) == cli_fixed(text, tmp_path)  # the CLI keeps the BOM


def test_server_without_pygls_exits_2(monkeypatch, tmp_path: Path):
    monkeypatch.setitem(sys.modules, "pygls", None)  # makes `import pygls` fail
    result = run_cli(["server"], tmp_path)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: `convlint server` needs pygls: pip install 'convlint[lsp]'"


# --------------------------------------------------------------------------- editor features


@in_session
async def test_capabilities_and_the_configuration_files_watched(client: LanguageClient):
    capabilities = SERVER["capabilities"]
    (selector,) = capabilities.notebook_document_sync.notebook_selector
    assert selector.notebook == "jupyter-notebook" and [c.language for c in selector.cells] == ["python"]
    assert capabilities.hover_provider
    assert capabilities.diagnostic_provider.identifier == "convlint"
    (registration,) = [r for r in REGISTERED if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    assert [w["globPattern"] for w in registration.register_options["watchers"]] == [
        "**/pyproject.toml", "**/convlint.toml", "**/.convlint.toml"]


@in_session
async def test_rule_links_and_hover_show_the_rule_docs(client: LanguageClient, workspace: Path):
    path = workspace / "hover.py"
    (first, second) = await open_document(client, path, FINDINGS)
    (workspace / "hover.py").write_text(FINDINGS, encoding="utf-8")
    report = json.loads(run_cli(["check", "--output-format", "json", "hover.py"], workspace).stdout)
    assert first.code_description.href == report[0]["url"] and first.code_description.href.startswith("https://")
    at = types.Position(line=first.range.start.line, character=first.range.start.character + 2)
    hover = await client.text_document_hover_async(types.HoverParams(text_document=identifier(path), position=at))
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert hover.contents.value == run_cli(["rule", "CL101"], workspace).stdout
    assert hover.range == first.range
    nowhere = types.HoverParams(text_document=identifier(path), position=types.Position(line=0, character=0))
    assert await client.text_document_hover_async(nowhere) is None


@in_session
async def test_disable_for_this_line_adds_or_merges_a_noqa(client: LanguageClient, workspace: Path):
    path = workspace / "noqa.py"
    text = FINDINGS.replace("model.to(memory_format=torch.channels_last)",
                            "model.to(memory_format=torch.channels_last)  # noqa: CL102 - kept")
    diagnostics = await open_document(client, path, text)
    for diagnostic, expected in zip(diagnostics, [
        'label = "\U0001d538\u00e9"; net.to(memory_format=torch.channels_last)  # noqa: CL101\n',
        "model.to(memory_format=torch.channels_last)  # noqa: CL102, CL101 - kept\n",
    ]):
        actions = await code_actions(client, path, diagnostic.range, [types.CodeActionKind.QuickFix])
        (action,) = [a for a in actions if is_noqa_action(a)]
        assert action.title == "Disable CL101 for this line" and not action.is_preferred
        fixed = apply_edit(text, path.as_uri(), action.edit)
        assert fixed.splitlines(keepends=True)[diagnostic.range.start.line] == expected
        assert len(await change_document(client, path, 2, fixed)) == 1  # that finding is gone
        await change_document(client, path, 3, text)
    # A syntax error cannot be silenced.
    (broken,) = await change_document(client, path, 4, "model.to(memory_format=torch.channels_last\n")
    assert not [a for a in await code_actions(client, path, broken.range, None) if is_noqa_action(a)]


NOTEBOOK = [  # (kind, text) of each cell; a cell without a final newline, as editors keep them
    ("code", "import torch\nfrom torch import nn\n"),
    ("markdown", "# The model"),
    ("code", "%matplotlib inline\nnet = nn.Conv2d(3, 3, 3)\n"),
    ("code", "net.to(memory_format=torch.channels_last)"),
]


def cell_uris(path: Path, cells: list) -> list[str]:
    return [f"vscode-notebook-cell:{path}#W{i}sZmlsZQ%3D%3D" for i in range(len(cells))]


async def published_cells(client: LanguageClient, uris: list[str], send: Callable[[], None]) -> list[list]:
    """What the server publishes for each of `uris` after `send()`."""
    for uri in uris:
        client.diagnostics.pop(uri, None)
    send()
    for _ in range(2000):
        if all(uri in client.diagnostics for uri in uris):
            return [list(client.diagnostics[uri]) for uri in uris]
        await asyncio.sleep(0.01)
    raise TimeoutError(f"no diagnostics published for {uris}")


async def open_notebook(client: LanguageClient, path: Path, cells: list) -> list[list]:
    uris = cell_uris(path, cells)
    kind = {"code": types.NotebookCellKind.Code, "markdown": types.NotebookCellKind.Markup}
    notebook = types.NotebookDocument(uri=path.as_uri(), notebook_type="jupyter-notebook", version=1, cells=[
        types.NotebookCell(kind=kind[k], document=uri) for uri, (k, _) in zip(uris, cells)])
    items = [types.TextDocumentItem(uri=uri, language_id="python" if k == "code" else "markdown", version=1, text=t)
             for uri, (k, t) in zip(uris, cells)]
    params = types.DidOpenNotebookDocumentParams(notebook_document=notebook, cell_text_documents=items)
    code = [uri for uri, (k, _) in zip(uris, cells) if k == "code"]
    found = await published_cells(client, code, lambda: client.notebook_document_did_open(params))
    return [found[code.index(uri)] if uri in code else None for uri in uris]


def write_notebook(path: Path, cells: list) -> None:
    nb = {"cells": [{"cell_type": k, "metadata": {}, "source": t, **({"outputs": [], "execution_count": None}
                                                                   if k == "code" else {})} for k, t in cells],
          "metadata": {"kernelspec": {"language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")


def notebook_cells(path: Path) -> list[str]:
    return [cell["source"] for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def apply_cell_edits(texts: list[str], uris: list[str], edit: types.WorkspaceEdit) -> list[str]:
    texts = list(texts)
    for change in edit.document_changes:
        i = uris.index(change.text_document.uri)
        single = types.WorkspaceEdit(document_changes=[change])
        texts[i] = apply_edit(texts[i], change.text_document.uri, single)
    return texts


@in_session
async def test_a_notebook_is_one_program_with_findings_in_its_cells(client: LanguageClient, workspace: Path):
    path = workspace / "analysis.ipynb"
    found = await open_notebook(client, path, NOTEBOOK)
    assert [[d.code for d in f] if f is not None else None for f in found] == [[], None, [], ["CL101"]]
    (finding,) = found[3]
    assert finding.range == expected_range(NOTEBOOK[3][1] + "\n", 0, "net.to(", "channels_last)")
    # What `convlint check` says of the same notebook file: cell 4 (counting every cell).
    write_notebook(path, NOTEBOOK)
    check = run_cli(["check", "analysis.ipynb"], workspace).stdout
    assert f"analysis.ipynb:cell 4:1:1: CL101 [*] {finding.message}" in check
    # An edit of one cell is linted with the others: the call in cell 4 is on a tensor now.
    uris = cell_uris(path, NOTEBOOK)
    change = types.NotebookDocumentCellContentChanges(
        document=types.VersionedTextDocumentIdentifier(uri=uris[2], version=2),
        changes=[types.TextDocumentContentChangeWholeDocument(text="net = torch.ones(1, 3, 8, 8)\n")])
    params = types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(version=2, uri=path.as_uri()),
        change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[change])))
    (_, _, after) = await published_cells(client, [uris[0], uris[2], uris[3]],
                                          lambda: client.notebook_document_did_change(params))
    assert after == []  # `net` is a tensor now
    close = types.DidCloseNotebookDocumentParams(
        notebook_document=types.NotebookDocumentIdentifier(uri=path.as_uri()),
        cell_text_documents=[types.TextDocumentIdentifier(uri=u) for u in uris])
    assert await published_cells(client, [uris[3]], lambda: client.notebook_document_did_close(close)) == [[]]


@in_session
async def test_notebook_fixes_edit_the_cells_as_the_cli_fixes_the_file(client: LanguageClient, workspace: Path):
    project = workspace / "runtime-target"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.convlint]\nfix-target = "convlint"\n')
    path = project / "fix.ipynb"
    found = await open_notebook(client, path, NOTEBOOK)
    uris, texts = cell_uris(path, NOTEBOOK), [t for _, t in NOTEBOOK]
    write_notebook(path, NOTEBOOK)
    run_cli(["fix", "--write", "fix.ipynb"], project)
    expected = notebook_cells(path)
    assert expected[0] != texts[0] and expected[3] != texts[3]  # an import in the first cell
    # The quick fix: edits of two cells.
    actions = await code_actions(client, uris[3], found[3][0].range, [types.CodeActionKind.QuickFix])
    (fix,) = [a for a in actions if not is_noqa_action(a)]
    assert {c.text_document.uri for c in fix.edit.document_changes} == {uris[0], uris[3]}
    assert apply_cell_edits(texts, uris, fix.edit) == expected
    (noqa,) = [a for a in actions if is_noqa_action(a)]
    assert apply_cell_edits(texts, uris, noqa.edit)[3] == texts[3] + "  # noqa: CL101"
    # Fix all, on any cell.
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    (action,) = await code_actions(client, uris[0], whole, [types.CodeActionKind.SourceFixAll])
    assert apply_cell_edits(texts, uris, action.edit) == expected


def test_the_server_lints_without_torch_and_libcst(tmp_path: Path):
    # A session's analyses (a notebook's too) and their positions; LibCST only for a fix.
    program = f'''
import sys
from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec
from convlint.analysis.reparse import Reparser
from convlint.analysis.syntax import parse
from convlint.config import Settings
from convlint.server import build_server
from convlint.server_buffers import BufferAnalysis, NotebookAnalysis
build_server()
codec = PositionCodec(types.PositionEncodingKind.Utf16)
document = TextDocument("file:///x.py", {FINDINGS!r}, version=1)
found = BufferAnalysis(document, "/x.py", Settings(), codec, parse).placed()
cells = [TextDocument(f"cell:{{i}}", t, version=1) for i, (k, t) in enumerate({NOTEBOOK!r}) if k == "code"]
NotebookAnalysis(cells, "/nb.ipynb", Settings(), codec, Reparser().parse).placed()
print(sum(map(len, found.values())), ",".join(m for m in ("torch", "libcst") if m in sys.modules))
'''
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert done.stdout.split() == ["2"], done.stderr
