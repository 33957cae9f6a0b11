"""Lint and fix: one file's source -> diagnostics (+ fixed source); many files in a pool.

The pipeline: read bytes -> byte prefilter (most files stop here, unparsed) -> decode ->
parse (analysis/syntax.py) -> rules -> noqa -> selection. Fixing re-runs that analysis after each round of
edits, so one analysis drives both `check` and `fix`. The engine never prints.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache

from convlint.analysis import analyze
from convlint.analysis.project import forget_projects, project_for
from convlint.analysis.syntax import parse, parses
from convlint.config import Configuration, Settings
from convlint.diagnostics import Diagnostic, Edit, Fix, Location
from convlint.discovery import discover_files, path_sort_key
from convlint.files import DecodedSource, FileError, decode_source, encode_like, error_message, is_doc_path, read_bytes
from convlint.notebook import Notebook, NotebookError, load_notebook
from convlint.rules import ALL_RULES, SYNTAX_ERROR, Context, Rule
from convlint.rules.converters import orphaned_imports
from convlint.source import SourceText, apply_edits
from convlint.suppress import add_noqa_edits, file_exemption, is_suppressed

MAX_FIX_PASSES = 10
# Below this many candidate files per worker a process pool costs more than it saves.
MIN_FILES_PER_WORKER = 4
# From this many files on, the workers read and filter too, SCAN_CHUNK paths at a time.
PARALLEL_SCAN_FILES = 500
SCAN_CHUNK = 64


@dataclass
class Options:
    """What to do with each file, beyond the settings."""

    fix: bool = False  # compute fixed sources
    write: bool = False  # write fixed sources back
    unsafe_fixes: bool = False
    edits: bool = False  # materialize fix edits for output (JSON, SARIF)
    add_noqa: bool = False  # write a `# noqa` for every finding instead
    cache: bool = False  # keep check results in .convlint_cache (never fixes)

    @property
    def cached(self) -> bool:
        return self.cache and not (self.fix or self.add_noqa)


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


# --------------------------------------------------------------------------- one source


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
    return _lint(source, path, settings, noqa, parser)


def lint_buffer(text: str, path: str, settings: Settings, noqa: bool = True, parser=parse) -> list[Diagnostic]:
    """`lint_source` behind the byte prefilter, as `run` lints a file: for integrations that
    hold the text themselves (flake8, the language server), so they report what `check` does."""
    rules = rules_for(path, settings)
    if not rules or not prefilter(text.encode("utf-8", "surrogatepass"), rules):
        return []
    if is_doc_path(path):  # a page: its fixes computed here, where the page's rows are known
        page = open_document(path, text)
        source = SourceText(page.source)
        found = _page_findings(page, _lint(source, path, settings, noqa, block_noqa=page.block_noqa), FileResult(path))
        return [page.locate(d) for d in materialize_fixes(found, source)[0]]
    return lint_source(text, path, settings, noqa, parser)


def fix_buffer(text: str, path: str, settings: Settings, unsafe: bool) -> FixOutcome:
    """`fix_source` for a host that holds the text (the server's fix-all): a page's blocks
    are fixed and put back into the page, and what remains is at page rows."""
    if not is_doc_path(path):
        return fix_source(text, path, settings, unsafe)
    page = open_document(path, text)
    outcome = fix_source(page.source, path, settings, unsafe, page.block_noqa)
    try:
        rendered = page.render(outcome.text)
    except _write_errors() as e:
        return FixOutcome(text, Counter(), [], [], str(e))
    remaining = [page.locate(d) for d in _page_findings(page, outcome.remaining, FileResult(path))]
    return replace(outcome, text=rendered, remaining=remaining)


def _lint(source: SourceText, path: str, settings: Settings, noqa: bool = True, parser=parse,
          block_noqa=None) -> list[Diagnostic]:
    """`block_noqa(text)`: the rows of `text` whose findings a page's `convlint: noqa`
    comment suppresses (a page's source, markup.Page.block_noqa)."""
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
        remaining = _lint(source, path, settings, block_noqa=block_noqa)
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


# --------------------------------------------------------------------------- files


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


def _docstring_examples(path: str, text: str, settings: Settings):
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


_WRITE_ERRORS = (NotebookError, UnicodeError)


def process_file(path: str, data: bytes, stat_result: os.stat_result | None, settings: Settings, options: Options) -> FileResult:
    """Lint (and fix) one file whose bytes passed the prefilter. Never raises."""
    result = FileResult(path)
    try:
        _process(path, data, stat_result, settings, options, result)
    except RecursionError:
        result.errors.append(FileError(path, "too deeply nested to analyze"))
    except Exception as e:  # one bad file must never stop the run
        result.errors.append(FileError(path, f"internal error: {type(e).__name__}: {e}"))
    return result


def _process(path, data, stat_result, settings, options, result: FileResult) -> None:
    try:
        decoded = decode_source(data)
        document = open_document(path, decoded.text)
    except SyntaxError as e:
        if is_doc_path(path):  # a page cannot be decoded: no code of it was read
            result.errors.append(FileError(path, e.msg or str(e)))
            return
        result.diagnostics.append(syntax_error(path, None, e))
        return
    except NotebookError as e:
        result.diagnostics.append(syntax_error(path, None, SyntaxError(str(e))))
        return
    file = _File(path, data, decoded, document, stat_result)
    if options.fix:
        _fix_file(file, settings, options, result)
    elif options.add_noqa:
        _add_noqa_file(file, settings, result)
    else:
        result.diagnostics = _check(file, document, decoded.text, settings, result, options.edits)


def _documents(file: _File, document, text: str, settings: Settings) -> list:
    """What is analysed in a file's text: its document, and (`docstring-code = true`) the
    examples in its docstrings."""
    examples = _docstring_examples(file.path, text, settings)
    return [document] + ([examples] if examples is not None else [])


def _check(file: _File, document, text: str, settings: Settings, result: FileResult, edits: bool = False) -> list[Diagnostic]:
    """The findings of `text` (the file's, with `document` its analysable form), at file rows."""
    found = []
    for doc in _documents(file, document, text, settings):
        source = SourceText(doc.source)
        diagnostics = _lint_document(doc, source, file.path, settings, result)
        if edits:
            diagnostics, failures = materialize_fixes(diagnostics, source)
            result.notes += failure_notes(failures, doc)
        found += [doc.locate(d) for d in diagnostics]
    return sorted(found, key=lambda d: d.sort_key)


def _lint_document(document, source: SourceText, path: str, settings: Settings, result: FileResult) -> list[Diagnostic]:
    """`_lint` of a document's source, its skipped blocks noted in `result`."""
    _note_skipped(document, result)
    return _page_findings(document, _lint(source, path, settings, block_noqa=document.block_noqa), result)


def _note_skipped(document, result: FileResult) -> None:
    result.skipped += [note for note in document.skipped if note not in result.skipped]


def _page_findings(document, diagnostics: list[Diagnostic], result: FileResult) -> list[Diagnostic]:
    """A page's blocks each parse (those that do not are skipped, with a note), so a syntax
    error of their joined source is only noted: docs are full of pseudo-code, and a page
    never gets a CL000."""
    if isinstance(document, (PythonDocument, Notebook)):
        return diagnostics
    for d in diagnostics:
        if d.code == SYNTAX_ERROR:
            result.skipped.append(f"{document.locate(d).where}: code blocks skipped: {d.message}")
    return [d for d in diagnostics if d.code != SYNTAX_ERROR]


@dataclass
class _File:
    """A file being fixed: what was read, and how to write it back."""

    path: str
    data: bytes
    decoded: DecodedSource
    document: object  # PythonDocument | Notebook | Page
    stat_result: os.stat_result | None


def failure_notes(failures: list[tuple[Diagnostic, str]], document) -> list[str]:
    return [f"{document.locate(d).where}: {d.code} not fixed: {reason}" for d, reason in failures]


def _fix_file(file: _File, settings, options, result: FileResult) -> None:
    path = file.path
    text = file.decoded.text
    fixed: Counter[str] = Counter()
    remaining: list[Diagnostic] = []
    changes = 0
    # The file's own code first; then (docstring-code) the examples of its fixed docstrings.
    stages = (lambda _: file.document, lambda current: _docstring_examples(path, current, settings))
    for stage in stages:
        document = stage(text)  # the examples of the docstrings as the code's fix left them
        if document is None:
            continue
        _note_skipped(document, result)
        outcome = fix_source(document.source, path, settings, options.unsafe_fixes, document.block_noqa)
        result.notes += failure_notes(outcome.failures, document)
        if outcome.error:
            result.notes.append(f"{path}: {outcome.error}")
        left = _page_findings(document, outcome.remaining, result)
        if outcome.text != document.source:
            try:
                new_text = document.render(outcome.text)
            except _write_errors() as e:
                result.errors.append(FileError(path, str(e)))
                left = _lint_document(document, SourceText(document.source), path, settings, result)
            else:
                fixed.update(outcome.fixed_codes)
                changes += new_text != text
                text = new_text
        remaining += [document.locate(d) for d in left]
    if changes > 1:  # a later stage moved the rows an earlier one reported at
        remaining = _check(file, open_document(path, text), text, settings, FileResult(path))
    result.diagnostics = sorted(remaining, key=lambda d: d.sort_key)
    if text == file.decoded.text:
        return
    try:
        new_data = encode_like(file.decoded, file.data, text)
    except UnicodeError as e:
        result.errors.append(FileError(path, f"not written: {e}"))
        result.diagnostics = _check(file, file.document, file.decoded.text, settings, FileResult(path))
        return
    if options.write:
        if _parent_gone():
            return
        try:
            write_atomic(path, new_data, file.stat_result)
        except OSError as e:
            result.errors.append(FileError(path, f"not written: {error_message(e)}"))
            result.diagnostics = _check(file, file.document, file.decoded.text, settings, FileResult(path))
            return
    result.fixed_codes = fixed
    result.original, result.fixed_source, result.fixed_data = file.decoded.text, text, new_data


def _write_errors() -> tuple[type[Exception], ...]:
    """What rendering a fixed source back into its file may raise."""
    if "convlint.markup" not in sys.modules:
        return _WRITE_ERRORS
    from convlint.markup import PageError

    return _WRITE_ERRORS + (PageError,)


# A `# noqa` for a finding about suppressions (CL900) would only suppress that.
NOT_SUPPRESSIBLE = {SYNTAX_ERROR}.union(*(rule.codes for rule in ALL_RULES if rule.after_findings))


def _add_noqa_file(file: _File, settings, result: FileResult) -> None:
    path, document = file.path, file.document
    source = SourceText(document.source)
    findings = [d for d in _lint(source, path, settings, block_noqa=document.block_noqa)
                if d.code not in NOT_SUPPRESSIBLE]
    edits = add_noqa_edits(source, findings)
    if not edits:
        return
    new_text = apply_edits(document.source, source, edits)
    if not parses(new_text, path, lowering=not parses(document.source, path, lowering=False)):
        result.errors.append(FileError(path, "noqa directives not added: the result would not parse"))
        return
    if _parent_gone():
        return
    try:
        write_atomic(path, encode_like(file.decoded, file.data, document.render(new_text)), file.stat_result)
    except (OSError, *_write_errors()) as e:
        reason = error_message(e) if isinstance(e, OSError) else str(e)
        result.errors.append(FileError(path, f"not written: {reason}"))
        return
    result.noqa_added = len(edits)


def write_atomic(path: str, data: bytes, expected: os.stat_result | None) -> None:
    """Write through a temporary file and a rename, keeping the mode, the owner and the group.

    Refuses a file that is read-only, that changed on disk since it was read, that has other
    hard links (a rename would split them: the other names would keep the old text), or whose
    owner or group this process cannot give the new file (it would become ours).
    """
    target = os.path.realpath(path)  # write through a symlink, keep the link
    current = os.stat(target)
    if not (current.st_mode & 0o222) or not os.access(target, os.W_OK):
        raise PermissionError(13, "the file is read-only")
    if expected is not None and (current.st_mtime_ns, current.st_size, current.st_ino) != (
        expected.st_mtime_ns, expected.st_size, expected.st_ino
    ):
        raise OSError(0, "the file changed on disk since it was read")
    if current.st_nlink > 1:
        raise OSError(0, f"the file has {current.st_nlink} hard links, which writing it through a rename would break")
    directory, name = os.path.split(target)
    directory = directory or "."
    _remove_stale_temporaries(directory)
    # The pid in the name lets a later run tell a temporary whose writer was killed before
    # its rename (SIGKILL cannot be caught) from one that a live run is writing.
    import tempfile  # only runs that write pay for the import

    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=TEMPORARY_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            _keep_owner(f.fileno(), current)
        os.chmod(tmp, stat.S_IMODE(current.st_mode))  # after chown, which may clear set-id bits
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _keep_owner(fd: int, original: os.stat_result) -> None:
    """Give the new file the original's owner and group, or raise PermissionError."""
    created = os.fstat(fd)
    if (created.st_uid, created.st_gid) == (original.st_uid, original.st_gid) or not hasattr(os, "fchown"):
        return
    try:
        os.fchown(fd, original.st_uid, original.st_gid)
    except PermissionError:
        if created.st_uid == original.st_uid:  # only the group differs: one we are in may do
            try:
                os.fchown(fd, -1, original.st_gid)
            except PermissionError:
                pass
    after = os.fstat(fd)
    if (after.st_uid, after.st_gid) != (original.st_uid, original.st_gid):
        raise PermissionError(13, "its owner or group cannot be kept (writing it would make the file ours)")


TEMPORARY_SUFFIX = ".convlint-tmp"
_TEMPORARY = re.compile(r"\..+\.(\d+)\.[^.]+" + re.escape(TEMPORARY_SUFFIX), re.DOTALL)
_SWEPT: set[str] = set()  # directories this process has cleaned


def _remove_stale_temporaries(directory: str) -> None:
    """Delete the temporaries of writers that died between creating and renaming them (at
    most one a killed process), the first time this process writes into `directory`."""
    if directory in _SWEPT or os.name != "posix":  # os.kill(pid, 0) is a liveness test on POSIX only
        return
    _SWEPT.add(directory)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for entry in names:
        match = _TEMPORARY.fullmatch(entry)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # another user's process (EPERM), or not a pid at all
        return True
    try:  # a killed worker stays a zombie until it is reaped, and answers kill(pid, 0)
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:  # no /proc: believe kill(pid, 0)
        return True


def run(paths: list[str], config: Configuration, options: Options, jobs: int | None = None) -> list[FileResult]:
    """Lint (or fix) every file under `paths`, each with its own settings. Results sorted
    by path; errors per file.

    A large tree is read, filtered and analysed by the workers, in chunks of paths of the
    same settings (only paths, settings and findings cross between processes); a small one
    is read here, and only its candidates go to workers, when there are enough of them to
    pay for a pool. With the result cache (one per settings), a file whose stat or content
    (and dependencies) is unchanged is answered from it, unparsed.
    """
    global _CACHES
    forget_projects()
    discovered = discover_files(paths, config)
    files = discovered.files
    results = [FileResult(e.path, errors=[e]) for e in discovered.errors]
    results += [FileResult(n.path, notes=[f"{n.path}: {n.message}"]) for n in discovered.notes]
    groups = _by_settings(files, config)
    _CACHES = {}
    if options.cached:
        from convlint.cache import ResultCache

        _CACHES = {settings: ResultCache.load(settings, options.edits) for settings in groups}
    caches = _CACHES
    jobs = jobs or os.cpu_count() or 1
    new_entries: dict = {}
    try:
        if jobs > 1 and len(files) >= PARALLEL_SCAN_FILES:
            chunks = [(group[i : i + SCAN_CHUNK], settings, options)
                      for settings, group in groups.items() for i in range(0, len(group), SCAN_CHUNK)]
            for found, entries in _pool_map(_scan_files, chunks, jobs):
                results.extend(found)
                new_entries.update(entries)
        else:
            candidates = []
            for settings, group in groups.items():
                unreadable, found, entries = _partition(group, settings, options)
                results.extend(unreadable)
                candidates.extend(found)
                new_entries.update(entries)
            workers = min(jobs, len(candidates) // MIN_FILES_PER_WORKER)
            done = (_pool_map(_process_candidate, candidates, workers) if workers > 1
                    else [_process_candidate(c) for c in candidates])
            for result, key, entry in done:
                results.append(result)
                if entry is not None:
                    new_entries[key] = entry
    finally:
        _CACHES = {}
    by_file = {cache.path: cache for cache in caches.values()}
    for (cache_file, key), entry in new_entries.items():
        by_file[cache_file].new[key] = entry
    for cache in caches.values():
        warnings = [w for w in (cache.warning, cache.save()) if w]
        if warnings:  # printed as warnings, like discovery's notes
            results.append(FileResult(cache.path, notes=warnings))
    # The order discovery gives (by path components), whichever process found what.
    return sorted(results, key=lambda r: path_sort_key(r.path))


_CACHES: dict = {}  # the run's ResultCache of each settings (workers inherit them when they fork)


def _by_settings(files: list[str], config: Configuration) -> dict[Settings, list[str]]:
    """The files by their settings (most runs: one group), each group in discovery order."""
    groups: dict[Settings, list[str]] = {}
    directory, group = None, []
    for path in files:  # a directory's files are next to each other: one lookup for them all
        here = os.path.dirname(path)
        if here != directory:
            directory, group = here, groups.setdefault(config.settings_for_directory(here), [])
        group.append(path)
    return groups


def _read_candidate(path: str, settings: Settings, new_entries: dict) -> tuple[bytes, os.stat_result] | FileResult | None:
    """A file's bytes and stat when it passes the prefilter and the cache cannot answer;
    None when it cannot have a finding; a FileResult with the error when it cannot be read,
    or with what the cache kept for it."""
    cache = _CACHES.get(settings)
    if cache is not None:
        try:
            status = os.stat(path)
        except OSError:
            status = None
        entry = cache.by_stat(path, status) if status is not None and stat.S_ISREG(status.st_mode) else None
        if entry is not None and entry.result is None:
            return None
        if entry is not None and (kept := _from_cache(path, entry)) is not None:
            return kept
    try:
        data, stat_result = read_bytes(path)
    except OSError as e:
        return FileResult(path, errors=[FileError(path, error_message(e))])
    rules = rules_for(path, settings)
    if not (rules and prefilter(data, rules)):
        if cache is not None and _stat_key(stat_result) is not None:  # else nothing to keep
            new_entries[cache.path, cache.key(path)] = _entry(stat_result, None, {}, None)
        return None
    if cache is not None:
        entry = cache.by_content(path, data)
        if entry is not None and (kept := _from_cache(path, entry)) is not None:
            new_entries[cache.path, cache.key(path)] = replace(entry, stat=_stat_key(stat_result))
            return kept
    return data, stat_result


def _stat_key(status: os.stat_result) -> tuple[int, int] | None:
    from convlint.cache import stat_key

    return stat_key(status)


def _entry(status: os.stat_result, digest: str | None, deps: dict, result: dict | None):
    from convlint.cache import Entry

    return Entry(_stat_key(status), digest, deps, result)


def _from_cache(path: str, entry) -> FileResult | None:
    """The FileResult a candidate's entry kept; None when it does not decode (the file is
    then checked again)."""
    from convlint.cache import decode

    try:
        kept = decode(entry.result)
        return FileResult(path, diagnostics=list(kept["diagnostics"]), notes=list(kept["notes"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _cache_entry(cache, path: str, data: bytes, status: os.stat_result, result: FileResult, project):
    """The entry that answers for this file next time; None when the answer cannot be kept
    (an error)."""
    if result.errors:
        return None
    from convlint.cache import content_hash, encode, project_dependency

    try:
        encoded = encode({"diagnostics": result.diagnostics, "notes": result.notes})
    except TypeError:  # a fix plan the cache does not know how to keep
        return None
    absolute = os.path.abspath(path)
    deps = {dep: cache.hash_of(dep) for dep in sorted(project.consulted) if dep != absolute}
    if project.searched_callers:  # any file of the project may be a caller
        dependency = project_dependency(project.root)
        deps[dependency] = cache.hash_of(dependency)
    return _entry(status, content_hash(data), deps, encoded)


def _partition(paths: list[str], settings: Settings, options: Options) -> tuple[list[FileResult], list[tuple], dict]:
    """Read the files: the results of those that cannot be read (or that the cache
    answers), the candidates, and the cache entries learnt on the way."""
    unreadable, candidates, new_entries = [], [], {}
    for path in paths:
        scanned = _read_candidate(path, settings, new_entries)
        if isinstance(scanned, FileResult):
            unreadable.append(scanned)
        elif scanned is not None:
            candidates.append((path, *scanned, settings, options))
    return unreadable, candidates, new_entries


def _scan_files(args) -> tuple[list[FileResult], dict]:
    """A worker's share of a large tree: read, filter and analyse a chunk of paths."""
    unreadable, candidates, new_entries = _partition(*args)
    results = unreadable
    for result, key, entry in map(_process_candidate, candidates):
        results.append(result)
        if entry is not None:
            new_entries[key] = entry
    return results, new_entries


def _process_candidate(args) -> tuple[FileResult, tuple | None, object]:
    """A candidate's result, and the cache entry that keeps it (or None)."""
    path, data, stat_result, settings, options = args
    cache = _CACHES.get(settings)
    if cache is None:
        return process_file(path, data, stat_result, settings, options), None, None
    project = project_for(path, settings.project_root)
    project.consulted.clear()  # what this file's answer reads, from here on
    project.searched_callers = False
    result = process_file(path, data, stat_result, settings, options)
    return result, (cache.path, cache.key(path)), _cache_entry(cache, path, data, stat_result, result, project)


def run_source(path: str, data: bytes, settings: Settings, options: Options) -> FileResult:
    """Lint (or fix, never write) one source that did not come from a file: stdin."""
    forget_projects()
    rules = rules_for(path, settings)
    if not (rules and prefilter(data, rules)):
        return FileResult(path)
    return process_file(path, data, None, settings, replace(options, write=False))


def _pool_map(function, items: list, jobs: int) -> list:
    """`map` over a process pool of up to `jobs` workers, each taking a few items at a time.

    The workers die with this process (a `kill -9` of it cannot be caught to stop them), and
    a worker whose parent is gone writes nothing.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor  # a run with a pool pays for it

    workers = min(jobs, len(items))
    chunksize = max(1, len(items) // (workers * 4))
    # fork: workers start with everything imported (forkserver and spawn would import
    # convlint again in each, which costs more than most runs).
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    if sys.platform == "linux":
        import ctypes  # noqa: F401 - imported once here, not in every worker
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                             initargs=(os.getpid(),)) as pool:
        return list(pool.map(function, items, chunksize=chunksize))


_PARENT: int | None = None  # in a worker: the pid of the run that started it


def _start_worker(parent: int) -> None:
    global _PARENT
    _PARENT = parent
    _die_with_parent()
    if os.getppid() != parent:  # it died before the worker could ask to die with it
        os._exit(1)


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies (Linux); elsewhere the
    check before each write (`_parent_gone`) is what stops a worker."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _parent_gone() -> bool:
    """In a worker: whether the run that started it has died (nobody would get the result,
    and a write it never sees must not happen)."""
    return _PARENT is not None and os.getppid() != _PARENT
