"""The real-code bar for fixes: files that pass their project's formatter still pass after
`convlint fix --write --unsafe-fixes` (target: none stops passing).

For each project below, a source distribution from the package index (`pip download
--no-deps --no-binary :all:`, cached in ~/.cache/convlint-bench/formatting, outside the
repository) is unpacked into a fresh work tree, then:

1. the project's formatter (black or ruff format, with the project's own configuration, as
   installed here) checks every `*.py` file; the files it passes are the ones measured;
2. these projects hold few module conversions, so some are inserted where real code has
   them: after an assignment of a module (`x = nn.Conv2d(...)`, `self.x =
   nn.Sequential(...)`, any `nn.<Class>(...)`) in a file that imports torch, by turns
   `x = x.to(memory_format=torch.channels_last)` on the next line,
   `x = x.to("cpu", memory_format=...)  # NHWC` on the next line, `.to(memory_format=...)`
   chained onto the constructor itself (channels_last_3d for 3-D convs),
   `x = x.to(memory_format=... if x.training else None)` (fixed under `if x.training:`) and
   `x = torch.nn.utils.<the other rank's converter>(x, ...)` (CL103 on a conv); at most
   INSERTIONS_PER_FILE per file; the changed files are formatted by the project's formatter
   (so that they pass before the fix, as a formatted project's would) and kept only if they
   then pass;
3. `convlint fix --write --unsafe-fixes` runs on the tree;
4. the formatter checks the measured files again: the ones that no longer pass are
   counted, and their diffs printed.

Run by hand: `python benchmarks/bench_formatting.py [NAME...]` (needs black and ruff, as the
test extra installs them, and network access to the package index the first time). Record
the table it prints in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("CONVLINT_BENCH_CACHE", Path.home() / ".cache" / "convlint-bench" / "formatting"))
RUFF = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
CONVLINT = shutil.which("convlint") or str(Path(sys.executable).with_name("convlint"))
INSERTIONS_PER_FILE = 3


@dataclass(frozen=True)
class Project:
    name: str  # on the package index
    version: str
    formatter: str  # what the project runs: "black" or "ruff"
    note: str = ""


PROJECTS = [
    Project("captum", "0.9.0", "black", "[tool.black], 88 columns"),
    Project("accelerate", "1.15.0", "ruff", "[tool.ruff.format], 119 columns"),
    Project("diffusers", "0.42.1", "ruff", "[tool.ruff.format], 119 columns"),
    Project("kornia", "0.9.0", "ruff", "[tool.ruff.format], 120 columns"),
    Project("pytorch-ignite", "0.5.5", "ruff", "[tool.ruff.format]"),
    Project("torchgeo", "0.8.1", "ruff", "[tool.ruff.format], single quotes, skip-magic-trailing-comma"),
    # peft runs `ruff format` (its Makefile, not in the sdist); its [tool.black] is "only used
    # by hf-doc-builder", so convlint reads black's style there: a test of that guess.
    Project("peft", "0.21.2", "ruff", "ruff format; a [tool.black] for another tool"),
]

def channels_last_of(module_class: str) -> str | None:
    """The format a conversion of an `nn.<module_class>(...)` is written with (None: no module)."""
    if not module_class[:1].isupper() or module_class in ("Parameter", "Module"):
        return None
    return "channels_last_3d" if "3d" in module_class else "channels_last"


def sdist(project: Project) -> Path:
    """The unpacked source distribution (downloaded once)."""
    archives = CACHE / "sdists"
    archives.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[-_.]+", "[-_.]", project.name)
    pattern = re.compile(rf"{stem}-{re.escape(project.version)}\.(tar\.gz|zip)$", re.IGNORECASE)
    found = [p for p in archives.iterdir() if pattern.match(p.name)]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                        f"{project.name}=={project.version}", "-d", str(archives)], check=True)
        found = [p for p in archives.iterdir() if pattern.match(p.name)]
    target = CACHE / "src"
    target.mkdir(exist_ok=True)
    with tarfile.open(found[0]) as archive:
        top = archive.getnames()[0].split("/")[0]
        if not (target / top).exists():
            archive.extractall(target, filter="data")
    return target / top


def formatter_command(project: Project, check: bool) -> list[str]:
    """The formatter on the files named after it, excluding what the project excludes."""
    if project.formatter == "black":  # (black's --force-exclude takes a pattern of its own)
        return [sys.executable, "-m", "black", "-q", *(["--check"] if check else [])]
    return [RUFF, "format", "--no-cache", "-q", "--force-exclude", *(["--check"] if check else [])]


def unformatted(root: Path, project: Project, files: list[str]) -> set[str]:
    """The files among `files` (relative to root) that the formatter would change."""
    failing: set[str] = set()
    for start in range(0, len(files), 200):
        batch = files[start:start + 200]
        proc = subprocess.run(formatter_command(project, check=True) + batch, cwd=root, capture_output=True,
                              text=True)
        if proc.returncode == 0:
            continue
        # Rerun file by file: the quiet output names nothing, and a file black cannot parse
        # fails the batch.
        for name in batch:
            one = subprocess.run(formatter_command(project, check=True) + [name], cwd=root, capture_output=True)
            if one.returncode != 0:
                failing.add(name)
    return failing


def prepare_config(root: Path, project: Project) -> None:
    """ruff refuses to run under a `required-version` other than its own: drop the pin."""
    config = root / "pyproject.toml"
    if project.formatter == "ruff" and config.is_file():
        text = config.read_text()
        config.write_text(re.sub(r"(?m)^required-version\s*=.*$", "", text))


def insert_conversions(path: Path, turn: list[int]) -> int:
    """Insert module conversions after conv-module assignments; returns how many."""
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return 0
    imports_torch = any(isinstance(node, ast.Import) and any(a.name == "torch" for a in node.names)
                        for node in tree.body)
    if not imports_torch:
        return 0
    sites = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Call)):
            continue
        func, target = node.value.func, node.targets[0]
        name = func.attr if isinstance(func, ast.Attribute) else None
        base = func.value if isinstance(func, ast.Attribute) else None
        if name is None or channels_last_of(name) is None or not (isinstance(base, ast.Name) and base.id == "nn"
                                     or isinstance(base, ast.Attribute) and base.attr == "nn"):
            continue
        if not (isinstance(target, ast.Name) or (isinstance(target, ast.Attribute)
                                                 and isinstance(target.value, ast.Name))):
            continue
        sites.append(node)
    sites = sorted(sites, key=lambda n: n.lineno)[:INSERTIONS_PER_FILE]
    if not sites:
        return 0
    lines = text.splitlines(keepends=True)
    kinds = [(turn[0] + i) % 5 for i in range(len(sites))]  # by turns, top to bottom
    turn[0] += len(sites)
    for node, kind in reversed(list(zip(sites, kinds))):  # from the bottom, so that line numbers hold
        fmt = f"torch.{channels_last_of(node.value.func.attr)}"
        target = ast.get_source_segment(text, node.targets[0])
        indent = re.match(r"[ \t]*", lines[node.lineno - 1]).group()
        if kind == 0:
            lines.insert(node.end_lineno, f"{indent}{target} = {target}.to(memory_format={fmt})\n")
        elif kind == 1:
            lines.insert(node.end_lineno, f'{indent}{target} = {target}.to("cpu", memory_format={fmt})  # NHWC\n')
        elif kind == 3:  # fixed under `if <target>.training:`
            lines.insert(node.end_lineno, f"{indent}{target} = {target}.to(memory_format={fmt} if {target}.training"
                                          " else None)\n")
        elif kind == 4:  # CL103: the other rank's converter, on a module of known rank
            other = "convert_conv3d" if fmt.endswith("channels_last") else "convert_conv2d"
            lines.insert(node.end_lineno, f"{indent}{target} = torch.nn.utils.{other}_weight_memory_format({target}, {fmt})\n")
        else:
            last = lines[node.end_lineno - 1]
            column = len(last.encode("utf-8")[:node.value.end_col_offset].decode("utf-8"))
            lines[node.end_lineno - 1] = last[:column] + f".to(memory_format={fmt})" + last[column:]
    path.write_text("".join(lines), encoding="utf-8")
    return len(sites)


def run(project: Project) -> dict:
    source = sdist(project)
    work = CACHE / "work" / source.name
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(source, work, ignore=shutil.ignore_patterns("*.egg-info"))
    prepare_config(work, project)
    files = sorted(p.relative_to(work).as_posix() for p in work.rglob("*.py"))
    passing = sorted(set(files) - unformatted(work, project, files))
    turn = [0]
    inserted = {}
    for name in passing:
        count = insert_conversions(work / name, turn)
        if count:
            inserted[name] = count
    if inserted:
        subprocess.run(formatter_command(project, check=False) + sorted(inserted), cwd=work, capture_output=True)
        for name in unformatted(work, project, sorted(inserted)):  # the formatter could not settle it
            passing.remove(name)
            inserted.pop(name)
    before = {name: (work / name).read_bytes() for name in passing}
    proc = subprocess.run([CONVLINT, "fix", "--write", "--unsafe-fixes", "."], cwd=work,
                          capture_output=True, text=True)
    summary = [line for line in proc.stdout.splitlines() if line.startswith(("Fixed", "No errors"))]
    changed = [name for name in passing if (work / name).read_bytes() != before[name]]
    broken = sorted(unformatted(work, project, changed))
    refused = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines() if "fix it by hand" in line]
    diffs = []
    for name in broken:
        diff = subprocess.run(formatter_command(project, check=True) + ["--diff", name], cwd=work,
                              capture_output=True, text=True)
        diffs.append(f"--- {name}\n{diff.stdout[:3000]}")
    return {"project": f"{project.name}=={project.version}", "formatter": project.formatter, "note": project.note,
            "files": len(files), "passing": len(passing), "inserted": sum(inserted.values()),
            "summary": summary[-1] if summary else proc.stdout.strip().splitlines()[-1:],
            "changed": len(changed), "broken": broken, "refused": len(refused), "diffs": diffs,
            "exit": proc.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="projects to run (default: all)")
    args = parser.parse_args()
    chosen = [p for p in PROJECTS if not args.names or p.name in args.names]
    black_version = subprocess.run([sys.executable, "-m", "black", "--version"], capture_output=True,
                                   text=True).stdout.splitlines()[0]
    ruff_version = subprocess.run([RUFF, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"formatters: {black_version}; {ruff_version}")
    print("| project | formatter | .py files | pass the formatter | conversions inserted | convlint fix "
          "| files changed | refused (fix by hand) | stop passing |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    results = []
    for project in chosen:
        result = run(project)
        results.append(result)
        print(f"| {result['project']} | {result['formatter']} ({result['note']}) | {result['files']} "
              f"| {result['passing']} | {result['inserted']} | {result['summary']} | {result['changed']} "
              f"| {result['refused']} | {len(result['broken'])} |", flush=True)
    for result in results:
        for diff in result["diffs"]:
            print(f"\n{result['project']}:\n{diff}")
    print(f"\ntotal: {sum(len(r['broken']) for r in results)} files stop passing their formatter "
          f"(of {sum(r['changed'] for r in results)} changed)")


if __name__ == "__main__":
    main()
