"""The command line: output formats, footer, exit codes, selection, config, discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fixture_cases import ROOT, run_cli

BAD = textwrap.dedent(
    """\
    import torch
    import torch.nn as nn

    model = nn.Conv2d(3, 8, 3)
    model = model.to(memory_format=torch.channels_last)
    """
)
UNSAFE = textwrap.dedent(
    """\
    import torch

    def go(model):
        model.to(memory_format=torch.channels_last)
    """
)
CLEAN = "import os\nprint(os.getcwd())\n"
TENSOR_ONLY = "import torch\nx = torch.zeros(1, 3, 2, 2).to(memory_format=torch.channels_last)\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_clean_tree_passes(tmp_path):
    write(tmp_path, {"a.py": CLEAN, "b.py": TENSOR_ONLY})
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 0
    assert result.stdout == "All checks passed!\n"


def test_findings_footer_and_exit_1(tmp_path):
    write(tmp_path, {"bad.py": BAD, "maybe.py": UNSAFE})
    result = run_cli(["check"], tmp_path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bad.py:5:9: CL101 [*] ")
    assert lines[1].startswith("maybe.py:4:5: CL101 `.to(")  # unsafe: no [*]
    assert lines[2:] == [
        "Found 2 errors.",
        "[*] 1 fixable with `convlint fix --write` (1 more with `--unsafe-fixes`).",
    ]


def test_unsafe_fixes_flag_counts_unsafe_as_fixable(tmp_path):
    write(tmp_path, {"maybe.py": UNSAFE})
    result = run_cli(["check", "--unsafe-fixes"], tmp_path)
    assert "maybe.py:4:5: CL101 [*]" in result.stdout
    assert "[*] 1 fixable with `convlint fix --write --unsafe-fixes`." in result.stdout


def test_only_unsafe_fixes_footer(tmp_path):
    write(tmp_path, {"maybe.py": UNSAFE})
    result = run_cli(["check"], tmp_path)
    assert result.stdout.splitlines()[-1] == (
        "No fixes available (1 fixable with `convlint fix --write --unsafe-fixes`)."
    )


def test_exit_zero(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    result = run_cli(["check", "--exit-zero"], tmp_path)
    assert result.exit_code == 0
    assert "CL101" in result.stdout


def test_json_output_is_ruff_shaped(tmp_path):
    write(tmp_path, {"bad.py": BAD, "maybe.py": UNSAFE})
    result = run_cli(["check", "--output-format", "json"], tmp_path)
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    # Absolute paths and Ruff's keys, in Ruff's (sorted) order.
    assert [i["filename"] for i in items] == [str(tmp_path / "bad.py"), str(tmp_path / "maybe.py")]
    first = items[0]
    # Ruff's keys, and convlint's `reason` in its sorted place.
    assert list(first) == ["cell", "code", "end_location", "filename", "fix", "location", "message", "name",
                           "noqa_row", "reason", "severity", "url"]
    assert list(first["fix"]) == ["applicability", "edits", "message"]
    assert list(first["location"]) == ["column", "row"]
    assert (first["cell"], first["name"], first["noqa_row"], first["severity"]) == (None, "module-to-channels-last", 5, "error")
    assert first["url"] == "https://github.com/convlint/convlint#cl101-module-to-channels-last"
    assert first["reason"].startswith("`model` = ")
    assert first["code"] == "CL101"
    assert first["location"] == {"row": 5, "column": 9}
    assert first["end_location"] == {"row": 5, "column": 52}
    assert first["fix"]["applicability"] == "safe"
    assert first["fix"]["edits"] == [
        {
            "content": "torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)",
            "location": {"row": 5, "column": 9},
            "end_location": {"row": 5, "column": 52},
        }
    ]
    assert items[1]["fix"]["applicability"] == "unsafe"


def test_json_edits_apply_to_the_fixed_source(tmp_path):
    """The edits JSON reports are exactly what `fix --write` writes."""
    write(tmp_path, {"bad.py": "import timm\nfrom torch import channels_last\nm = timm.create_model('x')\nm.to(memory_format=channels_last)\n"})
    items = json.loads(run_cli(["check", "--output-format", "json"], tmp_path).stdout)
    lines = (tmp_path / "bad.py").read_text().splitlines(keepends=True)
    for edit in sorted(items[0]["fix"]["edits"], key=lambda e: (e["location"]["row"], e["location"]["column"]), reverse=True):
        row, col = edit["location"]["row"], edit["location"]["column"]
        end_row, end_col = edit["end_location"]["row"], edit["end_location"]["column"]
        text = "".join(lines)
        start = sum(len(x) for x in lines[: row - 1]) + col - 1
        end = sum(len(x) for x in lines[: end_row - 1]) + end_col - 1
        lines = (text[:start] + edit["content"] + text[end:]).splitlines(keepends=True)
    run_cli(["fix", "--write"], tmp_path)
    assert "".join(lines) == (tmp_path / "bad.py").read_text()


def test_github_output(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    result = run_cli(["check", "--output-format", "github"], tmp_path)
    assert result.stdout.startswith(
        "::error file=bad.py,line=5,col=9,endLine=5,endColumn=52,title=CL101::CL101 `.to(memory_format=channels_last)`"
    )
    assert result.stdout.count("\n") == 1


def test_select_and_ignore(tmp_path):
    write(tmp_path, {"bad.py": BAD, "video.py": BAD.replace("channels_last", "channels_last_3d")})
    assert "CL102" not in run_cli(["check", "--select", "CL101"], tmp_path).stdout
    ignored = run_cli(["check", "--ignore", "CL1"], tmp_path)
    assert ignored.exit_code == 0 and ignored.stdout == "All checks passed!\n"
    both = run_cli(["check", "--select", "CL", "--ignore", "CL101"], tmp_path).stdout
    assert "CL102" in both and "CL101 " not in both
    # The most specific selector wins, as in Ruff.
    specific = run_cli(["check", "--ignore", "CL1", "--extend-select", "CL102"], tmp_path).stdout
    assert "CL102" in specific and "CL101 " not in specific


def test_unknown_selector_is_a_usage_error(tmp_path):
    result = run_cli(["check", "--select", "XYZ1", "."], tmp_path)
    assert result.exit_code == 2
    assert "unknown rule selector `XYZ1`" in result.output


def test_missing_path_exits_2_and_still_checks_the_rest(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    result = run_cli(["check", "bad.py", "nope.py"], tmp_path)
    assert result.exit_code == 2
    assert "error: nope.py: No such file or directory" in result.stderr
    assert "bad.py:5:9: CL101" in result.stdout


def test_parallel_jobs_give_the_same_output(tmp_path):
    files = {f"pkg/m{i:02}.py": (BAD if i % 3 else UNSAFE) for i in range(24)}
    write(tmp_path, files)
    serial = run_cli(["check", "-j", "1", "--output-format", "json"], tmp_path)
    parallel = run_cli(["check", "-j", "2", "--output-format", "json"], tmp_path)
    assert serial.stdout == parallel.stdout
    assert len(json.loads(parallel.stdout)) == 24


def test_discovery_skips_vcs_venvs_builds_and_gitignored(tmp_path):
    write(
        tmp_path,
        {
            "src/bad.py": BAD,
            ".git/hooks/bad.py": BAD,
            ".venv/lib/bad.py": BAD,
            "venv/bad.py": BAD,
            "build/bad.py": BAD,
            "dist/bad.py": BAD,
            "node_modules/x/bad.py": BAD,
            "generated/bad.py": BAD,
            "src/secret_out.py": BAD,
            "src/keep_out.py": BAD,
            ".gitignore": "generated/\n*_out.py\n!keep_out.py\n",
        },
    )
    result = run_cli(["check", "."], tmp_path)
    paths = sorted(line.split(":")[0] for line in result.stdout.splitlines() if "CL101" in line)
    assert paths == ["src/bad.py", "src/keep_out.py"]


def test_nested_gitignore_and_no_respect_flag(tmp_path):
    write(tmp_path, {"a/bad.py": BAD, "a/sub/bad.py": BAD, "a/.gitignore": "sub\n"})
    assert run_cli(["check", "a"], tmp_path).stdout.count("CL101") == 1
    assert run_cli(["check", "--no-respect-gitignore", "a"], tmp_path).stdout.count("CL101") == 2


def test_gitignore_above_the_walk_root_applies_inside_a_repository(tmp_path):
    write(tmp_path, {".git/HEAD": "ref: refs/heads/main\n", ".gitignore": "vendored/\n", "src/vendored/bad.py": BAD, "src/bad.py": BAD})
    result = run_cli(["check", "src"], tmp_path)
    assert result.stdout.count("CL101") == 1


def test_explicit_file_is_checked_even_if_excluded_unless_force_exclude(tmp_path):
    write(tmp_path, {"build/bad.py": BAD})
    assert run_cli(["check", "build/bad.py"], tmp_path).exit_code == 1
    forced = run_cli(["check", "--force-exclude", "build/bad.py"], tmp_path)
    assert forced.exit_code == 0 and forced.stdout == "All checks passed!\n"


def test_exclude_flags(tmp_path):
    write(tmp_path, {"a/bad.py": BAD, "b/bad.py": BAD, "c/gen_pb2.py": BAD})
    out = run_cli(["check", "--extend-exclude", "a,*_pb2.py", "."], tmp_path).stdout
    assert out.startswith("b/bad.py:") and out.count("CL101") == 1


def test_config_file_settings(tmp_path):
    write(
        tmp_path,
        {
            "pyproject.toml": textwrap.dedent(
                """\
                [tool.convlint]
                extend-exclude = ["legacy"]
                per-file-ignores = { "tests/*.py" = ["CL101"] }
                fix-target = "convlint"
                """
            ),
            "legacy/bad.py": BAD,
            "tests/test_x.py": BAD,
            "src/bad.py": BAD,
        },
    )
    result = run_cli(["check", "."], tmp_path)
    # Excludes apply to walked directories; per-file-ignores to tests/.
    assert [line.split(":")[0] for line in result.stdout.splitlines() if "CL101" in line] == ["src/bad.py"]
    run_cli(["fix", "--write", "src"], tmp_path)
    assert "from convlint.runtime import convert_conv2d_weight_memory_format" in (tmp_path / "src/bad.py").read_text()


def test_config_is_found_from_the_first_path_upwards(tmp_path):
    write(tmp_path, {"proj/pyproject.toml": "[tool.convlint]\nignore = ['CL101']\n", "proj/pkg/bad.py": BAD})
    assert run_cli(["check", "proj/pkg"], tmp_path).exit_code == 0
    assert run_cli(["check", "--isolated", "proj/pkg"], tmp_path).exit_code == 1
    # Command-line flags win over the file.
    assert run_cli(["check", "--select", "CL101", "proj/pkg"], tmp_path).exit_code == 0  # ignore still applies
    assert run_cli(["check", "--config", str(tmp_path / "none.toml"), "proj/pkg"], tmp_path).exit_code == 2


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[tool.convlint]\nselct = ['CL1']\n", "unknown key `selct`"),
        ("[tool.convlint]\nselect = 'CL1'\n", "select must be a list of strings"),
        ("[tool.convlint]\nselect = ['ZZ9']\n", "unknown rule selector `ZZ9`"),
        ("[tool.convlint]\nfix-target = 'jax'\n", "fix-target must be one of"),
        ("[tool.convlint\n", "invalid TOML"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path, toml, message):
    write(tmp_path, {"pyproject.toml": toml, "bad.py": BAD})
    result = run_cli(["check", "--config", "pyproject.toml", "."], tmp_path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fix_write_summary_and_exit_codes(tmp_path):
    write(tmp_path, {"bad.py": BAD, "maybe.py": UNSAFE, "clean.py": CLEAN})
    result = run_cli(["fix", "--write"], tmp_path)
    assert result.stdout.splitlines()[-1] == "Fixed 1 error in 1 file (1 remaining)."
    assert result.exit_code == 1  # the unsafe one remains
    assert "convert_conv2d_weight_memory_format(model, torch.channels_last)" in (tmp_path / "bad.py").read_text()
    assert (tmp_path / "maybe.py").read_text() == UNSAFE
    result = run_cli(["fix", "--write", "--unsafe-fixes"], tmp_path)
    assert result.stdout.splitlines()[-1] == "Fixed 1 error in 1 file (0 remaining)."
    assert result.exit_code == 0
    assert (tmp_path / "clean.py").read_text() == CLEAN


def test_fix_on_a_clean_tree_changes_nothing(tmp_path):
    write(tmp_path, {"clean.py": CLEAN, "t.py": TENSOR_ONLY})
    diff = run_cli(["fix", "--diff"], tmp_path)
    assert diff.exit_code == 0 and diff.stdout == ""
    assert run_cli(["fix", "--write"], tmp_path).stdout == "Fixed 0 errors in 0 files (0 remaining).\n"


def test_write_and_diff_conflict(tmp_path):
    assert run_cli(["fix", "--write", "--diff", "."], tmp_path).exit_code == 2


def test_rule_command():
    one = run_cli(["rule", "CL101"], ROOT)
    assert one.exit_code == 0
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety"):
        assert section in one.stdout
    everything = run_cli(["rule", "--all"], ROOT).stdout
    assert "(CL101)" in everything and "(CL102)" in everything and "(CL000)" in everything
    assert run_cli(["rule", "CL999"], ROOT).exit_code == 2


def test_show_reasons_prints_why_under_each_finding_and_the_rule_docs_say_so(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    plain = run_cli(["check", "--isolated", "--output-format", "concise", "bad.py"], tmp_path).stdout.splitlines()
    shown = run_cli(["check", "--isolated", "--output-format", "concise", "--show-reasons", "bad.py"],
                    tmp_path).stdout.splitlines()
    reason = json.loads(run_cli(["check", "--isolated", "--output-format", "json", "bad.py"], tmp_path).stdout)[0]["reason"]
    assert reason == "`model` = `nn.Conv2d(3, 8, 3)` (bad.py:4): torch.nn.Conv2d is a module class"
    assert shown == [plain[0], f"  reason: {reason}", *plain[1:]]
    assert "--show-reasons" in run_cli(["rule", "CL101"], ROOT).stdout


def test_python_dash_m_and_console_script(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    for command in ([sys.executable, "-m", "convlint"], ["convlint"]):
        proc = subprocess.run([*command, "check", "bad.py"], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout.startswith("bad.py:5:9: CL101 [*]")


IMPORT_PROBE = """
import sys
from click.testing import CliRunner
from convlint.cli import main
result = CliRunner().invoke(main, sys.argv[1:])
print(result.exit_code, ",".join(m for m in ("libcst", "torch") if m in sys.modules))
"""


@pytest.mark.parametrize(
    "files, args, expected",
    [
        ({"clean.py": CLEAN}, ["check", "."], "0 "),
        ({"t.py": TENSOR_ONLY, "clean.py": CLEAN}, ["check", "."], "0 "),
        ({"bad.py": BAD}, ["check", "."], "1 "),  # findings without fixes computed: no libcst
        ({"bad.py": BAD}, ["fix", "."], "1 "),  # a fix is computed on tokens: no libcst, never torch
    ],
    ids=["clean", "tensor-only", "findings", "fix"],
)
def test_check_imports_neither_libcst_nor_torch(tmp_path, files, args, expected):
    write(tmp_path, files)
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, *args], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout.strip() == expected.strip(), proc.stderr


def test_check_stdin_uses_the_filename_and_its_config(tmp_path):
    write(tmp_path, {"proj/pyproject.toml": "[tool.convlint]\nper-file-ignores = { 'legacy/*' = ['CL1'] }\n"})
    result = run_cli(["check", "--stdin-filename", "proj/src/m.py", "-"], tmp_path, input=BAD)
    assert result.exit_code == 1
    assert result.stdout.startswith("proj/src/m.py:5:9: CL101 [*]")
    ignored = run_cli(["check", "--stdin-filename", "proj/legacy/m.py"], tmp_path, input=BAD)
    assert ignored.exit_code == 0


def test_fix_stdin_prints_the_fixed_source(tmp_path):
    result = run_cli(["fix", "--stdin-filename", "m.py", "-"], tmp_path, input=BAD)
    assert result.exit_code == 0
    assert result.stdout == BAD.replace(
        "model.to(memory_format=torch.channels_last)",
        "torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)",
    )
    untouched = run_cli(["fix", "--stdin-filename", "m.py", "-"], tmp_path, input=UNSAFE)
    assert untouched.stdout == UNSAFE and untouched.exit_code == 1
    assert "m.py:4:5: CL101" in untouched.stderr
    diff = run_cli(["fix", "--diff", "--stdin-filename", "m.py", "-"], tmp_path, input=BAD)
    assert diff.stdout.startswith("--- a/m.py\n+++ b/m.py\n") and diff.exit_code == 1


def test_stdin_cannot_be_mixed_with_paths(tmp_path):
    assert run_cli(["check", "-", "a.py"], tmp_path, input=BAD).exit_code == 2


def test_force_exclude_applies_to_the_stdin_filename(tmp_path):
    result = run_cli(["fix", "--force-exclude", "--stdin-filename", "build/m.py", "-"], tmp_path, input=BAD)
    assert result.stdout == BAD and result.exit_code == 0


def test_large_trees_are_scanned_by_the_workers_with_the_same_output(tmp_path, monkeypatch):
    from convlint import runner

    files = {f"pkg{i % 3}/m{i:03}.py": (BAD, UNSAFE, CLEAN, TENSOR_ONLY)[i % 4] for i in range(80)}
    write(tmp_path, files)
    (tmp_path / "pkg0" / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    serial = run_cli(["check", "-j", "1", "--output-format", "json"], tmp_path)
    monkeypatch.setattr(runner, "PARALLEL_SCAN_FILES", 10)
    monkeypatch.setattr(runner, "SCAN_CHUNK", 7)
    parallel = run_cli(["check", "-j", "2", "--output-format", "json"], tmp_path)
    assert serial.stdout == parallel.stdout and serial.stderr == parallel.stderr
    assert len(json.loads(parallel.stdout)) == 40 and parallel.exit_code == 2
    fixed = run_cli(["fix", "--write", "-j", "2"], tmp_path)
    assert "Fixed 20 errors in 20 files" in fixed.stdout


def test_config_written_as_a_tool_table_with_a_convlint_key_is_found(tmp_path):
    write(tmp_path, {"pyproject.toml": "[tool]\nconvlint = { ignore = ['CL101'] }\n", "bad.py": BAD})
    assert run_cli(["check", "bad.py"], tmp_path).exit_code == 0
