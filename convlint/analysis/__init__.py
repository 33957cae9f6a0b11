"""The semantic model the rules ask: is this receiver a module, which formats may this
expression hold, is this name bound here, does this call run in a loop.

    syntax.py    parse, with a front end for syntax newer than the interpreter
    index.py     one walk per file: scopes, typed bindings, classes, functions, calls
    flow.py      reaching bindings and isinstance narrowing per use, on demand per scope
    project.py   the project around a file: other files' indices, imports, callers
    facts/       what libraries' functions and classes return, as data
    values.py    the lattice of values, join and narrowing
    evaluate.py  the demand-driven evaluator, with one memo per file and a fixed point

`analyze(path, text, tree)` gives a `FileAnalysis`; nothing here depends on settings other
than where the project is, so an answer depends only on the file's content and the project
files it consulted (`FileAnalysis.dependencies`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum

from convlint.analysis.evaluate import Evaluator
from convlint.analysis.flow import UNBOUND, flow_of
from convlint.analysis.index import CallSite, FileIndex, ImportBinding, Scope
from convlint.analysis.project import Project, project_for
from convlint.analysis.values import LikelyModule, Module, ScriptModule, Tensor, Value


class Receiver(str, Enum):
    MODULE = "module"
    LIKELY_MODULE = "likely-module"  # only by a module-like name: unsafe fixes at most
    TENSOR = "tensor"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    kind: Receiver
    reason: str
    value: Value

    @property
    def is_module(self) -> bool:
        return self.kind is Receiver.MODULE

    @property
    def is_script(self) -> bool:
        return isinstance(self.value, ScriptModule)


def verdict_of(value: Value) -> Verdict:
    if isinstance(value, Module):
        kind = Receiver.MODULE
    elif isinstance(value, LikelyModule):
        kind = Receiver.LIKELY_MODULE
    elif isinstance(value, Tensor):
        kind = Receiver.TENSOR
    else:
        kind = Receiver.UNKNOWN
    return Verdict(kind, value.reason, value)


class FileAnalysis:
    """One file's index and the project's evaluator, with the questions rules ask."""

    def __init__(self, index: FileIndex, project: Project):
        self.index = index
        self.project = project
        self.evaluator = _evaluator(project)

    @property
    def calls(self) -> list[CallSite]:
        return self.index.calls

    @property
    def imports(self) -> list[tuple[ast.stmt, Scope]]:
        return self.index.imports

    @property
    def imported_names(self) -> set[str]:
        return self.index.imported_names

    @property
    def dependencies(self) -> set[str]:
        """The other files whose content the answers so far depend on."""
        return self.project.consulted - {self.index.path}

    def receiver(self, node: ast.expr, scope: Scope) -> Verdict:
        return verdict_of(self.evaluator.value(node, scope))

    def hazards(self, verdict: Verdict) -> frozenset:
        """Why a targeted conversion of the receiver would do less than `.to()`:
        "parametrized", "lazy" (see Evaluator.hazards)."""
        value = verdict.value
        if not isinstance(value, Module):
            return frozenset()
        return self.evaluator.hazards(value) | self.evaluator.file_hazards(self.index)

    def conv_ranks(self, node: ast.expr, scope: Scope) -> frozenset | None:
        """The conv weight ranks (4, 5) of the module `node` holds, where every module in it
        is known (see Evaluator.conv_ranks); else None."""
        return self.evaluator.conv_ranks(self.evaluator.value(node, scope))

    def value(self, node: ast.expr, scope: Scope) -> Value:
        return self.evaluator.value(node, scope)

    def formats(self, node: ast.expr, scope: Scope):
        return self.evaluator.formats(node, scope)

    def qualify(self, node: ast.expr, scope: Scope) -> str | None:
        return self.evaluator.qualify(node, scope)

    def repeats(self, site: CallSite) -> str | None:
        """Why the call runs many times (a loop around it, or its function called from one
        in this file, or handed to `apply`/`map`), or None."""
        if site.loop is not None:
            return f"it runs in a loop (line {site.loop.lineno})"
        scope = site.scope
        while scope is not None and scope.kind == "comprehension":
            scope = scope.parent
        why = self.evaluator.repeats(scope.function if scope is not None else None)
        return f"it runs many times: {why}" if why else None

    def bound_imports(self, call: ast.Call, scope: Scope) -> dict[str, str]:
        """The names bound at `call`, on every path, to an import that runs (not only
        under TYPE_CHECKING), with the qualified name each refers to."""
        out: dict[str, str] = {}
        for name in self.index.imported_names:
            bindings = self._bindings_where_it_runs(name, call, scope)
            if not bindings or any(b is UNBOUND or not isinstance(b, ImportBinding) or b.typing_only for b in bindings):
                continue
            qualified = {b.qualified for b in bindings}
            if len(qualified) == 1:
                out[name] = qualified.pop()
        return out

    def is_bound(self, name: str, call: ast.Call, scope: Scope) -> bool:
        """Whether anything may bind `name` where `call` runs (a new import of that name
        would shadow it, or be shadowed)."""
        bindings = self._bindings_where_it_runs(name, call, scope)
        return bindings is not None and any(b is not UNBOUND for b in bindings)

    def _bindings_where_it_runs(self, name: str, call: ast.Call, scope: Scope) -> tuple | None:
        """What `name` may be bound to when `call` runs: the flow state at the call for a
        name of its scope; for a free name, the state where the scope runs if that is where
        it is defined (a class body, a comprehension), else every binding of the scope it
        comes from (a function runs later). None: bound nowhere."""
        inner = scope
        while inner.kind == "comprehension":
            if name in inner.bindings:
                return None  # a comprehension's own variable, not an import
            inner = inner.parent
        if inner.kind == "class" and scope.kind == "comprehension":
            return self._free_at_definition(inner, name)  # class names are invisible there
        return self._as_seen_at(inner, name, call)

    def _as_seen_at(self, scope: Scope, name: str, node: ast.AST) -> tuple | None:
        """The bindings of `name` that reach `node` (a call, a class statement) of `scope`."""
        if scope.is_local(name):
            state = flow_of(scope).states.get(id(node))
            if state is not None and name in state:
                return state[name][0]
            return tuple(scope.bindings.get(name, ()))
        if scope.kind == "class":
            return self._free_at_definition(scope, name)
        target = scope.enclosing(name)
        return tuple(target.bindings.get(name, ())) if target is not None else None

    def _free_at_definition(self, body: Scope, name: str) -> tuple | None:
        """A free name of a class body: as bound where the class statement runs."""
        outer = body.parent
        while outer is not None and outer.kind == "comprehension":
            outer = outer.parent
        return self._as_seen_at(outer, name, body.node) if outer is not None else None


def _evaluator(project: Project) -> Evaluator:
    evaluator = getattr(project, "evaluator", None)
    if evaluator is None:
        evaluator = project.evaluator = Evaluator(project)
    return evaluator


def analyze(path: str, text: str, tree: ast.Module, project_root: str | None = None,
            key: tuple | None = None) -> FileAnalysis:
    """The analysis of a file (its text and tree in hand). `project_root` is the configured
    root, if any; `key` (mtime, size) lets files that import it share its index."""
    project = project_for(path, project_root)
    index = project.add_source(path, text, tree, key)
    return FileAnalysis(index, project)


__all__ = ["FileAnalysis", "Receiver", "Verdict", "analyze", "verdict_of"]
