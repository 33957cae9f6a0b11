"""CL104: the conv-weight converters taken from the private `torch.nn.utils.memory_format`."""

from __future__ import annotations

import ast
import io
import re
import tokenize

from convlint.analysis.index import CallSite
from convlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from convlint.layouts import BY_CONVERTER, PRIVATE_HOME, PUBLIC_HOME
from convlint.rules.base import Context, Relayout, Rule
from convlint.rules.converters import converter_reference, not_in_targeted_torch

CL104_DOC = """\
# private-converter-path (CL104)

## What it does
Finds the conv-weight converters imported from, or called through, the private module
`torch.nn.utils.memory_format`:
`from torch.nn.utils.memory_format import convert_conv2d_weight_memory_format` and
`torch.nn.utils.memory_format.convert_conv2d_weight_memory_format(model, ...)`.

## Why is this bad?
`torch.nn.utils.memory_format` is where PyTorch defines the converters, not where it
documents them: the public name is `torch.nn.utils.convert_conv2d_weight_memory_format`
(and `convert_conv3d_weight_memory_format`). A private module may be renamed or moved in
any release without notice.

## Example
```python
from torch.nn.utils.memory_format import convert_conv2d_weight_memory_format
```

Use instead:
```python
from torch.nn.utils import convert_conv2d_weight_memory_format
```

## Fix safety
The fix is safe: `torch.nn.utils` re-exports the very same functions. An import is fixed
when it imports only converters (another name from the private module stays where it is,
so the import is reported without a fix); a call has `.memory_format` taken out of its
path, or, through an alias of the private module (`import torch.nn.utils.memory_format as
mf`), is spelled like CL101's fixes spell the converter. `convert_conv3d_weight_memory_format`
is public in `torch.nn.utils` from torch 2.3 on: where the project targets an older torch
(`torch-version`, or its pins of torch), a 3-D converter is reported without a fix.
"""

_MODULE_NAME = re.compile(rb"(?<!weight_)memory_format")


class PrivateConverterPath(Rule):
    codes = {"CL104": CL104_DOC}

    needs = (b"convert_conv",)

    def triggered(self, data: bytes) -> bool:
        # Sound: a finding names a converter and the private module (in the import or the
        # call), whose name is `memory_format` not as the end of a converter's name.
        return b"convert_conv" in data and _MODULE_NAME.search(data) is not None

    def check(self, ctx: Context) -> list[Diagnostic]:
        out = [d for stmt, _ in ctx.analysis.imports if (d := self._import(ctx, stmt)) is not None]
        calls = [site for site in ctx.analysis.calls if self._is_private_call(ctx, site)]
        return out + [self._call(ctx, site) for site in calls]

    def _import(self, ctx: Context, stmt: ast.stmt) -> Diagnostic | None:
        if not (isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module == PRIVATE_HOME):
            return None
        converters = [a.name for a in stmt.names if a.name in BY_CONVERTER]
        if not converters:
            return None
        names = ", ".join(f"`{name}`" for name in converters)
        message = f"{names} imported from the private `{PRIVATE_HOME}`; import from `{PUBLIC_HOME}`"
        missing = next((why for name in converters if (why := not_in_targeted_torch(ctx, name))), None)
        if missing:
            message += f"; not fixed: {missing}"
        fix = None
        if len(converters) == len(stmt.names) and not missing:
            start, end = _module_span(ctx, stmt)
            fix = Fix(Applicability.SAFE, f"Import from `{PUBLIC_HOME}`",
                      plan=Relayout((Edit(start, end, PUBLIC_HOME),), ctx.path))
        return ctx.diagnostic("CL104", message, stmt, fix)

    def _is_private_call(self, ctx: Context, site: CallSite) -> bool:
        # A bare name comes from an import, which is where it is reported.
        func = site.node.func
        if not isinstance(func, ast.Attribute) or func.attr not in BY_CONVERTER:
            return False
        return ctx.analysis.qualify(func.value, site.scope) == PRIVATE_HOME

    def _call(self, ctx: Context, site: CallSite) -> Diagnostic:
        func = site.node.func
        message = f"`{func.attr}` called through the private `{PRIVATE_HOME}`; use `{PUBLIC_HOME}.{func.attr}`"
        missing = not_in_targeted_torch(ctx, func.attr)
        path = func.value
        if missing:
            message += f"; not fixed: {missing}"
            edits = None
        elif isinstance(path, ast.Attribute):  # `<...>.utils.memory_format.<converter>`: drop `.memory_format`
            edits = (Edit(ctx.source.node_end(path.value), ctx.source.node_end(path), ""),)
        else:  # an alias of the private module
            reference = converter_reference(ctx, site, func.attr, PUBLIC_HOME)
            edits = None
            if reference is not None:
                text, import_edit = reference
                start, end = ctx.location(func)
                edits = (Edit(start, end, text),) + ((import_edit,) if import_edit else ())
        fix = Fix(Applicability.SAFE, f"Use `{PUBLIC_HOME}.{func.attr}`", plan=Relayout(edits, ctx.path)) if edits else None
        return ctx.diagnostic("CL104", message, func, fix)


def _module_span(ctx: Context, stmt: ast.ImportFrom) -> tuple[Location, Location]:
    """Where the module of `from <module> import ...` is (the dotted name may be spaced)."""
    start = ctx.source.node_start(stmt)
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(ctx.source.node_text(stmt)).readline):
        if token.type == tokenize.NAME and token.string == "import":
            break
        if token.string != "from" and token.type in (tokenize.NAME, tokenize.OP):
            tokens.append(token)

    def absolute(row: int, column: int) -> Location:
        if row == 1:
            return Location(start.row, start.column + column)
        return Location(start.row + row - 1, column + 1)

    return absolute(*tokens[0].start), absolute(*tokens[-1].end)
