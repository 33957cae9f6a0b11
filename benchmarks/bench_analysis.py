"""The analysis core's benchmarks (issue 9's speed bar, issue 10 item 14), run by hand.

    python benchmarks/bench_analysis.py rebindings                  # 8,000 and 100,000 `m = m.cuda()`
    python benchmarks/bench_analysis.py compare OLD NEW TREE...     # two convlint executables
    python benchmarks/bench_analysis.py compare OLD NEW --real      # every tree of the real corpus

`rebindings` times `convlint check` on one file of N self-rebindings of one name (a chain
the analysis must follow to the end): the bound is generous (linear work: seconds, not the
half hour a quadratic lookup took), and it is not a test.

`compare` runs `OLD check` and `NEW check` (`--isolated -j 1`, output discarded) on each
tree, interleaved (A B, B A, ...), and reports the medians of wall and CPU time (user + system
of the process and its children) and the median of the paired NEW/OLD ratios. Byte-compile
both checkouts first (`python -m compileall -q convlint`): with PYTHONDONTWRITEBYTECODE set
an editable install would recompile every module on each run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def rebindings(args) -> None:
    convlint = args.convlint
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.lines:
            path = Path(tmp) / f"chain_{n}.py"
            path.write_text("import torch\nimport torch.nn as nn\nm = nn.Conv2d(1, 1, 1)\n"
                            + "m = m.cuda()\n" * n + "m = m.to(memory_format=torch.channels_last)\n")
            wall, cpu = _run([convlint, "check", "--isolated", str(path)])
            found = subprocess.run([convlint, "check", "--isolated", "--output-format", "concise", str(path)],
                                   capture_output=True, text=True).stdout
            verdict = "found (safe fix)" if "CL101 [*]" in found else "NOT FOUND"
            print(f"{n:>8,} rebindings: {wall:6.2f} s wall, {cpu:6.2f} s CPU, {verdict}")


def compare(args) -> None:
    trees = [Path(t) for t in args.trees]
    if args.real:
        cache = Path(os.environ.get("CONVLINT_BENCH_CACHE", Path.home() / ".cache" / "convlint-bench"))
        trees += sorted(p for p in (cache / "trees").iterdir() if p.is_dir())
    rows = []
    for tree in trees:
        old_cmd = [args.old, "check", "--isolated", "-j", "1", "--exit-zero", str(tree)]
        new_cmd = [args.new, "check", "--isolated", "-j", "1", "--exit-zero", str(tree)]
        _run(old_cmd), _run(new_cmd)  # warm the page cache
        runs = {"old": [], "new": []}
        for i in range(args.repeats):
            order = (("old", old_cmd), ("new", new_cmd)) if i % 2 == 0 else (("new", new_cmd), ("old", old_cmd))
            for name, command in order:
                runs[name].append(_run(command))
        wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
        ratio = statistics.median(n[1] / o[1] for o, n in zip(runs["old"], runs["new"]))
        rows.append((tree.name, wall, cpu, ratio))
        print(f"{tree.name:40} wall {wall['old']:.3f} -> {wall['new']:.3f} s   "
              f"CPU {cpu['old']:.3f} -> {cpu['new']:.3f} s   CPU ratio {ratio:.2f}", flush=True)
    if len(rows) > 1:
        geo = statistics.geometric_mean(r[3] for r in rows)
        total_old = sum(r[2]["old"] for r in rows)
        total_new = sum(r[2]["new"] for r in rows)
        print(f"{'all':40} CPU {total_old:.3f} -> {total_new:.3f} s ({total_new / total_old:.2f}x), "
              f"geometric mean of ratios {geo:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    chain = sub.add_parser("rebindings")
    chain.add_argument("--lines", type=lambda v: [int(x) for x in v.split(",")], default=[8000, 100000])
    chain.add_argument("--convlint", default=str(Path(sys.executable).with_name("convlint")))
    chain.set_defaults(run=rebindings)
    both = sub.add_parser("compare")
    both.add_argument("old")
    both.add_argument("new")
    both.add_argument("trees", nargs="*")
    both.add_argument("--real", action="store_true", help="every tree of the real corpus (benchmarks/realcode)")
    both.add_argument("--repeats", type=int, default=7)
    both.set_defaults(run=compare)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
