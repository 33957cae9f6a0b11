"""CL103: a conv-weight converter called with the other rank's channels_last format."""

from __future__ import annotations

import ast

from convlint.analysis.index import CallSite
from convlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from convlint.layouts import (
    BY_CONVERTER, CHANNELS_LAST, CHANNELS_LAST_3D, CONVERTER_HOMES, PRIVATE_HOME, PUBLIC_HOME, RUNTIME_HOME, Layout,
)
from convlint.rules.base import Context, Relayout, Rule
from convlint.rules.converters import converter_reference, not_in_targeted_torch

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
The call as written can only raise or do nothing; which of the converter and the format is
the mistake depends on the module's convs. Where they are known to be of one rank (the
module is a torch conv, or a project class whose code builds only torch modules and project
classes known so, with no module handed in or built by a function), the fix follows them:
on a Conv2d-only module `convert_conv2d_weight_memory_format(m2d, torch.channels_last_3d)`
becomes `(m2d, torch.channels_last)`, on a Conv3d-only one the converter is renamed. That
fix is safe when the format is the literal `torch.channels_last` / `torch.channels_last_3d`,
unsafe when it is a variable that holds only that format (a variable's format is not
rewritten).

Where the convs are not known, the fix renames the function to the converter that matches
the format, and is unsafe: on a Conv2d model the 3-D converter does nothing at all. The
rename keeps the module path (`torch.nn.utils.`, `th.nn.utils.`, an alias); a converter
imported by its bare name gets the other one imported from the same module
(`torch.nn.utils` for the private one) when the file does not have it yet. Where the
project targets torch older than 2.3 (`torch-version`, or its pins of torch), whose
`torch.nn.utils` has no `convert_conv3d_weight_memory_format`, the 3-D one comes from
`convlint.runtime` (unsafe: a new runtime dependency).
"""

_OTHER = {CHANNELS_LAST.format: CHANNELS_LAST_3D, CHANNELS_LAST_3D.format: CHANNELS_LAST}


class ConverterRankMismatch(Rule):
    codes = {"CL103": CL103_DOC}

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
        module = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "module"), None)
        ranks = ctx.analysis.conv_ranks(module, site.scope) if module is not None else None
        return site, home, wanted, literal, fmt, ranks

    def _diagnostic(self, ctx: Context, site: CallSite, home: str, wanted: Layout, literal: bool, fmt: ast.expr,
                    ranks: frozenset | None) -> Diagnostic:
        given = _OTHER[wanted.format]
        maybe = "" if literal else " (through a variable)"
        message = f"`{given.converter}` converts {given.rank}-D conv weights and raises on `{wanted.format}`{maybe}"
        applicability = Applicability.SAFE if literal else Applicability.UNSAFE
        if ranks == {given.rank}:  # the module's convs are the converter's: the format is wrong
            message += f"; the module's convs are {given.conv}: use `torch.{given.format}`"
            edits = self._reformat(ctx, fmt, given.format) if literal else None
            fix = Fix(applicability, f"Replace with `{given.format}`", plan=Relayout(edits, ctx.path)) if edits else None
            return ctx.diagnostic("CL103", message, site.node, fix)
        message += f"; use `{wanted.converter}`"
        missing = not_in_targeted_torch(ctx, wanted.converter) if home != RUNTIME_HOME else None
        if ranks != {wanted.rank}:
            applicability = Applicability.UNSAFE
            message += (f" (the module's convs are not known to be {wanted.conv}: the fix is unsafe, and "
                        f"`torch.{given.format}` may be what was meant)")
        if missing:
            applicability = Applicability.UNSAFE
            message += f"; {missing}: the fix uses `{RUNTIME_HOME}`'s, which needs convlint where the code runs"
        edits = self._rename(ctx, site, RUNTIME_HOME if missing else home, wanted.converter, bool(missing))
        fix = None
        if edits is not None:
            fix = Fix(applicability, f"Replace with `{wanted.converter}`", plan=Relayout(edits, ctx.path))
        return ctx.diagnostic("CL103", message, site.node, fix)

    def _reformat(self, ctx: Context, fmt: ast.expr, format: str) -> tuple[Edit, ...] | None:
        """`torch.channels_last_3d` -> `torch.channels_last`, keeping the path to torch."""
        if not isinstance(fmt, ast.Attribute):
            return None  # a bare name imported from torch: the other one may not be bound
        end = ctx.source.node_end(fmt)
        return (Edit(Location(end.row, end.column - len(fmt.attr)), end, format),)

    def _rename(self, ctx: Context, site: CallSite, home: str, converter: str,
                elsewhere: bool = False) -> tuple[Edit, ...] | None:
        func = site.node.func
        end = ctx.source.node_end(func)
        if isinstance(func, ast.Attribute) and not elsewhere:  # `<module path>.<converter>`: rename the last name
            return (Edit(Location(end.row, end.column - len(func.attr)), end, converter),)
        # A bare (maybe aliased) import, or one from elsewhere: the other converter from the
        # same, public, module.
        public = PUBLIC_HOME if home == PRIVATE_HOME else home
        reference = converter_reference(ctx, site, converter, public, through_packages=False)
        if reference is None:
            return None
        text, import_edit = reference
        return (Edit(ctx.source.node_start(func), end, text),) + ((import_edit,) if import_edit else ())
