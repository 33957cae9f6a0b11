"""The data every stage passes on: Diagnostic, Fix and Edit, and the ways to print them.

Positions are 1-based lines and 1-based columns counted in characters, as Ruff prints them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum


class Applicability(str, Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Location:
    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the text between two locations (end exclusive) with `content`."""

    start: Location
    end: Location
    content: str
    cell: int | None = None  # in a notebook: the 1-based cell the locations are in


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    message: str
    edits: tuple[Edit, ...] = ()
    # A rule may leave the edits to be computed later, only when something needs them
    # (`fix`, JSON output): `plan` then holds what the rule's fixer needs (see codemod.py).
    plan: object = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Diagnostic:
    path: str
    code: str
    message: str
    start: Location
    end: Location
    fix: Fix | None = None
    cell: int | None = None  # in a notebook: the 1-based cell the locations are in

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.start.row, self.start.column, self.code)

    @property
    def where(self) -> str:
        """`path:row:col`, or `path:cell N:row:col` in a notebook."""
        cell = f"cell {self.cell}:" if self.cell is not None else ""
        return f"{self.path}:{cell}{self.start.row}:{self.start.column}"

    def fixable(self, unsafe: bool) -> bool:
        if self.fix is None:
            return False
        return unsafe or self.fix.applicability is Applicability.SAFE


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
