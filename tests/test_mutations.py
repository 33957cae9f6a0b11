"""The attack, kept running: module conversions inserted into the project's own fixtures and
into generated programs, in many syntactic positions and file shapes, then `fix`.

For every mutant: the fixed file's AST is the original's with exactly the reported calls
rewritten (and converter imports added), no byte changes outside the rewritten calls and
added imports, a second fix changes nothing, and Ruff finds no new undefined name, unused
import or redefinition (F821, F811, F401). A few hundred mutants in CI;
`CONVLINT_MUTANTS=5000` for a long run by hand (`CONVLINT_MUTANT_SEED` for others).
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from convlint.source import SourceText
from tests.fixture_cases import all_cases, run_cli
from tests.pytorch_programs import programs
from tests.test_properties import decode, rewritten_spans, split_fixed

MUTANTS = int(os.environ.get("CONVLINT_MUTANTS", "300"))
SEED = int(os.environ.get("CONVLINT_MUTANT_SEED", "10"))
KEEP = os.environ.get("CONVLINT_MUTANT_KEEP")  # a directory to copy failing mutants to
RUFF = shutil.which("ruff") or shutil.which("ruff", path=os.path.dirname(sys.executable))
CONVERTER = re.compile(r"convert_conv[23]d_weight_memory_format")
CONVERTER_HOMES = ("torch.nn.utils", "torch.nn.utils.memory_format", "convlint.runtime")

# --------------------------------------------------------------------------- what is inserted

# A module, and its format: `{m}` and `{f}` in the templates.
MODULES = [
    ("torch.nn.Conv2d(3, 8, 3)", "torch.channels_last"),
    ("torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())", "torch.channels_last"),
    ("torch.nn.Conv3d(1, 1, 1)", "torch.channels_last_3d"),
    ("torch.nn.Conv2d(3, 8, 3).cuda()", "torch.channels_last"),
]
# `.to(...)` argument lists around the format: `{to}` in the templates.
TO_ARGS = [
    "memory_format={f}",
    "'cuda', memory_format={f}",
    "memory_format={f}, non_blocking=True",
    "  # why\n{i}    memory_format={f},\n{i}",
    "\n{i}    device='cpu',\n{i}    memory_format={f},  # trailing\n{i}",
]

# Statement-level snippets, `{i}` the indentation of the insertion point and `{t}` one level
# more; each is self-contained (imports torch itself).
TEMPLATES = {
    "plain": "{i}net = {m}\n{i}net.to({to})",
    "assigned": "{i}net = {m}\n{i}net = net.to({to})",
    "inline": "{i}{m}.to({to})",
    "semicolons": "{i}net = {m}; net = net.to({to}); _x = 1",
    "backslash": "{i}net = {m}\n{i}net = net \\\n{i}    .to({to})",
    "list comprehension": "{i}nets = [{m}.to({to}) for _ in range(2)]",
    "dict comprehension": "{i}nets = {{k: {m}.to({to}) for k in 'ab'}}",
    "generator": "{i}nets = list({m}.to({to}) for _ in range(1))",
    "lambda": "{i}make = lambda: {m}.to({to})",
    "decorator": "{i}@(lambda f, _n={m}.to({to}): f)\n{i}def _decorated():\n{t}pass",
    "f-string": "{i}print(f\"{{{m}.to({to})!r:>5}}\")",
    "match": "{i}match 1:\n{t}case 1:\n{t}{t_}net = {m}\n{t}{t_}net.to({to})\n{t}case _:\n{t}{t_}pass",
    "match subject": "{i}match {m}.to({to}):\n{t}case _:\n{t}{t_}pass",
    "with": "{i}with torch.no_grad():\n{t}net = {m}\n{t}net = net.to({to})",
    "try": "{i}try:\n{t}net = {m}\n{i}except Exception:\n{t}raise\n{i}else:\n{t}net.to({to})\n{i}finally:\n{t}pass",
    "if expression": "{i}net = {m}.to({to}) if torch else None",
    "argument": "{i}print(dict(net={m}.to({to})))",
    "def": "{i}def _build():\n{t}net = {m}\n{t}return net.to({to})",
    "async def": "{i}async def _run():\n{t}net = {m}\n{t}net.to({to})",
    "class body": "{i}class _Holder:\n{t}net = {m}.to({to})",
    "walrus": "{i}if (net := {m}) is not None:\n{t}net.to({to})",
    "tuple": "{i}net, _n = {m}.to({to}), 1",
    "chained": "{i}{m}.to({to}).eval()",
    "nested": "{i}{m}.to({to}).to({to})",
    "for": "{i}for _k in range(1):\n{t}net = {m}\n{t}net.to({to})",
    "while": "{i}while True:\n{t}net = {m}.to({to})\n{t}break",
    "global": "{i}def _g():\n{t}global _net\n{t}_net = {m}\n{t}_net.to({to})",
    "comment before the dot": "{i}net = {m}\n{i}(net  # the model\n{i} .to({to}))",
    "ternary receiver": "{i}net = ({m} if torch else {m}).to({to})",
}
# Defects of the analysis and of fix planning that the mutants found, each reproduced by a
# file below: the fixed program must run as the original does, and pass every check of the
# mutants strictly (tests/test_mutations.py::test_found_defects_stay_fixed).
FOUND_DEFECTS = {
    "f-string =": (
        'import torch\nnet = torch.nn.Conv2d(3, 8, 3)\nprint(f"{net.to(memory_format=torch.channels_last)=}")\n',
        "issue 10 item 9: a call in an f-string `=` specifier was rewritten, so the printed text changed"),
    "converter bound after the call": (
        "import torch\nnet = torch.nn.Conv2d(3, 8, 3)\nnet.to(memory_format=torch.channels_last)\n"
        "from torch.nn.utils import convert_conv2d_weight_memory_format\n",
        "issue 10 item 7: the fix spelled the converter by a name bound only after the call (NameError)"),
    "torch bound only under TYPE_CHECKING": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\nfrom torch.nn import Conv2d\n"
        "from torch import channels_last\nnet = Conv2d(3, 8, 3)\nnet.to(memory_format=channels_last)\n",
        "issue 10 item 7: the fix spelled the converter through `torch`, bound only under TYPE_CHECKING"),
    "self rebinding to a tensor": (
        "import torch\nw = torch.nn.Conv2d(3, 8, 3)\nw = w.weight\nw.to(memory_format=torch.channels_last)\n",
        "issue 10 item 6: `w = w.weight` is a tensor, was reported as a module with a safe fix that crashed"),
    "private converter import left unused": (
        "import torch\nfrom torch.nn.utils import memory_format\nm = torch.nn.Conv2d(3, 8, 3)\n"
        "m = memory_format.convert_conv2d_weight_memory_format(m, torch.channels_last)\n",
        "CL104 (and CL103) rewrote the converter and left the import it was named by unused (F401)"),
}
NEWLINES = ["\n", "\n", "\r\n", "\r", "mixed"]
COOKIES = [None, None, None, "utf-8", "latin-1", "cp1252", "cp932", "utf-7", "bom"]


@dataclass
class Mutant:
    name: str
    data: bytes
    how: str  # what was inserted where, for the failure message


def insertion_points(text: str) -> list[tuple[int, str]]:
    """(0-based line, indentation) before each statement that starts its line."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    lines = text.split("\n")
    points = [(len(lines) - (1 if lines[-1] == "" else 0), "")]
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        row = min([node.lineno] + [d.lineno - 1 for d in getattr(node, "decorator_list", [])]) - 1
        line = lines[node.lineno - 1] if node.lineno - 1 < len(lines) else ""
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if len(indent) == node.col_offset and row < len(lines) and lines[row].startswith(indent):
            points.append((row, indent))
    return points


def mutate(host: str, rng: random.Random, template: str, name: str) -> Mutant | None:
    """`host` with the snippet of `template` inserted at a random statement, in a random
    file shape; None when that makes no valid program."""
    text = re.sub(r"\r\n|\r", "\n", host)
    if re.match(r"[ \t\f]*#.*?coding[:=]", "\n".join(text.split("\n")[:2])):
        text = "\n".join(line for line in text.split("\n")[:2] if "coding" not in line) + "\n" + "\n".join(text.split("\n")[2:])
    text = text.lstrip("\ufeff")
    points = insertion_points(text)
    if not points:
        return None
    row, indent = rng.choice(points)
    unit = rng.choice(["    ", "\t", "  "])
    module, fmt = rng.choice(MODULES)
    args = rng.choice(TO_ARGS)
    snippet = template.replace("{to}", args).format(i=indent, t=indent + unit, t_=unit, m=module, f=fmt)
    snippet = snippet.replace("{i}", indent)
    block = "import torch\n" if rng.random() < 0.8 else ""
    block = indent + block if block else ""
    lines = text.split("\n")
    inserted = "\n".join(lines[:row] + [block + snippet] + lines[row:])
    if "TYPE_CHECKING" in snippet:
        inserted = "from typing import TYPE_CHECKING\n" + inserted
    newline = rng.choice(NEWLINES)
    if newline == "mixed":
        parts = inserted.split("\n")
        # a lone CR too: before an LF-only empty line it reads as one CRLF, as Python reads it
        inserted = "".join(p + rng.choice(["\n", "\r\n", "\r"]) for p in parts[:-1]) + parts[-1]
    else:
        inserted = inserted.replace("\n", newline)
    cookie = rng.choice(COOKIES)
    how = f"{name!r} at line {row + 1}, newline {newline!r}, encoding {cookie}"
    try:
        compile(inserted, "mutant.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    if cookie in (None, "bom"):
        data = (b"\xef\xbb\xbf" if cookie == "bom" else b"") + inserted.encode("utf-8", "surrogatepass")
    else:
        first_newline = "\r\n" if newline == "\r\n" else "\n" if newline != "\r" else "\r"
        try:
            data = (f"# -*- coding: {cookie} -*-" + first_newline + inserted).encode(cookie)
        except UnicodeEncodeError:
            return None
    return Mutant("", data, how)


# --------------------------------------------------------------------------- the checks


def converted(tree: ast.AST, source: SourceText, calls: set[tuple[int, int, int, int]]) -> str:
    """The dump of `tree` with the `.to(...)` calls at `calls` (character spans) written as
    the rewrite makes them, every converter call's function as one marker, and converter
    imports left out: what the original and the fixed file must share."""

    aliases = {a.asname for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               for a in node.names if a.asname and CONVERTER.fullmatch(a.name)}

    def is_converter(func: ast.expr) -> bool:
        return bool(CONVERTER.search(ast.unparse(func))) or (isinstance(func, ast.Name) and func.id in aliases)

    class Rewrite(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call):
            start, end = source.node_start(node), source.node_end(node)
            span = (start.row, start.column, end.row, end.column)
            self.generic_visit(node)
            if span in calls and isinstance(node.func, ast.Attribute):
                keywords = [k for k in node.keywords if k.arg != "memory_format"]
                fmt = next(k.value for k in node.keywords if k.arg == "memory_format")
                inner = node.func.value
                if node.args or keywords:
                    inner = ast.Call(func=ast.Attribute(inner, "to", ast.Load()), args=node.args, keywords=keywords)
                return ast.Call(func=ast.Name("CONVERTED", ast.Load()), args=[inner, _canonical(fmt)], keywords=[])
            if is_converter(node.func):
                node.func = ast.Name("CONVERTED", ast.Load())
                if len(node.args) == 2:
                    node.args[1] = _canonical(node.args[1])
            return node

        def visit_If(self, node: ast.If):
            # The statement-level fix: `if C:` over `[x = ]CONVERTED(x, F)` is
            # `[x = ]CONVERTED(x, F if C else None)`.
            self.generic_visit(node)
            body = node.body[0] if len(node.body) == 1 and not node.orelse else None
            call = getattr(body, "value", None) if isinstance(body, (ast.Assign, ast.Expr)) else None
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "CONVERTED" \
                    and len(call.args) == 2 and not isinstance(call.args[1], ast.IfExp):
                call.args[1] = _canonical(ast.IfExp(node.test, call.args[1], ast.Constant(None)))
                return body
            return node

        def visit_ImportFrom(self, node: ast.ImportFrom):
            # Converter imports are what a fix adds, and removes once it left them unused.
            node.names = [a for a in node.names if not (
                node.module in CONVERTER_HOMES and CONVERTER.fullmatch(a.name)
                or f"{node.module}.{a.name}" == "torch.nn.utils.memory_format")]
            return node if node.names else None

        def visit_Import(self, node: ast.Import):
            node.names = [a for a in node.names if not (a.asname and a.name == "torch.nn.utils.memory_format")]
            return node if node.names else None

    return ast.dump(Rewrite().visit(tree))


def _canonical(fmt: ast.expr) -> ast.expr:
    """A conditional format with its channels-last branch first, `None` for a format that
    converts nothing on the other (`preserve_format`), and no double `not`; either rank's
    channels-last as one (the converters are one marker too: CL103 fixes either)."""
    if isinstance(fmt, ast.Attribute) and fmt.attr == "channels_last_3d":
        return ast.Attribute(fmt.value, "channels_last", fmt.ctx)
    if not isinstance(fmt, ast.IfExp):
        return fmt
    test, body, orelse = fmt.test, fmt.body, fmt.orelse
    if _converts_nothing(body):
        test, body, orelse = ast.UnaryOp(ast.Not(), test), orelse, body
    if _converts_nothing(orelse):
        orelse = ast.Constant(None)
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.UnaryOp) \
            and isinstance(test.operand.op, ast.Not):
        test = test.operand.operand
    return ast.IfExp(test, _canonical(body), _canonical(orelse))


def _converts_nothing(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (
        isinstance(node, ast.Attribute) and node.attr == "preserve_format")


def python_lines(data: bytes) -> list[bytes]:
    return re.findall(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+", data)


def python_lines_text(text: str) -> list[str]:
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+", text)


COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def ruff_findings(directory: Path, names: list[str]) -> dict[str, Counter]:
    """Ruff's F821, F811 and F401 findings of each file. Ruff reads UTF-8 only: each file is
    given to it as UTF-8, its cookie blanked (the lines stay where they are)."""
    utf8 = directory.parent / "utf8"  # not walked by the runs in `directory`
    utf8.mkdir(exist_ok=True)
    for name in names:
        lines = python_lines_text(decode((directory / name).read_bytes()))
        lines[:2] = [COOKIE.sub("# (cookie)", line) for line in lines[:2]]
        (utf8 / name).write_bytes("".join(lines).encode("utf-8", "surrogatepass"))
    out = subprocess.run([RUFF, "check", "--isolated", "--no-cache", "--select", "F821,F811,F401",
                          "--output-format", "json", "--exit-zero", str(utf8)],
                         capture_output=True, text=True, check=True).stdout
    found: dict[str, Counter] = {}
    for item in json.loads(out):
        message = re.sub(r"\bline \d+", "line N", item["message"])  # a fix may move lines
        found.setdefault(Path(item["filename"]).name, Counter())[(item["code"], message)] += 1
    return found


def check_batch(mutants: list[Mutant]) -> list[str]:
    """Fix the mutants all at once; the problems found, one line each."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "mutants"
        root.mkdir()
        for i, mutant in enumerate(mutants):
            mutant.name = f"mutant_{i:05d}.py"
            (root / mutant.name).write_bytes(mutant.data)
        flags = ["--isolated", "--unsafe-fixes", "-j", "2"]
        checked = run_cli(["check", "--output-format", "json", *flags, "."], root)
        assert checked.exit_code in (0, 1), checked.stderr
        findings: dict[str, list] = {}
        for item in json.loads(checked.stdout):
            findings.setdefault(Path(item["filename"]).name, []).append(item)
        ruff_before = ruff_findings(root, [m.name for m in mutants]) if RUFF else {}
        fixed = run_cli(["fix", "--write", *flags, "."], root)
        not_fixed = {(m["file"], int(m["row"]), int(m["column"])) for m in NOT_FIXED.finditer(fixed.stderr)}
        errors = [line for line in fixed.stderr.splitlines() if line.startswith("error:")]
        problems += [f"fix error: {line}" for line in errors]
        after = {m.name: (root / m.name).read_bytes() for m in mutants}
        run_cli(["fix", "--write", *flags, "."], root)
        ruff_after = ruff_findings(root, [m.name for m in mutants]) if RUFF else {}
        for mutant in mutants:
            if (root / mutant.name).read_bytes() != after[mutant.name]:
                problems.append(f"{mutant.name} ({mutant.how}): a second fix changed it")
            new = ruff_after.get(mutant.name, Counter()) - ruff_before.get(mutant.name, Counter())
            if new:
                problems.append(f"{mutant.name} ({mutant.how}): new Ruff findings {sorted(new)}")
            problem = check_mutant(mutant, after[mutant.name], findings.get(mutant.name, []), not_fixed)
            if problem:
                problems.append(f"{mutant.name} ({mutant.how}): {problem}")
            if KEEP and (problem or new):
                os.makedirs(KEEP, exist_ok=True)
                kept = f"{os.path.basename(tmp)}_{mutant.name}"  # batches reuse the names
                Path(KEEP, kept).write_bytes(mutant.data)
                Path(KEEP, kept + ".fixed").write_bytes(after[mutant.name])
    return problems


CONVERTER_IMPORT = re.compile(rb"[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t].*(?:convert_conv[23]d_weight_memory_format|memory_format)")
NOT_FIXED = re.compile(r"^warning: (?P<file>[^:\n]+):(?P<row>\d+):(?P<column>\d+): CL\d+ not fixed: ", re.M)


def check_mutant(mutant: Mutant, fixed_data: bytes, findings: list[dict], not_fixed: set) -> str | None:
    original = decode(mutant.data)
    try:
        fixed = decode(fixed_data)
        fixed_tree = ast.parse(fixed)
    except (SyntaxError, UnicodeDecodeError) as e:
        return f"the fixed file does not decode or parse: {e}"
    if fixed_data.startswith(b"\xef\xbb\xbf") != mutant.data.startswith(b"\xef\xbb\xbf"):
        return "the BOM changed"
    fixable = [f for f in findings
               if f["fix"] and (mutant.name, f["location"]["row"], f["location"]["column"]) not in not_fixed]
    source = SourceText(original)
    calls = {(f["location"]["row"], f["location"]["column"], f["end_location"]["row"], f["end_location"]["column"])
             for f in fixable if f["code"] in ("CL101", "CL102")}
    expected = converted(ast.parse(original), source, calls)
    if converted(fixed_tree, SourceText(fixed), set()) != expected:
        return "the fixed AST is not the original's with the reported calls rewritten"
    spans = rewritten_spans(original, fixable, unsafe=True, fixed=fixed)
    if split_fixed(fixed, original, spans) is None:
        return "text changed outside the rewritten calls and added imports"
    # Bytes: every line outside what a fix rewrites (the statement around a call, which is
    # laid out anew) is still there, byte for byte, in order.
    touched = set()
    for start, end, _ in spans:
        touched.update(range(source.location(start).row - 1, source.location(max(end - 1, start)).row))
    bom = b"\xef\xbb\xbf"
    kept = [line for i, line in enumerate(python_lines(mutant.data.removeprefix(bom)))
            if i not in touched and not CONVERTER_IMPORT.match(line)]  # (a fix may remove those it orphaned)
    remaining = iter(python_lines(fixed_data.removeprefix(bom)))
    missing = next((line for line in kept if not any(line == x for x in remaining)), None)
    if missing is not None:
        return f"the line {missing!r}, which holds no rewritten call, is not in the fixed file as it was"
    return None


# --------------------------------------------------------------------------- the tests


def hosts_from_fixtures() -> list[str]:
    out = []
    for case in all_cases():
        try:
            out.append(decode(case.path.read_bytes()))
        except (SyntaxError, UnicodeDecodeError, LookupError):
            continue
    return out


@pytest.mark.skipif(RUFF is None, reason="ruff is in the test extra")
def test_mutants_of_the_fixtures():
    rng = random.Random(SEED)
    hosts = [h for h in hosts_from_fixtures() if insertion_points(h)]
    mutants = []
    names = sorted(TEMPLATES)
    attempts = 0
    while len(mutants) < MUTANTS // 2 and attempts < MUTANTS * 10:
        attempts += 1
        name = names[attempts % len(names)]
        mutant = mutate(rng.choice(hosts), rng, TEMPLATES[name], name)
        if mutant is not None:
            mutants.append(mutant)
    assert len(mutants) >= MUTANTS // 2 * 0.9, "most mutants must be valid programs"
    problems = []
    for start in range(0, len(mutants), 400):
        problems += check_batch(mutants[start : start + 400])
    assert not problems, "\n".join(problems[:20])


@pytest.mark.skipif(RUFF is None, reason="ruff is in the test extra")
@settings(max_examples=max(MUTANTS // 60, 2), deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(hosts=st.lists(programs(), min_size=3, max_size=6), seed=st.integers(0, 2**32))
def test_mutants_of_generated_programs(hosts: list[bytes], seed: int):
    rng = random.Random(seed)
    names = sorted(TEMPLATES)
    mutants = []
    for host in hosts:
        for k in range(10):
            name = rng.choice(names)
            mutant = mutate(decode(host), rng, TEMPLATES[name], name)
            if mutant is not None:
                mutants.append(mutant)
    problems = check_batch(mutants)
    assert not problems, "\n".join(problems[:20])


RUN_BOTH = """
import contextlib, io, runpy, sys, json
out = {}
for path in sys.argv[1:]:
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            runpy.run_path(path, run_name="__main__")
        outcome = "ok"
    except BaseException as e:
        outcome = type(e).__name__
    out[path] = [outcome, buffer.getvalue()]
print(json.dumps(out))
"""


@pytest.mark.skipif(RUFF is None, reason="ruff is in the test extra")
@pytest.mark.parametrize("name", sorted(FOUND_DEFECTS))
def test_found_defects_stay_fixed(name, tmp_path):
    """The fixed program runs as the original does (it is run, with torch), and passes every
    check of the mutants."""
    source, _ = FOUND_DEFECTS[name]
    mutant = Mutant("", source.encode(), name)
    problems = check_batch([mutant])
    (tmp_path / "original.py").write_text(source)
    fixed = run_cli(["fix", "--isolated", "--unsafe-fixes", "-"], tmp_path, input=source).stdout
    (tmp_path / "fixed.py").write_text(fixed)
    runs = subprocess.run([sys.executable, "-c", RUN_BOTH, "original.py", "fixed.py"], cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    outcomes = json.loads(runs.stdout.splitlines()[-1])
    if outcomes["original.py"] != outcomes["fixed.py"]:
        problems.append(f"the fixed program runs differently: {outcomes}")
    assert not problems, "\n".join(problems)
