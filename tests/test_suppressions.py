"""`check --add-noqa`, CL900 (unused noqa) and the rows a `# noqa` covers."""

from __future__ import annotations

import os
import re
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlint.config import Settings
from convlint.lint import lint_source, prefilter, rules_for
from convlint.source import SourceText
from convlint.suppress import add_noqa_edits, line_directives
from tests.fixture_cases import run_cli
from tests.pytorch_programs import programs
from tests.test_cli import BAD, write
from tests.test_properties import decode

FINDINGS = textwrap.dedent(
    '''\
    import torch
    import torch.nn as nn

    model = nn.Conv2d(3, 8, 3)
    model = model.to(memory_format=torch.channels_last)  # noqa: E501
    model = model.to(  # keep this
        memory_format=torch.channels_last_3d)
    model = model.to(memory_format=torch.channels_last); doc = """
    text"""
    model = model.to(memory_format=torch.channels_last) \\
        .eval()
    model = model.to(memory_format=torch.channels_last)  # noqa
    model = torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last_3d)   
    '''
)
WITH_NOQA = textwrap.dedent(
    '''\
    import torch
    import torch.nn as nn

    model = nn.Conv2d(3, 8, 3)
    model = model.to(memory_format=torch.channels_last)  # noqa: E501, CL101
    model = model.to(  # keep this  # noqa: CL102
        memory_format=torch.channels_last_3d)
    model = model.to(memory_format=torch.channels_last); doc = """
    text"""  # noqa: CL101
    model = model.to(memory_format=torch.channels_last) \\
        .eval()  # noqa: CL101
    model = model.to(memory_format=torch.channels_last)  # noqa
    model = torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last_3d)  # noqa: CL103
    '''
)


def test_add_noqa_adds_merges_and_is_idempotent(tmp_path):
    write(tmp_path, {"a.py": FINDINGS})
    result = run_cli(["check", "--add-noqa"], tmp_path)
    assert (result.exit_code, result.stdout) == (0, "Added 5 noqa directives.\n")
    assert (tmp_path / "a.py").read_text() == WITH_NOQA
    assert run_cli(["check"], tmp_path).stdout == "All checks passed!\n"
    again = run_cli(["check", "--add-noqa"], tmp_path)
    assert again.stdout == "Added 0 noqa directives.\n"
    assert (tmp_path / "a.py").read_text() == WITH_NOQA


def test_add_noqa_keeps_crlf_and_mode_and_counts_one_line_once(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(b"import torch\r\nm = torch.nn.Conv2d(3, 8, 3)\r\nm.to(memory_format=torch.channels_last); m.to(memory_format=torch.channels_last)\r\n")
    os.chmod(path, 0o640)
    assert run_cli(["check", "--add-noqa", "a.py"], tmp_path).stdout == "Added 1 noqa directive.\n"
    assert path.read_bytes().endswith(b"m.to(memory_format=torch.channels_last)  # noqa: CL101\r\n")
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_add_noqa_respects_selection_and_never_adds_cl000_or_cl900(tmp_path):
    write(tmp_path, {
        "a.py": BAD,
        "broken.py": "model.to(memory_format=torch.channels_last\n",
        "unused.py": "import torch\nx = torch.zeros(1).to(memory_format=torch.channels_last)  # noqa: CL101\n",
    })
    assert run_cli(["check", "--add-noqa", "--select", "CL102"], tmp_path).stdout == "Added 0 noqa directives.\n"
    result = run_cli(["check", "--add-noqa", "--extend-select", "CL900"], tmp_path)
    assert result.stdout == "Added 1 noqa directive.\n"
    assert (tmp_path / "broken.py").read_text() == "model.to(memory_format=torch.channels_last\n"
    assert (tmp_path / "unused.py").read_text().endswith("# noqa: CL101\n")


def test_add_noqa_reports_a_file_it_cannot_write(tmp_path):
    write(tmp_path, {"a.py": BAD})
    os.chmod(tmp_path / "a.py", 0o444)
    result = run_cli(["check", "--add-noqa"], tmp_path)
    assert result.exit_code == 2 and "a.py: not written" in result.stderr
    assert (tmp_path / "a.py").read_text() == BAD


def test_add_noqa_refuses_standard_input(tmp_path):
    result = run_cli(["check", "--add-noqa", "--stdin-filename", "x.py", "-"], tmp_path)
    assert result.exit_code == 2 and "--add-noqa" in result.output


def test_a_directive_covers_the_rows_of_a_string_or_continuation_it_ends():
    source = SourceText('x = 1\ny = """\na\n"""  # noqa: CL101\nz = 2 + \\\n    3  # noqa\n')
    directives = line_directives(source)
    assert sorted(directives) == [2, 3, 4, 5, 6]
    assert {directives[r].row for r in (2, 3, 4)} == {4} and directives[5].codes is None


def test_cl900_is_off_by_default_and_on_when_selected():
    text = "import torch\nx = torch.zeros(1)  # noqa: CL101\n"
    assert not Settings().is_enabled("CL900")
    assert lint_source(text, "a.py", Settings()) == []
    for settings in (Settings(extend_select=("CL900",)), Settings(select=("CL",))):
        (finding,) = lint_source(text, "a.py", settings)
        assert (finding.code, finding.start.column, finding.end.column) == ("CL900", 21, 34)


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("x = 1  # noqa: CL101\n", True),
        ("x = 1  # NOQA:e501,cl102\n", True),
        ("x = 1  # noqa: E501\n", False),
        ("x = 1  # noqa\n", False),
        ("x = 1  # noqa: E501\ny = 'CL101'\n", False),
    ],
)
def test_cl900_prefilter_passes_only_directives_naming_a_cl_code(text, parsed):
    data = text.encode()
    assert prefilter(data, rules_for("a.py", Settings(extend_select=("CL900",)))) is parsed
    assert prefilter(data, rules_for("a.py", Settings())) is False  # CL900 off: not parsed


def test_cl900_judges_only_enabled_codes(tmp_path):
    write(tmp_path, {"a.py": "import torch\nx = torch.zeros(1)  # noqa: CL101, CL102\n"})
    result = run_cli(["check", "--select", "CL101,CL900"], tmp_path)
    assert "Unused `noqa` directive (unused: `CL101`)" in result.stdout
    run_cli(["fix", "--write", "--select", "CL101,CL900"], tmp_path)
    assert (tmp_path / "a.py").read_text().endswith("x = torch.zeros(1)  # noqa: CL102\n")


# --------------------------------------------------------------------------- lone CR line ends

NEWLINES = {"LF": "\n", "CR": "\r", "CRLF": "\r\n"}


def with_newlines(text: str, newline: str, mixed: int = 0) -> str:
    """`text` with its line breaks replaced: all by `newline`, or, with `mixed`, each by
    LF, CR or CRLF as the bits of `mixed` say."""
    parts = re.split(r"\r\n|\r|\n", text)
    if not mixed:
        return newline.join(parts)
    out = []
    for i, part in enumerate(parts[:-1]):
        end = ["\n", "\r", "\r\n"][(mixed >> (2 * i)) % 3]
        if end == "\n" and (out[-1] if out else "").endswith("\r") and not part:
            end = "\r\n"  # CR then LF would be one line break, CRLF
        out.append(part + end)
    return "".join(out) + parts[-1]


@pytest.mark.parametrize("newline", sorted(NEWLINES))
def test_noqa_covers_its_own_row_whatever_the_line_ends(tmp_path, newline):
    path = tmp_path / "a.py"
    path.write_bytes(with_newlines(FINDINGS, NEWLINES[newline]).encode())
    lf = tmp_path / "lf"
    lf.mkdir()
    (lf / "a.py").write_text(FINDINGS)
    assert run_cli(["check", "a.py"], tmp_path).stdout == run_cli(["check", "a.py"], lf).stdout


@pytest.mark.parametrize("newline", sorted(NEWLINES))
def test_add_noqa_on_any_line_ends(tmp_path, newline):
    path = tmp_path / "a.py"
    path.write_bytes(with_newlines(FINDINGS, NEWLINES[newline]).encode())
    assert run_cli(["check", "--add-noqa", "a.py"], tmp_path).stdout == "Added 5 noqa directives.\n"
    assert path.read_bytes() == with_newlines(WITH_NOQA, NEWLINES[newline]).encode()


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=programs(), mixed=st.integers(1, 2**40))
def test_line_ends_change_no_finding_and_no_added_noqa(program, mixed):
    """The same program with LF, CR, CRLF or mixed line ends: the same findings, and
    `--add-noqa` adds the same directives on the same rows."""
    text = decode(program)
    variants = [with_newlines(text, nl) for nl in NEWLINES.values()] + [with_newlines(text, "", mixed)]
    reports = []
    for variant in variants:
        source = SourceText(variant)
        found = [d for d in lint_source(variant, "prog.py", Settings(select=("ALL",))) if d.code != "CL000"]
        edits = add_noqa_edits(source, [d for d in found if d.code != "CL900"])
        reports.append(([(d.code, d.start, d.end) for d in found], [(e.start, e.end, e.content) for e in edits]))
    assert all(report == reports[0] for report in reports[1:])


@pytest.mark.parametrize("text", [
    # split only because black counts the comment: joined once it is gone
    "import torch\nimport torch.nn as nn\n\nmodel = nn.Conv2d(3, 8, 3)\n"
    "model = torch.nn.utils.convert_conv2d_weight_memory_format(\n    model, torch.channels_last\n)  # noqa: CL102\n",
    # a CL101 rewrite of the same statement in the same run: laid out without the comment
    "import torch\nimport torch.nn as nn\n\nmodel = nn.Conv2d(3, 8, 3)\n"
    "model = model.to(memory_format=torch.channels_last)  # noqa: CL102\n",
    # a directive inside a split call with a magic trailing comma: it stays split
    "import torch\n\nimages = torch.randn(1, 3, 8, 8)\nimages = images.to(\n"
    "    memory_format=torch.channels_last,  # noqa: CL101\n)\n",
    # a comment that says more than the directive: kept, and the statement with it
    "import torch\n\nimages = torch.randn(1, 3, 8, 8)\nimages = images.to(\n"
    "    device='cpu', memory_format=torch.channels_last\n)  # noqa: CL101 -- keep this, it's a long explanation\n",
])
def test_cl900_leaves_a_black_formatted_statement_as_black_formats_it(tmp_path, text):
    black = pytest.importorskip("black")
    mode = black.Mode()
    text = black.format_str(text, mode=mode)
    (tmp_path / "prog.py").write_text(text)
    run_cli(["fix", "--isolated", "--write", "--extend-select", "CL900", "prog.py"], tmp_path)
    fixed = (tmp_path / "prog.py").read_text()
    assert "noqa" not in fixed and fixed != text
    assert black.format_str(fixed, mode=mode) == fixed
    assert ("keep this" in fixed) == ("keep this" in text)


CHAIN = """\
import torch
from torch import nn

model = (
    nn.Sequential(nn.Conv2d(3, 8, 3))
    .to("cpu")
    .to(memory_format=torch.channels_last)  # NHWC
    .eval()
)
"""


def test_a_chains_finding_is_suppressed_shown_and_judged_on_the_line_of_its_to(tmp_path):
    """The finding starts where the call does (Ruff's convention, line 5); `--add-noqa`
    writes its directive on the line of the `.to(` (7), which `full` shows, which
    suppresses the finding, and which CL900 counts as used (and, once it names another
    code, removes)."""
    write(tmp_path, {"a.py": CHAIN})
    assert run_cli(["check", "a.py"], tmp_path).stdout.startswith("a.py:5:5: CL101")
    full = run_cli(["check", "--output-format", "full", "a.py"], tmp_path).stdout
    assert "7 | |     .to(memory_format=torch.channels_last)  # NHWC" in full
    assert run_cli(["check", "--add-noqa", "a.py"], tmp_path).stdout == "Added 1 noqa directive.\n"
    noqa = CHAIN.replace("# NHWC", "# NHWC  # noqa: CL101")
    assert (tmp_path / "a.py").read_text() == noqa
    assert run_cli(["check", "--extend-select", "CL900", "a.py"], tmp_path).stdout == "All checks passed!\n"
    write(tmp_path, {"a.py": noqa.replace("CL101", "CL102")})
    judged = run_cli(["check", "--extend-select", "CL900", "a.py"], tmp_path).stdout
    assert "a.py:7:" in judged and "CL900" in judged and "a.py:5:5: CL101" in judged
    run_cli(["fix", "--write", "--extend-select", "CL900", "a.py"], tmp_path)
    assert "noqa" not in (tmp_path / "a.py").read_text() and "# NHWC" in (tmp_path / "a.py").read_text()
