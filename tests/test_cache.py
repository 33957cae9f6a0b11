"""The result cache of `check`: a warm run on an unchanged tree parses nothing, and a change
of content, of a file the answer read, of settings or of convlint's build is seen; concurrent
runs and a corrupt cache file are safe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from convlint import cache as cache_module
from convlint import lint
from convlint.analysis import project as project_module
from convlint.config import Configuration, Settings
from convlint.modes import Options
from convlint.runner import run
from tests.fixture_cases import run_cli

TRAIN = "import torch\nfrom pkg.models import build\nmodel = build()\nmodel = model.to(memory_format=torch.channels_last)\n"
MODULE = "import torch.nn as nn\n\n\ndef build():\n    return nn.Conv2d(3, 3, 3)\n"
TENSOR = "import torch\n\n\ndef build():\n    return torch.zeros(1, 3, 8, 8)\n"
OTHER = "import torch\nx = torch.zeros(1).to(memory_format=torch.channels_last)\nm = model.to(memory_format=torch.channels_last)\n"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVLINT_NO_CACHE", raising=False)
    (tmp_path / "pkg").mkdir()
    for name, text in {"__init__.py": "", "train.py": TRAIN, "models.py": MODULE, "other.py": OTHER,
                       "clean.py": "x = 1\n"}.items():
        (tmp_path / "pkg" / name).write_text(text)
    old_times(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def old_times(root: Path) -> None:
    """Files last written long ago, as in a real tree (recent ones are checked by content)."""
    for path in root.rglob("*.py"):
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))


class Parses:
    """Counts the analyses of the sources (each parses its file) and the parses of the
    project (imported files)."""

    def __init__(self, monkeypatch):
        self.count = 0
        for module, name in ((lint, "lint_source_text"), (project_module, "parse")):
            monkeypatch.setattr(module, name, self.counting(getattr(module, name)))

    def counting(self, real):
        def parse(*args, **kwargs):
            self.count += 1
            return real(*args, **kwargs)
        return parse


def config(**overrides) -> Configuration:
    return Configuration([], isolated=True, overrides=(overrides,) if overrides else ())


def check(configuration: Configuration | None = None, jobs: int = 1) -> list[str]:
    results = run(["."], configuration or config(), Options(cache=True), jobs)
    return [f"{d.where} {d.code}" for r in results for d in r.diagnostics] + \
           [f"{r.path}: {n}" for r in results for n in r.notes] + [e.message for r in results for e in r.errors]


def test_a_warm_run_on_an_unchanged_tree_parses_nothing(tree, monkeypatch):
    parses = Parses(monkeypatch)
    cold = check()
    assert parses.count >= 3 and any("CL101" in line for line in cold)
    parses.count = 0
    assert check() == cold and parses.count == 0


def test_a_touched_file_with_the_same_content_is_not_parsed_again(tree, monkeypatch):
    cold = check()
    (tree / "pkg" / "other.py").touch()
    parses = Parses(monkeypatch)
    assert check() == cold and parses.count == 0


def test_a_change_of_content_is_seen(tree, monkeypatch):
    cold = check()
    (tree / "pkg" / "other.py").write_text(OTHER + "n = net.to(memory_format=torch.channels_last)\n")
    parses = Parses(monkeypatch)
    warm = check()
    assert parses.count == 1 and len(warm) == len(cold) + 1


def test_a_change_of_content_keeping_size_and_mtime_is_seen_while_the_mtime_is_recent(tree):
    """A file written twice within the clock's granularity keeps its stat: an entry made so
    soon after a write is checked by content next time (git's "racily clean")."""
    path = tree / "pkg" / "other.py"
    check()
    path.write_text(OTHER)  # just written: a recent mtime
    status = path.stat()
    assert check() == run_uncached()
    path.write_text(OTHER.replace("m = model.to", "m = tenso.to"))  # same size, no module
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert path.stat().st_size == status.st_size
    assert check() == run_uncached() and not any("other.py" in line for line in check())


def run_uncached() -> list[str]:
    results = run(["."], config(), Options(), 1)
    return [f"{d.where} {d.code}" for r in results for d in r.diagnostics]


def test_a_change_of_a_file_the_answer_read_is_seen(tree, monkeypatch):
    assert any("train.py" in line for line in check())
    (tree / "pkg" / "models.py").write_text(TENSOR)  # build() now returns a tensor
    parses = Parses(monkeypatch)
    warm = check()
    assert not any("train.py" in line for line in warm) and parses.count >= 1
    assert warm == run_uncached()


def test_a_change_of_settings_is_another_cache(tree, monkeypatch):
    assert any("CL101" in line for line in check())
    assert not any("CL101" in line for line in check(config(ignore=("CL101",))))
    parses = Parses(monkeypatch)
    assert any("CL101" in line for line in check()) and parses.count == 0  # both kept


CONV3D = "import torch\nfrom torch import nn\n\nm = nn.Conv3d(3, 8, 3)\nm = m.to(memory_format=torch.channels_last_3d)\n"
WIDE = ("import torch\nfrom torch import nn\n\n\ndef build():\n    wide_model_name_to_wrap = nn.Conv2d(3, 8, 3)\n"
        "    wide_model_name_to_wrap = wide_model_name_to_wrap.to(memory_format=torch.channels_last)\n"
        "    return wide_model_name_to_wrap\n")


def findings_with_fixes(edits: bool = False, cache: bool = True) -> list:
    results = run(["."], config(), Options(cache=cache, edits=edits), 1)
    return [(d.where, d.code, d.fix and d.fix.applicability, d.fix and d.fix.edits) for r in results for d in r.diagnostics]


@pytest.mark.parametrize("edits", [False, True])
def test_a_new_torch_pin_is_seen(tree, edits):
    """The torch a project pins (requirements.txt) decides whether the 3-D converter exists,
    so whether the fix is safe: a pin added after a run is seen by the next one."""
    (tree / "pkg" / "conv3d.py").write_text(CONV3D)
    old_times(tree)
    assert findings_with_fixes(edits) == findings_with_fixes(edits, cache=False)
    (tree / "requirements.txt").write_text("torch<2.0\n")
    old_times(tree)
    assert findings_with_fixes(edits) == findings_with_fixes(edits, cache=False)
    assert any(code == "CL102" and str(safety) == "Applicability.UNSAFE"
               for _, code, safety, _ in findings_with_fixes(edits, cache=False))


def test_a_new_line_length_is_seen_in_the_edits(tree):
    """The edits of a fix follow the formatter's line length (JSON, SARIF): a changed
    `[tool.black] line-length` gives new edits, not the kept ones."""
    (tree / "pkg" / "wide.py").write_text(WIDE)
    (tree / "pyproject.toml").write_text("[tool.black]\nline-length = 88\n")
    old_times(tree)
    before = findings_with_fixes(edits=True)
    (tree / "pyproject.toml").write_text("[tool.black]\nline-length = 200\n")
    old_times(tree)
    after = findings_with_fixes(edits=True)
    assert after == findings_with_fixes(edits=True, cache=False) and after != before


def test_the_code_blocks_skipped_are_kept_for_verbose(tree):
    """`check --verbose` says which code blocks of a page were skipped, warm as cold."""
    (tree / "README.md").write_text("```python\nimport torch\nm = torch.nn.Conv2d(1, 1, 1)\n"
                                    "m = m.to(memory_format=torch.channels_last)\n```\n\n"
                                    "```python\ndef broken(:\n    torch.channels_last\n```\n")
    old_times(tree)

    def skipped(cache: bool) -> list[str]:
        return [note for r in run(["README.md"], config(), Options(cache=cache), 1) for note in r.skipped]

    cold = skipped(cache=True)
    assert cold and any("README.md" in note for note in cold)
    assert skipped(cache=True) == cold == skipped(cache=False)


def test_another_build_of_convlint_never_trusts_the_cache(tree, monkeypatch):
    cold = check()
    monkeypatch.setattr(cache_module, "__version__", "99.0")
    parses = Parses(monkeypatch)
    assert check() == cold and parses.count >= 3


def test_the_fingerprint_covers_every_setting():
    base = cache_module.fingerprint(Settings(), False)
    assert cache_module.fingerprint(Settings(), True) != base
    for change in ({"select": ("CL1",)}, {"per_file_ignores": (("a.py", ("CL101",)),)},
                   {"fix_target": "convlint"}, {"torch_version": "2.1"}, {"project_root": "/x"}):
        assert cache_module.fingerprint(Settings(**change), False) != base, change


def cache_files(root: Path) -> list[Path]:
    return sorted((root / ".convlint_cache").rglob("*.json"))


def test_a_corrupt_cache_file_is_ignored_with_a_warning_and_rewritten(tree, monkeypatch):
    cold = check()
    [path] = cache_files(tree)
    path.write_bytes(b'{"format": 1, "entries": {"x": [')
    parses = Parses(monkeypatch)
    warm = check()
    assert parses.count >= 3
    assert [line for line in warm if "unreadable cache file" in line] and set(cold) <= set(warm)
    json.loads(path.read_bytes())
    parses.count = 0
    assert check() == cold and parses.count == 0


def test_an_entry_that_does_not_decode_is_checked_again(tree, monkeypatch):
    cold = check()
    [path] = cache_files(tree)
    data = json.loads(path.read_bytes())
    for entry in data["entries"].values():
        if entry["result"] is not None:
            entry["result"] = {"__type": "os.system", "command": "true"}
    path.write_text(json.dumps(data))
    assert check() == cold


def test_the_cache_directory_is_tagged_and_ignored(tree):
    check()
    root = tree / ".convlint_cache"
    assert (root / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (root / ".gitignore").read_text().splitlines()[-1] == "*"
    assert not list(root.rglob("*.tmp"))


def test_no_cache_neither_reads_nor_writes(tree):
    result = run_cli(["check", "--no-cache", "."], tree)
    assert result.exit_code == 1 and not (tree / ".convlint_cache").exists()
    check()
    [path] = cache_files(tree)
    path.write_bytes(b"not json")
    result = run_cli(["check", "--no-cache", "."], tree)
    assert "cache" not in result.stderr and path.read_bytes() == b"not json"


def test_the_cli_caches_by_default_and_clean_removes_it(tree):
    first = run_cli(["check", "."], tree)
    assert cache_files(tree) and run_cli(["check", "."], tree).stdout == first.stdout
    (tree / "sub").mkdir()
    (tree / "sub" / ".convlint_cache").mkdir()
    cleaned = run_cli(["clean"], tree)
    assert cleaned.exit_code == 0 and cleaned.stdout.count("Removing cache at") == 2
    assert not (tree / ".convlint_cache").exists() and not (tree / "sub" / ".convlint_cache").exists()


def test_workers_answer_from_the_cache_too(tree, monkeypatch):
    for i in range(8):  # enough candidates for a pool of two
        (tree / "pkg" / f"other{i}.py").write_text(OTHER)
    old_times(tree)
    cold = check(jobs=2)

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(lint, "lint_source_text", no_parse)  # the forked workers inherit it
    assert check(jobs=2) == cold


def test_a_warm_run_of_a_large_tree_starts_no_pool(tree, monkeypatch):
    """A tree large enough for the workers, unchanged: the cache answers by stat in this
    process; only the files it cannot answer would go to a pool."""
    from convlint import pool, runner

    for i in range(12):
        (tree / "pkg" / f"other{i}.py").write_text(OTHER)
    old_times(tree)
    monkeypatch.setattr(runner, "PARALLEL_SCAN_FILES", 10)
    cold = check(jobs=2)
    started = []
    real_pool_map = pool.pool_map
    monkeypatch.setattr(pool, "pool_map", lambda *args: started.append(args) or real_pool_map(*args))
    assert check(jobs=2) == cold and not started
    for i in range(11):  # eleven files changed: a pool for them
        (tree / "pkg" / f"other{i}.py").write_text(OTHER + "# changed\n")
    old_times(tree)
    assert check(jobs=2) == [line.replace("# changed", "") for line in cold] and len(started) == 1


def test_concurrent_runs_leave_a_valid_cache(tree):
    env = {k: v for k, v in os.environ.items() if k != "CONVLINT_NO_CACHE"}
    command = [sys.executable, "-m", "convlint", "check", "--isolated", "."]
    runs = [subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    outputs = [p.communicate() for p in runs]
    assert all(p.returncode == 1 for p in runs) and outputs[0][0] == outputs[1][0]
    assert all(b"cache" not in err for _, err in outputs)
    for path in cache_files(tree):
        json.loads(path.read_bytes())
    assert not list((tree / ".convlint_cache").rglob("*.tmp"))


CONVERT = "import torch\n\n\ndef to_fast(net, fmt):\n    return net.to(memory_format=fmt)\n"
CALLER = "import torch\nimport torch.nn as nn\nfrom pkg.convert import to_fast\n\nnet = nn.Conv2d(3, 3, 3)\nto_fast(net, torch.channels_last)\n"


def test_a_new_caller_anywhere_in_the_project_is_seen(tree, monkeypatch):
    """An answer that searched the project for a function's callers is keyed by the
    project's files: a caller added (by a file the answer never read) changes it."""
    (tree / "pkg" / "convert.py").write_text(CONVERT)
    old_times(tree)
    assert not any("convert.py" in line for line in check())
    (tree / "pkg" / "caller.py").write_text(CALLER)
    old_times(tree)
    assert any("convert.py" in line for line in check()) and check() == run_uncached()
