"""Paths: unreadable ones are reported with their real reason and the run goes on; symlinks are
the files they point to, checked once, and never written outside the checked directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixture_cases import run_cli
from tests.test_bad_input import BAD, FIXED_LINE, assert_other_file_still_checked, tree
from tests.unprivileged import IS_ROOT, give_away, open_directory, run_cli_unprivileged


def test_unreadable_directory_inside_a_tree_is_reported(tmp_path):
    root = open_directory(tmp_path)
    tree(root, {})
    (root / "secret").mkdir()
    (root / "secret" / "hidden.py").write_text(BAD)
    (root / "secret").chmod(0)
    result = run_cli_unprivileged(["check", "-j", "1", "."], root)
    assert result.exit_code == 2
    assert result.stderr == "error: secret: cannot list the directory: Permission denied\n"
    assert_other_file_still_checked(result)


@pytest.mark.parametrize("command", [["check"], ["fix", "--write"]])
def test_unreadable_first_path_gets_its_reason_and_the_run_goes_on(tmp_path, command):
    root = open_directory(tmp_path)
    tree(root, {})
    (root / "secret").mkdir()
    (root / "secret" / "hidden.py").write_text(BAD)
    (root / "secret").chmod(0)
    give_away(root / "good.py")
    result = run_cli_unprivileged([*command, "-j", "1", "secret/hidden.py", "good.py"], root)
    assert result.exit_code == 2
    assert result.stderr == "error: secret/hidden.py: Permission denied\n"
    if command == ["check"]:
        assert_other_file_still_checked(result)
    else:
        assert FIXED_LINE in (root / "good.py").read_text()


def test_unreadable_file_as_an_unprivileged_user(tmp_path):
    root = open_directory(tmp_path)
    tree(root, {"secret.py": BAD.encode()})
    (root / "secret.py").chmod(0)
    result = run_cli_unprivileged(["check", "-j", "1", "."], root)
    assert result.exit_code == 2
    assert result.stderr == "error: secret.py: Permission denied\n"
    assert_other_file_still_checked(result)


def outside_and_tree(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "theirs.py").write_text(BAD)
    project = tmp_path / "project"
    project.mkdir()
    tree(project, {})
    return outside, project


# Links to a file outside the checked directory: absolute, relative, through another link.
OUTSIDE_LINKS = {
    "absolute": lambda outside, project: (outside / "theirs.py"),
    "relative": lambda outside, project: Path("..") / "outside" / "theirs.py",
    "chained": lambda outside, project: (project / "hop.txt"),
}


@pytest.mark.parametrize("kind", sorted(OUTSIDE_LINKS))
def test_a_symlink_out_of_the_tree_is_reported_and_left_alone(tmp_path, kind):
    outside, project = outside_and_tree(tmp_path)
    (project / "hop.txt").symlink_to(outside / "theirs.py")  # not a source name: not walked
    (project / "link.py").symlink_to(OUTSIDE_LINKS[kind](outside, project))
    note = f"warning: link.py: not checked: a symlink to a file outside the checked directories ({outside / 'theirs.py'})\n"
    checked = run_cli(["check", "."], project)
    assert checked.stderr == note
    assert checked.exit_code == 1 and "link.py:" not in checked.stdout
    assert_other_file_still_checked(checked)
    fixed = run_cli(["fix", "--write", "."], project)
    assert fixed.exit_code == 0 and fixed.stderr == note
    assert (outside / "theirs.py").read_text() == BAD
    assert (project / "link.py").is_symlink()
    assert FIXED_LINE in (project / "good.py").read_text()


# Links to a file inside the checked directory: it is that file.
INSIDE_LINKS = {
    "same directory": ("link.py", "good.py"),
    "from a subdirectory": ("sub/link.py", "../good.py"),
    "to a file in a subdirectory": ("link.py", "sub/real.py"),
    "absolute": ("link.py", None),
}


@pytest.mark.parametrize("kind", sorted(INSIDE_LINKS))
def test_a_symlink_to_a_file_in_the_tree_is_checked_and_fixed_once(tmp_path, kind):
    project = tree(tmp_path, {})
    (project / "sub").mkdir()
    (project / "sub" / "real.py").write_text(BAD)
    name, target = INSIDE_LINKS[kind]
    (project / name).symlink_to(target if target is not None else project / "good.py")
    real = (project / name).resolve().relative_to(project).as_posix()
    checked = run_cli(["check", "."], project)
    assert checked.stderr == ""
    assert [line.split(":")[0] for line in checked.stdout.splitlines()[:-2]] == ["good.py", "sub/real.py"]
    assert checked.stdout.endswith("Found 2 errors.\n[*] 2 fixable with `convlint fix --write`.\n")
    fixed = run_cli(["fix", "--write", ".", name], project)  # named again too: still once
    assert fixed.exit_code == 0 and fixed.stderr == ""
    assert fixed.stdout == "Fixed 2 errors in 2 files (0 remaining).\n"
    assert FIXED_LINE in (project / real).read_text() and (project / name).is_symlink()


def test_a_symlink_named_on_the_command_line_is_written_through(tmp_path):
    outside, project = outside_and_tree(tmp_path)
    (project / "link.py").symlink_to(outside / "theirs.py")
    fixed = run_cli(["fix", "--write", "link.py"], project)
    assert fixed.exit_code == 0 and fixed.stderr == ""
    assert FIXED_LINE in (outside / "theirs.py").read_text() and (project / "link.py").is_symlink()


# --------------------------------------------------------------------------- owner, group, links


@pytest.mark.skipif(not IS_ROOT, reason="only root can give a file to another user")
@pytest.mark.parametrize("owner", [(1234, 5678), (0, 5678), (1234, 0), (65534, 65534)])
def test_fix_keeps_the_owner_and_group(tmp_path, owner):
    tree(tmp_path, {})
    path = tmp_path / "good.py"
    os.chown(path, *owner)
    path.chmod(0o2755 if owner[1] else 0o640)  # set-gid too: chown would clear it if done last
    mode = path.stat().st_mode
    inode = path.stat().st_ino
    result = run_cli(["fix", "--write", "good.py"], tmp_path)
    assert result.exit_code == 0, result.output
    status = path.stat()
    assert (status.st_uid, status.st_gid, status.st_mode) == (*owner, mode)
    assert status.st_ino != inode and FIXED_LINE in path.read_text()


def test_a_file_whose_owner_cannot_be_kept_is_not_written(tmp_path):
    root = open_directory(tmp_path)
    tree(root, {"theirs.py": BAD.encode()})
    (root / "theirs.py").chmod(0o666)  # writable by anyone, owned by us (root, or the test's user)
    mine = root / "mine.py"
    mine.write_text(BAD)
    give_away(mine)
    result = run_cli_unprivileged(["fix", "--write", "-j", "1", "theirs.py", "mine.py"], root)
    if not IS_ROOT:
        pytest.skip("as an unprivileged user every file here is this user's")
    assert result.exit_code == 2
    assert result.stderr == ("error: theirs.py: not written: its owner or group cannot be kept "
                             "(writing it would make the file ours)\n")
    assert (root / "theirs.py").read_text() == BAD and (root / "theirs.py").stat().st_uid == 0
    assert FIXED_LINE in mine.read_text() and mine.stat().st_uid == 65534
    assert sorted(p.name for p in root.iterdir()) == ["good.py", "mine.py", "theirs.py"]  # no temporary


def test_a_file_with_hard_links_is_reported_and_not_written(tmp_path):
    tree(tmp_path, {"linked.py": BAD.encode()})
    os.link(tmp_path / "linked.py", tmp_path / "other_name.txt")
    result = run_cli(["fix", "--write", "."], tmp_path)
    assert result.exit_code == 2
    assert result.stderr == ("error: linked.py: not written: the file has 2 hard links, "
                             "which writing it through a rename would break\n")
    assert (tmp_path / "linked.py").read_text() == BAD == (tmp_path / "other_name.txt").read_text()
    assert os.path.samefile(tmp_path / "linked.py", tmp_path / "other_name.txt")
    assert FIXED_LINE in (tmp_path / "good.py").read_text()
    assert "linked.py:5:9: CL101" in result.stdout  # remaining
