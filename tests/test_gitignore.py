"""`.gitignore` matching: git's own semantics (checked against `git` itself on generated
patterns and trees), whatever the pattern, without a backtracking blow-up."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlint.config import Configuration
from convlint.files import discover_files
from convlint.gitignore import GitIgnore
from tests.fixture_cases import run_cli
from tests.test_bad_input import BAD

EXAMPLES = int(os.environ.get("CONVLINT_HYPOTHESIS_EXAMPLES", "60"))


def ignores(patterns: str, name: str, tmp_path: Path, is_dir: bool = False) -> bool:
    (tmp_path / ".gitignore").write_text(patterns)
    return GitIgnore().enter(str(tmp_path)).ignores(str(tmp_path / name), is_dir)


@pytest.mark.parametrize("pattern, matching, not_matching", [
    # An empty range: git accepts it (its first end is a member already), `re` raises.
    ("[z-a]", ["z"], ["a", "y", "-", "[z-a]"]),
    ("x[z-a]y", ["xzy"], ["xay", "x-y"]),
    ("[[:alpha:]]1", ["a1", "Z1"], ["11", "_1", "é1"]),
    ("[[:digit:][:upper:]]", ["7", "Q"], ["q", "-"]),
    ("[![:space:]]x", ["ax", "-x"], [" x", "\tx"]),
    ("[[:foo:]]", [], ["f", "[[:foo:]]"]),  # an unknown class: the pattern matches nothing
    ("[abc", [], ["a", "[abc"]),  # unterminated: nothing
    ("[]a]", ["]", "a"], ["b"]),
    ("[a-]", ["a", "-"], ["b"]),
    ("\\[a]", ["[a]"], ["a"]),
    ("?.py", ["a.py"], ["é.py", "ab.py"]),  # `?` is one byte, as in git
    ("a\\ ", ["a "], ["a"]),
    ("a  ", ["a"], ["a "]),
])
def test_bracket_expressions_and_escapes(tmp_path, pattern, matching, not_matching):
    for name in matching:
        assert ignores(pattern + "\n", name, tmp_path), (pattern, name)
    for name in not_matching:
        assert not ignores(pattern + "\n", name, tmp_path), (pattern, name)


def test_patterns_that_backtrack_exponentially_in_a_regex(tmp_path):
    # re.fullmatch("(?:a[^/]*){30}b", "a" * 60) runs for longer than anyone waits.
    pattern = "a*" * 30 + "b\n" + "**/" * 20 + "x/**/y*y*y*y*y*y*y*y*z\n"
    name = "a" * 60
    deep = "/".join(["x"] * 30) + "/" + "y" * 60
    assert not ignores(pattern, name, tmp_path) and ignores(pattern, name + "b", tmp_path)
    assert not ignores(pattern, deep, tmp_path) and ignores(pattern, deep + "z", tmp_path)


def test_a_pattern_git_accepts_but_re_rejects_does_not_stop_the_run(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("[z-a]\n[[:alpha:]]_out.py\n")
    (tmp_path / "good.py").write_text(BAD)
    (tmp_path / "a_out.py").write_text(BAD)
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 1 and result.stderr == ""
    assert "good.py:5:9: CL101" in result.stdout and "a_out.py" not in result.stdout


# --------------------------------------------------------------------------- against git

NAMES = ["a", "b", "ab", "ba", "a.b", "[a]", "a b", "é", "A", "-", "!a", "#a", "a*", "x", "aab"]
PIECES = ["a", "b", "*", "*", "**", "?", "/", ".py", "[ab]", "[!a]", "[^b]", "[a-c]", "[z-a]",
          "[[:alpha:]]", "[[:lower:]]", "[[:digit:]]", "[[:space:]]", "[]a]", "[", "\\*", "\\[",
          "é", " ", "[[:foo:]]", "A", "x", "\\!", "\\#", "\\ ", "\\"]


@st.composite
def pattern_line(draw) -> str:
    body = "".join(draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=5)))
    return draw(st.sampled_from(["", "", "!", "/", "#"])) + body + draw(st.sampled_from(["", "", "/", " ", "\r"]))


@st.composite
def repository(draw) -> tuple[list[str], dict[str, str]]:
    files = draw(st.lists(
        st.lists(st.sampled_from(NAMES), min_size=0, max_size=2).map(lambda d: "/".join(d))
        .flatmap(lambda d: st.sampled_from(NAMES).map(lambda n: f"{d}/{n}.py".lstrip("/"))),
        min_size=1, max_size=12, unique=True,
    ))
    directories = sorted({os.path.dirname(f) for f in files} - {""})
    ignores = {"": draw(st.lists(pattern_line(), min_size=1, max_size=5))}
    if directories and draw(st.booleans()):
        ignores[draw(st.sampled_from(directories))] = draw(st.lists(pattern_line(), min_size=1, max_size=3))
    return files, {d: "\n".join(lines) + "\n" for d, lines in ignores.items()}


def git_not_ignored(root: Path) -> set[str]:
    out = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "-z"], cwd=root,
                         capture_output=True, check=True).stdout
    return {os.fsdecode(p) for p in out.split(b"\0") if p.endswith(b".py")}


def git_check_ignore(root: Path, paths: list[str]) -> set[str]:
    """The paths `git check-ignore` says are ignored (by their own pattern or a parent's)."""
    given = b"".join(os.fsencode(p) + b"\0" for p in paths)
    out = subprocess.run(["git", "check-ignore", "--no-index", "--stdin", "-z"], cwd=root, input=given,
                         capture_output=True, check=False).stdout
    return {os.fsdecode(p) for p in out.split(b"\0") if p}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
          suppress_health_check=list(HealthCheck))
@given(repo=repository())
def test_the_walk_ignores_what_git_ignores(repo):
    """What the walk finds is what `git ls-files --others --exclude-standard` lists, and
    what `git check-ignore` does not ignore."""
    files, ignore_files = repo
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        for name in files:
            path = root / name
            if any(p.is_file() for p in [*path.parents][:-1] if root in p.parents):
                continue  # a file where a directory must be
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_dir():
                path.write_text("x = 1\n")
        for directory, text in ignore_files.items():
            if (root / directory).is_dir():
                (root / directory / ".gitignore").write_text(text)
        expected = git_not_ignored(root)
        old = os.getcwd()
        os.chdir(root)
        try:
            found = discover_files(["."], Configuration([], isolated=True, overrides=({"exclude": (".git",)},))).files
        finally:
            os.chdir(old)
        assert set(found) == expected, ignore_files
        present = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if ".git" not in p.parts)
        assert set(found) == set(present) - git_check_ignore(root, present), ignore_files
