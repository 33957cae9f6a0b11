"""Score convlint's CL101/CL102 findings against the labelled real-code sites.

    python benchmarks/realcode/score.py                       # run convlint on every fetched tree
    python benchmarks/realcode/score.py --convlint ~/dev/bin/convlint
    python benchmarks/realcode/score.py --dump findings.json  # ... and keep the findings
    python benchmarks/realcode/score.py --findings findings.json   # score a dump, no run
    python benchmarks/realcode/score.py --set heldout         # only the held-out packages

Each set of the manifest (`tuned`: the packages the analysis was developed against; `heldout`:
labelled blind afterwards) is scored on its own; with `--set all` (the default) the report
gives each set present, then all of them together.

A positive is a labelled call whose receiver is a module and whose format may be
channels-last (`receiver == module`, `format != never`). A finding is matched to the labelled
call that has its exact span (path, start and end); a true positive is a finding on a
positive. Precision = true positives / findings; recall = positives found / positives. Both
are given for all findings and split by the fix's applicability (safe, unsafe, none). Also
listed: every miss, every false positive (with the label it hit, or "no labelled call
there"), a safe fix on a site whose `fix_hazard` says the rewrite is not equivalent, and a
CL101 on a 3-D site or a CL102 on a 2-D one.

convlint runs once per project, from the project's tree (as a user runs it from the
repository root), as `convlint check --output-format json --select CL101,CL102 --exit-zero .`.
A dump is a JSON list of convlint findings whose `filename` is `PROJECT/PATH` (what `--dump`
writes), or a path under the cache's `trees/` or `combined/`, or a JSON object
{PROJECT: [findings with paths relative to that project's tree]}.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.realcode import extract, manifest

LABELS = Path(__file__).with_name("labels.tsv")
LABEL_FIELDS = ("project", "version", "path", "line", "col", "end_line", "end_col", "callee",
                "receiver", "format", "fix_hazard", "method", "evidence", "source")
RECEIVERS = ("module", "tensor", "other")
FORMATS = ("channels_last", "channels_last_3d", "variable", "never")
HAZARDS = ("torchscript", "spectral_norm", "weight_norm", "lazy", "loop", "conditional_none",
           "exception_fallback", "custom_conv")
METHODS = ("read", "rule")
APPLICABILITIES = ("safe", "unsafe", "none")
CODES = ("CL101", "CL102")


class LabelError(Exception):
    """labels.tsv is malformed."""


class FindingsError(Exception):
    """A findings dump cannot be read or a convlint run failed."""


@dataclass(frozen=True)
class Label(extract.Location):
    callee: str
    receiver: str
    format: str
    fix_hazard: tuple[str, ...]
    method: str
    evidence: str
    source: str

    @property
    def positive(self) -> bool:
        return self.receiver == "module" and self.format != "never"


@dataclass(frozen=True)
class Finding:
    project: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    code: str
    applicability: str  # safe, unsafe or none

    @property
    def span(self) -> tuple:
        return (self.project, self.path, self.line, self.col, self.end_line, self.end_col)

    def where(self) -> str:
        return f"{self.project}/{self.path}:{self.line}:{self.col}"


def load_labels(path: Path = LABELS) -> list[Label]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, dialect="excel-tab")
            if tuple(reader.fieldnames or ()) != LABEL_FIELDS:
                raise LabelError(f"{path}: header {reader.fieldnames}, expected {list(LABEL_FIELDS)}")
            rows = list(reader)
    except OSError as exc:
        raise LabelError(f"{path}: {exc}") from None
    labels = []
    seen = set()
    for number, row in enumerate(rows, start=2):
        where = f"{path.name}:{number}"
        if None in row or any(v is None for v in row.values()):
            raise LabelError(f"{where}: wrong number of columns")
        try:
            ints = {k: int(row[k]) for k in ("line", "col", "end_line", "end_col")}
        except ValueError:
            raise LabelError(f"{where}: line, col, end_line and end_col must be integers") from None
        if min(ints.values()) < 1 or (ints["end_line"], ints["end_col"]) <= (ints["line"], ints["col"]):
            raise LabelError(f"{where}: the span must be 1-based and end after it starts")
        hazards = tuple(h for h in row["fix_hazard"].split(";") if h)
        for name, value, allowed in (("receiver", row["receiver"], RECEIVERS), ("format", row["format"], FORMATS),
                                     ("method", row["method"], METHODS)):
            if value not in allowed:
                raise LabelError(f"{where}: {name} {value!r} is not one of {', '.join(allowed)}")
        unknown = [h for h in hazards if h not in HAZARDS]
        if unknown:
            raise LabelError(f"{where}: fix_hazard {unknown[0]!r} is not one of {', '.join(HAZARDS)}")
        for name in ("project", "path", "callee", "evidence"):
            if not row[name].strip():
                raise LabelError(f"{where}: {name} is empty")
        label = Label(row["project"], row["version"], row["path"], ints["line"], ints["col"], ints["end_line"],
                      ints["end_col"], row["callee"], row["receiver"], row["format"], hazards, row["method"],
                      row["evidence"], row["source"])
        if label.span in seen:
            raise LabelError(f"{where}: duplicate site {label.where()}")
        seen.add(label.span)
        labels.append(label)
    return labels


def finding_from_json(item: dict, project: str, path: str) -> Finding:
    try:
        fix = item.get("fix")
        applicability = fix["applicability"] if fix else "none"
        if applicability not in APPLICABILITIES:
            raise FindingsError(f"{project}/{path}: unknown fix applicability {applicability!r}")
        return Finding(project, path, int(item["location"]["row"]), int(item["location"]["column"]),
                       int(item["end_location"]["row"]), int(item["end_location"]["column"]),
                       str(item["code"]), applicability)
    except (KeyError, TypeError, ValueError) as exc:
        raise FindingsError(f"a finding without {exc} in {project}/{path}") from None


def tree_path(filename: str, tree: Path | None = None) -> str:
    """A filename relative to a tree, in the labels' spelling (`a/b.py`, no `./`).

    convlint reports absolute paths (as Ruff does); one under `tree` is made relative to it.
    """
    path = Path(filename)
    if path.is_absolute() and tree is not None:
        try:
            path = path.resolve().relative_to(tree.resolve())
        except ValueError:
            raise FindingsError(f"{filename}: a finding outside the tree {tree}") from None
    return "/".join(p for p in PurePosixPath(path.as_posix()).parts if p != ".")


def split_filename(filename: str, projects: set[str], cache: Path | None) -> tuple[str, str]:
    """(project, path in its tree) of a dump's filename."""
    path = PurePosixPath(Path(filename).as_posix())
    if path.is_absolute() and cache is not None:
        for base in (cache / "trees", cache / "combined", cache / "combined-git"):
            try:
                path = PurePosixPath(Path(filename).resolve().relative_to(base.resolve()).as_posix())
                break
            except ValueError:
                continue
    parts = [p for p in path.parts if p != "."]
    if not parts or parts[0] not in projects:
        raise FindingsError(f"{filename}: not under a project of the manifest ({', '.join(sorted(projects))})")
    return parts[0], "/".join(parts[1:])


def load_findings(data, projects: set[str], cache: Path | None) -> list[Finding]:
    findings = []
    if isinstance(data, dict):
        for project, items in data.items():
            if project not in projects:
                raise FindingsError(f"{project}: not a project of the manifest")
            for item in items:
                if not isinstance(item, dict) or "filename" not in item:
                    raise FindingsError(f"{project}: a finding without a filename")
                findings.append(finding_from_json(item, project, tree_path(item["filename"])))
    elif isinstance(data, list):
        for item in data:
            if not isinstance(item, dict) or "filename" not in item:
                raise FindingsError("a finding without a filename")
            findings.append(finding_from_json(item, *split_filename(item["filename"], projects, cache)))
    else:
        raise FindingsError("a dump is a JSON list of findings or an object {project: [findings]}")
    return [f for f in findings if f.code in CODES]


def run_convlint(convlint: str, tree: Path) -> list[dict]:
    command = [convlint, "check", "--output-format", "json", "--select", ",".join(CODES), "--exit-zero", "."]
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    if result.returncode != 0:
        raise FindingsError(f"{' '.join(command)} in {tree} exited {result.returncode}: {result.stderr.strip()[-500:]}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise FindingsError(f"convlint in {tree} did not print JSON: {result.stdout[:200]!r}") from None


def default_convlint() -> str:
    beside = Path(sys.executable).with_name("convlint")
    return str(beside) if beside.exists() else "convlint"


@dataclass
class Score:
    positives: int
    findings: int
    true_positives: int
    by_applicability: dict = field(default_factory=dict)  # applicability -> (findings, true positives)
    misses: list = field(default_factory=list)             # Labels
    false_positives: list = field(default_factory=list)    # (Finding, Label or None)
    hazardous_safe_fixes: list = field(default_factory=list)  # (Finding, Label)
    wrong_code: list = field(default_factory=list)         # (Finding, Label)
    unsafe_literal: list = field(default_factory=list)     # (Finding, Label): found, unsafe although the format is literal

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.findings if self.findings else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.positives if self.positives else None


def score(labels: list[Label], findings: list[Finding]) -> Score:
    by_span = {label.span: label for label in labels}
    by_start: dict[tuple, list[Label]] = {}
    for label in labels:
        by_start.setdefault(label.span[:4], []).append(label)
    positives = [label for label in labels if label.positive]
    found = set()
    result = Score(positives=len(positives), findings=len(findings), true_positives=0)
    counts = Counter()
    for finding in findings:
        label = by_span.get(finding.span)
        if label is None and len(by_start.get(finding.span[:4], ())) == 1:
            label = by_start[finding.span[:4]][0]
        counts[(finding.applicability, "findings")] += 1
        if label is not None and label.positive:
            if label.span not in found:
                result.true_positives += 1
                counts[(finding.applicability, "tp")] += 1
                found.add(label.span)
            if finding.applicability == "unsafe" and label.format in ("channels_last", "channels_last_3d"):
                result.unsafe_literal.append((finding, label))
            if finding.applicability == "safe" and label.fix_hazard:
                result.hazardous_safe_fixes.append((finding, label))
            if (finding.code, label.format) in (("CL101", "channels_last_3d"), ("CL102", "channels_last")):
                result.wrong_code.append((finding, label))
        else:
            result.false_positives.append((finding, label))
    result.by_applicability = {a: (counts[(a, "findings")], counts[(a, "tp")]) for a in APPLICABILITIES}
    result.misses = [label for label in positives if label.span not in found]
    return result


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report(result: Score, labels: list[Label], out=sys.stdout) -> None:
    receivers = Counter((label.receiver, label.format) for label in labels)
    print(f"labelled sites: {len(labels)} in {len({l.project for l in labels})} projects; "
          f"positives (module receiver, format may be channels-last): {result.positives}", file=out)
    print("sites by receiver/format: " + ", ".join(f"{r}/{f} {n}" for (r, f), n in sorted(receivers.items())), file=out)
    print(f"findings: {result.findings}; true positives: {result.true_positives}", file=out)
    print(f"precision {ratio(result.precision)}  recall {ratio(result.recall)}", file=out)
    for applicability in APPLICABILITIES:
        n, tp = result.by_applicability.get(applicability, (0, 0))
        print(f"  {applicability:6s} fixes: {n} findings, {tp} true positives, precision "
              f"{ratio(tp / n if n else None)}, recall {ratio(tp / result.positives if result.positives else None)}",
              file=out)
    print(f"misses ({len(result.misses)}):", file=out)
    for label in result.misses:
        hazard = f" [hazard: {', '.join(label.fix_hazard)}]" if label.fix_hazard else ""
        print(f"  {label.where()}  {label.source}  -- {label.evidence}{hazard}", file=out)
    print(f"found with an unsafe fix although the format is a literal, i.e. a module only by its name "
          f"({len(result.unsafe_literal)}):", file=out)
    for finding, label in result.unsafe_literal:
        hazard = f" [hazard: {', '.join(label.fix_hazard)}]" if label.fix_hazard else ""
        print(f"  {finding.where()}  {label.source}  -- {label.evidence}{hazard}", file=out)
    print(f"false positives ({len(result.false_positives)}):", file=out)
    for finding, label in result.false_positives:
        what = f"labelled {label.receiver}/{label.format}: {label.evidence}" if label else "no labelled call there"
        print(f"  {finding.where()} {finding.code} ({finding.applicability})  -- {what}", file=out)
    print(f"safe fixes on sites whose rewrite is not equivalent ({len(result.hazardous_safe_fixes)}):", file=out)
    for finding, label in result.hazardous_safe_fixes:
        print(f"  {finding.where()} {finding.code}  -- {', '.join(label.fix_hazard)}: {label.evidence}", file=out)
    print(f"wrong rule for the format's rank ({len(result.wrong_code)}):", file=out)
    for finding, label in result.wrong_code:
        print(f"  {finding.where()} {finding.code} on a {label.format} site", file=out)


def as_json(result: Score) -> dict:
    def site(obj):
        return obj.where() if obj is not None else None
    return {
        "positives": result.positives, "findings": result.findings, "true_positives": result.true_positives,
        "precision": result.precision, "recall": result.recall,
        "by_applicability": {a: {"findings": n, "true_positives": tp} for a, (n, tp) in result.by_applicability.items()},
        "misses": [site(l) for l in result.misses],
        "false_positives": [{"finding": site(f), "code": f.code, "label": site(l)} for f, l in result.false_positives],
        "hazardous_safe_fixes": [site(f) for f, _ in result.hazardous_safe_fixes],
        "wrong_code": [site(f) for f, _ in result.wrong_code],
        "unsafe_literal": [site(f) for f, _ in result.unsafe_literal],
    }


def coverage(labels: list[Label], packages, cache: Path) -> list[str]:
    """Problems between the labels and the trees: sites without a label, labels without a site."""
    problems = []
    labelled = {label.span for label in labels}
    versions = {p.name: p.version for p in packages}
    errors: list[str] = []
    present = set()
    for package in packages:
        for site in extract.tree_sites(package.name, package.version, manifest.project_tree(cache, package), errors):
            present.add(site.span)
            if site.span not in labelled:
                problems.append(f"not labelled: {site.project}/{site.path}:{site.line}:{site.col} {site.source}")
    for label in labels:
        if label.project in versions and label.version != versions[label.project]:
            problems.append(f"label for {label.project} {label.version}, the manifest pins {versions[label.project]}: {label.where()}")
        elif label.project in versions and label.span not in present:
            problems.append(f"no such call in the tree: {label.where()} {label.source}")
    return problems + [f"not parsed: {e}" for e in errors]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", help="score only these projects (default: all)")
    parser.add_argument("--findings", type=Path, help="score this JSON dump instead of running convlint")
    parser.add_argument("--convlint", default=default_convlint(), help="the convlint executable (default: the one beside this Python)")
    parser.add_argument("--dump", type=Path, help="also write the findings as one JSON list (filenames PROJECT/PATH)")
    parser.add_argument("--json", action="store_true", help="print the score as JSON")
    parser.add_argument("--set", default=manifest.ALL, choices=(*manifest.SETS, manifest.ALL),
                        help="score only the packages of this set (default: all, each set reported on its own)")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args(argv)
    try:
        packages = manifest.select(manifest.load(), args.projects, args.set)
        labels = [l for l in load_labels(args.labels) if l.project in {p.name for p in packages}]
    except (manifest.ManifestError, LabelError) as exc:
        print(f"score.py: error: {exc}", file=sys.stderr)
        return 2
    cache = manifest.cache_dir(args.cache)
    names = {p.name for p in packages}
    try:
        if args.findings:
            try:
                data = json.loads(args.findings.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise FindingsError(f"{args.findings}: {exc}") from None
            findings = [f for f in load_findings(data, set(manifest_names()), cache) if f.project in names]
        else:
            raw = []
            for package in packages:
                tree = manifest.project_tree(cache, package)
                if not tree.is_dir():
                    raise FindingsError(f"{tree} is missing: run benchmarks/realcode/fetch.py first")
                for item in run_convlint(args.convlint, tree):
                    item["filename"] = f"{package.name}/{tree_path(item['filename'], tree)}"
                    raw.append(item)
            findings = load_findings(raw, names, cache)
            if args.dump:
                args.dump.write_text(json.dumps(raw, indent=1), encoding="utf-8")
            for problem in coverage(labels, packages, cache):
                print(f"score.py: warning: {problem}", file=sys.stderr)
    except FindingsError as exc:
        print(f"score.py: error: {exc}", file=sys.stderr)
        return 2
    results = scored_sets(packages, labels, findings, args.set)
    if args.json:
        json.dump({name: as_json(result) for name, _, result in results}, sys.stdout, indent=1)
        print()
    else:
        for i, (name, chosen, result) in enumerate(results):
            if i:
                print()
            print(f"== set: {name}")
            report(result, chosen)
    return 0


def scored_sets(packages, labels: list[Label], findings: list[Finding], which: str) -> list[tuple[str, list[Label], Score]]:
    """(set name, its labels, its score) for each set present among packages; then "all" when
    `which` is all and more than one set is present."""
    present = [s for s in manifest.SETS if any(p.set == s for p in packages)]
    groups = [(s, {p.name for p in packages if p.set == s}) for s in present]
    if which == manifest.ALL and len(present) > 1:
        groups.append((manifest.ALL, {p.name for p in packages}))
    result = []
    for name, projects in groups:
        chosen = [l for l in labels if l.project in projects]
        result.append((name, chosen, score(chosen, [f for f in findings if f.project in projects])))
    return result


def manifest_names() -> list[str]:
    return [p.name for p in manifest.load()]


if __name__ == "__main__":
    sys.exit(main())
