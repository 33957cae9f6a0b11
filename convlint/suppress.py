"""`# noqa` comments: per line (`# noqa`, `# noqa: CL101,CL102`) and per file
(`# convlint: noqa` in the file's header, optionally with codes)."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

from convlint.diagnostics import Diagnostic
from convlint.source import SourceText

_NOQA = re.compile(
    r"#\s*noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_FILE_NOQA = re.compile(
    r"#\s*convlint\s*:\s*noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Noqa:
    row: int
    codes: frozenset[str] | None  # None: a bare `# noqa`, which suppresses everything

    def suppresses(self, code: str) -> bool:
        return self.codes is None or code in self.codes


def _codes(match: re.Match) -> frozenset[str] | None:
    codes = match.group("codes")
    if not codes:
        return None
    return frozenset(c.upper() for c in re.split(r"[,\s]+", codes.strip()) if c)


def file_exemption(source: SourceText) -> frozenset[str] | None | bool:
    """`# convlint: noqa` in the header (the comment lines before the first code line).

    False when there is none; None when it exempts the whole file; else the exempted codes.
    """
    for line in source.lines:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        match = _FILE_NOQA.search(stripped)
        if match:
            return _codes(match)
    return False


def line_directives(source: SourceText) -> dict[int, Noqa]:
    """The `# noqa` comments of a file by row. Real comments only, never text in strings."""
    if "noqa" not in source.text.lower():
        return {}
    directives = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source.text).readline):
            if token.type == tokenize.COMMENT:
                match = _NOQA.search(token.string)
                if match:
                    directives[token.start[0]] = Noqa(token.start[0], _codes(match))
    except (tokenize.TokenError, SyntaxError):
        pass  # the file parsed with ast, so this is a tokenizer corner case: keep what we have
    return directives


def is_suppressed(diagnostic: Diagnostic, directives: dict[int, Noqa]) -> bool:
    """A `# noqa` on any line of the finding's range suppresses it."""
    for row in range(diagnostic.start.row, diagnostic.end.row + 1):
        directive = directives.get(row)
        if directive is not None and directive.suppresses(diagnostic.code):
            return True
    return False
