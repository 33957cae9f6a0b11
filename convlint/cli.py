"""The `convlint` command line: parses flags, calls the engine, prints. Nothing else.

Exit codes follow Ruff: 0 clean, 1 findings, 2 usage, configuration or internal error.
"""

from __future__ import annotations

import os
import sys

import click

from convlint import __version__
from convlint import formats
from convlint.config import ConfigError, check_selectors, find_config, load_settings, merge_cli
from convlint.diagnostics import Applicability
from convlint.engine import FileResult, Options, run, run_source
from convlint.rules import KNOWN_CODES, RULE_DOCS

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
        click.option("--config", "config_path", type=click.Path(dir_okay=False),
                     help="A pyproject.toml to read [tool.convlint] from."),
        click.option("--isolated", is_flag=True, help="Ignore any configuration file."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Worker processes (default: one per CPU)."),
        click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of internal errors."),
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


def _settings(paths: list[str], kw: dict):
    if kw["isolated"]:
        config_path = None
    elif kw["config_path"]:
        config_path = kw["config_path"]
    elif paths == ["-"]:
        config_path = find_config(kw["stdin_filename"] or ".")
    else:
        config_path = find_config(paths[0])
    settings = load_settings(config_path, KNOWN_CODES)
    return merge_cli(settings, **kw)


def _guarded(body):
    """Run a command body: config errors and internal errors exit 2 with one line."""

    def wrapper(**kw):
        try:
            code = body(**kw)
        except ConfigError as e:
            click.echo(f"error: {e}", err=True)
            code = EXIT_ERROR
        except (click.exceptions.Exit, click.ClickException):  # usage errors: click prints them
            raise
        except Exception as e:  # pragma: no cover - the last line of defence
            if kw.get("verbose"):
                import traceback

                traceback.print_exc()
            click.echo(f"error: internal error: {type(e).__name__}: {e}", err=True)
            code = EXIT_ERROR
        sys.exit(code)

    wrapper.__name__ = body.__name__
    wrapper.__doc__ = body.__doc__
    return wrapper


def _results(paths: list[str], settings, options: Options, kw: dict) -> tuple[list[FileResult], bytes | None]:
    """Run the engine on the paths, or on standard input (then also return its bytes)."""
    if paths != ["-"]:
        return run(paths, settings, options, kw["jobs"]), None
    name = kw["stdin_filename"] or "-"
    data = sys.stdin.buffer.read()
    if settings.force_exclude and kw["stdin_filename"] and settings.is_excluded(name):
        return [FileResult(name)], data
    return [run_source(name, data, settings, options)], data


def _report_errors(results: list[FileResult]) -> bool:
    any_error = False
    for result in results:
        for error in result.errors:
            any_error = True
            click.echo(f"error: {error.path}: {error.message}", err=True)
        for note in result.notes:
            click.echo(f"warning: {note}", err=True)
    return any_error


def _footer(diagnostics, unsafe_fixes: bool) -> str:
    if not diagnostics:
        return "All checks passed!\n"
    n = len(diagnostics)
    lines = [f"Found {n} error{'s' if n != 1 else ''}."]
    safe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability is Applicability.SAFE)
    unsafe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability is Applicability.UNSAFE)
    if unsafe_fixes and safe + unsafe:
        lines.append(f"[*] {safe + unsafe} fixable with `convlint fix --write --unsafe-fixes`.")
    elif safe:
        more = f" ({unsafe} more with `--unsafe-fixes`)" if unsafe else ""
        lines.append(f"[*] {safe} fixable with `convlint fix --write`{more}.")
    elif unsafe:
        lines.append(f"No fixes available ({unsafe} fixable with `convlint fix --write --unsafe-fixes`).")
    return "".join(line + "\n" for line in lines)


_FORMATS = {"json": formats.format_json, "github": formats.format_github,
            "sarif": formats.format_sarif, "junit": formats.format_junit}


@main.command()
@lint_options
@click.option("--output-format", type=click.Choice(["concise", *_FORMATS]), default="concise",
              show_default=True, help="How to print findings.")
@click.option("-o", "--output-file", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
@click.option("--statistics", is_flag=True,
              help="Print the number of findings per rule instead of the findings (concise or json).")
@click.option("--show-fixes", is_flag=True, help="List the fixes `convlint fix --write` would apply.")
@click.option("--add-noqa", is_flag=True,
              help="Add a `# noqa: CODE` to every line with a finding (the files are rewritten).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@_guarded
def check(paths, output_format, output_file, statistics, show_fixes, add_noqa, exit_zero, **kw) -> int:
    """Report whole-model `.to(memory_format=channels_last)` conversions under PATHS (default: .)."""
    paths = _paths(paths, kw)
    if statistics and output_format not in ("concise", "json"):
        raise click.UsageError(f"--statistics prints concise or json, not {output_format}")
    if add_noqa and paths == ["-"]:
        raise click.UsageError("--add-noqa rewrites files; it cannot take standard input")
    settings = _settings(paths, kw)
    if add_noqa:
        return _add_noqa(paths, settings, kw)
    edits = output_format in ("json", "sarif") and not statistics
    options = Options(unsafe_fixes=kw["unsafe_fixes"], edits=edits)
    results, _ = _results(paths, settings, options, kw)
    any_error = _report_errors(results)
    diagnostics = [d for r in results for d in r.diagnostics]
    report = _check_report(diagnostics, output_format, statistics, show_fixes, kw["unsafe_fixes"])
    if not _emit(report, output_file) or any_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if diagnostics and not exit_zero else EXIT_CLEAN


def _check_report(diagnostics, output_format: str, statistics: bool, show_fixes: bool, unsafe_fixes: bool) -> str:
    if statistics and output_format == "json":
        return formats.format_statistics_json(diagnostics, unsafe_fixes)
    if statistics:
        return formats.format_statistics(diagnostics, unsafe_fixes) + _footer(diagnostics, unsafe_fixes)
    if output_format != "concise":
        return _FORMATS[output_format](diagnostics)
    fixes = formats.format_available_fixes(diagnostics, unsafe_fixes) if show_fixes else ""
    return formats.format_concise(diagnostics, unsafe_fixes) + fixes + _footer(diagnostics, unsafe_fixes)


def _emit(report: str, output_file: str | None) -> bool:
    """Print the report, or write it to `output_file` (its directory is created). False
    when it cannot be written (said on stderr)."""
    if output_file is None:
        click.echo(report, nl=False)
        return True
    try:
        os.makedirs(os.path.dirname(output_file) or ".", exist_ok=True)
        with open(output_file, "w", encoding="utf-8", newline="") as f:
            f.write(report)
    except OSError as e:
        click.echo(f"error: {output_file}: cannot write the report: {e.strerror or e}", err=True)
        return False
    return True


def _add_noqa(paths: list[str], settings, kw: dict) -> int:
    results = run(paths, settings, Options(add_noqa=True), kw["jobs"])
    any_error = _report_errors(results)
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
    settings = _settings(paths, kw)
    options = Options(fix=True, write=write, unsafe_fixes=kw["unsafe_fixes"])
    results, stdin_data = _results(paths, settings, options, kw)
    any_error = _report_errors(results)
    if stdin_data is not None and not diff:
        return _print_fixed_stdin(results[0], stdin_data, kw["unsafe_fixes"], any_error)
    changed = [r for r in results if r.fixed_source is not None]
    fixed = sum(r.fixed for r in results)
    remaining = [d for r in results for d in r.diagnostics]
    files = f"{len(changed)} file{'s' if len(changed) != 1 else ''}"
    errors = f"{fixed} error{'s' if fixed != 1 else ''}"
    summary = formats.format_fix_summary({r.path: r.fixed_codes for r in changed}, write) if show_fixes else ""
    if write:
        click.echo(formats.format_concise(remaining, kw["unsafe_fixes"]) + summary, nl=False)
        click.echo(f"Fixed {errors} in {files} ({len(remaining)} remaining).")
        if any_error:
            return EXIT_ERROR
        return EXIT_FINDINGS if remaining else EXIT_CLEAN
    for result in changed:
        click.echo(_unified_diff(result), nl=False)
    click.echo(summary, nl=False, err=True)
    click.echo(f"Would fix {errors} in {files} ({len(remaining)} remaining).", err=True)
    if any_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if changed else EXIT_CLEAN


def _print_fixed_stdin(result: FileResult, data: bytes, unsafe_fixes: bool, any_error: bool) -> int:
    """Editors pipe a buffer through `fix -`: the source goes to stdout, the rest to stderr."""
    if result.fixed_source is None:
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.buffer.write(result.fixed_source.encode(result.encoding))
    sys.stdout.buffer.flush()
    click.echo(formats.format_concise(result.diagnostics, unsafe_fixes), nl=False, err=True)
    if any_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.diagnostics else EXIT_CLEAN


def _unified_diff(result: FileResult) -> str:
    import difflib

    lines = difflib.unified_diff(
        result.original.splitlines(keepends=True),
        result.fixed_source.splitlines(keepends=True),
        fromfile=f"a/{result.path}",
        tofile=f"b/{result.path}",
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Print the documentation of every rule.")
def rule(code, show_all) -> None:
    """Explain a rule: what it does, why, an example, and how safe its fix is."""
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
def server() -> None:
    """Run the language server (LSP over standard input and output) for editors."""
    import importlib.util

    if importlib.util.find_spec("pygls") is None:  # an optional extra: only this command needs it
        click.echo("error: `convlint server` needs pygls: pip install 'convlint[lsp]'", err=True)
        sys.exit(EXIT_ERROR)
    from convlint.server import serve

    serve()
