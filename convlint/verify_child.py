"""The child process that verifies one target for `convlint verify`.

Imports no torch itself (the parent pickles a reference to `main`): `convlint.checker` is
imported here, preloaded by the fork server. The child starts its own process group, sends
its steps and its result through a pipe, and writes nothing the parent reads from fd 1 or 2:
those are a file while the target runs, so a C `printf`, an `os.write(1, ...)` or a
subprocess of the target cannot break the parent's report.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import tempfile
import traceback
from multiprocessing.connection import Connection

from convlint.verdicts import TargetResult, VerifyOptions, one_line

CAPTURE_LIMIT = 200  # lines of the target's own output kept for --verbose


def main(sender: Connection, target: str, options: VerifyOptions, cwd: str,
         path: list[str], environ: dict[str, str]) -> None:
    """Verify `target` as the parent's process would see it (its folder, sys.path and
    environment), send ("result", TargetResult), and end without waiting for the target's
    threads or leaving its processes behind."""
    own_group = _new_process_group()
    os.chdir(cwd)
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)
    capture = tempfile.TemporaryFile()
    saved = os.dup(1), os.dup(2)
    os.dup2(capture.fileno(), 1)
    os.dup2(capture.fileno(), 2)

    def phase(step: str, announce: bool = False) -> None:
        sender.send(("phase", step, announce))

    try:
        result = _verify(target, options, phase)
        sys.stdout.flush()
        sys.stderr.flush()
        result.captured = _tail(capture)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        sender.send(("result", result))
        sender.close()
    finally:
        # The target's non-daemon threads must not hold the exit, nor its subprocesses outlive it.
        if own_group:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os._exit(0)


def _verify(target: str, options: VerifyOptions, phase) -> TargetResult:
    try:
        from convlint.checker import verify_target
    except ImportError as exc:
        result = TargetResult(target, options.convert, list(options.memory_formats), options.strict)
        result.bad_target(f"cannot import torch: {one_line(exc)}", traceback.format_exc())
        return result
    try:
        return verify_target(target, options, phase)
    except BaseException as exc:  # the target's own BaseException, or a bug: still one line
        result = TargetResult(target, options.convert, list(options.memory_formats), options.strict)
        result.bad_target(f"raised {one_line(exc)}", "".join(traceback.format_exception(exc)))
        return result


def _new_process_group() -> bool:
    if not hasattr(os, "setsid"):
        return False
    try:
        os.setsid()
    except OSError:
        return False
    return True


def _tail(capture) -> list[str]:
    """The last CAPTURE_LIMIT lines the target wrote, with a line counting the rest."""
    capture.seek(0)
    lines: collections.deque[str] = collections.deque(maxlen=CAPTURE_LIMIT)
    total = 0
    for raw in capture:
        lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
        total += 1
    kept = list(lines)
    if total > CAPTURE_LIMIT:
        kept.insert(0, f"... ({total - CAPTURE_LIMIT} earlier lines not kept)")
    return kept
