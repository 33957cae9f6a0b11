"""CL101 / CL102: a whole nn.Module converted with `.to(memory_format=channels_last[_3d])`."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from convlint.analysis import Receiver, Verdict
from convlint.analysis.index import CallSite
from convlint.analysis.values import NEUTRAL_FORMATS
from convlint.diagnostics import Applicability, Diagnostic, Fix
from convlint.layouts import CHANNELS_LAST, CHANNELS_LAST_3D, LAYOUTS, RUNTIME_HOME
from convlint.rules.base import Context, Rule
from convlint.plans import CallRewrite, Guard
from convlint.rules.converters import converter_reference, not_in_targeted_torch
from convlint.triggers import may_convert_a_module

CL101_DOC = """\
# module-to-channels-last (CL101)

## What it does
Finds `.to(memory_format=torch.channels_last)` called on an `nn.Module` (a model, not a
tensor).

## Why is this bad?
`Module.to(memory_format=torch.channels_last)` restrides every 4-D parameter and buffer of
the model, not only the convolution weights: a ViT's positional embedding of shape
(1, C, H, W), a mask buffer, anything. It raises `RuntimeError: required rank 4 tensor to use
channels_last format` on a model that holds any 5-D tensor. The speed of channels_last comes
from the convolutions alone, and `torch.nn.utils.convert_conv2d_weight_memory_format`
converts exactly those; the outputs are the same.

The same spelling on a Tensor (`images.to(device, memory_format=torch.channels_last)`) is
correct code and is never reported.

## Example
```python
model = ResNet().cuda()
model = model.to(memory_format=torch.channels_last)
```

Use instead:
```python
model = ResNet().cuda()
model = torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)
```

Other arguments of `.to` are kept: `model.to(device, memory_format=torch.channels_last)`
becomes `convert_conv2d_weight_memory_format(model.to(device), torch.channels_last)`.

## Fix safety
The fix is safe when the receiver is known to be a module (constructed from an `nn.Module`
subclass, a model factory such as `timm.create_model`, `self` in a module class, what every
caller passes, ...) and the format is the literal `torch.channels_last`, except where
torch's converter does less than `.to()`, or costs more:
- a TorchScript module (`torch.jit.script`, `trace`, `freeze`, `load`): torch's converter
  converts none of its convs, so there is no fix to it (`fix-target = "convlint"` has one);
- a module whose classes use `spectral_norm`, `weight_norm`, parametrizations or
  `LazyConv*`: torch's converter skips them, or the next forward undoes it (unsafe);
- a call that runs many times (in a loop, in a function called from one, a callback of
  `model.apply`): torch's converter copies every conv weight on every call, `.to()` nothing
  once converted: hoist it out of the loop (unsafe);
- a format that may also be `None` or `contiguous_format`: torch's converter still copies
  every conv weight on that path (unsafe). Where the statement is
  `model = model.to(memory_format=torch.channels_last if flag else None)` (or
  `preserve_format` for `None`, or a bare `model.to(...)` whose value is unused), the fix
  is `if flag:` over `model = convert_conv2d_weight_memory_format(model, torch.channels_last)`:
  the off path does nothing, as `.to()` did there, and that fix is as safe as for a
  literal format. `contiguous_format` is not rewritten so: `.to()` restrides an already
  channels-last model back to it;
- a module whose convolutions are classes of its own holding a 4-D weight used through
  `F.conv2d` (not `nn.Conv2d` subclasses): no targeted converter sees them (unsafe, both
  targets); a parametrization applied in place (`spectral_norm(net[0])`) in the file, in
  the function that built the module or in a project helper the file calls (unsafe);
- a call inside an f-string `{...=}` field: not fixed (the printed text would change).
It is unsafe when the receiver is a module only by its name (`model`, `net`, ...), or when
the format is a variable or a conditional that may be `channels_last` (the converter must
match the rank). With `fix-target = "convlint"` the call goes to
`convlint.runtime.convert_conv2d_weight_memory_format` instead.

## Why it decided
Each finding carries the reason its receiver is a module (the bindings, calls, classes and
library facts followed): `convlint check --show-reasons` prints it under the finding, and the
JSON output has it as `reason`.
"""

CL102_DOC = """\
# module-to-channels-last-3d (CL102)

## What it does
Finds `.to(memory_format=torch.channels_last_3d)` called on an `nn.Module`.

## Why is this bad?
It restrides every 5-D parameter and buffer of the model, not only the Conv3d weights, and
raises on a model that holds a 4-D tensor of the wrong rank for the format.
`torch.nn.utils.convert_conv3d_weight_memory_format` converts only the convolution weights.

## Example
```python
model = VideoNet().to(memory_format=torch.channels_last_3d)
```

Use instead:
```python
model = torch.nn.utils.convert_conv3d_weight_memory_format(VideoNet(), torch.channels_last_3d)
```

## Fix safety
As for CL101. `convert_conv3d_weight_memory_format` is public in `torch.nn.utils` from
torch 2.3: where the project targets an older torch (`torch-version` in `[tool.convlint]`,
else its pins of torch: `torch<2.3` in a requirements file, `pyproject.toml`, `setup.cfg`
or `setup.py`), the fix calls `convlint.runtime`'s, and is unsafe (the code then needs
convlint where it runs; `fix-target = "convlint"` makes that the choice).
"""


CONVERTERS = {layout.format: layout.converter for layout in LAYOUTS}
_LITERALS = {f"torch.{layout.format}" for layout in LAYOUTS}
_NEUTRAL_LITERALS = {f"torch.{name}" for name in NEUTRAL_FORMATS if name != "none"}
_TORCH_DIFFERS = 'set `fix-target = "convlint"` (convlint.runtime handles them)'


@dataclass(frozen=True)
class _Finding:
    site: CallSite
    receiver: Verdict
    formats: frozenset  # the channels-last formats it may be
    neutral: bool  # it may also be a format that converts nothing (None, contiguous_format)
    literal: bool


class ModuleToChannelsLast(Rule):
    codes = {"CL101": CL101_DOC, "CL102": CL102_DOC}

    needs = (b"channels_last", b"memory_format")

    def triggered(self, data: bytes) -> bool:
        return may_convert_a_module(data)

    def check(self, ctx: Context) -> list[Diagnostic]:
        findings = [f for site in ctx.analysis.calls if (f := self._match(ctx, site)) is not None]
        return [self._diagnostic(ctx, f) for f in findings]

    def _match(self, ctx: Context, site: CallSite) -> _Finding | None:
        call = site.node
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "to"):
            return None
        keyword = next((k for k in call.keywords if k.arg == "memory_format"), None)
        if keyword is None:
            return None
        literal = ctx.analysis.qualify(keyword.value, site.scope)
        if literal in _NEUTRAL_LITERALS:
            return None
        # The receiver before a format that is not a literal: most `.to(memory_format=...)`
        # calls are on tensors, and a format's question may reach callers across the project.
        receiver = ctx.analysis.receiver(func.value, site.scope)
        if receiver.kind not in (Receiver.MODULE, Receiver.LIKELY_MODULE):
            return None
        formats = ctx.analysis.formats(keyword.value, site.scope)
        channels_last = formats.channels_last
        if not channels_last:
            return None
        literal = literal in _LITERALS or _is_getattr_literal(ctx, keyword.value, site)
        neutral = bool(formats.names & NEUTRAL_FORMATS)
        return _Finding(site, receiver, frozenset(channels_last), neutral, literal)

    def _diagnostic(self, ctx: Context, f: _Finding) -> Diagnostic:
        rank = CHANNELS_LAST_3D.format if f.formats == {CHANNELS_LAST_3D.format} else CHANNELS_LAST.format
        code = "CL102" if rank == CHANNELS_LAST_3D.format else "CL101"
        who = "a module" if f.receiver.kind is Receiver.MODULE else "what is likely a module"
        if len(f.formats) == 2:
            message = (
                f"`.to(memory_format=...)` on {who} restrides every 4-D or 5-D parameter and buffer "
                "(the format may be channels_last or channels_last_3d); use the conv-weight "
                "converter of the format's rank"
            )
        else:
            maybe = "" if f.literal else f" (the format may be {rank})"
            dims = "5-D" if rank == CHANNELS_LAST_3D.format else "4-D"
            message = (
                f"`.to(memory_format={rank})` on {who} restrides every {dims} parameter and "
                f"buffer{maybe}; use `{CONVERTERS[rank]}` to convert only the conv weights"
            )
        fix, notes = None, []
        if len(f.formats) == 1:
            fix, notes = self._fix(ctx, f, rank)
        if notes:
            message += "; " + "; ".join(notes)
        func = f.site.node.func
        noqa_row = ctx.source.ast_location(func.end_lineno, func.end_col_offset).row
        return ctx.diagnostic(code, message, f.site.node, fix, reason=f.receiver.reason, noqa_row=noqa_row)

    def _fix(self, ctx: Context, f: _Finding, rank: str) -> tuple[Fix | None, list[str]]:
        """The fix, and what the message must say about why it is unsafe or missing."""
        target = ctx.settings.fix_target
        site = f.site
        if site.fstring_debug:
            return None, ["not fixed: it is inside an f-string `=` field, whose printed text would change"]
        if site.in_fstring:  # (a rewrite laid out over lines would not be valid there before 3.12)
            return None, ["not fixed: it is inside an f-string"]
        notes: list[str] = []
        missing = not_in_targeted_torch(ctx, CONVERTERS[rank]) if target == "torch" else None
        if missing:  # torch<2.3 has no public 3-D converter: convlint.runtime's
            target = "convlint"
            notes.append(f"{missing}: the fix uses `{RUNTIME_HOME}`'s, which needs convlint where the code runs "
                         "(unsafe; `fix-target = \"convlint\"` makes that the choice)")
        # `x = x.to(memory_format=F if C else None)`: `if C:` over the converter, whose off
        # path copies nothing, as `.to()`'s did, and whose format is the literal F.
        guard = _guard(ctx, site) if f.neutral else None
        literal = f.literal or guard is not None
        safe = f.receiver.kind is Receiver.MODULE and literal and not missing
        if f.receiver.is_script and target == "torch":
            return None, ["it is a TorchScript module: torch's converter does not convert its convs "
                          f"(`.to()` does), so there is no fix to it; {_TORCH_DIFFERS}"]
        hazards = ctx.analysis.hazards(f.receiver)
        if target == "torch" and "parametrized" in hazards:
            safe = False
            notes.append("its convs are parametrized (spectral_norm, weight_norm), which torch's converter "
                         f"skips or the next forward undoes: the fix is unsafe; {_TORCH_DIFFERS}")
        if target == "torch" and "lazy" in hazards:
            safe = False
            notes.append("it has lazy convs, which torch's converter cannot convert before their first "
                         f"forward: the fix is unsafe; {_TORCH_DIFFERS}")
        if "custom_conv" in hazards:
            safe = False
            notes.append("it has convolutions of its own (`F.conv2d` with a weight it holds, not an "
                         "nn.Conv2d), whose weights no targeted converter sees: the fix is unsafe")
        repeats = ctx.analysis.repeats(site)
        if repeats:
            safe = False
            notes.append(f"{repeats}, where the converter copies every conv weight on each call "
                         "(`.to()` copies nothing once converted): hoist it out of the loop")
        if f.neutral and target == "torch" and guard is None:
            safe = False
            notes.append("the format may also be one that converts nothing (None, contiguous_format), "
                         "for which torch's converter still copies every conv weight: the fix is unsafe")
        if f.receiver.kind is Receiver.MODULE and not literal and not (f.neutral and target == "torch"):
            notes.append(f"the format is not written `torch.{rank}` but computed, and a rewrite is proven "
                         "equivalent only for the literal: the fix is unsafe")
        reference = converter_reference(ctx, site, CONVERTERS[rank], RUNTIME_HOME if missing else None)
        if reference is None:
            return None, notes
        text, import_edit = reference
        start, end = ctx.location(site.node)
        action = f"Replace with `{text}(...)`" if guard is None else f"Replace with `if {guard.condition}: {text}(...)`"
        fix = Fix(
            Applicability.SAFE if safe else Applicability.UNSAFE,
            action,
            plan=CallRewrite(start, end, text, import_edit, ctx.path, guard),
        )
        return fix, notes


# What a condition may hold to be moved from the format into an `if` ahead of the receiver:
# no calls, no assignments, nothing evaluated lazily or twice.
_IMPURE = (ast.Call, ast.NamedExpr, ast.Lambda, ast.Await, ast.Yield, ast.YieldFrom, ast.IfExp, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Starred, ast.JoinedStr)


def _guard(ctx: Context, site: CallSite) -> Guard | None:
    """The statement-level form of the fix, where it is equivalent: the statement is
    `x = x.to(memory_format=F if C else None)` (or `None if C else F`, `preserve_format`
    for None, or a bare `x.to(...)` whose value is unused), alone on its lines, `x` a name
    or attribute path, `C` without calls. On the off path `.to()` with a format that
    converts nothing returns `x` itself and changes nothing; `contiguous_format` would
    restride a channels-last model, so it is not taken."""
    call = site.node
    if call.args or len(call.keywords) != 1 or not isinstance(call.keywords[0].value, ast.IfExp):
        return None
    fmt = call.keywords[0].value
    qualify = ctx.analysis.qualify
    on_body, on_else = (qualify(branch, site.scope) in _LITERALS for branch in (fmt.body, fmt.orelse))
    if on_body == on_else:
        return None
    on, off = (fmt.body, fmt.orelse) if on_body else (fmt.orelse, fmt.body)
    if not ((isinstance(off, ast.Constant) and off.value is None) or qualify(off, site.scope) == "torch.preserve_format"):
        return None
    receiver = _path(call.func.value)
    if receiver is None or any(isinstance(node, _IMPURE) for node in ast.walk(fmt.test)):
        return None
    statement = next((s for s in ast.walk(ctx.tree) if isinstance(s, (ast.Assign, ast.Expr)) and s.value is call), None)
    if statement is None or (isinstance(statement, ast.Assign) and (
            len(statement.targets) != 1 or _path(statement.targets[0]) != receiver)):
        return None
    source = ctx.source
    start, end = ctx.location(statement)
    after = source.line_text(end.row)[end.column - 1 :].strip()
    if source.line_text(start.row)[: start.column - 1].strip() or (after and not after.startswith("#")):
        return None  # `if x: model = ...`, `...; y = 1`
    test = fmt.test
    negated = not on_body
    if negated and isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, negated = test.operand, False  # `None if not C else F`: `if C:`
    condition = source.node_text(test)
    if "\n" in condition or "\r" in condition:
        return None
    if negated:
        condition = f"not ({condition})" if isinstance(test, ast.BoolOp) else f"not {condition}"
    # The keyword as a whole, with any parentheses around the conditional.
    return Guard(start, end, condition, *ctx.location(call.keywords[0]), f"memory_format={source.node_text(on)}")


def _path(node: ast.expr) -> str | None:
    """`model`, `self.model`: a name or an attribute path of one, as text; else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _path(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None


def _is_getattr_literal(ctx: Context, node: ast.expr, site: CallSite) -> bool:
    """`getattr(torch, "channels_last")`: as literal as `torch.channels_last`."""
    return (
        isinstance(node, ast.Call)
        and ctx.analysis.qualify(node.func, site.scope) == "builtins.getattr"
        and len(node.args) == 2
        and ctx.analysis.qualify(node.args[0], site.scope) == "torch"
        and isinstance(node.args[1], ast.Constant)
        and f"torch.{node.args[1].value}" in _LITERALS
    )
