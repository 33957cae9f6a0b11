"""The `convlint` command line: parses flags (click) and hands them to the commands
(commands.py for `check` and `fix`). Nothing else.

Exit codes follow Ruff: 0 clean, 1 findings, 2 usage, configuration or internal error.
"""

from __future__ import annotations

import os
import sys

import click

from convlint import __version__, commands, formats
from convlint.codes import KNOWN_CODES
from convlint.commands import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS
from convlint.config import ConfigError, check_selectors
from convlint.formats import text as formats_text
from convlint.formats.report import Report, printable
from convlint.modes import Mode, Options


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


def _guarded(body):
    """Run a command body (commands.guarded): config errors and internal errors exit 2
    with one line; usage errors as click reports them."""

    def wrapper(**kw):
        try:
            code = commands.guarded(lambda: body(**kw), kw.get("verbose", False),
                                    passing=(click.exceptions.Exit, click.ClickException))
        except commands.UsageError as e:
            raise click.UsageError(str(e)) from None
        sys.exit(code)

    wrapper.__name__ = body.__name__
    wrapper.__doc__ = body.__doc__
    return wrapper


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
    choices = commands.make_choices(
        output_format, output_file, color, apply_fixes, fix_only, diff, exit_non_zero_on_fix, statistics,
        show_fixes, show_reasons, exit_zero, quiet, silent, no_cache)
    if add_noqa:
        return commands.add_noqa(paths, commands.configuration(kw), kw)
    if watch:
        return _watch(paths, choices, kw)
    return commands.check_once(paths, choices, kw)


def _show_settings(paths: list[str], kw: dict) -> int:
    from convlint.config import describe_settings

    config = commands.configuration(kw)
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
    found = discover_files(paths, commands.configuration(kw))
    for error in found.errors:
        click.echo(f"error: {printable(error.path)}: {printable(error.message)}", err=True)
    click.echo("".join(f"{printable(path)}\n" for path in found.files), nl=False)
    return EXIT_ERROR if found.errors else EXIT_CLEAN


def _watch(paths: list[str], c: commands.CheckChoices, kw: dict) -> int:
    from datetime import datetime

    from convlint.watch import config_files, file_changes, watch

    def once() -> None:
        try:
            commands.check_once(paths, c, kw)
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
            files = discover_files(paths, commands.configuration(kw)).files
        except ConfigError:
            files = []
        return files + config_files(paths)

    roots = [p for p in paths if os.path.exists(p)] + config_files(paths)
    try:
        watch(once, file_changes(roots or ["."], list_files), announce)
    except KeyboardInterrupt:
        pass
    return EXIT_CLEAN


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
    config = commands.configuration(kw)
    unsafe = kw["unsafe_fixes"]
    options = Options(Mode.FIX_WRITE if write else Mode.FIX, unsafe_fixes=unsafe)
    results, stdin_data = commands.run_paths(paths, config, options, kw)
    any_error = commands.report_errors(results, verbose=kw["verbose"])
    if stdin_data is not None and not diff:
        commands.write_fixed_stdin(results[0], stdin_data)
        click.echo(formats_text.format_concise(Report(results[0].diagnostics, unsafe)), nl=False, err=True)
        return EXIT_ERROR if any_error else EXIT_FINDINGS if results[0].diagnostics else EXIT_CLEAN
    if not write:
        changed = commands.print_diffs(results, show_fixes)
        return EXIT_ERROR if any_error else EXIT_FINDINGS if changed else EXIT_CLEAN
    remaining = [d for r in results for d in r.diagnostics]
    summary = commands.fix_summary(results, True) if show_fixes else ""
    click.echo(formats_text.format_concise(Report(remaining, unsafe)) + summary, nl=False)
    click.echo(f"Fixed {commands.counts(results)}.")
    if any_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if remaining else EXIT_CLEAN


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
