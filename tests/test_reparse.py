"""analysis/reparse.py: a buffer's tree after any sequence of edits is the tree `ast.parse`
gives for the text (every node and position), and the statements it keeps are reused."""

from __future__ import annotations

import ast

from hypothesis import example, given, settings
from hypothesis import strategies as st

from convlint.analysis.reparse import Reparser

BASE = '''\
"""A module."""
import torch
from torch import nn

x = 1; y = 2
a = 1; b = (
    2
)
c = (
    3
); d = 4


@decorator
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3)


def build(flag):
    model = Net()
    if flag:
        model = model.to(memory_format=torch.channels_last)
    return model


TEXT = """
def inside_a_string():
    pass
"""
values = [
    1,
    2,
]
model = build(True)
'''
# Lines an editor may type: ones that open or close brackets and strings, continue a line,
# change indentation, decorate, or share a line.
LINES = [
    "", "\n", "z = 3\n", "    z = 3\n", "def f():\n", "@decorator\n", "(\n", ")\n", '"""\n', "x = [\n", "]\n",
    "a = 1 \\\n", "if True:\n", "else:\n", "class C: pass\n", "q = 1; r = 2\n", "# comment\n", "    return 1\n",
    "\t\n", "s = '''\n", "model = model.to(memory_format=torch.channels_last)\n", "  \n",
]
EDITS = st.lists(st.tuples(st.sampled_from(["insert", "delete", "replace", "type"]), st.integers(0, 60),
                           st.sampled_from(LINES)), min_size=1, max_size=6)


def tree_or_error(parse, text: str) -> str:
    try:
        return ast.dump(parse(text), include_attributes=True)
    except SyntaxError:
        return "SyntaxError"


def edited(lines: list[str], op: str, at: int, line: str) -> list[str]:
    lines = list(lines)
    at = at % (len(lines) + 1)
    if op == "insert":
        lines.insert(at, line)
    elif lines and at < len(lines):
        if op == "delete":
            del lines[at]
        elif op == "replace":
            lines[at] = line
        else:  # a keystroke inside a line
            lines[at] = lines[at][: len(lines[at]) // 2] + line.strip()[:1] + lines[at][len(lines[at]) // 2 :]
    return lines


@settings(max_examples=150, deadline=None)
@given(EDITS)
# Found by this test: a kept statement whose last row ends in `\` went on into the row the
# second edit changed (its positions end before the continuation).
@example([("insert", 3, "a = 1 \\\n"), ("insert", 3, "a = 1 \\\n")])
def test_every_edit_gives_the_tree_of_a_whole_parse(edits):
    reparser = Reparser()
    reparser.parse(BASE)
    lines = BASE.splitlines(keepends=True)
    for op, at, line in edits:
        lines = edited(lines, op, at, line)
        text = "".join(lines)
        assert tree_or_error(lambda t: reparser.parse(t).tree, text) == tree_or_error(ast.parse, text)


def test_an_edit_in_one_function_reparses_only_it():
    reparser = Reparser()
    reparser.parse(BASE)
    statements = len(ast.parse(BASE).body)
    text = BASE.replace("    return model\n", "    return model  # typed\n")
    assert ast.dump(reparser.parse(text).tree, include_attributes=True) == ast.dump(ast.parse(text), include_attributes=True)
    assert reparser.reused == statements - 1
    # A line added before statements moves them.
    text = text.replace("x = 1; y = 2\n", "x = 1; y = 2\n\n\n")
    assert ast.dump(reparser.parse(text).tree, include_attributes=True) == ast.dump(ast.parse(text), include_attributes=True)
    assert reparser.reused == statements  # blank lines: every statement kept, those after moved


def test_a_syntax_error_keeps_the_last_good_tree():
    reparser = Reparser()
    reparser.parse(BASE)
    broken = BASE.replace("def build(flag):", "def build(flag:")
    try:
        reparser.parse(broken)
    except SyntaxError:
        pass
    else:
        raise AssertionError("a broken text parsed")
    fixed = BASE.replace("def build(flag):", "def build(flag, other):")
    assert ast.dump(reparser.parse(fixed).tree, include_attributes=True) == ast.dump(ast.parse(fixed), include_attributes=True)
    assert reparser.reused > 0
