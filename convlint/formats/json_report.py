"""`json` and `json-lines`: each finding as Ruff writes it, with the same keys in the same
(sorted) order, so that tools reading Ruff's JSON read convlint's."""

from __future__ import annotations

import json
import os

from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.formats.report import Report, noqa_row, rule_url
from convlint.codes import RULE_NAMES


def _location(loc: Location) -> dict:
    return {"column": loc.column, "row": loc.row}


def _edit(e: Edit) -> dict:
    # Ruff's edits carry no cell: a notebook fix can also edit another cell (its import).
    cell = {"cell": e.cell} if e.cell is not None else {}
    return {**cell, "content": e.content, "end_location": _location(e.end), "location": _location(e.start)}


def _filename(path: str) -> str:
    return path if path == "-" else os.path.abspath(path)


def diagnostic_json(d: Diagnostic) -> dict:
    fix = None
    if d.fix is not None:
        fix = {"applicability": d.fix.applicability.value, "edits": [_edit(e) for e in d.fix.edits],
               "message": d.fix.message}
    return {
        "cell": d.cell,
        "code": d.code,
        "end_location": _location(d.end),
        "filename": _filename(d.path),
        "fix": fix,
        "location": _location(d.start),
        "message": d.message,
        "name": RULE_NAMES.get(d.code),
        "noqa_row": noqa_row(d),
        "reason": d.reason,
        "severity": "error",
        "url": rule_url(d.code),
    }


def format_json(report: Report) -> str:
    return json.dumps([diagnostic_json(d) for d in report.diagnostics], indent=2) + "\n"


def format_json_lines(report: Report) -> str:
    return "".join(json.dumps(diagnostic_json(d), separators=(",", ":")) + "\n" for d in report.diagnostics)
