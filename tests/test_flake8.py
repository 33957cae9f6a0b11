"""The flake8 plugin, driven through real flake8 in a subprocess."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixture_cases import FIXTURES, run_cli

pytest.importorskip("flake8", reason="flake8 is in the test extra")

FINDING_LINE = re.compile(r"^(?P<path>\S+?):(?P<row>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+)(?: \[\*\])? (?P<message>.*)$")

MODULE = """\
import torch
from torch import nn

net = nn.Conv2d(3, 3, 3)
"""
# Non-ASCII (one astral) characters before the call on its line: columns count characters.
WIDE = MODULE + 'label = "\U0001d538\u00e9"; net.to(memory_format=torch.channels_last)\n'
RANKS = MODULE + "net3 = nn.Conv3d(3, 3, 3)\nnet.to(memory_format=torch.channels_last)\nnet3.to(memory_format=torch.channels_last_3d)\n"


def flake8(args: list[str], cwd: Path, stdin: str | None = None, python: list[str] = ()) -> subprocess.CompletedProcess:
    # --isolated: no flake8 configuration from the machine or the project around cwd.
    return subprocess.run(
        [sys.executable, *python, "-m", "flake8", "--isolated", *args],
        cwd=cwd, input=stdin, capture_output=True, text=True, encoding="utf-8", timeout=120,
    )


def findings(output: str) -> list[tuple[str, int, int, str, str]]:
    """(path, row, column, code, message) of each finding line; convlint's `[*]` dropped."""
    out = []
    for line in output.splitlines():
        match = FINDING_LINE.match(line)
        if match:
            out.append((Path(match["path"]).as_posix(), int(match["row"]), int(match["col"]), match["code"], match["message"]))
    return sorted(out)


def test_same_findings_and_columns_as_check_over_the_fixtures(tmp_path: Path):
    tree = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, tree)
    (tree / "wide.py").write_text(WIDE, encoding="utf-8")
    # The plugin reads each file's configuration as `check` does (fixtures/fix_target_convlint
    # sets `fix-target`), and leaves the selecting to flake8: check's default selection, and
    # no per-file-ignores of convlint's (fixtures/CL900 has some).
    # Docstring examples (`docstring-code`, fixtures/docs/docstrings) are check's alone.
    view = ["--select", "CL0,CL1", "--config", "per-file-ignores = {}", "--config", "docstring-code = false"]
    ours = [f for f in findings(run_cli(["check", *view, "."], tree).stdout) if f[0].endswith(".py")]
    result = flake8(["--select", "CL", "."], tree)
    theirs = findings(result.stdout)
    # flake8 reports a file that does not parse as E999 (not selected here), not as CL000;
    # a file of syntax newer than this interpreter is one it cannot parse (convlint can).
    newer = {f[0] for f in ours if not _interpreter_parses(tree / f[0])}
    assert theirs == [f for f in ours if f[3] != "CL000" and f[0] not in newer]
    assert {"CL101", "CL102", "CL103", "CL104"} <= {f[3] for f in theirs} and len(theirs) > 20
    wide = [f for f in theirs if f[0] == "wide.py"]
    line = WIDE.splitlines()[4]
    assert [(row, col) for _, row, col, *_ in wide] == [(5, line.index("net.to(") + 1)]
    assert result.returncode == 1


def _interpreter_parses(path: Path) -> bool:
    try:
        ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return False
    return True


def test_select_and_ignore_are_flake8s(tmp_path: Path):
    (tmp_path / "ranks.py").write_text(RANKS)
    assert [f[3] for f in findings(flake8(["--select", "CL102", "ranks.py"], tmp_path).stdout)] == ["CL102"]
    assert [f[3] for f in findings(flake8(["--select", "CL", "--extend-ignore", "CL102", "ranks.py"], tmp_path).stdout)] == ["CL101"]
    # flake8's defaults take in plugin codes: CL findings show among pycodestyle's and pyflakes'.
    default = findings(flake8(["ranks.py"], tmp_path).stdout)
    assert {"CL101", "CL102"} <= {f[3] for f in default}
    clean = flake8(["--extend-ignore", "CL", "ranks.py"], tmp_path)
    assert not [f for f in findings(clean.stdout) if f[3].startswith("CL")]


def test_cl900_runs_only_when_a_flake8_selector_names_it(tmp_path: Path):
    (tmp_path / "unused.py").write_text("import torch\n\nx = torch.ones(1).to(memory_format=torch.channels_last)  # noqa: CL101\n")
    # "CL" is the plugin's prefix, selected by default: it cannot opt in to CL900.
    assert findings(flake8(["--select", "CL", "unused.py"], tmp_path).stdout) == []
    named = findings(flake8(["--extend-select", "CL900", "unused.py"], tmp_path).stdout)
    assert [(f[1], f[3]) for f in named] == [(3, "CL900")]
    assert named == findings(run_cli(["check", "--isolated", "--extend-select", "CL900", "unused.py"], tmp_path).stdout)


def test_noqa_is_flake8s_own(tmp_path: Path):
    (tmp_path / "noqa.py").write_text(
        MODULE
        + "net.to(memory_format=torch.channels_last)  # noqa: CL101\n"
        + "net.to(memory_format=torch.channels_last)  # noqa: E501\n"
        + "net.to(memory_format=torch.channels_last)  # noqa\n"
        + "net.to(\n    memory_format=torch.channels_last,  # noqa: CL101\n)\n"
    )
    rows = [f[1] for f in findings(flake8(["--select", "CL", "noqa.py"], tmp_path).stdout)]
    assert rows == [6]  # only the directive for another code leaves it reported
    # --disable-noqa brings back every one, the multi-line call's included.
    rows = [f[1] for f in findings(flake8(["--select", "CL", "--disable-noqa", "noqa.py"], tmp_path).stdout)]
    assert rows == [5, 6, 7, 8]
    # The same file under `convlint check`: the same findings.
    assert [f[1] for f in findings(run_cli(["check", "--isolated", "noqa.py"], tmp_path).stdout)] == [6]


def test_stdin_is_linted_from_flake8s_lines(tmp_path: Path):
    result = flake8(["--select", "CL", "--stdin-display-name", "buffer.py", "-"], tmp_path, stdin=WIDE)
    assert [(f[0], f[1], f[3]) for f in findings(result.stdout)] == [("buffer.py", 5, "CL101")]


def test_a_file_that_does_not_parse_is_flake8s_e999(tmp_path: Path):
    (tmp_path / "broken.py").write_text("import torch\nmodel.to(memory_format=torch.channels_last\n")
    (tmp_path / "ranks.py").write_text(RANKS)
    result = flake8(["--select", "CL,E999", "broken.py", "ranks.py"], tmp_path)
    assert [(f[0], f[3]) for f in findings(result.stdout)] == [
        ("broken.py", "E999"), ("ranks.py", "CL101"), ("ranks.py", "CL102"),
    ]
    assert result.returncode == 1 and result.stderr == ""


def test_an_internal_error_does_not_stop_flake8(tmp_path: Path):
    (tmp_path / "a.py").write_text(RANKS)
    (tmp_path / "b.py").write_text(RANKS + "x=1\n")
    # Real flake8, with the linter made to fail on one file.
    script = (
        "import sys\n"
        "import convlint.flake8_plugin as plugin\n"
        "real = plugin.lint_buffer\n"
        "def failing(text, path, *args, **kw):\n"
        "    if path.endswith('a.py'):\n"
        "        raise RuntimeError('boom')\n"
        "    return real(text, path, *args, **kw)\n"
        "plugin.lint_buffer = failing\n"
        "from flake8.main.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "--isolated", "-j", "1", "--select", "CL,E225", "a.py", "b.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert [(f[0], f[3]) for f in findings(result.stdout)] == [("b.py", "CL101"), ("b.py", "CL102"), ("b.py", "E225")]
    assert result.stderr == "convlint: error: a.py: internal error: RuntimeError: boom\n"
    assert result.returncode == 1


def test_the_plugin_imports_neither_libcst_nor_torch(tmp_path: Path):
    (tmp_path / "ranks.py").write_text(RANKS)
    result = flake8(["-j", "1", "--select", "CL", "ranks.py"], tmp_path, python=["-X", "importtime"])
    assert [f[3] for f in findings(result.stdout)] == ["CL101", "CL102"]  # the plugin ran
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "convlint.lint" in imported  # flake8 loads the plugin itself with import_module, unlisted
    assert not {m for m in imported if m.split(".")[0] in ("libcst", "torch")}
