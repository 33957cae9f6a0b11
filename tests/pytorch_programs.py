"""A hypothesis grammar of PyTorch-shaped Python modules full of `.to(memory_format=...)` calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

COMMENTS = [
    "# a comment",
    "#no space",
    "# noqa",
    "# noqa: CL101",
    "# type: ignore",
    "# 中文注释 ✓",
    "# model.to(memory_format=torch.channels_last) in a comment",
    "#",
]
NAMES = ["model", "net", "backbone", "m", "layer", "block", "ema_model", "modèle", "réseau", "网络"]
TENSOR_NAMES = ["x", "images", "batch_x", "feat", "ïnput"]
STRINGS = ['"ünïcödé ✓ 🚀"', "'model.to(memory_format=torch.channels_last)'", '"""doc\nstring"""',
           "r'\\d+'", 'f"{1 + 1}"', "b'bytes'"]


@dataclass
class Spellings:
    """What the generated imports make available, so the body uses names that exist."""

    torch: list[str] = field(default_factory=list)  # `torch`, `th`
    nn: list[str] = field(default_factory=list)  # `nn`, `torch.nn`, `tnn`
    ctors: list[str] = field(default_factory=list)  # constructors imported by name: `Conv2d(3, 8, 3)`
    classes: list[str] = field(default_factory=list)  # module classes defined in the program
    builders: list[str] = field(default_factory=list)  # functions that return a module
    formats: list[str] = field(default_factory=list)  # channels_last spellings
    other_formats: list[str] = field(default_factory=list)  # contiguous, preserve
    bound: list[str] = field(default_factory=list)  # names the body has bound


# What each import binds. Drawn in three groups, each often absent: files without a `torch`
# or `nn` binding are the ones that need the converter imported.
TORCH_IMPORTS = {
    "import torch": {"torch": ["torch"], "nn": ["torch.nn"]},
    "import torch as th": {"torch": ["th"], "nn": ["th.nn"]},
    "import torch.nn": {"torch": ["torch"], "nn": ["torch.nn"]},
}
NN_IMPORTS = {
    "import torch.nn as nn": {"torch": ["torch"], "nn": ["nn", "torch.nn"]},
    "from torch import nn": {"nn": ["nn"]},
    "from torch import nn as tnn": {"nn": ["tnn"]},
}
OTHER_IMPORTS = {
    "from torch import channels_last, contiguous_format": {"formats": ["channels_last"], "other": ["contiguous_format"]},
    "from torch.nn import Conv2d, Conv3d": {"ctors": ["Conv2d(3, 8, 3)", "Conv3d(1, 1, 1)"]},
    "from torch.nn.utils import convert_conv2d_weight_memory_format": {},
    "from torch.nn import utils": {},
    "import os, sys": {},
}
IMPORTS = {**TORCH_IMPORTS, **NN_IMPORTS, **OTHER_IMPORTS}


@dataclass
class Style:
    indent: str  # one level: spaces or a tab
    newline: str  # "\n", "\r\n", or "mixed"
    mixed_bits: int  # which lines get "\r\n" in a mixed file


@st.composite
def comment(draw) -> str:
    return draw(st.sampled_from(COMMENTS))


@st.composite
def gap(draw, cont: str) -> str:
    """What may stand between two tokens inside brackets: spaces, a line break, a comment."""
    return draw(st.sampled_from(["", " ", "  ", "\n" + cont, "  " + draw(comment()) + "\n" + cont, "\t"]))


@st.composite
def module_expr(draw, sp: Spellings) -> str:
    choices = []
    for nn in sp.nn:
        choices += [f"{nn}.Conv2d(3, 8, 3)", f"{nn}.Sequential({nn}.Conv3d(1, 1, 1))", f"{nn}.Linear(2, 2)"]
    choices += sp.ctors + [f"{c}()" for c in sp.classes] + [f"{b}()" for b in sp.builders]
    choices += [n for n in sp.bound if n not in TENSOR_NAMES]
    choices += ["model", "net", "obj.model", "make()", "self.encoder"]
    base = draw(st.sampled_from(choices))
    if draw(st.booleans()):
        base = f"({base})"
    return base


@st.composite
def tensor_expr(draw, sp: Spellings) -> str:
    choices = [f"{t}.zeros(1, 3, 8, 8)" for t in sp.torch] + [f"{t}.randn(2, 3, 4, 4, 4)" for t in sp.torch]
    choices += TENSOR_NAMES + ["images[0]", "batch['x']", "x.float()"]
    return draw(st.sampled_from(choices))


@st.composite
def format_expr(draw, sp: Spellings) -> str:
    formats = [f"{t}.channels_last" for t in sp.torch] + [f"{t}.channels_last_3d" for t in sp.torch]
    formats += sp.formats + ["fmt", "torch.channels_last"]
    other = [f"{t}.contiguous_format" for t in sp.torch] + [f"{t}.preserve_format" for t in sp.torch] + sp.other_formats
    value = draw(st.sampled_from(formats + other))
    if other and draw(st.integers(0, 5)) == 0:
        value = f"{value} if flag else {draw(st.sampled_from(other))}"
    return value


@st.composite
def to_call(draw, sp: Spellings, cont: str, receiver: str | None = None) -> str:
    """`<receiver>.to(<args>)` with memory_format among positional and keyword arguments."""
    if receiver is None:
        receiver = draw(st.one_of(module_expr(sp), tensor_expr(sp)))
    for _ in range(draw(st.integers(0, 2))):
        receiver += draw(st.sampled_from([".cuda()", ".half()", ".eval()", ".to('cuda')", ".float()", ".train(False)"]))
    torch = draw(st.sampled_from(sp.torch or ["torch"]))
    positional = draw(st.lists(st.sampled_from(['"cuda"', "device", f"{torch}.float16", "*args"]),
                               max_size=2, unique=True))
    keywords = [f"memory_format{draw(st.sampled_from(['=', ' = ', ' =']))}{draw(format_expr(sp))}"]
    keywords += draw(st.lists(st.sampled_from(["non_blocking=True", "copy=False", f"dtype={torch}.half"]),
                              max_size=2, unique=True))
    keywords = draw(st.permutations(keywords))
    if draw(st.integers(0, 6)) == 0:
        keywords.append("**kwargs")
    args = positional + keywords
    text = "(" + draw(st.sampled_from(["", "\n" + cont, " # opening comment\n" + cont]))
    for i, arg in enumerate(args):
        text += arg
        if i < len(args) - 1:
            text += "," + draw(gap(cont))
    text += draw(st.sampled_from(["", ",", ",\n" + cont, "\n" + cont, ",  # trailing comment\n" + cont, " "])) + ")"
    dot = draw(st.sampled_from([".", " .", ". ", "\n" + cont + ".", " # before the dot\n" + cont + "."]))
    call = receiver + dot + draw(st.sampled_from(["to", "to "])) + text
    if "\n" in dot or draw(st.integers(0, 4)) == 0:
        call = "(" + call + ")"  # a line break before the dot needs brackets around the call
    elif draw(st.integers(0, 4)) == 0:
        call = receiver + " \\\n" + cont + ".to" + text  # a backslash continuation instead
    if draw(st.integers(0, 3)) == 0:
        call += draw(st.sampled_from([".eval()", ".to(memory_format=torch.channels_last)", "[0]", ".cuda()"]))
    return call


@st.composite
def statement(draw, sp: Spellings, level: int, style: Style, in_class: bool = False) -> list[str]:
    """Lines (without newlines) of one statement at `level`; may be a compound one."""
    pad = style.indent * level
    cont = style.indent * (level + 1)
    kind = draw(st.sampled_from(["call", "call", "assign", "assign", "tensor", "comment", "blank", "print",
                                 "if", "for", "with", "def", "annotated", "string", "formfeed", "nested_to",
                                 "flagged"]))
    trailing = draw(st.sampled_from(["", "", "  " + draw(comment())]))
    if in_class and draw(st.booleans()):
        receiver = draw(st.sampled_from(["self", "self.conv", "self.encoder"]))
        return [pad + draw(to_call(sp, cont, receiver)) + trailing]
    if kind == "call":
        return [pad + draw(to_call(sp, cont)) + trailing]
    if kind == "assign":
        name = draw(st.sampled_from(NAMES))
        value = draw(st.one_of(to_call(sp, cont), module_expr(sp)))
        sp.bound.append(name)
        if draw(st.integers(0, 3)) == 0:
            return [pad + f"{name} = \\", cont + value + trailing]
        return [pad + f"{name} = {value}" + trailing]
    if kind == "tensor":
        name = draw(st.sampled_from(TENSOR_NAMES))
        sp.bound.append(name)
        return [pad + f"{name} = " + draw(to_call(sp, cont, draw(tensor_expr(sp)))) + trailing]
    if kind == "flagged":  # `x = x.to(memory_format=F if C else None)`: fixed under `if C:`
        name = draw(st.sampled_from(NAMES + ["self.model"]))
        torch = draw(st.sampled_from(sp.torch or ["torch"]))
        fmt = draw(st.sampled_from([f"{torch}.channels_last", f"{torch}.channels_last_3d"]))
        off = draw(st.sampled_from(["None", f"{torch}.preserve_format", f"{torch}.contiguous_format"]))
        test = draw(st.sampled_from(["flag", "not flag", "args.cl and flag", "a or b", "x == 1", "cfg['cl']"]))
        value = draw(st.sampled_from([f"{fmt} if {test} else {off}", f"{off} if {test} else {fmt}",
                                      f"({fmt} if {test} else {off})"]))
        call = f"{name}.to({draw(st.sampled_from(['', chr(10) + cont]))}memory_format={value})"
        return [pad + draw(st.sampled_from([f"{name} = ", ""])) + call + trailing]
    if kind == "nested_to":
        inner = draw(to_call(sp, cont))
        return [pad + draw(to_call(sp, cont, f"({inner})")) + trailing]
    if kind == "annotated" and sp.nn:
        name = draw(st.sampled_from(NAMES))
        sp.bound.append(name)
        return [pad + f"{name}: {sp.nn[0]}.Module = " + draw(to_call(sp, cont)) + trailing]
    if kind == "comment":
        return [pad + draw(comment())]
    if kind == "blank":
        return [draw(st.sampled_from(["", "   ", "\t"]))]
    if kind == "formfeed" and level == 0:
        return ["\x0c", "\x0c# after a form feed"]
    if kind == "string":
        return [pad + f"s = {draw(st.sampled_from(STRINGS))}" + trailing]
    if kind == "print":
        return [pad + f"print({draw(st.sampled_from(STRINGS))}, " + draw(to_call(sp, cont)) + ")" + trailing]
    if level >= 3:
        return [pad + "pass"]
    header = {
        "if": "if flag:",
        "for": draw(st.sampled_from(["for batch_x in loader:", "for i, x in enumerate(train_loader):"])),
        "with": f"with {draw(st.sampled_from(sp.torch or ['torch']))}.no_grad():",
        "def": draw(st.sampled_from(["def build(device):", "def forward(x):", "async def run(net):"])),
    }.get(kind, "if True:")
    body = draw(block(sp, level + 1, style, min_size=1, max_size=3))
    lines = [pad + header + trailing] + body
    if kind == "if" and draw(st.booleans()):
        lines += [pad + "else:"] + draw(block(sp, level + 1, style, min_size=1, max_size=2))
    if kind == "def" and draw(st.booleans()):
        lines.append(cont + "return " + draw(to_call(sp, style.indent * (level + 2))))
    return lines


@st.composite
def block(draw, sp: Spellings, level: int, style: Style, min_size: int = 0, max_size: int = 6,
          in_class: bool = False) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(min_size, max_size))):
        lines += draw(statement(sp, level, style, in_class))
    # A block needs one statement, not only comments and blank lines.
    if level > 0 and not any(line.strip() and not line.strip().startswith(("#", "\x0c")) for line in lines):
        lines.append(style.indent * level + "pass")
    return lines


@st.composite
def module_class(draw, sp: Spellings, style: Style) -> list[str]:
    name = draw(st.sampled_from(["Net", "Encoder", "Réseau", "Block3d"]))
    nn = draw(st.sampled_from(sp.nn)) if sp.nn else "object"
    base = f"{nn}.Module" if nn != "object" else nn
    i1, i2 = style.indent, style.indent * 2
    lines = [f"class {name}({base}):", f"{i1}def __init__(self):", f"{i2}super().__init__()"]
    if sp.nn:
        lines += [f"{i2}self.conv = {sp.nn[0]}.Conv2d(3, 8, 3)", f"{i2}self.encoder = {sp.nn[0]}.Identity()"]
    lines += [f"{i1}def forward(self, x):"] + draw(block(sp, 2, style, 1, 3, in_class=True))
    lines += [f"{i2}return self.conv(x)"]
    sp.classes.append(name)
    return lines


@st.composite
def programs(draw) -> bytes:
    """A whole module: header, imports, classes, functions and statements, as file bytes."""
    style = Style(
        indent=draw(st.sampled_from(["    ", "  ", "\t"])),
        newline=draw(st.sampled_from(["\n", "\r\n", "\r\n", "mixed"])),
        mixed_bits=draw(st.integers(0, 2**64 - 1)),
    )
    sp = Spellings()
    lines: list[str] = []
    lines += draw(st.sampled_from([[], ["#!/usr/bin/env python"], ['"""A module docstring."""'],
                                   ["# -*- coding: utf-8 -*-"], ["# -*- coding: latin-1 -*-"]]))
    groups = (TORCH_IMPORTS, NN_IMPORTS)
    imports = [line for group in groups if (line := draw(st.sampled_from([None, None, None, *group])))]
    imports += draw(st.lists(st.sampled_from(sorted(OTHER_IMPORTS)), max_size=3, unique=True))
    if not imports or draw(st.booleans()):  # the format by its bare name, often the only way
        imports.append("from torch import channels_last, contiguous_format")
    imports = list(dict.fromkeys(imports))
    imports = draw(st.permutations(imports))
    if draw(st.booleans()):
        lines.append("from __future__ import annotations")
    for line in imports:
        provides = IMPORTS[line]
        sp.torch += provides.get("torch", [])
        sp.nn += provides.get("nn", [])
        sp.ctors += provides.get("ctors", [])
        sp.formats += provides.get("formats", [])
        sp.other_formats += provides.get("other", [])
        lines.append(line)
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(comment()))
    lines.append("")
    if draw(st.booleans()):
        lines += draw(module_class(sp, style)) + [""]
    if draw(st.booleans()):
        sp.builders.append("build_model")
        lines += ["def build_model():", style.indent + f"return {sp.classes[0] if sp.classes else 'make'}()", ""]
    if draw(st.booleans()):
        lines.append(f"fmt = {draw(format_expr(sp))}")
    lines += draw(block(sp, 0, style, 1, 8))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    if style.newline == "mixed":
        parts = text.split("\n")
        text = "".join(p + ("\r\n" if style.mixed_bits >> (i % 64) & 1 else "\n") for i, p in enumerate(parts[:-1]))
        text += parts[-1]
    else:
        text = text.replace("\n", style.newline)
    if lines and lines[0] == "# -*- coding: latin-1 -*-":
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:  # a name or string outside latin-1: say utf-8 instead
            text = text.replace("latin-1", "utf-8", 1)
    data = text.encode("utf-8")
    if draw(st.integers(0, 5)) == 0 and not (lines and lines[0].startswith("#!")):
        data = b"\xef\xbb\xbf" + data
    return data
