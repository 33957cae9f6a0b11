"""Documentation pages (Markdown, MyST, reStructuredText) and docstrings: the Python code of
their code blocks as one source, and a fixed source spliced back into the page's blocks.

The blocks of a page are one program, in order, as a notebook's cells are: they are joined
with a boundary comment line between them, and each line of the joined source remembers the
page row it came from and what stood before the code there (the block's indentation, a
`>>> `/`... ` prompt), so that findings point at the page and a fix changes only code. A
block that does not parse is skipped, with one note. Markdown is read with markdown-it-py
(CommonMark, with source line maps), imported only when a Markdown page is read;
reStructuredText is read by the small directive scanner below (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

from convlint.diagnostics import Diagnostic, Edit, Location

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")  # any other page (files.DOC_SUFFIXES) is reST
BOUNDARY = "# convlint-block-boundary-"

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_PYTHON_LANGUAGES = {"python", "py", "python3", "py3", "pycon", "python-console", "ipython", "ipython3"}
_CONSOLE_LANGUAGES = {"pycon", "python-console"}
_MYST_CODE = re.compile(r"\{(code-block|code|sourcecode|code-cell|testcode|doctest)\}")
_MYST_OPTION = re.compile(r"\s*:[\w-]+:.*")
_NOQA_MD = re.compile(r"\s*(?:>\s*)*<!--\s*convlint:\s*noqa\s*-->\s*")
_NOQA_RST = re.compile(r"\s*\.\.\s+convlint:\s*noqa\s*")
_PROMPT = re.compile(r">>>(?: |$)")
_CONTINUATION = re.compile(r"\.\.\.(?: |$)")


class PageError(Exception):
    """A fixed source that cannot be written back into the page exactly."""


@dataclass(frozen=True)
class CodeLine:
    row: int  # 0-based row of the page
    prefix: str  # what stands before the code on that row: indentation, a prompt
    code: str  # the code, without the line ending
    ending: str  # the row's line ending ("" on a last row without one)


@dataclass
class Block:
    first_row: int  # 0-based row of the block's first content line
    last_row: int  # 0-based row of its last content line (inclusive); first_row - 1 if empty
    lines: list[CodeLine]  # the code lines, in order; other rows of the block are output
    console: bool  # `>>>` prompts
    indent: str  # what stands before new lines' code (before the prompt, in a console)
    noqa: bool = False  # a `convlint: noqa` comment before the block
    python: str = ""  # the code as analysed, every line ending with a newline


@dataclass
class Page:
    """A page's code blocks as one Python source (`source`), and how to go back."""

    path: str
    text: str
    rows: list[str]  # the page's rows, with their line endings
    blocks: list[Block]
    token: str
    source: str
    starts: list[int]  # the row of `source` where each block's first code line is
    skipped: list[str] = field(default_factory=list)  # one note per block not analysed
    docstrings: bool = False  # the blocks are the `>>>` examples of a Python file's docstrings

    # ----------------------------------------------------------------- positions

    def page_location(self, loc: Location) -> Location:
        """Where a location of `source` is on the page; a boundary row (or a row past the
        code) is the end of the block before it."""
        i = bisect_right(self.starts, loc.row) - 1
        if i < 0:
            first = self.blocks[0].lines[0]
            return Location(first.row + 1, len(first.prefix) + 1)
        lines = self.blocks[i].lines
        k = loc.row - self.starts[i]
        if k < len(lines):
            return Location(lines[k].row + 1, loc.column + len(lines[k].prefix))
        last = lines[-1]
        return Location(last.row + 1, len(last.prefix) + len(last.code) + 1)

    @staticmethod
    def block_noqa(source: str) -> frozenset[int]:
        """The rows of a (fixed) `source` in blocks under a `convlint: noqa` comment: those
        after a boundary marked `-noqa`, up to the next boundary."""
        rows, inside = set(), False
        for row, line in enumerate(_LINE.findall(source), start=1):
            if BOUNDARY in line and _BOUNDARY_LINE.fullmatch(line):
                inside = line.rstrip("\r\n").endswith(_NOQA_MARK)
            elif inside:
                rows.add(row)
        return frozenset(rows)

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        """Move a diagnostic (and its fix edits) from `source` rows to page rows; a fix whose
        edits cannot be written into the page is dropped (`fix` says why when it is asked)."""
        fix = diagnostic.fix
        if fix is not None and fix.edits:
            edits = [self._page_edit(e) for e in fix.edits]
            fix = None if None in edits else replace(fix, edits=tuple(edits))
        noqa_row = diagnostic.noqa_row
        if noqa_row is not None:
            noqa_row = self.page_location(Location(noqa_row, 1)).row
        return replace(diagnostic, start=self.page_location(diagnostic.start),
                       end=self.page_location(diagnostic.end), fix=fix, noqa_row=noqa_row)

    def _page_edit(self, edit: Edit) -> Edit | None:
        """An edit of `source` as the edit of the page that rendering it makes: the span
        where the page would change, with what would stand there (None: it cannot be
        written back)."""
        from convlint.source import SourceText, apply_edits

        source = SourceText(self.source)
        try:
            new = self.render(apply_edits(self.source, source, [edit]))
        except PageError:
            return None
        old = self.text
        head = 0
        limit = min(len(old), len(new))
        while head < limit and old[head] == new[head]:
            head += 1
        tail = 0
        while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
            tail += 1
        lines = SourceText(old)
        return Edit(lines.location(head), lines.location(len(old) - tail), new[head : len(new) - tail])

    # ----------------------------------------------------------------- writing back

    def render(self, fixed_source: str) -> str:
        """The page with its code blocks taken from a fixed `source`; raises PageError when
        the fixed code cannot be put back into the blocks so that they read as it."""
        chunks = _boundaries(self.token).split(fixed_source)[1:]
        if len(chunks) != len(self.blocks):
            raise PageError("the fix moved code across code blocks; not written")
        out: list[str] = []
        row = 0
        changed = []
        for i, (block, chunk) in enumerate(zip(self.blocks, chunks)):
            if chunk == block.python:
                continue
            changed.append(i)
            out.extend(self.rows[row : block.first_row])
            out.extend(_render_block(self, block, chunk))
            row = block.last_row + 1
        if not changed:
            return self.text
        out.extend(self.rows[row:])
        new_text = "".join(out)
        if self.docstrings:
            from convlint.analysis.syntax import parse

            try:
                again = read_docstrings(self.path, new_text, parse(new_text, self.path).tree, self.token)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                raise PageError("a docstring example's fix would break the file; not written") from None
        else:
            again = read_page(self.path, new_text, self.token)
        if again.source != fixed_source or not all(_prompts_fit(again.blocks[i]) for i in changed):
            raise PageError("a code block's fix cannot be written back into the page exactly; not written")
        return new_text


def _prompts_fit(block: Block) -> bool:
    """Whether a console block's `>>>` rows are where its statements start (and `...` rows
    continue them), as doctest reads them."""
    if not block.console:
        return True
    starts = _statement_rows(block.python)
    return all((n in starts) == line.prefix.rstrip().endswith(">>>")
               for n, line in enumerate(block.lines, start=1) if line.code.strip())


def _render_block(page: Page, block: Block, chunk: str) -> list[str]:
    """The rows of a block whose code became `chunk`: unchanged code lines keep their rows
    (and the output rows after them), changed lines keep the prefixes of the lines they
    replace, new lines get the block's indentation (and prompt)."""
    old = [line.code for line in block.lines]
    new = [line.rstrip("\r\n") for line in _LINE.findall(chunk)]
    starts = _statement_rows(chunk) if block.console else set()
    newline = next((line.ending for line in block.lines if line.ending), "\n")
    # The rows that follow each code line up to the next one (console output, options).
    tails: list[list[str]] = []
    for k, line in enumerate(block.lines):
        until = block.lines[k + 1].row if k + 1 < len(block.lines) else block.last_row + 1
        tails.append(page.rows[line.row + 1 : until])
    out = list(page.rows[block.first_row : block.lines[0].row]) if block.lines else []

    def emit(code: str, prefix: str, ending: str) -> None:
        out.append((prefix + code if code else prefix.rstrip(" \t")) + ending)

    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i1, i2):
                out.append(page.rows[block.lines[k].row])
                out.extend(tails[k])
            continue
        for n, j in enumerate(range(j1, j2)):
            same_shape = tag == "replace" and i2 - i1 == j2 - j1
            ending = (block.lines[i1 + n].ending if same_shape else "") or newline
            if block.console:  # the prompt says whether the line starts a statement
                emit(new[j], block.indent + (">>> " if j + 1 in starts else "... "), ending)
            else:
                emit(new[j], block.lines[i1 + n].prefix if same_shape else block.indent, ending)
        for k in range(i1, i2):
            out.extend(tails[k])
    if out and block.lines and not block.lines[-1].ending and block.last_row == len(page.rows) - 1:
        out[-1] = out[-1].rstrip("\r\n")  # the page ended without a newline: it still does
    return out


def _statement_rows(code: str) -> set[int]:
    """The 1-based rows where a top-level statement starts (a console's `>>>` rows)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    rows = set()
    for stmt in tree.body:
        decorators = getattr(stmt, "decorator_list", None)
        rows.add(min([stmt.lineno] + [d.lineno for d in decorators or ()]))
    return rows


# --------------------------------------------------------------------------- reading


def read_page(path: str, text: str, token: str | None = None) -> Page:
    """The code blocks of a Markdown or reStructuredText page (by its suffix), as one source."""
    rows = _LINE.findall(text)
    if path.lower().endswith(MARKDOWN_SUFFIXES):
        found = _markdown_blocks(text, rows)
    else:
        found = _rst_blocks(rows)
    return _assemble(path, text, rows, found, token)


def read_docstrings(path: str, text: str, tree: ast.Module, token: str | None = None) -> Page:
    """The `>>>` examples in the docstrings of a Python file, as one source."""
    rows = _LINE.findall(text)
    page = _assemble(path, text, rows, _docstring_blocks(rows, tree), token)
    page.docstrings = True
    return page


@dataclass
class _Found:
    """A block as a reader found it: its content rows and what stands before the code."""

    first_row: int
    last_row: int
    prefixes: list[tuple[int, str] | None]  # for each row: (row, prefix) or None (not code)
    console: bool
    indent: str
    declared: bool  # declared Python (a note when it does not parse), or only guessed
    where: int  # the 0-based row to name in a note
    noqa: bool = False
    broken: str | None = None  # why it cannot be mapped exactly


def _assemble(path: str, text: str, rows: list[str], found: list[_Found], token: str | None) -> Page:
    from convlint.analysis.syntax import parses

    blocks: list[Block] = []
    skipped: list[str] = []
    for f in found:
        if f.broken:
            skipped.append(f"{path}:{f.where + 1}: code block skipped: {f.broken}")
            continue
        block = _code_lines(rows, f)
        if block is None:
            if f.declared:
                skipped.append(f"{path}:{f.where + 1}: code block skipped: its first line is indented")
            continue
        if not block.lines:
            continue
        if not parses(block.python, path):
            if f.declared:
                skipped.append(f"{path}:{f.where + 1}: code block skipped: it does not parse as Python")
            continue
        blocks.append(block)
    if token is None:
        token = _token(text)
    parts, starts = [], []
    row = 1
    for block in blocks:
        # Fragments use `torch` without importing it: the page is read as if it did, ahead
        # of its first block (cell_layout knows that row is not the page's).
        mark = _NOQA_MARK if block.noqa else ""
        parts.append(("import torch  " if not parts else "") + _boundary(token) + mark + "\n" + block.python)
        starts.append(row + 1)
        row += 1 + block.python.count("\n")
    return Page(path, text, rows, blocks, token, "".join(parts), starts, skipped)


def _code_lines(rows: list[str], f: _Found) -> Block | None:
    lines: list[CodeLine] = []
    after_code = False
    for item in f.prefixes:
        if item is None:
            after_code = False
            continue
        row, prefix = item
        body = rows[row].rstrip("\r\n")
        ending = rows[row][len(body):]
        rest = body[len(prefix):]
        if f.console:
            prompt = _PROMPT.match(rest)
            if prompt is None and after_code:
                prompt = _CONTINUATION.match(rest)
            if prompt is None:  # output
                after_code = False
                continue
            after_code = True
            prefix, rest = prefix + prompt.group(), rest[prompt.end():]
        lines.append(CodeLine(row, prefix, rest, ending))
    while lines and not lines[-1].code.strip():
        lines.pop()  # blank lines around the code are the block's, not the code's
    while lines and not lines[0].code.strip():
        lines.pop(0)
    python = "".join(line.code + "\n" for line in lines)
    if lines and _dedent_width(python):
        return None  # an indented first line: not code as it stands
    return Block(f.first_row, f.last_row, lines, f.console, f.indent, f.noqa, python)


def _dedent_width(python: str) -> int:
    first = next((line for line in python.splitlines() if line.strip()), "")
    return len(first) - len(first.lstrip())


def _token(text: str) -> str:
    import hashlib

    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    for i in range(len(digest) - 8):
        if digest[i : i + 8] not in text:
            return digest[i : i + 8]
    n = 0
    while f"{digest}{n}" in text:
        n += 1
    return f"{digest}{n}"


def _boundary(token: str) -> str:
    return f"{BOUNDARY}{token}"


_NOQA_MARK = "-noqa"  # ends the boundary before a block under a `convlint: noqa` comment
_BOUNDARY_LINE = re.compile(rf"(?:import torch  )?{BOUNDARY}\w+(?:{_NOQA_MARK})?\n")


def _boundaries(token: str) -> re.Pattern:
    return re.compile(rf"^(?:import torch  )?{re.escape(_boundary(token))}(?:{_NOQA_MARK})?\n", re.MULTILINE)


def _noqa_before(rows: list[str], row: int, pattern: re.Pattern) -> bool:
    """Whether the nearest non-blank row before `row` is a `convlint: noqa` comment."""
    for r in range(row - 1, -1, -1):
        if rows[r].strip():
            return pattern.fullmatch(rows[r].rstrip("\r\n")) is not None
    return False


def _language(info: str) -> tuple[str, bool]:
    """A fence's language (lower case) and whether it is a MyST directive."""
    words = info.split()
    if not words:
        return "", False
    if _MYST_CODE.fullmatch(words[0]):
        return (words[1].lower() if len(words) > 1 else "python"), True
    return words[0].strip("{}").lower(), False


# --------------------------------------------------------------------------- Markdown


def _markdown_blocks(text: str, rows: list[str]) -> list[_Found]:
    from markdown_it import MarkdownIt  # only pages that are Markdown pay for it

    found = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type != "fence" or token.map is None:
            continue
        language, myst = _language(token.info)
        content = token.content.split("\n") if token.content else []
        if content and content[-1] == "":
            content.pop()
        console = language in _CONSOLE_LANGUAGES
        first_code = next((c for c in content if c.strip() and not (myst and _MYST_OPTION.fullmatch(c))), "")
        if language not in _PYTHON_LANGUAGES:
            if language or not first_code.lstrip().startswith(">>>"):
                continue  # another language (diff, shell...), or an unlabelled block
            console = True
        console = console or first_code.startswith(">>>")
        start = token.map[0] + 1
        f = _Found(start, start + len(content) - 1, [], console, "", language != "", token.map[0],
                   _noqa_before(rows, token.map[0], _NOQA_MD))
        options = myst
        for n, line in enumerate(content):
            row = start + n
            body = rows[row].rstrip("\r\n") if row < len(rows) else ""
            if options and _MYST_OPTION.fullmatch(line):
                f.prefixes.append(None)
                continue
            options = False
            if not body.endswith(line):
                f.broken = f"line {row + 1} is not the same text in the page and in the block (tabs?)"
                break
            prefix = body[: len(body) - len(line)]
            if line:
                f.indent = f.indent or prefix
            f.prefixes.append((row, prefix))
        found.append(f)
    return found


# --------------------------------------------------------------------------- reStructuredText

_DIRECTIVE = re.compile(r"(\s*)\.\.\s+(code-block|code|sourcecode|testcode|testsetup|testcleanup|doctest|jupyter-execute)::\s*(\S*)\s*")
# Directives whose body is not reStructuredText (no code block is nested in it).
_OPAQUE_DIRECTIVE = re.compile(r"\s*\.\.\s+(?:ipython|math|raw|parsed-literal|literalinclude|csv-table|"
                               r"toctree|autosummary|mermaid|graphviz|highlight|testoutput)::")
_LITERAL_INTRO = re.compile(r"(\s*)(?!\.\.\s)(?:.*\S)?::")


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _rst_blocks(rows: list[str]) -> list[_Found]:
    found: list[_Found] = []
    n = len(rows)
    r = 0
    while r < n:
        body = rows[r].rstrip("\r\n")
        directive = _DIRECTIVE.fullmatch(body)
        if directive is not None:
            language = directive.group(3).lower()
            kind = directive.group(2)
            end, f = _rst_body(rows, r + 1, len(directive.group(1)), options=True)
            python = kind.startswith("test") or kind in ("doctest", "jupyter-execute") or language in _PYTHON_LANGUAGES or (
                not language and kind in ("code-block", "sourcecode"))
            if python and f is not None:
                f.console = kind == "doctest" or language in _CONSOLE_LANGUAGES or _first_code(rows, f).startswith(">>>")
                f.where, f.noqa = r, _noqa_before(rows, r, _NOQA_RST)
                found.append(f)
            r = max(end, r + 1)
            continue
        if _OPAQUE_DIRECTIVE.match(body):
            end, _ = _rst_body(rows, r + 1, len(_indent_of(body)), options=True)
            r = max(end, r + 1)
            continue
        intro = _LITERAL_INTRO.fullmatch(body)
        if intro is not None and r + 1 < n and not rows[r + 1].strip():
            end, f = _rst_body(rows, r + 1, len(intro.group(1)), options=False)
            if f is not None:
                f.declared = False
                f.console = _first_code(rows, f).startswith(">>>")
                f.where, f.noqa = r, _noqa_before(rows, r, _NOQA_RST)
                found.append(f)
            r = max(end, r + 1)
            continue
        if body.lstrip().startswith(">>>"):  # a doctest block: up to the next blank row
            indent = _indent_of(body)
            end = r
            while end < n and rows[end].strip():
                end += 1
            f = _Found(r, end - 1, [], True, indent, True, r, _noqa_before(rows, r, _NOQA_RST))
            for row in range(r, end):
                if not rows[row].startswith(indent):
                    f.broken = f"line {row + 1} is indented less than the block"
                f.prefixes.append((row, indent))
            found.append(f)
            r = end
            continue
        r += 1
    return found


def _first_code(rows: list[str], f: _Found) -> str:
    for item in f.prefixes:
        if item is not None and rows[item[0]].strip():
            return rows[item[0]][len(item[1]):]
    return ""


def _rst_body(rows: list[str], start: int, parent: int, options: bool) -> tuple[int, _Found | None]:
    """The indented body after a directive (its options skipped) or a `::` paragraph:
    (the row after it, the block)."""
    n = len(rows)
    r = start
    if options:
        while r < n and rows[r].strip() and len(_indent_of(rows[r])) > parent and rows[r].lstrip().startswith(":"):
            r += 1
    end = r
    while end < n and (not rows[end].strip() or len(_indent_of(rows[end])) > parent):
        end += 1
    while end > r and not rows[end - 1].strip():
        end -= 1
    content = [row for row in range(r, end)]
    code_rows = [row for row in content if rows[row].strip()]
    if not code_rows:
        return end, None
    indent = min((_indent_of(rows[row]) for row in code_rows), key=len)
    f = _Found(r, end - 1, [], False, indent, True, r)
    for row in content:
        line = rows[row].rstrip("\r\n")
        if not line.strip():
            f.prefixes.append((row, line))
        elif line.startswith(indent):
            f.prefixes.append((row, indent))
        else:
            f.broken = f"line {row + 1} is indented unlike the block's first line (tabs and spaces)"
    return end, f


# --------------------------------------------------------------------------- docstrings


def _docstring_blocks(rows: list[str], tree: ast.Module) -> list[_Found]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if not (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            continue
        literal = body[0].value
        first, last = literal.lineno - 1, literal.end_lineno - 1
        raw = "".join(rows[first : last + 1])
        escapes = "\\" in raw and not re.match(r"\s*[rR]", rows[first][literal.col_offset:])
        r = first + 1  # the opening row holds the quotes
        while r < last:
            body_text = rows[r].rstrip("\r\n")
            if not body_text.lstrip().startswith(">>>"):
                r += 1
                continue
            indent = _indent_of(body_text)
            end = r
            while end < last and rows[end].strip() and rows[end].startswith(indent):
                end += 1
            f = _Found(r, end - 1, [(row, indent) for row in range(r, end)], True, indent, True, r)
            if escapes and "\\" in "".join(rows[r:end]):
                f.broken = "a backslash in a docstring that is not raw reads differently in the code"
            found.append(f)
            r = end
    return sorted(found, key=lambda f: f.first_row)
