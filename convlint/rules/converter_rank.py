"""CL103: a conv-weight converter called with the other rank's channels_last format."""

from __future__ import annotations

import ast

from convlint.analysis.index import CallSite
from convlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from convlint.layouts import BY_CONVERTER, CHANNELS_LAST, CHANNELS_LAST_3D, CONVERTER_HOMES, PRIVATE_HOME, PUBLIC_HOME, Layout
from convlint.rules.base import Context, Rule
from convlint.rules.converters import converter_reference

CL103_DOC = """\
# converter-rank-mismatch (CL103)

## What it does
Finds a conv-weight converter called with the channels_last format of the other rank.
`convert_conv2d_weight_memory_format(module, torch.channels_last_3d)` and
`convert_conv3d_weight_memory_format(module, torch.channels_last)` are reported, from
`torch.nn.utils`, its private `torch.nn.utils.memory_format` or `convlint.runtime`, under
any import alias, and with a format held in a variable when that is the only value it has.

## Why is this bad?
The 2-D converter restrides 4-D Conv2d weights and the 3-D one 5-D Conv3d weights. With the
other rank's format PyTorch raises `RuntimeError: required rank 5 tensor to use
channels_last_3d format` as soon as the model has such a convolution (`convlint.runtime`
raises `ValueError` always); on a model without one the call does nothing, so the model
the format was meant for is never converted.

## Example
```python
model = torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last_3d)
```

Use instead:
```python
model = torch.nn.utils.convert_conv3d_weight_memory_format(model, torch.channels_last_3d)
```

## Fix safety
The fix renames the function to the converter that matches the format, keeping its module
path (`torch.nn.utils.`, `th.nn.utils.`, an alias); a converter imported by its bare name
gets the other one imported from the same module (`torch.nn.utils` for the private one)
when the file does not have it yet. It takes the format as what was meant: the call as
written can only raise or do nothing, and the converted model computes the same outputs.
The fix is safe when the format is the literal `torch.channels_last` /
`torch.channels_last_3d`, unsafe when it is a variable that holds only that format.
"""

_OTHER = {CHANNELS_LAST.format: CHANNELS_LAST_3D, CHANNELS_LAST_3D.format: CHANNELS_LAST}


class ConverterRankMismatch(Rule):
    codes = {"CL103": CL103_DOC}
    names = {"CL103": "converter-rank-mismatch"}

    needs = (b"channels_last",)

    def triggered(self, data: bytes) -> bool:
        # The call names a converter (or imports it) and a channels_last format.
        return b"convert_conv" in data and b"channels_last" in data

    def check(self, ctx: Context) -> list[Diagnostic]:
        found = [match for site in ctx.analysis.calls if (match := self._match(ctx, site))]
        return [self._diagnostic(ctx, *f) for f in found]

    def _match(self, ctx: Context, site: CallSite):
        call = site.node
        func = call.func
        if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)) not in ctx.converter_names:
            return None  # not spelled like a converter (or an alias of one): not one
        qualified = ctx.analysis.qualify(func, site.scope) or ""
        home, _, name = qualified.rpartition(".")
        if home not in CONVERTER_HOMES or name not in BY_CONVERTER:
            return None
        if any(isinstance(a, ast.Starred) for a in call.args[:2]):
            return None
        fmt = call.args[1] if len(call.args) > 1 else next(
            (k.value for k in call.keywords if k.arg == "memory_format"), None
        )
        wanted = _OTHER[BY_CONVERTER[name].format]
        if fmt is None or ctx.analysis.formats(fmt, site.scope).names != {wanted.format}:
            return None
        literal = ctx.analysis.qualify(fmt, site.scope) == f"torch.{wanted.format}"
        return site, home, wanted, literal

    def _diagnostic(self, ctx: Context, site: CallSite, home: str, wanted: Layout, literal: bool) -> Diagnostic:
        given = _OTHER[wanted.format]
        maybe = "" if literal else " (through a variable)"
        message = (
            f"`{given.converter}` converts {given.rank}-D conv weights and raises on "
            f"`{wanted.format}`{maybe}; use `{wanted.converter}`"
        )
        edits = self._rename(ctx, site, home, wanted.converter)
        fix = None
        if edits is not None:
            applicability = Applicability.SAFE if literal else Applicability.UNSAFE
            fix = Fix(applicability, f"Replace with `{wanted.converter}`", edits)
        return ctx.diagnostic("CL103", message, site.node, fix)

    def _rename(self, ctx: Context, site: CallSite, home: str, converter: str) -> tuple[Edit, ...] | None:
        func = site.node.func
        end = ctx.source.node_end(func)
        if isinstance(func, ast.Attribute):  # `<module path>.<converter>`: rename the last name
            return (Edit(Location(end.row, end.column - len(func.attr)), end, converter),)
        # A bare (maybe aliased) import: the other converter from the same, public, module.
        public = PUBLIC_HOME if home == PRIVATE_HOME else home
        reference = converter_reference(ctx, site, converter, public, through_packages=False)
        if reference is None:
            return None
        text, import_edit = reference
        return (Edit(ctx.source.node_start(func), end, text),) + ((import_edit,) if import_edit else ())
