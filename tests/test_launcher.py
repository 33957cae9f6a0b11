"""The entry point's fast path: `check FILE...` on files that cannot have a finding answers
without click or the linter (lint.py), and says exactly what the full CLI says."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from convlint.config import Settings
from convlint.lint import _needed_words, rules_for
from convlint.launcher import DEFAULT_NEEDED_WORDS
from tests.fixture_cases import ROOT, run_cli
from tests.test_cli import BAD, CLEAN, TENSOR_ONLY, write

PROBE = """
import sys
sys.argv = ["convlint", *sys.argv[1:]]
from convlint.launcher import main
try:
    main()
except SystemExit as e:
    code = e.code
print("exit", code, "click" in sys.modules, "convlint.lint" in sys.modules)
"""


def probe(args, cwd, **env):
    """(stdout, stderr, exit code, whether click was imported, whether the linter was)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, env=env)
    *output, last = proc.stdout.splitlines()
    _, code, used_click, used_linter = last.split()
    return "\n".join(output) + ("\n" if output else ""), proc.stderr, int(code), used_click == "True", used_linter == "True"


def launch(args, cwd):
    output, _, code, used_click, used_linter = probe(args, cwd)
    return output, code, used_click or used_linter


def test_needed_words_are_those_of_the_default_rules():
    assert set(DEFAULT_NEEDED_WORDS) == set(_needed_words(rules_for("a.py", Settings())))


def test_the_configuration_files_are_those_config_reads():
    from convlint.config import CONFIG_NAMES as READ
    from convlint.launcher import CONFIG_NAMES

    assert CONFIG_NAMES == READ


@pytest.mark.parametrize("args", [["check", "a.py"], ["check", "--force-exclude", "a.py", "b.py"]])
def test_clean_files_take_the_fast_path_and_say_what_the_cli_says(tmp_path, args):
    write(tmp_path, {"a.py": CLEAN, "b.py": "import torch\nx = torch.zeros(1).to(memory_format=torch.contiguous_format)\n"})
    output, code, slow = launch(args, tmp_path)
    assert not slow
    full = run_cli(args, tmp_path)
    assert (output, code) == (full.stdout, full.exit_code) == ("All checks passed!\n", 0)


@pytest.mark.parametrize("files, fast", [
    ({"pyproject.toml": "[project]\nname = 'x'\n"}, True),  # no convlint in it: not a configuration
    ({"pyproject.toml": "[project]\ndependencies = ['convlint']\n"}, False),  # names convlint: the CLI reads it
    ({"../.convlint.toml": "select = ['CL']\n"}, False),  # a configuration above
    ({"../pyproject.toml": "[tool.convlint]\nselect = ['CL']\n"}, False),
], ids=["pyproject-without-convlint", "pyproject-naming-convlint", "convlint-toml-above", "table-above"])
def test_the_fast_path_leaves_any_configuration_to_the_cli(tmp_path, files, fast):
    """The launcher looks for configuration files without importing config.py; where one may
    apply, the CLI decides, and the answer is the same either way."""
    work = tmp_path / "work"
    work.mkdir()
    write(work, {"a.py": CLEAN, **files})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "import sys; sys.argv = ['convlint', 'check', 'a.py']\nfrom convlint.launcher import main\ntry:\n    main()\n" \
           "except SystemExit:\n    pass\nprint('config' if 'convlint.config' in sys.modules else 'none')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True, env=env)
    *output, imported = proc.stdout.splitlines()
    assert (imported == "none") is fast
    full = run_cli(["check", "a.py"], work)
    assert "".join(line + "\n" for line in output) == full.stdout == "All checks passed!\n"


@pytest.mark.parametrize(
    "files, args",
    [
        ({"bad.py": BAD}, ["check", "bad.py"]),  # a finding
        ({"t.py": TENSOR_ONLY}, ["check", "t.py"]),  # a needed word: the linter decides
        ({"a.py": CLEAN, "pyproject.toml": "[tool.convlint]\nselect = ['CL']\n"}, ["check", "a.py"]),  # config
        ({"a.py": CLEAN}, ["check", "a.py", "missing.py"]),  # a missing path
        ({"a.py": CLEAN}, ["check", "--output-format", "json", "a.py"]),  # another flag
        ({"a.py": CLEAN}, ["check", "."]),  # a directory
        ({"a.py": CLEAN}, ["fix", "a.py"]),
    ],
    ids=["finding", "needed-word", "config", "missing", "flag", "directory", "fix"],
)
def test_anything_else_goes_to_the_full_cli(tmp_path, files, args):
    write(tmp_path, files)
    output, code, slow = launch(args, tmp_path)
    assert slow
    full = run_cli(args, tmp_path)
    assert (output, code) == (full.stdout, full.exit_code)


PLAIN = {
    "bad.py": BAD,
    "pkg/clean.py": CLEAN,
    "pkg/t.py": TENSOR_ONLY,
    "pyproject.toml": "[tool.convlint]\nextend-select = ['CL9']\n",
}


@pytest.mark.parametrize("args", [["check"], ["check", "."], ["check", "bad.py", "pkg"], ["check", "pkg"]])
def test_a_check_with_no_flag_needs_no_click_and_says_what_the_cli_says(tmp_path, args):
    """`convlint check [PATHS]`: the commands run without click, with every flag at its
    default; output and exit code are the CLI's, on a cold run and on a warm one, which the
    cache answers without the linter."""
    write(tmp_path, PLAIN)
    for path in tmp_path.rglob("*"):  # older than the cache's racy window, so a stat decides
        os.utime(path, (path.stat().st_atime - 60, path.stat().st_mtime - 60))
    full = run_cli(args, tmp_path)
    cold = probe(args, tmp_path, CONVLINT_NO_CACHE="")  # the suite's switch off: the cache on
    warm = probe(args, tmp_path, CONVLINT_NO_CACHE="")
    assert cold[:3] == warm[:3] == (full.stdout, full.stderr, full.exit_code)
    assert not cold[3] and not warm[3]  # no click
    assert cold[4] and not warm[4]  # the linter only when the cache cannot answer
    assert ("bad.py" in full.stdout) is (args != ["check", "pkg"])


@pytest.mark.parametrize("files, args", [
    ({"a.py": CLEAN, "pyproject.toml": "[tool.convlint]\nselect = ['XX9']\n"}, ["check", "."]),  # bad config
    ({"bad.py": BAD}, ["check", "missing", "bad.py"]),  # a path that is not there
    ({"a.py": CLEAN}, ["check", "empty"]),  # no Python file under it
], ids=["config-error", "missing-path", "nothing-found"])
def test_a_plain_check_reports_errors_as_the_cli_does(tmp_path, files, args):
    write(tmp_path, files)
    (tmp_path / "empty").mkdir()
    full = run_cli(args, tmp_path)
    stdout, stderr, code, used_click, _ = probe(args, tmp_path, CONVLINT_NO_CACHE="")
    assert (stdout, stderr, code) == (full.stdout, full.stderr, full.exit_code)
    assert code != 0 or stderr
    assert not used_click


@pytest.mark.parametrize("args, env", [
    (["check", "--no-cache", "."], {}),
    (["check", "-"], {}),
    (["check", "."], {"CONVLINT_OUTPUT_FORMAT": "json"}),
    (["check", "."], {"CONVLINT_NO_CACHE": "1"}),
], ids=["flag", "stdin", "format-variable", "no-cache-variable"])
def test_flags_and_their_variables_go_to_click(tmp_path, args, env):
    write(tmp_path, {"bad.py": BAD})
    _, _, _, used_click, _ = probe(args, tmp_path, **{"CONVLINT_NO_CACHE": "", **env})
    assert used_click


def test_the_plain_checks_defaults_are_clicks():
    """commands.LINT_DEFAULTS is what click gives the lint options when none is given."""
    from convlint.cli import check
    from convlint.commands import LINT_DEFAULTS

    context = check.make_context("check", [])
    given = {name: context.params[name] for name in LINT_DEFAULTS}
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in given.items()} == \
        {k: list(v) if isinstance(v, tuple) else v for k, v in LINT_DEFAULTS.items()}
    assert set(context.params) - set(LINT_DEFAULTS) - {"paths"} == {
        p.name for p in check.params} - set(LINT_DEFAULTS) - {"paths"}


def test_an_interrupted_plain_check_ends_as_the_cli_does(tmp_path, monkeypatch, capsys):
    """Ctrl-C during `convlint check .`: "Aborted!" and exit 1, as click says it, not a
    traceback."""
    from convlint import commands

    def interrupted(*args):
        raise KeyboardInterrupt

    write(tmp_path, {"bad.py": BAD})
    monkeypatch.setattr(commands, "check_once", interrupted)
    full = run_cli(["check", "."], tmp_path)
    monkeypatch.chdir(tmp_path)
    code = commands.check_paths(["."])
    captured = capsys.readouterr()
    assert (captured.out, captured.err, code) == (full.stdout, full.stderr, full.exit_code) == ("", "\nAborted!\n", 1)


@pytest.mark.parametrize("flags", [[], ["--output-format", "concise"]], ids=["plain", "click"])
def test_a_closed_output_pipe_ends_the_run_quietly(tmp_path, flags):
    """`convlint check . | head`: when the reader has gone away, the run stops without a
    traceback or an "internal error", exit 1 (the reader is gone before the first write)."""
    write(tmp_path, {"bad.py": BAD})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONVLINT_NO_CACHE": ""}
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "convlint", "check", *flags, "."], cwd=tmp_path, env=env,
                              stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr and b"error" not in proc.stderr, proc.stderr
