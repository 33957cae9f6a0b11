"""Code review reports: GitLab's Code Quality report (`gitlab`) and reviewdog's diagnostic
format (`rdjson`), whose suggestions come from the fix edits. Notebook findings point at the
notebook's JSON, the text these tools show."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter

from convlint.diagnostics import Diagnostic, Location
from convlint.formats.report import HOMEPAGE, Report, cell_prefix, rule_url


# --------------------------------------------------------------------------- GitLab


def format_gitlab(report: Report) -> str:
    """A Code Quality report: the paths relative to the project ($CI_PROJECT_DIR, else the
    working directory), as GitLab links them from the merge request."""
    root = os.environ.get("CI_PROJECT_DIR") or os.getcwd()
    seen: Counter[tuple] = Counter()
    issues = []
    for d in report.diagnostics:
        path = _relative(d.path, root)
        start = report.sources.file_location(d.path, d.cell, d.start)
        end = report.sources.file_location(d.path, d.cell, d.end)
        key = (path, d.code, _line_text(report, d))
        seen[key] += 1
        issues.append({
            "check_name": d.code,
            "description": f"{d.code}: {cell_prefix(d)}{d.message}",
            "severity": "major",
            "fingerprint": _fingerprint(*key, seen[key]),
            "location": {
                "path": path,
                "positions": {
                    "begin": {"line": start.row, "column": start.column},
                    "end": {"line": end.row, "column": end.column},
                },
            },
        })
    return json.dumps(issues, indent=2) + "\n"


def _fingerprint(path: str, code: str, line: str, occurrence: int) -> str:
    """Stable while the finding's line stays as it is, wherever the line moves: the file,
    the rule, the line's code (spacing aside), and which of the identical ones it is."""
    key = "\0".join([path, code, line, str(occurrence)])
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _line_text(report: Report, d: Diagnostic) -> str:
    code = report.sources.code(d.path, d.cell)
    return " ".join(code.line_text(d.start.row).split()) if code is not None else ""


def _relative(path: str, root: str) -> str:
    if path == "-":
        return path
    return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")


# --------------------------------------------------------------------------- reviewdog


def format_rdjson(report: Report) -> str:
    """reviewdog's DiagnosticResult: columns count UTF-8 bytes, as its format defines."""
    diagnostics = [_rdjson_diagnostic(d, report) for d in report.diagnostics]
    result = {"source": {"name": "convlint", "url": HOMEPAGE}, "severity": "ERROR", "diagnostics": diagnostics}
    return json.dumps(result, indent=2) + "\n"


def _rdjson_diagnostic(d: Diagnostic, report: Report) -> dict:
    sources = report.sources
    start = sources.file_location(d.path, d.cell, d.start)
    end = sources.file_location(d.path, d.cell, d.end)
    out = {
        "message": cell_prefix(d) + d.message,
        "location": {"path": d.path, "range": _range(report, d.path, start, end)},
        "severity": "ERROR",
        "code": {"value": d.code, **({"url": rule_url(d.code)} if rule_url(d.code) else {})},
    }
    # A suggestion is applied on its own: only a fix of one edit is offered (a call rewritten
    # without the import it needs would break the file), and only one the run counts fixable.
    if d.fixable(report.unsafe_fixes) and len(d.fix.edits) == 1:
        edit = sources.file_edit(d.path, d.fix.edits[0])
        if edit is not None:
            out["suggestions"] = [{"range": _range(report, d.path, edit.start, edit.end), "text": edit.content}]
    return out


def _range(report: Report, path: str, start: Location, end: Location) -> dict:
    def position(loc: Location) -> dict:
        return {"line": loc.row, "column": report.sources.utf8_column(path, loc)}

    return {"start": position(start), "end": position(end)}
