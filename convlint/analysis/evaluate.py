"""The evaluator: what value an expression may hold, on demand, with a memo and a fixed point.

One `Evaluator` answers for every file of a project. An answer is memoized in the index of
the file its node belongs to. A question met again while it is being answered (a cycle:
`m = m(x)` in a loop, mutually recursive helpers) first gets "nothing yet" and is then
recomputed until its answer stops changing (the lattice is small, so a few rounds), and the
answers that depended on it on the way are kept only once it has settled.

Parameters take their annotation, else the join of what the callers in the project pass
(bounded depth), else their default. Attributes come from the class: `self.x = ...` in its
methods, class-level assignments and dataclass fields, inherited from bases across files,
and the library facts for library classes.
"""

from __future__ import annotations

import ast
import builtins
import os
import re

from convlint.analysis import facts
from convlint.analysis.facts.names import is_loader_name, is_module_like_name
from convlint.analysis.flow import UNBOUND, flow_of, pattern_classes
from convlint.analysis.index import (
    AssignBinding,
    AugAssignBinding,
    Binding,
    ClassBinding,
    ClassInfo,
    DeleteBinding,
    ExceptBinding,
    FileIndex,
    FunctionBinding,
    FunctionInfo,
    ImportBinding,
    LoopBinding,
    MatchBinding,
    NamedExprBinding,
    ParamBinding,
    Scope,
    StarBinding,
    WithBinding,
    dotted,
)
from convlint.analysis.project import Project
from convlint.analysis.values import (
    Class,
    Constant,
    Formats,
    Function,
    Instance,
    Iterable,
    LikelyModule,
    Library,
    Module,
    ModuleClass,
    NoneValue,
    ProjectModule,
    ScriptModule,
    Tensor,
    Tuple,
    Unknown,
    Value,
    join,
    narrow,
)

MAX_ROUNDS = 6  # of a cycle's fixed point
MAX_CALLER_DEPTH = 3  # parameters inferred through callers of callers of callers
MAX_CALLER_FILES = 64  # files read to find a function's callers, at most
_BUILTINS = frozenset(dir(builtins))
_CONTAINERS = ("torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict")
_TENSOR_ATTRIBUTES = frozenset({"weight", "bias", "data", "grad", "T", "mT", "H", "mH", "real", "imag"})


class _Pending:
    __slots__ = ("depth", "approx", "read")

    def __init__(self, depth: int):
        self.depth = depth
        self.approx: Value | None = None
        self.read = False


_NOTHING = object()  # a memoized "no value"
# The convolutions torch's converters (and convlint's) convert, subclasses included.
_TORCH_CONV = re.compile(r"torch\.nn\.(?:modules\.conv\.)?(?:Conv|ConvTranspose)[23]d\Z")


_CONV_CLASS = re.compile(r"torch\.nn\.(?:modules\.conv\.)?(?:Lazy)?(?:Conv|ConvTranspose)([123])d\Z")
# Where a module of any kind can come from inside torch and the builtins.
_TORCH_SOURCES = ("torch.load", "torch.hub", "torch.jit", "torch.package", "torch.fx", "torch.export",
                  "torch.compile", "torch.nn.modules.conv._ConvNd")
_BUILTIN_SOURCES = {"builtins.getattr", "builtins.setattr", "builtins.eval", "builtins.exec", "builtins.type",
                    "builtins.vars", "builtins.globals", "builtins.locals", "builtins.__import__"}
# What a module is stored in: torch's containers and the methods that add to them.
_CONTAINERS = ("torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict")
_MODULE_STORES = {"add_module", "register_module", "append", "extend", "insert", "update", "__setitem__"}


def _conv_rank_of_class(qualified: str) -> frozenset | None:
    """{4} for torch's 2-D convs, {5} for the 3-D ones, {} for the 1-D ones (no converter
    touches them), None for any other class."""
    match = _CONV_CLASS.match(qualified)
    if match is None:
        return None
    rank = int(match.group(1)) + 2
    return frozenset({rank}) if rank in (4, 5) else frozenset()


def _qualified_in(qualified: str | None, prefixes: tuple[str, ...]) -> bool:
    return qualified is not None and any(qualified == p or qualified.startswith(p + ".") for p in prefixes)


def at(index: FileIndex, node: ast.AST) -> str:
    """Where a node is, for a reason: `models.py:6` (`line 6` in a source without a file)."""
    line = getattr(node, "lineno", "?")
    if index.path.startswith("<") or index.path == "-":
        return f"line {line}"
    return f"{os.path.basename(index.path)}:{line}"


def short(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast produces
        return type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Evaluator:
    def __init__(self, project: Project):
        self.project = project
        self._stack: list[_Pending] = []
        self._floor = 1 << 30
        self._caller_depth = 0
        self._purpose = "receiver"  # what the question is about: "receiver" or "format"

    # ------------------------------------------------------------------ the memo

    def _memo(self, table: dict, key, compute):
        entry = table.get(key, None)
        if entry is not None:
            if entry.__class__ is _Pending:
                entry.read = True
                if entry.depth < self._floor:
                    self._floor = entry.depth
                return entry.approx
            return None if entry is _NOTHING else entry
        depth = len(self._stack)
        pending = _Pending(depth)
        table[key] = pending
        self._stack.append(pending)
        outer_floor, self._floor = self._floor, 1 << 30
        try:
            for _ in range(MAX_ROUNDS):
                result = compute()
                if not pending.read or result == pending.approx:
                    break
                pending.approx, pending.read = result, False
            else:
                result = Unknown("a cycle of bindings that does not settle")
        except BaseException:
            del table[key]
            self._floor = min(outer_floor, self._floor)
            raise
        finally:
            self._stack.pop()
        floor = self._floor
        if floor < depth:  # it read an answer still being computed above it: provisional
            del table[key]
            self._floor = min(outer_floor, floor)
        else:
            table[key] = _NOTHING if result is None else result
            self._floor = outer_floor
        return result

    @staticmethod
    def _in_progress(table: dict, key) -> bool:
        """Whether the answer for `key` is being computed further up (a cycle): its first
        approximation is "nothing yet", which must not be read as "nothing"."""
        return table.get(key).__class__ is _Pending

    # ------------------------------------------------------------------ public questions

    def value(self, node: ast.expr, scope: Scope) -> Value:
        """What `node`, evaluated in `scope`, may hold (never None)."""
        try:
            result = self._expr(node, scope)
        except RecursionError:
            # A receiver hundreds of calls deep is valid Python; not following it is a
            # miss, which is better than losing the file.
            return Unknown("too deeply nested to follow")
        return result if result is not None else Unknown("no binding reaches it")

    def formats(self, node: ast.expr, scope: Scope) -> Formats:
        self._purpose = "format"
        try:
            return as_formats(self.value(node, scope))
        finally:
            self._purpose = "receiver"

    def qualify(self, node: ast.expr, scope: Scope) -> str | None:
        """The qualified name of a dotted expression whose root is an import (or a builtin),
        aliases resolved: `th.nn.Conv2d` -> "torch.nn.Conv2d"."""
        name = dotted(node)
        if name is None:
            return None
        root, _, rest = name.partition(".")
        root_node = node
        while isinstance(root_node, ast.Attribute):
            root_node = root_node.value
        found = self._reaching(root_node, scope)
        if found is None:
            if root in _BUILTINS and not rest:
                return f"builtins.{root}"
            starred = self._library_star(scope.index, root)
            return canonical(f"{starred[0]}.{name}") if starred is not None else None
        imports = [b for b in found[0] if b is not UNBOUND and not _is_none_assignment(b)]
        if not imports or any(not isinstance(b, ImportBinding) for b in imports):
            return None
        qualified = {b.qualified for b in imports}
        if len(qualified) != 1:
            return None
        base = qualified.pop()
        return canonical(f"{base}.{rest}" if rest else base)

    # ------------------------------------------------------------------ names

    def _reaching(self, node: ast.Name, scope: Scope) -> tuple | None:
        """(the bindings that may reach a use of a name, the narrowings there), or None for a
        name bound nowhere around it. A local name is answered by the flow facts; a free
        one (used in a function, bound around it) by every binding where it is bound."""
        name = node.id
        if _local_up_to_owner(scope, name):
            found = flow_of(scope).reaching(node)
            if found is not None:
                bindings, narrows = found
                owner = _owner(scope)
                late = owner.index.late_bindings.get(id(owner))
                if late and name in late:  # bound by `global`/`nonlocal` code elsewhere
                    bindings = bindings + tuple(b for b in owner.bindings.get(name, ()) if b.scope is not owner)
                return bindings, narrows
        target = _declared_target(scope, name) or (scope if scope.is_local(name) else scope.enclosing(name))
        if target is None:
            starred = self._star_bindings(scope.index, name, frozenset())
            return (starred, ()) if starred else None
        return tuple(target.bindings.get(name, ())), ()

    def _library_star(self, index: FileIndex, name: str) -> tuple[str, Value] | None:
        """`from torch import *` then `channels_last`: the star-imported library (the last
        one whose facts know the name) and what the name is there."""
        for module in reversed(index.star_imports):
            if module.startswith(".") or self.project.resolve(module, index) is not None:
                continue
            value = self.library_value(canonical(f"{module}.{name}"))
            if not isinstance(value, Library):
                return module, value.because(f"`{name}` comes from `from {module} import *`: {value.reason}")
        return None

    def _star_bindings(self, index: FileIndex, name: str, seen: frozenset) -> tuple:
        """The module-level bindings of `name` that `from <module> import *` brings into
        `index` from a project module (the last star import that has it wins)."""
        if not index.star_imports or len(seen) > 6:
            return ()
        for module in reversed(index.star_imports):
            resolved = self.project.resolve(module, index)
            if resolved is None or resolved.symbol is not None or resolved.index.path in seen:
                continue
            other = resolved.index
            bindings = other.module_scope.bindings.get(name)
            if bindings:
                return tuple(bindings)
            found = self._star_bindings(other, name, seen | {index.path})
            if found:
                return found
        return ()

    def _name(self, node: ast.Name, scope: Scope) -> Value | None:
        name = node.id
        found = self._reaching(node, scope)
        if found is None:
            if name in _BUILTINS:
                return Library(f"`{name}` is a builtin", f"builtins.{name}")
            starred = self._library_star(scope.index, name)
            if starred is not None:
                return starred[1]
            return self._likely(name, Unknown(f"`{name}` is not bound in this file"))
        bindings, narrows = found
        values = []
        for binding in bindings:
            if binding is UNBOUND:
                continue
            value = self.binding(binding)
            for n in narrows:
                value = self._narrowed(value, n)
            values.append(value)
        joined = join(values, f"the bindings of `{name}`")
        if any(isinstance(b, (ImportBinding, FunctionBinding, ClassBinding)) for b in bindings):
            return joined  # a function or class named `build_model` is not a model
        return self._likely(name, joined)

    def _likely(self, name: str, value: Value | None) -> Value | None:
        if (value is None or (isinstance(value, Unknown) and not value.conflict)) and is_module_like_name(name):
            why = value.reason if value is not None else "no binding reaches it"
            return LikelyModule(f"`{name}` is a module-like name; {why}")
        return value

    def _narrowed(self, value: Value | None, n) -> Value | None:
        verdict = self._class_verdict(n.classes, n.scope)
        if verdict is None:
            return value
        check = "isinstance" if n.positive else "not isinstance"
        return narrow(value, verdict, n.positive, f"narrowed by `{check}(..., {short(n.classes)})` (line {n.line})")

    def _class_verdict(self, classes: ast.expr, scope: Scope) -> str | None:
        """What `isinstance(x, classes)` tests: "module-base" (nn.Module itself among them),
        "module" (module classes only), "tensor", or None (anything else, or a mix)."""
        members = classes.elts if isinstance(classes, ast.Tuple) else [classes]
        kinds = set()
        for member in members:
            value = self.value(member, scope)
            if isinstance(value, ModuleClass):
                kinds.add("module-base" if value.cls == "torch.nn.Module" else "module")
            elif isinstance(value, Class) and facts.lookup("classes", str(value.cls)) == "tensor":
                kinds.add("tensor")
            else:
                return None
        if kinds <= {"module", "module-base"}:
            return "module-base" if "module-base" in kinds else "module"
        if kinds == {"tensor"}:
            return "tensor"
        return None

    # ------------------------------------------------------------------ bindings

    def binding(self, b: Binding) -> Value | None:
        table = b.scope.index.memo
        key = ("b", id(b))
        if key not in table:
            self._warm(b)
        return self._memo(table, key, lambda: self._compute_binding(b))

    def _warm(self, b: Binding) -> None:
        """Evaluate the earlier bindings of the same name first, in order: a chain of ten
        thousand `m = m.cuda()` is then a loop, not ten thousand frames deep."""
        if not isinstance(b, (AssignBinding, AugAssignBinding, NamedExprBinding)):
            return
        bindings = b.scope.bindings.get(b.name)
        if not bindings or b.order >= len(bindings) or bindings[b.order] is not b:
            return
        start = b.scope.warmed.get(b.name, 0)
        if b.order - start < 8:
            return
        b.scope.warmed[b.name] = b.order
        for earlier in bindings[start : b.order]:
            if isinstance(earlier, (AssignBinding, AugAssignBinding, NamedExprBinding)):
                self.binding(earlier)

    def _compute_binding(self, b: Binding) -> Value | None:
        if isinstance(b, AssignBinding):
            return self._assignment(b)
        if isinstance(b, ImportBinding):
            return self._import(b)
        if isinstance(b, ParamBinding):
            return self._parameter(b)
        if isinstance(b, LoopBinding):
            value = self._element_of(b.iterable, b.scope)
            for i in b.element:
                value = _item(value, i, f"`{b.name}` is unpacked from `{short(b.iterable)}`")
            return value
        if isinstance(b, FunctionBinding):
            return Function(f"`{b.name}` is a function ({at(b.scope.index, b.node)})", b.info)
        if isinstance(b, ClassBinding):
            return self.class_value(b.info)
        if isinstance(b, NamedExprBinding):
            return self._expr(b.value, b.scope)
        if isinstance(b, AugAssignBinding):
            before = self._name(b.node, b.scope) if isinstance(b.node, ast.Name) else None
            operand = self._expr(b.value, b.scope)
            if isinstance(before, Tensor) or isinstance(operand, Tensor):
                return Tensor(f"`{b.name}` is updated by arithmetic on a tensor (line {b.line})")
            return Unknown(f"`{b.name}` is updated by an operator (line {b.line})")
        if isinstance(b, MatchBinding):
            return self._match_capture(b)
        if isinstance(b, WithBinding):
            return Unknown(f"`{b.name}` is what `with {short(b.context)}` gives")
        if isinstance(b, ExceptBinding):
            return Constant(f"`{b.name}` is an exception")
        if isinstance(b, DeleteBinding):
            return None
        if isinstance(b, StarBinding):
            return Unknown(f"`{b.name}` is a starred target")
        return Unknown(f"`{b.name}` has a value this analysis does not follow")

    def _assignment(self, b: AssignBinding) -> Value | None:
        if b.annotation is not None:
            annotated = self._annotation(b.annotation, b.scope)
            if annotated is not None and not isinstance(annotated, Formats):  # a format's value says more
                return annotated
        value = self._expr(b.value, b.scope)
        if value is None:
            return None
        for i in b.element:
            value = _item(value, i, f"`{b.name}` is unpacked from `{short(b.value)}`")
        name = f"self.{b.name}" if isinstance(b.node, ast.Attribute) else b.name
        return value.because(f"`{name}` = `{short(b.value)}` ({at(b.scope.index, b.value)}): {value.reason}")

    def _match_capture(self, b: MatchBinding) -> Value | None:
        if not b.whole:
            return Unknown(f"`{b.name}` is part of the value matched at line {b.line}")
        value = self._expr(b.subject, b.scope)
        classes = pattern_classes(b.pattern)
        if classes is not None:
            verdict = self._class_verdict(classes, b.scope)
            if verdict is not None:
                value = narrow(value, verdict, True, f"matched by `case {short(classes)}()` (line {b.line})")
        if value is None:
            return None
        return value.because(f"`{b.name}` captures the match subject `{short(b.subject)}` (line {b.line}): {value.reason}")

    def _import(self, b: ImportBinding) -> Value | None:
        resolved = self.project.resolve(b.qualified, b.scope.index)
        if resolved is None:
            return self.library_value(canonical(b.qualified.lstrip(".")))
        if resolved.symbol is None:
            return ProjectModule(f"`{b.name}` is the module {resolved.index.path}", resolved.index.path)
        value = self.global_value(resolved.index, resolved.symbol)
        if value is None:
            return Unknown(f"`{b.name}` is not defined in {resolved.index.path}")
        return value.because(f"{b.qualified.lstrip('.')}: {value.reason}")

    def global_value(self, index: FileIndex, name: str) -> Value | None:
        """A module-level name of another file: the join of its module-level bindings."""
        if index.text is not None and "global" in index.text:
            index.complete()  # a function may rebind it (`global name`)
        bindings = index.module_scope.bindings.get(name)
        if not bindings:
            return None
        return self._memo(index.memo, ("global", name),
                          lambda: join([self.binding(b) for b in bindings], f"the bindings of `{name}`"))

    def library_value(self, qualified: str) -> Value:
        """What an imported name of a library is, by the facts."""
        constant = facts.lookup("constants", qualified)
        if isinstance(constant, dict) and "format" in constant:
            return Formats(f"{qualified} is a memory format", frozenset({constant["format"]}))
        kind = facts.lookup("classes", qualified)
        if kind in ("module", "script-module"):
            return ModuleClass(f"{qualified} is a module class", qualified)
        if kind in ("tensor", "class"):
            return Class(f"{qualified} is a class", qualified)
        return Library(f"`{qualified}` is imported", qualified)

    # ------------------------------------------------------------------ classes

    def class_value(self, info: ClassInfo) -> Value:
        reason = self.module_class_reason(info)
        if reason:
            return ModuleClass(reason, info)
        return Class(f"`{info.name}` ({at(info.index, info.node)}) is a class that is not a module", info)

    def module_class_reason(self, info: ClassInfo) -> str | None:
        """Why a class of the project subclasses nn.Module (through its bases, across
        files), or None."""
        result = self._memo(info.index.memo, ("module-class", id(info)), lambda: self._module_class(info))
        return result.reason if isinstance(result, Constant) else None

    def _module_class(self, info: ClassInfo) -> Value:
        for base in info.node.bases:
            value = self._expr(base, info.scope)
            if isinstance(value, ModuleClass):
                where = at(info.index, info.node)
                if isinstance(value.cls, str):
                    return Constant(f"`{info.name}` ({where}) subclasses {value.cls}")
                return Constant(f"`{info.name}` ({where}) subclasses `{short(base)}`, a module class")
        return Unknown(f"{info.name} is not a module class")

    def bases(self, info: ClassInfo) -> list[Value]:
        return [v for v in (self._expr(base, info.scope) for base in info.node.bases) if v is not None]

    def class_attribute(self, info: ClassInfo, attr: str, seen: frozenset = frozenset()) -> Value | None:
        """What `<instance of info>.attr` is: its assignments in the class, else inherited."""
        if id(info) in seen:
            return None
        return self._memo(info.index.memo, ("attr", id(info), attr), lambda: self._class_attribute(info, attr, seen))

    def _class_attribute(self, info: ClassInfo, attr: str, seen: frozenset) -> Value | None:
        info.index.complete_class(info)  # the methods' `self.x = ...`
        if attr in info.tensor_attributes:
            return Tensor(f"{info.name}.{attr} is a registered parameter or buffer")
        if attr in info.annotations:
            annotated = self._annotation(info.annotations[attr], info.body or info.scope)
            if annotated is not None and not isinstance(annotated, Formats):
                return annotated.because(f"{info.name}.{attr} is annotated `{short(info.annotations[attr])}`")
        bindings = info.attributes.get(attr)
        if bindings:
            values = [self.binding(b) for b in bindings]
            if info.is_dataclass:
                values.extend(self._constructor_arguments(info, attr))
            return join(values, f"the assignments of self.{attr}")
        method = info.methods.get(attr)
        if method is not None:
            if any(dotted(d) == "property" for d in method.decorators):
                return self.returns(method)
            return Function(f"{info.name}.{attr} is a method", method)
        for base in self.bases(info):
            if not isinstance(base, (ModuleClass, Class)):
                continue
            if isinstance(base.cls, ClassInfo):
                found = self.class_attribute(base.cls, attr, seen | {id(info)})
            else:
                found = self._library_member("attributes", [str(base.cls)], attr)
            if found is not None and not isinstance(found, Unknown):
                return found
        return None

    def _constructor_arguments(self, info: ClassInfo, field_name: str) -> list[Value]:
        """The values the project passes for a dataclass field where it builds instances
        (in the class's file; across the project for a format no call there passes)."""
        info.index.complete()
        fields = list(info.annotations)
        position = fields.index(field_name) if field_name in fields else None
        out: list[Value] = []
        stub = info.methods.get("__init__") or _class_stub(info)
        indices = [info.index]
        for pass_ in (0, 1):
            for site in (site for index in indices for site in index.calls_named(info.name)):
                callee = self._expr(site.node.func, site.scope)
                if not (isinstance(callee, (ModuleClass, Class)) and same_definition(callee.cls, info)):
                    continue
                arg = _argument(site.node, position, field_name)
                if arg is _STARRED:
                    out.append(Unknown("a starred argument"))
                elif arg is not None:
                    out.append(self._expr(arg, site.scope))
            if pass_ or out or self._purpose != "format" or info.scope.kind != "module":
                break
            try:
                indices = self._caller_indices(stub, info.name)[1:]
            except _TooManyCallers:
                return [Unknown(f"{info.name} is built in too many places to follow")]
        return out

    def hazards(self, value: Value) -> frozenset:
        """What makes a targeted conversion of a module value do less than `.to()`: what the
        calls that made it say (`spectral_norm(...)`, a `LazyConv2d`), and what its project
        class holds. Asked only of a receiver about to be reported."""
        if not isinstance(value, Module):
            return frozenset()
        found = value.hazards
        if isinstance(value.cls, ClassInfo):
            found |= self.class_hazards(value.cls)
        elif isinstance(value.cls, str):  # a library model class known to hold such convs
            hazard = facts.lookup("hazards", value.cls)
            if hazard:
                found |= {hazard}
        return found

    def file_hazards(self, index) -> frozenset:
        """Parametrizations a file applies in place to modules it already holds
        (`spectral_norm(net[0])` at the top of a script, or in a project helper the file
        calls): they may concern any module the file converts, so its fixes are unsafe."""
        key = ("file-hazards",)
        if key in index.memo:
            return index.memo[key]
        index.memo[key] = frozenset()  # a helper of this file calling back into it
        found = set(self._in_place_hazards(index, None))
        for site in index.calls:
            if found:
                break
            if site.node.args and not self._is_library_root(site.node.func, site.scope):
                callee = self._expr(site.node.func, site.scope)
                if isinstance(callee, Function) and isinstance(callee.ref, FunctionInfo):
                    callee.ref.index.complete_function(callee.ref)
                    found |= self._in_place_hazards(callee.ref.index, callee.ref.body)
        index.memo[key] = result = frozenset(found)
        return result

    def _in_place_hazards(self, index, scope: Scope | None) -> frozenset:
        """The hazards of calls in `scope` (the whole file when None) that change a module
        which already exists: `weight_norm(m.conv)`, `register_parametrization(m, ...)`, not
        `spectral_norm(nn.Conv2d(...))` (its value carries the hazard) nor
        `spectral_norm(self.conv)` in a class (the class's hazards)."""
        found = set()
        for site in index.calls_in(scope) if scope is not None else index.calls:
            node = site.node
            if not node.args or isinstance(node.args[0], ast.Call) or _rooted_at_self(node.args[0]):
                continue
            qualified = self.qualify(node.func, site.scope)
            hazard = facts.lookup("hazards", qualified) if qualified is not None else None
            if hazard == "parametrized":
                found.add(hazard)
        return frozenset(found)

    def class_hazards(self, info: ClassInfo, seen: frozenset = frozenset()) -> frozenset:
        """What in a project class (its methods, the project classes they build by name, its
        bases) makes a targeted conversion do less than `.to()`: parametrized or lazy convs."""
        if id(info) in seen or len(seen) > 8:
            return frozenset()
        key = ("hazards", id(info))
        if key in info.index.memo:
            return info.index.memo[key]
        found = set()
        for site in info.index.calls_in(info.body):
            func = site.node.func
            qualified = self.qualify(func, site.scope)
            if qualified is not None:
                hazard = facts.lookup("hazards", qualified)
                if hazard == "custom_conv" and self._is_library_conv(info):
                    hazard = None  # `F.conv2d(x, self.weight)` in an nn.Conv2d subclass: converted
                if hazard:
                    found.add(hazard)
                if not self._is_library_root(func, site.scope):
                    callee = self._expr(func, site.scope)  # a project class, imported
                    if isinstance(callee, ModuleClass) and isinstance(callee.cls, ClassInfo):
                        found |= self.class_hazards(callee.cls, seen | {id(info)})
            elif isinstance(func, ast.Name):  # a class of this file, built by name
                callee = self._expr(func, site.scope)
                if isinstance(callee, ModuleClass) and isinstance(callee.cls, ClassInfo):
                    found |= self.class_hazards(callee.cls, seen | {id(info)})
        for base in self.bases(info):
            if isinstance(base, ModuleClass) and isinstance(base.cls, ClassInfo):
                found |= self.class_hazards(base.cls, seen | {id(info)})
        result = frozenset(found)
        info.index.memo[key] = result
        return result

    def conv_ranks(self, value: Value) -> frozenset | None:
        """The ranks of the conv weights (4: Conv2d, 5: Conv3d) a module value holds, when
        every module it can hold is known: a torch conv itself, or a project class whose
        code builds only torch modules and project classes known so. None when anything
        else may put a module in it (a library or project function, a class or module
        taken as a parameter, a base class that is not torch's)."""
        if not isinstance(value, Module) or isinstance(value, ScriptModule):
            return None
        if isinstance(value.cls, ClassInfo):
            return self.class_conv_ranks(value.cls)
        return _conv_rank_of_class(value.cls) if isinstance(value.cls, str) else None

    def class_conv_ranks(self, info: ClassInfo, seen: frozenset = frozenset()) -> frozenset | None:
        if id(info) in seen or len(seen) > 8:
            return None
        key = ("conv_ranks", id(info))
        if key not in info.index.memo:
            info.index.memo[key] = self._class_conv_ranks(info, seen | {id(info)})
        return info.index.memo[key]

    def _class_conv_ranks(self, info: ClassInfo, seen: frozenset) -> frozenset | None:
        found: set[int] = set()
        for base in info.node.bases:
            ranks = self._built_ranks(base, info.scope, seen, base=True)
            if ranks is None:
                return None
            found |= ranks
        parameters = {a.arg for node in ast.walk(info.node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                                *filter(None, (node.args.vararg, node.args.kwarg)))}
        for node in ast.walk(info.node):
            # A module handed in (`self.backbone = backbone`, `nn.Sequential(*blocks)`): unknown.
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in parameters \
                    and any(isinstance(t, ast.Attribute) for t in node.targets):
                return None
        for site in info.index.calls_in(info.body):
            call = site.node
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr in _MODULE_STORES or _qualified_in(
                    self.qualify(func, site.scope), _CONTAINERS):
                handed = [a.value if isinstance(a, ast.Starred) else a for a in (*call.args, *(k.value for k in call.keywords))]
                if any(isinstance(a, ast.Name) and a.id in parameters for a in handed):
                    return None
            if isinstance(func, ast.Attribute) and self.qualify(func, site.scope) is None:
                continue  # a method: `super().__init__()`, `self.conv(x)`, `x.view(...)`
            if not isinstance(func, (ast.Name, ast.Attribute)):
                continue  # `self.blocks[0](x)`, `getattr(...)(...)` (that getattr is a call too)
            ranks = self._built_ranks(func, site.scope, seen)
            if ranks is None:
                return None
            found |= ranks
        return frozenset(found)

    def _built_ranks(self, func: ast.expr, scope: Scope, seen: frozenset, base: bool = False) -> frozenset | None:
        """The conv ranks of what calling (or deriving from) `func` builds; None: not known."""
        qualified = self.qualify(func, scope)
        if qualified is not None and (isinstance(func, ast.Name) and qualified.startswith("builtins.")
                                      or self._is_library_root(func, scope)):
            rank = _conv_rank_of_class(qualified)
            if rank is not None:
                return rank
            if qualified.startswith("builtins."):
                return None if qualified in _BUILTIN_SOURCES else frozenset()
            if qualified.startswith("torch.") and not _qualified_in(qualified, _TORCH_SOURCES):
                return frozenset()  # torch's other modules and functions hold no conv
            return None
        callee = self._expr(func, scope)
        if isinstance(callee, ModuleClass) and isinstance(callee.cls, ClassInfo):
            return self.class_conv_ranks(callee.cls, seen)
        if base and isinstance(callee, (Class, ModuleClass)) and isinstance(callee.cls, ClassInfo):
            return self.class_conv_ranks(callee.cls, seen)
        return None

    def _is_library_conv(self, info: ClassInfo) -> bool:
        """Whether a project class derives from a torch convolution (whose weight the
        targeted converters convert, whatever its forward does with it)."""
        return any(_TORCH_CONV.match(base) for base in self._library_bases(info))

    # ------------------------------------------------------------------ parameters

    def _parameter(self, b: ParamBinding) -> Value | None:
        info = b.function
        if b.annotation is not None:
            annotated = self._annotation(b.annotation, info.scope)
            if annotated is not None and not isinstance(annotated, Formats):
                return annotated.because(f"parameter `{b.name}` is annotated `{short(b.annotation)}`")
        if b.kind in ("varargs", "varkw"):
            return Unknown(f"`{b.name}` collects arguments")
        cls = info.class_info
        if cls is not None and b.position != 0:
            # A method a library calls (a Lightning callback's `pl_module`): the facts say.
            spec = facts.class_members("overrides", self._library_bases(cls), b.name)
            if spec == "module":
                return Module(f"`{b.name}` is what {info.name}() of a {self._library_bases(cls)[0]} subclass is called with")
        if cls is not None and b.position == 0:
            if info.self_name == b.name:
                reason = self.module_class_reason(cls)
                if reason:
                    return Module(f"`{b.name}` in a method of {cls.name} ({reason})", cls)
                return Instance(f"`{b.name}` in a method of {cls.name}, not a module class", cls)
            return self.class_value(cls)  # `cls` of a classmethod
        passed = self._passed(b)
        if passed is None:
            if b.default is not None:
                default = self._expr(b.default, info.scope)
                return join([default, Unknown(f"`{b.name}` is a parameter")], f"parameter `{b.name}`")
            return Unknown(f"`{b.name}` is a parameter")
        return passed

    def _passed(self, b: ParamBinding) -> Value | None:
        """The join of the arguments the project's callers pass for a parameter (None when
        no caller is found, or the callers are too far away)."""
        if self._caller_depth >= MAX_CALLER_DEPTH:
            return None
        self._caller_depth += 1
        try:
            key = ("passed", id(b), self._purpose)
            return self._memo(b.scope.index.memo, key, lambda: self._compute_passed(b))
        finally:
            self._caller_depth -= 1

    def _compute_passed(self, b: ParamBinding) -> Value | None:
        """The callers in the function's own file first; those elsewhere in the project
        only when they could change what is reported (reading the project costs)."""
        info = b.function
        values = self._arguments(b, [info.index])
        if self._worth_a_project_search(b, values):
            try:
                elsewhere = self._caller_indices(info, _search_name(info))[1:]
            except _TooManyCallers:
                return None
            values += self._arguments(b, elsewhere)
        if not values:
            return None
        joined = join(values, f"the arguments passed for `{b.name}`")
        if joined is None:
            return None
        return joined.because(f"what the callers of `{info.name}()` pass for `{b.name}`: {joined.reason}")

    def _worth_a_project_search(self, b: ParamBinding, values: list) -> bool:
        if _defining_scope(b.function).kind != "module" or b.function.index.path.startswith("<"):
            return False  # a nested function's (or a nested class's method's) callers are in its file
        joined = join(values)
        if self._purpose == "format":
            return joined is None
        if joined is None:
            return is_module_like_name(b.name)
        return isinstance(joined, (Module, LikelyModule))

    def _arguments(self, b: ParamBinding, indices: list[FileIndex]) -> list[Value | None]:
        """What the calls of `b`'s function in `indices` pass for it."""
        info = b.function
        values: list[Value | None] = []
        offset = 1 if info.class_info is not None and (info.self_name or _is_classmethod(info)) else 0
        position = b.position - offset if b.position is not None else None
        for call, scope, bound in self._callers(info, indices):
            if bound == "callback":
                values.append(call)  # the value the library passes (see _callbacks)
                continue
            arg = _argument(call, position, b.name)
            if arg is _STARRED:
                values.append(Unknown("a starred argument"))
            elif arg is None:
                if b.default is not None:
                    values.append(self._expr(b.default, info.scope))
                else:
                    values.append(Unknown("a call that does not pass it"))
            else:
                values.append(self._expr(arg, scope))
        return values

    def _callers(self, info: FunctionInfo, indices: list[FileIndex]):
        """(call or value, scope, how) for every call of `info` in `indices`; `how` is
        "call", or "callback" with the value a library calls it with."""
        name = info.name
        if name == "<lambda>":
            name = _lambda_name(info)
            if name is None:
                return
        search = _search_name(info)
        for index in indices:
            spellings = {search, *index.aliases_of(search)}  # `from m import f as g; g(x)`
            for site in (s for spelling in spellings for s in index.calls_named(spelling)):
                callee = self._expr(site.node.func, site.scope)
                if isinstance(callee, Function) and same_definition(callee.ref, info):
                    yield site.node, site.scope, "call"
                elif info.name == "__init__" and isinstance(callee, (ModuleClass, Class)) and \
                        same_definition(callee.cls, info.class_info):
                    yield site.node, site.scope, "call"
            for site in index.calls_passing(name):
                value = self._callback_value(site, info)
                if value is not None:
                    yield value, site.scope, "callback"

    def _caller_indices(self, info: FunctionInfo, search: str) -> list[FileIndex]:
        """Where the callers of `info` may be: its own file, and for a module-level function
        (or a method of a module-level class) the project files that name both it and its
        module."""
        home = info.index
        if _defining_scope(info).kind != "module" or home.path.startswith("<"):
            return [home]
        others = self.project.mentioning(search, home.path, MAX_CALLER_FILES)
        if others is None:
            raise _TooManyCallers(search)
        return [home, *(i for i in others if i is not home)]

    def _callback_value(self, site, info: FunctionInfo) -> Value | None:
        """`model.apply(fn)`, `map(fn, modules)`: what the callee calls `fn` with."""
        call = site.node
        spec, receiver = self._callback_spec(call, site.scope)
        if spec is None:
            return None
        argument = spec["argument"]
        passed = call.args[argument] if argument < len(call.args) else None
        passed_value = self._expr(passed, site.scope) if isinstance(passed, ast.Name) else None
        if not (isinstance(passed_value, Function) and same_definition(passed_value.ref, info)):
            return None
        value = spec["value"]
        if value == "module":
            return Module(f"`{info.name}` is called by `{short(call.func)}` with each submodule of a module")
        if value.startswith("element:"):
            i = int(value.split(":")[1])
            if i < len(call.args):
                return self._element_of(call.args[i], site.scope)
        return None

    def _callback_spec(self, call: ast.Call, scope: Scope):
        func = call.func
        qualified = self.qualify(func, scope)
        if qualified is not None:
            return facts.lookup("callbacks", qualified), None
        if isinstance(func, ast.Attribute):
            owner = self._expr(func.value, scope)
            if isinstance(owner, Module):
                return facts.lookup("callbacks", f"torch.nn.Module.{func.attr}"), owner
        return None, None

    def repeats(self, info: FunctionInfo | None, seen: frozenset = frozenset()) -> str | None:
        """Why a function runs many times: called from a loop in its file (or from a
        function that is), or handed to `apply`/`map`. None when not known to."""
        if info is None or id(info) in seen or len(seen) > 3:
            return None
        index = info.index
        name = info.name
        for site in index.calls_named(name):
            callee = self._expr(site.node.func, site.scope)
            if not (isinstance(callee, Function) and same_definition(callee.ref, info)):
                continue
            if site.loop is not None:
                return f"`{name}()` is called in a loop (line {site.loop.lineno})"
            outer = _function_of_scope(site.scope)
            why = self.repeats(outer, seen | {id(info)})
            if why is not None:
                return f"`{name}()` is called from `{outer.name}()`, and {why}"
        for site in index.calls_passing(name):
            spec, _ = self._callback_spec(site.node, site.scope)
            if spec is not None and spec.get("repeats"):
                return f"`{name}` is called by `{short(site.node.func)}` once per item"
        return None

    # ------------------------------------------------------------------ expressions

    def _expr(self, node: ast.expr, scope: Scope) -> Value | None:
        return self._memo(scope.index.memo, id(node), lambda: self._dispatch(node, scope))

    def _dispatch(self, node: ast.expr, scope: Scope) -> Value | None:
        kind = node.__class__
        if kind is ast.Name:
            return self._name(node, scope)
        if kind is ast.Attribute:
            return self._attribute(node, scope)
        if kind is ast.Call:
            return self._call(node, scope)
        if kind is ast.Subscript:
            return self._subscript(node, scope)
        if kind is ast.Constant:
            if node.value is None:
                return NoneValue("None")
            return Constant(f"the constant {short(node)}")
        if kind is ast.IfExp:
            return join([self._expr(node.body, scope), self._expr(node.orelse, scope)],
                        "either branch of the conditional")
        if kind is ast.BoolOp:
            return join([self._expr(v, scope) for v in node.values], "the operands")
        if kind is ast.NamedExpr or kind is ast.Await:
            return self._expr(node.value, scope)
        if kind is ast.BinOp:
            sides = [self._expr(node.left, scope), self._expr(node.right, scope)]
            if any(isinstance(s, Tensor) for s in sides):
                return Tensor("arithmetic on a tensor")
            return Unknown("the result of an operator")
        if kind is ast.UnaryOp:
            operand = self._expr(node.operand, scope)
            return Tensor("arithmetic on a tensor") if isinstance(operand, Tensor) else Unknown("an operator")
        if kind in (ast.Tuple, ast.List):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                return Unknown("a starred sequence")
            return Tuple("a sequence", tuple(self._expr(e, scope) or Unknown("no value") for e in node.elts))
        if kind is ast.Lambda:
            info = scope.index.functions.get(id(node))
            return Function("a lambda", info) if info is not None else Unknown("a lambda")
        if kind in (ast.JoinedStr, ast.Compare, ast.Dict, ast.Set, ast.DictComp, ast.SetComp):
            return Constant(f"a {kind.__name__} expression")
        return Unknown(f"a {kind.__name__} expression")

    def _attribute(self, node: ast.Attribute, scope: Scope) -> Value | None:
        qualified = self.qualify(node, scope)
        if qualified is not None and self._is_library_root(node, scope):
            return self.library_value(qualified)
        owner = self._expr(node.value, scope)
        if owner is None:
            return None
        return self.member(owner, node.attr, node)

    def _is_library_root(self, node: ast.expr, scope: Scope) -> bool:
        """Whether a dotted expression starts at a library import (`torch.nn.Conv2d`), not
        at a project module or value."""
        while isinstance(node, ast.Attribute):
            node = node.value
        if not isinstance(node, ast.Name):
            return False
        value = self._expr(node, scope)
        return isinstance(value, Library) or (
            isinstance(value, (ModuleClass, Class)) and isinstance(value.cls, str)
        )

    def member(self, owner: Value, attr: str, node: ast.AST | None = None) -> Value | None:
        """What `owner.attr` is."""
        if isinstance(owner, Tensor):
            if attr in _TENSOR_ATTRIBUTES:
                return Tensor(f"`.{attr}` of a tensor")
            return Unknown(f"`.{attr}` of a tensor")
        if isinstance(owner, Library):
            return self.library_value(canonical(f"{owner.name}.{attr}"))
        if isinstance(owner, ProjectModule):
            index = self.project.index_at(owner.path)
            value = self.global_value(index, attr) if index is not None else None
            if value is None and index is not None:
                starred = self._star_bindings(index, attr, frozenset())
                value = join([self.binding(b) for b in starred], f"`{attr}`") if starred else None
            if value is None and index is not None:
                sub = self.project.resolve("." + attr, index) if index.path.endswith("__init__.py") else None
                if sub is not None and sub.symbol is None:
                    return ProjectModule(f"the module {sub.index.path}", sub.index.path)
            return value if value is not None else Unknown(f"`{attr}` of a project module")
        if isinstance(owner, (Module, Instance)):
            cls = owner.cls
            if isinstance(cls, ClassInfo):
                found = self.class_attribute(cls, attr)
                if found is not None and not isinstance(found, Unknown):
                    return found
                if found is None and self._in_progress(cls.index.memo, ("attr", id(cls), attr)):
                    return None  # `self.x = self.x.to(...)`: no answer yet, not "no such attribute"
                library_bases = self._library_bases(cls)
                found_library = self._library_member("attributes", library_bases, attr)
                if found_library is not None:
                    return found_library
                if found is not None:
                    return self._likely(attr, found)
            elif isinstance(cls, str):
                found = self._library_member("attributes", [cls], attr)
                if found is not None:
                    return found
            if isinstance(owner, Module):
                found = self._library_member("attributes", ["torch.nn.Module"], attr)
                if found is not None:
                    return found
            what = "a module" if isinstance(owner, Module) else "an object"
            return self._likely(attr, Unknown(f"attribute `{attr}` of {what}"))
        if isinstance(owner, (ModuleClass, Class)):
            if isinstance(owner.cls, ClassInfo):
                found = self.class_attribute(owner.cls, attr)
                if found is not None:
                    return found
            return Unknown(f"attribute `{attr}` of a class")
        if isinstance(owner, Tuple):
            return Unknown(f"`.{attr}` of a sequence")
        what = owner.reason if isinstance(owner, (Unknown, LikelyModule)) else owner.noun
        # An attribute of what may be a tensor may be one too.
        return self._likely(attr, Unknown(f"attribute `{attr}` of {what}", isinstance(owner, Unknown) and owner.conflict))

    def _library_bases(self, info: ClassInfo, seen: frozenset = frozenset()) -> list[str]:
        """The qualified names of the library classes a project class derives from."""
        out = []
        if id(info) in seen:
            return out
        for base in self.bases(info):
            cls = getattr(base, "cls", None)
            if isinstance(cls, str):
                out.append(cls)
            elif isinstance(cls, ClassInfo):
                out.extend(self._library_bases(cls, seen | {id(info)}))
        return out

    def _library_member(self, section: str, classes: list[str], member: str) -> Value | None:
        spec = facts.class_members(section, classes, member)
        if spec is None and section == "attributes":
            spec = facts.class_members(section, classes, "*")
            if spec == "tensor-attribute":
                spec = "tensor" if member in _TENSOR_ATTRIBUTES else None
        if spec is None:
            return None
        owner = classes[0] if classes else "?"
        if spec == "module":
            return Module(f"`.{member}` of a {owner} is a module")
        if spec == "tensor":
            return Tensor(f"`.{member}` of a {owner} is a tensor")
        return None

    def _subscript(self, node: ast.Subscript, scope: Scope) -> Value | None:
        owner = self._expr(node.value, scope)
        if owner is None:
            return None
        if isinstance(owner, Tensor):
            return Tensor("indexing a tensor")
        if isinstance(owner, Module) and owner.cls in _CONTAINERS:
            return Module(f"an element of a {owner.cls}")
        if isinstance(owner, Tuple) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
            return _item(owner, node.slice.value, "an element of a sequence")
        return Unknown("an indexed value")

    # ------------------------------------------------------------------ calls

    def _call(self, node: ast.Call, scope: Scope) -> Value | None:
        func = node.func
        if isinstance(func, ast.Attribute):
            qualified = self.qualify(func, scope)
            if qualified is not None and self._is_library_root(func, scope):
                return self.library_call(qualified, node, scope)
            owner = self._expr(func.value, scope)
            if owner is None:
                return None
            return self.method_call(owner, func.attr, node, scope)
        callee = self._expr(func, scope)
        if callee is None:
            return None
        return self.call_value(callee, node, scope)

    def call_value(self, callee: Value, node: ast.Call, scope: Scope) -> Value | None:
        """What calling `callee` (a value) with the arguments of `node` returns."""
        if isinstance(callee, ModuleClass):
            return self._instantiate(callee, node, scope)
        if isinstance(callee, Class):
            if isinstance(callee.cls, str):
                return self.library_call(callee.cls, node, scope)
            return Instance(f"an instance of {callee.cls.name}", callee.cls)
        if isinstance(callee, Function):
            if isinstance(callee.ref, str):
                return self.library_call(callee.ref, node, scope)
            if isinstance(callee.ref, FunctionInfo):
                result = self.returns(callee.ref)
                if result is None:
                    return None
                where = at(callee.ref.index, callee.ref.node)
                return result.because(f"`{callee.ref.name}()` ({where}) returns: {result.reason}")
        if isinstance(callee, (Module, LikelyModule)):
            return Tensor(f"the output of calling module `{short(node.func)}`")
        if isinstance(callee, Library):
            return self.library_call(callee.name, node, scope)
        return Unknown(f"the result of `{short(node.func)}()`")

    def _instantiate(self, callee: ModuleClass, node: ast.Call, scope: Scope) -> Value:
        cls = callee.cls
        if isinstance(cls, ClassInfo):
            return Module(f"an instance of {cls.name}: {callee.reason}", cls)
        return self.library_call(str(cls), node, scope)

    def returns(self, info: FunctionInfo) -> Value | None:
        """What a project function returns: its return annotation when that names a module
        (or tensor) type and no `return` says otherwise, else the join of its returns."""
        return self._memo(info.index.memo, ("returns", id(info)), lambda: self._returns(info))

    def _returns(self, info: FunctionInfo) -> Value | None:
        info.index.complete_function(info)
        body = info.body
        inferred = join([self._expr(r, body) for r in info.returns], f"what `{info.name}()` returns") \
            if info.returns else None
        annotation = getattr(info.node, "returns", None)
        declared = self._annotation(annotation, info.scope) if annotation is not None else None
        if declared is not None and not isinstance(declared, Formats):
            if isinstance(inferred, (Module, Tensor, Instance)) and type(inferred) is not type(declared):
                if isinstance(inferred, Tensor) or isinstance(declared, Tensor):
                    return Unknown(f"`{info.name}()` is annotated `{short(annotation)}` but returns {inferred.reason}", True)
            if isinstance(inferred, Unknown) and inferred.conflict:
                return inferred
            if not isinstance(inferred, Module) or isinstance(declared, ScriptModule):
                return declared.because(f"`{info.name}()` is annotated to return `{short(annotation)}`")
        if inferred is None:
            return Unknown(f"`{info.name}()` returns nothing this analysis follows")
        if isinstance(inferred, Module):
            applied = self._in_place_hazards(info.index, body)  # `weight_norm(m[0]); return m`
            if applied - inferred.hazards:
                return inferred.__class__(inferred.reason, inferred.cls, inferred.hazards | applied)
        return inferred

    def method_call(self, owner: Value, method: str, node: ast.Call, scope: Scope) -> Value | None:
        if isinstance(owner, Tensor):
            return Tensor(f"`.{method}()` of a tensor")
        if isinstance(owner, ProjectModule):
            callee = self.member(owner, method)
            return self.call_value(callee, node, scope) if callee is not None else None
        if isinstance(owner, Library):
            return self.library_call(canonical(f"{owner.name}.{method}"), node, scope)
        cls = getattr(owner, "cls", None)
        if isinstance(owner, (Module, Instance, ModuleClass, Class)):
            if isinstance(cls, ClassInfo):
                found = self.class_attribute(cls, method)
                if isinstance(found, Function) and isinstance(found.ref, FunctionInfo):
                    return self.call_value(found, node, scope)
                if isinstance(found, Module):
                    return Tensor(f"the output of calling submodule `.{method}`")
                classes = self._library_bases(cls)
            else:
                classes = [cls] if isinstance(cls, str) else []
            if isinstance(owner, (Module, ModuleClass)):
                classes = classes + ["torch.nn.Module"]
            spec = facts.class_members("methods", classes, method)
            if spec is not None:
                return self.apply_spec(spec, node, scope, owner)
            return Unknown(f"the result of `.{method}()`")
        if isinstance(owner, LikelyModule):
            spec = facts.class_members("methods", ["torch.nn.Module"], method)
            if spec == "self":
                return LikelyModule(f"`.{method}()` returns the module: {owner.reason}")
            return Unknown(f"the result of `.{method}()`")
        if isinstance(owner, Function) and method in ("apply", "__call__"):
            return Unknown(f"the result of `.{method}()`")
        if isinstance(owner, Unknown):
            return Unknown(f"`.{method}()` of {owner.reason}", owner.conflict)
        return Unknown(f"the result of `.{method}()`")

    def library_call(self, qualified: str, node: ast.Call, scope: Scope) -> Value | None:
        """A call of a library function or class, by the facts."""
        kind = facts.lookup("classes", qualified)
        hazard = facts.lookup("hazards", qualified)
        hazards = frozenset({hazard}) if hazard else frozenset()
        if kind == "module":
            # A module built from modules (Sequential, a wrapper) holds what they hold.
            return Module(f"{qualified} is a module class", qualified, hazards | self._argument_hazards(node, scope))
        if kind == "script-module":
            return ScriptModule(f"{qualified} is a TorchScript module class", qualified)
        if kind == "tensor":
            return Tensor(f"{qualified} is a tensor")
        if kind == "class":
            return Instance(f"an instance of {qualified}", qualified)
        spec = facts.lookup("functions", qualified)
        if spec is None:
            # `X.from_pretrained(...)` of a library model class
            owner, _, method = qualified.rpartition(".")
            if owner and facts.lookup("classes", owner):
                member = facts.class_members("methods", [owner], method)
                if member is not None:
                    return self.apply_spec(member, node, scope, self.library_value(owner))
            return Unknown(f"the result of {qualified}()")
        value = self.apply_spec(spec, node, scope, None, qualified)
        if value is not None and hazards and isinstance(value, Module):
            return value.__class__(value.reason, value.cls, value.hazards | hazards)
        return value

    def _argument_hazards(self, node: ast.Call, scope: Scope) -> frozenset:
        found = set()
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(arg, ast.Starred):
                arg = arg.value
            value = self._expr(arg, scope)
            items = value.items if isinstance(value, Tuple) else (value,)
            for item in items:
                if isinstance(item, Module):
                    found |= item.hazards
        return frozenset(found)

    def apply_spec(self, spec, node: ast.Call, scope: Scope, receiver: Value | None, name: str | None = None) -> Value | None:
        what = name or short(node.func)
        if isinstance(spec, dict):
            if "tuple" in spec:
                return Tuple(f"{what}() returns a tuple",
                             tuple(self.apply_spec(s, node, scope, receiver, name) or Unknown("nothing")
                                   for s in spec["tuple"]))
            for keyword, other in spec.get("keyword", {}).items():
                if any(k.arg == keyword for k in node.keywords):
                    return self.apply_spec(other, node, scope, receiver, name)
            return self.apply_spec(spec["spec"], node, scope, receiver, name)
        if spec == "module":
            # A module a method finds inside another (get_submodule) holds what that holds.
            inherited = self.hazards(receiver) if isinstance(receiver, Module) else frozenset()
            return Module(f"{what}() returns a module", name, inherited)
        if spec.startswith("module:"):
            return Module(f"{what}() returns a {spec[7:]}", spec[7:])
        if spec == "script-module":
            return ScriptModule(f"{what}() returns a TorchScript module")
        if spec == "tensor":
            return Tensor(f"{what}() returns a tensor")
        if spec == "none":
            return Constant(f"{what}() returns no module or tensor")
        if spec == "self":
            if receiver is None:
                return None
            return receiver.because(f"`.{what.rsplit('.', 1)[-1]}()` returns the module: {receiver.reason}") \
                if isinstance(receiver, Module) else receiver
        if spec == "instance":
            if isinstance(receiver, ModuleClass):
                cls = receiver.cls
                return Module(f"{what}() loads a model: {receiver.reason}", cls)
            if isinstance(receiver, Class):
                return Instance(f"{what}() builds a {receiver.cls}", receiver.cls)
            return None
        if spec.startswith("class:"):
            return Instance(f"{what}() returns a {spec[6:]}", spec[6:])
        if spec.startswith("arg:") or spec.startswith("script:arg:"):
            script = spec.startswith("script:")
            parts = spec.split(":")[2 if script else 1:]
            position = int(parts[0])
            keyword = parts[1] if len(parts) > 1 else None
            arg = _argument(node, position, keyword)
            if arg is None or arg is _STARRED:
                return Unknown(f"{what}() of a value it was not given")
            value = self._expr(arg, scope)
            if value is None:
                return None
            if isinstance(value, Module):
                kind = ScriptModule if script else value.__class__
                verb = "scripts" if script else "returns"
                return kind(f"{what}() {verb} the module: {value.reason}", value.cls, value.hazards)
            if isinstance(value, LikelyModule):
                return LikelyModule(f"{what}() of {value.reason}")
            return value.because(f"{what}() of {value.reason}")  # a tensor's copy is a tensor
        if spec == "args":
            values = [self._expr(a, scope) for a in node.args]
            if len(values) == 1:
                return values[0]
            return Tuple(f"{what}() returns its arguments", tuple(v or Unknown("nothing") for v in values))
        if spec == "getattr":
            return self._getattr(node, scope)
        if spec in ("enumerate", "zip", "product"):
            elements = [self._element_of(a, scope) for a in node.args]
            if spec == "enumerate":
                elements = [Constant("a count")] + elements[:1]
            return Iterable(f"{what}()", Tuple(f"an item of {what}()", tuple(e or Unknown("?") for e in elements)))
        if spec.startswith("iter:"):
            inherited = self.hazards(receiver) if isinstance(receiver, Module) else frozenset()
            item = Module(f"an item of `.{what}()` of a module", None, inherited)
            element = {"module": item, "tensor": Tensor(f"an item of `.{what}()`"),
                       "pair-module": Tuple(f"an item of `.{what}()`", (Constant("a name"), item))}[spec[5:]]
            return Iterable(f"`.{what}()`", element)
        return Unknown(f"the result of {what}()")

    def _getattr(self, node: ast.Call, scope: Scope) -> Value | None:
        if len(node.args) < 2 or not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            return Unknown("getattr of a computed name")
        owner = self._expr(node.args[0], scope)
        if owner is None:
            return None
        found = self.member(owner, node.args[1].value)
        if len(node.args) > 2:
            default = self._expr(node.args[2], scope)
            if isinstance(found, (Unknown, LikelyModule)):
                found = default
            else:
                found = join([found, default], "getattr with a default")
        return found

    # ------------------------------------------------------------------ iteration, annotations

    def _element_of(self, iterable: ast.expr, scope: Scope) -> Value:
        """What iterating over `iterable` gives."""
        value = self._expr(iterable, scope)
        element = element_of(value)
        if element is not None:
            return element
        root = iterable
        while isinstance(root, ast.Call) and root.args:
            root = root.args[0]
        name = dotted(root.func) if isinstance(root, ast.Call) else dotted(root)
        if name and is_loader_name(name.rsplit(".", 1)[-1]):
            return Tensor(f"a batch from `{name}`")
        return Unknown(f"an item of `{short(iterable)}`")

    def _annotation(self, annotation: ast.expr, scope: Scope) -> Value | None:
        """A module, tensor or format type annotation (Optional[...], X | None, strings)."""
        members: list[ast.expr] = []
        _union_members(annotation, members, self, scope)
        values = []
        for member in members:
            if isinstance(member, ast.Constant) and member.value is None:
                continue
            value = self._expr(member, scope) if not _synthetic(member) else self._synthetic_value(member, scope)
            if isinstance(value, ModuleClass):
                cls = value.cls
                if isinstance(cls, str) and facts.lookup("classes", cls) == "script-module":
                    values.append(ScriptModule(f"annotated {cls}", cls))
                else:
                    values.append(Module(value.reason, cls))
            elif isinstance(value, Class) and facts.lookup("classes", str(value.cls)) == "tensor":
                values.append(Tensor(f"annotated {value.cls}"))
            elif isinstance(value, Class):
                values.append(Instance(f"annotated {short(member)}", value.cls))
            elif isinstance(value, Library) and value.name == "torch.memory_format":
                values.append(Formats("annotated torch.memory_format", frozenset({"unknown"})))
            else:
                return None
        if not values:
            return None
        return join(values, "the annotation")

    def _synthetic_value(self, node: ast.expr, scope: Scope) -> Value | None:
        """A node parsed from a string annotation: its names resolve without flow facts."""
        if isinstance(node, ast.Name):
            bindings = scope.bindings.get(node.id) or (scope.enclosing(node.id) or scope).bindings.get(node.id, ())
            return join([self.binding(b) for b in bindings], "the annotation") if bindings else None
        if isinstance(node, ast.Attribute):
            owner = self._synthetic_value(node.value, scope)
            return self.member(owner, node.attr) if owner is not None else None
        return None


# ---------------------------------------------------------------------- helpers

_STARRED = object()


class _TooManyCallers(Exception):
    pass


def _search_name(info: FunctionInfo) -> str:
    """The name the calls of a function are spelled with: a class's for its __init__, the
    name a lambda is bound to."""
    if info.name == "__init__" and info.class_info is not None:
        return info.class_info.name
    if info.name == "<lambda>":
        return _lambda_name(info) or "<lambda>"
    return info.name


def _defining_scope(info: FunctionInfo) -> Scope:
    """The scope a function is defined in, or for a method the scope of its class."""
    return info.class_info.scope if info.class_info is not None else info.scope


def same_definition(a, b) -> bool:
    """The same function or class, even when its file was indexed twice (once as the file
    being analysed, once as an import of another): a definition's identity is where it is."""
    if a is b:
        return True
    if a is None or b is None or type(a) is not type(b):
        return False
    return a.index.path == b.index.path and a.node.lineno == b.node.lineno and \
        a.node.col_offset == b.node.col_offset and a.name == b.name


def _class_stub(info: ClassInfo) -> FunctionInfo:
    """A stand-in `__init__` for a class without one: where its instances are built."""
    stub = FunctionInfo("__init__", info.node, info.body or info.scope, info.index)
    stub.class_info = info
    return stub


def _argument(call: ast.Call, position: int | None, keyword: str | None):
    """The argument expression of `call` for a parameter at `position` / named `keyword`;
    None when not passed; _STARRED when a *args or **kwargs may pass it."""
    if position is not None:
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                return _STARRED
            if i == position:
                return arg
    for k in call.keywords:
        if k.arg is None:
            return _STARRED
        if keyword is not None and k.arg == keyword:
            return k.value
    return None


def _item(value: Value | None, i: int, reason: str) -> Value | None:
    if value is None:
        return None
    if isinstance(value, Tuple) and i < len(value.items):
        return value.items[i]
    if isinstance(value, Tensor):
        return Tensor(f"an element of a tensor")
    return Unknown(reason)


def element_of(value: Value | None) -> Value | None:
    if isinstance(value, Iterable):
        return value.element
    if isinstance(value, Tuple):
        return join(list(value.items), "the elements")
    if isinstance(value, Tensor):
        return Tensor("an element of a tensor")
    if isinstance(value, Module) and value.cls in _CONTAINERS:
        return Module(f"an element of a {value.cls}")
    return None


def as_formats(value: Value | None) -> Formats:
    if isinstance(value, Formats):
        return value
    if isinstance(value, NoneValue):
        return Formats("None", frozenset({"none"}))
    if isinstance(value, Constant):
        return Formats(value.reason, frozenset({"other"}))
    return Formats(value.reason if value is not None else "", frozenset({"unknown"}))


def canonical(qualified: str) -> str:
    """A qualified name with library aliases resolved (`torch.torch.x` -> `torch.x`)."""
    parts = qualified.split(".")
    for cut in range(min(len(parts), 3), 1, -1):
        alias = facts.lookup("constants", ".".join(parts[:cut]))
        if isinstance(alias, dict) and "alias" in alias:
            return canonical(".".join([alias["alias"], *parts[cut:]]))
    return qualified


def _is_none_assignment(b) -> bool:
    """`except ImportError: amp = None` does not make `amp.initialize` something else."""
    return isinstance(b, AssignBinding) and isinstance(b.value, ast.Constant) and b.value.value is None


def _owner(scope: Scope) -> Scope:
    while scope.kind == "comprehension":
        scope = scope.parent
    return scope


def _local_up_to_owner(scope: Scope, name: str) -> bool:
    while scope.kind == "comprehension":
        if name in scope.bindings:
            return True
        scope = scope.parent
    return scope.is_local(name)


def _declared_target(scope: Scope, name: str) -> Scope | None:
    if name in scope.globals_:
        return scope.module
    if name in scope.nonlocals:
        return scope.enclosing(name)
    return None


def _inside(scope: Scope | None, outer: Scope | None) -> bool:
    while scope is not None:
        if scope is outer:
            return True
        scope = scope.parent
    return False


def _function_of_scope(scope: Scope) -> FunctionInfo | None:
    while scope is not None and scope.kind == "comprehension":
        scope = scope.parent
    return scope.function if scope is not None else None


def _is_classmethod(info: FunctionInfo) -> bool:
    return any(dotted(d) == "classmethod" for d in info.decorators)


def _lambda_name(info: FunctionInfo) -> str | None:
    """The name a lambda is bound to (`f = lambda m: ...`), if it is."""
    for bindings in info.scope.bindings.values():
        for b in bindings:
            if isinstance(b, AssignBinding) and b.value is info.node and not b.element:
                return b.name
    return None


def _synthetic(node: ast.AST) -> bool:
    return not hasattr(node, "lineno") or getattr(node, "_convlint_synthetic", False)


def _union_members(annotation: ast.expr, out: list, evaluator: Evaluator, scope: Scope) -> None:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            parsed = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            out.append(annotation)
            return
        for node in ast.walk(parsed):
            node._convlint_synthetic = True  # type: ignore[attr-defined]
        annotation = parsed
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        _union_members(annotation.left, out, evaluator, scope)
        _union_members(annotation.right, out, evaluator, scope)
        return
    if isinstance(annotation, ast.Subscript):
        head = dotted(annotation.value) or ""
        if head.rsplit(".", 1)[-1] in ("Optional", "Union"):
            inner = annotation.slice
            for member in inner.elts if isinstance(inner, ast.Tuple) else [inner]:
                _union_members(member, out, evaluator, scope)
            return
    out.append(annotation)


def _rooted_at_self(node: ast.expr) -> bool:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Name) and node.id == "self"
