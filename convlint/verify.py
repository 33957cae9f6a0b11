"""`convlint verify`: verifies each target in a child process and prints the report.

The target's code runs only in the child (`convlint.verify_child`, which runs
`convlint.checker`), one per target, with a hard `--timeout` per step: a target that hangs,
ignores signals, catches BaseException, leaves a thread running, crashes the interpreter or
calls `os._exit` costs one line naming it, and the next target is still verified. This
process imports no torch: bad targets and a missing torch are reported at once.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from convlint.verdicts import EXIT_BAD_TARGET, TargetResult, VerifyOptions
from convlint.verify_report import format_human, format_json

_CHILD_CHECKER = "convlint.checker"  # preloaded once by the fork server: one torch import


def run_verify(targets: list[str], options: VerifyOptions, *, output_format: str = "human",
               verbose: bool = False, stdout: TextIO | None = None,
               stderr: TextIO | None = None) -> int:
    """Verify each target and print the report; return the exit code (the worst target's)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr

    def say(line: str) -> None:
        print(line, file=err, flush=True)

    if options.bench and not (options.input_shape or options.inputs):
        say("convlint verify: error: --bench needs --input-shape or --inputs")
        return EXIT_BAD_TARGET
    if options.inputs:
        problem = precheck(options.inputs, "--inputs FILE.py:FUNCTION")
        if problem:
            say(f"convlint verify: error: --inputs {options.inputs}: {problem}")
            return EXIT_BAD_TARGET
    results = []
    for target in targets:
        result = _verify_one(target, options, say)
        results.append(result)
        if result.error is not None:
            say(f"convlint verify: error: {target}: {result.error}")
        if verbose:
            if result.traceback:
                err.write(result.traceback)
            if result.captured:
                say(f"output of {target}:")
                err.write("".join(f"  {line}\n" for line in result.captured))
        if output_format == "human" and (result.error is None or result.rows):
            out.write(("\n" if len(results) > 1 else "") + format_human(result))
    exit_code = max(result.exit_code for result in results)
    if output_format == "json":
        out.write(format_json(results, exit_code))
    return exit_code


def precheck(spec: str, what: str = "MODULE:ATTR") -> str | None:
    """What is wrong with a target that can be told without importing anything: its form,
    or a file that is not there."""
    location, _, attr = spec.rpartition(":")
    if not location or not attr:
        return f"expected {what} or path/to/file.py:ATTR"
    if (location.endswith(".py") or "/" in location or os.sep in location) and not Path(location).is_file():
        return f"no such file: {location}"
    return None


def _verify_one(target: str, options: VerifyOptions, say: Callable[[str], None]) -> TargetResult:
    problem = precheck(target) or _torch_missing()
    if problem:
        return _failed(target, options, problem)
    return _run_child(target, options, say)


def _torch_missing() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "convlint verify needs torch: pip install torch (or pip install 'convlint[torch]')"
    return None


def _context() -> multiprocessing.context.BaseContext:
    """A fork server that has imported torch once; each target's process forks from it."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([_CHILD_CHECKER])
    return context


def _run_child(target: str, options: VerifyOptions, say: Callable[[str], None]) -> TargetResult:
    from convlint import verify_child

    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=verify_child.main, name=f"convlint verify {target}",
        args=(sender, target, options, os.getcwd(), list(sys.path), dict(os.environ)),
    )
    process.start()
    sender.close()
    step, result = "starting", None
    try:
        while result is None:
            if not receiver.poll(options.timeout):
                _kill(process)
                return _failed(target, options, f"timed out after {options.timeout:g} s "
                                                f"(--timeout) while {step}")
            try:
                message = receiver.recv()
            except EOFError:
                break
            if message[0] == "phase":
                _, step, announce = message
                if announce:
                    say(f"convlint verify: {step}")
            elif message[0] == "result":
                result = message[1]
    except BaseException:  # Ctrl-C: the target goes with the run
        _kill(process)
        raise
    finally:
        receiver.close()
        process.join(5)
        if process.is_alive():
            _kill(process)
    if result is None:
        return _failed(target, options, _death(process.exitcode, step))
    return result


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    """SIGKILL the child's process group (the target's subprocesses too), else the child."""
    try:
        if hasattr(os, "killpg") and os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    process.join(5)


def _death(exitcode: int | None, step: str) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"its process was killed by {name} while {step} (a crash in native code?)"
    return f"its process exited with code {exitcode} while {step}, before reporting (os._exit?)"


def _failed(target: str, options: VerifyOptions, error: str) -> TargetResult:
    result = TargetResult(target, options.convert, list(options.memory_formats), options.strict)
    result.bad_target(error)
    return result
