"""Lays one simple statement out as black and `ruff format` do.

A model of black's line splitting over the tokens of one statement: the whole statement on
one line when it fits; else the right-hand split at the last bracket pair (trying the
optional parentheses of an assignment's value, and gluing trailing trailers on), the
delimiter split of a bracket's body (commas, then `and`/`or`, operators, method-chain
dots), magic trailing commas and comments as black treats them. It covers the statements
a fix rewrites; what it does not model raises `Unsupported`. `codemod` trusts it only where
it reproduces the statement's own layout, the proof that the file is formatted this way.
"""

from __future__ import annotations

import keyword
import unicodedata
from dataclasses import dataclass, field, replace

COMPREHENSION, COMMA, TERNARY, LOGIC, STRING, COMPARATOR, DOT = 20, 18, 16, 14, 12, 10, 1
MATH = {"|": 9, "^": 8, "&": 7, "<<": 6, ">>": 6, "+": 5, "-": 5, "*": 4, "/": 4, "//": 4,
        "%": 4, "@": 4, "**": 2}
COMPARATORS = {"<", ">", "==", "!=", "<=", ">=", "<>"}
OPENING = {"(": ")", "[": "]", "{": "}"}
CLOSING = {")", "]", "}"}
# The keywords after which a bracket opens an atom, not a call or a subscript trailer.
_NOT_CALLABLE = set(keyword.kwlist) - {"True", "False", "None"}
ASSIGNMENTS = {"=", "+=", "-=", "*=", "@=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "**=", "//="}


class Unsupported(Exception):
    """The statement has a shape this model does not lay out as black does."""


class NotFormatted(Unsupported):
    """The statement is not laid out as black lays it out (or black leaves it alone)."""


class VarargComma(Unsupported):
    """A split call's `*args` would take a trailing comma only if black targets Python 3.5+."""


class _CannotSplit(Exception):
    pass


@dataclass(eq=False)
class Leaf:
    """One token. `prefix` is the space before it when it follows another on a line."""

    kind: str  # NAME, NUMBER, STRING, OP or COMMENT (a comment on its own line)
    text: str
    prefix: str = ""
    comments: list[str] = field(default_factory=list)  # trailing comments after it
    invisible: bool = False  # black's optional parentheses: rendered only once split on
    shown: bool = False
    # Out of black's syntax tree: a comma a split added, or a leaf a second opinion copied.
    # Black takes no second opinion on a line holding one (nor a standalone comment).
    detached: bool = False
    # Filled by `prepare`:
    depth: int = 0
    opening: Leaf | None = None  # a closing bracket's partner
    trailer: bool = False  # an opening bracket (or its closing one) of a call or subscript
    before: int = 0  # the priority of a break before this leaf
    after: int = 0  # the priority of a break after it (a comma)
    vararg: bool = False
    call_vararg: bool = False  # a `*`/`**` of a call's arguments

    @property
    def value(self) -> str:
        return "" if self.invisible and not self.shown else self.text


def indent_columns(style) -> int:
    """The columns one indentation step takes: a tab counts as ruff's `indent-width`."""
    return style.tab_width if style.indent == "\t" else len(style.indent)


def str_width(text: str) -> int:
    """Columns as black and ruff count them: wide East Asian characters take two."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


_PRAGMAS = {"isort", "type", "pyright", "pyrefly", "pylint", "flake8", "ruff", "ty"}


def is_pragma(comment: str) -> bool:
    """A comment ruff format leaves out of a line's width (ruff's `is_pragma_comment`)."""
    content = comment[1:].lstrip()
    return content[:4].lower() == "noqa" or content.startswith("nosec") or (
        ":" in content and content.split(":", 1)[0] in _PRAGMAS)


def comment_width(comment: str, style) -> int:
    """The columns a trailing comment, with the two spaces before it, adds to a line's width:
    all of it for black; for ruff format, only what comes before a pragma (`# noqa`,
    `# type:`...) in it."""
    if style.formatter == "ruff":
        for at, char in enumerate(comment):
            if char == "#" and is_pragma(comment[at:]):
                return 2 + str_width(comment[:at].rstrip()) if at else 0
    return 2 + str_width(comment)


def comment_length(comment: str, style) -> int:
    """A trailing comment's length as black's `enumerate_with_length` counts it."""
    return len(comment) if style.formatter != "ruff" else max(comment_width(comment, style) - 2, 0)


def prepare(leaves: list[Leaf]) -> None:
    """Bracket partners, depths and delimiter priorities, as black's bracket tracker has them."""
    stack: list[Leaf] = []
    depth = 0
    pseudo: list[tuple[str, int]] = []  # open `for ... in` targets and lambda parameters
    comprehension_depths: set[int] = set()
    previous: Leaf | None = None
    for leaf in leaves:
        if leaf.kind == "COMMENT":
            leaf.depth = depth
            continue
        text = leaf.text if leaf.kind in ("OP", "NAME") else None
        if pseudo and pseudo[-1][1] == depth and (
            (pseudo[-1][0] == "for" and text == "in" and leaf.kind == "NAME")
            or (pseudo[-1][0] == "lambda" and text == ":")
        ):
            pseudo.pop()
            depth -= 1
            leaf.depth = depth
        elif leaf.kind == "OP" and text in CLOSING:
            if not stack or OPENING[stack[-1].text] != text:
                raise Unsupported("unbalanced brackets")
            leaf.opening = stack.pop()
            leaf.trailer = leaf.opening.trailer
            depth -= 1
            comprehension_depths.discard(depth + 1)
            leaf.depth = depth
        else:
            leaf.depth = depth
        leaf.before = _before_priority(leaf, previous, comprehension_depths)
        leaf.call_vararg = leaf.vararg and bool(stack) and stack[-1].text == "(" and stack[-1].trailer
        leaf.after = COMMA if text == "," and leaf.kind == "OP" else 0
        if leaf.kind == "OP" and text in OPENING:
            leaf.trailer = previous is not None and not leaf.invisible and (
                previous.kind in ("STRING", "NUMBER")
                or (previous.kind == "NAME" and previous.text not in _NOT_CALLABLE)
                or (previous.kind == "OP" and previous.text in CLOSING and not previous.invisible)
            )
            stack.append(leaf)
            depth += 1
        if leaf.kind == "NAME" and text == "for":
            comprehension_depths.add(depth)
            depth += 1
            pseudo.append(("for", depth))
        elif leaf.kind == "NAME" and text == "lambda":
            depth += 1
            pseudo.append(("lambda", depth))
        previous = leaf
    if stack or pseudo:
        raise Unsupported("unbalanced brackets")


def operand_before(previous: Leaf | None) -> bool:
    """Whether an operator after `previous` is binary (an operand ends at `previous`)."""
    if previous is None:
        return False
    if previous.kind in ("NUMBER", "STRING"):
        return True
    if previous.kind == "NAME":
        return previous.text not in keyword.kwlist or previous.text in ("True", "False", "None")
    return previous.text in CLOSING


def _before_priority(leaf: Leaf, previous: Leaf | None, comprehension_depths: set[int]) -> int:
    text = leaf.text
    if leaf.kind == "OP":
        if text == ".":
            return DOT if previous is not None and previous.kind == "OP" and previous.text in CLOSING else 0
        if text in MATH:
            if not operand_before(previous):
                leaf.vararg = text in ("*", "**")
                return 0
            return MATH[text]
        if text in COMPARATORS:
            return COMPARATOR
        return 0
    if leaf.kind == "STRING":
        return STRING if previous is not None and previous.kind == "STRING" else 0
    if leaf.kind != "NAME":
        return 0
    if text == "for":
        return COMPREHENSION if not (previous is not None and previous.text == "async") else 0
    if text == "async":
        return COMPREHENSION
    if text == "if":
        return COMPREHENSION if leaf.depth in comprehension_depths else TERNARY
    if text == "else":
        return TERNARY
    if text == "is":
        return COMPARATOR
    if text == "in":
        return 0 if previous is not None and previous.text == "not" else COMPARATOR
    if text == "not":
        return 0 if previous is not None and previous.text == "is" or not operand_before(previous) else COMPARATOR
    if text in ("and", "or"):
        return LOGIC
    return 0


class Line:
    """A line being laid out: leaves at `depth` indents, with the comments after them."""

    def __init__(self, style, depth: int, leaves=(), comments=None, inside_brackets: bool = False,
                 margin: str = "", exact: bool = True):
        self.style = style
        self.exact = exact  # False: a good layout will do where black's cannot be known
        self.depth = depth
        self.margin = margin  # what stands before the indentation (a fix in place: the line's own)
        self.inside_brackets = inside_brackets
        self.should_split_rhs = False
        self.leaves: list[Leaf] = []
        self.comments: dict[int, list[str]] = {}
        self.magic_trailing_comma: Leaf | None = None
        self.open_brackets = 0
        self.untracked: set[int] = set()  # leaves black's bracket tracker did not mark here
        for leaf in leaves:
            self.append(leaf)
            for comment in (comments or {}).get(id(leaf), ()):
                self.append_comment(comment)

    def child(self, depth: int | None = None, inside_brackets: bool | None = None) -> "Line":
        """An empty line like this one."""
        return Line(self.style, self.depth if depth is None else depth, (), None,
                    self.inside_brackets if inside_brackets is None else inside_brackets, self.margin, self.exact)

    @property
    def indent_width(self) -> int:
        return str_width(self.margin) + indent_columns(self.style) * self.depth

    def append(self, leaf: Leaf, tracked: bool = True) -> None:
        if not tracked:
            self.untracked.add(id(leaf))
        if tracked and leaf.kind == "OP" and leaf.text in CLOSING and self.leaves and self.leaves[-1].text == ","\
                and self.leaves[-1].kind == "OP" and self._magic(leaf):
            if self.style.magic_trailing_comma:
                self.magic_trailing_comma = leaf
            else:  # black removes a trailing comma it does not treat as magic
                comma = self.leaves.pop()
                moved = self.comments.pop(id(comma), [])
                self.comments.setdefault(id(self.leaves[-1]), []).extend(moved)
        if leaf.kind == "OP" and leaf.text in OPENING:
            self.open_brackets += 1
        elif leaf.kind == "OP" and leaf.text in CLOSING:
            self.open_brackets -= 1
        self.leaves.append(leaf)

    def append_comment(self, comment: str) -> None:
        if not self.leaves:
            raise Unsupported("a comment before the first token")
        last = self.leaves[-1]
        if last.invisible and not last.shown and last.text == ")" and len(self.leaves) >= 2 \
                and last.opening is not None and self._span(last) <= 3 and not self.has_standalone_comments():
            last = self.leaves[-2]
        self.comments.setdefault(id(last), []).append(comment)

    def _span(self, closing: Leaf) -> int:
        """How many leaves the bracket pair ending at `closing` holds, brackets included."""
        for i in range(len(self.leaves) - 1, -1, -1):
            if self.leaves[i] is closing.opening:
                return len(self.leaves) - i
        return 1 << 30

    def _magic(self, closing: Leaf) -> bool:
        """A trailing comma before `closing` that makes black explode the brackets."""
        if closing.text == "}":
            return True
        opening = closing.opening
        if closing.text == "]":
            return not (closing.trailer and self._one_sequence(opening, closing))
        return not self._one_sequence(opening, closing)

    def _one_sequence(self, opening: Leaf, closing: Leaf) -> bool:
        if opening.trailer and opening.text == "(":
            return False  # arguments: their commas count twice for black
        commas = 0
        inside = False
        for leaf in self.leaves:
            if leaf is opening:
                inside = True
            elif inside and leaf.text == "," and leaf.kind == "OP" and leaf.depth == opening.depth + 1:
                commas += 1
        return inside and commas < 2

    def has_standalone_comments(self) -> bool:
        return any(leaf.kind == "COMMENT" for leaf in self.leaves)

    @property
    def is_comment(self) -> bool:
        return len(self.leaves) == 1 and self.leaves[0].kind == "COMMENT"

    def comments_after(self, leaf: Leaf) -> list[str]:
        return self.comments.get(id(leaf), [])

    def delimiters(self) -> dict[int, int]:
        """Black's delimiters of this line: a break's priority after each leaf index."""
        if not self.leaves:
            return {}
        base = min(leaf.depth for leaf in self.leaves)
        found: dict[int, int] = {}
        for i, leaf in enumerate(self.leaves):
            if leaf.kind == "COMMENT" or leaf.depth != base:
                continue
            if leaf.before and i > 0:
                found[i - 1] = max(found.get(i - 1, 0), leaf.before)
            if leaf.after:
                found[i] = max(found.get(i, 0), leaf.after)
        return found

    def render(self, comments: bool = True) -> str:
        if not self.leaves:
            return ""
        parts = [self.margin, self.style.indent * self.depth, self.leaves[0].value]
        for leaf in self.leaves[1:]:
            parts.append(leaf.prefix + leaf.value)
        for found in self.comments.values() if comments else ():
            parts.extend("  " + c for c in found)
        return "".join(parts)

    def fits(self, width: int | None = None) -> bool:
        if self.has_standalone_comments():
            return False
        code = self.render(comments=False)
        measured = str_width(code.lstrip("\t")) + (len(code) - len(code.lstrip("\t"))) * indent_columns(self.style) + sum(
            comment_width(c, self.style) for found in self.comments.values() for c in found)
        return measured <= (self.style.line_length if width is None else width)


def _matched(leaves: list[Leaf]) -> set[int]:
    """The leaves within bracket pairs that open and close among `leaves`."""
    kept: set[int] = set()
    stack: list[list[int]] = []
    for leaf in leaves:
        if leaf.kind == "OP" and leaf.text in OPENING:
            stack.append([id(leaf)])
        elif leaf.kind == "OP" and leaf.text in CLOSING:
            if stack:
                ids = stack.pop()
                ids.append(id(leaf))
                kept.update(ids)
                if stack:
                    stack[-1].extend(ids)
        elif stack:
            stack[-1].append(id(leaf))
    return kept


def lay_out(line: Line) -> list[Line]:
    """`line` split as black splits it (black's `transform_line`)."""
    return _transform(line, force_parens=False)


def _transform(line: Line, force_parens: bool) -> list[Line]:
    if line.is_comment:
        return [line]
    if (not line.should_split_rhs and line.magic_trailing_comma is None and line.fits()
            and not (line.inside_brackets and line.has_standalone_comments())):
        return [line]
    if line.inside_brackets:
        transforms = [_delimiter_split, _standalone_comment_split, _rhs_with_omits]
    else:
        transforms = [_rhs_with_omits]
    rendered = line.render()
    for transform in transforms:
        try:
            return _run(line, transform, force_parens, rendered)
        except _CannotSplit:
            continue
    if line.has_standalone_comments():
        if line.exact:
            raise Unsupported("a standalone comment black splits by force")
        return _standalone_comment_split(line, force_parens)
    return [line]


def _run(line: Line, transform, force_parens: bool, rendered: str) -> list[Line]:
    result: list[Line] = []
    for new in transform(line, force_parens):
        if new.render() == rendered:
            raise _CannotSplit("unchanged")
        result.extend(_transform(new, force_parens))
    # Black's `run_transformer`: the optional parentheses its bracket tracker marked on
    # this line decide whether a second opinion with them forced is taken.
    invisible = [leaf for leaf in line.leaves if leaf.invisible and id(leaf) not in line.untracked]
    outer = [leaf for leaf in invisible if leaf.depth == min(x.depth for x in line.leaves)]
    if (force_parens or transform is not _rhs_with_omits or not invisible
            or any(leaf.shown for leaf in outer) or result[0].fits()
            or _long_only_by_subscript_comment(result[0])
            or any(leaf.detached or leaf.kind == "COMMENT" for leaf in line.leaves)):
        return result
    second = _run(_detached_copy(line), transform, True, rendered)
    if all(new.fits() for new in second if not new.is_comment):
        return second
    return result


def _detached_copy(line: Line) -> Line:
    """The line on copies of its leaves, as black's second opinion takes it: what the
    second opinion shows stays hidden in the first, whose leaves leave the syntax tree."""
    copies: dict[int, Leaf] = {}
    for leaf in line.leaves:
        copies[id(leaf)] = replace(leaf, comments=list(leaf.comments))
        leaf.detached = True
    for new in copies.values():
        if new.opening is not None:
            new.opening = copies.get(id(new.opening), new.opening)
    comments = {id(copies[key]): found for key, found in line.comments.items() if key in copies}
    copy = Line(line.style, line.depth, [copies[id(leaf)] for leaf in line.leaves], comments,
                line.inside_brackets, line.margin, line.exact)
    copy.should_split_rhs = line.should_split_rhs
    return copy


# -- the right-hand split -------------------------------------------------------------------

@dataclass
class _RHS:
    head: Line
    body: Line
    tail: Line
    opening: Leaf
    closing: Leaf


def _rhs_with_omits(line: Line, force_parens: bool) -> list[Line]:
    first_lines = None
    prefix_lengths: dict[int, int] = {}
    length = line.indent_width
    for leaf in line.leaves:
        prefix_lengths[id(leaf)] = length
        length += len(leaf.prefix) + len(leaf.value)
    for omit in _trailers_to_omit(line):
        if omit:
            target = next((x.opening for x in reversed(line.leaves)
                           if x.kind == "OP" and x.text in CLOSING and id(x) not in omit), None)
            if target is not None and target.value and prefix_lengths.get(id(target), 0) > line.style.line_length:
                continue
        lines = _right_hand_split(line, force_parens, omit)
        if first_lines is None and not omit:
            first_lines = lines
        if lines[0].fits() or (omit and _long_only_by_subscript_comment(lines[0])):
            return lines
    if first_lines is not None:
        return first_lines
    return _right_hand_split(line, force_parens, set())


def _long_only_by_subscript_comment(line: Line) -> bool:
    if not any(line.comments.values()):
        return False
    bare = Line(line.style, line.depth, line.leaves, None, line.inside_brackets, line.margin)
    if not bare.fits():
        return False
    for leaf in line.leaves:
        if line.comments_after(leaf) and not (leaf.kind == "OP" and leaf.text == "["):
            return False
    return True


def _trailers_to_omit(line: Line):
    omit: set[int] = set()
    if line.magic_trailing_comma is None:
        yield set(omit)
    length = line.indent_width
    opening = closing = None
    inner: set[int] = set()
    leaves = line.leaves
    for index in range(len(leaves) - 1, -1, -1):
        leaf = leaves[index]
        length += len(leaf.prefix) + len(leaf.value) + sum(comment_length(c, line.style)
                                                           for c in line.comments_after(leaf))
        if length > line.style.line_length:
            break
        if leaf.kind == "COMMENT" or any(comment_width(c, line.style) for c in line.comments_after(leaf)):
            break  # (a pragma is no comment to ruff's layout)
        is_closing = leaf.kind == "OP" and leaf.text in CLOSING
        prev = leaves[index - 1] if index > 0 else None
        if opening is not None:
            if leaf is opening:
                opening = None
            elif is_closing:
                if prev is not None and prev.text == "," and not line._one_sequence(leaf.opening, leaf):
                    break
                inner.add(id(leaf))
        elif is_closing:
            if prev is not None and prev.kind == "OP" and prev.text in OPENING:
                inner.add(id(leaf))
                continue
            if closing is not None:
                omit.add(id(closing))
                omit.update(inner)
                inner.clear()
                yield set(omit)
            if prev is not None and prev.text == "," and not line._one_sequence(leaf.opening, leaf):
                break
            if leaf.value:
                opening, closing = leaf.opening, leaf


def _right_hand_split(line: Line, force_parens: bool, omit: set[int]) -> list[Line]:
    rhs = _first_rhs(line, omit)
    return _maybe_omit_optional_parens(rhs, line, force_parens, omit)


def _first_rhs(line: Line, omit: set[int]) -> _RHS:
    tail: list[Leaf] = []
    body: list[Leaf] = []
    head: list[Leaf] = []
    current = tail
    opening = closing = None
    for leaf in reversed(line.leaves):
        if current is body and leaf is opening:
            current = head if body else tail
        current.append(leaf)
        if current is tail and leaf.kind == "OP" and leaf.text in CLOSING and id(leaf) not in omit:
            opening, closing = leaf.opening, leaf
            current = body
    if opening is None or closing is None or not head:
        raise _CannotSplit("no brackets")
    tail.reverse()
    body.reverse()
    head.reverse()
    head_line = _build(head, line, opening, "head")
    body_line = _build(body, line, opening, "body")
    tail_line = _build(tail, line, opening, "tail")
    if not body_line.leaves:
        tail_len = len(tail_line.render().strip())
        if tail_len < 3:
            raise _CannotSplit("an empty body")
    return _RHS(head_line, body_line, tail_line, opening, closing)


def _build(leaves: list[Leaf], original: Line, opening: Leaf, component: str) -> Line:
    """A head, body or tail of a right-hand split, with the comments of `original`. Black
    tracks the brackets of a body, of a head only those that close in it, of a tail none."""
    if component == "body":
        result = original.child(original.depth + 1, inside_brackets=True)
        track = None
    else:
        result = original.child(inside_brackets=False)
        track = _matched(leaves) if component == "head" else set()
    for leaf in leaves:
        result.append(leaf, track is None or id(leaf) in track)
        for comment in original.comments_after(leaf):
            result.append_comment(comment)
    if component == "body":
        result.should_split_rhs = _should_split(result, opening)
    return result


def _should_split(line: Line, opening: Leaf) -> bool:
    atom = not opening.trailer
    if not line.leaves:
        return False
    delimiters = line.delimiters()
    last = len(line.leaves) - 1
    trailing = line.leaves[-1].text == "," and line.leaves[-1].kind == "OP"
    if trailing:
        delimiters.pop(last, None)
    if not delimiters or max(delimiters.values()) != COMMA:
        return False
    return (line.style.magic_trailing_comma and trailing) or atom


def _maybe_omit_optional_parens(rhs: _RHS, line: Line, force_parens: bool, omit: set[int]) -> list[Line]:
    if (not force_parens and rhs.opening.invisible and not rhs.opening.shown
            and rhs.closing.invisible and not rhs.closing.shown and _can_omit_parens(rhs, line)):
        omit = {id(rhs.closing), *omit}
        try:
            oop = _first_rhs(line, omit)
            if _prefer_oop(oop, rhs):
                return _maybe_omit_optional_parens(oop, line, force_parens, omit)
        except _CannotSplit:
            # black's `is_chained_assignment` counts every `=`, a keyword argument's too
            chained = sum(1 for leaf in line.leaves if leaf.kind == "OP" and leaf.text == "=") > 1
            if not chained and not _can_be_split(rhs.body) and not rhs.body.fits():
                raise
    rhs.opening.shown = True
    rhs.closing.shown = True
    return [part for part in (rhs.head, rhs.body, rhs.tail) if part.leaves]


def _can_omit_parens(rhs: _RHS, line: Line) -> bool:
    body = rhs.body
    if rhs.head.comments_after(rhs.opening):
        return False
    closing = None
    for leaf in reversed(body.leaves):
        if closing is not None and leaf is closing.opening:
            closing = None
        if leaf.kind == "COMMENT" and closing is None:
            return False
        if closing is None and leaf.kind == "OP" and leaf.text in CLOSING and leaf.value \
                and any(x is leaf.opening for x in body.leaves):
            closing = leaf
    delimiters = body.delimiters()
    if not delimiters:
        return True
    priority = max(delimiters.values())
    count = sum(1 for p in delimiters.values() if p == priority)
    if count > 1:
        return False
    if priority == DOT:
        return True
    first, second = body.leaves[0], body.leaves[1]
    width = line.style.line_length
    if first.kind == "OP" and first.text in OPENING and not (second.kind == "OP" and second.text in CLOSING):
        if _can_omit_opening(body, first, width):
            return True
    penultimate, last = body.leaves[-2], body.leaves[-1]
    if last.kind == "OP" and (last.text in (")", "}") or (last.text == "]" and not last.trailer)):
        if penultimate.kind == "OP" and penultimate.text in OPENING:
            return False
        if _can_omit_closing(body, last, width):
            return True
    return False


def _lengths(line: Line):
    for leaf in line.leaves:
        yield leaf, len(leaf.prefix) + len(leaf.value) + sum(comment_length(c, line.style)
                                                             for c in line.comments_after(leaf))


def _can_omit_opening(line: Line, first: Leaf, width: int) -> bool:
    remainder = False
    length = line.indent_width
    count = 0
    for leaf, leaf_length in _lengths(line):
        count += 1
        if leaf.kind == "OP" and leaf.text in CLOSING and leaf.opening is first:
            remainder = True
        if remainder:
            length += leaf_length
            if length > width:
                return False
            if leaf.kind == "OP" and leaf.text in OPENING:
                remainder = False
    return count == len(line.leaves)


def _can_omit_closing(line: Line, last: Leaf, width: int) -> bool:
    length = line.indent_width
    seen_other = False
    for leaf, leaf_length in _lengths(line):
        length += leaf_length
        if leaf is last.opening:
            if seen_other or length <= width:
                return True
        elif leaf.kind == "OP" and leaf.text in OPENING:
            seen_other = True
    return False


def _prefer_oop(oop: _RHS, rhs: _RHS) -> bool:
    head = rhs.head.leaves
    if not (len(head) >= 2 and head[-2].text == "=" and head[-2].kind == "OP"):
        return True
    if not any(leaf.kind == "OP" and (leaf.text in OPENING or leaf.text in CLOSING) for leaf in head[:-1]):
        return True
    if not rhs.head.fits(rhs.head.style.line_length - 1):
        return True
    if rhs.head.magic_trailing_comma is not None:
        return True
    equals = sum(1 for leaf in head if leaf.text == "=" and leaf.kind == "OP")
    oop_equals = sum(1 for leaf in oop.head.leaves if leaf.text == "=" and leaf.kind == "OP")
    if equals > 1 and equals > oop_equals:
        return False
    for leaf in reversed(oop.head.leaves):
        if leaf.text == "=" and leaf.kind == "OP":
            break
        if leaf.kind == "OP" and leaf.text in CLOSING:
            return True
    return oop_equals > 0 and oop.head.fits()


def _can_be_split(line: Line) -> bool:
    leaves = line.leaves
    if len(leaves) < 2:
        return False
    if leaves[0].kind == "STRING" and leaves[1].text == ".":
        calls = dots = 0
        nxt = leaves[-1]
        for leaf in leaves[-2::-1]:
            if leaf.kind == "OP" and leaf.text in OPENING:
                if not (nxt.kind == "OP" and nxt.text in CLOSING):
                    return False
                calls += 1
            elif leaf.text == "." and leaf.kind == "OP":
                dots += 1
            elif leaf.kind == "NAME":
                if not (nxt.text == "." or (nxt.kind == "OP" and nxt.text in OPENING)):
                    return False
            elif not (leaf.kind == "OP" and leaf.text in CLOSING):
                return False
            if dots > 1 and calls > 1:
                return False
            nxt = leaf
    return True


# -- the delimiter split --------------------------------------------------------------------

def _delimiter_split(line: Line, force_parens: bool) -> list[Line]:
    if not line.leaves:
        raise _CannotSplit("empty")
    delimiters = line.delimiters()
    last_index = len(line.leaves) - 1
    candidates = {i: p for i, p in delimiters.items() if i != last_index}
    if not candidates:
        raise _CannotSplit("no delimiters")
    priority = max(candidates.values())
    if priority == DOT and sum(1 for p in delimiters.values() if p == DOT) == 1:
        raise _CannotSplit("a single attribute")
    migrate = priority in (STRING, COMMA)
    out: list[Line] = []
    current = line.child()
    lowest = None
    comma_safe = True

    def add(leaf: Leaf) -> None:
        nonlocal current
        current = _append_safe(current, leaf, out)

    def add_comments(leaf: Leaf) -> None:
        for comment in line.comments_after(leaf):
            current.append_comment(comment)

    last_real = next((i for i in range(len(line.leaves) - 1, 0, -1) if line.leaves[i].kind != "COMMENT"), None)
    for i, leaf in enumerate(line.leaves):
        add(leaf)
        previous_priority = delimiters.get(i - 1) if i > 0 else None
        if previous_priority != priority or migrate:
            add_comments(leaf)
        if leaf.kind != "COMMENT":
            lowest = leaf.depth if lowest is None else min(lowest, leaf.depth)
            if comma_safe and leaf.depth == lowest and leaf.call_vararg:
                comma_safe = line.style.vararg_comma
                if comma_safe is None and not line.exact:
                    comma_safe = True
        if line.leaves[-1].kind == "COMMENT" and i == last_real:
            _add_trailing_comma(comma_safe, priority, current)
        if delimiters.get(i) == priority:
            if i + 1 < len(line.leaves) and not migrate:
                add_comments(line.leaves[i + 1])
            out.append(current)
            current = line.child()
    if current.leaves:
        _add_trailing_comma(comma_safe, priority, current)
        out.append(current)
    return out


def _append_safe(current: Line, leaf: Leaf, out: list[Line]) -> Line:
    """Black's `append_safe`: a standalone comment goes on a line of its own, unless it is
    inside brackets opened on the current line."""
    if current.open_brackets <= 0 and (current.is_comment or (current.leaves and leaf.kind == "COMMENT")):
        out.append(current)
        current = current.child()
    current.append(leaf)
    return current


def _add_trailing_comma(safe: bool | None, priority: int, line: Line) -> None:
    """Black's `_safe_add_trailing_comma`; `safe` None: after `*args`, as black's targets say."""
    if safe is not False and priority == COMMA and line.leaves and line.leaves[-1].text != "," \
            and line.leaves[-1].kind != "COMMENT":
        if safe is None:
            raise VarargComma("a trailing comma after *args depends on the target version")
        base = min(leaf.depth for leaf in line.leaves)
        line.append(Leaf("OP", ",", depth=base, after=COMMA, detached=True))


def _standalone_comment_split(line: Line, force_parens: bool) -> list[Line]:
    if not line.has_standalone_comments():
        raise _CannotSplit("no standalone comments")
    out: list[Line] = []
    current = line.child()
    for leaf in line.leaves:
        current = _append_safe(current, leaf, out)
        for comment in line.comments_after(leaf):
            current.append_comment(comment)
    if current.leaves:
        out.append(current)
    return out


# -- statements -----------------------------------------------------------------------------

_UNSUPPORTED_STATEMENTS = {"del", "assert", "raise", "yield", "await", "global", "nonlocal", "import",
                           "from", "pass", "break", "continue", "lambda"}


def lay_out_statement(leaves: list[Leaf], style, depth: int, newline: str) -> str:
    """A simple statement laid out as black would, `depth` indents deep."""
    leaves = _with_conditional_parens(_with_optional_parens(leaves))
    line = Line(style, depth)
    _fill(line, leaves)
    return newline.join(new.render() for new in lay_out(line))


def lay_out_in_place(head: str, leaves: list[Leaf], tail: str, style, margin: str, newline: str) -> str:
    """An expression laid out as black would lay it out on its own, where it stands: `head`
    and `tail` are the unsplittable text before and after it on its first and last lines,
    `margin` that line's indentation. Returns the expression's text alone."""
    leaves = _with_conditional_parens(leaves)
    before = Leaf("OPAQUE", head) if head else None
    after = Leaf("OPAQUE", tail, prefix="") if tail else None
    line = Line(style, 0, margin=margin, exact=False)
    _fill(line, ([before] if before else []) + leaves + ([after] if after else []))
    text = newline.join(new.render() for new in lay_out(line))
    start = len(margin) + len(head)
    end = len(text) - len(tail)
    if not (text.startswith(margin + head) and text.endswith(tail)) or end < start:
        raise Unsupported("the text around the expression moved")
    return text[start:end]


def _fill(line: Line, leaves: list[Leaf]) -> None:
    """Append leaves and their comments as black's line generator does: a comment comes
    after the optional parentheses that close right after the leaf it follows."""
    pending: list[str] = []
    for leaf in leaves:
        if not leaf.invisible:
            for comment in pending:
                line.append_comment(comment)
            pending = []
        line.append(leaf)
        pending.extend(leaf.comments)
    for comment in pending:
        line.append_comment(comment)


def _top_level(leaves: list[Leaf]) -> list[int]:
    """The indexes of the leaves outside every bracket."""
    depth = 0
    found = []
    for i, leaf in enumerate(leaves):
        if leaf.kind == "OP" and leaf.text in CLOSING:
            depth -= 1
        if depth == 0:
            found.append(i)
        if leaf.kind == "OP" and leaf.text in OPENING:
            depth += 1
    return found


def _with_optional_parens(leaves: list[Leaf]) -> list[Leaf]:
    """Black's invisible parentheses: around an assignment's value and annotation and a
    `return` value; redundant parentheses there become invisible."""
    if not leaves or any(leaf.kind == "STRING" and "\n" in leaf.text for leaf in leaves):
        raise Unsupported("a multi-line string")
    top = _top_level(leaves)
    first = leaves[0]
    if first.kind == "NAME" and first.text in _UNSUPPORTED_STATEMENTS:
        raise Unsupported(f"a `{first.text}` statement")
    if first.kind == "NAME" and first.text not in keyword.kwlist and len(leaves) > 1 and leaves[1].kind == "NAME":
        raise Unsupported("a soft keyword statement (`type X = ...`, `print x`)")
    if first.kind == "NAME" and first.text == "return":
        return leaves[:1] + _wrapped(leaves[1:]) if len(leaves) > 1 else leaves
    operators = [i for i in top if leaves[i].kind == "OP" and leaves[i].text in ASSIGNMENTS]
    if any(leaves[i].kind == "OP" and leaves[i].text in (";", ":=") for i in top):
        raise Unsupported("a compound line")
    if not operators:
        if any(leaves[i].kind == "OP" and leaves[i].text == ":" for i in top):
            raise Unsupported("an annotation without a value")
        return leaves
    if len(operators) > 1 and any(leaves[i].text != "=" for i in operators):
        raise Unsupported("an augmented chained assignment")
    at = operators[0]
    target = leaves[:at]
    colon = next((i for i in top if i < at and leaves[i].kind == "OP" and leaves[i].text == ":"), None)
    if colon is not None:
        if len(operators) > 1:
            raise Unsupported("an annotated chained assignment")
        target = leaves[:colon + 1] + _wrapped(leaves[colon + 1:at])
    if target and target[0].kind == "OP" and target[0].text in OPENING:
        raise Unsupported("a parenthesized target")
    # Each part after an `=` (a chained assignment's later targets too) sits in optional parentheses.
    out = target
    for at, following in zip(operators, [*operators[1:], len(leaves)]):
        out = out + [leaves[at]] + _wrapped(leaves[at + 1:following])
    return out


def _wrapped(value: list[Leaf]) -> list[Leaf]:
    if not value:
        raise Unsupported("an empty value")
    first, last = value[0], value[-1]
    if first.kind == "OP" and first.text == "(" and _partner(value, 0) == len(value) - 1:
        inner = value[1:-1]
        top = _top_level(inner)
        keeps = not inner or any(inner[i].kind == "OP" and inner[i].text in (",", ":=") or
                                 inner[i].kind == "NAME" and inner[i].text in ("for", "yield") or
                                 inner[i].vararg or (inner[i].kind == "OP" and inner[i].text == "*" and i == 0)
                                 for i in top)
        if keeps:
            return value
        if inner[0].kind == "OP" and inner[0].text == "(" and _partner(inner, 0) == len(inner) - 1:
            raise Unsupported("nested redundant parentheses")
        if inner[0].kind == "COMMENT" or first.comments:
            raise Unsupported("a comment right after an optional parenthesis")
        first.invisible = last.invisible = True
        first.shown = last.shown = False
        return value
    opening = Leaf("OP", "(", prefix=first.prefix, invisible=True)
    first.prefix = ""
    return [opening, *value, Leaf("OP", ")", invisible=True)]


def _with_conditional_parens(leaves: list[Leaf]) -> list[Leaf]:
    """Black's invisible parentheses around every `a if b else c` not already alone in a
    pair of parentheses (black's `visit_test`); the leaves come back prepared."""
    while True:
        prepare(leaves)
        for i, leaf in enumerate(leaves):
            if leaf.kind == "NAME" and leaf.text == "if" and leaf.before == TERNARY:
                start, end = _conditional_extent(leaves, i)
                before = leaves[start - 1] if start > 0 else None
                after = leaves[end] if end < len(leaves) else None
                if not (before is not None and before.kind == "OP" and before.text == "(" and after is not None
                        and after.opening is before):
                    break
        else:
            return leaves
        first = leaves[start]
        opening = Leaf("OP", "(", prefix=first.prefix, invisible=True)
        first.prefix = ""
        leaves = [*leaves[:start], opening, *leaves[start:end], Leaf("OP", ")", invisible=True), *leaves[end:]]


_CONDITIONAL_STARTS = {",", ":", ":=", "*", "**", *ASSIGNMENTS}


def _conditional_extent(leaves: list[Leaf], at: int) -> tuple[int, int]:
    """The leaves [start, end) of the conditional expression whose `if` is at `at` (prepared)."""
    depth = leaves[at].depth
    start = at
    while start > 0:
        leaf = leaves[start - 1]
        if leaf.kind != "COMMENT" and leaf.depth <= depth and (
                leaf.depth < depth or (leaf.kind == "OP" and leaf.text in _CONDITIONAL_STARTS)
                or (leaf.kind == "NAME" and leaf.text in ("return", "else", "lambda", "yield"))):
            break
        start -= 1
    end = at + 1
    lambdas = 0  # open lambdas in the `else` branch, whose `:` is theirs
    while end < len(leaves):
        leaf = leaves[end]
        if leaf.kind != "COMMENT" and leaf.depth <= depth:
            if leaf.depth < depth or leaf.text == "," or leaf.before == COMPREHENSION:
                break
            if leaf.kind == "NAME" and leaf.text == "lambda":
                lambdas += 1
            elif leaf.kind == "OP" and leaf.text == ":":
                if not lambdas:
                    break
                lambdas -= 1
        end += 1
    while leaves[start].kind == "COMMENT":
        start += 1
    while leaves[end - 1].kind == "COMMENT":
        end -= 1
    return start, end


def _partner(leaves: list[Leaf], index: int) -> int:
    depth = 0
    for i in range(index, len(leaves)):
        leaf = leaves[i]
        if leaf.kind == "OP" and leaf.text in OPENING:
            depth += 1
        elif leaf.kind == "OP" and leaf.text in CLOSING:
            depth -= 1
            if depth == 0:
                return i
    return -1
