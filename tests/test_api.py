"""convlint.api, the stable Python API: the same findings and fixes as the command line,
with the same settings, as plain dataclasses; no torch, and LibCST only for fixes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from convlint import api
from tests.fixture_cases import FIXTURES, ROOT, Case, run_cli

STATEMENT = FIXTURES / "CL101" / "statement.py"
# Findings with unsafe fixes only (the receiver is a module by its name alone).
LIKELY = FIXTURES / "CL101" / "likely_by_name.py"
BAD = "import torch\nmodel = torch.nn.Conv2d(3, 8, 3)\nmodel = model.to(memory_format=torch.channels_last)\n"


def as_json(finding: api.Finding) -> dict:
    """A Finding in the CLI's JSON shape, to compare the two."""
    fix = finding.fix and {
        "applicability": finding.fix.applicability,
        "edits": [{"content": e.content, "end_location": dataclasses.asdict(e.end),
                   "location": dataclasses.asdict(e.start), **({"cell": e.cell} if e.cell else {})}
                  for e in finding.fix.edits],
        "message": finding.fix.message,
    }
    return {
        "cell": finding.cell, "code": finding.code, "end_location": dataclasses.asdict(finding.end),
        "fix": fix, "location": dataclasses.asdict(finding.start), "message": finding.message,
        "name": finding.name, "noqa_row": finding.noqa_row, "reason": finding.reason, "url": finding.url,
    }


def cli_json(paths: list[str], cwd) -> list[dict]:
    items = json.loads(run_cli(["check", "--output-format", "json", *paths], cwd).stdout)
    for item in items:
        item.pop("severity")
    return items


@pytest.mark.parametrize("case", ["CL101/statement.py", "CL101/likely_by_name.py", "CL102/both_ranks.py", "CL101/multiline_comments.py"])
def test_check_source_finds_what_check_prints_as_json(case):
    path = FIXTURES / case
    found = api.check_source(path.read_text(), path.name, edits=True)
    assert found and all(isinstance(f, api.Finding) for f in found)
    expected = cli_json([path.name], path.parent)
    for item in expected:
        assert item.pop("filename") == str(path)
    assert [as_json(f) for f in found] == expected


def test_check_paths_is_check_on_a_tree(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    (tmp_path / "pkg" / "clean.py").write_text("x = 1\n")
    (tmp_path / "broken.py").write_bytes(b"model.to(memory_format=torch.channels_last\n")
    reports = api.check_paths([str(tmp_path), str(tmp_path / "missing.py")])
    by_name = {r.path.removeprefix(str(tmp_path) + "/"): r for r in reports}
    assert sorted(by_name) == ["broken.py", "missing.py", "pkg/bad.py"]  # clean.py has nothing
    assert [f.code for f in by_name["pkg/bad.py"].findings] == ["CL101"]
    assert [f.code for f in by_name["broken.py"].findings] == ["CL000"]
    assert by_name["missing.py"] == api.FileReport(
        str(tmp_path / "missing.py"), errors=(f"{tmp_path / 'missing.py'}: No such file or directory",))
    cli = {(i["filename"], i["code"], i["location"]["row"]) for i in cli_json(["."], tmp_path)}
    assert {(str(tmp_path / p), f.code, f.start.row) for p, r in by_name.items() for f in r.findings} == cli


def test_settings_are_the_command_lines(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.convlint]\nper-file-ignores = { 'legacy/*' = ['CL101'] }\nfix-target = 'convlint'\n")
    (tmp_path / "legacy").mkdir()
    legacy, new = str(tmp_path / "legacy" / "m.py"), str(tmp_path / "m.py")
    assert api.check_source(BAD, legacy) == []  # the nearest pyproject.toml, as check reads it
    assert [f.code for f in api.check_source(BAD, new)] == ["CL101"]
    assert "from convlint.runtime import" in api.fix_source(BAD, new).source
    assert [f.code for f in api.check_source(BAD, legacy, api.settings_for(isolated=True))] == ["CL101"]
    # The same object the CLI builds, changed as flags change it.
    settings = dataclasses.replace(api.settings_for(new), ignore=("CL1",))
    assert isinstance(settings, api.Settings) and api.check_source(BAD, new, settings) == []
    (tmp_path / "pyproject.toml").write_text("[tool.convlint]\nselect = ['CL7']\n")
    with pytest.raises(api.ConfigError, match="unknown rule selector `CL7`"):
        api.settings_for(new)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("path", [STATEMENT, LIKELY], ids=lambda p: p.name)
def test_fix_source_is_what_fix_writes(path, unsafe):
    case = Case(path)
    result = api.fix_source(path.read_text(), path.name, unsafe=unsafe)
    assert result.source == case.expected_fixed(unsafe).decode()
    assert result.changed == (result.source != path.read_text())
    assert result.fixed == (len(api.check_source(path.read_text(), path.name)) - len(result.remaining))
    # What remains is what a check of the fixed source finds.
    assert result.remaining == tuple(api.check_source(result.source, path.name))


def test_fix_source_safe_leaves_unsafe_fixes_as_suggestions():
    result = api.fix_source(LIKELY.read_text(), LIKELY.name)
    assert (result.changed, result.fixed, result.error) == (False, 0, None)
    assert result.remaining and {f.fix.applicability for f in result.remaining} == {"unsafe"}


def test_notebooks_are_read_from_their_json(tmp_path):
    from tests.test_notebooks import TRAIN, save

    text = save(tmp_path / "train.ipynb", TRAIN)
    (finding,) = api.check_source(text, "train.ipynb")
    assert (finding.cell, finding.start.row, finding.start.column) == (4, 2, 9)
    result = api.fix_source(text, "train.ipynb")
    run_cli(["fix", "--write", "train.ipynb"], tmp_path)
    assert result.changed and result.source == (tmp_path / "train.ipynb").read_text(encoding="utf-8")
    # As check: a broken notebook is CL000 once the prefilter lets it through.
    assert api.check_source('{"cells": 3}', "x.ipynb") == []
    broken = api.check_source('{"cells": 3, "note": "model.to(memory_format=torch.channels_last)"}', "x.ipynb")
    assert [(f.code, f.message) for f in broken] == [("CL000", "syntax error: invalid notebook: no list of cells")]


def test_bad_sources():
    (finding,) = api.check_source("model.to(memory_format=torch.channels_last\n", "m.py")
    assert finding.code == "CL000" and finding.name == "syntax-error" and finding.fix is None
    result = api.fix_source("import torch\nmodel.to(memory_format=torch.channels_last\n", "m.py")
    assert (result.changed, [f.code for f in result.remaining]) == (False, ["CL000"])
    with pytest.raises(TypeError, match="source must be a str, not bytes"):
        api.check_source(BAD.encode(), "m.py")
    # A coding cookie is the text's own: it is read back as given.
    latin = "# -*- coding: latin-1 -*-\n# café\n" + BAD
    (finding,) = api.check_source(latin, "m.py")
    assert finding.start.row == 5
    assert api.fix_source(latin, "m.py").source.startswith("# -*- coding: latin-1 -*-\n# café\n")


def test_results_are_plain_frozen_dataclasses():
    (finding,) = api.check_source(BAD, "m.py")
    for value in (finding, finding.fix, finding.start):
        assert dataclasses.is_dataclass(value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.code = "X"  # type: ignore[misc]
    assert dataclasses.asdict(finding)["start"] == {"row": 3, "column": 9}
    assert set(api.__all__) <= set(dir(api))


def test_checking_imports_neither_torch_nor_libcst(tmp_path):
    (tmp_path / "m.py").write_text(BAD)
    program = f"""
import sys
import convlint.api as api
found = api.check_source({BAD!r}, "m.py")
reports = api.check_paths([{str(tmp_path)!r}])
assert found and reports, (found, reports)
print(sorted(m for m in ("torch", "libcst") if m in sys.modules))
fixed = api.fix_source({BAD!r}, "m.py", unsafe=True)
assert fixed.changed
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "False"]


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    import re

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API: convlint.api", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    (tmp_path / "src").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "src" / "train.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {"source": BAD})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("CL101 module-to-channels-last 3 9 `.to(memory_format=channels_last)` on a module")
    assert out[0].endswith(" safe")
    assert out[1:] == ["1 [] ()", "src/train.py ['CL101'] ()"]


def test_check_paths_gives_each_file_its_own_settings_or_the_one_given(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.convlint]\nignore = ['CL101']\n")
    (tmp_path / "a" / "m.py").write_text(BAD)
    (tmp_path / "b" / "m.py").write_text(BAD)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    found = [[r.path for r in api.check_paths(order)] for order in ([a, b], [b, a])]
    assert found == [[str(tmp_path / "b" / "m.py")]] * 2  # a's file is ignored by a's config, in any order
    both = api.check_paths([a, b], api.settings_for(isolated=True))  # one Settings for every file
    assert [r.path for r in both] == [str(tmp_path / "a" / "m.py"), str(tmp_path / "b" / "m.py")]
    named = api.configuration(config=str(tmp_path / "a" / "pyproject.toml"))  # as --config FILE
    assert api.check_paths([a, b], named) == [] and api.check_source(BAD, str(tmp_path / "b" / "m.py"), named) == []
