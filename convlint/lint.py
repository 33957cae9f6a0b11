"""Lint one source: which rules apply to a file, the byte prefilter, and a decoded text ->
its findings (parse, rules, noqa, selection), for a .py file, a notebook, a documentation
page's code blocks or a file's docstring examples. Never reads, writes or prints.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import lru_cache

from convlint.analysis import analyze
from convlint.analysis.syntax import parse
from convlint.config import Settings
from convlint.diagnostics import Diagnostic, Fix, Location
from convlint.files import is_doc_path
from convlint.notebook import Notebook, NotebookError, load_notebook
from convlint.rules import ALL_RULES, SYNTAX_ERROR, Context, Rule
from convlint.source import SourceText
from convlint.suppress import file_exemption, is_suppressed

# A `# noqa` for a finding about suppressions (CL900) would only suppress that.
NOT_SUPPRESSIBLE = {SYNTAX_ERROR}.union(*(rule.codes for rule in ALL_RULES if rule.after_findings))


def rules_for(path: str, settings: Settings) -> tuple[Rule, ...]:
    if not settings.per_file_ignores:  # the same for every file: decide once per run
        return _rules_for_every_file(settings)
    enabled = settings.enabled_codes(path)
    return tuple(r for r in ALL_RULES if any(enabled(c) for c in r.codes))


@lru_cache(maxsize=64)  # one entry per distinct settings: a monorepo has a few
def _rules_for_every_file(settings: Settings) -> tuple[Rule, ...]:
    return tuple(r for r in ALL_RULES if any(settings.is_enabled(c) for c in r.codes))


def prefilter(data: bytes, rules: tuple[Rule, ...]) -> bool:
    """True when the file may have a finding and must be parsed."""
    words = _needed_words(rules)
    if words is not None and not any(word in data for word in words):
        return False  # most files: one scan per distinct word, then no rule is asked
    return any(rule.triggered(data) for rule in rules)


@lru_cache(maxsize=64)
def _needed_words(rules: tuple[Rule, ...]) -> tuple[bytes, ...] | None:
    """A file that contains none of these words cannot trigger any of the rules."""
    if any(not rule.needs for rule in rules):
        return None
    return tuple(sorted({word for rule in rules for word in rule.needs}))


def lint_source(text: str, path: str, settings: Settings, noqa: bool = True, parser=parse) -> list[Diagnostic]:
    """All findings of one decoded source, suppressions and selection applied, sorted.

    `noqa=False` leaves `# noqa` comments to a host that applies its own (flake8); `parser`
    is syntax.parse or one that reuses a buffer's previous tree (analysis/reparse.py).
    """
    source = SourceText(text)
    return lint_source_text(source, path, settings, noqa, parser)


def lint_buffer(text: str, path: str, settings: Settings, noqa: bool = True, parser=parse) -> list[Diagnostic]:
    """`lint_source` behind the byte prefilter, as `run` lints a file: for integrations that
    hold the text themselves (flake8, the language server), so they report what `check` does."""
    rules = rules_for(path, settings)
    if not rules or not prefilter(text.encode("utf-8", "surrogatepass"), rules):
        return []
    if is_doc_path(path):  # a page: its fixes computed here, where the page's rows are known
        page = open_document(path, text)
        source = SourceText(page.source)
        found, _ = page_findings(page, lint_source_text(source, path, settings, noqa, block_noqa=page.block_noqa))
        return [page.locate(d) for d in materialize_fixes(found, source)[0]]
    return lint_source(text, path, settings, noqa, parser)


def lint_source_text(source: SourceText, path: str, settings: Settings, noqa: bool = True, parser=parse,
                     block_noqa=None) -> list[Diagnostic]:
    """`lint_source` of a source already split into lines. `block_noqa(text)`: the rows of
    `text` whose findings a page's `convlint: noqa` comment suppresses (a page's source,
    markup.Page.block_noqa)."""
    exemption = file_exemption(source)
    if exemption is None:
        return []
    try:
        tree = parser(source.text, filename=path).tree
    except SyntaxError as e:
        return [syntax_error(path, source, e)]
    except (ValueError, RecursionError, MemoryError) as e:  # NUL bytes, absurd nesting
        return [syntax_error(path, source, SyntaxError(_parse_failure(e)))]
    ctx = Context(path, source, tree, settings, analyze(path, source.text, tree, settings.project_root))
    rules = rules_for(path, settings)
    enabled = settings.enabled_codes(path)
    diagnostics = [d for rule in rules if not rule.after_findings for d in rule.check(ctx)]
    judges = [rule for rule in rules if rule.after_findings]
    if judges:  # CL900 judges the suppressions by what the other rules found
        ctx.findings = list(diagnostics)
        codes = {SYNTAX_ERROR}.union(*(rule.codes for rule in rules if not rule.after_findings))
        ctx.checked_codes = frozenset(c for c in codes if enabled(c))
        for rule in judges:
            diagnostics.extend(rule.check(ctx))
    directives = ctx.directives if diagnostics and noqa else {}
    noqa_blocks = block_noqa(source.text) if block_noqa and diagnostics else frozenset()
    kept = [
        d
        for d in diagnostics
        if enabled(d.code)
        and not is_suppressed(d, directives)
        and not (exemption and d.code in exemption)
        and d.start.row not in noqa_blocks
    ]
    return sorted(kept, key=lambda d: d.sort_key)


def _parse_failure(error: Exception) -> str:
    if isinstance(error, ValueError):  # Python < 3.12 on NUL bytes
        return str(error)
    return "too deeply nested to parse"


def syntax_error(path: str, source: SourceText | None, error: SyntaxError) -> Diagnostic:
    row = error.lineno or 1
    column = error.offset or 1
    if source is not None and row > len(source.lines):
        row, column = max(len(source.lines), 1), 1
    at = Location(row, max(column, 1))
    message = (error.msg or str(error)).splitlines()[0] if (error.msg or str(error)) else "invalid syntax"
    return Diagnostic(path, SYNTAX_ERROR, f"syntax error: {message}", at, at)


def materialize_fixes(diagnostics: list[Diagnostic], source: SourceText) -> tuple[list[Diagnostic], list[tuple[Diagnostic, str]]]:
    """Compute the edits of planned fixes. A fix that cannot be done safely is dropped, and
    returned with the reason among the failures."""
    out, failures = [], []
    for d in diagnostics:
        if d.fix is None or d.fix.plan is None:
            out.append(d)
            continue
        from convlint import codemod  # codemod is imported only when a fix is computed

        try:
            edits = codemod.materialize(d.fix.plan, source)
        except codemod.FixError as e:
            failures.append((d, str(e)))
            out.append(replace(d, fix=None))
            continue
        out.append(replace(d, fix=Fix(d.fix.applicability, d.fix.message, edits)))
    return out, failures


class PythonDocument:
    """A .py file: analysed as it is."""

    def __init__(self, text: str):
        self.source = text

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        return diagnostic

    def render(self, fixed_source: str) -> str:
        return fixed_source

    # What a documentation page (markup.Page) also has: a .py file has no such blocks.
    block_noqa = None
    skipped: tuple[str, ...] = ()


def open_document(path: str, text: str):
    """The analysable form of a file's text: a PythonDocument, a Notebook or a Page (of
    markup.py: a documentation page's code blocks). Raises NotebookError for a broken
    notebook."""
    if path.endswith(".ipynb"):
        return load_notebook(text)
    if is_doc_path(path):
        from convlint.markup import read_page  # only runs that meet a page pay for markdown-it

        return read_page(path, text)
    return PythonDocument(text)


def docstring_examples(path: str, text: str, settings: Settings):
    """The `>>>` examples of a .py file's docstrings as a Page (`docstring-code = true`), or
    None."""
    if not (settings.docstring_code and path.endswith((".py", ".pyi"))):
        return None
    from convlint.markup import read_docstrings

    try:
        tree = parse(text, filename=path).tree
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the file's own CL000 says why
    page = read_docstrings(path, text, tree)
    return page if page.blocks or page.skipped else None


_RENDER_ERRORS = (NotebookError, UnicodeError)


def render_errors() -> tuple[type[Exception], ...]:
    """What rendering a fixed source back into its file may raise."""
    if "convlint.markup" not in sys.modules:
        return _RENDER_ERRORS
    from convlint.markup import PageError

    return _RENDER_ERRORS + (PageError,)


def check_text(path: str, document, text: str, settings: Settings, edits: bool = False
               ) -> tuple[list[Diagnostic], list[str], list[str]]:
    """The findings of `text` (a file's, with `document` its analysable form), at file rows,
    sorted; the notes of the fixes whose edits could not be computed (`edits`: computed for
    output); and the notes of the code blocks skipped."""
    found, notes, skipped = [], [], []
    for doc in _documents(path, document, text, settings):
        source = SourceText(doc.source)
        diagnostics, skipped_here = lint_document(doc, source, path, settings)
        skipped += skipped_here
        if edits:
            diagnostics, failures = materialize_fixes(diagnostics, source)
            notes += failure_notes(failures, doc)
        found += [doc.locate(d) for d in diagnostics]
    return sorted(found, key=lambda d: d.sort_key), notes, skipped


def _documents(path: str, document, text: str, settings: Settings) -> list:
    """What is analysed in a file's text: its document, and (`docstring-code = true`) the
    examples in its docstrings."""
    examples = docstring_examples(path, text, settings)
    return [document] + ([examples] if examples is not None else [])


def lint_document(document, source: SourceText, path: str, settings: Settings) -> tuple[list[Diagnostic], list[str]]:
    """`lint_source_text` of a document's source, and the notes of its blocks skipped."""
    found, skipped = page_findings(document, lint_source_text(source, path, settings, block_noqa=document.block_noqa))
    return found, [*document.skipped, *skipped]


def page_findings(document, diagnostics: list[Diagnostic]) -> tuple[list[Diagnostic], list[str]]:
    """A page's blocks each parse (those that do not are skipped, with a note), so a syntax
    error of their joined source is only noted: docs are full of pseudo-code, and a page
    never gets a CL000. The findings kept, and those notes."""
    if isinstance(document, (PythonDocument, Notebook)):
        return diagnostics, []
    skipped = [f"{document.locate(d).where}: code blocks skipped: {d.message}" for d in diagnostics if d.code == SYNTAX_ERROR]
    return [d for d in diagnostics if d.code != SYNTAX_ERROR], skipped


def failure_notes(failures: list[tuple[Diagnostic, str]], document) -> list[str]:
    return [f"{document.locate(d).where}: {d.code} not fixed: {reason}" for d, reason in failures]
