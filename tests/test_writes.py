"""`fix --write` writes whole files or nothing: killed at any moment, or run twice at once."""

from __future__ import annotations

import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convlint.files import TEMPORARY_SUFFIX
from tests.fixture_cases import ROOT, run_cli

FILES = 200
# A fixed seed keeps CI stable; CONVLINT_KILL_SEED=<n> tries other moments.
SEED = int(os.environ.get("CONVLINT_KILL_SEED", "6"))
KILLS = 6


def make_tree(root: Path) -> Path:
    """FILES candidate files in ten packages: LF, CRLF, a BOM, executable ones."""
    tree = root / "tree"
    for i in range(FILES):
        text = (
            f"import torch\nimport torch.nn as nn\n\n\nclass Net{i}(nn.Module):\n"
            "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(3, 8, 3)\n\n\n"
            f"model = Net{i}().cuda()\nmodel = model.to(memory_format=torch.channels_last)\n"
            "images = torch.zeros(1, 3, 8, 8).to(memory_format=torch.channels_last)\n"
            "video = nn.Conv3d(1, 1, 1).to('cuda', memory_format=torch.channels_last_3d)  # keep\n"
        )
        data = text.replace("\n", "\r\n").encode() if i % 3 == 0 else text.encode()
        if i % 7 == 0:
            data = b"\xef\xbb\xbf" + data
        path = tree / f"pkg{i % 10}" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if i % 5 == 0 else 0o644)
    return tree


def snapshot(tree: Path) -> dict[str, bytes]:
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*.py"))}


def temporaries(tree: Path) -> list[Path]:
    return sorted(tree.rglob(f"*{TEMPORARY_SUFFIX}"))


def start_fix(tree: Path) -> subprocess.Popen:
    """`convlint fix --write` with two workers, in its own process group (so that a kill
    reaches the workers too, as a terminal's or a CI runner's does)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "convlint", "fix", "--write", "--isolated", "-j", "2", str(tree)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
    )


def reference(tmp_path: Path) -> tuple[Path, dict[str, bytes], dict[str, bytes], float]:
    """The tree, its files before, after one whole run, and how long that run took."""
    tree = make_tree(tmp_path / "original")
    before = snapshot(tree)
    fixed_tree = tmp_path / "fixed" / "tree"
    shutil.copytree(tree, fixed_tree)
    began = time.monotonic()
    done = start_fix(fixed_tree)
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err.decode()
    return tree, before, snapshot(fixed_tree), time.monotonic() - began


def assert_each_file_whole(tree: Path, before: dict[str, bytes], after: dict[str, bytes]) -> int:
    """Every file is the original or the fixed version; returns how many are fixed."""
    now = snapshot(tree)
    assert now.keys() == before.keys()
    broken = [name for name, data in now.items() if data not in (before[name], after[name])]
    assert not broken, f"neither original nor fixed: {broken[:5]}"
    return sum(now[name] == after[name] != before[name] for name in now)


def test_killed_fix_leaves_each_file_original_or_fixed(tmp_path):
    tree, before, after, duration = reference(tmp_path)
    assert all(before[name] != after[name] for name in before)  # every file is a candidate
    rng = random.Random(SEED)
    partial = 0
    for kill in range(KILLS):
        work = tmp_path / f"kill{kill}" / "tree"
        shutil.copytree(tree, work)
        process = start_fix(work)
        time.sleep(rng.uniform(0.3, 0.95) * duration)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        fixed = assert_each_file_whole(work, before, after)
        partial += 0 < fixed < FILES
        # A kill between creating a temporary and renaming it leaves the temporary: the
        # next run removes it, and finishes the job.
        rerun = start_fix(work)
        rerun.communicate(timeout=120)
        assert snapshot(work) == after
        assert temporaries(work) == []
    assert partial >= 2, "the kills should land while files are being written"


# Two moments to die at, exactly: a file size limit kills the writer (SIGXFSZ, which Python
# ignores unless told otherwise) after 200 bytes of the file, and a patched rename, after all.
KILL_POINTS = {
    "while writing": (
        (
            "import resource\nsignal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))\n"
        ),
        signal.SIGXFSZ,
    ),
    "before the rename": ("os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)\n", signal.SIGKILL),
}


@pytest.mark.parametrize("moment", sorted(KILL_POINTS))
def test_killed_at_an_exact_moment(tmp_path, moment):
    """The file is whole; the temporary a kill leaves behind, the next run removes."""
    tree, before, after, _ = reference(tmp_path)
    target = "pkg3/mod3.py"
    fault, expected_signal = KILL_POINTS[moment]
    script = (
        "import os, signal, sys\n" + fault + "from convlint.cli import main\n"
        f"sys.argv = ['convlint', 'fix', '--write', '--isolated', '-j', '1', {str(tree / target)!r}]\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, check=False)
    assert killed.returncode == -expected_signal, killed.stderr.decode()
    assert snapshot(tree) == before
    [leftover] = temporaries(tree)
    assert leftover.parent == (tree / target).parent and after[target].startswith(leftover.read_bytes())
    rerun = start_fix(tree)
    rerun.communicate(timeout=120)
    assert snapshot(tree) == after
    assert temporaries(tree) == []


def test_next_write_removes_temporaries_of_dead_writers_only(tmp_path):
    tree = make_tree(tmp_path)
    package = tree / "pkg1"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid, live_pid = int(gone.stdout), os.getpid()
    stale = package / f".mod1.py.{dead_pid}.k3x9_a1b{TEMPORARY_SUFFIX}"
    in_flight = package / f".mod11.py.{live_pid}.q8w7e6r5{TEMPORARY_SUFFIX}"
    stale.write_bytes(b"half a fi")
    in_flight.write_bytes(b"being written")
    result = run_cli(["fix", "--write", "--isolated", "-j", "1", "tree/pkg1/mod1.py"], tmp_path)
    assert result.exit_code == 0
    assert temporaries(tree) == [in_flight]  # a live process's temporary is left alone


def test_two_fixes_at_once_corrupt_nothing(tmp_path):
    tree, _, after, _ = reference(tmp_path)
    work = tmp_path / "both" / "tree"
    shutil.copytree(tree, work)
    first, second = start_fix(work), start_fix(work)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert snapshot(work) == after
    assert temporaries(work) == []
    for process, (out, err) in zip((first, second), outputs):
        # The only complaint allowed: the other run fixed a file first.
        lines = [line for line in err.decode().splitlines() if line]
        assert all(line.endswith("not written: the file changed on disk since it was read") for line in lines), lines
        assert process.returncode in (0, 2)
    modes = {p.relative_to(work).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in work.rglob("*.py")}
    assert {name for name, mode in modes.items() if mode == 0o755} == {
        f"pkg{i % 10}/mod{i}.py" for i in range(0, FILES, 5)
    }


# --------------------------------------------------------------------------- kill -9 of the parent

# Run as `python -c`: every fix in a worker waits until the parent that started it is dead,
# so that the kill lands while each worker holds a file, whatever the machine's speed. The
# markers say what the workers did: waiting.PID, wrote.PID, done.PID.N.
PARENT_KILL_SCRIPT = """
import itertools, os, sys, time
from convlint import lint_file, pool

marks, tree, variant = sys.argv[1:4]
real_fix_source, real_write, real_process = lint_file.fix_source, lint_file.write_atomic, lint_file.process_file
count = itertools.count()

def mark(name):
    open(os.path.join(marks, name), "w").close()

def fix_when_orphaned(*args, **kwargs):
    parent = os.getppid()
    mark(f"waiting.{os.getpid()}")
    deadline = time.monotonic() + 300  # a bound, not a timing: the kill comes long before
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.01)
    return real_fix_source(*args, **kwargs)

def recorded_write(*args, **kwargs):
    mark(f"wrote.{os.getpid()}")
    return real_write(*args, **kwargs)

def marked_process(*args, **kwargs):
    result = real_process(*args, **kwargs)
    mark(f"done.{os.getpid()}.{next(count)}")
    return result

lint_file.fix_source, lint_file.write_atomic, lint_file.process_file = fix_when_orphaned, recorded_write, marked_process
if variant == "no death signal":  # the check before writing alone must stop the workers
    pool._die_with_parent = lambda: None
from convlint.cli import main
sys.argv = ["convlint", "fix", "--write", "--isolated", "-j", "2", tree]
main()
"""


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rpartition(b")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry))
    return found


def wait_until(condition, what: str, bound: float = 120.0):
    """Wait for a condition (polling); the bound only keeps a broken run from hanging CI."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("variant", ["death signal", "no death signal"])
def test_workers_of_a_killed_run_write_nothing(tmp_path, variant):
    from convlint.files import _alive

    tree = tmp_path / "tree"
    for i in range(16):
        (tree / f"pkg{i % 4}").mkdir(parents=True, exist_ok=True)
        (tree / f"pkg{i % 4}" / f"mod{i}.py").write_text(
            "import torch\nmodel = torch.nn.Conv2d(3, 8, 3)\nmodel = model.to(memory_format=torch.channels_last)\n")
    before = snapshot(tree)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    main = subprocess.Popen([sys.executable, "-c", PARENT_KILL_SCRIPT, str(marks), str(tree), variant],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    workers: set[int] = set()
    try:
        wait_until(lambda: any(m.name.startswith("waiting.") for m in marks.iterdir()), "a worker to hold a file")
        workers = children_of(main.pid)
        waiting = {int(m.name.split(".")[1]) for m in marks.iterdir() if m.name.startswith("waiting.")}
        assert waiting <= workers and len(workers) == 2
        os.kill(main.pid, signal.SIGKILL)  # the run only: not its process group
        main.wait(timeout=60)
        if variant == "death signal":
            wait_until(lambda: not any(_alive(pid) for pid in workers), "the workers to die with their parent")
        else:  # the workers go on, reach the write, and must not make it
            wait_until(lambda: all(any(m.name.startswith(f"done.{pid}.") for m in marks.iterdir()) for pid in waiting),
                       "the orphaned workers to finish their files")
        assert not [m.name for m in marks.iterdir() if m.name.startswith("wrote.")]
        assert snapshot(tree) == before and temporaries(tree) == []
    finally:
        for pid in workers | {main.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
