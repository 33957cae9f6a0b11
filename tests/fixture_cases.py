"""The fixture cases under fixtures/: each `X.py` with its expected outputs beside it.

- `X.txt`: the stdout of `convlint check X.py`, run in X.py's directory;
- `X.fixed`: X.py after `convlint fix --write` (absent: the fix changes nothing);
- `X.unsafe-fixed`: after `fix --write --unsafe-fixes`, where that differs from `X.fixed`.

Documentation pages (`fixtures/docs/**/X.md`, `X.rst`) keep their suffix: `X.md.txt`,
`X.md.fixed`, `X.md.unsafe-fixed`.

`python tests/fixture_cases.py` rewrites the expected files from the current output: review
the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
# Verify targets (convlint verify), not lint cases.
NOT_LINT_CASES = {"models"}


@dataclass(frozen=True)
class Case:
    path: Path

    @property
    def id(self) -> str:
        return self.path.relative_to(FIXTURES).as_posix()

    def expected(self, suffix: str) -> Path:
        if self.path.suffix != ".py":  # a page: `X.md.fixed`
            return self.path.with_name(self.path.name + suffix)
        return self.path.with_suffix(suffix)

    def expected_fixed(self, unsafe: bool) -> bytes:
        candidates = [".unsafe-fixed", ".fixed"] if unsafe else [".fixed"]
        for suffix in candidates:
            if self.expected(suffix).exists():
                return self.expected(suffix).read_bytes()
        return self.path.read_bytes()


def all_cases() -> list[Case]:
    cases = []
    for path in sorted(FIXTURES.rglob("*.py")):
        if path.relative_to(FIXTURES).parts[0] in NOT_LINT_CASES:
            continue
        cases.append(Case(path))
    return cases


def doc_cases() -> list[Case]:
    """The documentation pages under fixtures/docs (its .py files are among all_cases)."""
    pages = [p for suffix in ("*.md", "*.rst") for p in (FIXTURES / "docs").rglob(suffix)]
    return [Case(path) for path in sorted(pages)]


def run_cli(args: list[str], cwd: Path, input: str | None = None):
    """Run the CLI in-process in `cwd` (with `input` on stdin); returns click's Result."""
    from convlint.cli import main

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, input=input, catch_exceptions=False)
    finally:
        os.chdir(old)


def check_output(case: Case) -> tuple[str, int]:
    result = run_cli(["check", case.path.name], case.path.parent)
    return result.stdout, result.exit_code


def project_dir(case: Case) -> Path:
    """The directory a case's project lives in: the nearest folder above it, inside
    fixtures/, that holds a pyproject.toml (a multi-file project), else its own folder."""
    for folder in case.path.parents:
        if folder == FIXTURES:
            break
        if (folder / "pyproject.toml").exists():
            return folder
    return case.path.parent


def fixed_bytes(case: Case, unsafe: bool) -> bytes:
    """The case file after `fix --write`, run in its directory of a copy of its project."""
    project = project_dir(case)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "case"
        shutil.copytree(project, work)
        here = work / case.path.parent.relative_to(project)
        args = ["fix", "--write", case.path.name] + (["--unsafe-fixes"] if unsafe else [])
        run_cli(args, here)
        return (here / case.path.name).read_bytes()


def update() -> None:
    for case in all_cases() + doc_cases():
        case.expected(".txt").write_text(check_output(case)[0])
        original = case.path.read_bytes()
        safe = fixed_bytes(case, unsafe=False)
        unsafe = fixed_bytes(case, unsafe=True)
        for suffix, content, baseline in ((".fixed", safe, original), (".unsafe-fixed", unsafe, safe)):
            target = case.expected(suffix)
            if content != baseline:
                target.write_bytes(content)
            elif target.exists():
                target.unlink()
        print(case.id)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    update()
