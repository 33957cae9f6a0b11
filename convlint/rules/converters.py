"""How a fix names a conv-weight converter at a call, and the import that defines it.

A fix reuses a name the file already has bound *where the call runs*, on every path, to an
import that runs (not one under `if TYPE_CHECKING:`, not one later in the same function):
the converter itself, or `torch`, `th`, `nn`...; otherwise it adds
`from <home> import <converter>` where the whole module sees it first.
"""

from __future__ import annotations

import ast
import os

from convlint.analysis.flow import is_snapshot_call
from convlint.analysis.index import CallSite
from convlint.diagnostics import Edit, Location
from convlint.layouts import PRIVATE_HOME, PUBLIC_HOME, PUBLIC_SINCE, RUNTIME_HOME
from convlint.notebook import cell_layout, converter_import_row
from convlint.source import SourceText
from convlint.targets import torch_version


_FIX_TARGET_HOMES = {"torch": PUBLIC_HOME, "convlint": RUNTIME_HOME}


def not_in_targeted_torch(ctx, converter: str) -> str | None:
    """Why `torch.nn.utils.<converter>` may not exist in the torch the project targets
    (`torch<2.3` pinned, or `torch-version` set, for the 3-D converter), or None."""
    since = PUBLIC_SINCE.get(converter)
    if since is None:
        return None
    target = torch_version(ctx.path, ctx.settings.torch_version)
    if target is None or target.lowest >= since:
        return None
    configured = target.source.startswith("[")
    where = target.source if configured else os.path.basename(target.source)
    requirement = f"torch {target.requirement}" if configured else target.requirement
    version = ".".join(map(str, since[:2]))
    return (f"the project targets `{requirement}` ({where}), whose `{PUBLIC_HOME}` has no "
            f"`{converter}` (it is there from torch {version})")


def converter_reference(ctx, site: CallSite, converter: str, home: str | None = None,
                        through_packages: bool = True) -> tuple[str, Edit | None] | None:
    """How a fix names `converter` at this call, and the import it must add (if any).

    `home` is the module to take it from (default: the fix target's). None when no spelling
    is safe. Memoized per call: two rules may ask.
    """
    home = home or _FIX_TARGET_HOMES[ctx.settings.fix_target]
    key = (id(site.node), converter, home, through_packages)
    if key not in ctx.converter_memo:
        spelling = converter_spelling(ctx, site, converter, home, through_packages)
        if spelling is None:
            ctx.converter_memo[key] = None
        elif spelling[1] and _page_without_torch_import(ctx):
            # A page whose blocks never import torch shows fragments: the fix spells the
            # converter in full, as the fragment spells `torch.channels_last`.
            ctx.converter_memo[key] = (f"{home}.{converter}", None)
        else:
            text, needs_import = spelling
            ctx.converter_memo[key] = (text, import_insertion(ctx, converter, home) if needs_import else None)
    return ctx.converter_memo[key]


def converter_spelling(ctx, site: CallSite, converter: str, home: str,
                       through_packages: bool = True) -> tuple[str, bool] | None:
    """How to name `converter` of `home` at this call: (spelling, an import must be added).

    Reuses a binding the call already has: the converter itself, or (`through_packages`)
    `torch`, `th`, `nn`, ...; otherwise plans `from <home> import <converter>`. None when
    the bare name is already taken by something else (the fix would shadow or be shadowed).
    """
    wanted = {f"{home}.{converter}": ""}
    if home == PUBLIC_HOME:
        wanted[f"{PRIVATE_HOME}.{converter}"] = ""
    if through_packages:
        parts = home.split(".")
        for i in range(len(parts), 0, -1):
            wanted[".".join(parts[:i])] = ".".join(parts[i:] + [converter])
    order = list(wanted)
    best: tuple[int, str] | None = None
    for name, qualified in ctx.analysis.bound_imports(site.node, site.scope).items():
        if qualified not in wanted:
            continue
        suffix = wanted[qualified]
        spelling = f"{name}.{suffix}" if suffix else name
        # The converter's own name first, then `torch` (what the docs show), then others.
        preference = 0 if not suffix else (1 if qualified in ("torch", "convlint") else 2 + order.index(qualified))
        if best is None or (preference, spelling) < best:
            best = (preference, spelling)
    if best is not None:
        return best[1], False
    if ctx.analysis.is_bound(converter, site.node, site.scope) or _module_binds(ctx, converter):
        return None
    return converter, True


def _module_binds(ctx, name: str) -> bool:
    """A module-level name the new import would rebind."""
    return name in ctx.analysis.index.module_scope.bindings


def import_insertion(ctx, converter: str, home: str) -> Edit:
    """An edit adding `from <home> import <converter>` after the file's leading imports.

    One place per file, whatever rule asks, so that two rules needing the same import add
    it once. It goes after the imports at the top of the module (after the docstring; a
    `try:` or `if` that only imports, in every branch, counts), where no module-level code
    can run before it, else before the first statement that is not the docstring or a
    `from __future__` import (before its decorators). The new line ends with the newline of
    the line it follows.
    """
    source: SourceText = ctx.source
    statement = f"from {home} import {converter}"
    body = ctx.tree.body
    layout = cell_layout(ctx.path, source.text)
    if layout is not None:  # a notebook: in the first cell that imports, after `!pip install`
        # (a page: in the first block that imports torch)
        row = converter_import_row(layout, ctx.tree, _first_use(ctx), _imports_torch if layout.page else _is_import_block)
        newline = _newline_of(source.line_text(row - 1)) or source.newline
        return Edit(Location(row, 1), Location(row, 1), statement + newline)
    last_import = None
    for i, stmt in enumerate(body):
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            last_import = stmt
            continue
        if not _is_import_block(stmt):
            break
        last_import = stmt
    after_last = body.index(last_import) + 1 if last_import is not None else 0
    shares_line = (
        last_import is not None and after_last < len(body) and _first_line(body[after_last]) == last_import.end_lineno
    )
    if last_import is not None and not shares_line:
        row = last_import.end_lineno
        line = source.line_text(row)
        newline = _newline_of(line) or source.newline
        if newline and line.endswith(newline):
            at = Location(row + 1, 1)
            return Edit(at, at, statement + newline)
        at = source.location(len(source.text))
        return Edit(at, at, source.newline + statement + source.newline)
    # `import torch; model.to(...)`: on the import's own line, code runs right after it.
    first = last_import if shares_line else _first_real_statement(body)
    row = _first_line(first) if first is not None else 1
    if first is None and body and _is_docstring(body[0]):
        row = body[0].end_lineno + 1
    at = Location(row, 1)
    newline = _newline_of(source.line_text(row)) or _newline_of(source.line_text(row - 1)) or source.newline
    # Before a def or class, two blank lines, as formatters want them after imports.
    gap = newline * 2 if isinstance(first, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ""
    return Edit(at, at, statement + newline + gap)


def _imports_torch(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Import):
        return any(a.name == "torch" or a.name.startswith("torch.") for a in stmt.names)
    return isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and (
        stmt.module == "torch" or (stmt.module or "").startswith("torch."))


def _page_without_torch_import(ctx) -> bool:
    layout = cell_layout(ctx.path, ctx.source.text)
    # Row 1 is the page's `import torch` for fragments, not the page's own.
    return layout is not None and layout.page and not any(_imports_torch(s) for s in ctx.tree.body if s.lineno > 1)


def _first_use(ctx) -> int | None:
    """The row of the first call a fix may rewrite to the converter: no import may go after
    it."""
    rows = [site.node.lineno for site in ctx.analysis.calls if is_snapshot_call(site.node)]
    return min(rows) if rows else None


def _newline_of(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""


def _first_line(stmt: ast.stmt) -> int:
    """Where a statement starts, decorators included."""
    decorators = getattr(stmt, "decorator_list", None)
    if decorators:
        return min(d.lineno for d in decorators)
    return stmt.lineno


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _is_import_block(stmt: ast.stmt) -> bool:
    """An import, or a `try:`/`if` whose every branch only imports (or passes): optional
    dependencies. A branch that does anything else may run the converter before an import
    placed after the block."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(stmt, ast.If):
        return bool(stmt.body) and _only_imports(stmt.body) and _only_imports(stmt.orelse)
    if isinstance(stmt, ast.Try):
        branches = [stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)]
        return bool(stmt.body) and all(_only_imports(b) for b in branches)
    return False


def _only_imports(statements: list[ast.stmt]) -> bool:
    return all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass)) or _is_constant_assignment(s) or _is_import_block(s)
               for s in statements)


def _is_constant_assignment(stmt: ast.stmt) -> bool:
    """`amp = None`, `HAS_APEX = False` in an `except ImportError:` branch: runs no code."""
    return isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)


def _first_real_statement(body: list[ast.stmt]) -> ast.stmt | None:
    for i, stmt in enumerate(body):
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        return stmt
    return None


def orphaned_imports(before: str, after: str, on: str | None = None) -> list[Edit]:
    """Edits (on `after`, or on the text `on`) removing the converter imports a fix left
    unused: an alias of the private `torch.nn.utils.memory_format` or of a converter that
    `before` used and `after` no longer does (CL104 and CL103 rename the calls that were its
    only uses). An import whose removal would leave a block empty, or that `__all__` names,
    stays."""
    from convlint.analysis.syntax import parse

    target = after if on is None else on
    try:
        old_tree, new_tree = parse(before).tree, parse(after).tree
        tree = new_tree if on is None else parse(target).tree
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    used_before, used_after = _loaded_names(old_tree), _loaded_names(new_tree)
    source = SourceText(target)
    edits = []
    for body in _bodies(tree):
        for stmt in body:
            if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                continue
            orphans = [a for a in stmt.names if _is_converter_import(stmt, a)
                       and (name := (a.asname or a.name).split(".")[0]) in used_before and name not in used_after]
            if not orphans:
                continue
            if len(orphans) == len(stmt.names):
                if len(body) > 1 and _alone_on_its_lines(source, stmt):
                    edits.append(Edit(Location(stmt.lineno, 1), Location(stmt.end_lineno + 1, 1), ""))
                continue
            for alias in orphans:
                edits.append(_alias_removal(source, stmt, alias))
    return sorted(edits, key=lambda e: (e.start, e.end))


def _is_converter_import(stmt, alias: ast.alias) -> bool:
    if isinstance(stmt, ast.ImportFrom):
        qualified = f"{stmt.module}.{alias.name}" if stmt.level == 0 else ""
    else:
        qualified = alias.name if alias.asname else ""
    return qualified == PRIVATE_HOME or qualified.rsplit(".", 1)[-1].startswith("convert_conv")


def _loaded_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(node.value)  # `__all__ = ["name"]` and other spellings by string
    return names


def _bodies(tree: ast.Module):
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                yield body


def _alone_on_its_lines(source: SourceText, stmt: ast.stmt) -> bool:
    first, last = source.line_text(stmt.lineno), source.line_text(stmt.end_lineno)
    start, end = source.node_start(stmt), source.node_end(stmt)
    return not first[: start.column - 1].strip() and not last[end.column - 1 :].split("#")[0].strip()


def _alias_removal(source: SourceText, stmt, alias: ast.alias) -> Edit:
    """Take one name out of `import a, b` / `from m import a, b`, with its comma."""
    names = stmt.names
    i = names.index(alias)
    if i + 1 < len(names):
        return Edit(source.node_start(alias), source.node_start(names[i + 1]), "")
    return Edit(source.node_end(names[i - 1]), source.node_end(alias), "")
