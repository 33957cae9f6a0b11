"""Parse successive versions of one editor buffer, reusing the unchanged top-level statements
of the previous tree: a keystroke in one function of a long file parses that function.

Between two top-level statements that do not share a line, the tokenizer is at a fresh line
with no bracket or string open, so the text from there up to the next kept statement parses
alone exactly as it does in the whole file; where it does not parse alone (an unclosed
bracket, a decorator cut from its def) the whole text is parsed. The kept statements after
the edit are moved by the number of lines it added or removed. Only trees of the fast path
are reused (a text that needs the lowering of syntax.py is parsed whole each time).
"""

from __future__ import annotations

import ast
import re

from convlint.analysis.syntax import Parsed, parse

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
# A future import that changes what the parser accepts: then nothing is reused.
_PARSER_FUTURE = "barry_as_FLUFL"


class Reparser:
    """The parser of one buffer: `parse(text)` as syntax.parse, with the previous tree reused.

    It owns the trees it returns: the statements kept from one tree are moved into the next,
    so a tree is valid only until the next call.
    """

    def __init__(self) -> None:
        self._lines: list[str] | None = None
        self._tree: ast.Module | None = None
        self.reused = 0  # top-level statements the last parse kept (for tests and benchmarks)

    def parse(self, text: str, filename: str = "<unknown>") -> Parsed:
        lines = _LINE.findall(text)
        tree = self._splice(lines) if self._tree is not None else None
        if tree is None:
            self.reused = 0
            parsed = parse(text, filename)  # raises as syntax.parse does; the last good tree stays
            if parsed.lowered:
                self._lines = self._tree = None
                return parsed
            tree = parsed.tree
        self._lines, self._tree = lines, tree
        return Parsed(tree, False)

    def _splice(self, new: list[str]) -> ast.Module | None:
        old, body = self._lines, self._tree.body
        if not body or any(_PARSER_FUTURE in line for line in new):
            return None
        limit = min(len(old), len(new))
        head = 0
        while head < limit and old[head] == new[head]:
            head += 1
        tail = 0
        while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
            tail += 1
        spans = [(_first_line(s), s.end_lineno) for s in body]
        # Keep the statements wholly in the unchanged head (1-based rows <= head), up to a
        # cut where the next statement starts on a later row (no `;` between); likewise
        # those wholly in the unchanged tail.
        keep_head = 0
        i = 0
        while i < len(body) and spans[i][1] <= head:
            if _apart(spans, i) and not _continued(old[spans[i][1] - 1]):
                keep_head = i + 1
            i += 1
        changed_end = len(old) - tail  # the last changed row of the old text (1-based)
        keep_tail = len(body)
        j = len(body) - 1
        while j >= keep_head and spans[j][0] > changed_end:
            if _apart(spans, j - 1):
                keep_tail = j
            j -= 1
        if keep_head == 0 and keep_tail == len(body):
            return None  # nothing to keep: a whole parse
        start = spans[keep_head - 1][1] if keep_head else 0  # rows before the new segment
        delta = len(new) - len(old)
        end = spans[keep_tail][0] - 1 + delta if keep_tail < len(body) else len(new)
        try:
            segment = ast.parse("".join(new[start:end]))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        if start:
            _move(segment.body, start)
        kept_tail = body[keep_tail:]
        if delta:
            _move(kept_tail, delta)
        self.reused = keep_head + len(kept_tail)
        return ast.Module(body=body[:keep_head] + segment.body + kept_tail, type_ignores=[])


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None)
    return min([statement.lineno] + [d.lineno for d in decorators]) if decorators else statement.lineno


def _apart(spans: list[tuple[int, int]], i: int) -> bool:
    """Whether statement i ends on an earlier row than statement i + 1 starts (no `;`)."""
    return i < 0 or i + 1 >= len(spans) or spans[i][1] < spans[i + 1][0]


def _continued(line: str) -> bool:
    """Whether a row ends in a backslash: a statement ending there may go on into the next
    row (a continuation the tree's positions do not show), so no cut is made after it."""
    return line.rstrip("\r\n").endswith("\\")


def _move(statements: list[ast.stmt], rows: int) -> None:
    """Shift every node of the statements by `rows` rows (a tight walk: it visits every node
    after the edit)."""
    stack: list[ast.AST] = list(statements)
    pop, push, extend, node_type = stack.pop, stack.append, stack.extend, ast.AST
    while stack:
        node = pop()
        if node._attributes:  # the nodes with positions (not contexts, operators, arguments)
            node.lineno += rows
            end = getattr(node, "end_lineno", None)
            if end is not None:
                node.end_lineno = end + rows
        for name in node._fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                extend([v for v in value if isinstance(v, node_type)])
            elif isinstance(value, node_type) and value._fields:
                push(value)
