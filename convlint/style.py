"""The formatter style a file is held to: its formatter, line length, indentation and commas.

Read as ruff and black find their settings: the nearest `.ruff.toml`, `ruff.toml` or
`pyproject.toml` with `[tool.ruff]`, a `pyproject.toml` with `[tool.black]`, or a
`setup.cfg`, `tox.ini` or `.flake8` with flake8's `max-line-length`, from the file's
directory upwards to the project's root; else black's defaults (88 columns). The formatter
is ruff where its configuration has a `format` table or `.pre-commit-config.yaml` runs
`ruff-format`, black where there is a `[tool.black]` or pre-commit runs black. Looked up
once per directory; a broken or unreadable configuration counts as absent, so it never
stops a run.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from convlint.targets import lowest_admitted, read_toml

DEFAULT_LINE_LENGTH = 88


@dataclass(frozen=True)
class Style:
    line_length: int = DEFAULT_LINE_LENGTH
    indent: str = "    "  # one indentation step (black: always four spaces)
    # False with black's or ruff's `skip-magic-trailing-comma`: a trailing comma does not
    # keep brackets exploded (and is removed when they fit on one line).
    magic_trailing_comma: bool = True
    formatter: str | None = None  # "black" or "ruff" when the project configures one
    config: str | None = None  # the file the style was read from
    # Whether a split call gets a trailing comma after `*args`/`**kwargs`: black adds one
    # only when every Python it targets accepts it (3.5+), ruff always; None: as the file's
    # own syntax tells black (see `codemod`).
    vararg_comma: bool | None = None
    tab_width: int = 4  # the columns a tab indentation counts for (ruff's indent-width)


_CACHE: dict[str, Style] = {}
# The directories whose style an answer read, since the last `consulted.clear()` (the result
# cache keys an answer by their styles, cache.py).
consulted: set[str] = set()


def style_for(path: str) -> Style:
    """The style of the file at `path` (a file need not exist: stdin takes its name)."""
    directory = os.path.dirname(os.path.abspath(path))
    consulted.add(directory)
    found = _CACHE.get(directory)
    if found is None:
        found = _CACHE[directory] = _directory_style(Path(directory))
    return found


def clear_cache() -> None:
    _CACHE.clear()


def _directory_style(directory: Path) -> Style:
    # black's targets, unless configured: the `requires-python` of the file the style came
    # from, or with none, of the nearest pyproject.toml
    candidates = []
    for candidate in (directory, *directory.parents):
        candidates.append(candidate)
        if (candidate / ".git").exists() or (candidate / ".hg").exists():
            break  # the project's root: black looks no further
    hook = next(filter(None, (_precommit_formatter(c / ".pre-commit-config.yaml") for c in candidates)), None)
    style = requires_python = None
    for candidate in candidates:
        style = _style_in(candidate, hook)
        if style is not None:
            requires_python = _requires_python(candidate)
            break
        requires_python = requires_python or _requires_python(candidate)
    style = style or _hook_style(hook, None) or Style()
    if style.vararg_comma is None and requires_python is not None:
        lowest = lowest_admitted(requires_python)
        style = replace(style, vararg_comma=lowest >= (3, 5, 0) if lowest is not None else None)
    return style


def _requires_python(directory: Path) -> str | None:
    project = (read_toml(directory / "pyproject.toml") or {}).get("project")
    value = project.get("requires-python") if isinstance(project, dict) else None
    return value if isinstance(value, str) else None


def _style_in(directory: Path, hook: tuple[str, int | None] | None) -> Style | None:
    """The style configured by the files of one directory, if any.

    Which formatter: ruff when its configuration has a `format` table or pre-commit runs
    `ruff-format`, black when there is a `[tool.black]` or pre-commit runs black; else none
    is known, and ruff's line length (its `.ruff.toml`, `ruff.toml`, `[tool.ruff]`, in the
    order ruff reads them) or flake8's maximum stands in.
    """
    ruff_path = next((directory / name for name in (".ruff.toml", "ruff.toml") if (directory / name).is_file()), None)
    ruff = read_toml(ruff_path) if ruff_path else None
    pyproject = read_toml(directory / "pyproject.toml")
    tool = pyproject.get("tool", {}) if isinstance(pyproject, dict) else {}
    tool = tool if isinstance(tool, dict) else {}
    if ruff is None and isinstance(tool.get("ruff"), dict):
        ruff, ruff_path = tool["ruff"], directory / "pyproject.toml"
    black = tool.get("black") if isinstance(tool.get("black"), dict) else None
    named = hook[0] if hook else None
    ruff_style = _ruff_style(ruff, ruff_path) if isinstance(ruff, dict) else None
    if ruff_style is not None and (ruff_style.formatter == "ruff" or named == "ruff"):
        return _hook_style(hook, replace(ruff_style, formatter="ruff", vararg_comma=True))
    if black is not None or (named == "black" and ruff is not None):
        return _hook_style(hook, _black_style(black or {}, directory / "pyproject.toml"))
    if ruff_style is not None:
        return ruff_style
    for name in ("setup.cfg", "tox.ini", ".flake8"):
        length = _flake8_line_length(directory / name)
        if length is not None:
            return _hook_style(hook, Style(line_length=length, config=str(directory / name)))
    return None


def _hook_style(hook: tuple[str, int | None] | None, style: Style | None) -> Style | None:
    """`style` as the formatter pre-commit runs sees it (its `--line-length` argument wins);
    a flake8 maximum is not the formatter's."""
    if hook is None:
        return style
    name, length = hook
    if style is None or style.formatter != name:  # the formatter's defaults
        style = Style(formatter=name, vararg_comma=True if name == "ruff" else None)
    return replace(style, line_length=length) if length else style


_HOOK = re.compile(r"^\s*-\s*id:\s*['\"]?(ruff-format|black|black-jupyter)['\"]?\s*$", re.MULTILINE)
_HOOK_LENGTH = re.compile(r"(?:--line-length|-l)[\s=,'\"]+(\d+)")


def _precommit_formatter(path: Path) -> tuple[str, int | None] | None:
    """The formatter a `.pre-commit-config.yaml` runs (ruff's over black's), with the line
    length its arguments give."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    hooks = {}
    for match in _HOOK.finditer(text):
        block = text[match.end():].split("- id:", 1)[0]
        length = _HOOK_LENGTH.search(block.split("\n- ", 1)[0]) if "args" in block else None
        hooks["ruff" if match.group(1) == "ruff-format" else "black"] = int(length.group(1)) if length else None
    for name in ("ruff", "black"):
        if name in hooks:
            return name, hooks[name]
    return None


def _ruff_style(table: dict, path: Path, depth: int = 0) -> Style:
    """ruff's settings; `extend` reads the base configuration first (as ruff does). The
    formatter is ruff when a `format` table is configured, here or in a base."""
    base = Style(config=str(path))
    extend = table.get("extend")
    if isinstance(extend, str) and depth < 8:
        target = (path.parent / os.path.expanduser(extend)).resolve()
        parent = read_toml(target)
        if isinstance(parent, dict):
            if target.name == "pyproject.toml":
                parent = parent.get("tool", {}).get("ruff", {})
            if isinstance(parent, dict):
                base = _ruff_style(parent, target, depth + 1)
    fmt = table.get("format") if isinstance(table.get("format"), dict) else {}
    length = _positive_int(table.get("line-length"), base.line_length)
    width = _positive_int(table.get("indent-width"), len(base.indent) if base.indent != "\t" else 4)
    indent = "\t" if fmt.get("indent-style") == "tab" else " " * width
    if "indent-style" not in fmt and base.indent == "\t":
        indent = "\t"
    magic = base.magic_trailing_comma
    if isinstance(fmt.get("skip-magic-trailing-comma"), bool):
        magic = not fmt["skip-magic-trailing-comma"]
    formats = base.formatter == "ruff" or "format" in table
    return Style(length, indent, magic, "ruff" if formats else None, str(path),
                 vararg_comma=True if formats else None, tab_width=width)


def _black_style(table: dict, path: Path) -> Style:
    length = _positive_int(table.get("line-length", table.get("line_length")), DEFAULT_LINE_LENGTH)
    skip = table.get("skip-magic-trailing-comma", table.get("skip_magic_trailing_comma"))
    return Style(length, "    ", not skip if isinstance(skip, bool) else True, "black", str(path),
                 vararg_comma=_black_targets_vararg_comma(table.get("target-version", table.get("target_version"))))


def _black_targets_vararg_comma(targets: object) -> bool | None:
    """Whether every Python of black's `target-version` list takes `f(*args,)` (3.5+)."""
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, list) or not targets:
        return None
    minors = [re.fullmatch(r"py3(\d+)", t.lower()) if isinstance(t, str) else None for t in targets]
    if not all(minors):
        return None
    return all(int(m.group(1)) >= 5 for m in minors)


def _flake8_line_length(path: Path) -> int | None:
    if not path.is_file():
        return None
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    if not parser.has_section("flake8"):
        return None
    for key in ("max-line-length", "max_line_length"):
        if parser.has_option("flake8", key):
            value = parser.get("flake8", key).strip()
            return int(value) if value.isdigit() and int(value) > 0 else None
    return None


def _positive_int(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 320:
        return value
    return default
