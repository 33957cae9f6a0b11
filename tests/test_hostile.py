"""Hostile input (huge, deep, newer-Python, odd line breaks): one line each, and the run goes on."""

from __future__ import annotations

import ast

import pytest

from convlint import fixing, lint
from convlint.config import Settings
from convlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from tests.fixture_cases import run_cli
from tests.test_bad_input import FIXED_LINE, assert_other_file_still_checked, tree

HEADER = "import torch\nimport torch.nn as nn\n\n"
FINDING = "model = nn.Conv2d(3, 8, 3)\nmodel = model.to(memory_format=torch.channels_last)\n"


def lines_of(result, name: str) -> list[str]:
    out = (result.stdout + result.stderr).splitlines()
    return [line for line in out if name in line]


def test_ten_megabyte_file(tmp_path):
    # Mostly a data table and comments, as generated files are; the finding at the very end.
    rows = "".join(f"    ({i}, {i * 0.5}, 'row {i}'),  # row comment\n" for i in range(20_000))
    padding = "# " + "padding " * 9 + "\n"
    body = HEADER + "TABLE = [\n" + rows + "]\n" + padding * (10_000_000 // len(padding))
    source = body + FINDING
    tree(tmp_path, {"huge.py": source.encode()})
    assert (tmp_path / "huge.py").stat().st_size > 10_000_000
    result = run_cli(["check", "--isolated", "."], tmp_path)
    [line] = lines_of(result, "huge.py")
    assert line.startswith(f"huge.py:{source.count(chr(10))}:9: CL101 [*]")
    assert_other_file_still_checked(result)
    run_cli(["fix", "--write", "--isolated", "huge.py"], tmp_path)
    assert (tmp_path / "huge.py").read_text() == body + FINDING.replace(FINDING.splitlines()[1], FIXED_LINE)


def test_hundred_thousand_line_file(tmp_path):
    blocks = []
    for i in range(2_000):  # 2,000 findings among 100,000 lines
        blocks.append(f"m{i} = nn.Conv2d(1, 1, 1)\nm{i} = m{i}.to(memory_format=torch.channels_last)\n")
        blocks.append("".join(
            f"v{j} = x.to(memory_format=torch.channels_last)\n" if j % 8 == 0 else f"# filler {j}\n" if j % 2 else "\n"
            for j in range(48)
        ))
    source = HEADER + "".join(blocks)
    assert source.count("\n") > 100_000
    tree(tmp_path, {"long.py": source.encode()})
    result = run_cli(["check", "--isolated", "-j", "2", "."], tmp_path)
    reported = [line for line in result.stdout.splitlines() if line.startswith("long.py:")]
    assert len(reported) == 2_000 and all(": CL101 [*]" in line for line in reported)
    assert reported[-1].startswith(f"long.py:{3 + 50 * 1999 + 2}:")
    assert_other_file_still_checked(result)


def _python_calls(work) -> int:
    """How many Python calls `work()` makes: a count of work done that, unlike a time, does
    not depend on the machine or its load (a quadratic loop is quadratic in calls too)."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.runcall(work)
    return pstats.Stats(profile).total_calls


def test_many_findings_cost_linear_work():
    """Four times the findings may cost about four times as much, not sixteen: each finding
    once looked up every name of the file to spell its fix."""

    def check(n: int):
        text = HEADER + "".join(f"m{i} = nn.Conv2d(1, 1, 1)\nm{i} = m{i}.to(memory_format=torch.channels_last)\n"
                                for i in range(n))
        return lambda: lint.lint_source(text, "many.py", Settings())

    small, large = _python_calls(check(600)), _python_calls(check(2_400))
    assert large < 5 * small, f"600 findings {small:,} calls, 2,400 findings {large:,} calls"


def test_choosing_which_fixes_to_apply_is_not_quadratic():
    """Every fix of a pass was once compared with every fix chosen before it."""
    added = Edit(Location(3, 1), Location(3, 1), "from torch.nn.utils import convert\n")

    def fixes(n: int) -> list[Diagnostic]:
        out = []
        for row in range(4, 4 + n):
            call = Edit(Location(row, 1), Location(row, 20), "convert(m, cl)")
            fix = Fix(Applicability.SAFE, "convert", (call, added))
            out.append(Diagnostic("many.py", "CL101", "", call.start, call.end, fix))
        return out

    small_fixes, large_fixes = fixes(1_000), fixes(4_000)
    edits, applied = fixing._non_overlapping(large_fixes)
    assert len(applied) == 4_000 and edits.count(added) == 1 and len(edits) == 4_001
    small = _python_calls(lambda: fixing._non_overlapping(small_fixes))
    large = _python_calls(lambda: fixing._non_overlapping(large_fixes))
    assert large < 5 * small, f"1,000 fixes {small:,} calls, 4,000 fixes {large:,} calls"


DEEP = {
    # Past the parser's limits: CPython cannot compile these either.
    "parens.py": ("x = " + "(" * 5_000 + "1" + ")" * 5_000 + "\n", "too many nested parentheses"),
    "brackets.py": ("x = " + "[" * 5_000 + "1" + "]" * 5_000 + "\n", "too many nested parentheses"),
    "chain.py": ("m = nn.Conv2d(1, 1, 1)" + ".cuda()" * 10_000 + "\n", "too deeply nested to parse"),
    "sum.py": ("x = " + " + ".join(["1"] * 100_000) + "\n", "too deeply nested to parse"),
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_nesting_beyond_the_parser(tmp_path, name):
    body, message = DEEP[name]
    tree(tmp_path, {name: (HEADER + body + FINDING).encode()})
    result = run_cli(["check", "--isolated", "."], tmp_path)
    assert result.exit_code == 1
    [line] = lines_of(result, name)
    assert line.startswith(f"{name}:") and f"CL000 syntax error: {message}" in line
    assert_other_file_still_checked(result)


NESTED_BUT_VALID = {
    # These parse and compile; each level of them once cost the analysis several frames.
    "long_sum.py": "total = " + " + ".join(["1"] * 2_000) + "\n",
    "elif_chain.py": "if flag:\n    pass\n" + "".join(f"elif flag == {i}:\n    pass\n" for i in range(2_000)),
    "ternary.py": "y = " + " if flag else ".join(["1"] * 2_000) + "\n",
    "method_chain.py": "m = nn.Conv2d(1, 1, 1)" + ".cuda()" * 1_000 + ".to(memory_format=torch.channels_last)\n",
}


@pytest.mark.parametrize("name", sorted(NESTED_BUT_VALID))
def test_deep_but_valid_nesting_is_analyzed(tmp_path, name):
    source = HEADER + NESTED_BUT_VALID[name] + FINDING
    compile(source, name, "exec")
    tree(tmp_path, {name: source.encode()})
    result = run_cli(["check", "--isolated", "."], tmp_path)
    row = source.count("\n")
    # The finding after the deep part is reported; the thousand-call receiver is not followed.
    [line] = lines_of(result, name)
    assert line.startswith(f"{name}:{row}:9: CL101")
    assert result.exit_code == 1 and result.stderr == ""
    assert_other_file_still_checked(result)


def test_deep_argument_of_a_module_call_is_rewritten(tmp_path):
    """The rewrite and its layout are iterative: a thousand-term argument is no problem."""
    source = HEADER + "model = nn.Conv2d(1, 1, 1)\nmodel.to(" + " + ".join(["1"] * 1_000) + ", memory_format=torch.channels_last)\n"
    tree(tmp_path, {"deeparg.py": source.encode()})
    result = run_cli(["fix", "--write", "--isolated", "."], tmp_path)
    assert "not fixed" not in result.stderr
    fixed = (tmp_path / "deeparg.py").read_text()
    tree_ = ast.parse(fixed)
    assert "convert_conv2d_weight_memory_format(\n    model.to(" in fixed
    assert sum(isinstance(n, ast.Constant) and n.value == 1 for n in ast.walk(tree_)) >= 1_000
    assert FIXED_LINE in (tmp_path / "good.py").read_text()


NEWER_SYNTAX = {
    # name: a construct newer than some supported interpreter (3.10, 3.11)
    "type_params.py": "def first[T](items: list[T]) -> T:\n    return items[0]\n",
    "type_alias.py": "type Pair = tuple[int, int]\n",
    "nested_fstring.py": 'names = ["a"]\nlabel = f"{", ".join(names)}"\n',
    "type_param_default.py": "def first[T = int](x: T) -> T:\n    return x\n",
    "multiline_type_params.py": "class Box[\n    T,  # the item\n](list[T]):\n    pass\n",
    "tstring.py": 'who = "x"\ngreeting = t"hi {who}"\n',
    "except_tuple.py": "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n",
    "except_star.py": "try:\n    pass\nexcept* ValueError:\n    pass\n",
}


@pytest.mark.parametrize("name", sorted(NEWER_SYNTAX))
def test_newer_python_syntax_is_analysed_and_fixed(tmp_path, name):
    """LibCST parses what the running interpreter cannot; the finding after it is reported
    at its own position and fixed, and the newer construct is left as it was."""
    source = HEADER + NEWER_SYNTAX[name] + FINDING
    tree(tmp_path, {name: source.encode()})
    result = run_cli(["check", "--isolated", "."], tmp_path)
    [line] = lines_of(result, name)
    assert line.startswith(f"{name}:{source.count(chr(10))}:9: CL101 [*]")
    assert_other_file_still_checked(result)
    run_cli(["fix", "--write", "--isolated", name], tmp_path)
    assert (tmp_path / name).read_text() == source.replace(FINDING.splitlines()[1], FIXED_LINE)


def test_syntax_invalid_in_every_version_is_still_a_syntax_error(tmp_path):
    source = HEADER + "def first[T](x: T) -> T:\n    return x +\n" + FINDING
    tree(tmp_path, {"broken.py": source.encode()})
    result = run_cli(["check", "--isolated", "."], tmp_path)
    [line] = lines_of(result, "broken.py")
    assert line.startswith("broken.py:") and " CL000 syntax error: " in line
    assert_other_file_still_checked(result)


def test_match_statement_is_analyzed_and_fixed(tmp_path):
    source = HEADER + (
        "def build(kind, match=None):\n"
        "    match kind:\n"
        "        case \"conv\" | \"c\":\n"
        "            model = nn.Conv2d(1, 1, 1)\n"
        "            model.to(memory_format=torch.channels_last)\n"
        "        case {\"k\": case} if case:\n"
        "            pass\n"
        "        case [x, *rest]:\n"
        "            x.to(memory_format=torch.channels_last)\n"
        "        case _:\n"
        "            match = case = 1\n"
    )
    tree(tmp_path, {"matching.py": source.encode()})
    result = run_cli(["check", "--isolated", "."], tmp_path)
    [line] = lines_of(result, "matching.py")
    assert line.startswith("matching.py:8:13: CL101 [*]")
    run_cli(["fix", "--write", "--isolated", "matching.py"], tmp_path)
    fixed = (tmp_path / "matching.py").read_text()
    # Twelve columns in, the converter call is split as black splits it.
    assert fixed == source.replace("model.to(memory_format=torch.channels_last)",
                                   "torch.nn.utils.convert_conv2d_weight_memory_format(\n"
                                   "                model, torch.channels_last\n"
                                   "            )")


def test_form_feeds_and_mixed_line_endings(tmp_path):
    source = (
        b"import torch\r\nimport torch.nn as nn\n\x0c\n"
        b"m = nn.Conv2d(1, 1, 1)\r\x0cm.to(memory_format=torch.channels_last)  # a CR\r\n"
        b"\x0c  \x0c\nif True:\n\x0c    m.to(memory_format=torch.channels_last)\rprint(1)\n"
    )
    tree(tmp_path, {"odd.py": source})
    result = run_cli(["check", "--isolated", "."], tmp_path)
    assert [line.split(" ")[0] for line in lines_of(result, "odd.py")] == ["odd.py:5:2:", "odd.py:8:6:"]
    assert_other_file_still_checked(result)
    run_cli(["fix", "--write", "--isolated", "odd.py"], tmp_path)
    # Every byte is kept but for the two calls: form feeds, CR, LF and CRLF where they were.
    converted = b"torch.nn.utils.convert_conv2d_weight_memory_format(m, torch.channels_last)"
    assert (tmp_path / "odd.py").read_bytes() == source.replace(b"m.to(memory_format=torch.channels_last)", converted)
