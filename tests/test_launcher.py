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


def launch(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, env=env)
    *output, probe = proc.stdout.splitlines()
    _, code, used_click, used_linter = probe.split()
    return "\n".join(output) + ("\n" if output else ""), int(code), used_click == "True" or used_linter == "True"


def test_needed_words_are_those_of_the_default_rules():
    assert set(DEFAULT_NEEDED_WORDS) == set(_needed_words(rules_for("a.py", Settings())))


@pytest.mark.parametrize("args", [["check", "a.py"], ["check", "--force-exclude", "a.py", "b.py"]])
def test_clean_files_take_the_fast_path_and_say_what_the_cli_says(tmp_path, args):
    write(tmp_path, {"a.py": CLEAN, "b.py": "import torch\nx = torch.zeros(1).to(memory_format=torch.contiguous_format)\n"})
    output, code, slow = launch(args, tmp_path)
    assert not slow
    full = run_cli(args, tmp_path)
    assert (output, code) == (full.stdout, full.exit_code) == ("All checks passed!\n", 0)


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
