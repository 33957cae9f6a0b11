"""The multi-file fixture projects (fixtures/projects/): what a file's findings are depends
on the project around it, never on where convlint runs from or which other paths it is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixture_cases import FIXTURES, run_cli

PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir())


def findings(args: list[str], cwd: Path, root: Path) -> list[tuple]:
    result = run_cli(["check", "--output-format", "json", "--exit-zero", *args], cwd)
    assert result.exit_code == 0, result.stderr
    return sorted(
        (Path(d["filename"]).relative_to(root).as_posix(), d["location"]["row"], d["location"]["column"],
         d["code"], d["message"], (d["fix"] or {}).get("applicability"))
        for d in json.loads(result.stdout)
    )


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_a_project_gives_the_same_findings_from_its_root_and_from_the_filesystem_root(project):
    from_root = findings(["."], project, project)
    from_slash = findings([str(project)], Path("/"), project)
    from_inside = findings([str(p.relative_to(project)) for p in sorted(project.rglob("*.py"))], project, project)
    assert from_root and from_root == from_slash == from_inside


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_one_file_at_a_time_gives_what_the_whole_project_gives(project):
    """Pre-commit passes the staged files only: each file's answer is its own."""
    whole = findings(["."], project, project)
    one_by_one = sorted(f for path in sorted(project.rglob("*.py")) for f in findings([str(path)], Path("/"), project))
    assert whole == one_by_one
