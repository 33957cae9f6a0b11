"""The CL101/CL102 rewrite: `<module>.to(..., memory_format=F)` -> `convert...(<module>.to(...), F)`.

The analysis (on `ast`, rules/) decides what to rewrite and how the converter is spelled in
this file; the call itself is rewritten as a LibCST transform of that call's concrete syntax
tree, so its formatting and comments are kept. Only the call's text is parsed with LibCST
(and LibCST is imported only when a fix is actually computed), which keeps `check` fast.
"""

from __future__ import annotations

import ast
import io
import tokenize

import libcst as cst

from convlint.diagnostics import Edit
from convlint.rules.converters import CallRewrite
from convlint.source import SourceText


class FixError(Exception):
    """A planned fix could not be carried out safely; the finding stays unfixed."""


def materialize(plan: CallRewrite, source: SourceText) -> tuple[Edit, ...]:
    """The edits of a planned rewrite. Raises FixError when it cannot be done safely."""
    start, end = source.offset(plan.start), source.offset(plan.end)
    try:
        new = rewrite_call(source.text[start:end], plan.converter, source.newline)
    except RecursionError:  # LibCST renders recursively: an argument thousands of terms deep
        raise FixError("the call is too deeply nested to rewrite") from None
    edits = [Edit(plan.start, plan.end, new)]
    if plan.import_edit is not None:
        edits.append(plan.import_edit)
    return tuple(edits)


def rewrite_call(call_text: str, converter: str, newline: str = "\n") -> str:
    """Rewrite the text of `<receiver>.to(..., memory_format=F, ...)` with LibCST."""
    config = cst.PartialParserConfig(default_newline=newline)
    try:
        # Parentheses make a call that spans lines parse on its own.
        wrapped = cst.parse_expression(f"({call_text})", config)
    except cst.ParserSyntaxError as e:
        raise FixError(f"cannot parse the call: {e.message}") from None
    call = wrapped.with_changes(lpar=[], rpar=[])
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "to"):
        raise FixError("not a `.to(...)` call")
    index = next(
        (i for i, a in enumerate(call.args) if a.keyword is not None and a.keyword.value == "memory_format"),
        None,
    )
    if index is None:
        raise FixError("no memory_format argument")
    removed = call.args[index]
    receiver = call.func.value
    func = cst.parse_expression(converter)
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    fmt = cst.Arg(removed.value, comma=removed.comma, whitespace_after_arg=removed.whitespace_after_arg)
    if len(call.args) == 1:
        # `.to` goes away, and with it the gaps around the dot and before `(`: a comment
        # there (`model  # why\n    .to(...)`) moves to after the receiver's comma.
        dot = call.func.dot
        gap = _merge(_merge(dot.whitespace_before, dot.whitespace_after), call.whitespace_after_func)
        comma = cst.Comma(whitespace_after=gap) if _has_comment(gap) else space
        new = cst.Call(
            func=func,
            args=[cst.Arg(receiver, comma=comma), fmt],
            whitespace_before_args=call.whitespace_before_args,
        )
    else:
        inner = _without_argument(call, index)
        new = cst.Call(func=func, args=[cst.Arg(inner, comma=space), cst.Arg(removed.value)])
    new_text = cst.Module(body=[], default_newline=newline).code_for_node(new)
    if sorted(_comments(call_text)) != sorted(_comments(new_text)):
        raise FixError("the rewrite would lose a comment")
    try:
        ast.parse(f"({new_text})", mode="eval")
    except SyntaxError as e:  # pragma: no cover - a LibCST tree always renders valid code
        raise FixError(f"the rewrite does not parse: {e.msg}") from None
    return new_text


def _without_argument(call, index: int):
    """The call without args[index], keeping the comments around the removed argument."""
    args = list(call.args)
    removed = args.pop(index)
    after_removed = (
        removed.comma.whitespace_after if isinstance(removed.comma, cst.Comma) else removed.whitespace_after_arg
    )
    if index < len(args):  # not the last argument: join the gaps before and after it
        if index == 0:
            merged = _merge(call.whitespace_before_args, after_removed)
            return call.with_changes(args=args, whitespace_before_args=merged)
        prev = args[index - 1]
        args[index - 1] = prev.with_changes(
            comma=prev.comma.with_changes(whitespace_after=_merge(prev.comma.whitespace_after, after_removed))
        )
        return call.with_changes(args=args)
    prev = args[index - 1]
    if isinstance(after_removed, cst.ParenthesizedWhitespace):  # f(a, removed,\n) -> f(a,\n)
        args[index - 1] = prev.with_changes(
            comma=prev.comma.with_changes(whitespace_after=_merge(prev.comma.whitespace_after, after_removed))
        )
    else:  # f(a, removed) and f(a, removed,) -> f(a)
        gap = _merge(prev.whitespace_after_arg, prev.comma.whitespace_before)
        gap = _merge(gap, prev.comma.whitespace_after)
        args[index - 1] = prev.with_changes(
            comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=_merge(gap, after_removed)
        )
    return call.with_changes(args=args)


def _merge(before, after):
    """Whitespace that stands for both gaps around a removed argument, comments kept."""
    if not isinstance(after, cst.ParenthesizedWhitespace):
        return before
    if not isinstance(before, cst.ParenthesizedWhitespace):
        return after
    if before.first_line.comment is None and not before.empty_lines:
        return after
    # Keep `before` as it is and turn the removed line's trailing comment into a line.
    lines = list(before.empty_lines)
    if after.first_line.comment is not None:
        lines.append(
            cst.EmptyLine(indent=before.indent, whitespace=before.last_line, comment=after.first_line.comment)
        )
    lines.extend(after.empty_lines)
    return before.with_changes(empty_lines=lines, indent=after.indent, last_line=after.last_line)


def _has_comment(whitespace) -> bool:
    return isinstance(whitespace, cst.ParenthesizedWhitespace) and (
        whitespace.first_line.comment is not None or any(line.comment for line in whitespace.empty_lines)
    )


def _comments(text: str) -> list[str]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(f"({text})").readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    return [t.string.strip() for t in tokens if t.type == tokenize.COMMENT]
