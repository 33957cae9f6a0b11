"""What `check` and `fix` do once their flags are parsed: run, print the report and the
errors, and give the exit code. No click here: the launcher brings `convlint check [PATHS]`
with no flags straight to `check_once`, and cli.py brings every other command line.

Exit codes follow Ruff: 0 clean, 1 findings, 2 usage, configuration or internal error.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace

from convlint import formats
from convlint.codes import KNOWN_CODES
from convlint.config import ConfigError, Configuration, parse_override
from convlint.formats import text as formats_text
from convlint.formats.report import Report, printable
from convlint.formats.sources import Sources
from convlint.formats.style import Style, use_color
from convlint.modes import FileResult, Mode, Options
from convlint.runner import run, run_source

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

# What the lint options (cli.lint_options) are when none is given: the launcher's
# `check PATHS` runs with these (tests/test_launcher.py keeps them equal to click's).
LINT_DEFAULTS = {
    "select": [], "extend_select": [], "ignore": [], "exclude": [], "extend_exclude": [],
    "force_exclude": False, "no_respect_gitignore": False, "fix_target": None, "unsafe_fixes": False,
    "config_args": (), "isolated": False, "jobs": None, "verbose": False, "stdin_filename": None,
}


class UsageError(Exception):
    """A command line that means nothing (cli.py reports it as click does)."""


def echo(message: str, nl: bool = True, err: bool = False) -> None:
    """Print to stdout (or stderr), as given: the formats have escaped what a terminal would
    act on, and colour was decided by --color."""
    stream = sys.stderr if err else sys.stdout
    text = message + "\n" if nl else message
    try:
        stream.write(text)
    except UnicodeEncodeError:  # a stream that cannot hold every character: escape them
        stream.write(text.encode(stream.encoding or "ascii", "backslashreplace").decode(stream.encoding or "ascii"))
    stream.flush()


def guarded(body, verbose: bool = False, passing: tuple[type[BaseException], ...] = ()) -> int:
    """Run a command body for its exit code: a configuration error and an internal error
    are one line on stderr and exit 2; `passing` (and a UsageError) are the caller's."""
    try:
        return body()
    except ConfigError as e:
        echo(f"error: {printable(str(e))}", err=True)
        return EXIT_ERROR
    except (UsageError, *passing):
        raise
    except BrokenPipeError:  # the reader went away (`convlint check | head`): stop quietly
        _drop_stdout()
        return EXIT_FINDINGS
    except Exception as e:  # pragma: no cover - the last line of defence
        if verbose:
            import traceback

            traceback.print_exc()
        echo(f"error: internal error: {type(e).__name__}: {printable(str(e))}", err=True)
        return EXIT_ERROR


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush at exit does not
    fail on the closed pipe again (Python's advice for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no file descriptor behind stdout
        pass


def check_paths(paths: list[str]) -> int:
    """`convlint check [PATHS]` with no flag (the launcher's): what cli.py's `check` does
    with every flag at its default."""
    try:
        return guarded(lambda: check_once(paths or ["."], make_choices(), dict(LINT_DEFAULTS)))
    except KeyboardInterrupt:  # Ctrl-C: what click says, and its exit code
        echo("\nAborted!", err=True)
        return EXIT_FINDINGS


def make_choices(output_format: str | None = None, output_file: str | None = None, color: str = "auto",
                 apply_fixes: bool = False, fix_only: bool = False, diff: bool = False,
                 exit_non_zero_on_fix: bool = False, statistics: bool = False, show_fixes: bool = False,
                 show_reasons: bool = False, exit_zero: bool = False, quiet: bool = False,
                 silent: bool = False, no_cache: bool = False) -> "CheckChoices":
    """`check`'s choices from its flags (the defaults: none given)."""
    output_format = output_format or default_format(output_file, statistics)
    stream_is_terminal = output_file is None and sys.stdout.isatty()
    return CheckChoices(
        output_format=output_format, output_file=output_file, color=use_color(color, stream_is_terminal),
        fix=apply_fixes or fix_only, fix_only=fix_only, diff=diff,
        exit_non_zero_on_fix=exit_non_zero_on_fix, statistics=statistics, show_fixes=show_fixes,
        show_reasons=show_reasons,
        exit_zero=exit_zero, quiet=quiet or silent, silent=silent, cache=not no_cache,
    )


def configuration(kw: dict) -> Configuration:
    """Which settings each file gets: from its closest configuration file, or from
    `--config FILE`, or the defaults (`--isolated`); `--config KEY=VALUE` and the flags over
    them. As in Ruff, a `--config` argument that is not an existing file is an override."""
    files = [a for a in kw["config_args"] if os.path.isfile(a)]
    if len(files) > 1:
        raise UsageError(f"--config names two files ({files[0]}, {files[1]}); give one")
    if files and kw["isolated"]:
        raise UsageError(f"--config {files[0]} cannot be used with --isolated, which reads no configuration file")
    overrides = tuple(parse_override(a, KNOWN_CODES) for a in kw["config_args"] if a not in files)
    flags = {k: kw.get(k) for k in ("select", "extend_select", "ignore", "exclude", "extend_exclude",
                                    "fix_target", "force_exclude", "no_respect_gitignore")}
    return Configuration(KNOWN_CODES, config_file=files[0] if files else None, isolated=kw["isolated"],
                         overrides=overrides, flags=flags)


def run_paths(paths: list[str], config: Configuration, options: Options, kw: dict) -> tuple[list[FileResult], bytes | None]:
    """Lint (or fix) the paths, or standard input (then also return its bytes)."""
    if paths != ["-"]:
        return run(paths, config, options, kw["jobs"]), None
    name = kw["stdin_filename"] or "-"
    settings = config.settings_for(name)  # without --stdin-filename: the working directory's, as Ruff's
    data = sys.stdin.buffer.read()
    if settings.force_exclude and kw["stdin_filename"] and settings.is_excluded(name):
        return [FileResult(name)], data
    return [run_source(name, data, settings, options)], data


def report_errors(results: list[FileResult], warnings: bool = True, verbose: bool = False) -> bool:
    """Print each file's errors (and, unless quiet, its warnings; with --verbose, the code
    blocks of pages that were skipped) on stderr; True if any."""
    any_error = False
    for result in results:
        for error in result.errors:
            any_error = True
            echo(f"error: {printable(error.path)}: {printable(error.message)}", err=True)
        if warnings:
            for note in result.notes:
                echo(f"warning: {printable(note)}", err=True)
        if verbose:
            for note in result.skipped:
                echo(f"info: {printable(note)}", err=True)
    return any_error


def warn_if_nothing_checked(results: list[FileResult], paths: list[str], config: Configuration) -> None:
    """Ruff's warning for paths that hold no file to check. Only a run with no results can
    have checked nothing, and a file named on the command line is checked: only then is
    the discovery asked again (the runner does not say how many files it found)."""
    if results or paths == ["-"]:
        return
    if any(os.path.isfile(path) and not config.settings_for(path).force_exclude for path in paths):
        return
    from convlint.discovery import discover_files

    found = discover_files(paths, config)
    if not found.files and not found.errors:
        echo("warning: No Python files found under the given path(s)", err=True)


@dataclass(frozen=True)
class CheckChoices:
    """What `check` was asked to print and do, beyond the lint options."""

    output_format: str
    output_file: str | None
    color: bool
    fix: bool  # apply fixes (--fix, --fix-only): written, or printed for standard input
    fix_only: bool
    diff: bool  # print the fixes' diff instead: nothing written, no findings reported
    exit_non_zero_on_fix: bool
    statistics: bool
    show_fixes: bool
    show_reasons: bool
    exit_zero: bool
    quiet: bool
    silent: bool
    cache: bool  # read and write the result cache


def default_format(output_file: str | None, statistics: bool) -> str:
    """Ruff's `full` for a person at a terminal; `concise` for pipes, files and CI logs."""
    interactive = output_file is None and sys.stdout.isatty() and not os.environ.get("CI")
    return "full" if interactive and not statistics else "concise"


def check_once(paths: list[str], c: CheckChoices, kw: dict) -> int:
    config = configuration(kw)
    unsafe = kw["unsafe_fixes"]
    shows_edits = c.output_format in formats.SHOWS_EDITS and not c.statistics
    mode = Mode.FIX if c.diff else Mode.FIX_WRITE if c.fix else Mode.CHECK
    checking = mode is Mode.CHECK
    options = Options(mode, unsafe_fixes=unsafe and not checking, edits=shows_edits and checking,
                      cache=c.cache and checking)
    results, stdin_data = run_paths(paths, config, options, kw)
    any_error = report_errors(results, warnings=not c.quiet, verbose=kw["verbose"])
    if not any_error and not c.quiet:
        warn_if_nothing_checked(results, paths, config)
    if c.diff:
        changed = print_diffs(results, c.show_fixes)
        return exit_code(any_error, c, failed=bool(changed), fixed=0)
    if stdin_data is not None and c.fix:
        return print_fixed_stdin(results[0], stdin_data, c, any_error)
    if c.fix and shows_edits:
        results = with_fix_edits(results, config, kw["jobs"])
    diagnostics = [d for r in results for d in r.diagnostics]
    fixed = sum(r.fixed for r in results)
    given = {results[0].path: stdin_text(results[0], stdin_data)} if stdin_data is not None else None
    report = Report(diagnostics, unsafe, Style(c.color), Sources(given), show_reasons=c.show_reasons)
    text = "" if c.silent else check_report(report, c, results, any_error)
    if not emit(text, c.output_file):
        return EXIT_ERROR
    return exit_code(any_error, c, failed=bool(diagnostics) and not c.fix_only, fixed=fixed)


def check_report(report: Report, c: CheckChoices, results: list[FileResult], any_error: bool) -> str:
    """The findings in the chosen format; for people, then the fixes (--show-fixes) and the
    footer. With --fix-only, only what was fixed."""
    fixed = sum(r.fixed for r in results)
    if c.fix_only:
        body = fix_summary(results, True) if c.show_fixes else ""
        return body + ("" if c.quiet else formats_text.format_fix_only_footer(report, fixed))
    if c.statistics and c.output_format == "json":
        return formats_text.format_statistics_json(report)
    if c.statistics:
        body = formats_text.format_statistics(report)
    elif c.output_format in formats.WITH_FOOTER:
        body = formats.render(c.output_format, report)
    else:
        return formats.render(c.output_format, report)
    if c.show_fixes:
        body += fix_summary(results, True) if c.fix else formats_text.format_available_fixes(report)
    if c.quiet or (any_error and not report.diagnostics and not fixed):  # no "All checks passed!"
        return body
    fix_command = "convlint check --fix" if c.fix else "convlint fix --write"
    return body + formats_text.format_footer(report.diagnostics, report.unsafe_fixes, report.style, fixed, fix_command)


def exit_code(any_error: bool, c: CheckChoices, failed: bool, fixed: int) -> int:
    """2 for errors; else 1 when `failed` (findings left; with --diff, a file would change)
    or, with --exit-non-zero-on-fix, when a fix was applied; --exit-zero makes those 0."""
    if any_error:
        return EXIT_ERROR
    if not c.exit_zero and (failed or (c.exit_non_zero_on_fix and fixed)):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def with_fix_edits(results: list[FileResult], config: Configuration, jobs: int | None) -> list[FileResult]:
    """After fixes were written, the findings left whose fixes were not computed (the fix
    run does not materialize what it does not apply): check those files again for them."""
    stale = [r.path for r in results if any(d.fix is not None and not d.fix.edits for d in r.diagnostics)]
    if not stale:
        return results
    again = {r.path: r for r in run(stale, config, Options(edits=True), jobs)}
    return [replace(r, diagnostics=again[r.path].diagnostics) if r.path in again else r for r in results]


def emit(report: str, output_file: str | None) -> bool:
    """Print the report, or write it to `output_file` (its directory is created). False
    when it cannot be written (said on stderr)."""
    if output_file is None:
        echo(report, nl=False)  # colour was decided by --color
        return True
    try:
        os.makedirs(os.path.dirname(output_file) or ".", exist_ok=True)
        with open(output_file, "w", encoding="utf-8", newline="") as f:
            f.write(report)
    except OSError as e:
        echo(f"error: {printable(output_file)}: cannot write the report: {e.strerror or e}", err=True)
        return False
    return True


def add_noqa(paths: list[str], config: Configuration, kw: dict) -> int:
    results = run(paths, config, Options(Mode.ADD_NOQA), kw["jobs"])
    any_error = report_errors(results, verbose=kw["verbose"])
    added = sum(r.noqa_added for r in results)
    echo(f"Added {added} noqa directive{'s' if added != 1 else ''}.")
    return EXIT_ERROR if any_error else EXIT_CLEAN


def print_diffs(results: list[FileResult], show_fixes: bool) -> list[FileResult]:
    """`--diff` (of `fix` and `check`): the diffs on stdout, clean for `git apply`; what
    they fix on stderr. Returns the results that would change."""
    changed = [r for r in results if r.fixed_source is not None]
    for result in changed:
        echo(unified_diff(result), nl=False)
    echo(fix_summary(results, False) if show_fixes else "", nl=False, err=True)
    echo(f"Would fix {counts(results)}.", err=True)
    return changed


def fix_summary(results: list[FileResult], applied: bool) -> str:
    return formats_text.format_fix_summary({r.path: r.fixed_codes for r in results if r.fixed_source is not None}, applied)


def counts(results: list[FileResult]) -> str:
    """`3 errors in 2 files (1 remaining)`."""
    changed = sum(1 for r in results if r.fixed_source is not None)
    fixed = sum(r.fixed for r in results)
    remaining = sum(len(r.diagnostics) for r in results)
    return (f"{fixed} error{'s' if fixed != 1 else ''} in {changed} file{'s' if changed != 1 else ''} "
            f"({remaining} remaining)")


def write_fixed_stdin(result: FileResult, data: bytes) -> None:
    """Editors pipe a buffer through `fix -`: the (fixed) source goes to stdout."""
    if result.fixed_source is None:
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.buffer.write(result.fixed_data)
    sys.stdout.buffer.flush()


def print_fixed_stdin(result: FileResult, data: bytes, c: CheckChoices, any_error: bool) -> int:
    """`check --fix -`: the fixed source on stdout; what remains (not with --fix-only) on
    stderr, in the chosen format."""
    write_fixed_stdin(result, data)
    remaining = [] if c.fix_only else result.diagnostics
    if remaining and not c.silent:
        report = Report(remaining, False, Style(c.color), Sources({result.path: stdin_text(result, data)}))
        echo(formats.render(c.output_format, report), nl=False, err=True)
    return exit_code(any_error, c, failed=bool(remaining), fixed=result.fixed)


def stdin_text(result: FileResult, data: bytes) -> str:
    """The text standard input's findings are about: the fixed source, if it was fixed."""
    if result.fixed_source is not None:
        return result.fixed_source
    from convlint.files import decode_source

    try:
        return decode_source(data).text
    except SyntaxError:
        return data.decode("utf-8", "replace")


def unified_diff(result: FileResult) -> str:
    import difflib

    lines = difflib.unified_diff(
        result.original.splitlines(keepends=True),
        result.fixed_source.splitlines(keepends=True),
        fromfile=diff_path("a/", result.path),
        tofile=diff_path("b/", result.path),
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)


def diff_path(prefix: str, path: str) -> str:
    """A diff header's path, quoted as git quotes one with control characters (git apply
    reads it back), so that a file name cannot break the diff."""
    name = prefix + path
    if printable(name) == name and '"' not in name:
        return name
    raw = os.fsencode(name)
    quoted = "".join(
        {0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r"}.get(b, chr(b) if 0x20 <= b < 0x7F else f"\\{b:03o}")
        for b in raw
    )
    return f'"{quoted}"'
