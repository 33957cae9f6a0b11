"""The source distribution is a tree its own tests run from: `pip install
convlint-X.tar.gz[test]` and `python -m pytest` in the unpacked folder. It carries the
LICENSE and PEP 639 licence metadata, the fixtures, the tests and their helpers.

One build and one pytest run in the unpacked tree (every test module collected, a few
tests that read the fixtures, the schemas and the README run): the whole suite from the
sdist is run by hand on release, not here, to keep the suite's time."""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.fixture_cases import ROOT

# Tests that need what the sdist must ship: the fixtures and their expected outputs, the
# vendored schemas, the README and .ci/run.
SUBSET = (
    "test_there_are_enough_cases or test_readme or test_gitlab_report_is_valid"
    " or (test_check_output and CL101 and statement) or (test_fix_output and CL101 and statement)"
)


def shipped_tree(root: Path) -> set[str]:
    """The files of the source tree the sdist must carry: tests/, fixtures/, benchmarks/."""
    return {
        p.relative_to(root).as_posix()
        for top in ("tests", "fixtures", "benchmarks")
        for p in (root / top).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Without isolation: the backend of the test extra, no download of a build environment.
    build = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (archive,) = out.glob("convlint-*.tar.gz")
    return archive


@pytest.fixture(scope="module")
def unpacked(sdist, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as tar:
        # The "data" filter where this Python has it (3.10.12 on).
        tar.extractall(target, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (top,) = target.iterdir()
    return top


def test_the_sdist_has_the_license_and_pep_639_metadata(unpacked):
    assert (unpacked / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    meta = email.parser.Parser().parsestr((unpacked / "PKG-INFO").read_text())
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["License"] is None  # the deprecated field is gone


def test_the_sdist_carries_the_tests_fixtures_and_helpers(unpacked):
    expected = shipped_tree(ROOT)
    assert {"tests/conftest.py", "tests/fixture_cases.py", "tests/schemas/gitlab-codeclimate.json"} <= expected
    assert shipped_tree(unpacked) == expected
    assert (unpacked / "README.md").exists() and (unpacked / ".ci" / "run").exists()


def test_the_tests_collect_and_run_from_the_unpacked_sdist(unpacked):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The tree's own pytest configuration puts the unpacked tree first on sys.path.
    probe = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", SUBSET],
        cwd=unpacked, env=env, capture_output=True, text=True,
    )
    tail = probe.stdout[-3000:] + probe.stderr[-3000:]
    assert probe.returncode == 0, tail  # 2 on a module that fails to collect
    summary = probe.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "deselected" in summary and "error" not in summary, summary
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 8, summary
