"""The versions a project targets: the torch release it may run on, and version specifiers.

The torch release comes from `torch-version` in `[tool.convlint]`, else from the project's
own pins of torch: `requirements*.txt` (and `requirements/*.txt`, following `-r`/`-c`),
`pyproject.toml` (`[project] dependencies`, `[tool.poetry.dependencies]`), `setup.cfg`
(`[options] install_requires`) and the string literals of `setup.py` (read, never run),
in the nearest directory upwards that pins torch (black's and git's project root bounds
the search). The answer is the lowest release the pins admit: `torch<2.3` admits any older
release, `(0, 0, 0)`; `torch>=1.13,<2.2` gives `(1, 13, 0)`; a bare `torch` says nothing.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

Version = tuple[int, int, int]

# A PEP 440 version: epoch-free release, `.*`, pre/post/dev segments, a local label.
_VERSION = re.compile(
    r"v?(?P<release>\d+(?:\.\d+)*)(?P<wildcard>\.\*)?"
    r"(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview|post|rev|r|dev)[-_.]?\d*)*(?:\+[a-z0-9.]+)?",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"\s*(===|~=|==|!=|<=|>=|<|>)\s*(\S+)\s*")


@dataclass(frozen=True)
class TorchTarget:
    """The lowest torch release the project admits, and where that was read."""

    lowest: Version
    source: str  # the file (or `[tool.convlint] torch-version`)
    requirement: str  # as written, e.g. `torch>=1.13,<2.2`


def parse_version(text: str) -> Version | None:
    """A release as three numbers (`2.1` -> (2, 1, 0); pre-releases count as their release)."""
    match = _VERSION.fullmatch(text.strip())
    if match is None or match.group("wildcard"):
        return None
    return _padded(match.group("release"))


def lowest_admitted(specifier: str) -> Version | None:
    """The lowest release a PEP 440 specifier (`>=1.13,<2.2`, `==2.1.*`, `~=2.1`) admits.

    An upper bound alone admits every older release: (0, 0, 0). None when the specifier
    says nothing of the version (empty, only `!=`), admits nothing, or is not PEP 440.
    """
    clauses = []
    for part in specifier.split(","):
        if not part.strip():
            continue
        match = _CLAUSE.fullmatch(part)
        version = _VERSION.fullmatch(match.group(2)) if match else None
        if version is None:
            return None
        clauses.append((match.group(1), _padded(version.group("release")), bool(version.group("wildcard")),
                        version.group("release").count(".") + 1))
    if not any(op != "!=" for op, *_ in clauses):
        return None
    lowest: Version = (0, 0, 0)
    for op, version, wildcard, parts in clauses:
        if op in (">=", "~=", "===", "=="):  # `==2.1.*`: 2.1.0 is its lowest
            lowest = max(lowest, version)
        elif op == ">":
            lowest = max(lowest, (*version[:2], version[2] + 1))
    for _ in range(64):  # step past excluded releases
        excluded = next((c for c in clauses if c[0] == "!=" and _matches(lowest, c[1], c[2], c[3])), None)
        if excluded is None:
            break
        lowest = _after(excluded[1], excluded[2], excluded[3])
    return lowest if all(_admits(lowest, *clause) for clause in clauses) else None


def _padded(release: str) -> Version:
    numbers = [int(n) for n in release.split(".")][:3]
    return (*numbers, *([0] * (3 - len(numbers))))  # type: ignore[return-value]


def _matches(version: Version, pattern: Version, wildcard: bool, parts: int) -> bool:
    return version[:parts] == pattern[:parts] if wildcard else version == pattern


def _after(pattern: Version, wildcard: bool, parts: int) -> Version:
    """The first release after those `pattern` names."""
    if not wildcard:
        return (*pattern[:2], pattern[2] + 1)
    bumped = [*pattern[:parts]]
    bumped[-1] += 1
    return _padded(".".join(map(str, bumped)))


def _admits(version: Version, op: str, bound: Version, wildcard: bool, parts: int) -> bool:
    if op == "==":
        return _matches(version, bound, wildcard, parts)
    if op == "!=":
        return not _matches(version, bound, wildcard, parts)
    if op == "~=":  # ~=2.1 is >=2.1, ==2.*; ~=2.1.3 is >=2.1.3, ==2.1.*
        return version >= bound and version[:max(parts - 1, 1)] == bound[:max(parts - 1, 1)]
    return {"<": version < bound, "<=": version <= bound, ">": version > bound, ">=": version >= bound,
            "===": version == bound}[op]


# -- torch ----------------------------------------------------------------------------------

_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)")
_WHEEL = re.compile(r"(?:^|[/=])torch-(\d+(?:\.\d+){0,2})(?:%2B|\+|-)", re.IGNORECASE)
_CACHE: dict[str, TorchTarget | None] = {}
# The paths whose pinned torch an answer read, since the last `consulted.clear()` (the result
# cache keys an answer by their pins, cache.py).
consulted: set[str] = set()


def torch_version(path: str, configured: str | None = None) -> TorchTarget | None:
    """The torch release the project of the file (or directory) at `path` targets."""
    if configured is not None:
        version = parse_version(configured)
        return TorchTarget(version, "[tool.convlint] torch-version", configured) if version else None
    start = Path(os.path.abspath(path))
    consulted.add(str(start))
    directory = start if start.is_dir() else start.parent
    for candidate in (directory, *directory.parents):
        key = str(candidate)
        if key not in _CACHE:
            _CACHE[key] = _directory_pin(candidate)
        if _CACHE[key] is not None:
            return _CACHE[key]
        if (candidate / ".git").exists() or (candidate / ".hg").exists():
            break
    return None


def clear_cache() -> None:
    _CACHE.clear()


def torch_requirement(requirement: str) -> str | None:
    """The version specifier of a requirement on torch (`torch>=2.0; python_version>"3.8"`
    -> `>=2.0`, a wheel URL `.../torch-2.1.0+cu118-...whl` -> `==2.1.0`), else None."""
    requirement = requirement.strip()
    wheel = _WHEEL.search(requirement)
    match = _REQUIREMENT.fullmatch(requirement)
    if match is None or re.sub(r"[-_.]+", "-", match.group(1)).lower() != "torch":
        return f"=={wheel.group(1)}" if wheel and requirement.split("#")[0].rstrip().endswith(".whl") else None
    rest = match.group(2).split(";")[0].strip()
    if rest.startswith("@"):
        return f"=={wheel.group(1)}" if wheel else ""
    return re.sub(r"\s+", "", rest.removeprefix("(").removesuffix(")"))


def _directory_pin(directory: Path) -> TorchTarget | None:
    """The lowest torch release the project files of one directory admit."""
    found = []
    requirement_files = sorted(directory.glob("requirements*.txt")) + sorted(directory.glob("requirements/*.txt"))
    for path in requirement_files:
        found += [(spec, path) for spec in _requirements_file(path, set())]
    pyproject = read_toml(directory / "pyproject.toml") or {}
    project = pyproject.get("project", {}) if isinstance(pyproject.get("project"), dict) else {}
    dependencies = project.get("dependencies", [])
    for item in dependencies if isinstance(dependencies, list) else []:
        if isinstance(item, str) and (spec := torch_requirement(item)) is not None:
            found.append((spec, directory / "pyproject.toml"))
    poetry = pyproject.get("tool", {}).get("poetry", {}) if isinstance(pyproject.get("tool"), dict) else {}
    poetry_torch = poetry.get("dependencies", {}).get("torch") if isinstance(poetry, dict) and isinstance(
        poetry.get("dependencies"), dict) else None
    if isinstance(poetry_torch, dict):
        poetry_torch = poetry_torch.get("version")
    if isinstance(poetry_torch, str):
        found.append((_poetry_specifier(poetry_torch), directory / "pyproject.toml"))
    found += [(spec, directory / "setup.cfg") for spec in _setup_cfg(directory / "setup.cfg")]
    found += [(spec, directory / "setup.py") for spec in _setup_py(directory / "setup.py")]
    targets = [TorchTarget(lowest, str(path), f"torch{spec}") for spec, path in found
               if (lowest := lowest_admitted(spec)) is not None]
    return min(targets, key=lambda t: t.lowest, default=None)


def _requirements_file(path: Path, seen: set[Path]) -> list[str]:
    """The torch specifiers of a pip requirements file and the files it includes."""
    path = path.resolve()
    if path in seen or len(seen) > 32:
        return []
    seen.add(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        option = re.match(r"(-r|-c|--requirement|--constraint)(?:\s+|=)(\S+)", line)
        if option:
            found += _requirements_file(path.parent / option.group(2), seen)
        elif line and not line.startswith("-") and (spec := torch_requirement(line)) is not None:
            found.append(spec)
    return found


def _setup_cfg(path: Path) -> list[str]:
    if not path.is_file():
        return []
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
        value = parser.get("options", "install_requires", fallback="")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return []
    return [spec for line in value.splitlines() if (spec := torch_requirement(line)) is not None]


def _setup_py(path: Path) -> list[str]:
    """The torch requirements among setup.py's string literals (the file is parsed, not run)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    return [spec for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and len(node.value) < 200 and (spec := torch_requirement(node.value)) is not None]


def _poetry_specifier(constraint: str) -> str:
    """Poetry's `^2.1`, `~2.1`, `2.1.*`, `*`, `2.1.0` as PEP 440."""
    constraint = constraint.strip()
    if constraint.startswith(("^", "~")) and not constraint.startswith("~="):
        version = parse_version(constraint[1:])
        return f">={constraint[1:].strip()}" if version else ""
    if constraint in ("*", ""):
        return ""
    return f"=={constraint}" if _VERSION.fullmatch(constraint) else constraint


def read_toml(path: Path) -> dict | None:
    """A TOML file's table, or None when it is absent, unreadable or invalid."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
