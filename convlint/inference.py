"""Is this expression an nn.Module, a Tensor, or unknown? Static receiver inference.

Works on the stdlib `ast` (ten times faster to parse than LibCST) and tracks what it needs
itself: imports, assignments, parameters, class bases and `self.x` attributes, per scope.
Bindings are joined flow-insensitively over a scope; a name that refers to itself while it
is being inferred (`model = model.cuda()`) contributes nothing to the join.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Callable


class Receiver(str, Enum):
    MODULE = "module"
    LIKELY_MODULE = "likely-module"  # only by a module-like name: unsafe fixes at most
    TENSOR = "tensor"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Inference:
    kind: Receiver
    reason: str
    # The class of an instance (a local ClassInfo, or a qualified name such as
    # "torch.nn.Sequential"), used to resolve attributes and indexing.
    cls: object = field(default=None, compare=False)
    # True when the expression is a class (not an instance) that subclasses nn.Module.
    is_class: bool = False
    # True when some binding makes it a tensor: never upgraded to LIKELY_MODULE by name.
    maybe_tensor: bool = False


def unknown(reason: str) -> Inference:
    return Inference(Receiver.UNKNOWN, reason)


# Methods that return the receiver itself (for a Module) or a converted copy (for a Tensor).
SELF_RETURNING_METHODS = frozenset(
    {"to", "cuda", "cpu", "xpu", "mps", "half", "float", "bfloat16", "double", "type",
     "eval", "train", "requires_grad_", "share_memory", "share_memory_", "apply",
     "to_empty", "ipu"}
)
TENSOR_ATTRIBUTES = frozenset({"weight", "bias", "running_mean", "running_var", "data",
                               "grad", "T", "mT", "H", "mH", "real", "imag"})
_MODULE_NAME = re.compile(
    r"(?i)^(?:\w+_)?(model|net|network|module|backbone|encoder|decoder|unet|vae|"
    r"generator|discriminator|teacher|student|classifier|detector|transformer|"
    r"controlnet|policy|critic|actor|ema|ema_model|resnet|vit|convnet|cnn)\d*$"
)
_LOADER_NAME = re.compile(r"(?i)(loader|dataloader|batches|dataset)")


def is_module_like_name(name: str) -> bool:
    return bool(_MODULE_NAME.match(name))


# --------------------------------------------------------------------------- qualified names

_NOT_MODULE_TORCH_NN = frozenset(
    {"Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"}
)
_NOT_TENSOR_TORCH = frozenset(
    {"load", "device", "dtype", "compile", "manual_seed", "seed", "initial_seed",
     "set_grad_enabled", "no_grad", "enable_grad", "inference_mode", "get_default_dtype",
     "set_default_dtype", "set_default_device", "get_default_device", "is_tensor",
     "is_storage", "finfo", "iinfo", "save", "use_deterministic_algorithms",
     "set_num_threads", "get_num_threads", "set_printoptions", "is_grad_enabled", "autocast",
     "typename", "is_floating_point", "is_complex", "set_float32_matmul_precision",
     "broadcast_shapes", "Size", "Generator", "memory_format", "layout", "numel"}
)
_MODULE_FACTORIES = frozenset(
    {"timm.create_model", "timm.models.create_model", "torch.hub.load", "torch.jit.load",
     "torch.fx.symbolic_trace", "torchvision.models.get_model",
     "torch.nn.utils.skip_init"}
)
# Functions that return the module they were given (or a module built from it).
_MODULE_TRANSFORMS = frozenset(
    {"copy.deepcopy", "copy.copy", "torch.compile", "torch.jit.script", "torch.jit.trace",
     "torch.jit.freeze", "torch.jit.optimize_for_inference",
     "torch.nn.utils.weight_norm", "torch.nn.utils.spectral_norm",
     "torch.nn.utils.remove_weight_norm", "torch.nn.utils.remove_spectral_norm",
     "torch.nn.utils.parametrizations.weight_norm",
     "torch.nn.utils.parametrizations.spectral_norm",
     "torch.nn.utils.parametrizations.orthogonal",
     "torch.nn.utils.parametrize.register_parametrization",
     "torch.nn.utils.convert_conv2d_weight_memory_format",
     "torch.nn.utils.convert_conv3d_weight_memory_format",
     "torch.nn.utils.memory_format.convert_conv2d_weight_memory_format",
     "torch.nn.utils.memory_format.convert_conv3d_weight_memory_format",
     "convlint.runtime.convert_conv2d_weight_memory_format",
     "convlint.runtime.convert_conv3d_weight_memory_format",
     "convlint.runtime.convert_conv_weights",
     "torch.nn.utils.fusion.fuse_conv_bn_eval",
     # the usual steps of a training script between building a model and training it
     "torch.nn.SyncBatchNorm.convert_sync_batchnorm",
     "torch.nn.modules.batchnorm.SyncBatchNorm.convert_sync_batchnorm",
     "timm.models.convert_splitbn_model", "timm.layers.convert_sync_batchnorm",
     "timm.models.layers.convert_sync_batchnorm", "apex.parallel.convert_syncbn_model"}
)
# Functions that return their arguments, transformed, in a tuple of the same shape:
# `model, optimizer = amp.initialize(model, optimizer)`.
_TUPLE_TRANSFORMS = frozenset({"apex.amp.initialize"})
_QUANTIZATION_TRANSFORMS = frozenset(
    {"prepare", "prepare_qat", "convert", "quantize", "quantize_qat", "quantize_dynamic",
     "fuse_modules", "fuse_modules_qat"}
)
_TORCHVISION_NOT_MODELS = frozenset(
    {"get_weight", "get_model_weights", "list_models", "get_model_builder"}
)
_TRANSFORMERS_NOT_MODELS = ("Config", "Tokenizer", "TokenizerFast", "Processor",
                            "FeatureExtractor", "ImageProcessor", "Pipeline", "Output")


def module_class_reason(qualified: str) -> str | None:
    """Why a qualified class name is an nn.Module subclass, or None when it is not known to be."""
    parts = qualified.split(".")
    last = parts[-1]
    if not last[:1].isupper():
        return None
    if parts[:2] == ["torch", "nn"] and len(parts) >= 3:
        if parts[2] in ("functional", "init", "utils", "parameter") or last in _NOT_MODULE_TORCH_NN:
            return None
        return f"{qualified} is a torch.nn module class"
    if parts[:3] == ["torch", "ao", "nn"] or qualified in (
        "torch.jit.ScriptModule", "torch.jit.RecursiveScriptModule", "torch.fx.GraphModule"
    ):
        return f"{qualified} is a torch module class"
    if parts[:2] == ["apex", "parallel"] and last == "DistributedDataParallel":
        return f"{qualified} is a module wrapper"
    if last == "LightningModule" and parts[0] in ("lightning", "pytorch_lightning"):
        return f"{qualified} is a LightningModule"
    if parts[0] == "diffusers" and (
        last.endswith(("Model", "ModelMixin")) or last.startswith(("Autoencoder", "UNet"))
    ):
        return f"{qualified} is a diffusers model class"
    if parts[0] == "transformers" and not last.startswith(("TF", "Flax")):
        if last.endswith(_TRANSFORMERS_NOT_MODELS):
            return None
        if last.startswith("AutoModel") or last.endswith("Model") or re.search(r"For[A-Z]", last):
            return f"{qualified} is a transformers model class"
    if parts[0] == "timm" and len(parts) >= 3 and parts[1] in ("models", "layers"):
        return f"{qualified} is a timm module class"
    if parts[:2] in (["torchvision", "models"], ["torchvision", "ops"]) and not last.endswith(
        ("Weights", "WeightsEnum")
    ):
        return f"{qualified} is a torchvision module class"
    return None


def factory_reason(qualified: str) -> str | None:
    """Why calling this qualified function returns a new module, or None."""
    parts = qualified.split(".")
    if qualified in _MODULE_FACTORIES:
        return f"{qualified}() returns a module"
    if parts[:2] == ["torchvision", "models"] and len(parts) in (3, 4):
        if parts[-1][:1].islower() and parts[-1] not in _TORCHVISION_NOT_MODELS:
            return f"{qualified}() is a torchvision model builder"
    return None


def is_module_transform(qualified: str) -> bool:
    parts = qualified.split(".")
    if qualified in _MODULE_TRANSFORMS:
        return True
    return (
        parts[0] == "torch"
        and ("quantization" in parts[:-1])
        and parts[-1] in _QUANTIZATION_TRANSFORMS
    )


def tensor_function_reason(qualified: str) -> str | None:
    """Why calling this qualified torch function returns a Tensor, or None."""
    parts = qualified.split(".")
    if parts[0] != "torch":
        return None
    last = parts[-1]
    if qualified in ("torch.nn.Parameter", "torch.nn.parameter.Parameter", "torch.nn.Buffer"):
        return f"{qualified} is a tensor"
    if len(parts) == 2 and (
        (last[:1].islower() and last not in _NOT_TENSOR_TORCH and not last.startswith("set_"))
        or last.endswith("Tensor")
    ):
        return f"{qualified}() returns a tensor"
    if len(parts) == 3 and parts[1] in ("fft", "linalg", "special", "sparse", "nested"):
        return f"{qualified}() returns a tensor"
    if parts[:3] == ["torch", "nn", "functional"]:
        return f"{qualified}() returns a tensor"
    return None


def is_tensor_annotation(qualified: str) -> bool:
    return qualified in ("torch.Tensor", "torch.FloatTensor", "torch.nn.Parameter",
                         "torch.nn.parameter.Parameter") or (
        qualified.startswith("torch.") and qualified.endswith("Tensor")
    )


# --------------------------------------------------------------------------- scopes


@dataclass
class Binding:
    """One way a name gets a value in a scope."""

    kind: str  # assign, param, import, class, def, for, unknown
    node: ast.AST | None  # the value expression, parameter, import alias, def or class
    scope: "Scope"
    qualified: str | None = None  # for imports
    element: tuple[int, ...] | None = None  # tuple-unpacking path into the value
    annotation: ast.expr | None = None


@dataclass
class ClassInfo:
    name: str
    node: ast.ClassDef
    scope: "Scope"  # where the class is defined
    # self.<attr> = value, with the method scope the value is evaluated in
    attributes: dict[str, list[Binding]] = field(default_factory=dict)
    annotations: dict[str, ast.expr] = field(default_factory=dict)
    tensor_attributes: set[str] = field(default_factory=set)  # registered buffers/params


@dataclass(eq=False)
class Scope:
    kind: str  # module, class, function
    node: ast.AST
    parent: "Scope | None"
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    globals_: set[str] = field(default_factory=set)
    class_info: ClassInfo | None = None  # for a class scope
    method_of: ClassInfo | None = None  # for a method: the class it is defined in
    self_name: str | None = None  # the first parameter of a method
    returns: list[ast.expr] = field(default_factory=list)

    def add(self, name: str, binding: Binding) -> None:
        target = self
        if name in self.globals_:
            target = self.module
        target.bindings.setdefault(name, []).append(binding)

    @property
    def module(self) -> "Scope":
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def lookup(self, name: str) -> list[Binding] | None:
        """The bindings a name refers to here (class scopes are skipped from inside functions)."""
        scope: Scope | None = self
        first = True
        while scope is not None:
            if (first or scope.kind != "class") and name in scope.bindings:
                return scope.bindings[name]
            first = False
            scope = scope.parent
        return None


class FileIndex:
    """Everything inference needs about one file, gathered in one walk of its tree."""

    def __init__(self, tree: ast.Module, resolve_import: Callable[[str], "FileIndex | None"] | None = None):
        self.tree = tree
        self.module_scope = Scope("module", tree, None)
        self.calls: list[tuple[ast.Call, Scope]] = []
        self.imports: list[tuple[ast.stmt, Scope]] = []
        self.imported_names: set[str] = set()  # every name an import binds, in any scope
        # The scope each def, class, lambda and comprehension opens, by id(node).
        self.scopes: dict[int, Scope] = {id(tree): self.module_scope}
        self._resolve_import = resolve_import
        _Binder(self).visit_module(tree)

    def new_scope(self, kind: str, node: ast.AST, parent: Scope, **kw) -> Scope:
        scope = Scope(kind, node, parent, **kw)
        self.scopes[id(node)] = scope
        return scope

    def resolve_project_module(self, qualified: str) -> "FileIndex | None":
        if self._resolve_import is None:
            return None
        return self._resolve_import(qualified)


class _Binder:
    """Walks a module once: scopes, bindings, classes, and every call with its scope."""

    def __init__(self, index: FileIndex):
        self.index = index

    def visit_module(self, tree: ast.Module) -> None:
        self.body(tree.body, self.index.module_scope)

    def body(self, statements: list[ast.stmt], scope: Scope) -> None:
        for stmt in statements:
            self.stmt(stmt, scope)

    def stmt(self, node: ast.stmt, scope: Scope) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for expr in [*node.decorator_list, *_defaults(node.args)]:
                self.expr(expr, scope)
            scope.add(node.name, Binding("def", node, scope))
            self.function(node, scope)
        elif isinstance(node, ast.ClassDef):
            for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                self.expr(expr, scope)
            info = ClassInfo(node.name, node, scope)
            scope.add(node.name, Binding("class", node, scope))
            class_scope = self.index.new_scope("class", node, scope, class_info=info)
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    info.annotations[stmt.target.id] = stmt.annotation
            self.body(node.body, class_scope)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.index.imports.append((node, scope))
            for alias in node.names:
                for name, qualified in _import_bindings(node, alias):
                    self.index.imported_names.add(name)
                    scope.add(name, Binding("import", alias, scope, qualified=qualified))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            if isinstance(node, ast.Global):
                scope.globals_.update(node.names)
        elif isinstance(node, ast.Assign):
            self.expr(node.value, scope)
            for target in node.targets:
                self.target(target, node.value, scope)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.expr(node.value, scope)
            self.target(node.target, node.value, scope, annotation=node.annotation)
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value, scope)
            self.expr(node.target, scope)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter, scope)
            self.target(node.target, node.iter, scope, kind="for")
            self.body(node.body, scope)
            self.body(node.orelse, scope)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expr(item.context_expr, scope)
                if item.optional_vars is not None:
                    self.target(item.optional_vars, None, scope, kind="unknown")
            self.body(node.body, scope)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                self.expr(node.value, scope)
                scope.returns.append(node.value)
        elif isinstance(node, ast.If):
            # Each `elif` nests in the previous `if`'s orelse: a loop, so that a chain of
            # thousands of branches does not recurse thousands deep.
            while True:
                self.expr(node.test, scope)
                self.body(node.body, scope)
                if len(node.orelse) != 1 or not isinstance(node.orelse[0], ast.If):
                    self.body(node.orelse, scope)
                    break
                node = node.orelse[0]
        else:
            self.generic(node, scope)

    def generic(self, node: ast.AST, scope: Scope) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            for item in value if isinstance(value, list) else (value,):
                if isinstance(item, ast.AST) and not isinstance(item, _LEAF_EXPRESSIONS + _NOT_EXPRESSIONS):
                    self.child(item, scope)

    def child(self, node: ast.AST, scope: Scope) -> None:
        if isinstance(node, ast.stmt):
            self.stmt(node, scope)
        elif isinstance(node, ast.expr):
            self.expr(node, scope)
        elif isinstance(node, ast.ExceptHandler):
            if node.type is not None:
                self.expr(node.type, scope)
            if node.name:
                scope.add(node.name, Binding("unknown", None, scope))
            self.body(node.body, scope)
        elif isinstance(node, ast.AST):
            self.generic(node, scope)

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scope: Scope) -> None:
        inner = self.index.new_scope("function", node, scope)
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        if scope.kind == "class" and not isinstance(node, ast.Lambda) and positional:
            decorators = {_dotted(d) for d in node.decorator_list}
            if "staticmethod" not in decorators:
                inner.method_of = scope.class_info
                if "classmethod" not in decorators:
                    inner.self_name = positional[0].arg
        all_args = [*positional, *args.kwonlyargs]
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        defaults += list(args.kw_defaults)
        for arg, default in zip(all_args, defaults):
            inner.add(arg.arg, Binding("param", default, inner, annotation=arg.annotation))
        for arg in (args.vararg, args.kwarg):
            if arg is not None:
                inner.add(arg.arg, Binding("unknown", None, inner))
        if isinstance(node, ast.Lambda):
            self.expr(node.body, inner)
            return
        # No walk ahead for `global`: Python requires it before any use of the name, so the
        # statement walk meets it before the bindings it redirects.
        self.body(node.body, inner)

    def target(self, target: ast.expr, value: ast.expr | None, scope: Scope,
               kind: str = "assign", annotation: ast.expr | None = None,
               element: tuple[int, ...] = ()) -> None:
        if isinstance(target, ast.Name):
            scope.add(target.id, Binding(kind, value, scope, element=element or None,
                                         annotation=annotation))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, elt in enumerate(target.elts):
                if isinstance(elt, ast.Starred):
                    self.target(elt.value, None, scope, "unknown")
                else:
                    self.target(elt, value, scope, kind, element=element + (i,))
        elif isinstance(target, ast.Attribute):
            self.expr(target.value, scope)
            self._self_attribute(target, value, scope, annotation, kind, element)
        elif isinstance(target, ast.Starred):
            self.target(target.value, None, scope, "unknown")
        else:
            self.expr(target, scope)

    def _self_attribute(self, target: ast.Attribute, value, scope: Scope, annotation,
                        kind: str, element: tuple[int, ...]) -> None:
        method = _method_scope(scope)
        if method is None or not isinstance(target.value, ast.Name):
            return
        if target.value.id != method.self_name or method.method_of is None:
            return
        info = method.method_of
        if annotation is not None:
            info.annotations.setdefault(target.attr, annotation)
        # The same Binding a local name gets, so that `self.a, self.b = x, y` and
        # `for self.m in ...` are followed (or left unknown) exactly as names are.
        binding = Binding(kind, value, scope, element=element or None)
        info.attributes.setdefault(target.attr, []).append(binding)

    def expr(self, node: ast.expr, scope: Scope) -> None:
        # A stack, not recursion, through plain nesting (in source order): a sum of a thousand
        # terms or a long method chain parses and compiles, and must not exhaust the
        # interpreter's recursion limit here.
        stack = [node]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Call):
                self.index.calls.append((node, scope))
                self._registration(node, scope)
            if isinstance(node, ast.Lambda):
                for default in _defaults(node.args):
                    self.expr(default, scope)
                self.function(node, scope)
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                inner = self.index.new_scope("function", node, scope)
                for i, gen in enumerate(node.generators):
                    self.expr(gen.iter, scope if i == 0 else inner)
                    self.target(gen.target, gen.iter, inner, kind="for")
                    for cond in gen.ifs:
                        self.expr(cond, inner)
                elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
                for elt in elements:
                    self.expr(elt, inner)
            elif isinstance(node, ast.NamedExpr):
                self.expr(node.value, scope)
                target_scope = scope
                while target_scope.kind != "module" and isinstance(target_scope.node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                    target_scope = target_scope.parent
                self.target(node.target, node.value, target_scope)
            else:
                stack.extend(reversed(_child_expressions(node)))

    def _registration(self, call: ast.Call, scope: Scope) -> None:
        """`self.register_buffer("x", ...)` / `register_parameter`: `self.x` is a tensor."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in ("register_buffer", "register_parameter")):
            return
        method = _method_scope(scope)
        if method is None or method.method_of is None:
            return
        if isinstance(func.value, ast.Name) and func.value.id == method.self_name and call.args:
            first = call.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                method.method_of.tensor_attributes.add(first.value)


def _method_scope(scope: Scope) -> Scope | None:
    """The method a statement is in (through nested comprehensions), if any."""
    while scope is not None and scope.kind == "function" and scope.self_name is None:
        if not isinstance(scope.node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return None
        scope = scope.parent
    if scope is not None and scope.self_name is not None:
        return scope
    return None


# Leaves the binder has nothing to do with: skipping them halves its time.
_LEAF_EXPRESSIONS = (ast.Name, ast.Constant)
_NOT_EXPRESSIONS = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def _child_expressions(node: ast.AST) -> list[ast.expr]:
    """The expressions right below `node` that are not leaves, in source order, through
    nodes that are not expressions (a keyword argument's value)."""
    found: list[ast.expr] = []
    for name in node._fields:
        value = getattr(node, name, None)
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, ast.expr):
                if not isinstance(item, _LEAF_EXPRESSIONS):
                    found.append(item)
            elif isinstance(item, ast.AST) and not isinstance(item, _NOT_EXPRESSIONS):
                found.extend(_child_expressions(item))
    return found


def _defaults(args: ast.arguments) -> list[ast.expr]:
    return [*args.defaults, *(d for d in args.kw_defaults if d is not None)]


def _import_bindings(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> list[tuple[str, str]]:
    if isinstance(node, ast.Import):
        if alias.asname:
            return [(alias.asname, alias.name)]
        top = alias.name.split(".")[0]
        return [(top, top)]
    if alias.name == "*":
        return []
    module = "." * node.level + (node.module or "")
    sep = "" if module.endswith(".") else "."
    return [(alias.asname or alias.name, f"{module}{sep}{alias.name}")]


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


# --------------------------------------------------------------------------- inference


_IN_PROGRESS = object()


class Inferrer:
    """Answers MODULE / LIKELY_MODULE / TENSOR / UNKNOWN for expressions of one file."""

    def __init__(self, index: FileIndex, _depth: int = 0):
        self.index = index
        self._memo: dict[tuple, Inference | None | object] = {}
        self._depth = _depth

    # ---- names

    def qualify(self, node: ast.expr, scope: Scope) -> str | None:
        """The fully qualified name of a dotted expression whose root is an import."""
        dotted = _dotted(node)
        if dotted is None:
            return None
        root, _, rest = dotted.partition(".")
        # `except ImportError: amp = None` does not make `amp.initialize` something else.
        bindings = [b for b in scope.lookup(root) or () if not _is_none(b)]
        if not bindings:
            return None
        quals = {b.qualified for b in bindings if b.kind == "import"}
        if len(quals) != 1 or any(b.kind != "import" for b in bindings):
            return None
        qualified = quals.pop()
        return f"{qualified}.{rest}" if rest else qualified

    def infer(self, node: ast.expr, scope: Scope) -> Inference:
        try:
            result = self._infer(node, scope)
        except RecursionError:
            # A receiver hundreds of calls deep (`m.cuda().cuda()...`) is valid Python; not
            # following it is a miss, which is better than losing the whole file.
            return unknown("too deeply nested to follow")
        return result if isinstance(result, Inference) else unknown("no binding reaches it")

    def _infer(self, node: ast.expr, scope: Scope) -> Inference | None:
        return self._memoized((id(node), id(scope)), lambda: self._dispatch(node, scope))

    def _memoized(self, key: tuple, compute) -> Inference | None:
        """Compute once per key; a key met again while it is computed is a cycle, which
        contributes nothing (None) to the join that reached it."""
        cached = self._memo.get(key)
        if cached is _IN_PROGRESS:
            return None
        if cached is not None:
            return cached  # type: ignore[return-value]
        self._memo[key] = _IN_PROGRESS
        try:
            result = compute()
        finally:
            del self._memo[key]
        if result is not None:
            self._memo[key] = result
        return result

    def _dispatch(self, node: ast.expr, scope: Scope) -> Inference | None:
        if isinstance(node, ast.Name):
            return self._name(node.id, scope)
        if isinstance(node, ast.Attribute):
            return self._attribute(node, scope)
        if isinstance(node, ast.Call):
            return self._call(node, scope)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, scope)
        if isinstance(node, ast.IfExp):
            return join([self._infer(node.body, scope), self._infer(node.orelse, scope)],
                        "either branch of the conditional")
        if isinstance(node, ast.NamedExpr):
            return self._infer(node.value, scope)
        if isinstance(node, ast.BinOp):
            sides = [self._infer(node.left, scope), self._infer(node.right, scope)]
            if any(s is not None and s.kind is Receiver.TENSOR for s in sides):
                return Inference(Receiver.TENSOR, "arithmetic on a tensor")
            return unknown("the result of an operator")
        if isinstance(node, ast.Await):
            return self._infer(node.value, scope)
        return unknown(f"a {type(node).__name__} expression")

    def _name(self, name: str, scope: Scope) -> Inference | None:
        method = _method_scope(scope)
        if method is not None and name == method.self_name and method.method_of is not None:
            if scope.lookup(name) is method.bindings.get(name):
                reason = self.module_class(method.method_of)
                if reason:
                    return Inference(Receiver.MODULE, f"`{name}` in a method of {method.method_of.name} ({reason})",
                                     cls=method.method_of)
                return Inference(Receiver.UNKNOWN, f"`{name}` in a method of {method.method_of.name}, "
                                 "not a module class", cls=method.method_of)
        bindings = scope.lookup(name)
        if bindings is None:
            return self._likely(name, unknown(f"`{name}` is not bound in this file"))
        # Every use of a name in a scope shares one answer (and one cycle guard): this keeps
        # `m = m.cuda()` repeated a thousand times linear, not a thousand frames deep.
        return self._memoized(("name", name, id(bindings)), lambda: self._join_bindings(name, bindings))

    def _join_bindings(self, name: str, bindings: list[Binding]) -> Inference | None:
        results = [self._binding(name, b) for b in bindings if not _is_none(b)]
        joined = join(results, f"the bindings of `{name}`")
        if any(b.kind in ("import", "def", "class") for b in bindings):
            return joined  # a function or class named `build_model` is not a model
        return self._likely(name, joined)

    def _likely(self, name: str, result: Inference | None) -> Inference | None:
        if (
            result is not None
            and result.kind is Receiver.UNKNOWN
            and not result.is_class
            and not result.maybe_tensor
            and is_module_like_name(name)
        ):
            return Inference(Receiver.LIKELY_MODULE, f"`{name}` is a module-like name; {result.reason}")
        return result

    def _binding(self, name: str, b: Binding) -> Inference | None:
        if b.kind == "import":
            return self._qualified_value(b.qualified, name)
        if b.kind == "class":
            info = self._class_info(b.node)
            reason = self.module_class(info) if info else None
            if reason:
                return Inference(Receiver.UNKNOWN, reason, cls=info, is_class=True)
            return unknown(f"`{name}` is a class")
        if b.kind == "def":
            return unknown(f"`{name}` is a function")
        if b.kind == "param":
            return self._parameter(name, b)
        if b.kind == "for":
            return self._loop_target(name, b)
        if b.kind == "assign":
            if b.annotation is not None:
                annotated = self._annotation(b.annotation, b.scope)
                if annotated is not None:
                    return annotated
            if b.node is None:
                return unknown(f"`{name}` is declared without a value")
            if b.element is not None:
                return self._unpacked(name, b)
            value = self._infer(b.node, b.scope)
            if value is None:
                return None
            line = getattr(b.node, "lineno", "?")
            return replace(value, reason=f"`{name}` = `{_short(b.node)}` (line {line}): {value.reason}")
        return unknown(f"`{name}` has a value this analysis does not follow")

    def _unpacked(self, name: str, b: Binding) -> Inference | None:
        value = b.node
        for i in b.element or ():
            if isinstance(value, ast.Call) and self.qualify(value.func, b.scope) in _TUPLE_TRANSFORMS:
                value = ast.Tuple(list(value.args), ast.Load())  # returns its arguments, transformed
            if isinstance(value, (ast.Tuple, ast.List)) and i < len(value.elts):
                value = value.elts[i]
            else:
                return unknown(f"`{name}` is unpacked from `{_short(b.node)}`")
        return self._infer(value, b.scope)

    def _parameter(self, name: str, b: Binding) -> Inference | None:
        if b.annotation is not None:
            annotated = self._annotation(b.annotation, b.scope)
            if annotated is not None:
                return Inference(annotated.kind, f"parameter `{name}` is annotated `{_short(b.annotation)}`",
                                 cls=annotated.cls)
        return unknown(f"`{name}` is a parameter")

    def _annotation(self, annotation: ast.expr, scope: Scope) -> Inference | None:
        """A module or tensor type annotation (also Optional[...] and X | None)."""
        members: list[ast.expr] = []
        _union_members(annotation, members, self, scope)
        kinds = []
        for member in members:
            if isinstance(member, ast.Constant) and member.value is None:
                continue
            qualified = self.qualify(member, scope)
            if qualified and is_tensor_annotation(qualified):
                kinds.append(Inference(Receiver.TENSOR, f"annotated {qualified}"))
                continue
            cls = self._infer(member, scope)
            if cls is not None and cls.is_class:
                kinds.append(Inference(Receiver.MODULE, cls.reason, cls=cls.cls))
            else:
                return None
        if not kinds:
            return None
        return join(kinds, "the annotation")

    def _loop_target(self, name: str, b: Binding) -> Inference | None:
        iterable = b.node
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute):
            method = iterable.func.attr
            owner = self._infer(iterable.func.value, b.scope)
            if owner is not None and owner.kind is Receiver.MODULE and method in ("modules", "children"):
                return Inference(Receiver.MODULE, f"`{name}` iterates over {method}() of a module")
            if owner is not None and owner.kind is Receiver.MODULE and method in ("named_modules", "named_children"):
                if b.element == (1,):
                    return Inference(Receiver.MODULE, f"`{name}` iterates over {method}() of a module")
        root = iterable
        while isinstance(root, ast.Call) and root.args and _dotted(root.func) in ("enumerate", "tqdm", "tqdm.tqdm", "iter"):
            root = root.args[0]
        dotted = _dotted(root) if not isinstance(root, ast.Call) else _dotted(root.func)
        if dotted and _LOADER_NAME.search(dotted.rsplit(".", 1)[-1]):
            return Inference(Receiver.TENSOR, f"`{name}` is a batch from `{dotted}`")
        return unknown(f"`{name}` is a loop variable")

    def _qualified_value(self, qualified: str | None, name: str) -> Inference:
        """What an imported name is: a module class, or an instance defined in a project file."""
        if qualified is None:
            return unknown(f"`{name}` is imported")
        reason = module_class_reason(qualified)
        if reason:
            return Inference(Receiver.UNKNOWN, reason, cls=qualified, is_class=True)
        project = self._project_symbol(qualified)
        if project is not None:
            return project
        return unknown(f"`{name}` is imported from {qualified}")

    def _project_symbol(self, qualified: str) -> Inference | None:
        module, _, attr = qualified.rpartition(".")
        if not module or self._depth > 3:
            return None
        other = self.index.resolve_project_module(module)
        if other is None:
            return None
        inferrer = Inferrer(other, self._depth + 1)
        if attr not in other.module_scope.bindings:
            return None
        result = inferrer._infer(ast.Name(attr, ast.Load()), other.module_scope)
        if result is None:
            return None
        return Inference(result.kind, f"{qualified}: {result.reason}", cls=result.cls,
                         is_class=result.is_class)

    # ---- classes

    def _class_info(self, node: ast.ClassDef) -> ClassInfo | None:
        scope = self.index.scopes.get(id(node))
        return scope.class_info if scope is not None else None

    def module_class(self, info: ClassInfo, _seen: frozenset = frozenset()) -> str | None:
        """Why a class defined in the project subclasses nn.Module, or None."""
        if id(info) in _seen:
            return None
        for base in info.node.bases:
            qualified = self.qualify(base, info.scope)
            if qualified:
                reason = module_class_reason(qualified)
                if reason:
                    return f"{info.name} subclasses {qualified}"
                project = self._project_symbol(qualified)
                if project is not None and project.is_class:
                    return f"{info.name} subclasses {qualified}"
                continue
            if isinstance(base, ast.Name):
                for b in info.scope.lookup(base.id) or []:
                    if b.kind == "class":
                        base_info = self._class_info(b.node)
                        if base_info and self.module_class(base_info, _seen | {id(info)}):
                            return f"{info.name} subclasses {base.id}, a module class"
        return None

    def _class_attribute(self, info: ClassInfo, attr: str, _seen: frozenset = frozenset()) -> Inference | None:
        if attr in info.tensor_attributes:
            return Inference(Receiver.TENSOR, f"{info.name}.{attr} is a registered parameter or buffer")
        results: list[Inference | None] = []
        if attr in info.annotations:
            annotated = self._annotation(info.annotations[attr], info.scope)
            if annotated is not None:
                return Inference(annotated.kind, f"{info.name}.{attr} is annotated `{_short(info.annotations[attr])}`",
                                 cls=annotated.cls)
        for binding in info.attributes.get(attr, []):
            if not _is_none(binding):
                results.append(self._binding(f"self.{attr}", binding))
        if results:
            return join(results, f"the assignments of self.{attr}")
        # Inherited attributes: look in local base classes.
        for base in info.node.bases:
            if isinstance(base, ast.Name) and id(info) not in _seen:
                for b in info.scope.lookup(base.id) or []:
                    if b.kind == "class":
                        base_info = self._class_info(b.node)
                        if base_info is not None:
                            inherited = self._class_attribute(base_info, attr, _seen | {id(info)})
                            if inherited is not None and inherited.kind is not Receiver.UNKNOWN:
                                return inherited
        return None

    # ---- expressions

    def _attribute(self, node: ast.Attribute, scope: Scope) -> Inference | None:
        qualified = self.qualify(node, scope)
        if qualified is not None:
            return self._qualified_value(qualified, node.attr)
        owner = self._infer(node.value, scope)
        if owner is None:
            return None
        if owner.kind is Receiver.TENSOR:
            if node.attr in TENSOR_ATTRIBUTES:
                return Inference(Receiver.TENSOR, f"`.{node.attr}` of a tensor")
            return unknown(f"`.{node.attr}` of a tensor")
        if isinstance(owner.cls, ClassInfo) and not owner.is_class:
            found = self._class_attribute(owner.cls, node.attr)
            if found is not None and found.kind is not Receiver.UNKNOWN:
                return found
            if found is not None:
                return self._likely(node.attr, found)
        if owner.kind is Receiver.MODULE and node.attr in TENSOR_ATTRIBUTES:
            return Inference(Receiver.TENSOR, f"`.{node.attr}` of a module is a parameter or buffer")
        if owner.kind is Receiver.MODULE and node.attr == "module":
            return Inference(Receiver.MODULE, "`.module` of a module wrapper")
        return self._likely(node.attr, unknown(f"attribute `{node.attr}` of {owner.kind.value} `{_short(node.value)}`"))

    def _subscript(self, node: ast.Subscript, scope: Scope) -> Inference | None:
        owner = self._infer(node.value, scope)
        if owner is None:
            return None
        if owner.kind is Receiver.TENSOR:
            return Inference(Receiver.TENSOR, "indexing a tensor")
        if owner.kind is Receiver.MODULE and owner.cls in (
            "torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"
        ):
            return Inference(Receiver.MODULE, f"an element of a {owner.cls}")
        return unknown("an indexed value")

    def _call(self, node: ast.Call, scope: Scope) -> Inference | None:
        func = node.func
        qualified = self.qualify(func, scope)
        if qualified is not None and is_module_transform(qualified):
            return self._transform_call(node, qualified, scope)
        if qualified is not None:
            known = self._qualified_call(node, qualified, scope)
            if known is not None:
                return known
        if isinstance(func, ast.Attribute) and qualified is None:
            return self._method_call(node, func, scope)
        callee = self._infer(func, scope)
        if callee is None:
            return None
        if callee.is_class:
            return Inference(Receiver.MODULE, f"an instance of {_class_name(callee)}: {callee.reason}",
                             cls=callee.cls)
        if callee.kind in (Receiver.MODULE, Receiver.LIKELY_MODULE):
            return Inference(Receiver.TENSOR, f"the output of calling module `{_short(func)}`")
        if isinstance(func, ast.Name):
            return self._function_result(func.id, scope)
        return unknown(f"the result of `{_short(func)}()`")

    def _transform_call(self, node: ast.Call, qualified: str, scope: Scope) -> Inference | None:
        """A function that returns the module it is given (`torch.compile(model)`)."""
        if node.args:
            inner = self._infer(node.args[0], scope)
            if inner is None:  # `model = torch.jit.script(model)`: the cycle adds nothing
                return None
            if inner.kind in (Receiver.MODULE, Receiver.LIKELY_MODULE):
                return Inference(inner.kind, f"{qualified}() of a module: {inner.reason}", cls=inner.cls)
        return unknown(f"{qualified}() of a value of unknown type")

    def _qualified_call(self, node: ast.Call, qualified: str, scope: Scope) -> Inference | None:
        reason = module_class_reason(qualified)
        if reason:
            return Inference(Receiver.MODULE, reason, cls=qualified)
        reason = factory_reason(qualified)
        if reason:
            return Inference(Receiver.MODULE, reason)
        reason = tensor_function_reason(qualified)
        if reason:
            return Inference(Receiver.TENSOR, reason)
        if qualified.endswith((".from_pretrained", ".from_config", ".from_single_file")):
            owner_reason = module_class_reason(qualified.rsplit(".", 1)[0])
            if owner_reason:
                return Inference(Receiver.MODULE, f"{qualified}() loads a model: {owner_reason}")
        project = self._project_symbol(qualified)
        if project is not None and project.is_class:
            return Inference(Receiver.MODULE, f"an instance of {qualified}: {project.reason}", cls=project.cls)
        return self._project_function_result(qualified)

    def _project_function_result(self, qualified: str) -> Inference | None:
        """A call of a function defined in another project file: what it returns."""
        module, _, attr = qualified.rpartition(".")
        other = self.index.resolve_project_module(module) if module and self._depth <= 3 else None
        if other is None or attr not in other.module_scope.bindings:
            return None
        bindings = other.module_scope.bindings[attr]
        if all(b.kind == "import" for b in bindings) and len({b.qualified for b in bindings}) == 1:
            return Inferrer(other, self._depth + 1)._project_function_result(bindings[0].qualified)
        if not any(b.kind == "def" for b in bindings):
            return None
        result = Inferrer(other, self._depth + 1)._function_result(attr, other.module_scope)
        if result is None or result.kind is Receiver.UNKNOWN:
            return result
        return Inference(result.kind, f"{qualified}(): {result.reason}", cls=result.cls)

    def _method_call(self, node: ast.Call, func: ast.Attribute, scope: Scope) -> Inference | None:
        owner = self._infer(func.value, scope)
        if owner is None:
            return None
        method = func.attr
        if owner.is_class and method in ("from_pretrained", "from_config", "from_single_file"):
            return Inference(Receiver.MODULE, f"{method}() of {_class_name(owner)}: {owner.reason}", cls=owner.cls)
        if owner.kind is Receiver.TENSOR:
            return Inference(Receiver.TENSOR, f"`.{method}()` of a tensor")
        if method in SELF_RETURNING_METHODS:
            if owner.kind is Receiver.UNKNOWN:
                return unknown(f"`.{method}()` of {owner.reason}")
            return Inference(owner.kind, f"`.{method}()` returns the module: {owner.reason}", cls=owner.cls)
        if owner.kind is Receiver.MODULE:
            if method in ("get_submodule", "get_encoder", "get_decoder"):
                return Inference(Receiver.MODULE, f"`.{method}()` of a module returns a module")
            if method == "forward":
                return Inference(Receiver.TENSOR, "the output of a module's forward")
        return unknown(f"the result of `.{method}()`")

    def _function_result(self, name: str, scope: Scope) -> Inference | None:
        """A call of a function defined in this file: the join of what it returns."""
        bindings = scope.lookup(name) or []
        results: list[Inference | None] = []
        for b in bindings:
            if b.kind != "def":
                return unknown(f"the result of `{name}()`")
            inner = self._function_scope(b.node)
            if inner is None or not inner.returns:
                return unknown(f"`{name}()` returns nothing this analysis follows")
            results.extend(self._infer(r, inner) for r in inner.returns)
        if not results:
            return unknown(f"the result of `{name}()`")
        joined = join(results, f"what `{name}()` returns")
        if joined is None:
            return None
        return Inference(joined.kind, f"`{name}()` returns: {joined.reason}", cls=joined.cls)

    def _function_scope(self, node: ast.AST) -> Scope | None:
        return self.index.scopes.get(id(node))


def _is_none(binding: Binding) -> bool:
    """`model = None` placeholders say nothing about what the name holds later."""
    return binding.kind == "assign" and isinstance(binding.node, ast.Constant) and binding.node.value is None


def _union_members(annotation: ast.expr, out: list, inferrer: Inferrer, scope: Scope) -> None:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            out.append(annotation)
            return
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        _union_members(annotation.left, out, inferrer, scope)
        _union_members(annotation.right, out, inferrer, scope)
        return
    if isinstance(annotation, ast.Subscript):
        qualified = inferrer.qualify(annotation.value, scope) or _dotted(annotation.value) or ""
        if qualified.rsplit(".", 1)[-1] in ("Optional", "Union"):
            inner = annotation.slice
            for member in inner.elts if isinstance(inner, ast.Tuple) else [inner]:
                _union_members(member, out, inferrer, scope)
            return
    out.append(annotation)


def _class_name(inference: Inference) -> str:
    cls = inference.cls
    return cls.name if isinstance(cls, ClassInfo) else str(cls)


def join(results: list[Inference | None], what: str) -> Inference | None:
    """Join the inferences of every binding. Cycles (None) contribute nothing."""
    known = [r for r in results if r is not None]
    if not known:
        return None
    kinds = {r.kind for r in known}
    if kinds == {Receiver.MODULE}:
        # A qualified name is equal by value; a ClassInfo is the same class only if identical.
        classes = {r.cls if isinstance(r.cls, str) else id(r.cls) for r in known}
        cls = known[0].cls if len(classes) == 1 else None
        is_class = all(r.is_class for r in known)
        return Inference(Receiver.MODULE, _first_reason(known, Receiver.MODULE), cls=cls, is_class=is_class)
    if kinds == {Receiver.TENSOR}:
        return Inference(Receiver.TENSOR, _first_reason(known, Receiver.TENSOR))
    if Receiver.TENSOR in kinds or any(r.maybe_tensor for r in known):
        if Receiver.MODULE in kinds or Receiver.LIKELY_MODULE in kinds:
            reason = f"{what} are a module in one place and a tensor in another"
        else:
            reason = f"{what} include a tensor ({_first_reason(known, Receiver.TENSOR)})"
        return Inference(Receiver.UNKNOWN, reason, maybe_tensor=True)
    if kinds <= {Receiver.MODULE, Receiver.LIKELY_MODULE}:
        return Inference(Receiver.LIKELY_MODULE, _first_reason(known, Receiver.LIKELY_MODULE))
    if len(known) == 1:
        return known[0]
    if all(r.is_class for r in known):
        return known[0]
    return unknown(f"{what} are not all modules ({_first_reason(known, Receiver.UNKNOWN)})")


def _first_reason(results: list[Inference], kind: Receiver) -> str:
    return next((r.reason for r in results if r.kind is kind), results[0].reason)


def _short(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast produces
        return type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
