"""CL101 / CL102: a whole nn.Module converted with `.to(memory_format=channels_last[_3d])`."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from enum import Enum

from convlint.diagnostics import Applicability, Diagnostic, Fix
from convlint.inference import Inference, Receiver, Scope
from convlint.layouts import CHANNELS_LAST, CHANNELS_LAST_3D
from convlint.rules.base import Context, Rule
from convlint.rules.converters import CallRewrite, converter_reference

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
subclass, a model factory such as `timm.create_model`, `self` in a module class, ...) and the
format is the literal `torch.channels_last`. It is unsafe when the receiver is a module only
by its name (`model`, `net`, ...), or when the format is a variable or a conditional that may
be `channels_last` (the converter must match the rank). With `fix-target = "convlint"` the
call goes to `convlint.runtime.convert_conv2d_weight_memory_format` instead.
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
torch 2.3; on older torch set `fix-target = "convlint"` to use `convlint.runtime`'s.
"""


# `memory_format=` (not `==`) whose value is not a literal contiguous/preserve format. The
# lookahead refuses a blank too, so that backtracking over the blanks cannot skip past it.
_LIVE_FORMAT_KEYWORD = re.compile(
    rb"memory_format[ \t]*=(?!=)[ \t]*(?![ \t]|(?:\w+\.)?(?:contiguous_format|preserve_format)\b)"
)


class Format(Enum):
    CL2D = "channels_last"
    CL3D = "channels_last_3d"
    OTHER = "other"  # contiguous_format, preserve_format, anything that is not channels_last
    UNKNOWN = "unknown"


_LITERAL_FORMATS = {
    "torch.channels_last": Format.CL2D,
    "torch.channels_last_3d": Format.CL3D,
    "torch.contiguous_format": Format.OTHER,
    "torch.preserve_format": Format.OTHER,
}
CONVERTERS = {Format.CL2D: CHANNELS_LAST.converter, Format.CL3D: CHANNELS_LAST_3D.converter}


@dataclass(frozen=True)
class _Finding:
    call: ast.Call
    scope: Scope
    receiver: Inference
    formats: frozenset
    literal: bool


class ModuleToChannelsLast(Rule):
    codes = {"CL101": CL101_DOC, "CL102": CL102_DOC}
    names = {"CL101": "module-to-channels-last", "CL102": "module-to-channels-last-3d"}

    needs = (b"channels_last",)

    def triggered(self, data: bytes) -> bool:
        # Sound: a finding needs a channels_last format that this file names, directly or
        # in a binding the analysis follows, and a `memory_format=` keyword whose value is
        # not spelled contiguous_format or preserve_format (most tensor code: diffusers').
        return b"channels_last" in data and _LIVE_FORMAT_KEYWORD.search(data) is not None

    def check(self, ctx: Context) -> list[Diagnostic]:
        findings = []
        for call, scope in ctx.index.calls:
            finding = self._match(ctx, call, scope)
            if finding is not None:
                findings.append(finding)
        if not findings:
            return []
        return [self._diagnostic(ctx, f) for f in findings]

    def _match(self, ctx: Context, call: ast.Call, scope: Scope) -> _Finding | None:
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "to"):
            return None
        keyword = next((k for k in call.keywords if k.arg == "memory_format"), None)
        if keyword is None:
            return None
        formats = format_values(ctx, keyword.value, scope)
        if not formats & {Format.CL2D, Format.CL3D}:
            return None
        receiver = ctx.inferrer.infer(func.value, scope)
        if receiver.kind not in (Receiver.MODULE, Receiver.LIKELY_MODULE):
            return None
        literal = literal_format(ctx, keyword.value, scope) in (Format.CL2D, Format.CL3D)
        return _Finding(call, scope, receiver, frozenset(formats), literal)

    def _diagnostic(self, ctx: Context, f: _Finding) -> Diagnostic:
        channel_formats = f.formats & {Format.CL2D, Format.CL3D}
        rank = Format.CL3D if channel_formats == {Format.CL3D} else Format.CL2D
        code = "CL102" if rank is Format.CL3D else "CL101"
        who = "a module" if f.receiver.kind is Receiver.MODULE else "what is likely a module"
        if len(channel_formats) == 2:
            message = (
                f"`.to(memory_format=...)` on {who} restrides every 4-D or 5-D parameter and buffer "
                "(the format may be channels_last or channels_last_3d); use the conv-weight "
                "converter of the format's rank"
            )
        else:
            maybe = "" if f.literal else f" (the format may be {rank.value})"
            dims = "5-D" if rank is Format.CL3D else "4-D"
            message = (
                f"`.to(memory_format={rank.value})` on {who} restrides every {dims} parameter and "
                f"buffer{maybe}; use `{CONVERTERS[rank]}` to convert only the conv weights"
            )
        fix = None
        if len(channel_formats) == 1:
            fix = self._fix(ctx, f, rank)
        return ctx.diagnostic(code, message, f.call, fix)

    def _fix(self, ctx: Context, f: _Finding, rank: Format) -> Fix | None:
        reference = converter_reference(ctx, f.scope, CONVERTERS[rank])
        if reference is None:
            return None
        text, import_edit = reference
        safe = f.receiver.kind is Receiver.MODULE and f.literal
        start, end = ctx.location(f.call)
        return Fix(
            Applicability.SAFE if safe else Applicability.UNSAFE,
            f"Replace with `{text}(...)`",
            plan=CallRewrite(start, end, text, import_edit, ctx.path),
        )


def literal_format(ctx: Context, node: ast.expr, scope: Scope) -> Format | None:
    qualified = ctx.inferrer.qualify(node, scope)
    return _LITERAL_FORMATS.get(qualified or "")


def format_values(ctx: Context, node: ast.expr, scope: Scope) -> set[Format]:
    """Every format this expression may hold, following local bindings."""
    return set(_format_values(ctx, node, scope, set())[0])


def _format_values(ctx: Context, node: ast.expr, scope: Scope, stack: set) -> tuple[frozenset[Format], bool]:
    """(the formats, whether no cycle was cut short on the way). Each name's answer is kept
    per file once it is complete, so chains of conditional rebindings stay linear."""
    literal = literal_format(ctx, node, scope)
    if literal is not None:
        return frozenset({literal}), True
    if isinstance(node, ast.IfExp):
        body, body_complete = _format_values(ctx, node.body, scope, stack)
        orelse, orelse_complete = _format_values(ctx, node.orelse, scope, stack)
        return body | orelse, body_complete and orelse_complete
    if isinstance(node, ast.Constant):
        return frozenset({Format.OTHER}), True
    if isinstance(node, ast.NamedExpr):
        return _format_values(ctx, node.value, scope, stack)
    if not isinstance(node, ast.Name):
        return frozenset({Format.UNKNOWN}), True
    bindings = scope.lookup(node.id) or []
    key = (node.id, id(bindings))
    if key in ctx.format_memo:
        return ctx.format_memo[key], True
    if key in stack:
        return frozenset({Format.UNKNOWN}), False
    stack.add(key)
    values: set[Format] = set()
    complete = True
    for binding in bindings:
        found: list[tuple[frozenset[Format], bool]] = []
        if binding.kind == "assign" and binding.node is not None and binding.element is None:
            found.append(_format_values(ctx, binding.node, binding.scope, stack))
        elif binding.kind == "param" and binding.node is not None:
            found.append(_format_values(ctx, binding.node, binding.scope.parent or binding.scope, stack))
            values.add(Format.UNKNOWN)
        elif binding.kind == "for" and isinstance(binding.node, (ast.Tuple, ast.List, ast.Set)):
            found.extend(_format_values(ctx, element, binding.scope, stack) for element in binding.node.elts)
        else:
            values.add(Format.UNKNOWN)
        for formats, was_complete in found:
            values |= formats
            complete = complete and was_complete
    stack.discard(key)
    result = frozenset(values or {Format.UNKNOWN})
    if complete:
        ctx.format_memo[key] = result
    return result, complete
