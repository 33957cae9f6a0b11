"""`convlint verify` keeps its report whatever a target does to its process: each target runs
in a child process with a hard timeout (issue 10, items 17 and 20). Run through
`python -m convlint`, so that a regression shows as a failure, not as a hung test run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "fixtures/models/hostile.py"
GOOD = "fixtures/models/passing.py:SmallNet"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def run_verify(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "convlint", "verify", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_non_daemon_thread_left_by_a_target_does_not_hold_the_exit():
    result = run_verify(f"{HOSTILE}:leaves_a_thread", GOOD, timeout=60)
    assert result.returncode == 0, result.stderr
    summaries = [line for line in result.stdout.splitlines() if line.startswith("PASS")]
    assert len(summaries) == 2


def test_targets_that_hang_past_signals_or_kill_their_process_each_get_one_line():
    result = run_verify(f"{HOSTILE}:ignores_alarm", f"{HOSTILE}:catches_base_exception",
                        f"{HOSTILE}:segfaults", f"{HOSTILE}:exits_hard", GOOD,
                        "--timeout", "1", timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"convlint verify: error: {HOSTILE}:ignores_alarm: timed out after 1 s (--timeout) "
        "while importing and building it",
        f"convlint verify: error: {HOSTILE}:catches_base_exception: timed out after 1 s "
        "(--timeout) while importing and building it",
        f"convlint verify: error: {HOSTILE}:segfaults: its process was killed by SIGSEGV while "
        "importing and building it (a crash in native code?)",
        f"convlint verify: error: {HOSTILE}:exits_hard: its process exited with code 3 while "
        "importing and building it, before reporting (os._exit?)",
    ]
    assert result.stdout.splitlines()[-1].startswith(f"PASS {GOOD}: ")


def test_json_stays_valid_whatever_the_target_writes_to_fd_1():
    result = run_verify(f"{HOSTILE}:writes_to_fd_1", GOOD, "--output-format", "json")
    report = json.loads(result.stdout)  # nothing but the report on stdout
    assert result.returncode == report["exit_code"] == 0
    assert [target["exit_code"] for target in report["targets"]] == [0, 0]

    verbose = run_verify(f"{HOSTILE}:writes_to_fd_1", "--verbose")
    assert verbose.stderr.splitlines()[-4:] == [
        "  printf from C {", "  os.write to fd 1 }", "  os.write to fd 2",
        "  a child process prints [",
    ]


def test_json_never_holds_nan():
    result = run_verify(f"{HOSTILE}:NaNOut", "--input-shape", "1,3,8,8", "--output-format", "json")

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in the JSON report")

    report = json.loads(result.stdout, parse_constant=no_constants)
    assert result.returncode == report["exit_code"] == 1
    output = report["targets"][0]["output"]
    assert output["max_abs_diff"] is None and output["match"] is False
