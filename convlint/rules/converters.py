"""How the conv-weight converters are named and imported in a file (analysis side, on `ast`).

A fix reuses a binding the file already has (`torch`, `th`, `nn`, the converter itself) and
adds an import only when there is none.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from convlint.diagnostics import Edit, Location
from convlint.inference import Scope
from convlint.layouts import PRIVATE_HOME, PUBLIC_HOME, RUNTIME_HOME
from convlint.source import SourceText


@dataclass(frozen=True)
class CallRewrite:
    """The plan of a CL101/CL102 fix, carried out by `codemod.materialize`."""

    start: Location  # the whole call, `<receiver>.to(...)`
    end: Location
    converter: str  # the converter as it is spelled in this file
    import_edit: Edit | None  # the import that makes `converter` defined, if needed
    path: str | None = None  # the file, whose formatter settings the rewrite follows


_FIX_TARGET_HOMES = {"torch": PUBLIC_HOME, "convlint": RUNTIME_HOME}


def converter_reference(ctx, scope: Scope, converter: str, home: str | None = None,
                        through_packages: bool = True) -> tuple[str, Edit | None] | None:
    """How a fix names `converter` at this scope, and the import it must add (if any).

    `home` is the module to take it from (default: the fix target's); see
    `converter_spelling`. None when no spelling is safe. Memoized per file: a file with many
    findings asks the same question many times.
    """
    home = home or _FIX_TARGET_HOMES[ctx.settings.fix_target]
    key = (id(scope), converter, home, through_packages)
    if key not in ctx.converter_memo:
        spelling = converter_spelling(ctx, scope, converter, home, through_packages)
        if spelling is None:
            ctx.converter_memo[key] = None
        else:
            text, needs_import = spelling
            ctx.converter_memo[key] = (text, import_insertion(ctx, converter, home) if needs_import else None)
    return ctx.converter_memo[key]


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


def import_insertion(ctx, converter: str, home: str) -> Edit:
    """An edit adding `from <home> import <converter>` after the file's leading imports.

    One place per file, whatever rule asks, so that two rules needing the same import add
    it once. It goes after the imports at the top of the module (after the docstring; a
    `try:` or `if` of imports counts), where no module-level code can run before it, else
    before the first statement that is not the docstring or a `from __future__` import.
    """
    source: SourceText = ctx.source
    statement = f"from {home} import {converter}"
    body = ctx.tree.body
    last_import = None
    for i, stmt in enumerate(body):
        if i == 0 and _is_docstring(stmt):
            continue
        if not _is_import_block(stmt):
            break
        last_import = stmt
    after_last = body.index(last_import) + 1 if last_import is not None else 0
    shares_line = (
        last_import is not None and after_last < len(body) and body[after_last].lineno == last_import.end_lineno
    )
    if last_import is not None and not shares_line:
        row = last_import.end_lineno
        if source.line_text(row).endswith(("\n", "\r")):
            at = Location(row + 1, 1)
            return Edit(at, at, statement + source.newline)
        at = source.location(len(source.text))
        return Edit(at, at, source.newline + statement + source.newline)
    # `import torch; model.to(...)`: on the import's own line, code runs right after it.
    first = last_import if shares_line else _first_real_statement(body)
    at = Location(first.lineno if first is not None else 1, 1)
    return Edit(at, at, statement + source.newline)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _is_import_block(stmt: ast.stmt) -> bool:
    """An import, or a `try:`/`if` whose body only imports (optional dependencies)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(stmt, (ast.Try, ast.If)):
        return bool(stmt.body) and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in stmt.body)
    return False


def _first_real_statement(body: list[ast.stmt]) -> ast.stmt | None:
    for i, stmt in enumerate(body):
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        return stmt
    return None
