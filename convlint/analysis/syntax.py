"""Parse a source into an `ast` tree on any supported interpreter.

The running interpreter's `ast` is the fast path. A file using syntax newer than the
interpreter (PEP 695 type parameters and `type` aliases, PEP 701 f-strings, PEP 750
t-strings, PEP 758 `except A, B:`, `except*` on 3.10) is parsed with LibCST, whose parser
knows every version, and *lowered*: each newer construct is blanked into older syntax of the
same length, line by line, so that every position outside it (every call convlint reports or
rewrites) is where it is in the original text. None of the lowered constructs can hold a
finding: type parameters, type aliases, a failed except-tuple, and the replacement fields of
f-strings the interpreter cannot read (those calls are not analysed).
"""

from __future__ import annotations

import ast
import re
import symtable
import sys
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Parsed:
    tree: ast.Module
    lowered: bool  # the tree is of the lowered text (newer syntax was blanked)


def parse(text: str, filename: str = "<unknown>") -> Parsed:
    """The tree of `text`. Raises SyntaxError (the interpreter's own) when no Python version
    accepts it; ValueError, RecursionError and MemoryError as `ast.parse` does."""
    try:
        return Parsed(_native_parse(text, filename), False)
    except SyntaxError as error:
        if _NESTING.search(error.msg or "") or _depth(text) > MAX_LOWERING_DEPTH:
            raise  # LibCST's parser would overflow its stack on what the interpreter refused
        lowered = _in_big_stack(_lower, text)
        if lowered is None:
            raise  # invalid in every version: the interpreter's own error, as Python says it
        try:
            return Parsed(ast.parse(lowered, filename=filename), True)
        except SyntaxError:
            raise error from None


def _native_parse(text: str, filename: str) -> ast.Module:
    """`ast.parse`, refusing with RecursionError what the interpreter cannot compile for
    its nesting: from 3.11 on `ast.parse` refuses it itself; 3.10's parser builds the tree
    and only its compiler (the symbol table) gives up, so there the symbol table is built
    too (in C, about half a parse; only files past the byte prefilter are parsed)."""
    tree = ast.parse(text, filename=filename)
    if sys.version_info < (3, 11):
        try:
            symtable.symtable(text, filename, "exec")
        except SyntaxError:
            pass  # what the compiler, not the parser, refuses: 3.11 builds the tree too
    return tree


# What the interpreter says of nesting it cannot parse: no other parser should try.
_NESTING = re.compile(r"too many (?:nested|statically nested)|too deeply nested|parser stack")
MAX_LOWERING_DEPTH = 400
_STACK_BYTES = 256 << 20


def _depth(text: str) -> int:
    """The deepest bracket nesting of the text (strings and comments counted too: an upper
    bound is all this needs)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        if match.group() in "([{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


_BRACKETS = re.compile(r"[()\[\]{}]")


def _in_big_stack(function, *args):
    """Run `function` in a thread with a large stack: LibCST's native parser recurses on the
    C stack."""
    result: list = [None]

    def run() -> None:
        try:
            result[0] = function(*args)
        except Exception:  # the file stays a syntax error
            result[0] = None

    old = threading.stack_size(_STACK_BYTES)
    try:
        worker = threading.Thread(target=run, name="convlint-lower")
        worker.start()
    finally:
        threading.stack_size(old)
    worker.join()
    return result[0]


def parses(text: str, filename: str = "<unknown>", lowering: bool = True) -> bool:
    """Whether `text` parses; without `lowering`, only as the running interpreter reads it
    (a fix of a file the interpreter reads must stay one it reads)."""
    try:
        if not lowering:
            _native_parse(text, filename)
        else:
            parse(text, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _lower(text: str) -> str | None:
    """`text` with every construct newer than the interpreter blanked, or None when LibCST
    cannot parse it either (or it holds none of them)."""
    import libcst as cst  # only files the interpreter cannot parse pay for it
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        module = cst.parse_module(text)
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return None
    except Exception:  # LibCST raises its own errors on odd input; the file stays CL000
        return None
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position) -> int:
        return starts[position.line - 1] + position.column

    spans: list[tuple[int, int, str]] = []
    for node, where in positions.items():
        kind = _lowering(node, cst)
        if kind is None:
            continue
        if kind == "string" and _old_parser_accepts(text[offset(where.start) : offset(where.end)]):
            continue
        if kind == "except-types":
            start, end = offset(positions[node.type].start), offset(positions[node.type].end)
        elif kind == "except-star":
            start = offset(where.start) + len("except")
            end = start + 1
        else:
            start, end = offset(where.start), offset(where.end)
        spans.append((start, end, kind))
    if not spans:
        return None
    out, last = [], 0
    for start, end, kind in _outermost(spans):
        out.append(text[last:start])
        out.append(_blank(text[start:end], kind))
        last = end
    out.append(text[last:])
    return "".join(out)


def _lowering(node, cst) -> str | None:
    if isinstance(node, cst.TypeParameters):
        return "blank"
    if isinstance(node, cst.TypeAlias):
        return "statement"
    if isinstance(node, (cst.FormattedString, getattr(cst, "TemplatedString", ()))):
        return "string"
    if isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)) and isinstance(node.type, cst.Tuple) \
            and not node.type.lpar:
        return "except-types"
    if isinstance(node, cst.ExceptStarHandler):
        return "except-star"
    return None


def _old_parser_accepts(literal: str) -> bool:
    try:
        ast.parse(f"({literal})", mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _outermost(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    kept: list[tuple[int, int, str]] = []
    for span in sorted(spans, key=lambda s: (s[0], -s[1])):
        if kept and span[0] < kept[-1][1]:
            continue  # inside one already blanked
        kept.append(span)
    return kept


def _blank(segment: str, kind: str) -> str:
    """The same number of characters on each line, in older syntax: spaces (with a backslash
    continuation where the blanked text spanned lines), `""` for a string, `pass` for a
    statement."""
    if kind == "except-star":
        return " "
    parts = segment.split("\n")
    blanked = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        body = part[:-1] if part.endswith("\r") else part
        cr = "\r" if part.endswith("\r") else ""
        width = len(body)
        lead = ""
        if kind == "string" and (i == 0 or last):
            lead = '""'
        elif kind == "statement" and i == 0:
            lead = "pass"
        cont = "" if last else "\\"
        fill = max(width - len(lead) - len(cont), 0)
        blanked.append(lead + " " * fill + cont + cr)
    return "\n".join(blanked)
