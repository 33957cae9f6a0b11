"""Settings: which configuration file each file gets (the closest above it, as Ruff finds it),
its keys with what it extends, and the command line's overrides."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import posixpath
import re
import sys
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path


# What a directory walk never enters unless the user replaces `exclude`.
# Ruff's list, with convlint's own cache (whose `.gitignore` of `*` a walk would otherwise
# read, and load pathspec for, on every run).
DEFAULT_EXCLUDE = (
    ".bzr", ".convlint_cache", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
    ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn",
    ".tox", ".venv", ".vscode", "__pypackages__", "_build", "buck-out", "build", "dist",
    "node_modules", "site-packages", "venv",
)
FIX_TARGETS = ("torch", "convlint")


class ConfigError(Exception):
    """A configuration problem the user must fix; the CLI prints it and exits 2."""


@dataclass(frozen=True)
class Settings:
    """What one file is checked with: immutable, hashable, and the same for every file of a
    configuration file. Patterns with a slash are absolute once loaded (anchored at the
    directory of the file that set them); others match a name."""

    # Every rule but CL9xx, the rules about suppressions (CL900), which are opt-in like
    # Ruff's RUF100: see CL900's docs. A new group of rules (CL2xx) must be added here.
    select: tuple[str, ...] = ("CL0", "CL1")
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fix_target: str = "torch"
    torch_version: str | None = None  # the torch release the project targets, e.g. "2.1"
    respect_gitignore: bool = True
    force_exclude: bool = False
    include_docs: bool = False  # walks check .md/.rst/.txt pages' code blocks too
    extend_include: tuple[str, ...] = ()  # patterns of more files walks check (docs among them)
    docstring_code: bool = False  # check and fix the `>>>` examples in .py docstrings
    # The directory of the configuration file the file found above it: the analysis's
    # project root, and where a name pattern stops matching parent directories. None
    # without one (or with --config/--isolated): the analysis finds each file's project
    # from the file itself.
    project_root: str | None = None

    def fingerprint(self) -> str:
        """A stable digest of every setting (equal settings, equal digests, in any process):
        with the file's content, what a cached result may be keyed by."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        values = [(f.name, getattr(self, f.name)) for f in fields(self)]
        return hashlib.sha256(repr(values).encode("utf-8", "surrogatepass")).hexdigest()

    def __hash__(self) -> int:
        # Settings key caches looked up once per file: hash the digest, computed once (a
        # hash of its own, unlike Python's of strings, would not survive a pickle).
        return hash(self._fingerprint)

    @property
    def pattern_root(self) -> str:
        return self.project_root or os.getcwd()

    def is_enabled(self, code: str, path: str | None = None) -> bool:
        return self.enabled_codes(path)(code)

    def enabled_codes(self, path: str | None = None):
        """`is_enabled` for one path and many codes: the path is matched against
        per-file-ignores once, not once per code."""
        ignored = list(self.ignore) + (self.ignored_for_path(path) if path is not None else [])
        select = self.select + self.extend_select
        return lambda code: rule_enabled(code, select, ignored)

    def ignored_for_path(self, path: str) -> list[str]:
        candidate = _Candidate(path, self.pattern_root)
        codes: list[str] = []
        for pattern, pattern_codes in self.per_file_ignores:
            if candidate.matches(pattern):
                codes.extend(pattern_codes)
        return codes

    def is_excluded(self, path: str, parents: bool = True) -> bool:
        """True when a pattern of `exclude`/`extend-exclude` matches the path (or, with
        `parents`, one of its parent directories below the project root)."""
        candidate = _Candidate(path, self.pattern_root)
        return any(candidate.matches(p, parents) for p in self.exclude + self.extend_exclude)

    def is_included(self, path: str) -> bool:
        """True when a pattern of `extend-include` matches the path (as excludes match)."""
        candidate = _Candidate(path, self.pattern_root)
        return any(candidate.matches(p, parents=False) for p in self.extend_include)

    @cached_property
    def _entry_excludes(self) -> tuple[frozenset[str], re.Pattern | None, tuple[str, ...]]:
        names, globs, paths = set(), [], []
        for pattern in self.exclude + self.extend_exclude:
            pattern = pattern.rstrip("/").removeprefix("./")
            if "/" in pattern:
                paths.append(pattern)
            elif any(c in pattern for c in "*?["):
                globs.append(fnmatch.translate(pattern))
            else:
                names.add(pattern)
        glob = re.compile("|".join(globs)) if globs else None
        return frozenset(names), glob, tuple(paths)

    def excludes_entry(self, name: str, path: str) -> bool:
        """`is_excluded(path, parents=False)` for a walk, which meets every entry: a set
        lookup and one regex for the usual patterns, a path only when needed."""
        names, glob, paths = self._entry_excludes
        if name in names or (glob is not None and glob.match(name)):
            return True
        if paths:
            candidate = _Candidate(path, self.pattern_root)
            return any(candidate.matches(p, parents=False) for p in paths)
        return False


def rule_enabled(code: str, select: tuple[str, ...] | list[str], ignore: list[str]) -> bool:
    """The most specific matching selector wins (as in Ruff); on a tie, ignore wins."""
    best_select = max((len(s) for s in select if _selects(s, code)), default=-1)
    best_ignore = max((len(s) for s in ignore if _selects(s, code)), default=-1)
    return best_select >= 0 and best_select > best_ignore


def _selects(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def relative_posix(path: str, root: str) -> str:
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, root)
    except ValueError:  # another drive on Windows
        return Path(absolute).as_posix()
    if rel.startswith(".."):
        return Path(absolute).as_posix()
    return Path(rel).as_posix()


class _Candidate:
    """A path as patterns see it: relative to the root (for name patterns and relative
    ones) and absolute (for anchored ones), each computed when first asked."""

    def __init__(self, path: str, root: str):
        self._path = path
        self._root = root
        self._seen: dict[bool, str] = {}

    def matches(self, pattern: str, parents: bool = True) -> bool:
        anchored = _is_absolute(pattern)
        form = self._seen.get(anchored)
        if form is None:
            absolute = os.path.abspath(self._path)
            form = self._seen[anchored] = Path(absolute).as_posix() if anchored else relative_posix(absolute, self._root)
        return path_matches(pattern, form, parents)


def _is_absolute(pattern: str) -> bool:
    return pattern.startswith("/") or bool(re.match(r"[A-Za-z]:/", pattern))


def path_matches(pattern: str, rel_path: str, parents: bool = True) -> bool:
    """Ruff-style exclude matching.

    A pattern without a slash matches a path's name (`build`, `*_pb2.py`); one with a slash
    matches the path (relative to the project root, or absolute for an anchored pattern:
    `src/generated`, `tests/*.py`). With `parents`, a match of any parent directory counts too.
    """
    pattern = pattern.rstrip("/").removeprefix("./")
    parts = rel_path.split("/")
    prefixes = range(1, len(parts) + 1) if parents else [len(parts)]
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(parts[i - 1], pattern) for i in prefixes)
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in prefixes)


def anchor_pattern(pattern: str, directory: str) -> str:
    """A pattern with a slash made absolute at `directory` (its glob characters escaped);
    a name pattern (no slash) is returned as it is: it matches a name anywhere."""
    pattern = pattern.strip()
    bare = pattern.rstrip("/").removeprefix("./")
    if "/" not in bare or _is_absolute(pattern):
        return pattern
    return posixpath.normpath(glob.escape(Path(os.path.abspath(directory)).as_posix()) + "/" + bare)


# --------------------------------------------------------------------------- the keys

_KEYS = {
    "select": "codes",
    "extend-select": "codes",
    "ignore": "codes",
    "exclude": "strings",
    "extend-exclude": "strings",
    "per-file-ignores": "mapping",
    "fix-target": "fix-target",
    "torch-version": "version",
    "respect-gitignore": "bool",
    "force-exclude": "bool",
    "include-docs": "bool",
    "extend-include": "strings",
    "docstring-code": "bool",
}
CONFIG_NAMES = (".convlint.toml", "convlint.toml", "pyproject.toml")  # in this order of precedence


def find_config(start: str) -> str | None:
    """The closest configuration file from `start` upwards: `.convlint.toml` or
    `convlint.toml` (top-level keys), else a `pyproject.toml` with a [tool.convlint] table
    (one without is passed over), in the same directory, then in each parent.

    Raises ConfigError for one that may hold the table but cannot be read or parsed: its
    settings must not be silently dropped. A directory that cannot be entered is passed over
    (the path itself is reported by the run, with its own reason).
    """
    directory = Path(os.path.abspath(start))
    try:
        if not directory.is_dir():
            directory = directory.parent
    except OSError:
        directory = directory.parent
    for candidate_dir in (directory, *directory.parents):
        found = config_in(str(candidate_dir))
        if found is not None:
            return found
    return None


def config_in(directory: str) -> str | None:
    """The configuration file of `directory` itself, if it has one (see `find_config`)."""
    for name in CONFIG_NAMES:
        candidate = os.path.join(directory, name)
        try:
            if not os.path.isfile(candidate):
                continue
        except (OSError, ValueError):
            continue
        if name != "pyproject.toml" or _has_convlint_table(Path(candidate)):
            return candidate
    return None


def _has_convlint_table(path: Path) -> bool:
    data = _read(path)
    # A cheap test first: most pyproject files never name convlint.
    return b"convlint" in data and "convlint" in _tool_table(path, _parse_toml(path, data))


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None


def _parse_toml(path: Path | str, data: bytes) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        row = data[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: invalid TOML: byte 0x{data[e.start]:02x} on line {row} is not valid UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"{path}: invalid TOML: nested too deeply to read") from None


def _tool_table(path: Path, document: dict) -> dict:
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: `tool` must be a table, not {_toml_type(tool)}")
    return tool


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array"}
    return next((name for kind, name in names.items() if isinstance(value, kind)), "a date or time")


@dataclass(frozen=True)
class _Layer:
    """One configuration file's own keys, validated, patterns anchored at its directory."""

    path: str
    values: dict
    extend: str | None  # the file it extends, resolved


def _read_layer(path: str, known_codes: list[str], named_by: str | None = None) -> _Layer:
    """A configuration file's keys: [tool.convlint] of a pyproject.toml (or of any TOML
    file with a `tool` table), the top-level keys of another. `named_by` (--config, or the
    file that extends it): a file without a convlint table is then an error, not a file to
    pass over."""
    file = Path(path)
    document = _parse_toml(file, _read(file))
    pyproject_like = file.name == "pyproject.toml" or any(k in document for k in ("tool", "project", "build-system"))
    if pyproject_like:
        tool = _tool_table(file, document)
        if "convlint" not in tool:
            raise ConfigError(f"{path}: no [tool.convlint] table" + (f" (named by {named_by})" if named_by else ""))
        table, label = tool["convlint"], "[tool.convlint]"
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool.convlint] must be a table, not {_toml_type(table)}")
    else:
        table, label = document, ""
    directory = os.path.dirname(os.path.abspath(path))
    extend = table.get("extend")
    if extend is not None:
        if not isinstance(extend, str):
            raise ConfigError(f"{_where(path, label)}extend must be a path (a string)")
        extend = os.path.normpath(os.path.join(directory, os.path.expandvars(os.path.expanduser(extend))))
    keys = {k: v for k, v in table.items() if k != "extend"}
    return _Layer(path, validate_keys(keys, str(path), label, known_codes, directory), extend)


def _where(file: str, label: str) -> str:
    return f"{file}: {label} " if label else f"{file}: "


def validate_keys(table: dict, file: str, label: str, known_codes: list[str], directory: str) -> dict:
    """Settings' field values from a table of keys (`extend-select` -> `extend_select`);
    patterns with a slash are anchored at `directory`. Raises ConfigError naming `file` (and
    the table, `label`)."""
    values: dict = {}
    for key, raw in table.items():
        kind = _KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{file}: unknown key `{key}`" + (f" in {label}" if label else ""))
        values[key.replace("-", "_")] = _validate(_where(file, label) + key, kind, raw, known_codes, directory)
    return values


def _validate(where: str, kind: str, raw: object, known_codes: list[str], directory: str):
    if kind == "bool":
        if not isinstance(raw, bool):
            raise ConfigError(f"{where} must be true or false")
        return raw
    if kind == "fix-target":
        if raw not in FIX_TARGETS:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, FIX_TARGETS))}")
        return raw
    if kind == "version":
        if not isinstance(raw, str) or not re.fullmatch(r"\d+\.\d+(\.\d+)?", raw.strip()):
            raise ConfigError(f'{where} must be a torch release such as "2.1" or "2.1.2"')
        return raw.strip()
    if kind == "mapping":
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table of glob = [codes]")
        return tuple(
            (anchor_pattern(pattern, directory), _string_list(f"{where}.{pattern}", codes, known_codes, True))
            for pattern, codes in raw.items()
        )
    patterns = _string_list(where, raw, known_codes, kind == "codes")
    return patterns if kind == "codes" else tuple(anchor_pattern(p, directory) for p in patterns)


def _string_list(where: str, raw: object, known_codes: list[str], are_codes: bool):
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ConfigError(f"{where} must be a list of strings")
    if are_codes:
        check_selectors(raw, known_codes, where)
    return tuple(raw)


def check_selectors(selectors, known_codes: list[str], where: str) -> None:
    for selector in selectors:
        if selector != "ALL" and not any(code.startswith(selector) for code in known_codes):
            raise ConfigError(f"{where}: unknown rule selector `{selector}`")


def combine(base: dict, layer: dict) -> dict:
    """`layer`'s keys over `base`'s (an extending file over the one it extends, overrides
    over a file), as Ruff combines them: a `select` starts the selection again, `ignore`,
    `extend-select` and `extend-exclude` add, every other key replaces."""
    merged = dict(base)
    for key, value in layer.items():
        if key == "select":
            merged.update(select=value, extend_select=(), ignore=())
        elif key in ("ignore", "extend_select", "extend_exclude"):
            merged[key] = merged.get(key, ()) + value
        else:
            merged[key] = value
    return merged


def _load_chain(config_path: str, known_codes: list[str], named: bool = False) -> tuple[dict, tuple[str, ...]]:
    """The combined keys of a file and of the files it extends, and those files (the file
    first, then what it extends)."""
    layers: list[_Layer] = []
    seen: list[str] = []
    path: str | None = config_path
    while path is not None:
        real = os.path.realpath(path)
        if real in seen:
            cycle = " -> ".join([*(layer.path for layer in layers), path])
            raise ConfigError(f"{config_path}: `extend` makes a cycle: {cycle}")
        seen.append(real)
        if layers and not os.path.isfile(path):
            raise ConfigError(f"{layers[-1].path}: extend: no such file: {path}")
        named_by = layers[-1].path if layers else "--config" if named else None
        layer = _read_layer(path, known_codes, named_by)
        layers.append(layer)
        path = layer.extend
    values: dict = {}
    for layer in reversed(layers):
        values = combine(values, layer.values)
    return values, tuple(layer.path for layer in layers)


# --------------------------------------------------------------------------- per file


def parse_override(argument: str, known_codes: list[str]) -> dict:
    """`--config 'select = ["CL101"]'`: one `key = value` in TOML, validated as a file's
    keys are (patterns anchored at the working directory, as Ruff's)."""
    where = f"--config {argument!r}"
    try:
        document = _parse_toml(where, argument.encode("utf-8", "surrogateescape"))
    except ConfigError:
        raise ConfigError(f"{where}: neither a configuration file nor a TOML `key = value` override") from None
    if "extend" in document:
        raise ConfigError(f"{where}: `extend` cannot be overridden")
    return validate_keys(document, where, "", known_codes, os.getcwd())


_UNSEEN = object()


class Configuration:
    """Which settings each file gets, as Ruff resolves them: the closest configuration file
    above the file (see `find_config`), with what it extends; or, with `config_file`, that
    file for every file; or, `isolated`, the defaults. `overrides` (`--config KEY=VALUE`)
    then `flags` (the command line's, see `merge_cli`) go over whichever it is.

    The answer for a file depends only on the file's path and the files above it, never on
    the working directory or the other files of the run. Each directory is looked at once.
    """

    def __init__(self, known_codes: list[str], *, config_file: str | None = None, isolated: bool = False,
                 overrides: tuple[dict, ...] = (), flags: dict | None = None):
        self.known_codes = known_codes
        self.isolated = isolated
        self._overrides = overrides
        self._flags = flags or {}
        self._by_directory: dict[str, str | None] = {}  # directory -> its closest config file
        self._by_given: dict[str, str | None] = {}  # the same, by the directory as given
        self._by_config: dict[str | None, tuple[Settings, tuple[str, ...]]] = {}
        self._fixed: tuple[Settings, tuple[str, ...]] | None = None
        if isolated:
            self._fixed = self._settings(None)
        elif config_file is not None:
            if not os.path.isfile(config_file):
                raise ConfigError(f"{config_file}: no such file (--config)")
            self._fixed = self._settings(config_file, named=True)

    @property
    def source_note(self) -> str:
        """Where settings come from beyond their files (for `--show-settings`)."""
        notes = ["--isolated: no configuration file" if self.isolated else "",
                 "--config overrides" if self._overrides else "",
                 "command-line flags" if any(self._flags.values()) else ""]
        return ", ".join(n for n in notes if n)

    def settings_for(self, path: str) -> Settings:
        """The settings of the file at `path` (it need not exist: standard input's name)."""
        return self.resolve(path)[0]

    def settings_for_directory(self, directory: str) -> Settings:
        """The settings of the files directly in `directory` (a walk asks once per directory)."""
        return self.resolve(directory, is_directory=True)[0]

    def resolve(self, path: str, is_directory: bool = False) -> tuple[Settings, tuple[str, ...]]:
        """The settings of a file (or, `is_directory`, of a directory) and their sources."""
        if self._fixed is not None:
            return self._fixed
        directory = path if is_directory else os.path.dirname(path)
        config = self._by_given.get(directory, _UNSEEN)  # a walk's paths: no abspath per file
        if config is _UNSEEN:
            config = self._by_given[directory] = self._config_of(os.path.abspath(directory or "."))
        return self._resolved(config)

    def _config_of(self, directory: str) -> str | None:
        """The closest configuration file of an absolute directory; every directory on the
        way up is remembered, so that a walk looks at each directory once."""
        missing = []
        probe = directory
        while probe not in self._by_directory:
            missing.append(probe)
            found = config_in(probe)
            if found is not None:
                self._by_directory[probe] = found
                break
            parent = os.path.dirname(probe)
            if parent == probe:
                self._by_directory[probe] = None
                break
            probe = parent
        config = self._by_directory[probe]
        for directory in missing:
            self._by_directory[directory] = config
        return config

    def _resolved(self, config: str | None) -> tuple[Settings, tuple[str, ...]]:
        found = self._by_config.get(config)
        if found is None:
            found = self._by_config[config] = self._settings(config)
        return found

    def _settings(self, config: str | None, named: bool = False) -> tuple[Settings, tuple[str, ...]]:
        values, sources = _load_chain(config, self.known_codes, named) if config is not None else ({}, ())
        for override in self._overrides:
            values = combine(values, override)
        root = os.path.dirname(os.path.abspath(config)) if config is not None and not named else None
        return merge_cli(Settings(**values, project_root=root), **self._flags), sources


def describe_settings(path: str, settings: Settings, sources: tuple[str, ...], note: str = "") -> str:
    """`check --show-settings`: the file's settings as configuration keys, and where they
    come from (the closest file first, then what it extends)."""
    lines = [f"Settings for {path}"]
    if sources:
        lines.append(f"# from: {os.path.abspath(sources[0])}")
        lines += [f"#   extending: {os.path.abspath(source)}" for source in sources[1:]]
    else:
        lines.append("# from: the defaults (no configuration file)")
    if note:
        lines.append(f"# and: {note}")
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name == "per_file_ignores":
            value = {pattern: list(codes) for pattern, codes in value}
        lines.append(f"{f.name.replace('_', '-')} = {_toml_value(value)}")
    lines.append(f"fingerprint = {_toml_value(settings.fingerprint())}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    import json

    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    return json.dumps(value)


def merge_cli(settings: Settings, **overrides) -> Settings:
    """Command-line flags win over the file: `select` replaces, `ignore` adds. Patterns
    with a slash are relative to the working directory."""
    changes = {}
    cwd = os.getcwd()
    if overrides.get("select"):
        changes["select"] = tuple(overrides["select"])
        changes["extend_select"] = ()
    if overrides.get("extend_select"):
        changes["extend_select"] = settings.extend_select + tuple(overrides["extend_select"])
    if overrides.get("ignore"):
        changes["ignore"] = settings.ignore + tuple(overrides["ignore"])
    if overrides.get("extend_exclude"):
        changes["extend_exclude"] = settings.extend_exclude + tuple(anchor_pattern(p, cwd) for p in overrides["extend_exclude"])
    if overrides.get("exclude"):
        changes["exclude"] = tuple(anchor_pattern(p, cwd) for p in overrides["exclude"])
    if overrides.get("fix_target"):
        changes["fix_target"] = overrides["fix_target"]
    if overrides.get("force_exclude"):
        changes["force_exclude"] = True
    if overrides.get("no_respect_gitignore"):
        changes["respect_gitignore"] = False
    return replace(settings, **changes) if changes else settings
