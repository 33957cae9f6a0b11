"""`convlint server` for a client that pulls diagnostics (`textDocument/diagnostic`) and sends
settings (`initializationOptions`, then `workspace/configuration` section `convlint`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp", reason="pytest-lsp is in the test extra")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from tests.test_server import FINDINGS, RANK_3D, identifier  # noqa: E402

in_session = pytest.mark.asyncio(loop_scope="module")
# What the client's settings hold when the session starts: they win over initializationOptions.
CLIENT_SETTINGS = {"ignore": ["CL102"]}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pull")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "convlint", "server"]),
)
async def client(lsp_client: LanguageClient, workspace: Path):
    lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)(lambda params: None)
    lsp_client.set_configuration(dict(CLIENT_SETTINGS), section="convlint")
    capabilities = client_capabilities("visual-studio-code")
    capabilities.text_document.diagnostic = types.DiagnosticClientCapabilities()
    capabilities.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    params = types.InitializeParams(
        capabilities=capabilities,
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="pull")],
        initialization_options={"select": ["CL102"], "fixTarget": "convlint"},
    )
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def open_document(client: LanguageClient, path: Path, text: str) -> None:
    item = types.TextDocumentItem(uri=path.as_uri(), language_id="python", version=1, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))


async def until(condition) -> None:
    """Wait for the server to make `condition()` true (it fails after 20 s)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the server did not answer")


async def pull(client: LanguageClient, path: Path, previous: str | None = None):
    params = types.DocumentDiagnosticParams(text_document=identifier(path), previous_result_id=previous)
    return await client.text_document_diagnostic_async(params)


@in_session
async def test_pulled_diagnostics_with_the_client_settings(client: LanguageClient, workspace: Path):
    path = workspace / "both.py"
    open_document(client, path, FINDINGS + RANK_3D.split("\n\n", 1)[1].replace("net", "net3d"))
    report = await pull(client, path)
    # initializationOptions select CL102 only; the client's settings then ignore CL102
    # (they replace initializationOptions): the defaults select CL101.
    assert report.kind == "full" and [d.code for d in report.items] == ["CL101", "CL101"]
    assert all(d.code_description.href.endswith("#cl101-module-to-channels-last") for d in report.items)
    # The same version: unchanged.
    assert (await pull(client, path, report.result_id)).kind == "unchanged"
    # Nothing was pushed: a client that pulls would show every finding twice.
    assert path.as_uri() not in client.diagnostics


@in_session
async def test_changed_client_settings_refresh_the_pulled_diagnostics(client: LanguageClient, workspace: Path):
    path = workspace / "settings.py"
    open_document(client, path, RANK_3D)
    assert list((await pull(client, path)).items) == []  # CL102 is ignored
    refreshes = client.diagnostic_refresh_count
    client.set_configuration({"select": ["CL1"]}, section="convlint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    # The server asks for the settings, then asks the client to pull again.
    await until(lambda: client.diagnostic_refresh_count > refreshes)
    assert [d.code for d in (await pull(client, path)).items] == ["CL102"]


@in_session
async def test_a_wrong_client_setting_is_shown_and_left_out(client: LanguageClient, workspace: Path):
    path = workspace / "wrong.py"
    open_document(client, path, RANK_3D)
    refreshes = client.diagnostic_refresh_count
    client.set_configuration({"select": ["CL1"], "ignore": ["XX9"], "fixTarget": "jax"}, section="convlint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await until(lambda: client.diagnostic_refresh_count > refreshes)
    errors = [m.message for m in client.messages if "client setting" in m.message]
    assert any("`ignore`: unknown rule selector `XX9`" in e for e in errors)
    assert any("`fixTarget` must be one of 'torch', 'convlint'" in e for e in errors)
    assert [d.code for d in (await pull(client, path)).items] == ["CL102"]  # select still applies
