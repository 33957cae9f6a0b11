"""`.gitignore` matching: git's own semantics (checked against `git` itself on generated
patterns and trees), whatever the pattern, without a backtracking blow-up."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlint import discovery
from convlint.config import Configuration
from convlint.discovery import discover_files
from tests.fixture_cases import run_cli
from tests.test_bad_input import BAD

def isolated(**overrides) -> Configuration:
    """The defaults (no configuration file), with `overrides`."""
    return Configuration([], isolated=True, overrides=(overrides,) if overrides else ())


EXAMPLES = int(os.environ.get("CONVLINT_HYPOTHESIS_EXAMPLES", "60"))


def not_ignored(patterns: str, names: list[str], tmp_path: Path) -> set[str]:
    """The names, each a directory holding `inner.py`, whose file discovery finds in a git
    repository with `patterns` as its .gitignore."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(patterns)
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "inner.py").write_text("x = 1\n")
    found = discover_files([str(tmp_path)], isolated()).files
    return {Path(f).parent.name for f in found}


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
    found = not_ignored(pattern + "\n", matching + not_matching, tmp_path)
    assert found == set(not_matching), pattern


def test_a_pattern_git_accepts_but_re_rejects_does_not_stop_the_run(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
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


# --------------------------------------------------------------------------- git and the walk


def listed_both_ways(root: Path, monkeypatch, settings: Configuration | None = None) -> tuple:
    """(files, notes) of discovery under `root` through git, then through the walk (as where
    git is not installed)."""
    settings = settings or isolated()

    def found():
        d = discover_files([str(root)], settings)
        return d.files, [(n.path, n.message) for n in d.notes]

    through_git = found()
    with monkeypatch.context() as m:
        m.setattr(discovery, "_git", lambda: None)
        through_walk = found()
    return through_git, through_walk


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


def test_git_and_the_walk_find_the_same_files(tmp_path, monkeypatch):
    outside = tmp_path / "outside.py"
    outside.write_text("x = 1\n")
    root = tmp_path / "repo"
    files = {
        ".gitignore": "*.log\ngenerated/\n/top_only.py\n*_out.py\n!keep_out.py\n",
        "src/pkg/model.py": "", "src/pkg/model_out.py": "", "src/pkg/keep_out.py": "",
        "src/pkg/.gitignore": "local*.py\n!local_keep.py\n",
        "src/pkg/local_a.py": "", "src/pkg/local_keep.py": "", "src/pkg/nb.ipynb": "{}",
        "top_only.py": "", "deep/top_only.py": "", "generated/gen.py": "", "deep/generated/gen.py": "",
        "build/b.py": "", ".venv/lib/v.py": "", "node_modules/n.py": "", "README.md": "", "deep/a.txt": "",
        "vendor/sub/.gitignore": "ignored_in_sub.py\n", "vendor/sub/s.py": "", "vendor/sub/ignored_in_sub.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root / "vendor" / "sub", "init", "-q")  # an untracked repository inside
    git(root, "init", "-q")
    (root / "src" / "link.py").symlink_to(root / "src" / "pkg" / "model.py")
    (root / "src" / "out_link.py").symlink_to(outside)
    (root / "src" / "dir_link").symlink_to(root / "src" / "pkg")
    git(root, "add", "src", ".gitignore")
    git(root, "commit", "-q", "-m", "some tracked, the rest untracked")
    (root / "src" / "pkg" / "untracked.py").write_text("")
    through_git, through_walk = listed_both_ways(root, monkeypatch)
    assert through_git == through_walk
    found = {str(Path(f).relative_to(root)) for f in through_git[0]}
    assert found == {
        "deep/top_only.py", "src/pkg/keep_out.py", "src/pkg/local_keep.py", "src/pkg/model.py",
        "src/pkg/nb.ipynb", "src/pkg/untracked.py", "vendor/sub/s.py",
    }
    assert [Path(p).name for p, _ in through_git[1]] == ["out_link.py"]


def test_a_tracked_file_is_linted_where_a_pattern_matches_it_as_git_treats_it(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "tracked_out.py").write_text("")
    (tmp_path / "new_out.py").write_text("")
    git(tmp_path, "add", "tracked_out.py")
    (tmp_path / ".gitignore").write_text("*_out.py\n")
    found = discover_files([str(tmp_path)], isolated()).files
    assert [Path(f).name for f in found] == ["tracked_out.py"]


def test_a_tracked_file_deleted_from_the_work_tree_is_not_listed(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "gone.py").write_text("")
    (tmp_path / "here.py").write_text("")
    git(tmp_path, "add", ".")
    (tmp_path / "gone.py").unlink()
    found = discover_files([str(tmp_path)], isolated())
    assert [Path(f).name for f in found.files] == ["here.py"] and found.errors == []


def test_discovery_runs_git_once_per_repository(tmp_path, monkeypatch):
    git(tmp_path, "init", "-q")
    for name in ("a/x.py", "a/b/y.py", "c/z.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]) or real_run(*a, **k))
    assert len(discover_files([str(tmp_path)], isolated()).files) == 3
    # one listing of the ignore files (no ignore rule needed), one of the files
    assert len(calls) == 2 and all("ls-files" in c for c in calls)


@pytest.mark.parametrize("where", ["git, tracked", "git, untracked", "git, in a parent", "walk"])
def test_a_pattern_that_would_match_in_exponential_time_is_left_out(tmp_path, monkeypatch, where):
    """`a*a*...*b` makes git's wildmatch and Python's re backtrack exponentially on a long
    name: such a repository is walked, without the pattern, rather than hang the run."""
    hostile = "a*" * 30 + "b\n" + "*_out.py\n"
    root = tmp_path / "repo"
    root.mkdir()
    top = root / "sub" if where == "git, in a parent" else root
    top.mkdir(exist_ok=True)
    if where != "walk":
        git(root, "init", "-q")
    else:
        monkeypatch.setattr(discovery, "_git", lambda: None)
    (root / ".gitignore").write_text(hostile)
    for name in ("a" * 60 + ".py", "x_out.py", "good.py"):
        (top / name).write_text("")
    if where == "git, tracked":
        git(root, "add", ".gitignore")
        git(root, "commit", "-q", "-m", "ignore")
    assert discovery.exponential("a*" * 30 + "b") and not discovery.exponential("**/*_out*.py")
    code = ("import sys; from convlint.config import Configuration;"
            "from convlint import discovery;" + ("discovery._git = lambda: None;" if where == "walk" else "") +
            "print(*sorted(p.rsplit('/', 1)[-1] for p in discovery.discover_files([sys.argv[1]], "
            "Configuration([], isolated=True)).files))")
    # a generous bound that only a hang exceeds (it takes well under a second)
    result = subprocess.run([sys.executable, "-c", code, str(top)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == sorted(["a" * 60 + ".py", "good.py"])


REALISTIC = ["a", "b", "*", "**", "?", ".py", "_out", "[ab]", "x"]


@st.composite
def realistic_pattern(draw) -> str:
    body = "/".join(
        "".join(draw(st.lists(st.sampled_from(REALISTIC), min_size=1, max_size=3)))
        for _ in range(draw(st.integers(1, 2))))
    return draw(st.sampled_from(["", "", "!", "/"])) + body + draw(st.sampled_from(["", "", "/"]))


@settings(max_examples=max(10, EXAMPLES // 3), deadline=None, derandomize=EXAMPLES <= 100,
          suppress_health_check=list(HealthCheck))
@given(files=st.lists(st.sampled_from(["a.py", "b.py", "x_out.py", "a/a.py", "a/b/x.py", "b/a_out.py",
                                       "x/a.py", "ab/x.py", "a/x/b.py"]), min_size=1, max_size=8, unique=True),
       patterns=st.lists(realistic_pattern(), min_size=1, max_size=4),
       nested=st.lists(realistic_pattern(), max_size=2))
def test_the_walk_finds_what_git_finds_with_realistic_patterns(files, patterns, nested):
    """The walk (pathspec) and git agree on the patterns real projects write."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        git(root, "init", "-q")
        for name in files:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text("")
        (root / ".gitignore").write_text("\n".join(patterns) + "\n")
        if nested and (root / "a").is_dir():
            (root / "a" / ".gitignore").write_text("\n".join(nested) + "\n")
        with pytest.MonkeyPatch.context() as monkeypatch:
            through_git, through_walk = listed_both_ways(root, monkeypatch)
        assert through_git == through_walk, (patterns, nested)


def test_the_walk_leaves_out_a_pattern_pathspec_cannot_compile(tmp_path, monkeypatch):
    monkeypatch.setattr(discovery, "_git", lambda: None)
    (tmp_path / ".gitignore").write_text("[z-a]\n*_out.py\n")
    for name in ("z", "a_out.py", "good.py"):
        (tmp_path / name).write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor does it warn
        found = discover_files([str(tmp_path)], isolated()).files
    assert [Path(f).name for f in found] == ["good.py"]


def test_a_directory_gitignore_ignores_is_not_searched_even_when_named(tmp_path, monkeypatch):
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("generated/\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "g.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert discover_files(["generated"], isolated()).files == []
    monkeypatch.setattr(discovery, "_git", lambda: None)
    assert discover_files(["generated"], isolated()).files == []
    assert discover_files(["generated"], isolated(respect_gitignore=False)).files == ["generated/g.py"]


def test_a_walk_never_enters_the_result_cache(tmp_path, monkeypatch):
    """convlint's own cache directory is a default exclude: a walk (no git) neither lists it
    nor reads its `.gitignore` of `*` (which would load pathspec on every run)."""
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / ".convlint_cache" / "v").mkdir(parents=True)
    (tmp_path / ".convlint_cache" / ".gitignore").write_text("*\n")
    (tmp_path / ".convlint_cache" / "v" / "stray.py").write_text("x = 1\n")
    monkeypatch.setattr(discovery, "_git", lambda: None)
    read = []
    real_spec = discovery._spec
    monkeypatch.setattr(discovery, "_spec", lambda data: read.append(data) or real_spec(data))
    found = discover_files([str(tmp_path)], isolated()).files
    assert [os.path.basename(f) for f in found] == ["a.py"] and read == []
