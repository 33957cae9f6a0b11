"""`convlint server` on documentation pages: a .md buffer's findings at page lines, and its
fixes, as `convlint check`/`fix` give them (the session of test_server.py's fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytest_lsp", reason="pytest-lsp is in the test extra")
from lsprotocol import types  # noqa: E402

from tests.fixture_cases import run_cli  # noqa: E402
from tests.test_docs import CONVERT, PAGE  # noqa: E402
from tests.test_server import (  # noqa: E402, F401 - the fixtures are used by name
    apply_edit, client, code_actions, in_session, published, workspace,
)


async def open_page(client, path: Path, text: str) -> list[types.Diagnostic]:  # noqa: F811
    item = types.TextDocumentItem(uri=path.as_uri(), language_id="markdown", version=1, text=text)
    return await published(client, path, lambda: client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item)))


@in_session
async def test_a_markdown_buffer_is_linted_and_fixed_at_page_lines(client, workspace: Path, tmp_path: Path):  # noqa: F811
    path = workspace / "guide.md"
    (diagnostic,) = await open_page(client, path, PAGE)
    row = PAGE.splitlines().index(f"  {CONVERT}")
    assert (diagnostic.code, diagnostic.range.start.line, diagnostic.range.start.character) == ("CL101", row, 8)
    (quick,) = [a for a in await code_actions(client, path, diagnostic.range, None)
                if a.kind == types.CodeActionKind.QuickFix and not a.title.startswith("Disable")]
    (tmp_path / "guide.md").write_text(PAGE)
    run_cli(["fix", "--write", "--isolated", "guide.md"], tmp_path)
    expected = (tmp_path / "guide.md").read_text()
    assert apply_edit(PAGE, path.as_uri(), quick.edit) == expected
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    (fix_all,) = await code_actions(client, path, whole, [types.CodeActionKind.SourceFixAll])
    assert apply_edit(PAGE, path.as_uri(), fix_all.edit) == expected
