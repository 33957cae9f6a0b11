"""The index of one file: scopes, typed bindings, classes, functions and calls, gathered in
one walk of its `ast` tree.

Bindings are typed (an import, an assignment, a parameter, a loop target, a `match`
capture...), as pyflakes' are; each records the node that binds it, so that the flow pass
(flow.py) can tell which of them reach a use. Statements and expressions are dispatched
through tables; a node kind the tables do not know is walked generically, or, with
`STRICT` set (the tests set it), raises, so that a new kind of statement cannot silently
bind nothing.
"""

from __future__ import annotations

import ast
import re
from itertools import count

# Set by the test suite: an unhandled statement or binding node raises instead of being
# walked generically.
STRICT = False

_SERIAL = count()


class UnhandledNode(Exception):
    """A node kind the binder has no handler for (raised only when STRICT)."""


# --------------------------------------------------------------------------- bindings


class Binding:
    """One way a name gets a value in a scope."""

    __slots__ = ("name", "node", "scope", "typing_only", "order")
    describes = "a binding"

    def __init__(self, name: str, node: ast.AST | None, scope: "Scope"):
        self.order = -1  # its place among the bindings of its name in its scope
        self.name = name
        self.node = node  # the node that binds (a Name target, an alias, an arg, a def...)
        self.scope = scope
        self.typing_only = scope.index.typing_only_depth > 0  # under `if TYPE_CHECKING:`

    @property
    def line(self) -> int:
        return getattr(self.node, "lineno", 0)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} line {self.line}>"


class ImportBinding(Binding):
    __slots__ = ("qualified",)
    describes = "an import"

    def __init__(self, name, node, scope, qualified: str):
        super().__init__(name, node, scope)
        self.qualified = qualified  # "torch.nn", or ".models.Net" for a relative import


class AssignBinding(Binding):
    """`name = value`, `name: T = value`, or a name inside an unpacked target."""

    __slots__ = ("value", "element", "annotation", "statement")
    describes = "an assignment"

    def __init__(self, name, node, scope, value, element=(), annotation=None, statement=None):
        super().__init__(name, node, scope)
        self.value = value
        self.element = element  # the path into an unpacked value: `a, (b, c) = ...` -> (1, 0)
        self.annotation = annotation
        self.statement = statement


class AugAssignBinding(Binding):
    __slots__ = ("value", "op")
    describes = "an augmented assignment"

    def __init__(self, name, node, scope, value, op):
        super().__init__(name, node, scope)
        self.value = value
        self.op = op


class ParamBinding(Binding):
    __slots__ = ("function", "arg", "default", "annotation", "position", "kind")
    describes = "a parameter"

    def __init__(self, name, node, scope, function, default, annotation, position, kind):
        super().__init__(name, node, scope)
        self.function = function  # FunctionInfo
        self.arg = node
        self.default = default
        self.annotation = annotation
        self.position = position  # among the positional parameters, or None
        self.kind = kind  # "positional", "keyword" (keyword-only), "varargs", "varkw"


class LoopBinding(Binding):
    """A target of `for` or of a comprehension's `for`."""

    __slots__ = ("iterable", "element")
    describes = "a loop target"

    def __init__(self, name, node, scope, iterable, element=()):
        super().__init__(name, node, scope)
        self.iterable = iterable
        self.element = element


class WithBinding(Binding):
    __slots__ = ("context",)
    describes = "a `with` target"

    def __init__(self, name, node, scope, context):
        super().__init__(name, node, scope)
        self.context = context


class ExceptBinding(Binding):
    __slots__ = ()
    describes = "an exception"


class MatchBinding(Binding):
    """A name bound by a `match` pattern: the subject itself (`case x:`, `case P() as x`),
    or a part of it (`case [x, y]`, `case Point(x=x)`)."""

    __slots__ = ("subject", "pattern", "whole")
    describes = "a match capture"

    def __init__(self, name, node, scope, subject, pattern, whole: bool):
        super().__init__(name, node, scope)
        self.subject = subject
        self.pattern = pattern  # the pattern the name is bound by (MatchAs / MatchStar)
        self.whole = whole  # bound to the subject itself (narrowed by the pattern)


class NamedExprBinding(Binding):
    __slots__ = ("value",)
    describes = "an assignment expression"

    def __init__(self, name, node, scope, value):
        super().__init__(name, node, scope)
        self.value = value


class ClassBinding(Binding):
    __slots__ = ("info",)
    describes = "a class"

    def __init__(self, name, node, scope, info: "ClassInfo"):
        super().__init__(name, node, scope)
        self.info = info


class FunctionBinding(Binding):
    __slots__ = ("info",)
    describes = "a function"

    def __init__(self, name, node, scope, info: "FunctionInfo"):
        super().__init__(name, node, scope)
        self.info = info


class StarBinding(Binding):
    """`*rest` in an unpacking, `*args`/`**kwargs`, `from m import *`: a value of no kind."""

    __slots__ = ()
    describes = "a starred target"


class DeleteBinding(Binding):
    """`del name`: from here on the name is unbound."""

    __slots__ = ()
    describes = "a deletion"


# --------------------------------------------------------------------------- scopes


class Scope:
    __slots__ = ("kind", "node", "parent", "index", "bindings", "globals_", "nonlocals",
                 "class_info", "function", "flow", "warmed", "serial", "functions")

    def __init__(self, kind: str, node: ast.AST, parent: "Scope | None", index: "FileIndex"):
        self.kind = kind  # module, class, function, lambda, comprehension
        self.node = node
        self.parent = parent
        self.index = index
        self.bindings: dict[str, list[Binding]] = {}
        self.globals_: set[str] = set()
        self.nonlocals: set[str] = set()
        self.class_info: ClassInfo | None = None  # for a class body
        self.function: FunctionInfo | None = None  # for a function or lambda body
        self.flow = None  # the flow facts of this scope, computed on demand (flow.py)
        self.warmed: dict[str, int] = {}  # bindings of a name evaluated in order (evaluate.py)
        self.serial = next(_SERIAL)
        self.functions: list[FunctionInfo] = []  # the defs and lambdas right in this scope

    def add(self, binding: Binding) -> None:
        """Record a binding of a name where it lands: a `global`/`nonlocal` name in the scope
        it refers to (as a binding made at an unknown time)."""
        name = binding.name
        target = self
        if name in self.globals_:
            target = self.module
        elif name in self.nonlocals:
            target = self.parent
            while target is not None and (target.kind in ("class", "comprehension") or name not in target.bindings):
                if target.kind == "module":
                    break
                target = target.parent
            target = target or self.module
        found = target.bindings.setdefault(name, [])
        binding.order = len(found)
        found.append(binding)
        if target is not self:
            target.index.late_bindings.setdefault(id(target), set()).add(name)
            self.bindings.setdefault(name, []).append(binding)

    @property
    def module(self) -> "Scope":
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def is_local(self, name: str) -> bool:
        return name in self.bindings and name not in self.globals_ and name not in self.nonlocals

    def enclosing(self, name: str) -> "Scope | None":
        """The scope a free name of this scope refers to (class bodies are skipped, as
        Python skips them for the functions defined inside)."""
        scope = self.parent
        while scope is not None:
            if scope.kind != "class" and name in scope.bindings:
                return scope
            scope = scope.parent
        return None

    def __repr__(self) -> str:
        return f"<Scope {self.kind} line {getattr(self.node, 'lineno', 0)}>"


class ClassInfo:
    __slots__ = ("name", "node", "scope", "body", "index", "attributes", "annotations",
                 "tensor_attributes", "methods", "is_dataclass")

    def __init__(self, name: str, node: ast.ClassDef, scope: Scope, index: "FileIndex"):
        self.name = name
        self.node = node
        self.scope = scope  # where the class statement is
        self.body: Scope | None = None
        self.index = index
        # self.<attr> = value in the methods (and class-level assignments), in order
        self.attributes: dict[str, list[Binding]] = {}
        self.annotations: dict[str, ast.expr] = {}  # class-level and `self.x: T` annotations
        self.tensor_attributes: set[str] = set()  # register_buffer / register_parameter
        self.methods: dict[str, FunctionInfo] = {}
        self.is_dataclass = False

    def __repr__(self) -> str:
        return f"<class {self.name} line {self.node.lineno}>"


class FunctionInfo:
    __slots__ = ("name", "node", "scope", "body", "index", "returns", "params", "class_info",
                 "self_name", "decorators", "loop")

    def __init__(self, name: str, node, scope: Scope, index: "FileIndex"):
        self.name = name
        self.node = node  # FunctionDef, AsyncFunctionDef or Lambda
        self.scope = scope  # where it is defined
        self.body: Scope | None = None
        self.index = index
        self.returns: list[ast.expr] = []
        self.params: list[ParamBinding] = []
        self.class_info: ClassInfo | None = None  # for a method
        self.self_name: str | None = None  # the first parameter of an instance method
        self.decorators: list[ast.expr] = []
        self.loop = None  # the innermost loop around the definition (a lambda in a loop)

    def param(self, name: str) -> ParamBinding | None:
        return next((p for p in self.params if p.name == name), None)

    def __repr__(self) -> str:
        return f"<def {self.name} line {getattr(self.node, 'lineno', 0)}>"


class CallSite:
    """A call, where it is, and what runs it again and again."""

    __slots__ = ("node", "scope", "loop", "fstring_debug", "in_fstring")

    def __init__(self, node: ast.Call, scope: Scope, loop, fstring_debug: bool, in_fstring: bool):
        self.node = node
        self.scope = scope
        self.loop = loop  # the innermost `for`/`while` around it in its function, or None
        self.fstring_debug = fstring_debug  # inside f"{...=}": rewriting changes the text
        self.in_fstring = in_fstring  # inside an f-string's field


class FileIndex:
    """Everything the analysis needs about one file, gathered in one walk of its tree."""

    def __init__(self, tree: ast.Module, path: str = "<source>", text: str | None = None, lazy: bool = False):
        self.tree = tree
        self.path = path
        self.text = text
        self.typing_only_depth = 0
        self.late_bindings: dict[int, set[str]] = {}  # scope id -> names bound from elsewhere
        self.module_scope = Scope("module", tree, None, self)
        self.scopes: dict[int, Scope] = {id(tree): self.module_scope}  # by the node that opens it
        self.calls: list[CallSite] = []
        self.imports: list[tuple[ast.stmt, Scope]] = []
        self.imported_names: set[str] = set()
        self.star_imports: list[str] = []  # the modules of `from <module> import *`, in order
        self.classes: dict[int, ClassInfo] = {}  # by id(ClassDef)
        self.functions: dict[int, FunctionInfo] = {}  # by id(def or lambda)
        self.binding_of: dict[int, Binding] = {}  # by id(the node that binds)
        self.memo: dict = {}  # the evaluator's answers for this file's nodes (evaluate.py)
        self._calls_by_name: dict[str, list[CallSite]] | None = None
        self._lines: list[str] | None = None
        self._calls_passing: dict[str, list[CallSite]] | None = None
        self._calls_by_scope: dict[int, list[CallSite]] | None = None
        # A file read for what it exports (an import, a base class) has its function bodies
        # walked only when a question needs them (`complete`, `complete_function`,
        # `complete_class`), as pyflakes defers them.
        self._pending: dict[int, tuple] | None = {} if lazy else None
        _Binder(self).run()

    def complete(self) -> None:
        """Walk every function body left for later: their calls, returns and `self.x`."""
        while self._pending:
            for key in list(self._pending):
                self._walk_pending(key)
        if self._pending is not None:
            self._pending = None
            self._calls_by_name = self._calls_passing = self._calls_by_scope = None

    def complete_function(self, info: "FunctionInfo") -> None:
        """Walk one function's body (and what it defines) if it was left for later."""
        if self._pending:
            self._walk_pending(id(info.node))

    def complete_class(self, info: "ClassInfo") -> None:
        """Walk the methods of a class (where its `self.x = ...` are) if left for later."""
        if self._pending:
            for method in info.body.functions if info.body is not None else ():
                self._walk_pending(id(method.node))

    def _walk_pending(self, key: int) -> None:
        entry = self._pending.pop(key, None)
        if entry is None:
            return
        node, info, inner, typing_depth = entry
        self.typing_only_depth = typing_depth
        _Binder(self).body(node.body, inner)
        self.typing_only_depth = 0
        for nested in inner.functions:  # what the body defines, walked with it
            self._walk_pending(id(nested.node))

    def segment(self, node: ast.AST) -> str | None:
        """The source text of a node (None without the text): `ast.get_source_segment`
        without splitting the whole file at every call."""
        if self.text is None or getattr(node, "end_lineno", None) is None:
            return None
        if self._lines is None:
            self._lines = _LINE.findall(self.text)
        lines = self._lines
        first, last = node.lineno - 1, node.end_lineno - 1
        if last >= len(lines):
            return None

        def cut(line: str, column: int) -> int:  # ast's columns are UTF-8 byte offsets
            return column if line.isascii() else len(line.encode("utf-8")[:column].decode("utf-8", "replace"))

        if first == last:
            line = lines[first]
            return line[cut(line, node.col_offset) : cut(line, node.end_col_offset)]
        head = lines[first][cut(lines[first], node.col_offset) :]
        tail = lines[last][: cut(lines[last], node.end_col_offset)]
        return head + "".join(lines[first + 1 : last]) + tail

    def calls_named(self, name: str) -> list[CallSite]:
        """The calls whose callee is `name` or `<anything>.name`."""
        self.complete()
        if self._calls_by_name is None:
            table: dict[str, list[CallSite]] = {}
            for site in self.calls:
                func = site.node.func
                key = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
                if key is not None:
                    table.setdefault(key, []).append(site)
            self._calls_by_name = table
        return self._calls_by_name.get(name, [])

    def aliases_of(self, name: str) -> set[str]:
        """The other names this file imports `name` under (`from m import name as alias`)."""
        self.complete()
        return {alias.asname for statement, _ in self.imports if isinstance(statement, ast.ImportFrom)
                for alias in statement.names if alias.name == name and alias.asname}

    def calls_passing(self, name: str) -> list[CallSite]:
        """The calls with an argument that is the bare name `name` (a callback)."""
        self.complete()
        if self._calls_passing is None:
            table: dict[str, list[CallSite]] = {}
            for site in self.calls:
                call = site.node
                names = {a.id for a in call.args if isinstance(a, ast.Name)}
                names.update(k.value.id for k in call.keywords if isinstance(k.value, ast.Name))
                for passed in names:
                    table.setdefault(passed, []).append(site)
            self._calls_passing = table
        return self._calls_passing.get(name, [])

    def calls_in(self, scope: "Scope | None") -> list[CallSite]:
        """The calls inside a scope and the scopes nested in it (a class's methods)."""
        self.complete()
        if self._calls_by_scope is None:
            table: dict[int, list[CallSite]] = {}
            for site in self.calls:
                inner = site.scope
                while inner is not None:
                    table.setdefault(id(inner), []).append(site)
                    inner = inner.parent
            self._calls_by_scope = table
        return self._calls_by_scope.get(id(scope), []) if scope is not None else []


# --------------------------------------------------------------------------- the binder

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_LEAVES = (ast.Name, ast.Constant)
_NOT_EXPRESSIONS = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
_TYPE_CHECKING = ("TYPE_CHECKING", "typing.TYPE_CHECKING", "typing_extensions.TYPE_CHECKING")


class _Binder:
    """Walks a module once: scopes, bindings, classes, functions, and every call."""

    def __init__(self, index: FileIndex):
        self.index = index
        self.loop: ast.AST | None = None  # the innermost loop of the function being walked
        self.fstring_debug = 0
        self.fstring = 0
        self.statements = {
            ast.FunctionDef: self.function_def, ast.AsyncFunctionDef: self.function_def,
            ast.ClassDef: self.class_def,
            ast.Import: self.import_, ast.ImportFrom: self.import_,
            ast.Global: self.global_, ast.Nonlocal: self.nonlocal_,
            ast.Assign: self.assign, ast.AnnAssign: self.ann_assign, ast.AugAssign: self.aug_assign,
            ast.For: self.for_, ast.AsyncFor: self.for_, ast.While: self.while_,
            ast.With: self.with_, ast.AsyncWith: self.with_,
            ast.If: self.if_, ast.Try: self.try_,
            ast.Return: self.return_, ast.Delete: self.delete,
            ast.Expr: self.expression_statement, ast.Raise: self.generic, ast.Assert: self.generic,
            ast.Pass: self.nothing, ast.Break: self.nothing, ast.Continue: self.nothing,
        }
        for name in ("TryStar", "Match", "TypeAlias"):
            kind = getattr(ast, name, None)
            if kind is not None:
                self.statements[kind] = {"TryStar": self.try_, "Match": self.match,
                                         "TypeAlias": self.nothing}[name]

    def run(self) -> None:
        self.body(self.index.tree.body, self.index.module_scope)

    def body(self, statements: list[ast.stmt], scope: Scope) -> None:
        handlers = self.statements
        for stmt in statements:
            handler = handlers.get(stmt.__class__)
            if handler is None:
                if STRICT:
                    raise UnhandledNode(f"no binder handler for {type(stmt).__name__}")
                handler = self.generic
            handler(stmt, scope)

    def nothing(self, node, scope) -> None:
        pass

    def generic(self, node: ast.AST, scope: Scope) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            for item in value if isinstance(value, list) else (value,):
                if isinstance(item, ast.stmt):
                    self.body([item], scope)
                elif isinstance(item, ast.expr):
                    if not isinstance(item, _LEAVES):
                        self.expr(item, scope)
                elif isinstance(item, ast.AST) and not isinstance(item, _NOT_EXPRESSIONS):
                    self.generic(item, scope)

    def expression_statement(self, node: ast.Expr, scope: Scope) -> None:
        if not isinstance(node.value, _LEAVES):
            self.expr(node.value, scope)

    # ---- definitions

    def function_def(self, node, scope: Scope) -> None:
        for expr in [*node.decorator_list, *_defaults(node.args), *_annotations(node)]:
            self.expr(expr, scope)
        info = FunctionInfo(node.name, node, scope, self.index)
        info.decorators = list(node.decorator_list)
        binding = FunctionBinding(node.name, node, scope, info)
        self.index.binding_of[id(node)] = binding
        scope.add(binding)
        if scope.kind == "class" and scope.class_info is not None:
            scope.class_info.methods.setdefault(node.name, info)
        self.function(node, info, scope)

    def class_def(self, node: ast.ClassDef, scope: Scope) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.expr(expr, scope)
        info = ClassInfo(node.name, node, scope, self.index)
        info.is_dataclass = any(_decorator_name(d) in ("dataclass", "dataclasses.dataclass") for d in node.decorator_list)
        self.index.classes[id(node)] = info
        binding = ClassBinding(node.name, node, scope, info)
        self.index.binding_of[id(node)] = binding
        scope.add(binding)
        body = self._new_scope("class", node, scope)
        body.class_info = info
        info.body = body
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                info.annotations.setdefault(stmt.target.id, stmt.annotation)
        outer_loop, self.loop = self.loop, None
        self.body(node.body, body)
        self.loop = outer_loop
        for name, bindings in body.bindings.items():  # class-level attributes
            info.attributes.setdefault(name, []).extend(
                b for b in bindings if isinstance(b, (AssignBinding, AugAssignBinding))
            )

    def function(self, node, info: FunctionInfo, scope: Scope) -> None:
        index = self.index
        index.functions[id(node)] = info
        scope.functions.append(info)
        info.loop = self.loop
        kind = "lambda" if isinstance(node, ast.Lambda) else "function"
        inner = self._new_scope(kind, node, scope)
        inner.function = info
        info.body = inner
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        if scope.kind == "class" and kind == "function" and positional:
            decorators = {_decorator_name(d) for d in node.decorator_list}
            if "staticmethod" not in decorators:
                info.class_info = scope.class_info
                if "classmethod" not in decorators:
                    info.self_name = positional[0].arg
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        for i, (arg, default) in enumerate(zip(positional, defaults)):
            self._param(arg, inner, info, default, i, "positional")
        for arg, default in zip(args.kwonlyargs, args.kw_defaults):
            self._param(arg, inner, info, default, None, "keyword")
        if args.vararg is not None:
            self._param(args.vararg, inner, info, None, None, "varargs")
        if args.kwarg is not None:
            self._param(args.kwarg, inner, info, None, None, "varkw")
        outer_loop, self.loop = self.loop, None
        if kind == "lambda":
            self.expr(node.body, inner)
            info.returns.append(node.body)
        elif index._pending is not None:
            index._pending[id(node)] = (node, info, inner, index.typing_only_depth)
        else:
            # `global`/`nonlocal` come before any use or binding of their names (Python
            # requires it), so the statement walk meets them first: no walk ahead.
            self.body(node.body, inner)
        self.loop = outer_loop

    def _param(self, arg: ast.arg, scope: Scope, info: FunctionInfo, default, position, kind) -> None:
        binding = ParamBinding(arg.arg, arg, scope, info, default, arg.annotation, position, kind)
        self.index.binding_of[id(arg)] = binding
        info.params.append(binding)
        scope.add(binding)

    def _new_scope(self, kind: str, node: ast.AST, parent: Scope) -> Scope:
        scope = Scope(kind, node, parent, self.index)
        self.index.scopes[id(node)] = scope
        return scope

    def import_(self, node, scope: Scope) -> None:
        self.index.imports.append((node, scope))
        for alias in node.names:
            if alias.name == "*":
                if scope.kind == "module":  # (Python allows it nowhere else)
                    self.index.star_imports.append("." * node.level + (node.module or ""))
                continue
            name, qualified = import_binding(node, alias)
            self.index.imported_names.add(name)
            binding = ImportBinding(name, alias, scope, qualified)
            self.index.binding_of[id(alias)] = binding
            scope.add(binding)

    def global_(self, node: ast.Global, scope: Scope) -> None:
        scope.globals_.update(node.names)

    def nonlocal_(self, node: ast.Nonlocal, scope: Scope) -> None:
        scope.nonlocals.update(node.names)

    # ---- assignments

    def assign(self, node: ast.Assign, scope: Scope) -> None:
        if not isinstance(node.value, _LEAVES):
            self.expr(node.value, scope)
        for target in node.targets:
            self.target(target, scope, lambda name, t, path: AssignBinding(
                name, t, scope, node.value, path, statement=node))

    def ann_assign(self, node: ast.AnnAssign, scope: Scope) -> None:
        self.expr(node.annotation, scope)
        if node.value is None:
            if isinstance(node.target, ast.Attribute):
                self.expr(node.target.value, scope)
                self._attribute_annotation(node.target, node.annotation, scope)
            elif not isinstance(node.target, ast.Name):
                self.expr(node.target, scope)
            return  # a bare annotation binds nothing
        if not isinstance(node.value, _LEAVES):
            self.expr(node.value, scope)
        if isinstance(node.target, ast.Attribute):
            self._attribute_annotation(node.target, node.annotation, scope)
        self.target(node.target, scope, lambda name, t, path: AssignBinding(
            name, t, scope, node.value, path, annotation=node.annotation, statement=node))

    def aug_assign(self, node: ast.AugAssign, scope: Scope) -> None:
        self.expr(node.value, scope)
        if isinstance(node.target, ast.Name):
            binding = AugAssignBinding(node.target.id, node.target, scope, node.value, node.op)
            self.index.binding_of[id(node.target)] = binding
            scope.add(binding)
        else:
            self.expr(node.target, scope)

    def delete(self, node: ast.Delete, scope: Scope) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                binding = DeleteBinding(target.id, target, scope)
                self.index.binding_of[id(target)] = binding
                scope.add(binding)
            else:
                self.expr(target, scope)

    def target(self, target: ast.expr, scope: Scope, make, path: tuple[int, ...] = ()) -> None:
        """Bind the names of an assignment target; `make(name, node, path)` builds each
        binding (path: where the name is in an unpacked value)."""
        if isinstance(target, ast.Name):
            binding = make(target.id, target, path)
            self.index.binding_of[id(target)] = binding
            scope.add(binding)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, element in enumerate(target.elts):
                if isinstance(element, ast.Starred):
                    self._star(element.value, scope)
                else:
                    self.target(element, scope, make, path + (i,))
        elif isinstance(target, ast.Starred):
            self._star(target.value, scope)
        elif isinstance(target, ast.Attribute):
            self.expr(target.value, scope)
            self._attribute_store(target, scope, make, path)
        else:  # a subscript: obj[k] = v binds no name
            self.expr(target, scope)

    def _star(self, target: ast.expr, scope: Scope) -> None:
        self.target(target, scope, lambda name, t, path: StarBinding(name, t, scope))

    def _attribute_store(self, target: ast.Attribute, scope: Scope, make, path) -> None:
        """`self.x = value` in a method: an attribute of the method's class."""
        info = _method_of(scope)
        if info is None or not (isinstance(target.value, ast.Name) and target.value.id == info.self_name):
            return
        binding = make(target.attr, target, path)
        info.class_info.attributes.setdefault(target.attr, []).append(binding)

    def _attribute_annotation(self, target: ast.Attribute, annotation: ast.expr, scope: Scope) -> None:
        info = _method_of(scope)
        if info is not None and isinstance(target.value, ast.Name) and target.value.id == info.self_name:
            info.class_info.annotations.setdefault(target.attr, annotation)

    # ---- control flow

    def for_(self, node, scope: Scope) -> None:
        self.expr(node.iter, scope)
        self.target(node.target, scope, lambda name, t, path: LoopBinding(name, t, scope, node.iter, path))
        outer, self.loop = self.loop, node
        self.body(node.body, scope)
        self.loop = outer
        self.body(node.orelse, scope)

    def while_(self, node: ast.While, scope: Scope) -> None:
        self.expr(node.test, scope)
        outer, self.loop = self.loop, node
        self.body(node.body, scope)
        self.loop = outer
        self.body(node.orelse, scope)

    def with_(self, node, scope: Scope) -> None:
        for item in node.items:
            self.expr(item.context_expr, scope)
            if item.optional_vars is not None:
                context = item.context_expr
                self.target(item.optional_vars, scope, lambda name, t, path: WithBinding(name, t, scope, context))
        self.body(node.body, scope)

    def if_(self, node: ast.If, scope: Scope) -> None:
        # Each `elif` nests in the previous `if`'s orelse: a loop, so that a chain of
        # thousands of branches does not recurse thousands deep.
        while True:
            self.expr(node.test, scope)
            typing_only = _dotted(node.test) in _TYPE_CHECKING
            self.index.typing_only_depth += typing_only
            self.body(node.body, scope)
            self.index.typing_only_depth -= typing_only
            if len(node.orelse) != 1 or not isinstance(node.orelse[0], ast.If):
                self.body(node.orelse, scope)
                return
            node = node.orelse[0]

    def try_(self, node, scope: Scope) -> None:
        self.body(node.body, scope)
        for handler in node.handlers:
            if handler.type is not None:
                self.expr(handler.type, scope)
            if handler.name:
                binding = ExceptBinding(handler.name, handler, scope)
                self.index.binding_of[id(handler)] = binding
                scope.add(binding)
            self.body(handler.body, scope)
        self.body(node.orelse, scope)
        self.body(node.finalbody, scope)

    def return_(self, node: ast.Return, scope: Scope) -> None:
        if node.value is not None:
            if not isinstance(node.value, _LEAVES):
                self.expr(node.value, scope)
            function = _function_of(scope)
            if function is not None:
                function.returns.append(node.value)

    def match(self, node, scope: Scope) -> None:
        self.expr(node.subject, scope)
        for case in node.cases:
            self.pattern(case.pattern, node.subject, scope, whole=True)
            if case.guard is not None:
                self.expr(case.guard, scope)
            self.body(case.body, scope)

    def pattern(self, pattern, subject: ast.expr, scope: Scope, whole: bool) -> None:
        """Bind the names of a match pattern (iteratively: patterns nest)."""
        stack = [(pattern, whole)]
        while stack:
            p, whole_here = stack.pop()
            if isinstance(p, ast.MatchAs):
                if p.name is not None:
                    self._match_binding(p.name, p, scope, subject, whole_here)
                if p.pattern is not None:
                    stack.append((p.pattern, whole_here))
            elif isinstance(p, ast.MatchStar):
                if p.name is not None:
                    self._match_binding(p.name, p, scope, subject, False)
            elif isinstance(p, ast.MatchOr):
                stack.extend((q, whole_here) for q in p.patterns)
            elif isinstance(p, ast.MatchClass):
                self.expr(p.cls, scope)
                stack.extend((q, False) for q in [*p.patterns, *p.kwd_patterns])
            elif isinstance(p, ast.MatchSequence):
                stack.extend((q, False) for q in p.patterns)
            elif isinstance(p, ast.MatchMapping):
                for key in p.keys:
                    self.expr(key, scope)
                stack.extend((q, False) for q in p.patterns)
                if p.rest is not None:
                    self._match_binding(p.rest, p, scope, subject, False)
            elif isinstance(p, ast.MatchValue):
                self.expr(p.value, scope)
            elif isinstance(p, ast.MatchSingleton):
                pass
            elif STRICT:
                raise UnhandledNode(f"no binder handler for pattern {type(p).__name__}")

    def _match_binding(self, name: str, node, scope: Scope, subject, whole: bool) -> None:
        binding = MatchBinding(name, node, scope, subject, node, whole)
        self.index.binding_of[id(node)] = binding
        scope.add(binding)

    # ---- expressions

    def expr(self, node: ast.expr, scope: Scope) -> None:
        # A stack, not recursion, through plain nesting (in source order): a sum of a
        # thousand terms or a long method chain must not exhaust the recursion limit.
        stack = [node]
        index = self.index
        while stack:
            node = stack.pop()
            kind = node.__class__
            if kind is ast.Call:
                index.calls.append(CallSite(node, scope, self.loop, self.fstring_debug > 0, self.fstring > 0))
                self._registration(node, scope)
                stack.extend(reversed(_children(node)))
            elif kind is ast.Lambda:
                for default in _defaults(node.args):
                    self.expr(default, scope)
                info = FunctionInfo("<lambda>", node, scope, index)
                self.function(node, info, scope)
            elif kind in _COMPREHENSIONS:
                self.comprehension(node, scope)
            elif kind is ast.NamedExpr:
                self.expr(node.value, scope)
                target = scope
                while target.kind == "comprehension":
                    target = target.parent
                value = node.value
                self.target(node.target, target, lambda name, t, path: NamedExprBinding(name, t, target, value))
            elif kind is ast.JoinedStr:
                self.joined_str(node, scope)
            else:
                stack.extend(reversed(_children(node)))

    def comprehension(self, node, scope: Scope) -> None:
        inner = self._new_scope("comprehension", node, scope)
        for i, generator in enumerate(node.generators):
            self.expr(generator.iter, scope if i == 0 else inner)
            iterable = generator.iter
            self.target(generator.target, inner, lambda name, t, path: LoopBinding(name, t, inner, iterable, path))
            for condition in generator.ifs:
                self.expr(condition, inner)
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        outer, self.loop = self.loop, self.loop or node  # an element runs once per item
        for element in elements:
            self.expr(element, inner)
        self.loop = outer

    def joined_str(self, node: ast.JoinedStr, scope: Scope) -> None:
        """An f-string: a field written `{expr=}` prints the expression's own text, so a
        call in it must not be rewritten."""
        values = node.values
        for i, value in enumerate(values):
            if not isinstance(value, ast.FormattedValue):
                continue
            before = values[i - 1] if i else None
            debug = isinstance(before, ast.Constant) and isinstance(before.value, str) and _is_debug_text(
                before.value, value.value, self.index)
            self.fstring_debug += debug
            self.fstring += 1
            self.expr(value.value, scope)
            if value.format_spec is not None:
                self.expr(value.format_spec, scope)
            self.fstring -= 1
            self.fstring_debug -= debug

    def _registration(self, call: ast.Call, scope: Scope) -> None:
        """`self.register_buffer("x", ...)` / `register_parameter`: `self.x` is a tensor."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in ("register_buffer", "register_parameter")):
            return
        info = _method_of(scope)
        if info is None or not (isinstance(func.value, ast.Name) and func.value.id == info.self_name):
            return
        if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
            info.class_info.tensor_attributes.add(call.args[0].value)


def _is_debug_text(text: str, expr: ast.expr, index: "FileIndex") -> bool:
    """Whether the literal text before a field is the field's own `expr=` (Python writes
    `{expr=}` as that text followed by the field)."""
    if not text.rstrip().endswith("="):
        return False
    segment = index.segment(expr) or ast.unparse(expr)
    squeeze = "".join
    return squeeze(text.split()).endswith(squeeze(segment.split()) + "=")


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


# The fields of each node class that can hold expressions (names, operators, strings and
# numbers left out), worked out once per class: the walk asks this of every node.
_FIELDS: dict[type, tuple[str, ...]] = {}
_NOT_CHILDREN = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "kind", "type_comment", "conversion",
                           "is_async", "level", "module", "name", "asname", "value_str"})
_LEAF_CLASSES = frozenset({ast.Name, ast.Constant})


def _fields_of(kind: type) -> tuple[str, ...]:
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple(f for f in kind._fields if f not in _NOT_CHILDREN)
    return fields


def _children(node: ast.AST) -> list[ast.expr]:
    """The expressions right below `node` that are not leaves, in source order, through nodes
    that are not expressions (a keyword argument's value)."""
    found: list[ast.expr] = []
    for name in _fields_of(node.__class__):
        value = getattr(node, name, None)
        if value is None:
            continue
        for item in value if value.__class__ is list else (value,):
            kind = item.__class__
            if kind in _LEAF_CLASSES or item is None:
                continue
            if kind is ast.keyword:
                if item.value.__class__ not in _LEAF_CLASSES:
                    found.append(item.value)
            elif isinstance(item, ast.expr):
                found.append(item)
            elif isinstance(item, ast.AST) and not isinstance(item, _NOT_EXPRESSIONS):
                found.extend(_children(item))
    return found


def _function_of(scope: Scope) -> FunctionInfo | None:
    while scope is not None and scope.kind == "comprehension":
        scope = scope.parent
    return scope.function if scope is not None else None


def _method_of(scope: Scope) -> FunctionInfo | None:
    """The instance method a statement is in (through comprehensions), if any."""
    function = _function_of(scope)
    if function is not None and function.self_name is not None and function.class_info is not None:
        return function
    return None


def _defaults(args: ast.arguments) -> list[ast.expr]:
    return [*args.defaults, *(d for d in args.kw_defaults if d is not None)]


def _annotations(node) -> list[ast.expr]:
    args = node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    found = [a.annotation for a in every if a is not None and a.annotation is not None]
    if node.returns is not None:
        found.append(node.returns)
    return found


def _decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    return _dotted(node)


def import_binding(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> tuple[str, str]:
    """The name an import alias binds and the qualified name it refers to."""
    if isinstance(node, ast.Import):
        if alias.asname:
            return alias.asname, alias.name
        top = alias.name.split(".")[0]
        return top, top
    module = "." * node.level + (node.module or "")
    sep = "" if module.endswith(".") else "."
    return alias.asname or alias.name, f"{module}{sep}{alias.name}"


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


dotted = _dotted
