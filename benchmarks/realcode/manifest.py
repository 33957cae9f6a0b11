"""The real-code corpus: which packages (packages.toml) and where their trees live.

Every package belongs to one set: `tuned` (the packages the analysis was developed against)
or `heldout` (packages labelled blind, after the analysis was written, to measure whether it
generalizes; never tune convlint on them).

The cache is outside the repository: `$CONVLINT_BENCH_CACHE`, else `~/.cache/convlint-bench`.
Inside it, `downloads/` holds the files pip fetched, `trees/<name>/` one unpacked tree per
project, `combined/<name>/` all of them in one tree, and `combined-git/` the combined tree
as a git repository (one commit).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MANIFEST = Path(__file__).with_name("packages.toml")
DISTS = ("sdist", "wheel")
SETS = ("tuned", "heldout")
ALL = "all"  # the --set choice that selects every set
SHA256 = re.compile(r"[0-9a-f]{64}")
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


class ManifestError(Exception):
    """packages.toml is malformed, or names a project that is not in it."""


@dataclass(frozen=True)
class Package:
    name: str        # the tree's directory name, and the labels' `project`
    requirement: str  # the PyPI project name as pip takes it
    version: str
    dist: str         # "sdist" or "wheel"
    file: str         # the file pip downloads
    sha256: str
    set: str          # one of SETS
    why: str

    @property
    def pin(self) -> str:
        return f"{self.requirement}=={self.version}"


def load(path: Path = MANIFEST) -> list[Package]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from None
    packages = []
    seen = set()
    for i, entry in enumerate(data.get("package", [])):
        where = f"{path.name}: package #{i + 1}"
        expected = {"name", "requirement", "version", "dist", "file", "sha256", "set", "why"}
        if set(entry) != expected:
            raise ManifestError(f"{where}: keys {sorted(entry)}, expected {sorted(expected)}")
        if not all(isinstance(v, str) and v for v in entry.values()):
            raise ManifestError(f"{where}: every value must be a non-empty string")
        package = Package(**entry)
        if not NAME.fullmatch(package.name):
            raise ManifestError(f"{where}: bad name {package.name!r}")
        if package.dist not in DISTS:
            raise ManifestError(f"{where}: dist must be one of {DISTS}, not {package.dist!r}")
        if package.set not in SETS:
            raise ManifestError(f"{where}: set must be one of {SETS}, not {package.set!r}")
        if not SHA256.fullmatch(package.sha256):
            raise ManifestError(f"{where}: sha256 must be 64 lowercase hex digits")
        if package.dist == "wheel" and not package.file.endswith(".whl"):
            raise ManifestError(f"{where}: a wheel's file ends with .whl")
        if package.dist == "sdist" and not package.file.endswith((".tar.gz", ".zip")):
            raise ManifestError(f"{where}: an sdist's file ends with .tar.gz or .zip")
        if package.name in seen:
            raise ManifestError(f"{where}: duplicate name {package.name!r}")
        seen.add(package.name)
        packages.append(package)
    if not packages:
        raise ManifestError(f"{path}: no [[package]] entries")
    return packages


def select(packages: list[Package], names: list[str], which: str = ALL) -> list[Package]:
    """The named packages (default: all), of set `which` (a name of SETS, or ALL)."""
    if which != ALL and which not in SETS:
        raise ManifestError(f"unknown set {which!r} (known: {', '.join((*SETS, ALL))})")
    by_name = {p.name: p for p in packages}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ManifestError(f"not in the manifest: {', '.join(unknown)} (known: {', '.join(by_name)})")
    if not names:
        return [p for p in packages if which in (ALL, p.set)]
    outside = [n for n in names if which not in (ALL, by_name[n].set)]
    if outside:
        raise ManifestError(f"not in the {which} set: {', '.join(outside)}")
    return [by_name[n] for n in names]


def cache_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit.expanduser().resolve()
    env = os.environ.get("CONVLINT_BENCH_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".cache" / "convlint-bench"


def project_tree(cache: Path, package: Package) -> Path:
    return cache / "trees" / package.name


def combined_tree(cache: Path) -> Path:
    return cache / "combined"


def git_tree(cache: Path) -> Path:
    return cache / "combined-git"
