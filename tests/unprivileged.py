"""Run the CLI as a user without privileges: permission errors are real only for such a user.

Tests run as root in CI, and root reads and enters everything whatever the modes. The CLI is
run in a forked child that drops to `nobody` after everything it needs is imported (the
interpreter's own files may not be readable by that user); as any other user, in-process.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tests.fixture_cases import run_cli

NOBODY = 65534
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


def run_cli_unprivileged(args: list[str], cwd: Path) -> Outcome:
    if not IS_ROOT:
        result = run_cli(args, cwd)
        return Outcome(result.exit_code, result.stdout, result.stderr)
    _import_what_it_needs(args, cwd)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 3
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = run_cli(args, cwd)
            payload = {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}
            with os.fdopen(write, "w") as f:
                json.dump(payload, f)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and data, "the unprivileged run failed"
    return Outcome(**json.loads(data))


def _import_what_it_needs(args: list[str], cwd: Path) -> None:
    """Run the command line once as root on a copy of `cwd`: every module it needs is then
    imported, and the files themselves are left as they are."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy"
        shutil.copytree(cwd, copy, symlinks=True)
        run_cli(args, copy)


def open_directory(tmp_path: Path) -> Path:
    """A directory under `tmp_path` that the unprivileged user may enter and write (pytest's
    own temporary directories are private to their owner)."""
    import atexit
    import shutil
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="convlint-unprivileged-"))
    directory.chmod(0o777)
    atexit.register(shutil.rmtree, directory, True)
    (tmp_path / "unprivileged").symlink_to(directory, target_is_directory=True)
    return directory


def give_away(*paths: Path) -> None:
    """Make files the unprivileged user's own (so that it may rewrite them)."""
    for path in paths:
        if IS_ROOT:
            os.chown(path, NOBODY, NOBODY)
