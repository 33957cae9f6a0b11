"""Benchmark `convlint check` against Ruff, ripgrep and a read-every-file floor (issue 5).

Not a test. `python benchmarks/bench_check.py` runs every part; `--parts`, `--sizes` and
`--repeats` choose less. Corpora are generated under --workdir (default /tmp/convlint-bench)
and reused while benchmarks/make_corpus.py is unchanged; the `real` part times the real-code
corpus that benchmarks/realcode/fetch.py builds (issue 15). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import make_corpus

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.realcode import manifest  # noqa: E402

PARTS = ("real", "tree", "clean", "worst", "memory")
# The bars of issue 15, on the real-code corpus: ratios of medians of paired runs.
REAL_BARS = {
    "cold": 0.7,  # convlint (no cache) / ruff --no-cache, every tree, at most
    "cold_geomean": 0.5,  # ... as the geometric mean over the trees, at most
    "warm": 0.5,  # convlint warm cache / ruff warm cache, every tree, at most
    "warm_rg": 3.0,  # convlint warm cache / rg -l, every tree, at most
    "rss": 2.0,  # largest process's peak RSS / ruff's, every tree, under
    "one_clean": 1.5,  # one clean file / python -c pass, at most
    "one_candidate": 4.0,  # one candidate file / python -c pass, at most
}
TARGETS = {
    "ruff": 1.0,  # convlint / ruff wall time at 4,000 files, at most
    "floor": 3.0,  # convlint / floor at 4,000 files, at most
    "exponent": 1.1,  # growth of convlint's time in N, at most
    "clean": 4.0,  # one clean file / `python -c pass`, at most
    "libcst": 5.0,  # worst case: LibCST per file / convlint per file, at least
    "memory_mb": 300.0,  # peak RSS of the process tree on the largest tree, under
}


# --------------------------------------------------------------------------- tools


def executable(name: str) -> str | None:
    """The real executable: the interpreter's scripts directory first, so a pyenv or asdf
    shim (a shell script costing tens of ms) does not inflate a tool's time."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def interpreter(script: str) -> str:
    """The Python a console script runs on (its #! line), for `python -c pass` and the floor."""
    with open(script, "rb") as f:
        first = f.readline()
    if first.startswith(b"#!") and b"python" in first:
        return first[2:].decode().split()[0]
    return sys.executable


def version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


# --------------------------------------------------------------------------- timing


class Run:
    """One timed process: wall seconds, CPU seconds and max RSS of it and its reaped children."""

    def __init__(self, wall: float, cpu: float, max_rss_mb: float, tree_rss_mb: float | None = None):
        self.wall, self.cpu, self.max_rss_mb, self.tree_rss_mb = wall, cpu, max_rss_mb, tree_rss_mb


# Users' Pythons write .pyc files: without them every run would compile convlint again.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(command: list[str], cwd: str, ok=(0, 1), sample_tree: bool = False) -> Run:
    """Run `command` with its output discarded. os.wait4 gives the rusage of this run alone
    (its workers included, once reaped), unlike RUSAGE_CHILDREN, which accumulates."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = TreeRss(process.pid) if sample_tree else None
    stderr = process.stderr.read()  # drains the pipe; returns when the process closes it
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    code = process.returncode
    if code not in ok:
        raise SystemExit(f"{' '.join(command)} exited {code}:\n{stderr.decode(errors='replace')[-2000:]}")
    peak = sampler.stop() if sampler else None
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, peak)


class TreeRss:
    """Samples the summed RSS of a process and its descendants (Linux /proc) every 10 ms.

    A sum of RSS counts pages shared by forked workers more than once: an upper bound.
    """

    def __init__(self, pid: int):
        self.pid, self.peak_kb, self._done = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._done.wait(0.01):
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _tree(self.pid)))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_kb / 1024


def _tree(pid: int) -> list[int]:
    pids, i = [pid], 0
    while i < len(pids):
        try:
            for task in os.listdir(f"/proc/{pids[i]}/task"):
                with open(f"/proc/{pids[i]}/task/{task}/children") as f:
                    pids.extend(int(c) for c in f.read().split())
        except OSError:
            pass
        i += 1
    return pids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def interleaved(commands: dict[str, list[str]], cwd: str, repeats: int) -> dict[str, list[Run]]:
    """One untimed warm-up each (OS page cache, .pyc files), then `repeats` rounds, each
    running every command once in a rotated order, so drift in the machine's load spreads
    over all of them alike."""
    names = list(commands)
    for name in names:
        run_once(commands[name], cwd)
    runs: dict[str, list[Run]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(run_once(commands[name], cwd))
    return runs


def summary(values: list[float]) -> dict:
    """Median, interquartile range and extremes."""
    ordered = sorted(values)
    q1, q3 = (statistics.quantiles(ordered, n=4, method="inclusive")[::2] if len(ordered) > 1
              else (ordered[0], ordered[0]))
    return {"median": statistics.median(ordered), "q1": q1, "q3": q3, "min": ordered[0], "max": ordered[-1]}


def growth_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(time) against log(N)."""
    xs, ys = [math.log(n) for n in sizes], [math.log(t) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def row(name: str, runs: list[Run], label: str = "") -> str:
    wall, cpu = summary([r.wall for r in runs]), summary([r.cpu for r in runs])
    return (f"| {label} | {name} | {ms(wall['median'])} | {ms(wall['q1'])}-{ms(wall['q3'])} "
            f"| {ms(wall['min'])}-{ms(wall['max'])} | {ms(cpu['median'])} |")


TABLE_HEAD = ("| | command | wall ms (median) | IQR | min-max | CPU ms (median) |\n"
              "| --- | --- | ---: | ---: | ---: | ---: |")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --------------------------------------------------------------------------- parts


class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = Path(args.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.convlint = args.convlint or executable("convlint")
        if self.convlint is None:
            raise SystemExit("convlint is not installed: pip install -e . in the repository")
        self.python = interpreter(self.convlint)
        self.ruff, self.rg = args.ruff or executable("ruff"), shutil.which("rg")
        self.results: dict = {}
        self.checks: list[str] = []

    def compile_convlint(self) -> None:
        """Byte-compile the convlint package the executable imports, as an installed wheel
        is: an editable checkout would otherwise compile its changed modules in a timed run."""
        where = subprocess.run([self.python, "-c", "import convlint, os; print(os.path.dirname(convlint.__file__))"],
                               capture_output=True, text=True, check=True, cwd=self.workdir).stdout.strip()
        subprocess.run([self.python, "-m", "compileall", "-q", where], check=True)
        print(f"byte-compiled {where}")

    def corpus(self, n: int, all_candidates: bool = False) -> Path:
        directory = self.workdir / (f"worst-{n}" if all_candidates else f"tree-{n}")
        stamp = make_corpus.ensure(n, str(directory), self.args.seed, all_candidates)
        if not (directory / ".git").exists() and shutil.which("git"):
            # A real tree is a repository: Ruff and ripgrep honour .gitignore only inside one.
            subprocess.run(["git", "init", "-q", str(directory)], check=True)
        print(f"corpus {directory}: {stamp['files']} files, {stamp['lines']:,} lines, "
              f"{stamp['bytes'] / 1e6:.1f} MB, {stamp['memory_format_files']} name memory_format",
              flush=True)
        return directory

    def tree_commands(self, directory: Path) -> dict[str, list[str]]:
        # Cold runs: a convlint with a result cache is told not to use it (Ruff neither).
        no_cache = ["--no-cache"] if self.has_cache() else []
        commands = {"convlint check": [self.convlint, "check", *no_cache, str(directory)],
                    "floor (walk + read)": [self.python, str(HERE / "floor.py"), str(directory)]}
        if self.ruff:
            commands["ruff check --select F"] = [self.ruff, "check", "--no-cache", "--select", "F",
                                                 "--quiet", str(directory)]
        if self.rg:
            commands["rg -l memory_format"] = [self.rg, "-l", "memory_format", str(directory)]
        return commands

    def part_tree(self) -> None:
        print("\n## Trees of N files (interleaved runs)\n")
        if not self.ruff:
            print("ruff not found (pip install ruff): skipped")
        if not self.rg:
            print("ripgrep not found (apt-get install ripgrep): skipped")
        print("every run is a cold run (`--no-cache` for a convlint that keeps a result cache, as for "
              "Ruff); the OS page cache is warm (one untimed run of each command first).\n")
        medians: dict[str, dict[int, float]] = {}
        lines = [TABLE_HEAD]
        for n in self.args.sizes:
            directory = self.corpus(n)
            runs = interleaved(self.tree_commands(directory), str(self.workdir), self.args.repeats)
            for name, name_runs in runs.items():
                lines.append(row(name, name_runs, f"N={n:,}"))
                medians.setdefault(name, {})[n] = summary([r.wall for r in name_runs])["median"]
            self.results.setdefault("tree", {})[n] = {k: [vars(r) for r in v] for k, v in runs.items()}
        print("\n".join(lines) + "\n")
        convlint = medians["convlint check"]
        print("| N | convlint / ruff | convlint / floor | convlint / rg |\n| ---: | ---: | ---: | ---: |")
        for n in self.args.sizes:
            ratios = [convlint[n] / medians[other][n] if other in medians else None
                      for other in ("ruff check --select F", "floor (walk + read)", "rg -l memory_format")]
            print(f"| {n:,} | " + " | ".join(f"{r:.2f}x" if r else "-" for r in ratios) + " |")
        if len(self.args.sizes) > 1:
            sizes = sorted(self.args.sizes)
            print()
            for name, by_n in medians.items():
                exponent = growth_exponent(sizes, [by_n[n] for n in sizes])
                print(f"growth exponent of {name}: {exponent:.2f}")
                if name == "convlint check":
                    self.checks.append(f"convlint time grows as N^{exponent:.2f} (target <= "
                                       f"{TARGETS['exponent']}): {verdict(exponent <= TARGETS['exponent'])}")
        if 4000 in convlint:
            floor = convlint[4000] / medians["floor (walk + read)"][4000]
            self.checks.append(f"convlint / floor at 4,000 files: {floor:.2f}x (target <= "
                               f"{TARGETS['floor']}x): {verdict(floor <= TARGETS['floor'])}")
            if self.ruff:
                ruff = convlint[4000] / medians["ruff check --select F"][4000]
                self.checks.append(f"convlint / ruff at 4,000 files: {ruff:.2f}x (target <= "
                                   f"{TARGETS['ruff']}x): {verdict(ruff <= TARGETS['ruff'])}")

    def real_trees(self) -> list[tuple[str, Path]]:
        """The real trees: every fetched project (or --real-trees), then the tuned set merged
        into one tree and the same files as one git repository."""
        cache = manifest.cache_dir(Path(self.args.real_cache) if self.args.real_cache else None)
        chosen = self.args.real_trees.split(",") if self.args.real_trees else None
        trees = []
        for package in manifest.load():
            tree = manifest.project_tree(cache, package)
            if (chosen is None or package.name in chosen) and tree.is_dir():
                trees.append((package.name, tree))
        for name, tree in (("combined", manifest.combined_tree(cache)), ("combined-git", manifest.git_tree(cache))):
            if (chosen is None or name in chosen) and tree.is_dir():
                trees.append((name, tree))
        if not trees:
            raise SystemExit(f"no real-code trees under {cache}: run benchmarks/realcode/fetch.py first")
        return trees

    def has_cache(self) -> bool:
        """Whether this convlint keeps a result cache (`check --no-cache`)."""
        help_text = subprocess.run([self.convlint, "check", "--help"], capture_output=True, text=True).stdout
        return "--no-cache" in help_text

    def real_commands(self, name: str, tree: Path, cached: bool) -> dict[str, list[str]]:
        ruff_cache = self.workdir / "ruff-cache" / name
        # Run in the tree, on `.`, as a user runs them in a project: convlint's cache goes to
        # the project root (the working directory when there is no configuration).
        commands = {
            "convlint": [self.convlint, "check", *(["--no-cache"] if cached else []), "."],
            "floor": [self.python, str(HERE / "floor.py"), "."],
            # What any Python tool pays before it reads a file: the lower bound of a ratio.
            "python -c pass": [self.python, "-c", "pass"],
        }
        if cached:
            commands["convlint warm"] = [self.convlint, "check", "."]
        if self.ruff:
            ruff = [self.ruff, "check", "--select", "F", "--quiet", "--exit-zero"]
            commands["ruff"] = [*ruff, "--no-cache", "."]
            commands["ruff warm"] = [*ruff, "--cache-dir", str(ruff_cache), "."]
        if self.rg:
            commands["rg"] = [self.rg, "-l", "-e", "memory_format", "-e", "channels_last", "."]
        return commands

    def part_real(self) -> None:
        """The real-code corpus (issue 15): each tree cold and warm against Ruff, rg -l and
        the floor. Ratios are medians of per-round ratios (the commands of one round run
        back to back, so a change of load falls on both sides of a ratio)."""
        print("\n## Real code (interleaved runs; ratios are medians of paired per-round ratios)\n")
        cached = self.has_cache()
        if not cached:
            print("this convlint keeps no result cache: its warm run is its cold run\n")
        trees = self.real_trees()
        pairs = [("convlint", "ruff"), ("convlint warm" if cached else "convlint", "ruff warm"),
                 ("convlint warm" if cached else "convlint", "rg"), ("convlint", "floor"),
                 ("python -c pass", "ruff"), ("python -c pass", "ruff warm")]
        print("| tree | .py files | convlint ms | ruff ms | convlint warm ms | ruff warm ms | rg ms | floor ms "
              "| cold / ruff | warm / ruff warm | warm / rg | cold / floor | start / ruff | start / ruff warm "
              "| RSS MB convlint / ruff |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        measured = {}
        for name, tree in trees:
            commands = self.real_commands(name, tree, cached)
            runs = interleaved(commands, str(tree), self.args.real_repeats)
            files = sum(1 for _ in tree.rglob("*.py"))
            med = {k: summary([r.wall for r in v])["median"] for k, v in runs.items()}
            ratios = {f"{a} / {b}": statistics.median(x.wall / y.wall for x, y in zip(runs[a], runs[b]))
                      for a, b in pairs if a in runs and b in runs}
            rss = {k: max(r.max_rss_mb for r in v) for k, v in runs.items()}
            measured[name] = {"files": files, "medians": med, "ratios": ratios, "rss": rss}
            cells = [ms(med[k]) if k in med else "-" for k in
                     ("convlint", "ruff", "convlint warm" if cached else "convlint", "ruff warm", "rg", "floor")]
            rcells = [f"{ratios[f'{a} / {b}']:.2f}x" if f"{a} / {b}" in ratios else "-" for a, b in pairs]
            memory = f"{rss['convlint']:.0f} / {rss['ruff']:.0f}" if "ruff" in rss else "-"
            print(f"| {name} | {files:,} | " + " | ".join(cells + rcells) + f" | {memory} |", flush=True)
            self.results.setdefault("real", {})[name] = {
                **measured[name], "runs": {k: [vars(r) for r in v] for k, v in runs.items()}}
        self.real_bars(measured, pairs)

    def real_bars(self, measured: dict, pairs: list[tuple[str, str]]) -> None:
        keys = [f"{a} / {b}" for a, b in pairs]
        cold, warm, warm_rg = keys[0], keys[1], keys[2]
        def worst(key):
            values = {n: m["ratios"][key] for n, m in measured.items() if key in m["ratios"]}
            return (max(values.items(), key=lambda kv: kv[1]), values) if values else (None, {})
        (name, value), values = worst(cold)
        geomean = math.exp(statistics.fmean(math.log(v) for v in values.values()))
        over = sorted(n for n, v in values.items() if v > REAL_BARS["cold"])
        self.checks.append(f"real code, cold, convlint / ruff --no-cache: worst {value:.2f}x ({name}); "
                           f"{len(over)} of {len(values)} trees over {REAL_BARS['cold']}x "
                           f"(bar <= {REAL_BARS['cold']}x on every tree): {verdict(not over)}"
                           + self.below_start(measured, over, "python -c pass / ruff", REAL_BARS["cold"]))
        self.checks.append(f"real code, cold, geometric mean {geomean:.2f}x (bar <= {REAL_BARS['cold_geomean']}x): "
                           f"{verdict(geomean <= REAL_BARS['cold_geomean'])}")
        for key, bar in ((warm, REAL_BARS["warm"]), (warm_rg, REAL_BARS["warm_rg"])):
            found, values = worst(key)
            if found is None:
                continue
            over = sorted(n for n, v in values.items() if v > bar)
            self.checks.append(f"real code, {key}: worst {found[1]:.2f}x ({found[0]}); {len(over)} of "
                               f"{len(values)} trees over {bar}x (bar <= {bar}x on every tree): {verdict(not over)}"
                               + (self.below_start(measured, over, "python -c pass / ruff warm", bar) if key == warm else ""))
        rss = {n: m["rss"]["convlint"] / m["rss"]["ruff"] for n, m in measured.items() if "ruff" in m["rss"]}
        if rss:
            name, value = max(rss.items(), key=lambda kv: kv[1])
            self.checks.append(f"real code, peak RSS of the largest process, convlint / ruff: worst {value:.2f}x "
                               f"({name}) (bar < {REAL_BARS['rss']}x): {verdict(value < REAL_BARS['rss'])}")

    @staticmethod
    def below_start(measured: dict, over: list[str], start_key: str, bar: float) -> str:
        """How many of the trees over a bar have it below what `python -c pass` alone takes
        (no Python program can meet it there)."""
        unreachable = [n for n in over if measured[n]["ratios"].get(start_key, 0) > bar]
        return f" ({len(unreachable)} of them where `python -c pass` alone is over {bar}x)" if over else ""

    def part_clean(self) -> None:
        """One clean file (the pre-commit case) and one candidate file, against `python -c pass`."""
        print("\n## One file (interleaved runs)\n")
        rng = random.Random(f"{self.args.seed}:single")
        # In a directory of their own: beside the generated trees, the candidate's project
        # (for its callers, and the cache's view of them) would be every tree of the workdir.
        single = self.workdir / "single"
        single.mkdir(exist_ok=True)
        clean, candidate = single / "clean.py", single / "candidate.py"
        clean.write_text(make_corpus.render_file(rng, "model", 200))
        candidate.write_text(make_corpus.render_file(rng, "train", 200, make_corpus.MF_MODULE))
        commands = {
            "python -c pass": [self.python, "-c", "pass"],
            "convlint check clean.py": [self.convlint, "check", str(clean)],
            "convlint check candidate.py": [self.convlint, "check", str(candidate)],
            # The same without the installer's console-script wrapper (which imports `re`).
            "python -m convlint check clean.py": [self.python, "-m", "convlint", "check", str(clean)],
        }
        if self.ruff:
            for file in (clean, candidate):
                commands[f"ruff check --select F {file.name}"] = [
                    self.ruff, "check", "--no-cache", "--select", "F", "--quiet", "--exit-zero", str(file)]
        runs = interleaved(commands, str(single), self.args.repeats * 2)
        print(TABLE_HEAD)
        for name, name_runs in runs.items():
            print(row(name, name_runs))

        def paired(a: str, b: str) -> float:
            return statistics.median(x.wall / y.wall for x, y in zip(runs[a], runs[b]))

        ratio = paired("convlint check clean.py", "python -c pass")
        candidate_ratio = paired("convlint check candidate.py", "python -c pass")
        print(f"\nmedians of paired ratios: clean file / python -c pass {ratio:.2f}x; candidate file / "
              f"python -c pass {candidate_ratio:.2f}x; `python -m convlint check clean.py` / python -c pass "
              f"{paired('python -m convlint check clean.py', 'python -c pass'):.2f}x")
        if self.ruff:
            print(f"convlint / ruff on the same file: clean {paired('convlint check clean.py', 'ruff check --select F clean.py'):.2f}x, "
                  f"candidate {paired('convlint check candidate.py', 'ruff check --select F candidate.py'):.2f}x")
        self.checks.append(f"one clean file / python -c pass: {ratio:.2f}x (bar <= {REAL_BARS['one_clean']}x): "
                           f"{verdict(ratio <= REAL_BARS['one_clean'])}")
        self.checks.append(f"one candidate file / python -c pass: {candidate_ratio:.2f}x (bar <= "
                           f"{REAL_BARS['one_candidate']}x): {verdict(candidate_ratio <= REAL_BARS['one_candidate'])}")
        self.results["clean"] = {k: [vars(r) for r in v] for k, v in runs.items()}

    def part_worst(self) -> None:
        """Every file a candidate: convlint per file (both cores) against plain LibCST."""
        print("\n## Worst case: every file a candidate\n")
        n = self.args.worst_files
        directory = self.corpus(n, all_candidates=True)
        runs = interleaved({"convlint check": [self.convlint, "check", str(directory)]},
                           str(self.workdir), self.args.repeats)["convlint check"]
        files = sorted(directory.rglob("*.py"))
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        wall = summary([r.wall for r in runs])["median"]
        cpu = summary([r.cpu for r in runs])["median"]
        print(TABLE_HEAD)
        print(row("convlint check", runs, f"N={n}"))
        print(f"\nconvlint: {wall / n * 1000:.2f} ms wall and {cpu / n * 1000:.2f} ms CPU per file "
              f"({wall / lines * 1e6:.1f} ms wall per 1,000 lines; {lines / n:.0f} lines per file)")
        self.results["worst"] = {"files": n, "lines": lines, "runs": [vars(r) for r in runs]}
        if self.args.libcst_files <= 0:
            return
        # An evenly spaced subset; compared per line, so the subset's sizes do not skew it.
        subset = files[:: max(1, len(files) // self.args.libcst_files)][: self.args.libcst_files]
        command = [self.python, str(HERE / "libcst_baseline.py"), *map(str, subset)]
        baselines = [json.loads(subprocess.run(command, capture_output=True, text=True, env=ENV,
                                               check=True).stdout)
                     for _ in range(max(1, min(3, self.args.repeats)))]
        baseline = min(baselines, key=lambda b: b["cpu_seconds"])  # the least disturbed run
        per_kline = baseline["cpu_seconds"] / baseline["lines"] * 1000
        convlint_per_kline = wall / lines * 1000
        speedup = per_kline / convlint_per_kline
        cpu_speedup = per_kline / (cpu / lines * 1000)
        mean_lines = lines / n
        print(f"LibCST parse + ScopeProvider + QualifiedNameProvider, one process, {baseline['files']} "
              f"files ({baseline['lines']:,} lines): {per_kline * 1000:.0f} ms CPU per 1,000 lines = "
              f"{per_kline * mean_lines:.0f} ms per {mean_lines:.0f}-line file "
              f"(import libcst: {baseline['import_seconds'] * 1000:.0f} ms, not counted)")
        print(f"speedup per file: {speedup:.1f}x against LibCST on one core; "
              f"{speedup / (os.cpu_count() or 1):.1f}x against LibCST spread perfectly over "
              f"{os.cpu_count()} cores; in CPU time, {cpu_speedup:.1f}x")
        self.checks.append(f"worst case, per file, LibCST (1 core) / convlint (all cores): {speedup:.1f}x "
                           f"(target >= {TARGETS['libcst']}x): {verdict(speedup >= TARGETS['libcst'])}")
        self.results["libcst"] = baseline

    def part_memory(self) -> None:
        n = max(self.args.sizes)
        print(f"\n## Peak memory, N={n:,}\n")
        directory = self.corpus(n)
        runs = [run_once([self.convlint, "check", str(directory)], str(self.workdir), sample_tree=True)
                for _ in range(max(1, self.args.repeats // 2))]
        tree = max(r.tree_rss_mb for r in runs)
        single = max(r.max_rss_mb for r in runs)
        print(f"convlint check: peak RSS of the process tree (sum, sampled every 10 ms) {tree:.0f} MB; "
              f"largest single process {single:.0f} MB (rusage)")
        target = TARGETS["memory_mb"]
        self.checks.append(f"peak memory at {n:,} files: {tree:.0f} MB (target < {target:.0f} MB): "
                           f"{verdict(tree < target)}")
        self.results["memory"] = [vars(r) for r in runs]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--sizes", default="1000,4000,16000",
                        type=lambda s: [int(x) for x in s.split(",")], help="tree sizes N")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each command (default 5)")
    parser.add_argument("--worst-files", type=int, default=400, help="files in the worst-case tree")
    parser.add_argument("--libcst-files", type=int, default=12,
                        help="worst-case files timed with plain LibCST (0: skip)")
    parser.add_argument("--workdir", default="/tmp/convlint-bench", help="where corpora go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--convlint", help="the convlint executable (default: this Python's)")
    parser.add_argument("--ruff", help="the ruff executable (default: this Python's, else PATH's)")
    parser.add_argument("--real-repeats", type=int, default=5, help="timed runs of each command per real tree")
    parser.add_argument("--real-trees", help="comma-separated tree names (default: every fetched tree, "
                                             "combined and combined-git)")
    parser.add_argument("--real-cache", help="the real-code cache (default: $CONVLINT_BENCH_CACHE or "
                                             "~/.cache/convlint-bench)")
    parser.add_argument("--no-compile", action="store_true", help="do not byte-compile convlint first")
    parser.add_argument("--json", help="also write the raw timings here")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    bench = Bench(args)
    print(f"# convlint check benchmark, {datetime.date.today()}\n")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"python {platform.python_version()}; {version([bench.convlint, '--version'])}; "
          f"{version([bench.ruff, '--version']) if bench.ruff else 'no ruff'}; "
          f"{version([bench.rg, '--version']) if bench.rg else 'no ripgrep'}")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}")
    if not args.no_compile:
        bench.compile_convlint()
    for part in PARTS:
        if part in parts:
            getattr(bench, f"part_{part}")()
    print(f"\n## Targets (load average at the end {os.getloadavg()[0]:.2f})\n")
    for check in bench.checks:
        print(f"- {check}")
    if args.json:
        Path(args.json).write_text(json.dumps(bench.results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
