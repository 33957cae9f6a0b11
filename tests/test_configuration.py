"""Per-file configuration, as Ruff resolves it: each file gets the closest configuration file
above it (`.convlint.toml`, `convlint.toml`, then a `pyproject.toml` with [tool.convlint]),
with what it `extend`s; `--config FILE|KEY=VALUE` and `--isolated` override; the answer for a
file never depends on the working directory or on the other paths named."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from convlint.config import Configuration, Settings
from convlint.rules import KNOWN_CODES
from tests.fixture_cases import run_cli
from tests.test_cli import BAD, write

RANK_3D = "import torch\nfrom torch import nn\n\nnet = nn.Conv3d(3, 3, 3)\nnet.to(memory_format=torch.channels_last_3d)\n"
# A script whose finding depends on which `helpers` the project root resolves it to.
TRAIN = "import torch\nfrom helpers import build\n\nmodel = build()\nmodel.to(memory_format=torch.channels_last)\n"
BUILDS_A_MODULE = "from torch import nn\n\ndef build():\n    return nn.Conv2d(3, 8, 3)\n"
BUILDS_A_TENSOR = "import torch\n\ndef build():\n    return torch.ones(1, 3, 8, 8)\n"


def findings(output: str) -> list[str]:
    """`path:row:col: CODE` of each finding line, paths made absolute-free (as given)."""
    return sorted(line.split(" ", 2)[0] + " " + line.split(" ", 2)[1] for line in output.splitlines() if ": CL" in line)


def check(root: Path, *args: str) -> list[str]:
    result = run_cli(["check", "--output-format", "concise", *args], root)
    assert result.exit_code in (0, 1), result.stdout + result.stderr
    return findings(result.stdout)


def _monorepo(tmp_path: Path) -> Path:
    """pkgA ignores CL101 and excludes its gen/; pkgB is strict with its own pyproject; the
    root's pyproject ignores CL102 for everything else. Each sub-project has `helpers`."""
    return write(tmp_path, {
        "pyproject.toml": "[tool.convlint]\nignore = ['CL102']\n",
        "top.py": BAD + RANK_3D.replace("net", "net3d"),
        "pkgA/pyproject.toml": "[project]\nname = 'a'\n\n[tool.convlint]\nignore = ['CL101']\nextend-exclude = ['gen']\n"
                               "per-file-ignores = { 'tests/*.py' = ['CL102'] }\n",
        "pkgA/x.py": BAD + RANK_3D.replace("net", "net3d"),
        "pkgA/gen/generated.py": RANK_3D,
        "pkgA/tests/test_a.py": RANK_3D,
        "pkgA/helpers.py": BUILDS_A_TENSOR,
        "pkgA/app/train.py": TRAIN,
        "pkgB/pyproject.toml": "[tool.convlint]\nselect = ['CL1']\n",
        "pkgB/y.py": BAD + RANK_3D.replace("net", "net3d"),
        "pkgB/tests/test_b.py": RANK_3D,
        "pkgB/gen/generated.py": RANK_3D,
        "pkgB/helpers.py": BUILDS_A_MODULE,
        "pkgB/app/train.py": TRAIN,
        "nested/pyproject.toml": "[project]\nname = 'no convlint table: passed over'\n",
        "nested/z.py": RANK_3D,
    })


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    return _monorepo(tmp_path)


EXPECTED = sorted([
    "pkgA/x.py:10:1: CL102",  # pkgA ignores CL101; its own tests/ ignore CL102; gen/ excluded
    "pkgB/app/train.py:5:1: CL101",  # pkgB's helpers build a module (pkgA's build a tensor)
    "pkgB/gen/generated.py:5:1: CL102",  # pkgB does not exclude gen/
    "pkgB/tests/test_b.py:5:1: CL102",
    "pkgB/y.py:5:9: CL101",
    "pkgB/y.py:10:1: CL102",
    "top.py:5:9: CL101",  # the root ignores CL102
])


def test_a_walk_from_the_root_gives_each_file_its_closest_configuration(monorepo: Path):
    assert check(monorepo, ".") == EXPECTED
    assert check(monorepo) == EXPECTED  # the default path is `.`


def test_the_other_paths_named_change_nothing(monorepo: Path):
    a = ["pkgA/x.py", "pkgA/app/train.py", "pkgA/tests/test_a.py"]
    b = ["pkgB/y.py", "pkgB/app/train.py", "pkgB/tests/test_b.py"]
    forward = check(monorepo, *a, *b)
    assert forward == check(monorepo, *b, *a)
    assert forward == sorted(check(monorepo, *a) + check(monorepo, *b))
    assert forward == [f for f in EXPECTED if f.split(":")[0] in a + b]
    # One file at a time (a pre-commit run that stages only some files) agrees too.
    assert sorted(sum((check(monorepo, path) for path in a + b), [])) == forward


NAMED = ["pkgA/x.py", "pkgA/app/train.py", "pkgA/tests/test_a.py", "pkgA/gen/generated.py", "pkgB/y.py",
         "pkgB/app/train.py", "pkgB/gen/generated.py", "nested/z.py", "top.py", "pkgA", "pkgB/tests"]


def test_any_subset_in_any_order_gives_each_file_its_own_verdict(tmp_path_factory):
    """The class of the bug: what a file gets must not depend on which other paths are named,
    nor in what order (pre-commit names the staged files, in batches)."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    root = _monorepo(tmp_path_factory.mktemp("any-order"))
    alone = {path: check(root, "--force-exclude", path) for path in NAMED}

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(NAMED), min_size=1, max_size=6, unique=True).flatmap(st.permutations))
    def same_verdicts(paths: list[str]) -> None:
        assert check(root, "--force-exclude", *paths) == sorted(set().union(*(alone[p] for p in paths)))

    same_verdicts()


def test_the_working_directory_changes_nothing(monorepo: Path):
    root = Path(os.path.abspath(monorepo))
    from_root = check(root, ".")
    from_slash = check(Path("/"), str(root))
    assert [f.replace(f"{root}/", "") for f in from_slash] == from_root
    inside = check(root / "pkgB", ".", str(root / "pkgA"))
    assert sorted(f.replace(f"{root}/pkgA/", "pkgA/") if f.startswith("/") else f"pkgB/{f}" for f in inside) == \
        [f for f in from_root if f.startswith(("pkgA/", "pkgB/"))]


def test_show_files_honours_nested_excludes(monorepo: Path):
    result = run_cli(["check", "--show-files"], monorepo)
    assert result.exit_code == 0
    listed = result.stdout.splitlines()
    assert "pkgA/gen/generated.py" not in listed and "pkgB/gen/generated.py" in listed
    assert listed == sorted(listed, key=lambda p: p.split("/")) and "nested/z.py" in listed
    (monorepo / "pkgA" / "gen" / "also.py").write_text("x = 1\n")
    assert "pkgA/gen/also.py" not in run_cli(["check", "--show-files", "pkgA"], monorepo).stdout


def test_force_exclude_uses_the_named_files_own_settings(monorepo: Path):
    # pre-commit names excluded files one by one: each by its own configuration's excludes.
    named = ["--force-exclude", "pkgA/gen/generated.py", "pkgB/gen/generated.py"]
    assert check(monorepo, *named) == ["pkgB/gen/generated.py:5:1: CL102"]
    assert check(monorepo, *reversed(named[1:]), named[0]) == ["pkgB/gen/generated.py:5:1: CL102"]


def test_the_analysis_project_is_the_files_own(tmp_path: Path):
    # `from helpers import build` resolves in the script's own project (its configuration's
    # directory), whatever came first: a's helpers build a tensor, b's a module.
    write(tmp_path, {"a/convlint.toml": "", "a/helpers.py": BUILDS_A_TENSOR, "a/app/train.py": TRAIN,
                     "b/convlint.toml": "", "b/helpers.py": BUILDS_A_MODULE, "b/app/train.py": TRAIN})
    assert check(tmp_path, "a/app/train.py", "b/app/train.py") == ["b/app/train.py:5:1: CL101"]
    assert check(tmp_path, "b/app/train.py", "a/app/train.py") == ["b/app/train.py:5:1: CL101"]
    assert check(tmp_path / "a", "app/train.py", "../b/app/train.py") == ["../b/app/train.py:5:1: CL101"]


@pytest.mark.parametrize("name", ["convlint.toml", ".convlint.toml"])
def test_a_convlint_toml_wins_over_a_pyproject_in_its_directory(tmp_path: Path, name: str):
    write(tmp_path, {"pyproject.toml": "[tool.convlint]\nignore = ['CL101']\n", name: "ignore = ['CL102']\n",
                     "m.py": BAD + RANK_3D.replace("net", "net3d")})
    assert check(tmp_path, "m.py") == ["m.py:5:9: CL101"]
    shown = run_cli(["check", "--show-settings", "m.py"], tmp_path).stdout
    assert f"# from: {tmp_path / name}\n" in shown and 'ignore = ["CL102"]' in shown


def test_patterns_are_anchored_at_a_directory_whose_name_has_glob_characters(tmp_path: Path):
    root = tmp_path / "we[ir]d *?"
    write(root, {"convlint.toml": "extend-exclude = ['sub/gen']\nper-file-ignores = { 'sub/t/*.py' = ['CL101'] }\n",
                 "sub/gen/g.py": BAD, "sub/t/t.py": BAD, "sub/m.py": BAD})
    assert check(root, ".") == ["sub/m.py:5:9: CL101"]
    assert check(root, "--force-exclude", "sub/gen/g.py", "sub/t/t.py") == []


def test_dot_convlint_toml_wins_over_convlint_toml(tmp_path: Path):
    write(tmp_path, {"convlint.toml": "ignore = ['CL101']\n", ".convlint.toml": "ignore = ['CL102']\n",
                     "m.py": BAD + RANK_3D.replace("net", "net3d")})
    assert check(tmp_path, "m.py") == ["m.py:5:9: CL101"]


def test_extend_inherits_and_anchors_each_files_patterns_at_its_own_directory(tmp_path: Path):
    write(tmp_path, {
        "pyproject.toml": "[tool.convlint]\nignore = ['CL102']\nextend-exclude = ['legacy/*.py']\n"
                          "per-file-ignores = { 'pkg/scripts/*.py' = ['CL101'] }\n",
        "pkg/convlint.toml": "extend = '../pyproject.toml'\nextend-exclude = ['gen']\n",
        "pkg/m.py": BAD + RANK_3D.replace("net", "net3d"),
        "pkg/scripts/run.py": BAD,
        "pkg/gen/g.py": BAD,
        "legacy/old.py": BAD,  # the root's pattern: relative to the root
        "pkg/legacy/old.py": BAD,  # not the root's legacy/
    })
    assert check(tmp_path, "pkg") == ["pkg/legacy/old.py:5:9: CL101", "pkg/m.py:5:9: CL101"]
    assert check(tmp_path, ".") == ["pkg/legacy/old.py:5:9: CL101", "pkg/m.py:5:9: CL101"]
    shown = run_cli(["check", "--show-settings", "pkg/m.py"], tmp_path).stdout
    assert f"# from: {tmp_path / 'pkg' / 'convlint.toml'}\n#   extending: {tmp_path / 'pyproject.toml'}\n" in shown
    assert f'extend-exclude = ["{tmp_path.as_posix()}/legacy/*.py", "gen"]' in shown


def test_extending_file_keys_win_select_starts_again(tmp_path: Path):
    write(tmp_path, {"base.toml": "select = ['CL102']\nignore = ['CL101']\nfix-target = 'convlint'\n",
                     "sub/convlint.toml": "extend = '../base.toml'\nselect = ['CL1']\n"})
    settings = Configuration(KNOWN_CODES).settings_for(str(tmp_path / "sub" / "m.py"))
    assert (settings.select, settings.ignore, settings.fix_target) == (("CL1",), (), "convlint")


@pytest.mark.parametrize("files, problem", [
    ({"a/convlint.toml": "extend = '../b/convlint.toml'\n", "b/convlint.toml": "extend = '../a/convlint.toml'\n"},
     "`extend` makes a cycle: {a} -> {b} -> {a}"),
    ({"a/convlint.toml": "extend = 'convlint.toml'\n"}, "`extend` makes a cycle: {a} -> {a}"),
    ({"a/convlint.toml": "extend = '../missing.toml'\n"}, "extend: no such file: {missing}"),
    ({"a/convlint.toml": "extend = '../pyproject.toml'\n", "pyproject.toml": "[project]\nname = 'x'\n"},
     "no [tool.convlint] table (named by {a})"),
    ({"a/convlint.toml": "extend = 3\n"}, "extend must be a path (a string)"),
])
def test_a_broken_extend_exits_2_with_one_line_naming_it(tmp_path: Path, files: dict, problem: str):
    write(tmp_path, {**files, "a/m.py": BAD})
    result = run_cli(["check", "a/m.py"], tmp_path)
    names = {"a": tmp_path / "a" / "convlint.toml", "b": os.path.normpath(tmp_path / "a" / ".." / "b" / "convlint.toml"),
             "missing": os.path.normpath(tmp_path / "missing.toml")}
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and problem.format(**names) in result.stderr, result.stderr


def test_config_file_applies_to_every_file(monorepo: Path):
    write(monorepo, {"ci/strict.toml": "select = ['CL1']\nextend-exclude = ['gen']\n"})
    everything = check(monorepo, "--config", "ci/strict.toml", ".")
    assert "pkgA/x.py:5:9: CL101" in everything and "pkgA/tests/test_a.py:5:1: CL102" in everything
    assert not any("/gen/" in f for f in everything)
    shown = run_cli(["check", "--config", "ci/strict.toml", "--show-settings", "pkgB/y.py"], monorepo).stdout
    assert f"# from: {monorepo / 'ci' / 'strict.toml'}\n" in shown and "project-root = (none)" in shown


def test_config_naming_a_file_without_a_convlint_table_exits_2(tmp_path: Path):
    write(tmp_path, {"other/pyproject.toml": "[tool.black]\nline-length = 88\n", "m.py": BAD})
    result = run_cli(["check", "--config", "other/pyproject.toml", "m.py"], tmp_path)
    assert result.exit_code == 2
    assert result.stderr == "error: other/pyproject.toml: no [tool.convlint] table (named by --config)\n"


def test_config_key_value_overrides_every_file_and_repeats(monorepo: Path):
    ignored = check(monorepo, "--config", "ignore = ['CL101']", "--config", 'extend-exclude = ["pkgB/gen"]', ".")
    assert ignored == sorted(["pkgA/x.py:10:1: CL102", "pkgB/tests/test_b.py:5:1: CL102", "pkgB/y.py:10:1: CL102"])
    # With --config FILE too (the override goes over the file); the flags go over both.
    write(monorepo, {"strict.toml": "select = ['CL1']\n"})
    assert check(monorepo, "--config", "strict.toml", "pkgA/x.py") == sorted(["pkgA/x.py:5:9: CL101", "pkgA/x.py:10:1: CL102"])
    assert check(monorepo, "--config", "strict.toml", "--config", "ignore = ['CL102']", "pkgA/x.py") == ["pkgA/x.py:5:9: CL101"]
    assert check(monorepo, "--config", "strict.toml", "--config", "ignore = ['CL102']", "--ignore", "CL101",
                 "pkgA/x.py") == []


@pytest.mark.parametrize("argument, problem", [
    ("selct = ['CL1']", "unknown key `selct`"),
    ("select = 'CL1'", "select must be a list of strings"),
    ("select = ['ZZ9']", "unknown rule selector `ZZ9`"),
    ("fix-target = 'jax'", "fix-target must be one of"),
    ("extend = 'x.toml'", "`extend` cannot be overridden"),
    ("no-such-file.toml", "neither a configuration file nor a TOML `key = value` override"),
])
def test_a_bad_config_override_exits_2_with_one_line(tmp_path: Path, argument: str, problem: str):
    write(tmp_path, {"m.py": BAD})
    result = run_cli(["check", "--config", argument, "m.py"], tmp_path)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and problem in result.stderr and repr(argument) in result.stderr


def test_two_config_files_or_one_with_isolated_are_a_usage_error(tmp_path: Path):
    write(tmp_path, {"a.toml": "", "b.toml": "", "m.py": BAD})
    result = run_cli(["check", "--config", "a.toml", "--config", "b.toml", "m.py"], tmp_path)
    assert result.exit_code == 2 and "--config names two files" in result.stderr
    result = run_cli(["check", "--isolated", "--config", "a.toml", "m.py"], tmp_path)
    assert result.exit_code == 2 and "cannot be used with --isolated" in result.stderr
    # Overrides go with --isolated: over the defaults.
    assert check(tmp_path, "--isolated", "--config", "ignore = ['CL101']", "m.py") == []


def test_isolated_ignores_every_configuration_file(monorepo: Path):
    isolated = check(monorepo, "--isolated", "pkgA/x.py", "pkgB/y.py", "top.py")
    assert isolated == sorted(["pkgA/x.py:5:9: CL101", "pkgA/x.py:10:1: CL102", "pkgB/y.py:5:9: CL101",
                               "pkgB/y.py:10:1: CL102", "top.py:5:9: CL101", "top.py:10:1: CL102"])
    shown = run_cli(["check", "--isolated", "--show-settings", "pkgA/x.py"], monorepo).stdout
    assert "# from: the defaults (no configuration file)\n# and: --isolated" in shown


def test_stdin_takes_the_configuration_of_its_filename(monorepo: Path):
    given = BAD + RANK_3D.replace("net", "net3d")
    assert findings(run_cli(["check", "--stdin-filename", "pkgA/new.py", "-"], monorepo, input=given).stdout) == \
        ["pkgA/new.py:10:1: CL102"]
    assert findings(run_cli(["check", "--stdin-filename", "pkgB/new.py", "-"], monorepo, input=given).stdout) == \
        sorted(["pkgB/new.py:5:9: CL101", "pkgB/new.py:10:1: CL102"])


def test_fix_uses_each_files_fix_target(tmp_path: Path):
    write(tmp_path, {"a/convlint.toml": "fix-target = 'convlint'\n", "a/m.py": BAD, "b/m.py": BAD})
    assert run_cli(["fix", "--write", "b/m.py", "a/m.py"], tmp_path).exit_code == 0
    assert "from convlint.runtime import convert_conv2d_weight_memory_format" in (tmp_path / "a/m.py").read_text()
    assert "torch.nn.utils.convert_conv2d_weight_memory_format(model" in (tmp_path / "b/m.py").read_text()


def test_a_pool_of_workers_gives_each_file_its_settings(tmp_path: Path, monkeypatch):
    from convlint import runner

    # Enough candidates for a pool (runner.MIN_FILES_PER_WORKER): workers get each group's settings.
    files = {"a/convlint.toml": "ignore = ['CL101']\n", "b/convlint.toml": "ignore = ['CL102']\n"}
    for i in range(12):
        files[f"a/m{i}.py"] = files[f"b/m{i}.py"] = BAD + RANK_3D.replace("net", "net3d")
    write(tmp_path, files)
    one = check(tmp_path, "-j", "1", ".")
    assert one == sorted([f"a/m{i}.py:10:1: CL102" for i in range(12)] + [f"b/m{i}.py:5:9: CL101" for i in range(12)])
    assert check(tmp_path, "-j", "3", ".") == one
    # A large tree's workers read and filter chunks of paths themselves: chunks of one settings.
    monkeypatch.setattr(runner, "PARALLEL_SCAN_FILES", 8)
    monkeypatch.setattr(runner, "SCAN_CHUNK", 5)
    assert check(tmp_path, "-j", "3", ".") == one


# --------------------------------------------------------------------------- the settings


def test_settings_are_immutable_and_their_fingerprint_covers_every_field(tmp_path: Path):
    base = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.select = ("CL1",)  # type: ignore[misc]
    changed = {
        "select": ("CL1",), "extend_select": ("CL900",), "ignore": ("CL101",), "exclude": ("x",),
        "extend_exclude": ("y",), "per_file_ignores": (("t/*", ("CL101",)),), "fix_target": "convlint",
        "torch_version": "2.1", "respect_gitignore": False, "force_exclude": True, "project_root": str(tmp_path),
        "include_docs": True, "extend_include": ("docs/*.md",), "docstring_code": True,
    }
    assert set(changed) == {f.name for f in dataclasses.fields(Settings)}  # a new field must be added here
    prints = {name: dataclasses.replace(base, **{name: value}).fingerprint() for name, value in changed.items()}
    assert len(set(prints.values()) | {base.fingerprint()}) == len(changed) + 1
    assert Settings().fingerprint() == base.fingerprint() and hash(Settings()) == hash(base)


def test_the_fingerprint_is_the_same_in_another_process(tmp_path: Path):
    write(tmp_path, {"convlint.toml": "ignore = ['CL101']\nextend-exclude = ['gen/*.py']\n"})
    here = Configuration(KNOWN_CODES).settings_for(str(tmp_path / "m.py")).fingerprint()
    code = ("import sys; from convlint.config import Configuration; from convlint.rules import KNOWN_CODES; "
            "print(Configuration(KNOWN_CODES).settings_for(sys.argv[1]).fingerprint())")
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.py")], capture_output=True, text=True,
                           cwd="/", env={**os.environ, "PYTHONHASHSEED": "123"}, check=True)
    assert other.stdout.strip() == here


def test_each_directory_is_looked_at_once(tmp_path: Path, monkeypatch):
    from convlint import config

    write(tmp_path, {"pyproject.toml": "[tool.convlint]\n", "a/b/c/m.py": "", "a/b/n.py": ""})
    looked: list[str] = []
    real = config.config_in
    monkeypatch.setattr(config, "config_in", lambda d: looked.append(d) or real(d))
    resolver = Configuration(KNOWN_CODES)
    for path in ("a/b/c/m.py", "a/b/n.py", "a/b/c/m.py"):
        assert resolver.resolve(str(tmp_path / path))[1] == (str(tmp_path / "pyproject.toml"),)
    assert sorted(looked) == sorted(str(tmp_path / d) for d in ("a/b/c", "a/b", "a", ""))


def test_show_settings_is_valid_for_a_directory_and_stdin(monorepo: Path):
    result = run_cli(["check", "--show-settings", "pkgA", "-"], monorepo)
    assert result.exit_code == 2  # `-` cannot be combined with other paths
    shown = run_cli(["check", "--show-settings", "pkgA"], monorepo)
    assert shown.exit_code == 0 and f"# from: {monorepo / 'pkgA' / 'pyproject.toml'}" in shown.stdout
    assert 'fingerprint = "' in shown.stdout and "Traceback" not in shown.stdout


# --------------------------------------------------------------------------- integrations


def test_the_server_and_the_flake8_plugin_resolve_as_check_does(monorepo: Path):
    pytest.importorskip("pygls")
    from convlint.flake8_plugin import ConvlintChecker
    from convlint.server import ConvlintServer

    server = ConvlintServer()
    for path in ("pkgA/x.py", "pkgB/y.py", "top.py", "nested/z.py"):
        expected = Configuration(KNOWN_CODES).settings_for(str(monorepo / path))
        assert server.settings_for(str(monorepo / path)) == expected
        plugin = ConvlintChecker(None, [], str(monorepo / path)).settings()
        assert (plugin.project_root, plugin.fix_target, plugin.ignore) == (expected.project_root, expected.fix_target, ())


def test_flake8_reads_each_files_fix_target(tmp_path: Path):
    pytest.importorskip("flake8")
    torchscript = "import torch\nfrom torch import nn\n\nnet = torch.jit.script(nn.Conv2d(3, 8, 3))\nnet.to(memory_format=torch.channels_last)\n"
    write(tmp_path, {"a/convlint.toml": "fix-target = 'convlint'\n", "a/m.py": torchscript, "b/m.py": torchscript})
    ours = run_cli(["check", "--output-format", "concise", "a/m.py", "b/m.py"], tmp_path).stdout
    theirs = subprocess.run([sys.executable, "-m", "flake8", "--select", "CL", "a/m.py", "b/m.py"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120).stdout

    def messages(output: str) -> list[str]:
        return sorted(line.split(": ", 1)[1].replace("CL101 [*] ", "CL101 ") for line in output.splitlines() if ": CL" in line)

    assert messages(theirs) == messages(ours) and len(set(messages(ours))) == 2  # the two targets differ


# --------------------------------------------------------------------------- file exemptions


@pytest.mark.parametrize("comment, exempt", [
    ("# convlint: noqa", {"CL101", "CL102"}),
    ("# convlint: noqa: CL101", {"CL101"}),
    ("# convlint:NOQA:CL102", {"CL102"}),
    ("# flake8: noqa", {"CL101", "CL102"}),
    ("# flake8: noqa: CL102", {"CL102"}),  # as Ruff: codes after `flake8: noqa` are file-level too
    ("# flake8: noqa: E501", set()),
    ("    # convlint: noqa", {"CL101", "CL102"}),  # indented, inside a block
    ("x = 1  # convlint: noqa", set()),  # after code: not a file exemption (as Ruff)
    ("# Convlint: noqa", set()),  # the tool's name is case-sensitive (as Ruff's `ruff:`)
    ("s = '''\n# convlint: noqa\n'''", set()),  # in a string
])
def test_file_exemptions_anywhere_on_a_line_of_their_own(tmp_path: Path, comment: str, exempt: set):
    body = BAD + RANK_3D.replace("net", "net3d")
    if comment.startswith("    "):
        text = body + "\nif True:\n" + comment + "\n    pass\n"
    else:
        text = body + "\n" + comment + "\n"
    write(tmp_path, {"m.py": text})
    reported = {f.rsplit(" ", 1)[1] for f in check(tmp_path, "--isolated", "m.py")}
    assert reported == {"CL101", "CL102"} - exempt


# --------------------------------------------------------------------------- pre-commit


PRE_COMMIT_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: convlint-a
        name: convlint (pkgA)
        entry: convlint check --force-exclude --output-format concise
        language: system
        files: ^pkgA/
        types_or: [python, jupyter]
      - id: convlint-b
        name: convlint (pkgB)
        entry: convlint check --force-exclude --output-format concise
        language: system
        files: ^pkgB/
        types_or: [python, jupyter]
"""


def test_pre_commit_hooks_of_two_sub_projects_agree_with_check(monorepo: Path):
    """Hooks scoped to two sub-projects, run by real pre-commit on all files and on staged
    subsets: each file's verdict is the one `convlint check .` gives it."""
    pytest.importorskip("pre_commit")
    from tests.test_precommit import git

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PRE_COMMIT_HOME"] = str(monorepo.parent / "pre-commit-home")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # this convlint
    (monorepo / ".pre-commit-config.yaml").write_text(PRE_COMMIT_CONFIG)
    git(["init", "-q"], monorepo, env)
    git(["add", "-A"], monorepo, env)

    def pre_commit(*args: str) -> list[str]:
        result = subprocess.run([sys.executable, "-m", "pre_commit", "run", *args], cwd=monorepo, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode in (0, 1), result.stdout + result.stderr
        return findings(result.stdout)

    expected = [f for f in check(monorepo, ".") if f.startswith(("pkgA/", "pkgB/"))]
    assert pre_commit("--all-files") == expected  # pkgA/gen/ is excluded by pkgA's own file
    subsets = [["pkgA/x.py", "pkgB/y.py"], ["pkgB/gen/generated.py", "pkgA/gen/generated.py"],
               ["pkgA/tests/test_a.py", "pkgB/tests/test_b.py", "pkgB/app/train.py"]]
    for files in subsets:
        assert pre_commit("--files", *files) == [f for f in expected if f.split(":")[0] in files]


def test_the_launcher_leaves_any_named_files_configuration_to_the_cli(tmp_path: Path, monkeypatch):
    from convlint import launcher

    write(tmp_path, {"a/clean.py": "x = 1\n", "b/clean.py": "x = 1\n", "b/convlint.toml": "extend-select = ['CL900']\n"})
    monkeypatch.chdir(tmp_path)
    assert launcher._nothing_to_find(["check", "a/clean.py"]) is True
    assert launcher._nothing_to_find(["check", "a/clean.py", "b/clean.py"]) is False  # b's is not the first
