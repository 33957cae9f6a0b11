"""Properties of `check` and `fix` on generated PyTorch programs and on every fixture."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import stat
import tempfile
import tokenize
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convlint.analysis import syntax
from convlint.rules.converters import orphaned_imports
from convlint.source import SourceText
from tests.fixture_cases import Case, all_cases, run_cli
from tests.pytorch_programs import programs

try:
    import hypothesmith
except ImportError:  # optional: programs() covers the PyTorch shapes, this any syntax
    hypothesmith = None

# Bounded and derandomized in CI; CONVLINT_HYPOTHESIS_EXAMPLES=5000 for a long run.
EXAMPLES = int(os.environ.get("CONVLINT_HYPOTHESIS_EXAMPLES", "60"))
REWRITTEN = ("CL101", "CL102")
# The only lines a CL101/CL102 fix adds outside the calls it rewrites.
ADDED_IMPORT = r"from (?:torch\.nn\.utils|convlint\.runtime) import convert_conv[23]d_weight_memory_format"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # Python's line breaks, not str.splitlines()


def decode(data: bytes) -> str:
    """Decode as Python does: the cookie is on one of the first two lines, which may end in
    a lone CR (tokenize's readline would take a CR-only file for one line)."""
    first = re.match(rb"[^\r\n]*(?:\r\n|\r|\n)?", data)
    lines = iter([first.group(), re.match(rb"[^\r\n]*(?:\r\n|\r|\n)?", data[first.end():]).group()])
    encoding, _ = tokenize.detect_encoding(lambda: next(lines, b""))
    return data.decode(encoding)


def parses(text: str) -> bool:
    """Whether some supported Python parses it (syntax newer than this interpreter too)."""
    return syntax.parses(text)


def comments(text: str) -> Counter:
    """The comments of `text`, those a layout put on one line (as black does) one by one."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return Counter(part if i == 0 else "#" + part for t in tokens if t.type == tokenize.COMMENT
                   for i, part in enumerate(t.string.split("  #")))


def offset(lines: list[str], row: int, column: int) -> int:
    """The character offset of a 1-based (row, column), as convlint reports them."""
    return sum(len(line) for line in lines[: row - 1]) + column - 1


def rewritten_spans(text: str, findings: list[dict], unsafe: bool, fixed: str | None = None) -> list[tuple[int, int, bool]]:
    """The outermost character ranges a fix may rewrite, and whether each is a CL101/CL102
    call (checked closely) rather than another rule's edit (only its place is checked).
    With `fixed`: also the converter imports the fix left unused, which it removes."""
    lines = _LINE.findall(text)

    def at(location: dict) -> int:
        return offset(lines, location["row"], location["column"])

    statements = _simple_statements(text, lines)
    spans = []
    if fixed is not None:
        source = SourceText(text)
        spans += [(source.offset(e.start), source.offset(e.end), False) for e in orphaned_imports(text, fixed, on=text)]
    for f in findings:
        fix = f.get("fix")
        if not fix or not (unsafe or fix["applicability"] == "safe"):
            continue
        call = f["code"] in REWRITTEN
        start, end = at(f["location"]), at(f["end_location"])
        if call:  # a rewrite lays out the simple statement around the call anew
            start, end = next(((a, b) for a, b in statements if a <= start and end <= b), (start, end))
        spans.append((start, end, call))
        if not call:  # another rule's edits may reach outside its finding
            spans += [(at(e["location"]), at(e["end_location"]), False) for e in fix["edits"]
                      if not re.fullmatch(ADDED_IMPORT + r"(?:\r\n|\r|\n)", e["content"])]
    merged: list[tuple[int, int, bool]] = []
    for start, end, call in sorted(spans):
        if merged and (start < merged[-1][1] or (start, end) == merged[-1][:2]):  # nested
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), call and merged[-1][2])
        else:
            merged.append((start, end, call))
    return merged


def _simple_statements(text: str, lines: list[str]) -> list[tuple[int, int]]:
    """The character ranges of the simple statements that stand on lines of their own: from
    the statement's start to the end of its last line (its trailing comment included)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []

    def column(row: int, byte: int) -> int:
        return len(lines[row - 1].encode("utf-8")[:byte].decode("utf-8", "replace")) + 1

    ranges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not hasattr(node, "body"):
            start = offset(lines, node.lineno, column(node.lineno, node.col_offset))
            last = lines[node.end_lineno - 1]
            end = offset(lines, node.end_lineno, 1) + len(last.rstrip("\r\n"))
            ranges.append((start, end))
    return sorted(ranges, key=lambda r: r[1] - r[0])


def _newline_before(text: str, at: int) -> str:
    return "\r\n" if text.endswith("\r\n", 0, at) else text[at - 1]


def split_fixed(fixed: str, original: str, spans: list[tuple[int, int, bool]]) -> list[str] | None:
    """The texts that replaced each span, when `fixed` is `original` byte for byte but for
    the spans and converter imports added at line starts outside them; else None.

    Tries every way to explain `fixed` (an import line may be added, or an import rewritten
    to the same text) until one fits. A call's replacement must be a whole expression
    without surrounding whitespace: where it ends is otherwise ambiguous when the text after
    it could also start earlier (only spaces, say).
    """
    bounds = [0, *(x for start, end, _ in spans for x in (start, end)), len(original)]
    pieces = [_LINE.findall(original[bounds[i]:bounds[i + 1]]) for i in range(0, len(bounds), 2)]
    # An added import ends with the newline of the line it follows (in a file of mixed ones,
    # not necessarily the first; checked where it is tried), and before a def or class, two blank lines more, as
    # formatters want them after imports: both are tried.
    added_imports = [re.compile(ADDED_IMPORT + r"(\r\n|\r|\n)"), re.compile(ADDED_IMPORT + r"(\r\n|\r|\n)\1\1")]

    def piece_ends(lines: list[str], at: int, line_start: bool):
        """Where a piece starting at `at` can end, given added imports after line breaks."""
        for k in range(len(lines) + 1):
            for added in (m for pattern in added_imports if line_start and (m := pattern.match(fixed, at))
                          if at == 0 or _newline_before(fixed, at) == m.group(1)):
                yield from piece_ends(lines[k:], added.end(), True)  # an import was added here
            if k == len(lines):
                yield at
            elif not fixed.startswith(lines[k], at):
                return
            else:
                at, line_start = at + len(lines[k]), lines[k].endswith(("\n", "\r"))

    def replacements(i: int, at: int) -> list[str] | None:
        for start in piece_ends(pieces[i], at, line_start=at == 0):
            if i == len(spans):
                if start == len(fixed):
                    return []
                continue
            call = spans[i][2]
            for end in range(start, len(fixed) + 1):
                new = fixed[start:end]
                if next(piece_ends(pieces[i + 1], end, False), None) is None:
                    continue
                if call and not (new and new == new.strip() and (is_expression(new) or is_statement(new))):
                    continue
                rest = replacements(i + 1, end)
                if rest is not None:
                    return [new, *rest]
        return None

    return replacements(0, 0)


def _parenthesized(text: str) -> str:
    return f"({text})" if is_expression(text) else "if 1:\n " + text.replace("\n", "\n ")


def is_statement(text: str) -> bool:
    try:
        ast.parse("if 1:\n " + text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\n "))
    except SyntaxError:
        return False
    return True


def is_expression(text: str) -> bool:
    try:
        ast.parse(f"({text})", mode="eval")
    except SyntaxError:
        return False
    return True


def assert_fix_properties(directory: Path, name: str, unsafe: bool, mode: int = 0o644,
                          all_fixed: bool = True) -> None:
    """check never crashes; fix output parses, compiles, is idempotent and leaves nothing
    fixable; only the rewritten calls and added imports change; every comment survives;
    the mode, BOM, encoding and line endings are kept. `all_fixed`: no fix is given up on."""
    path = directory / name
    path.chmod(mode)
    data = path.read_bytes()
    original = decode(data)
    flags = ["--isolated", "-j", "1"] + (["--unsafe-fixes"] if unsafe else [])

    checked = run_cli(["check", "--output-format", "json", *flags, name], directory)
    assert checked.exit_code in (0, 1), checked.stderr
    assert "internal error" not in checked.stderr and "Traceback" not in checked.stderr
    findings = json.loads(checked.stdout)

    fixed_run = run_cli(["fix", "--write", *flags, name], directory)
    assert fixed_run.exit_code in (0, 1), fixed_run.stderr
    assert "error:" not in fixed_run.stderr, fixed_run.stderr
    if all_fixed:  # not even a warning that a fix was given up on
        assert fixed_run.stderr == "", fixed_run.stderr
    fixed_data = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == mode
    if not parses(original):
        assert fixed_data == data
        return
    assert fixed_data.startswith(b"\xef\xbb\xbf") == data.startswith(b"\xef\xbb\xbf")
    fixed = decode(fixed_data)
    if not syntax.parse(original).lowered:  # (newer syntax compiles on a newer Python only)
        compile(fixed, name, "exec")  # raises if the fix broke the program
    assert parses(fixed)

    again = run_cli(["fix", "--write", *flags, name], directory)
    assert path.read_bytes() == fixed_data, "fix is not idempotent"
    assert "Fixed 0 errors" in again.stdout

    after = json.loads(run_cli(["check", "--output-format", "json", *flags, name], directory).stdout)
    left = [f for f in after if f["fix"] and (unsafe or f["fix"]["applicability"] == "safe")]
    assert not left, f"still fixable after fix: {left}"

    spans = rewritten_spans(original, findings, unsafe, fixed)
    replaced = split_fixed(fixed, original, spans)
    assert replaced is not None, f"the fix changed text outside the rewritten calls:\n{fixed}"
    for (start, end, call), new in zip(spans, replaced):
        old = original[start:end]
        if call and new != old:
            assert "convert_conv" in new, new
            assert comments(_parenthesized(new)) == comments(_parenthesized(old)), (old, new)
    assert comments(fixed) == comments(original)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=programs(), unsafe=st.booleans(), mode=st.sampled_from([0o644, 0o600, 0o755, 0o640]))
def test_generated_programs(program: bytes, unsafe: bool, mode: int):
    text = decode(program)
    assert parses(text), text  # the grammar makes only valid Python
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "prog.py").write_bytes(program)
        assert_fix_properties(Path(tmp), "prog.py", unsafe, mode)


# Any Python at all (hypothesmith's grammar), then a module call to rewrite after it.
ANY_PROGRAM = hypothesmith.from_grammar() | hypothesmith.from_node() if hypothesmith else st.nothing()
A_FINDING = "\nimport torch\nimport torch.nn as nn\nmodel = nn.Conv2d(1, 1, 1)\nmodel.to(memory_format=torch.channels_last)\n"


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed")
@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None, derandomize=EXAMPLES <= 100,
          suppress_health_check=list(HealthCheck))
@given(source=ANY_PROGRAM)
def test_any_program_with_a_finding(source: str):
    text = source + A_FINDING
    assume(parses(text))
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file holds it
        assume(False)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "any.py").write_bytes(data)
        assert_fix_properties(Path(tmp), "any.py", unsafe=False)


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.id)
def test_fixtures_have_the_properties(case: Case, tmp_path: Path):
    work = tmp_path / "case"
    shutil.copytree(case.path.parent, work)  # neighbours: project imports resolve as in place
    assert_fix_properties(work, case.path.name, unsafe=True)


@pytest.mark.parametrize("before, after", [
    # a lone CR, then LF lines: the import follows the LF line and takes its LF
    (b"import torch\rfrom torch import nn\n\nm = nn.Conv2d(3, 8, 3)\r\nm = m.to(memory_format=torch.channels_last)\n",
     b"import torch\rfrom torch import nn\nfrom convlint.runtime import convert_conv2d_weight_memory_format\n\n"
     b"m = nn.Conv2d(3, 8, 3)\r\nm = convert_conv2d_weight_memory_format(m, torch.channels_last)\n"),
    # LF imports in a CRLF file: LF; a CR-only import block: CR
    (b"import torch\nfrom torch import nn\r\n\r\nm = nn.Conv2d(3, 8, 3)\r\nm = m.to(memory_format=torch.channels_last)\r\n",
     b"import torch\nfrom torch import nn\r\nfrom convlint.runtime import convert_conv2d_weight_memory_format\r\n\r\n"
     b"m = nn.Conv2d(3, 8, 3)\r\nm = convert_conv2d_weight_memory_format(m, torch.channels_last)\r\n"),
    (b"import torch\rfrom torch import nn\r\rm = nn.Conv2d(3, 8, 3)\nm = m.to(memory_format=torch.channels_last)\n",
     b"import torch\rfrom torch import nn\rfrom convlint.runtime import convert_conv2d_weight_memory_format\r\r"
     b"m = nn.Conv2d(3, 8, 3)\nm = convert_conv2d_weight_memory_format(m, torch.channels_last)\n"),
], ids=["lone-cr-first", "lf-in-crlf", "cr-block-in-lf"])
def test_an_added_import_takes_the_newline_of_the_line_it_follows(tmp_path, before, after):
    (tmp_path / "mixed.py").write_bytes(before)
    result = run_cli(["fix", "--write", "--isolated", "--fix-target", "convlint", "mixed.py"], tmp_path)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (tmp_path / "mixed.py").read_bytes() == after
