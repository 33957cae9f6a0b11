"""What an expression may hold, as the analysis sees it: a small lattice of typed values.

`Module(cls)` an nn.Module instance (`ScriptModule` a TorchScript one), `ModuleClass(cls)` a
class that subclasses nn.Module, `Class`/`Instance(cls)` any other class and its instances,
`Tensor`, `Formats(names)` memory formats, `Function(ref)`, `Tuple(items)`, `Iterable(element)`,
`Library(name)`
an imported object known only by its qualified name, `NoneValue`, `LikelyModule` (nothing but
a model-like name says it is a module), and `Unknown`. Every value carries the reason it was
inferred (not part of equality). `join` is what a name holds when several bindings reach it;
a module on one path and a tensor on another joins to an unknown that remembers the tensor,
so that no name heuristic makes it a module again.
"""

from __future__ import annotations



# A reason nests the reasons it was built from; past this length it is cut (the first links
# of the chain are what explains a finding, and the cut keeps a long chain linear).
MAX_REASON = 600


class Value:
    """A value, with the reason it was inferred (not part of equality). Subclasses list
    their fields in `_fields`; values are immutable, compared and hashed by kind and fields.
    (Plain classes, not dataclasses: a run imports this module once per process, and
    generating a dozen frozen dataclasses costs more than the rest of the import.)"""

    __slots__ = ("reason",)
    _fields: tuple[str, ...] = ()

    def __init__(self, reason: str = "", *args):
        if len(reason) > MAX_REASON:  # a chain of ten thousand rebindings: say its start
            reason = reason[: MAX_REASON - 5] + " ..."
        object.__setattr__(self, "reason", reason)
        for name, value in zip(self._fields, args):
            object.__setattr__(self, name, value)
        for name in self._fields[len(args):]:
            object.__setattr__(self, name, self._defaults[name])

    _defaults: dict = {}

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _key(self) -> tuple:
        return (type(self), *(getattr(self, name) for name in self._fields))

    def __eq__(self, other) -> bool:
        return isinstance(other, Value) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({self.reason!r}{', ' if fields else ''}{fields})"

    @property
    def noun(self) -> str:
        """What the value is, in words for a reason (`attribute x of None`)."""
        return _NOUNS.get(type(self).__name__, "a value")

    def because(self, reason: str) -> "Value":
        return type(self)(reason, *(getattr(self, name) for name in self._fields))


_NOUNS = {
    "Module": "a module", "ScriptModule": "a TorchScript module", "ModuleClass": "a module class",
    "Class": "a class", "Instance": "an object", "Tensor": "a tensor", "Formats": "a memory format",
    "Function": "a function", "Tuple": "a sequence", "Iterable": "an iterable", "Library": "a library",
    "ProjectModule": "a project module", "NoneValue": "None", "Constant": "a constant",
}


class Module(Value):
    __slots__ = ("cls", "hazards")
    _fields = ("cls", "hazards")
    _defaults = {"cls": None, "hazards": frozenset()}
    # cls: a ClassInfo (a project class), a qualified name, or None; hazards: why a
    # targeted converter may not do what .to() does ("parametrized", "lazy")


class ScriptModule(Module):
    """A TorchScript module: `.to(memory_format=...)` converts it, torch's targeted converter
    does not (its submodules are RecursiveScriptModules, not Conv2d)."""

    __slots__ = ()


class ModuleClass(Value):
    __slots__ = ("cls",)
    _fields = ("cls",)
    _defaults = {"cls": None}


class Class(Value):
    __slots__ = ("cls",)
    _fields = ("cls",)
    _defaults = {"cls": None}


class Instance(Value):
    __slots__ = ("cls",)
    _fields = ("cls",)
    _defaults = {"cls": None}


class Tensor(Value):
    __slots__ = ()


class Formats(Value):
    """Memory formats: "channels_last", "channels_last_3d", "contiguous_format",
    "preserve_format", "none" (None), "other" (a value that is not a format) and "unknown"."""

    __slots__ = ("names",)
    _fields = ("names",)
    _defaults = {"names": frozenset()}

    @property
    def channels_last(self) -> frozenset:
        return self.names & CHANNELS_LAST_FORMATS


CHANNELS_LAST_FORMATS = frozenset({"channels_last", "channels_last_3d"})
NEUTRAL_FORMATS = frozenset({"contiguous_format", "preserve_format", "none"})


class Function(Value):
    __slots__ = ("ref",)
    _fields = ("ref",)
    _defaults = {"ref": None}  # a FunctionInfo of the project, or a qualified name


class Tuple(Value):
    __slots__ = ("items",)
    _fields = ("items",)
    _defaults = {"items": ()}


class Iterable(Value):
    """Something iterated over: each item is `element` (`model.modules()`, a loader)."""

    __slots__ = ("element",)
    _fields = ("element",)
    _defaults = {"element": None}


class Library(Value):
    """An imported object of a library the facts say nothing more about."""

    __slots__ = ("name",)
    _fields = ("name",)
    _defaults = {"name": ""}


class ProjectModule(Value):
    """A Python module of the project (`import models`): attributes are its globals."""

    __slots__ = ("path",)
    _fields = ("path",)
    _defaults = {"path": ""}


class NoneValue(Value):
    __slots__ = ()


class Constant(Value):
    """A literal other than None: a number, a string."""

    __slots__ = ()


class LikelyModule(Value):
    __slots__ = ()


class Unknown(Value):
    __slots__ = ("conflict",)
    _fields = ("conflict",)
    _defaults = {"conflict": False}  # some path says it is a tensor: never a module by its name


def is_module(value: Value | None) -> bool:
    return isinstance(value, Module)


def _module_join(values: list[Module]) -> Module:
    classes = {v.cls for v in values}
    cls = values[0].cls if len(classes) == 1 else None
    hazards = frozenset().union(*(v.hazards for v in values))
    script = next((v for v in values if isinstance(v, ScriptModule)), None)
    kind = ScriptModule if script is not None else Module
    reason = (script or values[0]).reason
    return kind(reason, cls, hazards)


def join(values: list[Value | None], what: str = "the values") -> Value | None:
    """What holds when any of `values` may: None (a cycle not yet resolved, or no value)
    contributes nothing; a `None` placeholder (`model = None`) gives way to the others."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    real = [v for v in known if not isinstance(v, NoneValue)]
    if not real:
        return known[0]
    formats = [v for v in known if isinstance(v, Formats)]
    if formats:  # a format that may be None is a format (`fmt = cl if flag else None`)
        names = set().union(*(f.names for f in formats))
        for v in known:
            if isinstance(v, NoneValue):
                names.add("none")
            elif not isinstance(v, Formats):
                names.add("other" if isinstance(v, Constant) else "unknown")
        return Formats(formats[0].reason, frozenset(names))
    first = real[0]
    if len(real) == 1 or all(v == first for v in real[1:]):
        if isinstance(first, Module):
            return _module_join(real)  # type: ignore[arg-type]
        return first
    kinds = {type(v) for v in real}
    if all(isinstance(v, Module) for v in real):
        return _module_join(real)  # type: ignore[arg-type]
    tensors = [v for v in real if isinstance(v, Tensor)]
    conflicted = [v for v in real if isinstance(v, Unknown) and v.conflict]
    modulish = [v for v in real if isinstance(v, (Module, LikelyModule))]
    if tensors or conflicted:
        if modulish:
            return Unknown(f"{what} are a module in one place and a tensor in another", True)
        if kinds == {Tensor}:
            return tensors[0]
        example = (tensors or conflicted)[0].reason
        return Unknown(f"{what} include a tensor ({example})", True)
    if all(isinstance(v, (Module, LikelyModule)) for v in real):
        return next(v for v in real if isinstance(v, LikelyModule))
    if kinds <= {Tuple} and len({len(v.items) for v in real}) == 1:  # type: ignore[attr-defined]
        items = tuple(join([v.items[i] for v in real], what) or Unknown(what)  # type: ignore[attr-defined]
                      for i in range(len(first.items)))  # type: ignore[attr-defined]
        return Tuple(first.reason, items)
    if kinds <= {ModuleClass}:
        return ModuleClass(first.reason, None)
    other = next((v for v in real if not isinstance(v, Module)), first)
    return Unknown(f"{what} are not all modules ({other.reason})")


def narrow(value: Value | None, verdict: str, positive: bool, reason: str) -> Value | None:
    """`value` where `isinstance` is known `positive` for classes of one `verdict`: "module"
    (nn.Module classes), "module-base" (nn.Module itself), "tensor" (torch.Tensor). None
    when the value cannot pass (that path does not reach here)."""
    if value is None:
        return None
    if positive:
        if verdict in ("module", "module-base"):
            if isinstance(value, Tensor):
                return None
            if isinstance(value, Module):
                return value
            if isinstance(value, (ModuleClass, Class, Function, Formats, NoneValue, Constant)):
                return None
            return Module(reason)
        if verdict == "tensor":
            if isinstance(value, (Module, ModuleClass, Class, Function, Formats, NoneValue)):
                return None
            return Tensor(reason)
        return value
    if verdict == "tensor" and isinstance(value, Tensor):
        return None
    if verdict == "module-base" and isinstance(value, Module):
        return None
    if verdict == "module-base" and isinstance(value, (Unknown, LikelyModule)):
        return Unknown(reason, True)  # known not to be a module here: no name makes it one
    if verdict == "tensor" and isinstance(value, Unknown) and value.conflict:
        return Unknown(value.reason)  # not a tensor here, but nothing says module either
    return value
