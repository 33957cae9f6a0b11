"""Which bindings reach each use of a name, and what `isinstance` says about it there.

Computed on demand, one scope at a time (most scopes of a file are never asked about): one
walk of the scope's statements carries a state, name -> (the bindings that may hold it, the
narrowings that apply), through branches (joined where they meet), loops, `try`, `match`,
`return`/`raise`/`break`/`continue` (after which nothing flows) and `del`. A use inside a
loop is also reached by what the loop binds later (the back edge): each use keeps the loops
around it, and the evaluator adds what they bind. Comprehensions are walked inline (they
run where they stand); function and class bodies are scopes of their own, whose free names
see every binding of the scope they come from (they run at some later time).
"""

from __future__ import annotations

import ast

from convlint.analysis import index as _index
from convlint.analysis.index import Binding, Scope, UnhandledNode
from convlint.layouts import BY_CONVERTER

# A name not bound yet on some path (a local before its first assignment).
UNBOUND = object()

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_EMPTY: tuple = ()


class Narrow:
    """`isinstance(name, classes)` is known true (positive) or false at a use."""

    __slots__ = ("classes", "scope", "positive", "line")

    def __init__(self, classes: ast.expr, scope: Scope, positive: bool, line: int):
        self.classes = classes  # the second argument of isinstance, or a class pattern's class
        self.scope = scope
        self.positive = positive
        self.line = line


class Loop:
    """A loop of the scope: what it binds, by name (each binding reaches the loop's head)."""

    __slots__ = ("node", "bindings", "breaks", "continues")

    def __init__(self, node: ast.AST):
        self.node = node
        self.bindings: dict[str, list] = {}
        self.breaks: list[dict] = []
        self.continues: list[dict] = []


class Flow:
    """The flow facts of one scope."""

    __slots__ = ("uses", "states")

    def __init__(self):
        # id(Name node) -> (reaching bindings, narrowings, loops around the use)
        self.uses: dict[int, tuple] = {}
        # id(Call or ClassDef node) -> the state before it of the names imports bind, for the
        # calls a fix rewrites and the class bodies they are in (which names are bound
        # there, and how: see converters.py)
        self.states: dict[int, dict] = {}

    def reaching(self, node: ast.Name) -> tuple | None:
        """(bindings, narrowings) for a use of a local name, or None for a free name."""
        use = self.uses.get(id(node))
        if use is None:
            return None
        bindings, narrows, loops = use
        if loops:
            extra = [b for loop in loops for b in loop.bindings.get(node.id, _EMPTY)]
            if extra:
                bindings = _union((bindings, tuple(extra)))
                narrows = _EMPTY  # the back edge may bring an un-narrowed value
        return bindings, narrows


def flow_of(scope: Scope) -> Flow:
    """The flow facts of the scope that owns `scope`'s statements (a comprehension's are its
    enclosing scope's), computed once."""
    while scope.kind == "comprehension":
        scope = scope.parent
    if scope.flow is None:
        scope.flow = _Walker(scope).run()
    return scope.flow


def is_snapshot_call(call: ast.Call) -> bool:
    """The calls whose state is kept: those a rule may rewrite (`.to(memory_format=...)`) or
    rename (the converters)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name.startswith("convert_conv") or any(k.arg == "memory_format" for k in call.keywords)


def _union(groups) -> tuple:
    seen: dict[int, object] = {}
    for group in groups:
        for b in group:
            seen.setdefault(id(b), b)
    return tuple(seen.values())


def _merge(states: list[dict | None]) -> dict | None:
    live = [s for s in states if s is not None]
    if not live:
        return None
    if len(live) == 1:
        return dict(live[0])
    first, rest = live[0], live[1:]
    merged = dict(first)
    for state in rest:
        for name, entry in state.items():
            mine = merged.get(name)
            if mine is entry:
                continue
            if mine is None:
                merged[name] = (entry[0], _EMPTY)
                continue
            bindings = mine[0] if mine[0] is entry[0] else _union((mine[0], entry[0]))
            narrows = tuple(n for n in mine[1] if n in entry[1]) if mine[1] and entry[1] else _EMPTY
            merged[name] = (bindings, narrows)
    return merged


def narrowings(test: ast.expr, scope: Scope) -> tuple[dict, dict]:
    """What a test says when it is true and when it is false: name -> [Narrow]."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        true, false = narrowings(test.operand, scope)
        return false, true
    if isinstance(test, ast.BoolOp):
        parts = [narrowings(v, scope) for v in test.values]
        if isinstance(test.op, ast.And):  # all true; which one failed is unknown
            return _combine(p[0] for p in parts), {}
        return {}, _combine(p[1] for p in parts)
    if (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Name)
        and test.func.id == "isinstance"
        and len(test.args) == 2
        and not test.keywords
        and isinstance(test.args[0], ast.Name)
    ):
        name, classes = test.args[0].id, test.args[1]
        return {name: [Narrow(classes, scope, True, test.lineno)]}, {name: [Narrow(classes, scope, False, test.lineno)]}
    return {}, {}


def _combine(groups) -> dict:
    out: dict[str, list] = {}
    for group in groups:
        for name, narrows in group.items():
            out.setdefault(name, []).extend(narrows)
    return out


class _Walker:
    def __init__(self, scope: Scope):
        self.scope = scope
        self.index = scope.index
        self.flow = Flow()
        self.loops: list[Loop] = []
        self.regions: list[dict[str, list]] = []  # bindings made inside `try` bodies
        self.outer_states: list[dict] = []  # the scope's state under comprehensions
        # The names kept at the calls a fix rewrites: those an import binds (a fix may spell
        # the converter through them) and the converters' own.
        self.watched = self.index.imported_names | set(BY_CONVERTER)
        self.statements = {
            ast.FunctionDef: self.function_def, ast.AsyncFunctionDef: self.function_def,
            ast.ClassDef: self.class_def, ast.Import: self.import_, ast.ImportFrom: self.import_,
            ast.Assign: self.assign, ast.AnnAssign: self.ann_assign, ast.AugAssign: self.aug_assign,
            ast.For: self.for_, ast.AsyncFor: self.for_, ast.While: self.while_,
            ast.With: self.with_, ast.AsyncWith: self.with_, ast.If: self.if_, ast.Try: self.try_,
            ast.Return: self.exit, ast.Raise: self.exit, ast.Break: self.break_,
            ast.Continue: self.continue_, ast.Delete: self.delete, ast.Expr: self.expression,
            ast.Assert: self.assert_, ast.Pass: self.nothing, ast.Global: self.nothing,
            ast.Nonlocal: self.nothing,
        }
        for name, handler in (("TryStar", self.try_), ("Match", self.match), ("TypeAlias", self.nothing)):
            if hasattr(ast, name):
                self.statements[getattr(ast, name)] = handler

    def run(self) -> Flow:
        scope = self.scope
        state: dict = {}
        for name in scope.bindings:
            if scope.is_local(name):
                state[name] = ((UNBOUND,), _EMPTY)
        node = scope.node
        if scope.function is not None:
            for param in scope.function.params:
                state[param.name] = ((param,), _EMPTY)
        self.state: dict | None = state
        if isinstance(node, ast.Lambda):
            self.expr(node.body)
        elif isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            self.body(node.body)
        return self.flow

    # ---- the state

    def bind(self, node: ast.AST) -> None:
        binding = self.index.binding_of.get(id(node))
        if binding is None or self.state is None:
            return
        self._set(binding.name, binding)

    def _set(self, name: str, binding: Binding) -> None:
        self.state[name] = ((binding,), _EMPTY)
        for loop in self.loops:
            loop.bindings.setdefault(name, []).append(binding)
        for region in self.regions:
            region.setdefault(name, []).append(binding)

    def narrow(self, narrows: dict) -> None:
        if self.state is None:
            return
        for name, found in narrows.items():
            entry = self.state.get(name)
            if entry is not None:
                self.state[name] = (entry[0], entry[1] + tuple(found))

    # ---- statements

    def body(self, statements: list[ast.stmt]) -> None:
        handlers = self.statements
        for stmt in statements:
            handler = handlers.get(stmt.__class__)
            if handler is None:
                if _index.STRICT:
                    raise UnhandledNode(f"no flow handler for {type(stmt).__name__}")
                handler = self.generic
            handler(stmt)

    def nothing(self, node) -> None:
        pass

    def generic(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            for item in value if isinstance(value, list) else (value,):
                if isinstance(item, ast.stmt):
                    self.body([item])
                elif isinstance(item, ast.expr):
                    self.expr(item)
                elif isinstance(item, ast.AST):
                    self.generic(item)

    def expression(self, node: ast.Expr) -> None:
        self.expr(node.value)

    def function_def(self, node) -> None:
        args = node.args
        for expr in [*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.expr(expr)
        self.bind(node)

    def class_def(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.expr(expr)
        if self.state is not None:  # its body runs here: what the imports bind at this point
            self.flow.states[id(node)] = {name: self.state[name] for name in self.watched if name in self.state}
        self.bind(node)

    def import_(self, node) -> None:
        for alias in node.names:
            self.bind(alias)

    def assign(self, node: ast.Assign) -> None:
        self.expr(node.value)
        for target in node.targets:
            self.target(target)

    def ann_assign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.expr(node.value)
            self.target(node.target)
        elif not isinstance(node.target, ast.Name):
            self.expr(node.target)

    def aug_assign(self, node: ast.AugAssign) -> None:
        self.expr(node.value)
        if isinstance(node.target, ast.Name):
            self._use(node.target)  # the value it had: the binding's evaluation reads it here
            self.bind(node.target)
        else:
            self.expr(node.target)

    def delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.bind(target)
            else:
                self.expr(target)

    def target(self, target: ast.expr) -> None:
        stack = [target]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Name):
                self.bind(node)
            elif isinstance(node, (ast.Tuple, ast.List)):
                stack.extend(reversed(node.elts))
            elif isinstance(node, ast.Starred):
                stack.append(node.value)
            elif isinstance(node, ast.Attribute):
                self.expr(node.value)
            else:
                self.expr(node)

    def exit(self, node) -> None:
        for name in ("value", "exc", "cause"):
            child = getattr(node, name, None)
            if child is not None:
                self.expr(child)
        self.state = None

    def break_(self, node) -> None:
        if self.loops and self.state is not None:
            self.loops[-1].breaks.append(self.state)
        self.state = None

    def continue_(self, node) -> None:
        if self.loops and self.state is not None:
            self.loops[-1].continues.append(self.state)
        self.state = None

    def assert_(self, node: ast.Assert) -> None:
        self.expr(node.test)
        if node.msg is not None:
            self.expr(node.msg)
        self.narrow(narrowings(node.test, self.scope)[0])

    def if_(self, node: ast.If) -> None:
        ends = []
        while True:  # an elif chain as a loop
            self.expr(node.test)
            true, false = narrowings(node.test, self.scope)
            before = self.state
            self.state = dict(before) if before is not None else None
            self.narrow(true)
            self.body(node.body)
            ends.append(self.state)
            self.state = dict(before) if before is not None else None
            self.narrow(false)
            if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
                node = node.orelse[0]
                continue
            self.body(node.orelse)
            ends.append(self.state)
            break
        self.state = _merge(ends)

    def _loop(self, node, head, body: list[ast.stmt], orelse: list[ast.stmt], forever: bool = False) -> None:
        before = self.state
        loop = Loop(node)
        self.loops.append(loop)
        head()
        self.state = dict(before) if before is not None else None
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self.target(node.target)
        self.body(body)
        self.loops.pop()
        for outer in self.loops:  # what an inner loop binds reaches the outer loop's head too
            for name, bindings in loop.bindings.items():
                outer.bindings.setdefault(name, []).extend(bindings)
        normal = [self.state, *loop.continues] if forever else [before, self.state, *loop.continues]
        self.state = None if forever else _merge(normal)
        if not forever:
            self.body(orelse)
        self.state = _merge([self.state, *loop.breaks]) if loop.breaks else self.state

    def for_(self, node) -> None:
        self.expr(node.iter)
        self._loop(node, lambda: None, node.body, node.orelse)

    def while_(self, node: ast.While) -> None:
        forever = isinstance(node.test, ast.Constant) and bool(node.test.value)
        self._loop(node, lambda: self.expr(node.test), node.body, node.orelse, forever)

    def with_(self, node) -> None:
        for item in node.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        self.body(node.body)

    def try_(self, node) -> None:
        before = dict(self.state) if self.state is not None else None
        region: dict[str, list] = {}
        self.regions.append(region)
        self.body(node.body)
        self.regions.pop()
        for outer in self.regions:
            for name, bindings in region.items():
                outer.setdefault(name, []).extend(bindings)
        body_end = self.state
        # An exception may come at any point of the body: a handler starts from anything
        # the body had bound by then.
        start = _merge([before, body_end])
        if start is not None:
            for name, bindings in region.items():
                entry = start.get(name, (_EMPTY, _EMPTY))
                start[name] = (_union((entry[0], bindings)), _EMPTY)
        ends = []
        for handler in node.handlers:
            self.state = dict(start) if start is not None else None
            if handler.type is not None:
                self.expr(handler.type)
            if handler.name:
                self.bind(handler)
            self.body(handler.body)
            ends.append(self.state)
        self.state = body_end
        self.body(node.orelse)
        ends.append(self.state)
        if node.finalbody:
            self.state = _merge([*ends, start]) if start is not None else _merge(ends)
            self.body(node.finalbody)
            if all(e is None for e in ends):
                self.state = None
        else:
            self.state = _merge(ends)

    def match(self, node) -> None:
        self.expr(node.subject)
        before = self.state
        ends = []
        irrefutable = False
        subject_name = node.subject.id if isinstance(node.subject, ast.Name) else None
        for case in node.cases:
            self.state = dict(before) if before is not None else None
            self.pattern(case.pattern)
            classes = pattern_classes(case.pattern) if subject_name is not None else None
            if classes is not None:
                self.narrow({subject_name: [Narrow(classes, self.scope, True, case.pattern.lineno)]})
            if case.guard is not None:
                self.expr(case.guard)
            elif isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None:
                irrefutable = True
            self.body(case.body)
            ends.append(self.state)
        if not irrefutable:
            ends.append(before)
        self.state = _merge(ends)

    def pattern(self, pattern) -> None:
        stack = [pattern]
        while stack:
            p = stack.pop()
            if isinstance(p, ast.MatchAs):
                if p.pattern is not None:
                    stack.append(p.pattern)
                if p.name is not None:
                    self.bind(p)
            elif isinstance(p, ast.MatchStar):
                if p.name is not None:
                    self.bind(p)
            elif isinstance(p, ast.MatchOr):
                stack.extend(p.patterns)
            elif isinstance(p, ast.MatchClass):
                self.expr(p.cls)
                stack.extend([*p.patterns, *p.kwd_patterns])
            elif isinstance(p, ast.MatchSequence):
                stack.extend(p.patterns)
            elif isinstance(p, ast.MatchMapping):
                for key in p.keys:
                    self.expr(key)
                stack.extend(p.patterns)
                if p.rest is not None:
                    self.bind(p)
            elif isinstance(p, ast.MatchValue):
                self.expr(p.value)

    # ---- expressions

    def _use(self, node: ast.Name) -> None:
        if self.state is None:
            self.flow.uses[id(node)] = (_EMPTY, _EMPTY, _EMPTY)
            return
        entry = self.state.get(node.id)
        if entry is not None:
            self.flow.uses[id(node)] = (entry[0], entry[1], tuple(self.loops))

    def expr(self, node: ast.expr) -> None:
        stack = [node]
        uses = self.flow
        while stack:
            node = stack.pop()
            kind = node.__class__
            if kind is ast.Name:
                if node.ctx.__class__ is ast.Load:
                    self._use(node)
                continue
            if kind is ast.Constant:
                continue
            if kind is ast.Call and self.state is not None and is_snapshot_call(node):
                state = self.state
                uses.states[id(node)] = {name: state[name] for name in self.watched if name in state}
            if kind is ast.Lambda:
                args = node.args
                stack.extend(reversed([*args.defaults, *(d for d in args.kw_defaults if d is not None)]))
                continue
            if kind in _COMPREHENSIONS:
                self.comprehension(node)
                continue
            if kind is ast.NamedExpr:
                self.expr(node.value)
                self.bind_outer(node.target)
                continue
            for name in node._fields:
                value = getattr(node, name, None)
                if isinstance(value, list):
                    for item in reversed(value):
                        if isinstance(item, ast.expr):
                            stack.append(item)
                        elif isinstance(item, ast.keyword):
                            stack.append(item.value)
                elif isinstance(value, ast.expr):
                    stack.append(value)

    def bind_outer(self, target: ast.Name) -> None:
        """An assignment expression binds in the scope, even from inside a comprehension."""
        self.bind(target)
        for state in self.outer_states:
            binding = self.index.binding_of.get(id(target))
            if binding is not None:
                state[binding.name] = ((binding,), _EMPTY)

    def comprehension(self, node) -> None:
        if self.state is None:
            return
        outer = self.state
        self.outer_states.append(outer)
        self.state = dict(outer)
        for generator in node.generators:
            self.expr(generator.iter)
            self.target(generator.target)
            for condition in generator.ifs:
                self.expr(condition)
        for element in ([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]):
            self.expr(element)
        self.outer_states.pop()
        self.state = outer


def pattern_classes(pattern) -> ast.expr | None:
    """The class (or a tuple of classes) a `case` pattern requires of the whole subject
    (`case nn.Module():`, `case Conv2d() as m`, `case A() | B()`), or None."""
    while isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        pattern = pattern.pattern
    if isinstance(pattern, ast.MatchClass):
        return pattern.cls
    if isinstance(pattern, ast.MatchOr):
        found = [pattern_classes(p) for p in pattern.patterns]
        if all(f is not None for f in found):
            return ast.Tuple(found, ast.Load())
    return None


