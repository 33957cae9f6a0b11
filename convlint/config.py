"""Settings: `[tool.convlint]` from the nearest pyproject.toml, merged with command-line flags."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path


# What a directory walk never enters unless the user replaces `exclude`.
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
    ".mypy_cache", ".nox", ".pants.d", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv",
    "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages",
    "venv",
)
FIX_TARGETS = ("torch", "convlint")


class ConfigError(Exception):
    """A configuration problem the user must fix; the CLI prints it and exits 2."""


@dataclass(frozen=True)
class Settings:
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
    # The directory of the configuration file, where relative patterns (exclude,
    # per-file-ignores) are anchored; None without one (patterns are then relative to the
    # working directory, as Ruff's are, and the analysis finds each file's project itself).
    project_root: str | None = None

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
        rel = relative_posix(path, self.pattern_root)
        codes: list[str] = []
        for pattern, pattern_codes in self.per_file_ignores:
            if path_matches(pattern, rel):
                codes.extend(pattern_codes)
        return codes

    def is_excluded(self, path: str, parents: bool = True) -> bool:
        """True when a pattern of `exclude`/`extend-exclude` matches the path (or, with
        `parents`, one of its parent directories)."""
        rel = relative_posix(path, self.pattern_root)
        return any(path_matches(p, rel, parents) for p in self.exclude + self.extend_exclude)

    def is_included(self, path: str) -> bool:
        """True when a pattern of `extend-include` matches the path (as excludes match)."""
        rel = relative_posix(path, self.pattern_root)
        return any(path_matches(p, rel, parents=False) for p in self.extend_include)

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
        lookup and one regex for the usual patterns, a relative path only when needed."""
        names, glob, paths = self._entry_excludes
        if name in names or (glob is not None and glob.match(name)):
            return True
        if paths:
            rel = relative_posix(path, self.pattern_root)
            return any(fnmatch.fnmatchcase(rel, p) for p in paths)
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


def path_matches(pattern: str, rel_path: str, parents: bool = True) -> bool:
    """Ruff-style exclude matching.

    A pattern without a slash matches a path's name (`build`, `*_pb2.py`); one with a slash
    matches the path relative to the project root (`src/generated`, `tests/*.py`). With
    `parents`, a match of any parent directory counts too.
    """
    pattern = pattern.rstrip("/").removeprefix("./")
    parts = rel_path.split("/")
    prefixes = range(1, len(parts) + 1) if parents else [len(parts)]
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(parts[i - 1], pattern) for i in prefixes)
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in prefixes)


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


def find_config(start: str) -> str | None:
    """The nearest pyproject.toml with a [tool.convlint] table, from `start` upwards.

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
        candidate = candidate_dir / "pyproject.toml"
        try:
            if not candidate.is_file():
                continue
        except OSError:
            continue
        if _has_convlint_table(candidate):
            return str(candidate)
    return None


def _has_convlint_table(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    # A cheap test first: most pyproject files never name convlint.
    return b"convlint" in data and "convlint" in _tool_table(path, _parse_toml(path, data))


def _load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    return _parse_toml(path, data)


def _parse_toml(path: Path, data: bytes) -> dict:
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


def load_settings(config_path: str | None, known_codes: list[str]) -> Settings:
    """Settings from a pyproject.toml (or defaults when there is none)."""
    if config_path is None:
        return Settings()
    path = Path(config_path)
    table = _tool_table(path, _load_toml(path)).get("convlint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.convlint] must be a table, not {_toml_type(table)}")
    values: dict = {}
    for key, raw in table.items():
        kind = _KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{path}: unknown key `{key}` in [tool.convlint]")
        values[key.replace("-", "_")] = _validate(path, key, kind, raw, known_codes)
    return Settings(
        **values, project_root=str(path.parent.resolve())
    )


def _validate(path: Path, key: str, kind: str, raw: object, known_codes: list[str]):
    where = f"{path}: [tool.convlint] {key}"
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
            (pattern, _string_list(f"{where}.{pattern}", codes, known_codes, True))
            for pattern, codes in raw.items()
        )
    return _string_list(where, raw, known_codes, kind == "codes")


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


def merge_cli(settings: Settings, **overrides) -> Settings:
    """Command-line flags win over the file: `select` replaces, `ignore` adds."""
    changes = {}
    if overrides.get("select"):
        changes["select"] = tuple(overrides["select"])
        changes["extend_select"] = ()
    if overrides.get("extend_select"):
        changes["extend_select"] = settings.extend_select + tuple(overrides["extend_select"])
    if overrides.get("ignore"):
        changes["ignore"] = settings.ignore + tuple(overrides["ignore"])
    if overrides.get("extend_exclude"):
        changes["extend_exclude"] = settings.extend_exclude + tuple(overrides["extend_exclude"])
    if overrides.get("exclude"):
        changes["exclude"] = tuple(overrides["exclude"])
    if overrides.get("fix_target"):
        changes["fix_target"] = overrides["fix_target"]
    if overrides.get("force_exclude"):
        changes["force_exclude"] = True
    if overrides.get("no_respect_gitignore"):
        changes["respect_gitignore"] = False
    return replace(settings, **changes)
