"""The data every stage passes on: Diagnostic, Fix and Edit (formats.py prints them).

Positions are 1-based lines and 1-based columns counted in characters, as Ruff prints them.
"""

from __future__ import annotations

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
    # The row a `# noqa` for this finding belongs on, when the analysis knows a better one
    # than the start row (formats print `start.row` when it is None).
    noqa_row: int | None = None

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
