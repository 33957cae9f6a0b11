"""`convlint server` on raw, hostile input: oversized frames, LF-only headers, junk, bodies that
are not requests, code actions on files nobody opened (a FIFO, /dev/zero). It stays alive and
answers the next request; `exit` without `shutdown` exits 1, as the protocol says."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pygls", reason="pygls is in the test extra")

from tests.fixture_cases import ROOT  # noqa: E402

# Generous: a server that hangs on a request never answers, and the test fails after this.
ANSWER_WITHIN = 120


def frame(message: dict, newline: bytes = b"\r\n") -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d%s%s%s" % (len(body), newline, newline, body)


def request(id: int, method: str, params: dict | None = None) -> dict:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params if params is not None else {}}


INITIALIZE = request(0, "initialize", {"capabilities": {}})


class RawServer:
    """`python -m convlint server` fed raw bytes; its answers collected by id."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "convlint", "server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.process.stdout
        while True:
            length = None
            while (line := out.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line or length is None:
                self.answers.put(None)
                return
            self.answers.put(json.loads(out.read(length)))

    def send(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def answer(self, id: int) -> dict:
        while True:
            message = self.answers.get(timeout=ANSWER_WITHIN)
            assert message is not None, "the server closed its output"
            if message.get("id") == id and "method" not in message:
                return message

    def close(self, shutdown: bool) -> int:
        if shutdown:
            self.send(frame(request(10**6, "shutdown", None)))
            self.answer(10**6)
        self.send(frame({"jsonrpc": "2.0", "method": "exit"}))
        self.process.stdin.close()
        return self.process.wait(timeout=ANSWER_WITHIN)


@pytest.fixture
def server():
    raw = RawServer()
    raw.send(frame(INITIALIZE))
    raw.answer(0)
    raw.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    yield raw
    if raw.process.poll() is None:
        raw.process.kill()
        raw.process.wait()


MALFORMED = {
    "a frame of a terabyte": b"Content-Length: 999999999999\r\n\r\n{}",
    "a frame longer than the cap": b"Content-Length: %d\r\n\r\n" % (2**26 + 1),
    "no length": b"Content-Type: application/json\r\n\r\n{}\r\n",
    "a length that is not a number": b"Content-Length: ten\r\n\r\n",
    "a negative length": b"Content-Length: -5\r\n\r\n",
    "junk lines": b"hello\nworld\r\n\r\n\n",
    "a header line of a megabyte": b"X-Junk: " + b"x" * 2**20 + b"\r\n\r\n",
    "a body that is not JSON": frame({"x": 1}).replace(b'{"x": 1}', b"{not json"),
    "a body that is not UTF-8": b"Content-Length: 4\r\n\r\n\xff\xfe\xfd\xfc",
    "a JSON number": b"Content-Length: 1\r\n\r\n5",
    "a JSON array": b"Content-Length: 2\r\n\r\n[]",
    "JSON nested too deeply": b"Content-Length: 200000\r\n\r\n" + b"[" * 200000,
    "an unknown method": frame(request(7, "convlint/unknown")),
    "a code action without parameters": frame(request(8, "textDocument/codeAction", {"x": 1})),
    "a hover without a position": frame(request(101, "textDocument/hover", {"textDocument": {"uri": "file:///x.py"}})),
    "a pull for a document nobody opened": frame(request(102, "textDocument/diagnostic",
                                                         {"textDocument": {"uri": "file:///nobody/x.py"}})),
    "a change of a notebook nobody opened": frame({"jsonrpc": "2.0", "method": "notebookDocument/didChange", "params": {
        "notebookDocument": {"uri": "file:///nobody.ipynb", "version": 2},
        "change": {"cells": {"textContent": [{"document": {"uri": "cell:1", "version": 2}, "changes": [{"text": "x"}]}]}},
    }}),
    "a notebook without cells": frame({"jsonrpc": "2.0", "method": "notebookDocument/didOpen", "params": {
        "notebookDocument": {"uri": "file:///n.ipynb", "notebookType": "jupyter-notebook", "version": 1},
        "cellTextDocuments": [],
    }}),
    "a watched-file change that is no URI": frame({"jsonrpc": "2.0", "method": "workspace/didChangeWatchedFiles",
                                                    "params": {"changes": [{"uri": 5, "type": 2}]}}),
    "settings that are not an object": frame({"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration",
                                              "params": {"settings": [1, 2]}}),
}


def test_malformed_input_leaves_the_server_answering(server):
    for i, name in enumerate(sorted(MALFORMED), 1):
        server.send(MALFORMED[name])
        server.send(frame(code_action(i, "/nonexistent/x.py"), newline=b"\n" if i % 2 else b"\r\n"))
        assert server.answer(i).get("result") in (None, []), name
    assert server.close(shutdown=True) == 0


def test_exit_without_shutdown_exits_1(server):
    assert server.close(shutdown=False) == 1


def code_action(id: int, path: str) -> dict:
    zero = {"line": 0, "character": 0}
    return request(id, "textDocument/codeAction", {
        "textDocument": {"uri": Path(path).as_uri()}, "range": {"start": zero, "end": zero},
        "context": {"diagnostics": []},
    })


def test_code_actions_on_files_nobody_opened_read_nothing(server, tmp_path):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)  # reading it would block until a writer came
    (tmp_path / "real.py").write_text("import torch\nm = torch.nn.Conv2d(1, 1, 1)\nm.to(memory_format=torch.channels_last)\n")
    for i, path in enumerate([str(fifo), "/dev/zero", str(tmp_path / "real.py"), str(tmp_path / "missing.py")], 1):
        server.send(frame(code_action(i, path)))
        assert server.answer(i).get("result") in (None, []), path
    assert server.close(shutdown=True) == 0


# Whole frames a broken or hostile client may send: each is skipped, and a request after it
# is answered.
JUNK_FRAMES = st.one_of(
    st.binary(max_size=64).map(lambda body: b"Content-Length: %d\r\n\r\n%s" % (len(body), body)),
    st.binary(max_size=64).map(lambda body: b"Content-Length: %d\n\n%s" % (len(body), body)),
    st.binary(max_size=64).map(lambda body: b"content-length:%d\r\nX-Other: 1\r\n\r\n%s" % (len(body), body)),
    st.integers(2**26 + 1, 2**60).map(lambda n: b"Content-Length: %d\r\n\r\n" % n),
    st.lists(st.sampled_from([b"junk", b"a: b", b"", b"Content-Type: x", b"\x00\xff"]), max_size=4)
    .map(lambda lines: b"".join(line + b"\r\n" for line in lines) + b"\r\n"),
    st.sampled_from(list(MALFORMED.values())),
)


@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(junk=st.lists(JUNK_FRAMES, min_size=1, max_size=6))
def test_any_junk_between_requests(junk):
    raw = RawServer()
    try:
        raw.send(frame(INITIALIZE))
        raw.answer(0)
        for i, piece in enumerate(junk, 1):
            raw.send(piece)
            raw.send(frame(code_action(i, "/nonexistent/x.py")))
            assert raw.answer(i).get("result") in (None, [])
        assert raw.close(shutdown=True) == 0
    finally:
        if raw.process.poll() is None:
            raw.process.kill()
            raw.process.wait()
