"""What people read: `full` (code frames, fix diffs), `grouped`, colour and when it is used,
the default format (full on a terminal, concise in pipes and CI), -q/-s, escaped file
names, and what a run that checked nothing says."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import textwrap

import pytest

from convlint.formats.report import printable
from convlint.formats.style import use_color
from tests.fixture_cases import ROOT, run_cli
from tests.test_cli import BAD, CLEAN, UNSAFE, write
from tests.test_notebooks import TRAIN, save

ANSI = re.compile(r"\x1b\[[0-9;]*m")
MESSAGE = ("`.to(memory_format=channels_last)` on a module restrides every 4-D parameter and buffer; "
           "use `convert_conv2d_weight_memory_format` to convert only the conv weights")
LIKELY = MESSAGE.replace("on a module", "on what is likely a module")
MULTILINE = textwrap.dedent(
    """\
    import torch


    def go(model):
        model.to(
            memory_format=torch.channels_last,
        )
    """
)
IMPORTING = "import timm\nfrom torch import channels_last\nm = timm.create_model('x')\nm.to(memory_format=channels_last)\n"


def full(tmp_path, files, *args) -> str:
    write(tmp_path, files)
    return run_cli(["check", "--output-format", "full", *args], tmp_path).stdout


def test_full_frames_a_finding_and_shows_its_fix_as_a_diff(tmp_path):
    # Two lines of context, less the blank ones at the edges (as Ruff).
    assert full(tmp_path, {"bad.py": BAD}) == textwrap.dedent(
        f"""\
        CL101 [*] {MESSAGE}
         --> bad.py:5:9
          |
        4 | model = nn.Conv2d(3, 8, 3)
        5 | model = model.to(memory_format=torch.channels_last)
          |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
          |
        help: Replace with `torch.nn.utils.convert_conv2d_weight_memory_format(...)`
          |
        4 | model = nn.Conv2d(3, 8, 3)
          - model = model.to(memory_format=torch.channels_last)
        5 + model = torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)
          |

        Found 1 error.
        [*] 1 fixable with `convlint fix --write`.
        """
    )


def test_full_guides_a_multiline_span_and_notes_an_unsafe_fix(tmp_path):
    assert full(tmp_path, {"m.py": MULTILINE}) == textwrap.dedent(
        f"""\
        CL101 {LIKELY}
         --> m.py:5:5
          |
        4 |   def go(model):
        5 |       model.to(
          |  _____^
        6 | |         memory_format=torch.channels_last,
        7 | |     )
          | |_____^
          |
        help: Replace with `torch.nn.utils.convert_conv2d_weight_memory_format(...)`
          |
        4 | def go(model):
          -     model.to(
          -         memory_format=torch.channels_last,
        5 +     torch.nn.utils.convert_conv2d_weight_memory_format(
        6 +         model,
        7 +         torch.channels_last,
        8 |     )
          |
        note: This is an unsafe fix and may change runtime behavior

        Found 1 error.
        No fixes available (1 fixable with `convlint fix --write --unsafe-fixes`).
        """
    )


def test_full_diff_shows_every_edit_of_the_fix(tmp_path):
    out = full(tmp_path, {"m.py": IMPORTING})
    assert "\n".join(out.splitlines()[8:16]) == textwrap.dedent(
        """\
        help: Replace with `convert_conv2d_weight_memory_format(...)`
          |
        2 | from torch import channels_last
        3 + from torch.nn.utils import convert_conv2d_weight_memory_format
        4 | m = timm.create_model('x')
          - m.to(memory_format=channels_last)
        5 + convert_conv2d_weight_memory_format(m, channels_last)
          |"""
    )


def test_full_marks_a_syntax_error_with_one_caret(tmp_path):
    out = full(tmp_path, {"broken.py": "import torch\nmodel.to(memory_format=torch.channels_last\n"})
    assert out.splitlines()[:7] == [
        "CL000 syntax error: '(' was never closed",
        " --> broken.py:2:9",
        "  |",
        "1 | import torch",
        "2 | model.to(memory_format=torch.channels_last",
        "  |         ^",
        "  |",
    ]


def test_full_carets_line_up_after_tabs_and_wide_characters(tmp_path):
    text = "import torch\nimport torch.nn as nn\nif True:\n\t好 = nn.Conv2d(3, 8, 3); 好.to(memory_format=torch.channels_last)\n"
    lines = full(tmp_path, {"m.py": text}).splitlines()
    source, carets = lines[5], lines[6]
    assert source == "4 |     好 = nn.Conv2d(3, 8, 3); 好.to(memory_format=torch.channels_last)"
    # 好 takes two terminal columns: the carets start under the second 好 and cover it twice.
    before = source.index("好.to")
    assert carets.index("^") == before + source[:before].count("好")
    assert carets.count("^") == len("好.to(memory_format=torch.channels_last)") + 1


def test_full_diff_of_an_import_after_a_cells_last_line_without_a_newline(tmp_path):
    from tests.test_notebooks import notebook

    save(tmp_path / "nb.ipynb", notebook("import timm\nfrom torch import channels_last",
                                         "m = timm.create_model('x')\nm.to(memory_format=channels_last)"))
    lines = run_cli(["check", "--output-format", "full", "nb.ipynb"], tmp_path).stdout.splitlines()
    start = lines.index(" ::: cell 1")
    assert lines[start : start + 5] == [
        " ::: cell 1",
        "  |",
        "2 | from torch import channels_last",
        "3 + from torch.nn.utils import convert_conv2d_weight_memory_format",
        "  |",
    ]


def test_full_in_a_notebook_frames_the_cell(tmp_path):
    save(tmp_path / "train.ipynb", TRAIN)
    lines = run_cli(["check", "--output-format", "full", "train.ipynb"], tmp_path).stdout.splitlines()
    assert lines[1] == " --> train.ipynb:cell 4:2:9"
    assert lines[3:6] == ["1 | %%time", "2 | model = model.to(memory_format=torch.channels_last)", "  |         " + "^" * 43]
    assert " ::: cell 4" in lines


def test_full_of_a_file_that_is_gone_prints_the_finding_without_a_frame():
    from convlint.diagnostics import Diagnostic, Location
    from convlint.formats import Report, render

    at = Location(3, 1)
    out = render("full", Report([Diagnostic("gone.py", "CL101", "message", at, at)]))
    assert out == "CL101 message\n --> gone.py:3:1\n\n"


def test_grouped_aligns_rows_and_columns_under_each_file(tmp_path):
    many = BAD + "\n" * 5 + "model.to(memory_format=torch.channels_last)\n"
    write(tmp_path, {"a.py": many, "b.py": UNSAFE})
    assert run_cli(["check", "--output-format", "grouped"], tmp_path).stdout == textwrap.dedent(
        f"""\
        a.py:
           5:9 CL101 [*] {MESSAGE}
          11:1 CL101 [*] {MESSAGE}

        b.py:
          4:5 CL101 {LIKELY}

        Found 3 errors.
        [*] 2 fixable with `convlint fix --write` (1 more with `--unsafe-fixes`).
        """
    )


# --------------------------------------------------------------------------- colour


@pytest.mark.parametrize(
    "choice, terminal, environ, expected",
    [
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {"FORCE_COLOR": "1"}, False),
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),  # empty: not set, as no-color.org says
        ("auto", False, {"FORCE_COLOR": "1"}, True),
        ("auto", True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
        ("auto", True, {"TERM": "dumb"}, False),
    ],
)
def test_when_to_colour(choice, terminal, environ, expected):
    assert use_color(choice, terminal, environ) is expected


@pytest.mark.parametrize("output_format", ["full", "concise", "grouped"])
def test_colour_on_request_and_the_same_text_without_it(tmp_path, output_format):
    write(tmp_path, {"bad.py": BAD, "maybe.py": UNSAFE})
    plain = run_cli(["check", "--output-format", output_format], tmp_path).stdout
    coloured = run_cli(["check", "--output-format", output_format, "--color", "always"], tmp_path).stdout
    assert "\x1b[" not in plain and "\x1b[1;31mCL101\x1b[0m" in coloured.replace("1;91m", "1;31m")
    assert ANSI.sub("", coloured) == plain
    assert "\x1b[" not in run_cli(["check", "--output-format", output_format, "--color", "never"], tmp_path).stdout


def run_on_terminal(args, cwd, env=None) -> str:
    """Run convlint with its standard output on a pseudo-terminal, as a person's shell does;
    returns what the terminal received."""
    pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX's")
    controller, terminal = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR", "CONVLINT_OUTPUT_FORMAT")}
    environ.update({"PYTHONPATH": str(ROOT), "TERM": "xterm", **(env or {})})
    proc = subprocess.Popen([sys.executable, "-m", "convlint", *args], cwd=cwd, stdout=terminal,
                            stderr=subprocess.DEVNULL, env=environ)
    os.close(terminal)
    chunks = []
    while True:
        ready, _, _ = select.select([controller], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(controller)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_terminal_gets_full_in_colour_a_pipe_and_ci_get_concise(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    shown = run_on_terminal(["check", "bad.py"], tmp_path)
    assert "\x1b[" in shown and ANSI.sub("", shown).splitlines()[1] == " --> bad.py:5:9"
    assert ANSI.sub("", shown).endswith("[*] 1 fixable with `convlint fix --write`.\n")
    no_colour = run_on_terminal(["check", "bad.py"], tmp_path, {"NO_COLOR": "1"})
    assert "\x1b[" not in no_colour and no_colour.splitlines()[1] == " --> bad.py:5:9"
    in_ci = run_on_terminal(["check", "bad.py"], tmp_path, {"CI": "true"})
    assert ANSI.sub("", in_ci).startswith(f"bad.py:5:9: CL101 [*] {MESSAGE}\n")
    chosen = run_on_terminal(["check", "bad.py"], tmp_path, {"CONVLINT_OUTPUT_FORMAT": "grouped"})
    assert ANSI.sub("", chosen).startswith("bad.py:\n  5:9 CL101")
    piped = subprocess.run([sys.executable, "-m", "convlint", "check", "bad.py"], cwd=tmp_path, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert piped.stdout.startswith(f"bad.py:5:9: CL101 [*] {MESSAGE}\n")


def test_statistics_on_a_terminal_is_the_table(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    assert ANSI.sub("", run_on_terminal(["check", "--statistics", "bad.py"], tmp_path)).startswith("1\tCL101\t[*] ")
    refused = run_cli(["check", "--statistics", "--output-format", "full"], tmp_path)
    assert refused.exit_code == 2 and "--statistics prints concise or json, not full" in refused.output


# --------------------------------------------------------------------------- -q, -s


def test_quiet_prints_the_findings_only(tmp_path):
    write(tmp_path, {"bad.py": BAD, "clean.py": CLEAN})
    result = run_cli(["check", "-q", "bad.py"], tmp_path)
    assert result.exit_code == 1 and result.stdout == f"bad.py:5:9: CL101 [*] {MESSAGE}\n"
    clean = run_cli(["check", "--quiet", "clean.py"], tmp_path)
    assert (clean.exit_code, clean.stdout) == (0, "")
    assert run_cli(["check", "-q", "--statistics", "bad.py"], tmp_path).stdout == "1\tCL101\t[*] module-to-channels-last\n"
    assert run_cli(["check", "-q", "--output-format", "json", "bad.py"], tmp_path).stdout.startswith("[\n")


def test_silent_prints_nothing_but_errors(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    result = run_cli(["check", "-s", "bad.py"], tmp_path)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "")
    assert run_cli(["check", "--silent", "--output-format", "json", "bad.py"], tmp_path).stdout == ""
    missing = run_cli(["check", "-s", "bad.py", "nope.py"], tmp_path)
    assert missing.exit_code == 2 and missing.stdout == "" and "nope.py" in missing.stderr


# --------------------------------------------------------------------------- nothing checked


def test_a_missing_path_says_no_all_checks_passed(tmp_path):
    result = run_cli(["check", "nope.py"], tmp_path)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "error: nope.py: No such file or directory\n"
    write(tmp_path, {"bad.py": BAD})
    both = run_cli(["check", "bad.py", "nope.py"], tmp_path)
    assert both.exit_code == 2 and both.stdout.endswith("Found 1 error.\n[*] 1 fixable with `convlint fix --write`.\n")


def test_an_empty_directory_warns_that_no_python_file_was_found(tmp_path):
    (tmp_path / "empty").mkdir()
    write(tmp_path, {"docs/readme.txt": "text", "proj/build/bad.py": BAD})  # build/ is excluded
    for path in ("empty", "docs", "proj"):
        result = run_cli(["check", path], tmp_path)
        assert (result.exit_code, result.stdout) == (0, "All checks passed!\n"), path
        assert result.stderr == "warning: No Python files found under the given path(s)\n", path
    assert run_cli(["check", "-q", "empty"], tmp_path).stderr == ""
    write(tmp_path, {"src/clean.py": CLEAN})
    assert run_cli(["check", "src"], tmp_path).stderr == ""  # a clean file was checked


# --------------------------------------------------------------------------- file names


HOSTILE_NAMES = ["a\nb.py", "x\x1b[31mred.py", "rtl\u202etxt.py", "tab\there.py", "cr\rname.py"]


def test_printable_escapes_what_would_break_or_drive_a_terminal():
    assert printable("a\nb\x1b[31m\u202e\tok é.py") == "a\\nb\\x1b[31m\\u202e\\tok é.py"
    assert printable(os.fsdecode(b"caf\xff.py")) == "caf\\xff.py"


@pytest.mark.parametrize("output_format", ["concise", "grouped", "pylint", "full"])
def test_hostile_file_names_keep_one_finding_on_one_line(tmp_path, output_format):
    write(tmp_path, {name: BAD for name in HOSTILE_NAMES})
    (tmp_path / os.fsdecode(b"caf\xff.py")).write_text(BAD)
    out = run_cli(["check", "--output-format", output_format, "--color", "never", "."], tmp_path).stdout
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\t" not in out
    findings = [line for line in out.splitlines() if "CL101" in line or (output_format == "grouped" and line.endswith(".py:"))]
    expected = len(HOSTILE_NAMES) + 1
    assert len(findings) == (2 * expected if output_format == "grouped" else expected), out
    for name in ["a\\nb.py", "x\\x1b[31mred.py", "rtl\\u202etxt.py", "tab\\there.py", "cr\\rname.py", "caf\\xff.py"]:
        assert name in out


def test_hostile_names_in_errors_warnings_and_fix_summaries(tmp_path):
    missing = run_cli(["check", "no\nsuch.py"], tmp_path)
    assert missing.stderr == "error: no\\nsuch.py: No such file or directory\n"
    config = run_cli(["check", "--config", "bad\x1b[2J.toml", "."], tmp_path)
    assert config.exit_code == 2 and "\x1b" not in config.stderr and len(config.stderr.splitlines()) == 1
    write(tmp_path, {"a\nb.py": BAD})
    summary = run_cli(["fix", "--write", "--show-fixes", "."], tmp_path).stdout
    assert "- a\\nb.py:\n" in summary


@pytest.mark.skipif(shutil.which("git") is None, reason="git reads the diff back")
def test_a_diff_of_a_hostile_name_is_quoted_as_git_quotes_it_and_applies(tmp_path):
    name = "a\nb\x1b.py"
    write(tmp_path, {name: BAD})
    diff = run_cli(["fix", "."], tmp_path).stdout
    assert diff.startswith('--- "a/a\\nb\\033.py"\n+++ "b/a\\nb\\033.py"\n')
    applied = subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=diff, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    assert "convert_conv2d_weight_memory_format(model, torch.channels_last)" in (tmp_path / name).read_text()
