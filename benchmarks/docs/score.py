"""Score convlint on documentation pages: the labelled code-block sites of labels.tsv.

    python benchmarks/realcode/fetch.py onediff onediffx qlqoqrqa efficio pytorch-autotune mmengine
    python benchmarks/docs/score.py                  # run convlint on every page, score
    python benchmarks/docs/score.py --set synthetic  # only the pages in the repository
    python benchmarks/docs/score.py --candidates     # list the sites (to label a new page)
    python benchmarks/docs/score.py --convlint /path/to/bin/convlint --json

A site is a line of a page that mentions `memory_format` or `channels_last` (in a code block,
a console session, a docstring example, or prose), with its label: `module` (a whole-model
conversion: a finding is expected there, with the code of `expected`), or `tensor`,
`not-python` (shell, JSON, diff, table, prose), `other` (no finding expected). Sets:
`real`: the pages of the source distributions of the real-code corpus (fetched into the
cache by benchmarks/realcode/fetch.py, not committed); `synthetic`: pages written for this
set in the style of optimization guides (benchmarks/docs/synthetic). convlint runs as a
docs maintainer runs it, `convlint check --output-format json --config <config> PAGE...`,
with `docstring-code = true` (synthetic/pyproject.toml), once per tree. Precision = findings
on module sites / findings; recall = module sites with a finding / module sites. Every line
with a finding must be a labelled site, and every site must be labelled.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.realcode import manifest

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels.tsv"
SYNTHETIC = HERE / "synthetic"
CONFIG = SYNTHETIC / "pyproject.toml"
PAGES = (".md", ".mdx", ".rst", ".txt")
WORDS = re.compile(r"memory_format|channels_last")
EXAMPLE = re.compile(r"\s*(>>>|\.\.\.)\s")
REAL_PROJECTS = ("onediff", "onediffx", "qlqoqrqa", "efficio", "pytorch-autotune", "mmengine")
FIELDS = ("set", "project", "path", "line", "label", "expected", "context", "text")


@dataclass(frozen=True)
class Site:
    set: str
    project: str  # the tree under the cache's trees/, or "synthetic"
    path: str  # relative to the tree
    line: int
    label: str = ""
    expected: str = ""
    context: str = ""
    text: str = ""

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.project, self.path, self.line)


def trees(cache: Path) -> dict[str, tuple[str, Path]]:
    """project -> (set, root) for every tree that is present."""
    found = {"synthetic": ("synthetic", SYNTHETIC)}
    for name in REAL_PROJECTS:
        root = cache / "trees" / name
        if root.is_dir():
            found[name] = ("real", root)
    return found


def pages(root: Path) -> list[Path]:
    """The pages of a tree that may hold a site, and its .py files with docstring examples."""
    out = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or ".egg-info" in path.parts or path.name == "SOURCES.txt":
            continue
        if path.suffix in PAGES + (".py",):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if WORDS.search(text) and (path.suffix != ".py" or any(
                    EXAMPLE.match(line) and WORDS.search(line) for line in text.splitlines())):
                out.append(path)
    return out


def candidates(project: str, set_name: str, root: Path) -> list[Site]:
    sites = []
    for path in pages(root):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if WORDS.search(line) and (path.suffix != ".py" or EXAMPLE.match(line)):
                sites.append(Site(set_name, project, path.relative_to(root).as_posix(), n, text=line.strip()[:120]))
    return sites


def load_labels(path: Path = LABELS) -> list[Site]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")]
    return [Site(r["set"], r["project"], r["path"], int(r["line"]), r["label"], r["expected"], r["context"], r["text"])
            for r in rows]


def run_convlint(convlint: str, root: Path, files: list[Path]) -> list[tuple[str, int, str]]:
    if not files:
        return []
    command = [convlint, "check", "--output-format", "json", "--exit-zero", "--config", str(CONFIG),
               *[str(f.relative_to(root)) for f in files]]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"convlint failed in {root}: {result.stderr.strip()}")
    return [(Path(d["filename"]).resolve().relative_to(root.resolve()).as_posix(), d["location"]["row"], d["code"])
            for d in json.loads(result.stdout)]


def default_convlint() -> str:
    beside = Path(sys.executable).parent / "convlint"
    return str(beside) if beside.exists() else "convlint"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", action="store_true", help="print every site as TSV rows to label")
    parser.add_argument("--convlint", default=default_convlint())
    parser.add_argument("--json", action="store_true", help="print the score as JSON")
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--set", default="all", choices=("real", "synthetic", "all"),
                        help="score only this set (synthetic needs no fetched tree)")
    args = parser.parse_args(argv)
    found_trees = {project: tree for project, tree in trees(manifest.cache_dir(args.cache)).items()
                   if args.set in ("all", tree[0])}
    if args.candidates:
        writer = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
        writer.writerow(FIELDS)
        for project, (set_name, root) in found_trees.items():
            for site in candidates(project, set_name, root):
                writer.writerow([site.set, site.project, site.path, site.line, "", "", "", site.text])
        return 0
    labels = {site.key: site for site in load_labels() if args.set in ("all", site.set)}
    missing = sorted({s.project for s in labels.values()} - set(found_trees))
    if missing:
        print(f"missing trees (run benchmarks/realcode/fetch.py {' '.join(missing)}): {', '.join(missing)}", file=sys.stderr)
        return 1
    problems = []
    findings: dict[tuple[str, str, int], str] = {}
    for project, (set_name, root) in found_trees.items():
        sites = candidates(project, set_name, root)
        problems += [f"unlabelled site: {s.project}/{s.path}:{s.line}: {s.text}" for s in sites if s.key not in labels]
        for path, row, code in run_convlint(args.convlint, root, pages(root)):
            findings[(project, path, row)] = code
    result = {}
    for set_name in ("real", "synthetic", "all") if args.set == "all" else (args.set,):
        chosen = [s for s in labels.values() if set_name in ("all", s.set)]
        projects = {p for p, (s, _) in found_trees.items() if set_name in ("all", s)}
        positives = [s for s in chosen if s.label == "module"]
        hits = [k for k in findings if k[0] in projects]
        true = [s for s in positives if findings.get(s.key) == s.expected]
        false = [k for k in hits if not (k in labels and labels[k].label == "module" and findings[k] == labels[k].expected)]
        result[set_name] = {
            "sites": len(chosen), "module sites": len(positives), "findings": len(hits),
            "precision": round(len(true) / len(hits), 3) if hits else None,
            "recall": round(len(true) / len(positives), 3) if positives else None,
            "misses": [f"{s.project}/{s.path}:{s.line}: {s.text}" for s in positives if s not in true],
            "false positives": [f"{k[0]}/{k[1]}:{k[2]}: {findings[k]} ({labels[k].label if k in labels else 'no site'})"
                                for k in false],
        }
    if args.json:
        print(json.dumps({"score": result, "problems": problems}, indent=2))
    else:
        for set_name, r in result.items():
            print(f"{set_name:9} sites {r['sites']:3}  module sites {r['module sites']:3}  findings {r['findings']:3}  "
                  f"precision {r['precision']}  recall {r['recall']}")
            for line in r["misses"]:
                print(f"  miss: {line}")
            for line in r["false positives"]:
                print(f"  false positive: {line}")
        for line in problems:
            print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
