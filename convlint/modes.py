"""What a run is asked to do with each file (a Mode and the Options that mean something in
it) and what it gives back for each (a FileResult). Plain data: the command line, the API
and the runner read it without importing the rules or the analysis."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

from convlint.diagnostics import Diagnostic
from convlint.files import FileError


class Mode(Enum):
    """What a run does with each file."""

    CHECK = "check"  # report the findings
    FIX = "fix"  # compute the fixed sources, write nothing (a diff, standard input)
    FIX_WRITE = "fix-write"  # compute the fixed sources and write them back
    ADD_NOQA = "add-noqa"  # write a `# noqa` for every finding instead

    @property
    def fixes(self) -> bool:
        return self in (Mode.FIX, Mode.FIX_WRITE)


@dataclass(frozen=True)
class Options:
    """What a run does with each file beyond the settings: its mode, and the choices that
    mean something in that mode (any other combination is refused)."""

    mode: Mode = Mode.CHECK
    unsafe_fixes: bool = False  # apply the unsafe fixes too (the fix modes)
    edits: bool = False  # compute the fixes' edits for output: JSON, SARIF (check)
    cache: bool = False  # answer from and keep results in .convlint_cache (check)

    def __post_init__(self):
        if self.unsafe_fixes and not self.mode.fixes:
            raise ValueError(f"unsafe fixes mean nothing in {self.mode.value} mode")
        if (self.edits or self.cache) and self.mode is not Mode.CHECK:
            raise ValueError(f"fix edits and the result cache belong to check mode, not {self.mode.value}")


@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    fixed_codes: Counter[str] = field(default_factory=Counter)  # findings fixed, by code
    original: str | None = None  # set when a fix changed the source
    fixed_source: str | None = None
    fixed_data: bytes | None = None  # `fixed_source` as the file's bytes
    notes: list[str] = field(default_factory=list)  # fixes that could not be applied
    skipped: list[str] = field(default_factory=list)  # code blocks of a page not analysed (--verbose)
    noqa_added: int = 0  # rows given a `# noqa` (`check --add-noqa`)

    @property
    def fixed(self) -> int:
        return sum(self.fixed_codes.values())
