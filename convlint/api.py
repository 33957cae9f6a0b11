"""The stable Python API: check a source string or paths, fix a source string, with the
settings the command line uses (each file's own, or one `Settings` for all). Results are
plain frozen dataclasses; nothing prints.

Nothing here imports torch. LibCST is imported only where a fix needs it (`fix_source`,
`check_source(..., edits=True)`) or to read a file this Python cannot parse.
Everything not named in `__all__` may change between releases; what is named keeps its
meaning (see the README's "Python API").
"""

from __future__ import annotations

import io
import os
import tokenize
from dataclasses import dataclass

from convlint import runner
from convlint.codes import KNOWN_CODES, RULE_NAMES
from convlint.config import ConfigError, Configuration, Settings
from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.formats.report import rule_url
from convlint.modes import FileResult, Mode, Options

__all__ = [
    "ConfigError", "Configuration", "Edit", "FileReport", "Finding", "FixResult", "Location", "Settings",
    "Suggestion", "check_paths", "check_source", "configuration", "fix_source", "settings_for",
]


@dataclass(frozen=True)
class Suggestion:
    """A finding's fix: `applicability` is "safe" or "unsafe" (applied only when asked).
    `edits` are filled only when asked for (`check_source(..., edits=True)`)."""

    applicability: str
    message: str
    edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One finding, as `convlint check --output-format json` prints it. Rows and columns are
    1-based, columns in characters; in a notebook they count in `cell` (1-based)."""

    path: str
    code: str
    name: str  # the rule's name, e.g. "module-to-channels-last"
    message: str
    start: Location
    end: Location  # exclusive
    cell: int | None
    fix: Suggestion | None
    reason: str | None  # why the receiver was judged a module (--show-reasons)
    noqa_row: int  # the row a `# noqa: CODE` for it goes on
    url: str | None  # the rule's documentation


@dataclass(frozen=True)
class FileReport:
    """What checking one file found. `errors` are one-line messages (the file could not be
    read, decoded or analysed); `notes` say why a path was left alone on purpose."""

    path: str
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FixResult:
    """A fixed source. `source` is the input when nothing changed; `fixed` counts the
    findings fixed, `remaining` what is left, and `notes` the fixes that could not be applied
    (and why); `error` says why the fixed source could not be produced at all."""

    source: str
    fixed: int
    remaining: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.fixed > 0 and self.error is None


def configuration(*, config: str | None = None, isolated: bool = False) -> Configuration:
    """How `convlint check` gives each file its settings: the closest configuration file
    above it (pyproject.toml `[tool.convlint]`, convlint.toml, .convlint.toml, with what it
    extends); with `config`, that file for every file (as `--config FILE`); `isolated`,
    the defaults (as `--isolated`). Raises ConfigError for a file the command line refuses."""
    return Configuration(KNOWN_CODES, config_file=config, isolated=isolated)


def settings_for(path: str = ".", *, config: str | None = None, isolated: bool = False) -> Settings:
    """The settings `convlint check` uses for the file (or the files of the directory) at
    `path`, which need not exist. Change them as flags do, with
    `dataclasses.replace(settings, ignore=("CL103",))`. Raises ConfigError."""
    resolved = configuration(config=config, isolated=isolated)
    return resolved.settings_for_directory(path) if os.path.isdir(path) else resolved.settings_for(path)


Chosen = Settings | Configuration | None  # one Settings for every file, each file's own, or the CLI's


class _Uniform(Configuration):
    """One `Settings` for every file."""

    def __init__(self, settings: Settings):
        super().__init__(KNOWN_CODES, isolated=True)
        self._uniform = settings

    def resolve(self, path: str, is_directory: bool = False) -> tuple[Settings, tuple[str, ...]]:
        return self._uniform, ()


def _configuration_of(settings: Chosen) -> Configuration:
    if settings is None:
        return configuration()
    return settings if isinstance(settings, Configuration) else _Uniform(settings)


def _settings_of(settings: Chosen, path: str) -> Settings:
    return settings if isinstance(settings, Settings) else _configuration_of(settings).settings_for(path)


def check_source(source: str, path: str = "<string>", settings: Chosen = None, *,
                 edits: bool = False) -> list[Finding]:
    """The findings in `source`, as `convlint check` reports them for a file at `path`
    (which picks its settings unless one `Settings` is given, the per-file ignores, and
    what the text is: a `.ipynb` path takes the notebook's JSON, a documentation page its
    code blocks). Sorted; `# noqa` applied. With `edits`, each fix carries its edits.
    Raises ValueError with the one-line message `check` would print for a source it
    cannot analyse (a syntax error is a CL000 finding, not an error)."""
    result = _run(source, path, settings, Options(edits=edits))
    if result.errors:
        raise ValueError(f"{result.errors[0].path}: {result.errors[0].message}")
    return [_finding(d) for d in result.diagnostics]


def check_paths(paths: list[str], settings: Chosen = None, *, jobs: int = 1) -> list[FileReport]:
    """Check the files under `paths` as `convlint check PATHS` does: the same walk,
    excludes and .gitignore, each file with its own settings (or the one `Settings`
    given). One report per file with findings, errors or notes, sorted by path; files
    without any are left out. `jobs` > 1 checks in that many worker processes."""
    reports = []
    for result in runner.run([str(p) for p in paths], _configuration_of(settings), Options(), jobs=jobs):
        if not (result.diagnostics or result.errors or result.notes):
            continue
        reports.append(FileReport(
            result.path,
            tuple(_finding(d) for d in result.diagnostics),
            tuple(f"{e.path}: {e.message}" for e in result.errors),
            tuple(result.notes),
        ))
    return reports


def fix_source(source: str, path: str = "<string>", settings: Chosen = None, *,
               unsafe: bool = False) -> FixResult:
    """`source` with its fixes applied, as `convlint fix --write` would write the file at
    `path`: the safe fixes, and with `unsafe` the unsafe ones too. Writes nothing."""
    result = _run(source, path, settings, Options(Mode.FIX, unsafe_fixes=unsafe))
    remaining = tuple(_finding(d) for d in result.diagnostics)
    if result.errors:  # e.g. a notebook whose JSON layout cannot be kept
        return FixResult(source, 0, remaining, tuple(result.notes), result.errors[0].message)
    fixed = result.fixed_source if result.fixed_source is not None else source
    return FixResult(fixed, result.fixed, remaining, tuple(result.notes))


def _run(source: str, path: str, settings: Chosen, options: Options) -> FileResult:
    """The pipeline of `check` and `fix` for one file, on a text: encoded as its own coding cookie
    says (so that decoding gives the text back), else as UTF-8."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, not {type(source).__name__}")
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(source.encode("utf-8", "surrogatepass")).readline)[0]
        data = source.encode(encoding)
    except (SyntaxError, LookupError, UnicodeError):
        data = source.encode("utf-8", "surrogatepass")
    return runner.run_source(path, data, _settings_of(settings, path), options)


def _finding(d: Diagnostic) -> Finding:
    fix = None
    if d.fix is not None:
        fix = Suggestion(d.fix.applicability.value, d.fix.message, tuple(d.fix.edits))
    return Finding(
        path=d.path, code=d.code, name=RULE_NAMES.get(d.code, ""), message=d.message,
        start=d.start, end=d.end, cell=d.cell, fix=fix, reason=d.reason,
        noqa_row=d.noqa_row if d.noqa_row is not None else d.start.row, url=rule_url(d.code),
    )
