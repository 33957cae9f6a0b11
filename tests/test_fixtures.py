"""Every fixture under fixtures/ through the CLI: check output, fix output, idempotence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixture_cases import Case, all_cases, check_output, doc_cases, fixed_bytes, run_cli

CASES = all_cases() + doc_cases()


def test_there_are_enough_cases():
    # The issue asks for at least 40 cases, half of them negative.
    assert len(CASES) >= 40
    negative = [c for c in CASES if c.expected(".txt").read_text() == "All checks passed!\n"]
    assert 2 * len(negative) >= len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_check_output(case: Case):
    output, code = check_output(case)
    expected = case.expected(".txt").read_text()
    assert output == expected
    assert code == (0 if expected == "All checks passed!\n" else 1)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fix_output(case: Case, unsafe: bool):
    assert fixed_bytes(case, unsafe) == case.expected_fixed(unsafe)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fix_is_idempotent_and_leaves_nothing_fixable(case: Case, tmp_path: Path):
    work = tmp_path / "case"
    shutil.copytree(case.path.parent, work)
    target = work / case.path.name
    run_cli(["fix", "--write", "--unsafe-fixes", target.name], work)
    once = target.read_bytes()
    second = run_cli(["fix", "--write", "--unsafe-fixes", target.name], work)
    assert target.read_bytes() == once
    assert "Fixed 0 errors" in second.stdout
    after = run_cli(["check", "--unsafe-fixes", "--output-format", "concise", target.name], work)
    assert "[*]" not in after.stdout


@pytest.mark.parametrize("case", [c for c in CASES if c.expected(".fixed").exists()], ids=lambda c: c.id)
def test_fix_without_write_prints_the_diff_and_exits_1(case: Case):
    before = case.path.read_bytes()
    result = run_cli(["fix", case.path.name], case.path.parent)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"--- a/{case.path.name}\n+++ b/{case.path.name}\n")
    assert case.path.read_bytes() == before  # nothing written
