"""`# noqa` comments: per line (`# noqa`, `# noqa: CL101,CL102`) and per file (`# convlint:
noqa` or `# flake8: noqa` on a line of its own anywhere, optionally with codes, as Ruff reads
`# ruff: noqa`); the edits that add codes to them (`check --add-noqa`) or take codes out
(CL900)."""

from __future__ import annotations

import bisect
import re
import tokenize
from dataclasses import dataclass

from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.source import SourceText

_NOQA = re.compile(
    r"#\s*noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
# As Ruff's file exemption: the tool's name as written (case-sensitive), `noqa` in any case,
# on a line of its own (only indentation before the `#`).
_FILE_NOQA = re.compile(
    r"[ \t\f]*#\s*(?:convlint|flake8)\s*:\s*(?i:noqa)(?::\s?(?P<codes>[A-Za-z]+[0-9]+(?:[,\s]+[A-Za-z]+[0-9]+)*))?",
)


@dataclass(frozen=True)
class Noqa:
    row: int
    codes: frozenset[str] | None  # None: a bare `# noqa`, which suppresses everything
    comment: str = ""  # the comment the directive is in
    column: int = 0  # where that comment starts in its row, in characters from 0

    def suppresses(self, code: str) -> bool:
        return self.codes is None or code in self.codes

    @property
    def location(self) -> tuple[Location, Location]:
        """Where the directive itself (`# noqa: ...`) is in its row."""
        match = _NOQA.search(self.comment)
        return Location(self.row, self.column + match.start() + 1), Location(self.row, self.column + match.end() + 1)

    @property
    def written(self) -> list[str]:
        """The codes as the comment lists them, in order and spelling."""
        codes = _NOQA.search(self.comment).group("codes")
        return _split_codes(codes) if codes else []


def _split_codes(codes: str) -> list[str]:
    return [c for c in re.split(r"[,\s]+", codes.strip()) if c]


def _codes(match: re.Match) -> frozenset[str] | None:
    codes = match.group("codes")
    if not codes:
        return None
    return frozenset(c.upper() for c in _split_codes(codes))


def file_exemption(source: SourceText) -> frozenset[str] | None | bool:
    """`# convlint: noqa` or `# flake8: noqa` (optionally `: CODES`) on a line of its own,
    anywhere in the file, in a real comment (not in a string).

    False when there is none; None when one exempts the whole file; else the exempted codes
    (of every such line).
    """
    if "noqa" not in source.text.lower():
        return False
    candidates = {}
    for row, line in enumerate(source.lines, 1):
        match = _FILE_NOQA.match(line)
        if match:
            candidates[row] = match
    if not candidates:
        return False
    comments = _comment_starts(source, set(candidates))
    codes: set[str] = set()
    found = False
    for row, match in candidates.items():
        if comments.get(row) != source.lines[row - 1].index("#"):
            continue  # inside a string, or after code
        found = True
        exempted = _codes(match)
        if exempted is None:
            return None
        codes |= exempted
    return frozenset(codes) if found else False


def _comment_starts(source: SourceText, rows: set[int]) -> dict[int, int]:
    """The column of the comment that starts each of `rows`, for the rows that have one."""
    starts: dict[int, int] = {}
    try:
        for token in tokenize.generate_tokens(_python_lines(source)):
            if token.type == tokenize.COMMENT and token.start[0] in rows:
                starts[token.start[0]] = token.start[1]
                if len(starts) == len(rows):
                    break
    except (tokenize.TokenError, SyntaxError):
        pass  # keep the comments read before the tokenizer stopped
    return starts


def line_directives(source: SourceText) -> dict[int, Noqa]:
    """The `# noqa` comments of a file by the rows they cover. Real comments only, never
    text in strings."""
    if "noqa" not in source.text.lower():
        return {}
    return _scan(source)[0]


def _scan(source: SourceText) -> tuple[dict[int, Noqa], list[int]]:
    """The directives by row, and the rows a comment can end (sorted).

    A row that ends inside a string or in a backslash continuation cannot hold a comment:
    as in Ruff, the directive on the row where that ends covers it too.
    """
    directives: dict[int, Noqa] = {}
    comment_rows: list[int] = []
    first_open = 1  # the first row not yet ended by a NEWLINE or NL token
    try:
        for token in tokenize.generate_tokens(_python_lines(source)):
            if token.type == tokenize.COMMENT:
                match = _NOQA.search(token.string)
                if match:
                    row = token.start[0]
                    noqa = Noqa(row, _codes(match), token.string, token.start[1])
                    directives.update(dict.fromkeys(range(first_open, row + 1), noqa))
            elif token.type in (tokenize.NEWLINE, tokenize.NL):
                comment_rows.append(token.start[0])
                first_open = token.start[0] + 1
    except (tokenize.TokenError, SyntaxError):
        pass  # the file parsed with ast, so this is a tokenizer corner case: keep what we have
    return directives, comment_rows


def _python_lines(source: SourceText):
    """`readline` over the file's lines as Python splits them (at CR, LF and CRLF), each
    ending in LF: the tokenizer splits at LF only, and its rows must be `ast`'s."""
    lines = iter(source.lines)

    def readline() -> str:
        line = next(lines, "")
        body = line.rstrip("\r\n")
        return body + "\n" if len(body) != len(line) else line

    return readline


def is_suppressed(diagnostic: Diagnostic, directives: dict[int, Noqa]) -> bool:
    """A `# noqa` on any line of the finding's range suppresses it."""
    for row in range(diagnostic.start.row, diagnostic.end.row + 1):
        directive = directives.get(row)
        if directive is not None and directive.suppresses(diagnostic.code):
            return True
    return False


def noqa_edit(source: SourceText, directive: Noqa, codes: list[str]) -> Edit:
    """The edit that makes `directive` list exactly `codes`, or removes it when there are
    none: the whole comment with the space before it, or the line when nothing else is on it."""
    match = _NOQA.search(directive.comment)
    row, base = directive.row, directive.column
    if codes:  # a directive with codes (a bare one is never edited)
        start, end = match.span("codes")
        return Edit(Location(row, base + start + 1), Location(row, base + end + 1), ", ".join(codes))
    comment_end = Location(row, base + len(directive.comment) + 1)
    before = directive.comment[: match.start()].rstrip()
    after = directive.comment[match.end() :].strip().lstrip("#").strip()
    if before or after:  # the comment says more than the directive: keep that, as comments
        kept = "  ".join(part for part in (before, after and f"# {after}") if part)
        return Edit(Location(row, base + 1), comment_end, kept)
    code = source.line_text(row)[:base].rstrip()
    if not code:
        return Edit(Location(row, 1), Location(row + 1, 1), "")
    return Edit(Location(row, len(code) + 1), comment_end, "")


def add_noqa_edits(source: SourceText, diagnostics: list[Diagnostic]) -> list[Edit]:
    """One edit per row that gets `# noqa: CODES` for the diagnostics: the row the rule names
    (`noqa_row`: the row of a multi-line call's `.to(`), else the row where each starts (or
    where the string or continuation it ends in ends), merged into the directive already
    there. A bare `# noqa` already suppresses everything."""
    directives, comment_rows = _scan(source)
    wanted: dict[int, list[str]] = {}
    for d in diagnostics:
        i = bisect.bisect_left(comment_rows, d.noqa_row or d.start.row)
        if i < len(comment_rows):
            codes = wanted.setdefault(comment_rows[i], [])
            if d.code not in codes:
                codes.append(d.code)
    edits = []
    for row, codes in sorted(wanted.items()):
        directive = directives.get(row)
        if directive is None:
            line = source.line_text(row)
            code_end = Location(row, len(line.rstrip()) + 1)
            line_end = Location(row, len(line.rstrip("\r\n")) + 1)
            edits.append(Edit(code_end, line_end, f"  # noqa: {', '.join(codes)}"))
        elif directive.codes is not None:
            new = [c for c in codes if c not in directive.codes]
            if new:
                edits.append(noqa_edit(source, directive, directive.written + new))
    return edits
