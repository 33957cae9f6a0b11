"""The hooks of .pre-commit-hooks.yaml, run by real pre-commit (`try-repo`) in a throwaway repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.fixture_cases import FIXTURES, ROOT, run_cli

pytest.importorskip("pre_commit", reason="pre-commit is in the test extra")

BAD = FIXTURES / "CL101" / "statement.py"  # one finding with a safe fix
CLEAN = "import torch\n\nimages = torch.ones(8, 3, 4, 4).to(memory_format=torch.channels_last)\n"
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# A notebook"]},
        {
            "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": ["import torch\n", "from torch import nn\n", "\n", "net = nn.Conv2d(3, 8, 3)\n",
                       "net = net.to(memory_format=torch.channels_last)"],
        },
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def git(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    config = ["-c", "user.name=convlint tests", "-c", "user.email=tests@convlint.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *config, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)


def index_unreachable() -> str | None:
    """Why pip cannot fetch what a hook environment installs (None: it can). Quick to fail."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--retries", "0", "--timeout", "10",
                   "--dest", tmp, "setuptools", "click", "libcst"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            return "pip download timed out"
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return lines[-1] if lines else f"pip exited {result.returncode}"
    return None


def project_files(env: dict) -> list[str]:
    """The project's files, relative to ROOT: what git lists in a checkout; in a tree that is
    no checkout of its own (the unpacked sdist), every file but caches and build output."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT, env=env, capture_output=True, text=True)
    if top.returncode == 0 and Path(top.stdout.strip()).resolve() == ROOT.resolve():
        listed = git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT, env).stdout
        return list(filter(None, listed.split("\0")))
    skip = {"__pycache__", ".hypothesis", ".pytest_cache", "build", "dist"}
    return sorted(
        path.relative_to(ROOT).as_posix() for path in ROOT.rglob("*")
        if path.is_file() and not any(part in skip or part.endswith(".egg-info") for part in path.relative_to(ROOT).parts)
    )


@pytest.fixture(scope="module")
def hooks(tmp_path_factory) -> dict:
    """The working tree committed into a temporary repo: try-repo needs a repo, and takes
    only tracked changes from a dirty one (the new files of the working tree would be lost)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    reason = index_unreachable()
    if reason:
        pytest.skip(f"the package index is unreachable, and pre-commit pip-installs the hooks: {reason}")
    base = tmp_path_factory.mktemp("precommit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}  # e.g. when run from a git hook
    env["PRE_COMMIT_HOME"] = str(base / "cache")  # nothing of pre-commit's lands in ~/.cache
    project = base / "project"
    for name in project_files(env):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is listed too
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)
    git(["init", "-q"], project, env)
    git(["add", "-A"], project, env)
    git(["commit", "-q", "-m", "working tree"], project, env)
    return {"project": project, "env": env}


@pytest.fixture
def repo(hooks, tmp_path: Path) -> Path:
    """A throwaway repo with a bad file, a clean one and a notebook, staged."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(["init", "-q"], repo, hooks["env"])
    shutil.copy(BAD, repo / "bad.py")
    (repo / "clean.py").write_text(CLEAN)
    (repo / "nb.ipynb").write_text(json.dumps(NOTEBOOK, indent=1) + "\n")
    git(["add", "-A"], repo, hooks["env"])
    return repo


def try_repo(hooks: dict, repo: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(hooks["project"]), *args]
    return subprocess.run(command, cwd=repo, env=hooks["env"], capture_output=True, text=True, timeout=600)


def finding_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if ": CL" in line]


def hook_results(output: str) -> dict[str, str]:
    """{hook name: Passed/Failed} from pre-commit's `name......Passed` lines."""
    results = {}
    for line in output.splitlines():
        name, dots, result = line.rpartition("..")
        if dots and result in ("Passed", "Failed"):
            results[name.rstrip(".")] = result
    return results


def test_hooks_fail_fix_and_then_pass(hooks, repo: Path):
    # Each try-repo builds a fresh hook environment in a temporary store (about 10 s: pip
    # installs the project), so each call runs both hooks, in id order: check, then fix.
    expected = finding_lines(run_cli(["check", "--isolated", "bad.py", "clean.py", "nb.ipynb"], repo).stdout)
    assert any(line.startswith("bad.py:") for line in expected) and any(line.startswith("nb.ipynb:cell") for line in expected)
    clean_before = (repo / "clean.py").read_bytes()

    first = try_repo(hooks, repo, "--all-files")
    assert first.returncode == 1, first.stdout + first.stderr
    # In id order: check, docs (which checks the same files here), then fix.
    assert hook_results(first.stdout) == {"convlint": "Failed", "convlint (docs)": "Failed", "convlint (fix)": "Failed"}
    assert finding_lines(first.stdout) == expected * 2  # what `convlint check` says, no more
    assert "files were modified by this hook" in first.stdout
    assert (repo / "bad.py").read_bytes() == BAD.with_suffix(".fixed").read_bytes()
    assert (repo / "clean.py").read_bytes() == clean_before
    cell = json.loads((repo / "nb.ipynb").read_text())["cells"][1]
    assert "".join(cell["source"]).endswith("net = torch.nn.utils.convert_conv2d_weight_memory_format(net, torch.channels_last)")

    second = try_repo(hooks, repo, "--all-files")
    assert second.returncode == 0, second.stdout + second.stderr
    assert hook_results(second.stdout) == {"convlint": "Passed", "convlint (fix)": "Passed", "convlint (docs)": "Passed"}


def test_docs_hook_checks_markdown_and_rst_pages(hooks, repo: Path):
    page = "# Guide\n\n```python\nimport torch\nnet = torch.nn.Conv2d(3, 8, 3)\nnet.to(memory_format=torch.channels_last)\n```\n"
    (repo / "guide.md").write_text(page)
    (repo / "api.rst").write_text(".. code-block:: python\n\n   net.to(memory_format=torch.channels_last)\n")
    git(["add", "-A"], repo, hooks["env"])
    expected = finding_lines(run_cli(["check", "--isolated", "api.rst", "bad.py", "guide.md", "nb.ipynb"], repo).stdout)
    assert any(line.startswith("guide.md:6:1: CL101") for line in expected)
    assert any(line.startswith("api.rst:3:4: CL101") for line in expected)
    result = try_repo(hooks, repo, "convlint-docs", "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert hook_results(result.stdout) == {"convlint (docs)": "Failed"}
    assert sorted(finding_lines(result.stdout)) == sorted(expected)
