"""List every call with a `memory_format=` keyword, and every call of a conv weight converter.

    python benchmarks/realcode/extract.py [--output sites.tsv] [--set tuned|heldout|all] [PROJECT...]
    python benchmarks/realcode/extract.py --root DIR

Reads the per-project trees that `fetch.py` built (all projects of the manifest, or the
ones named) or any directory (`--root`), and prints one row per call: project, version,
path, line, column, end line, end column (1-based, in characters, as convlint reports
them), the callee, the `memory_format=` value (or the converter's format argument) and the
call's first line. Files that do not parse with this interpreter are listed on stderr.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.realcode import manifest

CONVERTERS = ("convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format")
FIELDS = ("project", "version", "path", "line", "col", "end_line", "end_col", "callee", "format", "source")
SKIP_DIRS = {".git", "__pycache__"}
TEXT_LIMIT = 120


@dataclass(frozen=True)
class Location:
    """Where a call is: its project and the span of its text (1-based, characters)."""
    project: str
    version: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int

    @property
    def span(self) -> tuple[str, str, int, int, int, int]:
        return (self.project, self.path, self.line, self.col, self.end_line, self.end_col)

    def where(self) -> str:
        return f"{self.project}/{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Site(Location):
    callee: str
    format: str
    source: str

    def row(self) -> dict[str, str]:
        return {f: str(getattr(self, f)) for f in FIELDS}


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 3] + "..."


def python_files(root: Path):
    """Every .py file under root, sorted, outside .git and __pycache__ (symlinks not followed)."""
    stack = [root]
    found = []
    while stack:
        directory = stack.pop()
        for entry in directory.iterdir():
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in SKIP_DIRS:
                    stack.append(entry)
            elif entry.name.endswith(".py") and entry.is_file():
                found.append(entry)
    return sorted(found)


def decode(data: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding)
    return text


def char_col(line: str, byte_offset: int) -> int:
    """1-based character column of a UTF-8 byte offset into line (ast counts bytes)."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace")) + 1


def format_argument(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "memory_format":
            return keyword.value
    if callee_name(call) in CONVERTERS and len(call.args) >= 2:
        return call.args[1]
    return None


def callee_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def is_site(call: ast.Call) -> bool:
    return any(k.arg == "memory_format" for k in call.keywords) or callee_name(call) in CONVERTERS


def file_sites(project: str, version: str, root: Path, path: Path) -> list[Site]:
    data = path.read_bytes()
    if b"memory_format" not in data:
        return []
    text = decode(data)
    tree = ast.parse(text, filename=str(path))
    lines = text.splitlines()
    rel = path.relative_to(root).as_posix()
    sites = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and is_site(node)):
            continue
        first = lines[node.lineno - 1]
        last = lines[node.end_lineno - 1]
        fmt = format_argument(node)
        sites.append(Site(
            project, version, rel,
            node.lineno, char_col(first, node.col_offset),
            node.end_lineno, char_col(last, node.end_col_offset),
            short(ast.unparse(node.func)),
            short(ast.unparse(fmt)) if fmt is not None else "",
            short(first.strip()),
        ))
    return sorted(sites, key=lambda s: (s.line, s.col, s.end_line, s.end_col))


def tree_sites(project: str, version: str, root: Path, errors: list[str]) -> list[Site]:
    sites = []
    for path in python_files(root):
        try:
            sites.extend(file_sites(project, version, root, path))
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            errors.append(f"{project}: {path.relative_to(root).as_posix()}: {type(exc).__name__}: {exc}")
    return sites


def write_tsv(sites: list[Site], out) -> None:
    writer = csv.DictWriter(out, FIELDS, dialect="excel-tab", lineterminator="\n")
    writer.writeheader()
    for site in sites:
        writer.writerow(site.row())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", help="manifest projects (default: all)")
    parser.add_argument("--set", default=manifest.ALL, choices=(*manifest.SETS, manifest.ALL),
                        help="only the projects of this set (default: all)")
    parser.add_argument("--root", type=Path, help="scan this directory instead of the fetched trees")
    parser.add_argument("--cache", type=Path, help="the fetch cache (default: $CONVLINT_BENCH_CACHE or ~/.cache/convlint-bench)")
    parser.add_argument("--output", "-o", type=Path, help="write the TSV here (default: stdout)")
    args = parser.parse_args(argv)
    errors: list[str] = []
    if args.root:
        sites = tree_sites(args.root.name, "", args.root, errors)
    else:
        try:
            packages = manifest.select(manifest.load(), args.projects, args.set)
        except manifest.ManifestError as exc:
            print(f"extract.py: error: {exc}", file=sys.stderr)
            return 2
        cache = manifest.cache_dir(args.cache)
        sites = []
        for package in packages:
            root = manifest.project_tree(cache, package)
            if not root.is_dir():
                print(f"extract.py: error: {root} is missing: run benchmarks/realcode/fetch.py first", file=sys.stderr)
                return 2
            sites.extend(tree_sites(package.name, package.version, root, errors))
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            write_tsv(sites, out)
    else:
        write_tsv(sites, sys.stdout)
    for line in errors:
        print(f"extract.py: warning: not parsed: {line}", file=sys.stderr)
    print(f"extract.py: {len(sites)} sites", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
