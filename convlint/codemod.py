"""The CL101/CL102 rewrite: `<module>.to(..., memory_format=F)` -> `convert...(<module>.to(...), F)`.

The analysis (on `ast`, rules/) decides what to rewrite and how the converter is spelled in
this file; here the call's tokens are rearranged and laid out as the project's formatter
would (`reflow`, with the line length and trailing-comma style of `style`). Where the
statement around the call is laid out exactly as black and `ruff format` lay it out, the
whole statement is laid out again, so that the file stays formatted; elsewhere only the
new call is, where it stands, and the rest of the statement keeps its own layout. Every
comment is kept next to the code it was written beside.
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize
import weakref
from collections import Counter
from dataclasses import dataclass, replace

from convlint import reflow
from convlint.diagnostics import Edit
from convlint.reflow import Leaf, NotFormatted, Unsupported
from convlint.plans import CallRewrite
from convlint.rules.base import Relayout
from convlint.source import SourceText, apply_edits
from convlint.style import Style, style_for


class FixError(Exception):
    """A planned fix could not be carried out safely; the finding stays unfixed."""


def materialize(plan: CallRewrite | Relayout, source: SourceText) -> tuple[Edit, ...]:
    """The edits of a planned rewrite. Raises FixError when it cannot be done safely."""
    style = style_for(plan.path) if plan.path else Style()
    if isinstance(plan, Relayout):
        try:
            return (relayout(source, plan.edits[0], style, plan.comment), *plan.edits[1:])
        except RecursionError:
            return plan.edits
    try:
        if plan.guard is not None:
            edit = _rewrite_guarded(source, plan, style)
        else:
            edit = rewrite(source, source.offset(plan.start), source.offset(plan.end), plan.converter, style)
    except RecursionError:
        raise FixError("the call is too deeply nested to rewrite") from None
    edits = [edit]
    if plan.import_edit is not None:
        edits.append(plan.import_edit)
    return tuple(edits)


def rewrite(source: SourceText, start: int, end: int, converter: str, style: Style) -> Edit:
    """The edit that rewrites the call at source.text[start:end].

    Where the statement is not laid out as the formatter would (or the formatter leaves
    it alone), only the call is laid out, in place. Where its shape is beyond the layout
    model, so is what the formatter would make of the rewrite: in a project that
    configures black or ruff format the fix is refused rather than leave the file
    unformatted; elsewhere the call is laid out in place.
    """
    if style.vararg_comma is None and _file_targets_python35(source):
        style = replace(style, vararg_comma=True)
    try:
        statement = _statement_around(source, start, end)
        return _rewrite_statement(source, statement, start, end, converter, style)
    except NotFormatted:
        pass
    except Unsupported as e:
        if style.formatter is not None:
            raise FixError(f"the statement's layout is beyond convlint's model of {style.formatter}"
                           f" ({e}): fix it by hand") from None
    return _rewrite_in_place(source, start, end, converter, style)


def _rewrite_guarded(source: SourceText, plan: CallRewrite, style: Style) -> Edit:
    """The edit that puts the statement of the call under `if <condition>:`, its format the
    channels-last branch alone, and rewrites the call there as any other. Falls back to
    the plain rewrite where the statement cannot move into a block as it is (a string over
    lines), or the `if` header would not fit the line."""
    guard = plan.guard
    text = source.text
    begin, stop = source.offset(guard.start), source.offset(guard.end)
    line_start = source.line_starts[guard.start.row - 1]
    margin = text[line_start:begin]
    statement = [t for t in _tokenize(text[begin:stop]) or () if t.type not in _SKIPPED]
    header = f"{margin}if {guard.condition}:"
    if not statement or any(t.type == tokenize.STRING and t.row != t.end_row for t in statement) \
            or reflow.str_width(header.expandtabs(style.tab_width)) > style.line_length:
        return rewrite(source, source.offset(plan.start), source.offset(plan.end), plan.converter, style)
    format_start, format_end = source.offset(guard.format_start), source.offset(guard.format_end)
    inner = text[begin:format_start] + guard.format + text[format_end:stop]
    newline = source.newline
    indent = margin + style.indent
    staged = SourceText(text[:line_start] + f"{header}{newline}{indent}" + _indented(inner, style.indent) + text[stop:])
    call, end = source.offset(plan.start), source.offset(plan.end)
    call_start = line_start + len(header) + len(newline) + len(indent) + len(_indented(text[begin:call], style.indent))
    call_end = call_start + len(_indented(text[call:format_start], style.indent)) + len(guard.format) \
        + len(_indented(text[format_end:end], style.indent))
    staged, call_start, call_end = _laid_out_anew(staged, call_start, call_end, len(header) + len(newline)
                                                  + line_start, style)
    edit = rewrite(staged, call_start, call_end, plan.converter, style)
    fixed = apply_edits(staged.text, staged, [edit])
    shift = len(fixed) - len(text)
    if fixed[:line_start] != text[:line_start] or fixed[stop + shift:] != text[stop:]:
        raise FixError("the guarded rewrite reached outside its statement")
    return Edit(source.location(line_start), guard.end, fixed[line_start : stop + shift])


def _laid_out_anew(staged: SourceText, call_start: int, call_end: int, line_start: int,
                   style: Style) -> tuple[SourceText, int, int]:
    """The staged statement (`[x = ]x.to(memory_format=F)`, moved into the `if` block and
    shorter than it was) laid out as the formatter would lay it out there, so that its
    rewrite is laid out as a whole statement is; and where its call now is. Where that
    cannot be worked out, the statement as staged."""
    try:
        tokens = _statement_around(staged, call_start, call_end)
        margin = staged.text[line_start:tokens[0].start] if tokens else ""
        if not tokens or margin != style.indent * (len(margin) // len(style.indent)):
            return staged, call_start, call_end
        laid = reflow.lay_out_statement(_leaves(tokens, staged.text)[0], style, len(margin) // len(style.indent),
                                        staged.newline)
    except (Unsupported, FixError):
        return staged, call_start, call_end
    significant = [t for t in tokens if t.type not in _SKIPPED]
    stop = significant[-1].end
    laid_tokens = [t for t in _tokenize(laid.lstrip(" \t")) or () if t.type not in _SKIPPED]
    code = [t for t in laid_tokens if t.type != tokenize.COMMENT]
    depth, first = 0, 0
    for i, t in enumerate(code):  # past the assignment's `=`, outside brackets
        depth += (t.string in reflow.OPENING) - (t.string in reflow.CLOSING)
        if depth == 0 and t.string == "=":
            first = i + 1
            break
    if not code or first >= len(code) or code[first].string == "(":
        return staged, call_start, call_end
    base = line_start + len(laid) - len(laid.lstrip(" \t"))
    text = staged.text[:line_start] + laid + staged.text[stop:]
    return SourceText(text), base + code[first].start, base + code[-1].end


def _indented(text: str, indent: str) -> str:
    """`text` with each of its lines after the first one indented one step more."""
    return re.sub(r"\r\n|\r|\n", lambda m: m.group() + indent, text)


# -- tokens ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    type: int
    string: str
    start: int  # character offsets in the text
    end: int
    row: int  # the 1-based rows it starts and ends on
    end_row: int


_FILE_TOKENS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SKIPPED = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
_STRING_STARTS = {getattr(tokenize, name) for name in ("FSTRING_START", "TSTRING_START") if hasattr(tokenize, name)}
_STRING_ENDS = {getattr(tokenize, name) for name in ("FSTRING_END", "TSTRING_END") if hasattr(tokenize, name)}


def _tokenize(text: str) -> list[_Token] | None:
    """The tokens of `text`, an f-string as one STRING token; None when it does not tokenize.

    A lone CR ends a line for Python but not for `tokenize`: the text is tokenized with each
    lone CR read as LF (the same length, so every offset holds), and the tokens that hold
    line ends take their text from the original."""
    readable = _LONE_CR.sub("\n", text)
    starts = [0]
    for line in io.StringIO(readable):
        starts.append(starts[-1] + len(line))
    tokens: list[_Token] = []
    nested: list[tuple[int, int, int]] = []  # open f-strings: (start, row, count)
    try:
        for t in tokenize.generate_tokens(io.StringIO(readable).readline):
            begin = starts[t.start[0] - 1] + t.start[1] if t.start[0] <= len(starts) - 1 else len(text)
            finish = starts[t.end[0] - 1] + t.end[1] if t.end[0] <= len(starts) - 1 else len(text)
            if t.type in _STRING_STARTS:
                nested.append((begin, t.start[0], 0))
                continue
            if nested:
                if t.type in _STRING_ENDS:
                    opened, row, _ = nested.pop()
                    if not nested:
                        tokens.append(_Token(tokenize.STRING, text[opened:finish], opened, finish, row, t.end[0]))
                continue
            string = text[begin:finish] if t.type in _LINE_HOLDING else t.string
            tokens.append(_Token(t.type, string, begin, finish, t.start[0], t.end[0]))
    except (tokenize.TokenError, SyntaxError):
        return None
    return tokens


_LONE_CR = re.compile(r"\r(?!\n)")
_LINE_HOLDING = {tokenize.NEWLINE, tokenize.NL, tokenize.STRING, tokenize.COMMENT}


def _file_tokens(source: SourceText) -> list[_Token] | None:
    if source not in _FILE_TOKENS:
        _FILE_TOKENS[source] = _tokenize(source.text)
    return _FILE_TOKENS[source]


_FILE_PY35: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _file_targets_python35(source: SourceText) -> bool:
    """`_targets_python35` of the whole file, once per file whatever its number of fixes."""
    if source not in _FILE_PY35:
        _FILE_PY35[source] = _targets_python35(_file_tokens(source) or [])
    return _FILE_PY35[source]


_COMPOUND = {"if", "elif", "else", "for", "while", "with", "def", "class", "try", "except", "finally",
             "async", "@", "lambda"}


def _statement_around(source: SourceText, start: int, end: int) -> list[_Token]:
    """The tokens of the simple statement the call is in. Raises NotFormatted where black
    would not keep it as it stands or leaves it alone (after `;`, under `# fmt: off`),
    Unsupported in a compound statement's header."""
    tokens = _file_tokens(source)
    if tokens is None:
        raise NotFormatted("the file does not tokenize")
    first = last = None
    begin = 0  # where the current logical line starts, past comment lines and dedents
    for i, t in enumerate(tokens):
        if t.type == tokenize.NEWLINE:
            begin = i + 1
        elif i == begin and t.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.NL, tokenize.COMMENT):
            begin = i + 1
        if first is None and t.start == start:
            first = begin
        if first is not None and t.type in (tokenize.NEWLINE, tokenize.ENDMARKER) and t.start >= end:
            last = i
            break
    if first is None or last is None:
        raise NotFormatted("the call's statement was not found")
    statement = [t for t in tokens[first:last] if t.type not in (tokenize.INDENT, tokenize.DEDENT)]
    significant = [t for t in statement if t.type not in _SKIPPED and t.type != tokenize.COMMENT]
    if not significant or significant[0].string in _COMPOUND or significant[-1].string == ":":
        raise Unsupported("a compound statement's header")
    if any(t.string == ";" for t in significant) or (first > 0 and tokens[first - 1].string == ";"):
        raise NotFormatted("statements joined by `;`")
    if any("fmt:" in t.string.replace(" ", "") for t in statement if t.type == tokenize.COMMENT) \
            or _formatting_off(tokens[:first]):
        raise NotFormatted("formatting is off here")
    return statement


_FMT_SWITCH = re.compile(r"#\s*fmt:\s*(on|off)\b")


def _formatting_off(before: list[_Token]) -> bool:
    """Whether a `# fmt: off` before the statement is still open (not closed by `# fmt: on`)."""
    off = False
    for t in before:
        switch = _FMT_SWITCH.search(t.string) if t.type == tokenize.COMMENT else None
        if switch:
            off = switch.group(1) == "off"
    return off


def _leaves(tokens: list[_Token], text: str, exact: bool = True) -> tuple[list[Leaf], list[_Token]]:
    """Leaves for reflow, with the token each came from; a comment after a token on its
    line rides on that token's leaf, a comment on a line of its own is a leaf."""
    leaves: list[Leaf] = []
    origins: list[_Token] = []
    previous: _Token | None = None
    previous_leaf: Leaf | None = None
    for t in tokens:
        if t.type in _SKIPPED:
            continue
        if t.type == tokenize.COMMENT:
            if previous is not None and previous.end_row == t.row:
                previous_leaf.comments.append(t.string)
            else:
                leaves.append(Leaf("COMMENT", t.string))
                origins.append(t)
            continue
        kind = {tokenize.NAME: "NAME", tokenize.NUMBER: "NUMBER", tokenize.STRING: "STRING"}.get(t.type, "OP")
        leaf = Leaf(kind, t.string)
        if previous_leaf is not None:
            gap = text[previous.end:t.start]
            if previous.end_row == t.row:
                leaf.prefix = gap
            else:
                leaf.prefix = _join(previous_leaf, leaf, leaves, exact)
        leaves.append(leaf)
        origins.append(t)
        previous, previous_leaf = t, leaf
    return leaves, origins


_UNARY_AFTER = {"(", "[", "{", ",", "=", ":", "return", "in", "and", "or", "not", "if", "else", "lambda",
                "is", "yield", "await", "for"}


def _join(previous: Leaf, leaf: Leaf, before: list[Leaf], exact: bool) -> str:
    """The space black puts between two leaves that stood on different lines."""
    if previous.kind == "OP" and previous.text in reflow.OPENING:
        return ""
    if leaf.kind == "OP" and (leaf.text in reflow.CLOSING or leaf.text in (",", ".", ":", ";")):
        return ""
    if leaf.kind == "OP" and leaf.text in ("(", "[") and (
            previous.kind in ("NAME", "STRING") or previous.text in reflow.CLOSING):
        return ""
    if exact and leaf.kind == "OP" and leaf.text == "**" and reflow.operand_before(previous):
        raise Unsupported("a line break at a power operator")  # black's hug_power_op is not modelled
    if exact and previous.kind == "OP" and previous.text == "**":
        raise NotFormatted("a line break after `**`")
    if previous.kind == "OP" and previous.text in ("-", "+", "~", "*", "**", "."):
        real = [x for x in before if x.kind != "COMMENT"]
        earlier = real[-2] if len(real) >= 2 else None
        if previous.text == "." or earlier is None or earlier.text in _UNARY_AFTER:
            return ""
    return " "


# -- the rewrite of the call ----------------------------------------------------------------

def _new_call(call: list[Leaf], converter: str) -> list[Leaf]:
    """The leaves of `convert(<receiver>[.to(<other arguments>)], F)` from those of the call."""
    if not call or call[-1].text != ")":
        raise FixError("not a `.to(...)` call")
    closing = call[-1]
    depth = 0
    opening_at = None
    for i in range(len(call) - 1, -1, -1):
        leaf = call[i]
        if leaf.kind == "OP" and leaf.text in reflow.CLOSING:
            depth += 1
        elif leaf.kind == "OP" and leaf.text in reflow.OPENING:
            depth -= 1
            if depth == 0:
                opening_at = i
                break
    if opening_at is None or opening_at < 3 or call[opening_at - 1].text != "to" or call[opening_at - 2].text != ".":
        raise FixError("not a `.to(...)` call")
    dot, to, opening = call[opening_at - 2], call[opening_at - 1], call[opening_at]
    receiver = call[:opening_at - 2]
    loose = []  # comments on lines of their own between the receiver and `.to`
    while receiver and receiver[-1].kind == "COMMENT":
        loose.insert(0, receiver.pop())
    if not receiver:
        raise FixError("not a `.to(...)` call")
    groups = _arguments(call[opening_at + 1:-1])
    index = next((i for i, (arg, _) in enumerate(groups) if _keyword(arg) == "memory_format"), None)
    if index is None:
        raise FixError("no memory_format argument")
    arg, comma = groups.pop(index)
    leading = [leaf for leaf in arg if leaf.kind == "COMMENT"][: _first_real(arg)]
    value = arg[_first_real(arg) + 2:]
    if not value:
        raise FixError("no memory_format value")
    carried = [c for leaf in arg[_first_real(arg):_first_real(arg) + 2] for c in leaf.comments]
    for leaf in arg[_first_real(arg):_first_real(arg) + 2]:
        leaf.comments = []
    # A trailing comma after the format stays after it: the converter's arguments keep the
    # brackets exploded as `.to(`'s were; what is left of `.to(` may fit on a line again.
    magic = comma is not None and index == len(groups)
    if comma is not None:
        carried += comma.comments
    value[-1].comments = value[-1].comments + carried
    if index == len(groups) and groups:  # f(a, mf=F) -> f(a): a's comma goes
        previous_arg, previous_comma = groups[-1]
        if previous_comma is not None:
            previous_arg[-1].comments = previous_arg[-1].comments + previous_comma.comments
        groups[-1] = (previous_arg, None)
    value[0].prefix = " "
    head = Leaf("NAME", converter, prefix=receiver[0].prefix)
    receiver[0].prefix = ""
    new = [head, Leaf("OP", "("), *loose, *receiver]
    if groups:
        kept = [leaf for arg_, comma_ in groups for leaf in (*arg_, *((comma_,) if comma_ else ()))]
        first_kept = next(leaf for leaf in kept if leaf.kind != "COMMENT")
        if index == 0:
            first_kept.prefix = ""
        outer = Leaf("OP", ")", comments=closing.comments)
        closing.comments = []
        closing.prefix = ""
        new += [dot, to, opening, *kept, closing, Leaf("OP", ","), *leading, *value]
        if magic:
            new.append(Leaf("OP", ","))
        new.append(outer)
    else:
        receiver[-1].comments = receiver[-1].comments + dot.comments + to.comments + opening.comments
        new += [Leaf("OP", ","), *leading, *value]
        if magic:
            new.append(Leaf("OP", ","))
        closing.prefix = ""
        new.append(closing)
    return new


def _first_real(leaves: list[Leaf]) -> int:
    return next(i for i, leaf in enumerate(leaves) if leaf.kind != "COMMENT")


def _keyword(arg: list[Leaf]) -> str | None:
    real = [leaf for leaf in arg if leaf.kind != "COMMENT"]
    if len(real) >= 3 and real[0].kind == "NAME" and real[1].text == "=" and real[1].kind == "OP":
        return real[0].text
    return None


def _arguments(leaves: list[Leaf]) -> list[tuple[list[Leaf], Leaf | None]]:
    """The arguments of a call (each with the comma after it), split at top-level commas."""
    groups: list[tuple[list[Leaf], Leaf | None]] = []
    current: list[Leaf] = []
    depth = 0
    for leaf in leaves:
        if leaf.kind == "OP" and leaf.text in reflow.OPENING:
            depth += 1
        elif leaf.kind == "OP" and leaf.text in reflow.CLOSING:
            depth -= 1
        if depth == 0 and leaf.kind == "OP" and leaf.text == ",":
            groups.append((current, leaf))
            current = []
        else:
            current.append(leaf)
    if current:
        if all(leaf.kind == "COMMENT" for leaf in current):  # comments before the closing paren
            if not groups:
                raise FixError("no arguments")
            last_arg, last_comma = groups[-1]
            groups[-1] = (last_arg + current, last_comma) if last_comma is None else (last_arg, last_comma)
            if last_comma is not None:
                raise Unsupported("comments after the last argument")
        else:
            groups.append((current, None))
    if any(not any(leaf.kind != "COMMENT" for leaf in arg) for arg, _ in groups):
        raise FixError("an empty argument")
    return groups


def _call_range(origins: list[_Token], start: int, end: int) -> tuple[int, int]:
    first = next((i for i, t in enumerate(origins) if t.start == start), None)
    last = next((i for i in range(len(origins) - 1, -1, -1) if origins[i].end == end), None)
    if first is None or last is None or last < first:
        raise FixError("the call's tokens were not found")
    return first, last + 1


def _rewrite_statement(source: SourceText, tokens: list[_Token], start: int, end: int, converter: str,
                       style: Style) -> Edit:
    line_start, stop, depth, original, style = _formatted_statement(source, tokens, style)
    newline = source.newline
    leaves, origins = _leaves(tokens, source.text)
    first, last = _call_range(origins, start, end)
    new = leaves[:first] + _new_call(leaves[first:last], converter) + leaves[last:]
    new_text = reflow.lay_out_statement(new, style, depth, newline)
    if style.formatter == "ruff" and newline in new_text:
        _ruff_agrees(tokens, new_text.split(newline), style)
    _check(original, new_text, statement=True)
    return _changed(source, line_start, stop, original, new_text, start - line_start, stop - end)


def _changed(source: SourceText, line_start: int, stop: int, original: str, new_text: str, before: int,
             after: int) -> Edit:
    """The edit of source.text[line_start:stop] (`original`) to `new_text`: it covers what
    changed (at least the `before`..`after` margins in), not the text both share."""
    keep_before = _common_prefix(original, new_text, before)
    keep_after = _common_prefix(original[::-1], new_text[::-1], after)
    return Edit(source.location(line_start + keep_before), source.location(stop - keep_after),
                new_text[keep_before:len(new_text) - keep_after])


def relayout(source: SourceText, edit: Edit, style: Style, comment: bool = False) -> Edit:
    """`edit` (a name renamed, a comment shortened or taken out) with the statement it is in
    laid out again, where that statement is laid out as the formatter lays it out: a
    shorter statement may fit on fewer lines (black counts a comment in the width). ruff
    format does not count a pragma comment (`comment`): there, and wherever the statement's
    layout is not the formatter's, the edit alone. The edit covers the whole statement, so
    that another fix of it (laid out before this edit) waits for the next pass."""
    if comment and style.formatter == "ruff":
        return edit
    text = source.text
    at = source.offset(edit.start)
    try:
        tokens = _statement_at(source, at)
        line_start, stop, depth, original, style = _formatted_statement(source, tokens, style)
        if not (line_start <= at <= source.offset(edit.end) <= stop):
            return edit
        edited = SourceText(text[:at] + edit.content + text[source.offset(edit.end):])
        first = next(t for t in tokens if t.type not in _SKIPPED)
        new_tokens = _statement_around(edited, first.start, first.end)
        shift = len(edited.text) - len(text)
        new_text = reflow.lay_out_statement(_leaves(new_tokens, edited.text)[0], style, depth, source.newline)
        if style.formatter == "ruff" and source.newline in new_text:
            _ruff_agrees(new_tokens, new_text.split(source.newline), style)
        _check(edited.text[line_start:stop + shift], new_text, statement=True)
    except (NotFormatted, Unsupported, FixError, StopIteration):
        return edit
    return Edit(source.location(line_start), source.location(stop), new_text)


def _statement_at(source: SourceText, offset: int) -> list[_Token]:
    """The tokens of the simple statement whose lines hold `offset` (see _statement_around)."""
    tokens = _file_tokens(source)
    if tokens is None:
        raise NotFormatted("the file does not tokenize")
    first = None
    begin = 0
    for i, t in enumerate(tokens):
        if t.type == tokenize.NEWLINE:
            if t.end >= offset and first is not None:
                return _statement_around(source, first.start, first.end)
            begin, first = i + 1, None
        elif i == begin and t.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.NL, tokenize.COMMENT):
            begin = i + 1
        elif first is None and i >= begin and t.type not in _SKIPPED:
            first = t
    raise NotFormatted("no statement there")


def _formatted_statement(source: SourceText, tokens: list[_Token], style: Style):
    """Where the statement of `tokens` is (the start of its first line, the end of its last
    token), how deep, its text and the style it is laid out in, where it is laid out as
    black lays it out; else raises NotFormatted (Unsupported where ruff formats it)."""
    text = source.text
    significant = [t for t in tokens if t.type not in _SKIPPED]
    begin = significant[0].start
    line_start = source.line_starts[source.location(begin).row - 1]
    margin = text[line_start:begin]
    if margin.strip() or (margin and margin != style.indent * (len(margin) // len(style.indent))):
        raise NotFormatted("an indentation black does not write")
    depth = len(margin) // len(style.indent)
    stop = significant[-1].end
    original = text[line_start:stop]
    newline = source.newline
    for a, b in zip(significant, significant[1:]):
        gap = text[a.end:b.start]
        if "\\" in gap:
            raise NotFormatted("a backslash continuation")
        if a.end_row == b.row and not _black_gap(a.string, b, gap):
            raise NotFormatted("spacing black does not write")
    expected = original.replace("\r\n", "\n").replace("\r", "\n").replace("\n", newline)
    try:
        laid_out = reflow.lay_out_statement(_leaves(tokens, text)[0], style, depth, newline)
    except reflow.VarargComma:
        # No trailing comma after the `*args` of a split call: black targets Python 3.4 here.
        style = replace(style, vararg_comma=False)
        laid_out = reflow.lay_out_statement(_leaves(tokens, text)[0], style, depth, newline)
    if laid_out != expected:
        # The model is black's: a statement black would lay out otherwise is not formatted.
        # ruff format differs from black in places the model does not follow, so there the
        # statement may be formatted all the same, and what ruff makes of the rewrite is
        # not known.
        if style.formatter == "ruff":
            raise Unsupported("a layout where ruff and black differ")
        raise NotFormatted("the statement is not laid out as black lays it out")
    return line_start, stop, depth, original, style


def _ruff_agrees(tokens: list[_Token], lines: list[str], style: Style) -> None:
    """Raise Unsupported for the split statements where ruff format is known to leave black:
    annotated and chained assignments, a comment (other than a pragma) after a statement
    split other than once, at one pair of brackets (ruff measures it its own way), and lines
    too long to fit (ruff's best fit is not black's)."""
    if any(reflow.str_width(line.split("  #")[0]) > style.line_length for line in lines):
        raise Unsupported("a line that cannot fit, where ruff and black differ")
    laid_out = _tokenize("\n".join(line.strip() for line in lines) + "\n") or []
    last = [t for t in laid_out if t.row == len(lines) and t.type not in _SKIPPED]
    margin = len(lines[0]) - len(lines[0].lstrip())
    one_split = [t.string for t in last if t.type != tokenize.COMMENT] == [")"] and all(
        len(line) - len(line.lstrip()) > margin for line in lines[1:-1])
    if any(t.type == tokenize.COMMENT and not reflow.is_pragma(t.string) for t in last) and not one_split:
        raise Unsupported("a comment after a split statement, where ruff and black differ")
    depth = 0
    for t in laid_out:
        depth += (t.string in ("(", "[", "{")) - (t.string in (")", "]", "}"))
        if depth == 0 and t.row > 1 and t.type == tokenize.OP and t.string in reflow.ASSIGNMENTS:
            raise Unsupported("a split assignment target, where ruff and black differ")
    depth = 0
    value = False  # past the assignment's `=`
    for t in tokens:
        if t.string in ("(", "[", "{"):
            depth += 1
        elif t.string in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and t.string == ":" and not value:
            raise Unsupported("a split annotated assignment, where ruff and black differ")
        elif depth == 0 and t.string == "=":
            if value:
                raise Unsupported("a split chained assignment, where ruff and black differ")
            value = True


def _targets_python35(tokens: list[_Token]) -> bool:
    """Whether the file uses syntax that makes black target Python 3.5+ alone (and so put a
    trailing comma after a split call's `*args`): f-strings, `_` in numbers, `:=`, or such a
    trailing comma itself. A sound subset of black's `get_features_used`."""
    opened: list[tuple[bool, bool]] = []  # per open bracket: a call's or def's?, a `*` argument seen?
    previous: _Token | None = None
    for t in tokens:
        if t.type in _SKIPPED or t.type == tokenize.COMMENT:
            continue
        if t.type == tokenize.STRING and "f" in re.match(r"[A-Za-z]*", t.string).group().lower():
            return True
        if (t.type == tokenize.NUMBER and "_" in t.string) or t.string == ":=":
            return True
        if t.string in ("(", "[", "{"):
            call = t.string == "(" and previous is not None and (
                (previous.type == tokenize.NAME and not keyword.iskeyword(previous.string))
                or previous.string in (")", "]"))
            opened.append((call, False))
        elif t.string in (")", "]", "}"):
            if opened:
                call, starred = opened.pop()
                if call and starred and previous is not None and previous.string == ",":
                    return True
        elif t.string in ("*", "**") and opened and previous is not None and previous.string in ("(", ","):
            opened[-1] = (opened[-1][0], True)
        previous = t
    return False


def _black_gap(before: str, token: _Token, gap: str) -> bool:
    """Whether black could have written `gap` between two tokens on a line."""
    if token.type == tokenize.COMMENT:
        return gap == "  "
    if gap not in ("", " "):
        return False
    if before == ",":
        return gap == " " or token.string in (")", "]", "}")
    return not gap or (token.string not in (",", ")", "]", "}") and before not in ("(", "[", "{"))


def _common_prefix(a: str, b: str, limit: int) -> int:
    n = 0
    limit = min(limit, len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def _rewrite_in_place(source: SourceText, start: int, end: int, converter: str, style: Style) -> Edit:
    text = source.text
    call_text = text[start:end]
    tokens = _tokenize(f"({call_text})")
    if tokens is None:
        raise FixError("cannot tokenize the call")
    tokens = [t for t in tokens if t.type not in (tokenize.INDENT, tokenize.DEDENT)][1:]
    while tokens and tokens[-1].type in _SKIPPED:
        tokens.pop()
    if not tokens or tokens[-1].string != ")":
        raise FixError("cannot tokenize the call")
    tokens.pop()
    wrapped = f"({call_text})"
    leaves, _ = _leaves(tokens, wrapped, exact=False)
    try:
        new = _new_call(leaves, converter)
    except Unsupported as e:
        raise FixError(f"cannot rewrite the call: {e}") from None
    first_row = source.location(start).row
    line_start = source.line_starts[first_row - 1]
    before = text[line_start:start]
    margin = before[: len(before) - len(before.lstrip(" \t"))]
    head = before[len(margin):]
    last_row = source.location(end).row
    line_end = source.line_starts[last_row - 1] + len(source.line_text(last_row).rstrip("\r\n"))
    tail = text[end:line_end]
    try:
        new_text = reflow.lay_out_in_place(head, new, tail, style, margin, source.newline)
    except Unsupported as e:
        raise FixError(f"cannot lay out the rewritten call: {e}") from None
    _check(call_text, new_text, statement=False)
    return Edit(source.location(start), source.location(end), new_text)


def _check(old: str, new: str, statement: bool) -> None:
    """The rewrite parses and keeps every comment."""
    if Counter(_comments(old, statement)) != Counter(_comments(new, statement)):
        raise FixError("the rewrite would lose a comment")
    try:
        if statement:
            ast.parse("if 1:\n" + new if new[:1] in (" ", "\t") else new)
        else:
            ast.parse(f"({new})", mode="eval")
    except SyntaxError as e:
        raise FixError(f"the rewrite does not parse: {e.msg}") from None


def _comments(text: str, statement: bool) -> list[str]:
    """The comments of `text`; comments that a layout put on one line (as black does) count
    one by one."""
    wrapped = ("if 1:\n" + text if text[:1] in (" ", "\t") else text) if statement else f"({text})"
    tokens = _tokenize(wrapped)
    return [part if i == 0 else "#" + part for t in tokens or () if t.type == tokenize.COMMENT
            for i, part in enumerate(t.string.split("  #"))]
