"""`convlint server` lints a burst of changes once, on the latest version.

The burst is written to the server's input in one write of less than PIPE_BUF bytes, which
a pipe delivers whole: when the server handles the first change, the others are already
waiting, so the lint waits too. No timing is involved: a server that lints each change
publishes each version, and the test counts the publications.
"""

from __future__ import annotations

import select
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="pygls is in the test extra")

from tests.test_server_input import ANSWER_WITHIN, frame, request, server  # noqa: E402, F401 - the fixture

PIPE_BUF = getattr(select, "PIPE_BUF", 512)
TEXT = "import torch\nfrom torch import nn\n\nnet = nn.Conv2d(3, 3, 3)\n{}net.to(memory_format=torch.channels_last)\n"


def notification(method: str, params: dict) -> dict:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def publications_until(server, uri: str, version: int) -> list[dict]:
    """The diagnostics published for `uri` up to the one of `version`."""
    found = []
    while True:
        message = server.answers.get(timeout=ANSWER_WITHIN)
        assert message is not None, "the server closed its output"
        if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
            found.append(message["params"])
            if message["params"].get("version") == version:
                return found


def change(uri: str, version: int, text: str) -> dict:
    return notification("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}],
    })


def test_a_burst_of_changes_is_linted_once_on_the_latest_version(server, tmp_path: Path):
    uri = (tmp_path / "burst.py").as_uri()
    server.send(frame(notification("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": TEXT.format("")}})))
    (opened,) = publications_until(server, uri, 1)
    assert [d["range"]["start"]["line"] for d in opened["diagnostics"]] == [4]
    # Versions 2..6 move the call down a line each.
    burst = b"".join(frame(change(uri, v, TEXT.format("\n" * (v - 1)))) for v in range(2, 7))
    assert len(burst) < PIPE_BUF
    server.send(burst)
    (published,) = publications_until(server, uri, 6)
    assert [d["range"]["start"]["line"] for d in published["diagnostics"]] == [9]
    # A code action then is answered from the same analysis, on the latest text.
    zero = {"line": 9, "character": 0}
    server.send(frame(request(7, "textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": zero, "end": zero}, "context": {"diagnostics": []}})))
    actions = server.answer(7)["result"]
    assert any(a["title"].startswith("Replace with") for a in actions)
    assert server.close(shutdown=True) == 0
