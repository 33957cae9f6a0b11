"""Every report format: one line per finding (concise), JSON like Ruff's, GitHub workflow
commands, SARIF 2.1.0 and JUnit XML for CI, per-code statistics, and the `--show-fixes` lists."""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import groupby
from pathlib import PurePath

from convlint import __version__
from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.rules import KNOWN_CODES, RULE_DOCS, RULE_NAMES

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def format_concise(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> str:
    lines = []
    for d in diagnostics:
        marker = " [*]" if d.fixable(unsafe_fixes) else ""
        lines.append(f"{d.where}: {d.code}{marker} {d.message}")
    return "".join(line + "\n" for line in lines)


def _location_json(loc: Location) -> dict:
    return {"row": loc.row, "column": loc.column}


def diagnostic_json(d: Diagnostic) -> dict:
    fix = None
    if d.fix is not None:
        fix = {
            "applicability": d.fix.applicability.value,
            "message": d.fix.message,
            "edits": [
                {
                    "content": e.content,
                    "location": _location_json(e.start),
                    "end_location": _location_json(e.end),
                    **({"cell": e.cell} if e.cell is not None else {}),
                }
                for e in d.fix.edits
            ],
        }
    return {
        "code": d.code,
        "message": d.message,
        "filename": d.path,
        "location": _location_json(d.start),
        "end_location": _location_json(d.end),
        "fix": fix,
        "url": None,
        **({"cell": d.cell} if d.cell is not None else {}),
    }


def format_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([diagnostic_json(d) for d in diagnostics], indent=2) + "\n"


def _github_escape(text: str, property_value: bool = False) -> str:
    # GitHub workflow commands need %, CR and LF escaped; property values also : and ,.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(diagnostics: list[Diagnostic]) -> str:
    out = []
    for d in diagnostics:
        props = ",".join(
            [
                f"file={_github_escape(d.path, True)}",
                f"line={d.start.row}",
                f"col={d.start.column}",
                f"endLine={d.end.row}",
                f"endColumn={d.end.column}",
                f"title={_github_escape(d.code, True)}",
            ]
        )
        cell = f"cell {d.cell}: " if d.cell is not None else ""
        out.append(f"::error {props}::{_github_escape(f'{cell}{d.code} {d.message}')}\n")
    return "".join(out)


# --------------------------------------------------------------------------- SARIF


def doc_section(doc: str, title: str) -> str:
    """The text of a rule documentation's `## <title>` section, its lines joined."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc, re.MULTILINE | re.DOTALL)
    return " ".join(match.group(1).split()) if match else ""


def _sarif_rule(code: str) -> dict:
    doc = RULE_DOCS[code]
    what = doc_section(doc, "What it does")
    why = doc_section(doc, "Why is this bad?")
    return {
        "id": code,
        "name": RULE_NAMES[code],
        "shortDescription": {"text": re.split(r"(?<=\.)\s", what, maxsplit=1)[0]},
        "fullDescription": {"text": f"{what} {why}".strip()},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": "error"},
    }


def _uri(path: str) -> str:
    """A relative path stays relative (code scanning resolves it from the checkout)."""
    from urllib.parse import quote  # only SARIF output needs it

    pure = PurePath(path)
    if pure.is_absolute():
        return pure.as_uri()
    return quote(pure.as_posix(), safe="/")


def _region(start: Location, end: Location, cell: int | None) -> dict:
    # SARIF columns count from 1 and endColumn is exclusive, as convlint's do.
    region = {"startLine": start.row, "startColumn": start.column, "endLine": end.row, "endColumn": end.column}
    if cell is not None:  # in a notebook, the lines are the cell's
        region["properties"] = {"cell": cell}
    return region


def _sarif_replacement(edit: Edit) -> dict:
    return {"deletedRegion": _region(edit.start, edit.end, edit.cell), "insertedContent": {"text": edit.content}}


def _sarif_result(d: Diagnostic, rule_index: dict[str, int]) -> dict:
    artifact = {"uri": _uri(d.path)}
    result = {
        "ruleId": d.code,
        "ruleIndex": rule_index[d.code],
        "level": "error",
        "message": {"text": d.message},
        "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": _region(d.start, d.end, d.cell)}}],
    }
    if d.fix is not None and d.fix.edits:
        result["fixes"] = [
            {
                "description": {"text": d.fix.message},
                "artifactChanges": [
                    {"artifactLocation": artifact, "replacements": [_sarif_replacement(e) for e in d.fix.edits]}
                ],
                "properties": {"applicability": d.fix.applicability.value},
            }
        ]
    return result


def format_sarif(diagnostics: list[Diagnostic]) -> str:
    """One SARIF 2.1.0 run: every rule's metadata, one result per finding, with its fix."""
    rule_index = {code: i for i, code in enumerate(KNOWN_CODES)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "convlint",
                        "version": __version__,
                        "rules": [_sarif_rule(code) for code in KNOWN_CODES],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_sarif_result(d, rule_index) for d in diagnostics],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


# --------------------------------------------------------------------------- JUnit

# XML 1.0 cannot hold these characters at all, escaped or not.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def format_junit(diagnostics: list[Diagnostic]) -> str:
    """JUnit XML as Ruff writes it: a test suite per file, a failed test case per finding."""
    import xml.etree.ElementTree as ET  # only JUnit output needs it

    n = str(len(diagnostics))
    root = ET.Element("testsuites", name="convlint", tests=n, failures=n, errors="0")
    if not diagnostics:
        suite = ET.SubElement(root, "testsuite", name="convlint", tests="1", failures="0", errors="0")
        ET.SubElement(suite, "testcase", name="No errors found", classname="convlint")
    for path, group in groupby(diagnostics, key=lambda d: d.path):
        found = list(group)
        count = str(len(found))
        suite = ET.SubElement(root, "testsuite", name=_xml(path), tests=count, failures=count, errors="0")
        for d in found:
            case = ET.SubElement(
                suite, "testcase", name=f"org.convlint.{d.code}", classname=_xml(path),
                line=str(d.start.row), column=str(d.start.column),
            )
            failure = ET.SubElement(case, "failure", message=_xml(d.message))
            cell = f"cell {d.cell}, " if d.cell is not None else ""
            failure.text = _xml(f"{cell}line {d.start.row}, col {d.start.column}, {d.message}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------- statistics


def statistics(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> list[dict]:
    """Findings per code, most frequent first; `fixable` when some of them are."""
    counts = Counter(d.code for d in diagnostics)
    fixable = {d.code for d in diagnostics if d.fixable(unsafe_fixes)}
    return [
        {"code": code, "name": RULE_NAMES.get(code, ""), "count": count, "fixable": code in fixable}
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def format_statistics(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> str:
    """Ruff's (and flake8's) `--statistics` table: count, code, `[*]` when fixable, name."""
    rows = statistics(diagnostics, unsafe_fixes)
    if not rows:
        return ""
    count_width = max(len(str(row["count"])) for row in rows)
    code_width = max(len(row["code"]) for row in rows)
    any_fixable = any(row["fixable"] for row in rows)
    lines = []
    for row in rows:
        marker = ("[*] " if row["fixable"] else "[ ] ") if any_fixable else ""
        lines.append(f"{row['count']:>{count_width}}\t{row['code']:<{code_width}}\t{marker}{row['name']}\n")
    return "".join(lines)


def format_statistics_json(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> str:
    return json.dumps(statistics(diagnostics, unsafe_fixes), indent=2) + "\n"


# --------------------------------------------------------------------------- fixes


def format_available_fixes(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> str:
    """`check --show-fixes`: each fix that `fix --write` (with `--unsafe-fixes`) applies."""
    fixable = [d for d in diagnostics if d.fixable(unsafe_fixes)]
    if not fixable:
        return ""
    lines = [f"Fixes available ({len(fixable)}):\n"]
    lines += [f"  {d.where}: {d.code} {d.fix.message}\n" for d in fixable]
    return "".join(lines)


def format_fix_summary(fixed: dict[str, Counter[str]], applied: bool) -> str:
    """`fix --show-fixes`: Ruff's table of the fixes applied (or to apply), per file and code."""
    total = sum(sum(codes.values()) for codes in fixed.values())
    if not total:
        return ""
    width = max(len(str(n)) for codes in fixed.values() for n in codes.values())
    verb = "Fixed" if applied else "Would fix"
    lines = [f"{verb} {total} error{'s' if total != 1 else ''}:\n"]
    for path, codes in sorted(fixed.items()):
        if not codes:
            continue
        lines.append(f"- {path}:\n")
        for code, n in sorted(codes.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"    {n:>{width}} × {code} ({RULE_NAMES.get(code, '')})\n")
    return "".join(lines)
