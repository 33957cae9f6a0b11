"""The `convlint` command line: parses flags, calls the runner, prints. Nothing else.

Exit codes follow Ruff: 0 clean, 1 findings, 2 usage, configuration or internal error.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace

import click

from convlint import __version__
from convlint import formats
from convlint.config import Configuration, ConfigError, check_selectors, parse_override
from convlint.lint_file import FileResult, Mode, Options
from convlint.runner import run, run_source
from convlint.formats import text as formats_text
from convlint.formats.report import Report, printable
from convlint.formats.sources import Sources
from convlint.formats.style import Style, use_color
from convlint.codes import KNOWN_CODES

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="convlint")
def main() -> None:
    """Find and fix whole-model channels_last conversions in PyTorch code."""


def _codes(ctx, param, value) -> list[str]:
    """`--select CL101,CL102 --select CL9` -> ["CL101", "CL102", "CL9"]."""
    codes = [c.strip().upper() for v in value for c in v.split(",") if c.strip()]
    try:
        check_selectors(codes, KNOWN_CODES, f"--{param.name.replace('_', '-')}")
    except ConfigError as e:
        raise click.BadParameter(str(e).split(": ", 1)[-1]) from None
    return codes


def _patterns(ctx, param, value) -> list[str]:
    return [p.strip() for v in value for p in v.split(",") if p.strip()]


def lint_options(f):
    """The options `check` and `fix` share: what to look at and which rules."""
    options = [
        click.argument("paths", nargs=-1, type=click.Path()),
        click.option("--select", multiple=True, callback=_codes, metavar="CODES",
                     help="Rule codes or prefixes to enable (replaces the configured set)."),
        click.option("--extend-select", multiple=True, callback=_codes, metavar="CODES",
                     help="Rule codes or prefixes to enable in addition."),
        click.option("--ignore", multiple=True, callback=_codes, metavar="CODES",
                     help="Rule codes or prefixes to disable."),
        click.option("--exclude", multiple=True, callback=_patterns, metavar="GLOBS",
                     help="Patterns to exclude (replaces the defaults and the configured set)."),
        click.option("--extend-exclude", multiple=True, callback=_patterns, metavar="GLOBS",
                     help="Patterns to exclude in addition."),
        click.option("--force-exclude", is_flag=True,
                     help="Apply excludes to files named on the command line too."),
        click.option("--no-respect-gitignore", is_flag=True, help="Walk into paths .gitignore ignores."),
        click.option("--fix-target", type=click.Choice(["torch", "convlint"]),
                     help="Rewrite to torch.nn.utils (default) or to convlint.runtime."),
        click.option("--unsafe-fixes", is_flag=True, help="Treat unsafe fixes as fixable."),
        click.option("--config", "config_args", multiple=True, metavar="FILE|KEY=VALUE",
                     help="A configuration file for every file (instead of each file's closest one), "
                          "or a TOML `key = value` that overrides a setting; repeatable."),
        click.option("--isolated", is_flag=True, help="Ignore every configuration file."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Worker processes (default: one per CPU)."),
        click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of internal errors, and the code blocks of pages that were skipped."),
        click.option("--stdin-filename", metavar="PATH",
                     help="Read the source from standard input (PATH `-`), named PATH in "
                          "reports and for configuration."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _paths(paths: tuple[str, ...], kw: dict) -> list[str]:
    if not paths:
        return ["-"] if kw["stdin_filename"] else ["."]
    if "-" in paths and len(paths) > 1:
        raise click.UsageError("`-` (standard input) cannot be combined with other paths")
    return list(paths)


def _configuration(kw: dict) -> Configuration:
    """Which settings each file gets: from its closest configuration file, or from
    `--config FILE`, or the defaults (`--isolated`); `--config KEY=VALUE` and the flags over
    them. As in Ruff, a `--config` argument that is not an existing file is an override."""
    files = [a for a in kw["config_args"] if os.path.isfile(a)]
    if len(files) > 1:
        raise click.UsageError(f"--config names two files ({files[0]}, {files[1]}); give one")
    if files and kw["isolated"]:
        raise click.UsageError(f"--config {files[0]} cannot be used with --isolated, which reads no configuration file")
    overrides = tuple(parse_override(a, KNOWN_CODES) for a in kw["config_args"] if a not in files)
    flags = {k: kw.get(k) for k in ("select", "extend_select", "ignore", "exclude", "extend_exclude",
                                    "fix_target", "force_exclude", "no_respect_gitignore")}
    return Configuration(KNOWN_CODES, config_file=files[0] if files else None, isolated=kw["isolated"],
                         overrides=overrides, flags=flags)


def _guarded(body):
    """Run a command body: config errors and internal errors exit 2 with one line."""

    def wrapper(**kw):
        try:
            code = body(**kw)
        except ConfigError as e:
            click.echo(f"error: {printable(str(e))}", err=True)
            code = EXIT_ERROR
        except (click.exceptions.Exit, click.ClickException):  # usage errors: click prints them
            raise
        except Exception as e:  # pragma: no cover - the last line of defence
            if kw.get("verbose"):
                import traceback

                traceback.print_exc()
            click.echo(f"error: internal error: {type(e).__name__}: {printable(str(e))}", err=True)
            code = EXIT_ERROR
        sys.exit(code)

    wrapper.__name__ = body.__name__
    wrapper.__doc__ = body.__doc__
    return wrapper


def _results(paths: list[str], config: Configuration, options: Options, kw: dict) -> tuple[list[FileResult], bytes | None]:
    """Lint (or fix) the paths, or standard input (then also return its bytes)."""
    if paths != ["-"]:
        return run(paths, config, options, kw["jobs"]), None
    name = kw["stdin_filename"] or "-"
    settings = config.settings_for(name)  # without --stdin-filename: the working directory's, as Ruff's
    data = sys.stdin.buffer.read()
    if settings.force_exclude and kw["stdin_filename"] and settings.is_excluded(name):
        return [FileResult(name)], data
    return [run_source(name, data, settings, options)], data


def _report_errors(results: list[FileResult], warnings: bool = True, verbose: bool = False) -> bool:
    """Print each file's errors (and, unless quiet, its warnings; with --verbose, the code
    blocks of pages that were skipped) on stderr; True if any."""
    any_error = False
    for result in results:
        for error in result.errors:
            any_error = True
            click.echo(f"error: {printable(error.path)}: {printable(error.message)}", err=True)
        if warnings:
            for note in result.notes:
                click.echo(f"warning: {printable(note)}", err=True)
        if verbose:
            for note in result.skipped:
                click.echo(f"info: {printable(note)}", err=True)
    return any_error


def _warn_if_nothing_checked(results: list[FileResult], paths: list[str], config: Configuration) -> None:
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
        click.echo("warning: No Python files found under the given path(s)", err=True)


@dataclass(frozen=True)
class _CheckChoices:
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


@main.command()
@lint_options
@click.option("--output-format", type=click.Choice(formats.NAMES), envvar="CONVLINT_OUTPUT_FORMAT",
              show_envvar=True, help="How to print findings [default: full on a terminal, else concise].")
@click.option("-o", "--output-file", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour the full, concise and grouped formats (auto: on a terminal, unless NO_COLOR; "
                   "FORCE_COLOR forces it).")
@click.option("--fix", "apply_fixes", is_flag=True,
              help="Apply the safe fixes (with --unsafe-fixes, all) and report what remains.")
@click.option("--fix-only", is_flag=True,
              help="Apply the fixes and report nothing about what remains (exit 0 unless --exit-non-zero-on-fix).")
@click.option("--diff", is_flag=True,
              help="Print a diff of the fixes instead of writing them; exit 1 if a file would change.")
@click.option("--exit-non-zero-on-fix", is_flag=True, help="With fixes: exit 1 if any was applied.")
@click.option("--statistics", is_flag=True,
              help="Print the number of findings per rule instead of the findings (concise or json).")
@click.option("--show-fixes", is_flag=True,
              help="List the fixes `convlint fix --write` would apply (with --fix: count those applied).")
@click.option("--show-reasons", is_flag=True,
              help="Under each finding, say why its receiver is a module (what the analysis followed).")
@click.option("--add-noqa", is_flag=True,
              help="Add a `# noqa: CODE` to every line with a finding (the files are rewritten).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings and nothing else: no footer, no warnings.")
@click.option("-s", "--silent", is_flag=True, help="Print nothing but errors: the exit code tells.")
@click.option("-w", "--watch", is_flag=True, help="Check again whenever a checked file or configuration file changes.")
@click.option("--show-settings", is_flag=True,
              help="Print the settings each of PATHS gets, and the configuration files they come from; check nothing.")
@click.option("--show-files", is_flag=True, help="Print the files that would be checked, one a line; check nothing.")
@click.option("--no-cache", is_flag=True, envvar="CONVLINT_NO_CACHE", show_envvar=True,
              help="Neither read nor write the result cache (.convlint_cache at the project root).")
@_guarded
def check(paths, output_format, output_file, color, apply_fixes, fix_only, diff, exit_non_zero_on_fix,
          statistics, show_fixes, show_reasons, add_noqa, exit_zero, quiet, silent, watch, show_settings,
          show_files, no_cache, **kw) -> int:
    """Report whole-model `.to(memory_format=channels_last)` conversions under PATHS (default: .)."""
    paths = _paths(paths, kw)
    if show_settings and show_files:
        raise click.UsageError("--show-settings and --show-files cannot be used together")
    if show_settings:
        return _show_settings(paths, kw)
    if show_files:
        return _show_files(paths, kw)
    if statistics and output_format not in (None, "concise", "json"):
        raise click.UsageError(f"--statistics prints concise or json, not {output_format}")
    if add_noqa and paths == ["-"]:
        raise click.UsageError("--add-noqa rewrites files; it cannot take standard input")
    if add_noqa and (apply_fixes or fix_only or diff or watch):
        raise click.UsageError("--add-noqa cannot be combined with --fix, --fix-only, --diff or --watch")
    if watch and paths == ["-"]:
        raise click.UsageError("--watch watches files; it cannot take standard input")
    output_format = output_format or _default_format(output_file, statistics)
    stream_is_terminal = output_file is None and sys.stdout.isatty()
    choices = _CheckChoices(
        output_format=output_format, output_file=output_file, color=use_color(color, stream_is_terminal),
        fix=apply_fixes or fix_only, fix_only=fix_only, diff=diff,
        exit_non_zero_on_fix=exit_non_zero_on_fix, statistics=statistics, show_fixes=show_fixes,
        show_reasons=show_reasons,
        exit_zero=exit_zero, quiet=quiet or silent, silent=silent, cache=not no_cache,
    )
    if add_noqa:
        return _add_noqa(paths, _configuration(kw), kw)
    if watch:
        return _watch(paths, choices, kw)
    return _check_once(paths, choices, kw)


def _show_settings(paths: list[str], kw: dict) -> int:
    from convlint.config import describe_settings

    config = _configuration(kw)
    blocks = []
    for path in paths:
        name = (kw["stdin_filename"] or "-") if path == "-" else path
        settings, sources = config.resolve(name, is_directory=os.path.isdir(name))
        blocks.append(describe_settings(name, settings, sources, config.source_note))
    click.echo("\n".join(blocks), nl=False)
    return EXIT_CLEAN


def _show_files(paths: list[str], kw: dict) -> int:
    from convlint.discovery import discover_files

    if paths == ["-"]:
        raise click.UsageError("--show-files lists files; it cannot take standard input")
    found = discover_files(paths, _configuration(kw))
    for error in found.errors:
        click.echo(f"error: {printable(error.path)}: {printable(error.message)}", err=True)
    click.echo("".join(f"{printable(path)}\n" for path in found.files), nl=False)
    return EXIT_ERROR if found.errors else EXIT_CLEAN


def _default_format(output_file: str | None, statistics: bool) -> str:
    """Ruff's `full` for a person at a terminal; `concise` for pipes, files and CI logs."""
    interactive = output_file is None and sys.stdout.isatty() and not os.environ.get("CI")
    return "full" if interactive and not statistics else "concise"


def _check_once(paths: list[str], c: _CheckChoices, kw: dict) -> int:
    config = _configuration(kw)
    unsafe = kw["unsafe_fixes"]
    shows_edits = c.output_format in formats.SHOWS_EDITS and not c.statistics
    mode = Mode.FIX if c.diff else Mode.FIX_WRITE if c.fix else Mode.CHECK
    checking = mode is Mode.CHECK
    options = Options(mode, unsafe_fixes=unsafe and not checking, edits=shows_edits and checking,
                      cache=c.cache and checking)
    results, stdin_data = _results(paths, config, options, kw)
    any_error = _report_errors(results, warnings=not c.quiet, verbose=kw["verbose"])
    if not any_error and not c.quiet:
        _warn_if_nothing_checked(results, paths, config)
    if c.diff:
        changed = _print_diffs(results, c.show_fixes)
        return _exit_code(any_error, c, failed=bool(changed), fixed=0)
    if stdin_data is not None and c.fix:
        return _print_fixed_stdin(results[0], stdin_data, c, any_error)
    if c.fix and shows_edits:
        results = _with_fix_edits(results, config, kw["jobs"])
    diagnostics = [d for r in results for d in r.diagnostics]
    fixed = sum(r.fixed for r in results)
    given = {results[0].path: _stdin_text(results[0], stdin_data)} if stdin_data is not None else None
    report = Report(diagnostics, unsafe, Style(c.color), Sources(given), show_reasons=c.show_reasons)
    text = "" if c.silent else _check_report(report, c, results, any_error)
    if not _emit(text, c.output_file):
        return EXIT_ERROR
    return _exit_code(any_error, c, failed=bool(diagnostics) and not c.fix_only, fixed=fixed)


def _check_report(report: Report, c: _CheckChoices, results: list[FileResult], any_error: bool) -> str:
    """The findings in the chosen format; for people, then the fixes (--show-fixes) and the
    footer. With --fix-only, only what was fixed."""
    fixed = sum(r.fixed for r in results)
    if c.fix_only:
        body = _fix_summary(results, True) if c.show_fixes else ""
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
        body += _fix_summary(results, True) if c.fix else formats_text.format_available_fixes(report)
    if c.quiet or (any_error and not report.diagnostics and not fixed):  # no "All checks passed!"
        return body
    fix_command = "convlint check --fix" if c.fix else "convlint fix --write"
    return body + formats_text.format_footer(report.diagnostics, report.unsafe_fixes, report.style, fixed, fix_command)


def _exit_code(any_error: bool, c: _CheckChoices, failed: bool, fixed: int) -> int:
    """2 for errors; else 1 when `failed` (findings left; with --diff, a file would change)
    or, with --exit-non-zero-on-fix, when a fix was applied; --exit-zero makes those 0."""
    if any_error:
        return EXIT_ERROR
    if not c.exit_zero and (failed or (c.exit_non_zero_on_fix and fixed)):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _with_fix_edits(results: list[FileResult], config: Configuration, jobs: int | None) -> list[FileResult]:
    """After fixes were written, the findings left whose fixes were not computed (the fix
    run does not materialize what it does not apply): check those files again for them."""
    stale = [r.path for r in results if any(d.fix is not None and not d.fix.edits for d in r.diagnostics)]
    if not stale:
        return results
    again = {r.path: r for r in run(stale, config, Options(edits=True), jobs)}
    return [replace(r, diagnostics=again[r.path].diagnostics) if r.path in again else r for r in results]


def _watch(paths: list[str], c: _CheckChoices, kw: dict) -> int:
    from datetime import datetime

    from convlint.watch import config_files, file_changes, watch

    def once() -> None:
        try:
            _check_once(paths, c, kw)
        except ConfigError as e:  # fix the configuration and save: the next run reads it
            click.echo(f"error: {printable(str(e))}", err=True)

    def announce(message: str) -> None:
        if sys.stdout.isatty():
            click.echo("\x1b[2J\x1b[H", nl=False)  # a clear screen for each run, as Ruff's
        if not c.quiet:
            click.echo(f"[{datetime.now():%H:%M:%S}] {message}", err=True)

    def list_files() -> list[str]:
        from convlint.discovery import discover_files

        try:
            files = discover_files(paths, _configuration(kw)).files
        except ConfigError:
            files = []
        return files + config_files(paths)

    roots = [p for p in paths if os.path.exists(p)] + config_files(paths)
    try:
        watch(once, file_changes(roots or ["."], list_files), announce)
    except KeyboardInterrupt:
        pass
    return EXIT_CLEAN


def _emit(report: str, output_file: str | None) -> bool:
    """Print the report, or write it to `output_file` (its directory is created). False
    when it cannot be written (said on stderr)."""
    if output_file is None:
        click.echo(report, nl=False, color=True)  # colour is decided by --color, not by click
        return True
    try:
        os.makedirs(os.path.dirname(output_file) or ".", exist_ok=True)
        with open(output_file, "w", encoding="utf-8", newline="") as f:
            f.write(report)
    except OSError as e:
        click.echo(f"error: {printable(output_file)}: cannot write the report: {e.strerror or e}", err=True)
        return False
    return True


def _add_noqa(paths: list[str], config: Configuration, kw: dict) -> int:
    results = run(paths, config, Options(Mode.ADD_NOQA), kw["jobs"])
    any_error = _report_errors(results, verbose=kw["verbose"])
    added = sum(r.noqa_added for r in results)
    click.echo(f"Added {added} noqa directive{'s' if added != 1 else ''}.")
    return EXIT_ERROR if any_error else EXIT_CLEAN


@main.command()
@lint_options
@click.option("--write", is_flag=True, help="Write the fixes to the files.")
@click.option("--diff", is_flag=True, help="Print a diff of the fixes without writing (the default).")
@click.option("--show-fixes", is_flag=True, help="Count the fixes applied (or to apply) per file and rule.")
@_guarded
def fix(paths, write, diff, show_fixes, **kw) -> int:
    """Rewrite whole-model conversions under PATHS to the targeted conv-weight converter.

    Without --write, prints the diff and exits 1 if any file would change. With `-`, reads
    standard input and prints the fixed source (or, with --diff, the diff).
    """
    if write and diff:
        raise click.UsageError("--write and --diff cannot be used together")
    paths = _paths(paths, kw)
    config = _configuration(kw)
    unsafe = kw["unsafe_fixes"]
    options = Options(Mode.FIX_WRITE if write else Mode.FIX, unsafe_fixes=unsafe)
    results, stdin_data = _results(paths, config, options, kw)
    any_error = _report_errors(results, verbose=kw["verbose"])
    if stdin_data is not None and not diff:
        _write_fixed_stdin(results[0], stdin_data)
        click.echo(formats_text.format_concise(Report(results[0].diagnostics, unsafe)), nl=False, err=True)
        return EXIT_ERROR if any_error else EXIT_FINDINGS if results[0].diagnostics else EXIT_CLEAN
    if not write:
        changed = _print_diffs(results, show_fixes)
        return EXIT_ERROR if any_error else EXIT_FINDINGS if changed else EXIT_CLEAN
    remaining = [d for r in results for d in r.diagnostics]
    summary = _fix_summary(results, True) if show_fixes else ""
    click.echo(formats_text.format_concise(Report(remaining, unsafe)) + summary, nl=False)
    click.echo(f"Fixed {_counts(results)}.")
    if any_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if remaining else EXIT_CLEAN


def _print_diffs(results: list[FileResult], show_fixes: bool) -> list[FileResult]:
    """`--diff` (of `fix` and `check`): the diffs on stdout, clean for `git apply`; what
    they fix on stderr. Returns the results that would change."""
    changed = [r for r in results if r.fixed_source is not None]
    for result in changed:
        click.echo(_unified_diff(result), nl=False)
    click.echo(_fix_summary(results, False) if show_fixes else "", nl=False, err=True)
    click.echo(f"Would fix {_counts(results)}.", err=True)
    return changed


def _fix_summary(results: list[FileResult], applied: bool) -> str:
    return formats_text.format_fix_summary({r.path: r.fixed_codes for r in results if r.fixed_source is not None}, applied)


def _counts(results: list[FileResult]) -> str:
    """`3 errors in 2 files (1 remaining)`."""
    changed = sum(1 for r in results if r.fixed_source is not None)
    fixed = sum(r.fixed for r in results)
    remaining = sum(len(r.diagnostics) for r in results)
    return (f"{fixed} error{'s' if fixed != 1 else ''} in {changed} file{'s' if changed != 1 else ''} "
            f"({remaining} remaining)")


def _write_fixed_stdin(result: FileResult, data: bytes) -> None:
    """Editors pipe a buffer through `fix -`: the (fixed) source goes to stdout."""
    if result.fixed_source is None:
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.buffer.write(result.fixed_data)
    sys.stdout.buffer.flush()


def _print_fixed_stdin(result: FileResult, data: bytes, c: _CheckChoices, any_error: bool) -> int:
    """`check --fix -`: the fixed source on stdout; what remains (not with --fix-only) on
    stderr, in the chosen format."""
    _write_fixed_stdin(result, data)
    remaining = [] if c.fix_only else result.diagnostics
    if remaining and not c.silent:
        report = Report(remaining, False, Style(c.color), Sources({result.path: _stdin_text(result, data)}))
        click.echo(formats.render(c.output_format, report), nl=False, err=True, color=True)
    return _exit_code(any_error, c, failed=bool(remaining), fixed=result.fixed)


def _stdin_text(result: FileResult, data: bytes) -> str:
    """The text standard input's findings are about: the fixed source, if it was fixed."""
    if result.fixed_source is not None:
        return result.fixed_source
    from convlint.files import decode_source

    try:
        return decode_source(data).text
    except SyntaxError:
        return data.decode("utf-8", "replace")


def _unified_diff(result: FileResult) -> str:
    import difflib

    lines = difflib.unified_diff(
        result.original.splitlines(keepends=True),
        result.fixed_source.splitlines(keepends=True),
        fromfile=_diff_path("a/", result.path),
        tofile=_diff_path("b/", result.path),
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)


def _diff_path(prefix: str, path: str) -> str:
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


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Print the documentation of every rule.")
def rule(code, show_all) -> None:
    """Explain a rule: what it does, why, an example, and how safe its fix is."""
    from convlint.rules import RULE_DOCS

    if show_all:
        click.echo("\n".join(RULE_DOCS[c] for c in KNOWN_CODES), nl=False)
        return
    if not code:
        raise click.UsageError("give a rule code (e.g. CL101) or --all")
    doc = RULE_DOCS.get(code.upper())
    if doc is None:
        raise click.BadParameter(f"unknown rule `{code}`; known: {', '.join(KNOWN_CODES)}", param_hint="CODE")
    click.echo(doc, nl=False)


# `verify` runs the user's model in child processes that import torch; this process never does.
from convlint.layouts import LAYOUTS  # noqa: E402  (pure data)


def _json_object(ctx, param, value) -> dict:
    import json

    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not valid JSON: {e}") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter('must be a JSON object, e.g. \'{"num_classes": 10}\'')
    return parsed


def _shape(ctx, param, value) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        shape = tuple(int(size) for size in value.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise click.BadParameter(f"expected positive sizes like 1,3,224,224, got {value!r}")
    return shape


@main.command()
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
@click.option("--kwargs", callback=_json_object, metavar="JSON",
              help="Keyword arguments for a class or factory TARGET, as a JSON object.")
@click.option("--convert", type=click.Choice(["convlint", "torch", "none"]), default="convlint",
              show_default=True,
              help="Convert with convlint.runtime, with torch.nn.utils' converter, or not at all "
                   "(the target converts itself).")
@click.option("--memory-format", "memory_formats", multiple=True,
              type=click.Choice([layout.format for layout in LAYOUTS]),
              help="Check 4-D conv weights for channels_last (the default) or 5-D ones for "
                   "channels_last_3d; repeat for both.")
@click.option("--output-format", type=click.Choice(["human", "json"]), default="human",
              show_default=True, help="How to print the report.")
@click.option("--input-shape", callback=_shape, metavar="N,C,H,W",
              help="Run the model before and after conversion on a random input of this shape, "
                   "compare the outputs and record the layout each conv kernel receives.")
@click.option("--inputs", metavar="FILE.py:FUNCTION",
              help="Like --input-shape, with the inputs FUNCTION() returns: a tuple of "
                   "arguments, or (args, kwargs).")
@click.option("--dtype", type=click.Choice(["float32", "float64", "float16", "bfloat16"]),
              help="Cast the model and the input (default: the model's own dtype).")
@click.option("--device", default="cpu", show_default=True, help="Device to run the model on.")
@click.option("--strict", is_flag=True,
              help="Also fail on weights that cannot be converted (parametrized, computed at "
                   "run time, lazy, quantized) and on non-conv tensors whose layout changed.")
@click.option("--bench", is_flag=True,
              help="Time the forward pass: contiguous, model.to(memory_format=...), and the "
                   "targeted conversion, interleaved (needs --input-shape or --inputs).")
@click.option("--bench-seconds", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Minimum time spent measuring each --bench variant.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Give up on a target when one step (import and build, a forward pass, the "
                   "conversion, a timing) takes longer: its process is killed.")
@click.option("-v", "--verbose", is_flag=True,
              help="Show tracebacks and the target's own output.")
@_guarded
def verify(targets, kwargs, convert, memory_formats, output_format, input_shape, inputs, dtype,
           device, strict, bench, bench_seconds, timeout, verbose) -> int:
    """Import each TARGET, convert it, and check the strides of every conv weight.

    TARGET is package.module:attr or path/to/file.py:attr; attr is an nn.Module, a Module
    class, or a function returning one.

    This RUNS THE TARGET'S CODE (imports it, builds it, runs forward passes), as pytest runs
    a test suite: verify only code you trust. Each target runs in a process of its own.

    Exit 0 when every convertible conv weight is in the layout and the outputs match, 1 when
    not, 2 for a bad target (one line naming it; --verbose shows the traceback).
    """
    from convlint.verdicts import VerifyOptions
    from convlint.verify import run_verify

    if inputs and input_shape:
        raise click.UsageError("--inputs and --input-shape cannot be used together")
    options = VerifyOptions(
        kwargs=kwargs, convert=convert, memory_formats=memory_formats or ("channels_last",),
        input_shape=input_shape, inputs=inputs, dtype=dtype, device=device, strict=strict,
        bench=bench, bench_seconds=bench_seconds, timeout=timeout,
    )
    return run_verify(list(targets), options, output_format=output_format, verbose=verbose)


@main.command()
def clean() -> None:
    """Remove the result caches (.convlint_cache) in the current directory and below."""
    from convlint.cache import clean as remove_caches

    for removed in remove_caches("."):
        click.echo(f"Removing cache at: {printable(removed)}")


@main.command()
def server() -> None:
    """Run the language server (LSP over standard input and output) for editors."""
    import importlib.util

    if importlib.util.find_spec("pygls") is None:  # an optional extra: only this command needs it
        click.echo("error: `convlint server` needs pygls: pip install 'convlint[lsp]'", err=True)
        sys.exit(EXIT_ERROR)
    from convlint.server import serve

    serve()
