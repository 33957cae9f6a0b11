"""A broken pyproject.toml: exit 2 with one line naming the file and what is wrong with it,
never a traceback, never its settings silently dropped."""

from __future__ import annotations

import pytest

from tests.fixture_cases import run_cli
from tests.test_bad_input import BAD
from tests.unprivileged import open_directory, run_cli_unprivileged

BROKEN = {
    "tool is an integer": (b"tool = 5  # convlint\n", "`tool` must be a table, not an integer"),
    "tool is a string": (b'tool = "convlint"\n', "`tool` must be a table, not a string"),
    "convlint is a string": (b'[tool]\nconvlint = "yes"\n', "[tool.convlint] must be a table, not a string"),
    "deep nesting": (b"[tool.convlint]\nselect = " + b"[" * 5_000 + b"]" * 5_000 + b"\n",
                     "invalid TOML: nested too deeply to read"),
    "deep inline tables": (b"[tool.convlint]\nx = " + b"{a = " * 5_000 + b"1" + b"}" * 5_000 + b"\n",
                           "invalid TOML: nested too deeply to read"),
    "invalid UTF-8": (b'[tool.convlint]\n# caf\xe9\nselect = ["CL1"]\n',
                      "invalid TOML: byte 0xe9 on line 2 is not valid UTF-8"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_pyproject_is_named_with_its_problem(tmp_path, name):
    data, problem = BROKEN[name]
    (tmp_path / "pyproject.toml").write_bytes(data)
    (tmp_path / "good.py").write_text(BAD)
    for command in (["check", "good.py"], ["check", "."], ["fix", "good.py"]):
        result = run_cli(command, tmp_path)
        assert result.exit_code == 2, result.stdout
        assert result.stderr == f"error: {tmp_path / 'pyproject.toml'}: {problem}\n"
        assert "Traceback" not in result.stdout


@pytest.mark.parametrize("name", ["tool is an integer", "invalid UTF-8"])
def test_broken_pyproject_named_with_config(tmp_path, name):
    data, problem = BROKEN[name]
    (tmp_path / "conf.toml").write_bytes(data)
    (tmp_path / "good.py").write_text(BAD)
    result = run_cli(["check", "--config", "conf.toml", "good.py"], tmp_path)
    assert result.exit_code == 2
    assert result.stderr == f"error: conf.toml: {problem}\n"


def test_the_launcher_leaves_a_broken_pyproject_to_the_cli(tmp_path, monkeypatch):
    from convlint import launcher

    (tmp_path / "pyproject.toml").write_bytes(BROKEN["tool is an integer"][0])
    (tmp_path / "clean.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    assert launcher._nothing_to_find(["check", "clean.py"]) is False


def test_unreadable_pyproject(tmp_path):
    root = open_directory(tmp_path)
    (root / "pyproject.toml").write_text('[tool.convlint]\nselect = ["CL1"]\n')
    (root / "pyproject.toml").chmod(0)
    (root / "good.py").write_text(BAD)
    result = run_cli_unprivileged(["check", "good.py"], root)
    assert result.exit_code == 2
    assert result.stderr == f"error: {root / 'pyproject.toml'}: cannot read: Permission denied\n"
