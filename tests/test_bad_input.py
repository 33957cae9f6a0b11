"""Bad input: each case gives one clear line for that file, the run goes on with the others,
and the exit code says something went wrong. `fix --write` never writes a broken file."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from convlint import lint_file, runner
from tests.fixture_cases import run_cli

BAD = textwrap.dedent(
    """\
    import torch
    import torch.nn as nn

    model = nn.Conv2d(3, 8, 3)
    model = model.to(memory_format=torch.channels_last)
    """
)
FIXED_LINE = "model = torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)"


def tree(tmp_path: Path, extra: dict[str, bytes]) -> Path:
    (tmp_path / "good.py").write_text(BAD)
    for name, data in extra.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def assert_other_file_still_checked(result):
    assert "good.py:5:9: CL101 [*]" in result.stdout


def test_syntax_error_is_cl000_and_the_run_goes_on(tmp_path):
    tree(tmp_path, {"broken.py": b"import torch\nmemory_format = torch.channels_last\ndef f(:\n"})
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 1
    assert "broken.py:3:7: CL000 syntax error: invalid syntax" in result.stdout
    assert_other_file_still_checked(result)


def test_python2_source_is_a_syntax_error(tmp_path):
    tree(tmp_path, {"py2.py": b"import torch\nprint 'converting'\nm.to(memory_format=torch.channels_last)\n"})
    result = run_cli(["check", "."], tmp_path)
    assert "py2.py:2:1: CL000 syntax error: Missing parentheses in call to 'print'" in result.stdout
    assert_other_file_still_checked(result)


def test_nul_bytes(tmp_path):
    tree(tmp_path, {"nul.py": BAD.encode() + b"\x00\n"})
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 1
    line = next(x for x in result.stdout.splitlines() if x.startswith("nul.py:"))
    assert line.startswith("nul.py:1:1: CL000 syntax error: ") and "null bytes" in line
    assert_other_file_still_checked(result)


def test_invalid_utf8_without_cookie(tmp_path):
    tree(tmp_path, {"latin.py": "# caf\xe9\n".encode("latin-1") + BAD.encode()})
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 1
    assert (
        "latin.py:1:1: CL000 syntax error: cannot decode the file as utf-8: byte 0xe9 on line 1"
        in result.stdout
    )
    assert_other_file_still_checked(result)


def test_encoding_cookie_is_honoured_and_kept_by_fix(tmp_path):
    source = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD
    tree(tmp_path, {"latin.py": source.encode("latin-1")})
    result = run_cli(["check", "latin.py"], tmp_path)
    assert "latin.py:7:9: CL101 [*]" in result.stdout
    run_cli(["fix", "--write", "latin.py"], tmp_path)
    data = (tmp_path / "latin.py").read_bytes()
    assert data.decode("latin-1") == source.replace(BAD.splitlines()[-1], FIXED_LINE)


def test_utf8_bom_is_kept(tmp_path):
    tree(tmp_path, {"bom.py": b"\xef\xbb\xbf" + BAD.encode()})
    assert "bom.py:5:9: CL101" in run_cli(["check", "bom.py"], tmp_path).stdout
    run_cli(["fix", "--write", "bom.py"], tmp_path)
    data = (tmp_path / "bom.py").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[-1] == FIXED_LINE


def test_non_ascii_columns_are_characters(tmp_path):
    tree(tmp_path, {"u.py": BAD.replace("model = model", "modèle = model").encode()})
    out = run_cli(["check", "u.py"], tmp_path).stdout
    assert out.startswith("u.py:5:10: CL101")  # 1-based, in characters (not UTF-8 bytes)
    run_cli(["fix", "--write", "u.py"], tmp_path)
    assert (tmp_path / "u.py").read_text().splitlines()[-1] == FIXED_LINE.replace("model =", "modèle =", 1)


def test_crlf_line_endings_are_kept(tmp_path):
    tree(tmp_path, {"crlf.py": BAD.replace("\n", "\r\n").encode()})
    run_cli(["fix", "--write", "crlf.py"], tmp_path)
    data = (tmp_path / "crlf.py").read_bytes()
    assert data.count(b"\r\n") == BAD.count("\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert FIXED_LINE.encode() in data


def test_tabs(tmp_path):
    source = "import torch\nimport torch.nn as nn\n\ndef f():\n\tm = nn.Conv2d(1, 1, 1)\n\tm.to(memory_format=torch.channels_last)\n"
    tree(tmp_path, {"tabs.py": source.encode()})
    assert "tabs.py:6:2: CL101" in run_cli(["check", "tabs.py"], tmp_path).stdout
    run_cli(["fix", "--write", "tabs.py"], tmp_path)
    assert (tmp_path / "tabs.py").read_text().endswith(
        "\ttorch.nn.utils.convert_conv2d_weight_memory_format(m, torch.channels_last)\n"
    )


def test_empty_file(tmp_path):
    tree(tmp_path, {"empty.py": b""})
    result = run_cli(["check", "empty.py"], tmp_path)
    assert result.exit_code == 0 and result.stdout == "All checks passed!\n"


def test_directory_named_like_a_python_file_is_walked(tmp_path):
    (tmp_path / "pkg.py").mkdir()
    (tmp_path / "pkg.py" / "inner.py").write_text(BAD)
    result = run_cli(["check", "."], tmp_path)
    assert "pkg.py/inner.py:5:9: CL101" in result.stdout
    assert result.exit_code == 1


def test_broken_symlink(tmp_path):
    tree(tmp_path, {})
    (tmp_path / "dangling.py").symlink_to(tmp_path / "missing-target.py")
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 2
    assert "error: dangling.py: No such file or directory" in result.stderr
    assert_other_file_still_checked(result)


def test_symlink_loop(tmp_path):
    tree(tmp_path, {})
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    (tmp_path / "dirloop").symlink_to(tmp_path, target_is_directory=True)
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 2
    assert "error: loop.py: Too many levels of symbolic links" in result.stderr
    assert_other_file_still_checked(result)


def test_fifo_named_like_a_python_file_does_not_hang(tmp_path):
    tree(tmp_path, {})
    os.mkfifo(tmp_path / "pipe.py")
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 2
    assert "error: pipe.py: Not a regular file" in result.stderr
    assert_other_file_still_checked(result)


def test_unreadable_file(tmp_path, monkeypatch):
    """The open itself is refused (as an unprivileged user: tests/test_paths.py)."""
    tree(tmp_path, {"secret.py": BAD.encode()})
    real_open = os.open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith("secret.py"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    result = run_cli(["check", "-j", "1", "."], tmp_path)
    assert result.exit_code == 2
    assert "error: secret.py: Permission denied" in result.stderr
    assert_other_file_still_checked(result)


def test_file_deleted_during_the_run(tmp_path, monkeypatch):
    tree(tmp_path, {"gone.py": BAD.encode()})
    real_discover = runner.discover_files

    def discover_then_delete(paths, settings):
        found = real_discover(paths, settings)
        (tmp_path / "gone.py").unlink()
        return found

    monkeypatch.setattr(runner, "discover_files", discover_then_delete)
    result = run_cli(["check", "-j", "1", "."], tmp_path)
    assert result.exit_code == 2
    assert "error: gone.py: No such file or directory" in result.stderr
    assert_other_file_still_checked(result)


def test_fix_keeps_the_mode_and_writes_through_a_rename(tmp_path):
    tree(tmp_path, {})
    path = tmp_path / "good.py"
    path.chmod(0o751)
    inode = path.stat().st_ino
    run_cli(["fix", "--write", "good.py"], tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert FIXED_LINE in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.py"]  # no temporary left


def test_fix_writes_through_a_symlink_and_keeps_it(tmp_path):
    tree(tmp_path, {})
    (tmp_path / "link.py").symlink_to(tmp_path / "good.py")
    run_cli(["fix", "--write", "link.py"], tmp_path)
    assert (tmp_path / "link.py").is_symlink()
    assert FIXED_LINE in (tmp_path / "good.py").read_text()


def test_read_only_file_is_reported_and_not_written(tmp_path):
    tree(tmp_path, {"locked.py": BAD.encode()})
    (tmp_path / "locked.py").chmod(0o444)
    result = run_cli(["fix", "--write", "."], tmp_path)
    assert result.exit_code == 2
    assert "error: locked.py: not written: the file is read-only" in result.stderr
    assert (tmp_path / "locked.py").read_text() == BAD
    assert FIXED_LINE in (tmp_path / "good.py").read_text()  # the others are fixed
    assert "locked.py:5:9: CL101" in result.stdout  # and still reported as remaining


def test_file_changed_between_read_and_write_is_not_overwritten(tmp_path, monkeypatch):
    tree(tmp_path, {})
    real_fix_source = lint_file.fix_source

    def fix_then_someone_edits(text, path, settings, unsafe, *rest):
        out = real_fix_source(text, path, settings, unsafe, *rest)
        (tmp_path / "good.py").write_text(BAD + "# edited meanwhile, and longer\n")
        return out

    monkeypatch.setattr(lint_file, "fix_source", fix_then_someone_edits)
    result = run_cli(["fix", "--write", "-j", "1", "good.py"], tmp_path)
    assert result.exit_code == 2
    assert "the file changed on disk since it was read" in result.stderr
    assert (tmp_path / "good.py").read_text().endswith("# edited meanwhile, and longer\n")


def test_a_fix_that_would_not_parse_is_never_written(tmp_path, monkeypatch):
    from convlint import codemod

    tree(tmp_path, {})
    from convlint.diagnostics import Edit

    def broken(source, start, end, converter, style):
        return Edit(source.location(start), source.location(end), "convert(model,")

    monkeypatch.setattr(codemod, "rewrite", broken)
    result = run_cli(["fix", "--write", "-j", "1", "good.py"], tmp_path)
    assert (tmp_path / "good.py").read_text() == BAD
    assert "fixes not applied: the result would not parse" in result.stderr
    assert result.exit_code == 1


def test_deeply_nested_expression(tmp_path):
    deep = "import torch\nx = " + "(" * 300 + "1" + ")" * 300 + "\nmemory_format = torch.channels_last\n"
    tree(tmp_path, {"deep.py": deep.encode()})
    result = run_cli(["check", "."], tmp_path)
    assert "deep.py:" in result.stdout + result.stderr
    assert_other_file_still_checked(result)


@pytest.mark.parametrize("cookie, message", [
    ("latin-1", "encoding problem: iso-8859-1 with BOM"),
    ("cp1252", "encoding problem: cp1252 with BOM"),
])
def test_bom_with_another_cookie_gets_pythons_message(tmp_path, cookie, message):
    data = b"\xef\xbb\xbf# -*- coding: " + cookie.encode() + b" -*-\n" + BAD.encode()
    try:
        compile(data, "bom.py", "exec")
    except SyntaxError as e:
        assert e.msg == message  # what Python itself says
    tree(tmp_path, {"bom.py": data})
    result = run_cli(["check", "."], tmp_path)
    assert f"bom.py:1:1: CL000 syntax error: {message}" in result.stdout
    assert_other_file_still_checked(result)


@pytest.mark.parametrize("newline", [b"\r", b"\r\n", b"\n"])
def test_encoding_cookie_on_lone_cr_lines(tmp_path, newline):
    """Python reads the cookie of a CR-only file; tokenize's own readline sees one line."""
    source = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD
    data = source.encode("latin-1").replace(b"\n", newline)
    tree(tmp_path, {"latin.py": data})
    assert "latin.py:7:9: CL101 [*]" in run_cli(["check", "latin.py"], tmp_path).stdout
    run_cli(["fix", "--write", "latin.py"], tmp_path)
    expected = source.replace(BAD.splitlines()[-1], FIXED_LINE).encode("latin-1").replace(b"\n", newline)
    assert (tmp_path / "latin.py").read_bytes() == expected
