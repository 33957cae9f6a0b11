"""SARIF 2.1.0, for code scanning: every rule's metadata and documentation URL, one result per
finding with its fix. Notebook findings point at the notebook's JSON, the text a viewer shows."""

from __future__ import annotations

import json
import re
from pathlib import PurePath

from convlint import __version__
from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.formats.report import HOMEPAGE, Report, rule_url
from convlint.rules import KNOWN_CODES, RULE_DOCS, RULE_NAMES

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def doc_section(doc: str, title: str) -> str:
    """The text of a rule documentation's `## <title>` section, its lines joined."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc, re.MULTILINE | re.DOTALL)
    return " ".join(match.group(1).split()) if match else ""


def _rule(code: str) -> dict:
    doc = RULE_DOCS[code]
    what = doc_section(doc, "What it does")
    why = doc_section(doc, "Why is this bad?")
    return {
        "id": code,
        "name": RULE_NAMES[code],
        "shortDescription": {"text": re.split(r"(?<=\.)\s", what, maxsplit=1)[0]},
        "fullDescription": {"text": f"{what} {why}".strip()},
        "help": {"text": doc, "markdown": doc},
        "helpUri": rule_url(code),
        "defaultConfiguration": {"level": "error"},
    }


def _uri(path: str) -> str:
    """A relative path stays relative (code scanning resolves it from the checkout)."""
    from urllib.parse import quote  # only SARIF output needs it

    pure = PurePath(path)
    if pure.is_absolute():
        return pure.as_uri()
    # surrogateescape: an undecodable byte of a POSIX file name is percent-encoded as itself
    return quote(pure.as_posix(), safe="/", errors="surrogateescape")


def _region(start: Location, end: Location, cell: int | None) -> dict:
    # SARIF columns count from 1 and endColumn is exclusive, as convlint's do.
    region = {"startLine": start.row, "startColumn": start.column, "endLine": end.row, "endColumn": end.column}
    if cell is not None:  # the lines are the notebook's JSON; the cell they are in
        region["properties"] = {"cell": cell}
    return region


def _replacement(edit: Edit, cell: int | None) -> dict:
    return {"deletedRegion": _region(edit.start, edit.end, cell), "insertedContent": {"text": edit.content}}


def _result(d: Diagnostic, rule_index: dict[str, int], report: Report) -> dict:
    sources = report.sources
    artifact = {"uri": _uri(d.path)}
    start, end = sources.file_location(d.path, d.cell, d.start), sources.file_location(d.path, d.cell, d.end)
    result = {
        "ruleId": d.code,
        "ruleIndex": rule_index[d.code],
        "level": "error",
        "message": {"text": d.message},
        "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": _region(start, end, d.cell)}}],
    }
    # Replacements of the file's own text (in a notebook: of its JSON, content escaped).
    edits = [(sources.file_edit(d.path, e), e.cell) for e in d.fix.edits] if d.fix is not None else []
    if edits and all(edit is not None for edit, _ in edits):
        result["fixes"] = [
            {
                "description": {"text": d.fix.message},
                "artifactChanges": [
                    {"artifactLocation": artifact, "replacements": [_replacement(e, cell) for e, cell in edits]}
                ],
                "properties": {"applicability": d.fix.applicability.value},
            }
        ]
    return result


def format_sarif(report: Report) -> str:
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
                        "informationUri": HOMEPAGE,
                        "rules": [_rule(code) for code in KNOWN_CODES],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(d, rule_index, report) for d in report.diagnostics],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
