"""The fix loop: apply every applicable fix of a source, pass after pass, each pass linted
again; the choice of the edits of one pass (no two overlap). Never reads, writes or prints.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, replace

from convlint.analysis.syntax import parses
from convlint.config import Settings
from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.files import is_doc_path
from convlint.lint import lint_source_text, materialize_fixes, open_document, page_findings, render_errors
from convlint.rules.converters import orphaned_imports
from convlint.source import SourceText, apply_edits

MAX_FIX_PASSES = 10


def fix_buffer(text: str, path: str, settings: Settings, unsafe: bool) -> FixOutcome:
    """`fix_source` for a host that holds the text (the server's fix-all): a page's blocks
    are fixed and put back into the page, and what remains is at page rows."""
    if not is_doc_path(path):
        return fix_source(text, path, settings, unsafe)
    page = open_document(path, text)
    outcome = fix_source(page.source, path, settings, unsafe, page.block_noqa)
    try:
        rendered = page.render(outcome.text)
    except render_errors() as e:
        return FixOutcome(text, Counter(), [], [], str(e))
    remaining = [page.locate(d) for d in page_findings(page, outcome.remaining)[0]]
    return replace(outcome, text=rendered, remaining=remaining)


@dataclass
class FixOutcome:
    text: str
    fixed_codes: Counter[str]  # findings fixed, by code
    remaining: list[Diagnostic]
    failures: list[tuple[Diagnostic, str]]  # fixes that could not be applied, and why
    error: str | None = None  # why no fix at all was applied

    @property
    def fixed(self) -> int:
        return sum(self.fixed_codes.values())


def fix_source(text: str, path: str, settings: Settings, unsafe: bool,
               block_noqa=None) -> FixOutcome:
    """Apply every applicable fix until none is left (or MAX_FIX_PASSES).

    Overlapping fixes (nested calls) are applied in later passes; a pass whose result does
    not parse is discarded.
    """
    fixed: Counter[str] = Counter()
    # A file the running interpreter reads must stay one it reads (a fix must not need the
    # newer syntax that the analysis of a newer file may parse).
    native = parses(text, path, lowering=False)
    # The analysis that finds nothing more to apply is also the report of what is left: one
    # analysis a pass, not a second one of the same text at the end.
    for passes in range(MAX_FIX_PASSES + 1):
        source = SourceText(text)
        remaining = lint_source_text(source, path, settings, block_noqa=block_noqa)
        resolved, failures = materialize_fixes([d for d in remaining if d.fixable(unsafe)], source)
        edits, applied = _non_overlapping(resolved)
        if not applied or passes == MAX_FIX_PASSES:
            break
        new_text = apply_edits(text, source, edits)
        orphans = orphaned_imports(text, new_text)
        if orphans:  # the imports the renamed calls were the only uses of
            new_text = apply_edits(new_text, SourceText(new_text), orphans)
        if not parses(new_text, path, lowering=not native):
            error = "fixes not applied: the result would not parse"
            return FixOutcome(text, fixed, remaining, [], error)
        text = new_text
        fixed.update(applied)
    # What is left, with the fixes that failed marked as not fixable (and said why).
    unfixable = {(d.code, d.start) for d, _ in failures}
    remaining = [replace(d, fix=None) if (d.code, d.start) in unfixable else d for d in remaining]
    return FixOutcome(text, fixed, remaining, failures)


def _non_overlapping(diagnostics: list[Diagnostic]) -> tuple[list[Edit], list[str]]:
    """The edits of the fixes that do not overlap an earlier one, and the codes of those
    fixes; identical edits merge."""
    chosen = _ChosenEdits()
    applied = []
    for d in sorted(diagnostics, key=lambda d: d.sort_key):
        if d.fix is None or not d.fix.edits:
            continue
        new = [e for e in d.fix.edits if e not in chosen.edits]
        if any(chosen.overlaps(e) for e in new):
            continue
        for e in new:
            chosen.add(e)
        applied.append(d.code)
    return sorted(chosen.edits, key=lambda e: (e.start, e.end)), applied


class _ChosenEdits:
    """Edits that do not overlap, kept sorted so that testing a new one is a bisection: a
    file with tens of thousands of fixes must not take quadratic time.

    Insertions (empty ranges) clash only strictly inside a range; ranges clash when they
    share any character.
    """

    def __init__(self):
        self.edits: dict[Edit, None] = {}  # in the order chosen, which breaks ties
        self._starts: list[Location] = []  # of the non-empty ranges, which never overlap,
        self._ends: list[Location] = []  # so their ends are sorted too
        self._points: list[Location] = []  # the insertions

    def overlaps(self, edit: Edit) -> bool:
        if edit.start == edit.end:
            i = bisect.bisect_left(self._starts, edit.start)
            return i > 0 and self._ends[i - 1] > edit.start
        i = bisect.bisect_left(self._starts, edit.end)
        if i > 0 and self._ends[i - 1] > edit.start:
            return True
        j = bisect.bisect_right(self._points, edit.start)
        return j < len(self._points) and self._points[j] < edit.end

    def add(self, edit: Edit) -> None:
        self.edits[edit] = None
        if edit.start == edit.end:
            bisect.insort(self._points, edit.start)
        else:
            i = bisect.bisect_left(self._starts, edit.start)
            self._starts.insert(i, edit.start)
            self._ends.insert(i, edit.end)
