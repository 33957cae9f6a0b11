"""How the conv-weight converters are named and imported in a file (analysis side, on `ast`).

A fix reuses a binding the file already has (`torch`, `th`, `nn`, the converter itself) and
adds an import only when there is none.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from convlint.diagnostics import Edit, Location
from convlint.inference import Scope
from convlint.source import SourceText


@dataclass(frozen=True)
class CallRewrite:
    """The plan of a CL101/CL102 fix, carried out by `codemod.materialize`."""

    start: Location  # the whole call, `<receiver>.to(...)`
    end: Location
    converter: str  # the converter as it is spelled in this file
    import_edit: Edit | None  # the import that makes `converter` defined, if needed


# The modules that define the converters (torch.nn.utils re-exports the private one's).
PRIVATE_HOME = "torch.nn.utils.memory_format"
CONVERTER_HOMES = ("torch.nn.utils", PRIVATE_HOME, "convlint.runtime")
_FIX_TARGET_HOMES = {"torch": "torch.nn.utils", "convlint": "convlint.runtime"}


def converter_reference(ctx, scope: Scope, converter: str, first_row: int, home: str | None = None,
                        through_packages: bool = True) -> tuple[str, Edit | None] | None:
    """How a fix names `converter` at this scope, and the import it must add (if any).

    `home` is the module to take it from (default: the fix target's); see
    `converter_spelling`. None when no spelling is safe.
    """
    home = home or _FIX_TARGET_HOMES[ctx.settings.fix_target]
    spelling = converter_spelling(ctx, scope, converter, home, through_packages)
    if spelling is None:
        return None
    text, needs_import = spelling
    return text, import_insertion(ctx, converter, first_row, home) if needs_import else None


def converter_spelling(ctx, scope: Scope, converter: str, home: str,
                       through_packages: bool = True) -> tuple[str, bool] | None:
    """How to name `converter` of `home` at this scope: (spelling, an import must be added).

    Reuses a binding the file already has: the converter itself, or (`through_packages`)
    `torch`, `th`, `nn`, ...; otherwise plans `from <home> import <converter>`. None when
    the bare name is already taken by something else (the fix would shadow or be shadowed).
    """
    wanted = {f"{home}.{converter}": ""}
    if home == "torch.nn.utils":
        wanted[f"{PRIVATE_HOME}.{converter}"] = ""
    if through_packages:
        parts = home.split(".")
        for i in range(len(parts), 0, -1):
            wanted[".".join(parts[:i])] = ".".join(parts[i:] + [converter])
    best: tuple[int, str] | None = None
    order = list(wanted)
    # Only a name bound by an import can name the converter: looking up those, not every
    # visible name, keeps a file of many findings and many names linear.
    for name in ctx.index.imported_names:
        bindings = scope.lookup(name)
        if not bindings or any(b.kind != "import" for b in bindings):
            continue
        qualified = {b.qualified for b in bindings}
        if len(qualified) != 1:
            continue
        q = qualified.pop()
        if q in wanted:
            suffix = wanted[q]
            spelling = f"{name}.{suffix}" if suffix else name
            rank = order.index(q)
            # The converter's own name first, then `torch` (what the docs show), then others.
            preference = 0 if not suffix else (1 if q in ("torch", "convlint") else 2 + rank)
            if best is None or (preference, spelling) < best:
                best = (preference, spelling)
    if best is not None:
        return best[1], False
    if scope.lookup(converter) is not None:
        return None
    return converter, True


def import_insertion(ctx, converter: str, first_row: int, home: str) -> Edit:
    """An edit adding `from <home> import <converter>` after the file's imports.

    It goes after the last top-level import that ends before the first rewritten call (so
    the name exists when module-level code runs), else before the first statement that is
    not the docstring or a `from __future__` import.
    """
    source: SourceText = ctx.source
    statement = f"from {home} import {converter}"
    body = ctx.tree.body
    last_import = None
    for stmt in body:
        if stmt.lineno >= first_row:
            break
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and stmt.end_lineno < first_row:
            last_import = stmt
    if last_import is not None:
        row = last_import.end_lineno
        line = source.line_text(row)
        if line.endswith(("\n", "\r")):
            at = Location(row + 1, 1)
            return Edit(at, at, statement + source.newline)
        at = source.location(len(source.text))
        return Edit(at, at, source.newline + statement + source.newline)
    first = _first_real_statement(body)
    at = Location(first.lineno if first is not None else 1, 1)
    return Edit(at, at, statement + source.newline)


def _first_real_statement(body: list[ast.stmt]) -> ast.stmt | None:
    for i, stmt in enumerate(body):
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            continue
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        return stmt
    return None
