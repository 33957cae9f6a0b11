"""`check` with Ruff's fix flags (--fix, --fix-only, --diff, --exit-non-zero-on-fix), which
share `fix`'s code, and `check --watch`."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading

import pytest

from convlint.watch import PollingWatcher, config_files, file_changes, poll_changes, relevant, watch
from tests.fixture_cases import ROOT, run_cli
from tests.test_cli import BAD, CLEAN, UNSAFE, write

FIXED = BAD.replace("model.to(memory_format=torch.channels_last)",
                    "torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)")
TREE = {"bad.py": BAD, "maybe.py": UNSAFE, "clean.py": CLEAN}


def test_check_fix_writes_what_fix_write_writes_and_reports_what_remains(tmp_path):
    write(tmp_path / "a", TREE)
    write(tmp_path / "b", TREE)
    result = run_cli(["check", "--fix"], tmp_path / "a")
    run_cli(["fix", "--write"], tmp_path / "b")
    for name in TREE:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "bad.py").read_text() == FIXED
    assert result.exit_code == 1  # the unsafe one remains
    lines = result.stdout.splitlines()
    assert lines[0].startswith("maybe.py:4:5: CL101 `.to(")
    assert lines[1:] == [
        "Found 2 errors (1 fixed, 1 remaining).",
        "No fixes available (1 fixable with `convlint check --fix --unsafe-fixes`).",
    ]


def test_check_fix_unsafe_fixes_everything_and_exits_0(tmp_path):
    write(tmp_path, TREE)
    result = run_cli(["check", "--fix", "--unsafe-fixes"], tmp_path)
    assert (result.exit_code, result.stdout) == (0, "Found 2 errors (2 fixed, 0 remaining).\n")
    again = run_cli(["check", "--fix"], tmp_path)
    assert (again.exit_code, again.stdout) == (0, "All checks passed!\n")


def test_exit_non_zero_on_fix(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    assert run_cli(["check", "--fix", "--exit-non-zero-on-fix"], tmp_path).exit_code == 1
    assert run_cli(["check", "--fix", "--exit-non-zero-on-fix"], tmp_path).exit_code == 0  # nothing left to fix
    write(tmp_path, {"bad.py": BAD})
    assert run_cli(["check", "--fix", "--exit-non-zero-on-fix", "--exit-zero"], tmp_path).exit_code == 0


def test_fix_only_applies_and_says_how_many(tmp_path):
    write(tmp_path, TREE)
    result = run_cli(["check", "--fix-only"], tmp_path)
    assert (result.exit_code, result.stdout) == (0, "Fixed 1 error (1 more with `--unsafe-fixes`).\n")
    assert (tmp_path / "bad.py").read_text() == FIXED and (tmp_path / "maybe.py").read_text() == UNSAFE
    again = run_cli(["check", "--fix-only"], tmp_path)
    assert (again.exit_code, again.stdout) == (0, "No errors fixed (1 more with `--unsafe-fixes`).\n")
    write(tmp_path, {"bad.py": BAD})
    assert run_cli(["check", "--fix-only", "--exit-non-zero-on-fix"], tmp_path).exit_code == 1
    assert run_cli(["check", "--fix-only", "-q", "--unsafe-fixes"], tmp_path).stdout == ""


def test_show_fixes_with_fix_counts_what_was_applied(tmp_path):
    write(tmp_path, TREE)
    out = run_cli(["check", "--fix", "--show-fixes"], tmp_path).stdout
    assert "Fixed 1 error:\n- bad.py:\n    1 × CL101 (module-to-channels-last)\n" in out
    assert out.endswith("Found 2 errors (1 fixed, 1 remaining).\nNo fixes available (1 fixable with `convlint check --fix --unsafe-fixes`).\n")


def test_check_diff_is_fix_diff_and_writes_nothing(tmp_path):
    write(tmp_path, TREE)
    diff = run_cli(["check", "--diff"], tmp_path)
    same = run_cli(["fix", "--diff"], tmp_path)
    assert (diff.stdout, diff.stderr, diff.exit_code) == (same.stdout, same.stderr, same.exit_code)
    assert diff.stdout.startswith("--- a/bad.py\n+++ b/bad.py\n") and diff.exit_code == 1
    assert diff.stderr == "Would fix 1 error in 1 file (1 remaining).\n"
    assert (tmp_path / "bad.py").read_text() == BAD
    assert run_cli(["check", "--fix", "--diff"], tmp_path).stdout == diff.stdout  # --diff wins: nothing written
    assert (tmp_path / "bad.py").read_text() == BAD
    clean = run_cli(["check", "--diff", "clean.py"], tmp_path)
    assert (clean.exit_code, clean.stdout) == (0, "")


def test_check_fix_on_standard_input_prints_the_fixed_source(tmp_path):
    result = run_cli(["check", "--fix", "--stdin-filename", "m.py", "-"], tmp_path, input=BAD + UNSAFE.replace("import torch\n", ""))
    assert result.stdout == FIXED + UNSAFE.replace("import torch\n", "")
    assert result.exit_code == 1 and result.stderr.startswith("m.py:8:5: CL101 `.to(")  # what remains, on stderr
    only = run_cli(["check", "--fix-only", "-"], tmp_path, input=BAD)
    assert (only.stdout, only.stderr, only.exit_code) == (FIXED, "", 0)
    diff = run_cli(["check", "--diff", "--stdin-filename", "m.py"], tmp_path, input=BAD)
    assert diff.stdout.startswith("--- a/m.py\n+++ b/m.py\n") and diff.exit_code == 1


def test_check_fix_with_json_gives_the_edits_of_what_remains(tmp_path):
    write(tmp_path, TREE)
    items = json.loads(run_cli(["check", "--fix", "--output-format", "json"], tmp_path).stdout)
    (left,) = items
    assert left["filename"].endswith("maybe.py") and left["fix"]["applicability"] == "unsafe"
    assert left["fix"]["edits"][0]["content"] == "torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)"


def test_flags_that_cannot_go_together(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    for args in (["--add-noqa", "--fix"], ["--add-noqa", "--watch"], ["--watch", "-"]):
        result = run_cli(["check", *args], tmp_path, input="")
        assert result.exit_code == 2, args
    assert (tmp_path / "bad.py").read_text() == BAD


# --------------------------------------------------------------------------- --watch


def test_watch_checks_then_checks_again_after_each_change():
    calls, said = [], []
    watch(lambda: calls.append(len(calls)), iter([{"a.py"}, {"b.py", "c.py"}]), said.append)
    assert calls == [0, 1, 2]
    assert said == ["Starting linter in watch mode...", "File change detected...", "File change detected..."]


def test_polling_sees_files_change_appear_and_disappear(tmp_path):
    write(tmp_path, {"a.py": CLEAN, "b.py": CLEAN})
    files = lambda: sorted(str(p) for p in tmp_path.glob("*.py"))  # noqa: E731
    watcher = PollingWatcher(files)
    assert watcher.changed() == set()
    (tmp_path / "a.py").write_text(BAD)  # another size: seen whatever the clock's resolution
    (tmp_path / "c.py").write_text(CLEAN)
    (tmp_path / "b.py").unlink()
    assert watcher.changed() == {str(tmp_path / n) for n in ("a.py", "b.py", "c.py")}
    assert watcher.changed() == set()


def test_polling_yields_only_batches_with_changes(tmp_path):
    write(tmp_path, {"a.py": CLEAN})
    path = tmp_path / "a.py"
    looks = iter([CLEAN, BAD])  # nothing changes at the first look, a.py at the second

    def sleep(_seconds):
        text = next(looks)
        if path.read_text() != text:
            path.write_text(text)

    changes = poll_changes(PollingWatcher(lambda: [str(path)]), sleep=sleep)
    assert next(changes) == {str(path)}


def test_without_watchfiles_the_changes_come_from_polling(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # `import watchfiles` raises ImportError
    changes = file_changes([str(tmp_path)], lambda: [])
    assert changes.gi_code.co_name == "poll_changes"


def test_what_counts_as_a_change():
    assert relevant("/x/m.py") and relevant("nb.ipynb") and relevant("/p/pyproject.toml") and relevant(".convlint.toml")
    assert not relevant("/x/notes.txt") and not relevant("/x/m.pyc")


def test_config_files_above_the_paths(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "pkg/convlint.toml": "", "pkg/sub/m.py": CLEAN})
    found = config_files([str(tmp_path / "pkg" / "sub" / "m.py")])
    assert str(tmp_path / "pyproject.toml") in found and str(tmp_path / "pkg" / "convlint.toml") in found


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def _wait_for(lines: queue.Queue, text: str, seen: list[str]) -> None:
    while not any(text in line for line in seen):
        seen.append(lines.get(timeout=120))  # a generous bound: a busy machine is slow, not wrong


@pytest.mark.parametrize("events", [True, False], ids=["watchfiles", "polling"])
def test_watch_in_a_real_process_rechecks_an_edited_file(tmp_path, events):
    if events:
        pytest.importorskip("watchfiles")
    write(tmp_path, {"bad.py": BAD})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Without watchfiles importable, the polling fallback runs.
    code = "import sys; sys.modules['watchfiles'] = None\n" if not events else ""
    code += "from convlint.cli import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", code, "check", "--watch", "--output-format", "concise", "."],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _wait_for(lines, "Found 1 error.", seen)
        (tmp_path / "bad.py").write_text(FIXED)
        _wait_for(lines, "All checks passed!", seen)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert any("Starting linter in watch mode..." in line for line in seen)
    assert any("File change detected..." in line for line in seen)
