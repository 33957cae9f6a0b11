"""What a run does with a file: each command line's mode and choices, the combinations that
cannot be built, and the FileResult the per-file step returns in each mode."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from convlint import commands
from convlint.config import Settings
from convlint.files import FileError
from convlint.lint import lint_source
from convlint.lint_file import process_file
from convlint.modes import FileResult, Mode, Options
from tests.fixture_cases import run_cli
from tests.test_bad_input import FIXED_LINE
from tests.test_cli import BAD, UNSAFE

BAD_LINE = "model = model.to(memory_format=torch.channels_last)"
FIXED = BAD.replace(BAD_LINE, FIXED_LINE)


@pytest.mark.parametrize("args, expected", [
    (["check"], [Options(Mode.CHECK, cache=True)]),
    (["check", "--no-cache", "--unsafe-fixes"], [Options(Mode.CHECK)]),
    (["check", "--output-format", "json"], [Options(Mode.CHECK, edits=True, cache=True)]),
    (["check", "--fix"], [Options(Mode.FIX_WRITE)]),
    (["check", "--fix-only", "--unsafe-fixes"], [Options(Mode.FIX_WRITE, unsafe_fixes=True)]),
    (["check", "--diff"], [Options(Mode.FIX)]),
    (["check", "--fix", "--diff"], [Options(Mode.FIX)]),
    # The fix run computes no edits of the unsafe fix it left: a check computes them afterwards.
    (["check", "--fix", "--output-format", "json"], [Options(Mode.FIX_WRITE), Options(Mode.CHECK, edits=True)]),
    (["check", "--add-noqa"], [Options(Mode.ADD_NOQA)]),
    (["fix"], [Options(Mode.FIX)]),
    (["fix", "--write", "--unsafe-fixes"], [Options(Mode.FIX_WRITE, unsafe_fixes=True)]),
])
def test_each_command_line_runs_in_its_mode(tmp_path: Path, monkeypatch, args, expected):
    (tmp_path / "m.py").write_text(BAD + UNSAFE.replace("import torch\n", ""))
    monkeypatch.delenv("CONVLINT_NO_CACHE", raising=False)
    seen = []
    real_run = commands.run

    def recording_run(paths, config, options, jobs=None):
        seen.append(options)
        return real_run(paths, config, options, jobs)

    monkeypatch.setattr(commands, "run", recording_run)
    run_cli([*args, "--isolated", "m.py"], tmp_path)
    assert seen == expected


def test_standard_input_is_fixed_but_never_written(tmp_path: Path, monkeypatch):
    seen = []
    real = commands.run_source
    monkeypatch.setattr(commands, "run_source", lambda *a: seen.append(a[-1]) or real(*a))
    result = run_cli(["check", "--fix", "--isolated", "-"], tmp_path, input=BAD)
    assert seen == [Options(Mode.FIX_WRITE)]
    assert result.stdout == FIXED and os.listdir(tmp_path) == []


@pytest.mark.parametrize("mode, choice", [
    (Mode.CHECK, "unsafe_fixes"), (Mode.ADD_NOQA, "unsafe_fixes"),
    (Mode.FIX, "edits"), (Mode.FIX_WRITE, "edits"), (Mode.ADD_NOQA, "edits"),
    (Mode.FIX, "cache"), (Mode.FIX_WRITE, "cache"), (Mode.ADD_NOQA, "cache"),
])
def test_a_choice_that_means_nothing_in_a_mode_cannot_be_built(mode, choice):
    with pytest.raises(ValueError, match=mode.value):
        Options(mode, **{choice: True})


def test_the_choices_that_mean_something_can_be_built():
    assert Options(Mode.CHECK, edits=True, cache=True).mode is Mode.CHECK
    assert Options(Mode.FIX, unsafe_fixes=True).unsafe_fixes
    assert Options(Mode.FIX_WRITE, unsafe_fixes=True).mode.fixes
    assert not Mode.CHECK.fixes and not Mode.ADD_NOQA.fixes


def process(path: Path, mode: Mode) -> FileResult:
    data = path.read_bytes()
    return process_file(str(path), data, path.stat(), Settings(), Options(mode))


def test_a_check_returns_the_findings_and_writes_nothing(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text(BAD)
    result = process(path, Mode.CHECK)
    assert [(d.code, d.start.row, d.start.column) for d in result.diagnostics] == [("CL101", 5, 9)]
    assert result == FileResult(str(path), diagnostics=lint_source(BAD, str(path), Settings()))
    assert path.read_text() == BAD


def test_a_fix_returns_the_fixed_source_and_writes_only_in_fix_write(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text(BAD)
    expected = FileResult(str(path), [], [], Counter({"CL101": 1}), BAD, FIXED, FIXED.encode())
    assert process(path, Mode.FIX) == expected
    assert path.read_text() == BAD
    assert process(path, Mode.FIX_WRITE) == expected
    assert path.read_text() == FIXED


def test_a_fix_that_cannot_be_written_returns_the_error_and_the_findings_left(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text(BAD)
    path.chmod(0o444)
    result = process(path, Mode.FIX_WRITE)
    assert result == FileResult(str(path), lint_source(BAD, str(path), Settings()),
                                [FileError(str(path), "not written: the file is read-only")])
    assert path.read_text() == BAD


def test_add_noqa_returns_the_rows_it_suppressed(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text(BAD)
    assert process(path, Mode.ADD_NOQA) == FileResult(str(path), noqa_added=1)
    assert path.read_text() == BAD.replace(BAD_LINE, BAD_LINE + "  # noqa: CL101")
    assert process(path, Mode.CHECK) == FileResult(str(path))


@pytest.mark.parametrize("mode", [Mode.CHECK, Mode.FIX])
def test_the_skipped_blocks_of_a_page_are_returned_once(tmp_path: Path, mode):
    path = tmp_path / "pseudo.md"
    path.write_text("```python\nmodel = ...\nmodel.to(memory_format=<channels_last>)\n```\n\n"
                    "```python\nimport torch\nnet = torch.nn.Conv2d(3, 3, 1)\nnet.to(memory_format=torch.channels_last)\n```\n")
    result = process(path, mode)
    assert result.skipped == [f"{path}:1: code block skipped: it does not parse as Python"]
    assert [(d.code, d.start.row) for d in result.diagnostics] == ([] if mode.fixes else [("CL101", 9)])
