"""One file, by mode: its bytes (past the prefilter) -> its FileResult: the findings of a
check, the fixed source of a fix (written back in FIX_WRITE), or the `# noqa` comments added.
Each step returns what it found; `process_file` builds the result. Never prints.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from convlint.analysis.syntax import parses
from convlint.config import Settings
from convlint.diagnostics import Diagnostic
from convlint.files import DecodedSource, FileError, decode_source, encode_like, error_message, is_doc_path, write_atomic
from convlint.fixing import fix_source
from convlint.lint import (NOT_SUPPRESSIBLE, check_text, docstring_examples, failure_notes, lint_document,
                           lint_source_text, open_document, page_findings, render_errors, syntax_error)
from convlint.modes import FileResult, Mode, Options
from convlint.notebook import NotebookError
from convlint.pool import parent_gone
from convlint.source import SourceText, apply_edits
from convlint.suppress import add_noqa_edits


def process_file(path: str, data: bytes, stat_result: os.stat_result | None, settings: Settings, options: Options) -> FileResult:
    """Check, fix or add `# noqa` to one file whose bytes passed the prefilter. Never raises."""
    try:
        return _process(path, data, stat_result, settings, options)
    except RecursionError:
        return FileResult(path, errors=[FileError(path, "too deeply nested to analyze")])
    except Exception as e:  # one bad file must never stop the run
        return FileResult(path, errors=[FileError(path, f"internal error: {type(e).__name__}: {e}")])


def _process(path, data, stat_result, settings, options: Options) -> FileResult:
    try:
        decoded = decode_source(data)
        document = open_document(path, decoded.text)
    except SyntaxError as e:
        if is_doc_path(path):  # a page cannot be decoded: no code of it was read
            return FileResult(path, errors=[FileError(path, e.msg or str(e))])
        return FileResult(path, diagnostics=[syntax_error(path, None, e)])
    except NotebookError as e:
        return FileResult(path, diagnostics=[syntax_error(path, None, SyntaxError(str(e)))])
    file = _File(path, data, decoded, document, stat_result)
    if options.mode.fixes:
        return _fix_file(file, settings, options)
    if options.mode is Mode.ADD_NOQA:
        return _add_noqa_file(file, settings)
    diagnostics, notes, skipped = check_text(path, document, decoded.text, settings, options.edits)
    return FileResult(path, diagnostics, notes=notes, skipped=_unique(skipped))


def _unique(notes: list[str]) -> list[str]:
    """The notes in order, each once (a document re-linted notes its skipped blocks again)."""
    return list(dict.fromkeys(notes))


@dataclass
class _File:
    """A file being fixed: what was read, and how to write it back."""

    path: str
    data: bytes
    decoded: DecodedSource
    document: object  # PythonDocument | Notebook | Page
    stat_result: os.stat_result | None


def _fix_file(file: _File, settings, options: Options) -> FileResult:
    path = file.path
    text = file.decoded.text
    fixed: Counter[str] = Counter()
    remaining: list[Diagnostic] = []
    errors: list[FileError] = []
    notes: list[str] = []
    skipped: list[str] = []
    changes = 0
    # The file's own code first; then (docstring-code) the examples of its fixed docstrings.
    stages = (lambda _: file.document, lambda current: docstring_examples(path, current, settings))
    for stage in stages:
        document = stage(text)  # the examples of the docstrings as the code's fix left them
        if document is None:
            continue
        skipped += document.skipped
        outcome = fix_source(document.source, path, settings, options.unsafe_fixes, document.block_noqa)
        notes += failure_notes(outcome.failures, document)
        if outcome.error:
            notes.append(f"{path}: {outcome.error}")
        left, page_skipped = page_findings(document, outcome.remaining)
        skipped += page_skipped
        if outcome.text != document.source:
            try:
                new_text = document.render(outcome.text)
            except render_errors() as e:
                errors.append(FileError(path, str(e)))
                left, again = lint_document(document, SourceText(document.source), path, settings)
                skipped += again
            else:
                fixed.update(outcome.fixed_codes)
                changes += new_text != text
                text = new_text
        remaining += [document.locate(d) for d in left]
    if changes > 1:  # a later stage moved the rows an earlier one reported at
        remaining = check_text(path, open_document(path, text), text, settings)[0]

    def unchanged(diagnostics: list[Diagnostic], error: str | None = None) -> FileResult:
        """The result when the file keeps its text (nothing fixed, or `error` why not)."""
        found = errors + ([FileError(path, error)] if error else [])
        return FileResult(path, diagnostics, found, notes=notes, skipped=_unique(skipped))

    diagnostics = sorted(remaining, key=lambda d: d.sort_key)
    if text == file.decoded.text:
        return unchanged(diagnostics)
    try:
        new_data = encode_like(file.decoded, file.data, text)
    except UnicodeError as e:
        return unchanged(_check_unchanged(file, settings), f"not written: {e}")
    if options.mode is Mode.FIX_WRITE:
        if parent_gone():
            return unchanged(diagnostics)
        try:
            write_atomic(path, new_data, file.stat_result)
        except OSError as e:
            return unchanged(_check_unchanged(file, settings), f"not written: {error_message(e)}")
    return FileResult(path, diagnostics, errors, fixed, file.decoded.text, text, new_data, notes, _unique(skipped))


def _check_unchanged(file: _File, settings) -> list[Diagnostic]:
    """The findings of the file as it is on disk (its fix was not written)."""
    return check_text(file.path, file.document, file.decoded.text, settings)[0]


def _add_noqa_file(file: _File, settings) -> FileResult:
    path, document = file.path, file.document
    source = SourceText(document.source)
    findings = [d for d in lint_source_text(source, path, settings, block_noqa=document.block_noqa)
                if d.code not in NOT_SUPPRESSIBLE]
    edits = add_noqa_edits(source, findings)
    if not edits:
        return FileResult(path)
    new_text = apply_edits(document.source, source, edits)
    if not parses(new_text, path, lowering=not parses(document.source, path, lowering=False)):
        return FileResult(path, errors=[FileError(path, "noqa directives not added: the result would not parse")])
    if parent_gone():
        return FileResult(path)
    try:
        write_atomic(path, encode_like(file.decoded, file.data, document.render(new_text)), file.stat_result)
    except (OSError, *render_errors()) as e:
        reason = error_message(e) if isinstance(e, OSError) else str(e)
        return FileResult(path, errors=[FileError(path, f"not written: {reason}")])
    return FileResult(path, noqa_added=len(edits))
