"""What a convolution module is and how a weight is laid out, for the torch side.

The one classifier of conv modules (`classify_conv`: stored, computed, lazy, quantized, and
the TorchScript forms) that the runtime converter and the inspection both ask, the constants
of frozen TorchScript graphs, and the stride rules kernels use to pick a memory format. The
formats and ranks come from `convlint.layouts`, the package's one table.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import weakref
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import nn
from torch.ao.nn.quantized.modules.conv import _ConvNd as _QuantizedConvNd
from torch.nn.modules.conv import _ConvNd
from torch.nn.parameter import is_lazy
from torch.nn.utils import parametrize
from torch.nn.utils.spectral_norm import SpectralNorm
from torch.nn.utils.weight_norm import WeightNorm

from convlint.layouts import BY_RANK, LAYOUTS, NEUTRAL_FORMATS

MEMORY_FORMATS: dict[str, torch.memory_format] = {
    name: getattr(torch, name) for name in (*(layout.format for layout in LAYOUTS), *NEUTRAL_FORMATS)
}
FORMAT_NAMES: dict[torch.memory_format, str] = {fmt: name for name, fmt in MEMORY_FORMATS.items()}
# The channels-last format of each conv weight rank (4: channels_last, 5: channels_last_3d).
CHANNELS_LAST_BY_RANK: dict[int, torch.memory_format] = {
    rank: MEMORY_FORMATS[layout.format] for rank, layout in BY_RANK.items()
}
CONV_RANKS: tuple[int, ...] = tuple(BY_RANK)

# The order in which c10 walks dimensions, innermost first, to decide channels-last strides:
# channels, then the spatial dims from the last, then the batch (out-channels) dim.
_CHANNELS_LAST_ORDER = {rank: (1, *range(rank - 1, 1, -1), 0) for rank in CONV_RANKS}

# TorchScript keeps the eager class's name in `original_name`; these are torch's conv classes
# (the QAT and fused ones subclass them and keep a stored weight).
_SCRIPTED_CONV_NAMES = frozenset(
    f"{kind}{dims}d"
    for kind in ("Conv", "ConvTranspose", "ConvBn", "ConvBnReLU", "ConvReLU")
    for dims in (1, 2, 3)
)
# The graph ops whose second input is a conv weight, as TorchScript spells them.
_GRAPH_CONV_OPS = (
    "aten::conv2d", "aten::conv3d", "aten::conv_transpose2d", "aten::conv_transpose3d",
    "aten::convolution", "aten::_convolution",
)


class ConvKind(enum.Enum):
    """Where a conv's weight lives, which decides how it can be converted and checked."""

    STORED = "stored"  # a tensor the module holds: Parameter, buffer, ScriptModule slot
    COMPUTED = "computed"  # computed from sources by a parametrization or a norm hook
    LAZY = "lazy"  # an UninitializedParameter until the first forward
    QUANTIZED = "quantized"  # packed by the quantized engine


class Conv(NamedTuple):
    """A conv module as the classifier sees it (a tuple: cheap on models of 5,000 convs)."""

    kind: ConvKind
    rank: int  # of the weight: 3, 4 or 5
    weight: torch.Tensor | None  # STORED and QUANTIZED (unpacked); None otherwise
    sources: tuple[torch.Tensor, ...] = ()  # COMPUTED: the tensors of the weight's rank it is computed from
    scripted: bool = False  # a TorchScript module (scripted, traced or loaded)


def classify_conv(module: nn.Module) -> Conv | None:
    """What kind of conv `module` is, or None when it is no conv module.

    A conv is an eager `_ConvNd` (Conv, ConvTranspose, the QAT convs), a quantized conv, or
    a TorchScript module whose `original_name` is one of torch's conv classes.
    """
    if isinstance(module, _ConvNd):
        rank = len(module.kernel_size) + 2
        # Parametrizations and weight_norm/spectral_norm hooks take `weight` out of
        # _parameters, so a weight found there is stored: the common case, kept cheap.
        weight = module._parameters.get("weight")
        if weight is not None:
            if is_lazy(weight):
                return Conv(ConvKind.LAZY, rank, None)
            return Conv(ConvKind.STORED, rank, weight)
        sources = _weight_sources(module, rank)
        if sources is None:  # a plain tensor attribute or buffer stands in for the Parameter
            return Conv(ConvKind.STORED, rank, module.weight)
        return Conv(ConvKind.COMPUTED, rank, None, sources)
    if isinstance(module, _QuantizedConvNd):
        weight = module.weight()  # unpacks the packed weight: once
        return Conv(ConvKind.QUANTIZED, weight.dim(), weight)
    if isinstance(module, torch.jit.ScriptModule):
        if getattr(module, "original_name", None) in _SCRIPTED_CONV_NAMES:
            weight = stored_tensor(module, "weight")
            if weight is not None:
                return Conv(ConvKind.STORED, weight.dim(), weight, scripted=True)
    return None


def type_name(module: nn.Module) -> str:
    """The module's class name; for a TorchScript module, the eager class it was made from."""
    if isinstance(module, torch.jit.ScriptModule):
        return getattr(module, "original_name", None) or type(module).__name__
    return type(module).__name__


def stored_tensor(module: nn.Module, name: str) -> torch.Tensor | None:
    """The parameter or buffer `name` of the module itself, or None; ScriptModules included
    (their parameter maps have no `.get`)."""
    for mapping in (module._parameters, module._buffers):
        if name in mapping:
            tensor = mapping[name]
            if tensor is not None:
                return tensor
    return None


def graph_conv_constants(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The conv weights a TorchScript graph holds as constants (`torch.jit.freeze` folds the
    parameters into the graph), named as the graph names them (`0.weight`).

    A ScriptModule's graph does not change, so each is read once (a second conversion of a
    traced model with hundreds of submodules would otherwise read them all again).
    """
    if not isinstance(module, torch.jit.ScriptModule):
        return []
    found = _GRAPH_CONSTANTS.get(module)
    if found is None:
        found = _read_graph_constants(module)
        _GRAPH_CONSTANTS[module] = found
    return found


_GRAPH_CONSTANTS: weakref.WeakKeyDictionary[nn.Module, list[tuple[str, torch.Tensor]]] = (
    weakref.WeakKeyDictionary()
)


def _read_graph_constants(module: torch.jit.ScriptModule) -> list[tuple[str, torch.Tensor]]:
    try:
        graph = module.graph
    except (AttributeError, RuntimeError):  # a container without forward has no graph
        return []
    found: dict[int, tuple[str, torch.Tensor]] = {}
    for kind in _GRAPH_CONV_OPS:
        for node in graph.findAllNodes(kind, True):
            source = node.inputsAt(1).node()
            if source.kind() != "prim::Constant":
                continue
            tensor = source.output().toIValue()
            if isinstance(tensor, torch.Tensor) and tensor.dim() in CONV_RANKS:
                name = source.output().debugName().removeprefix("self.")
                found.setdefault(id(tensor), (name, tensor))
    return list(found.values())


def walk_modules(root: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Yield (path, module) like `root.named_modules()`, in the same order, without recursion.

    `named_modules` recurses and fails near a depth of 1,000; this walk has no depth limit.
    """
    seen: set[int] = set()
    stack = [("", root)]
    while stack:
        path, module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        yield path, module
        prefix = f"{path}." if path else ""
        stack.extend(
            (prefix + name, child)
            for name, child in reversed(module._modules.items())
            if child is not None
        )


def layout_of(tensor: torch.Tensor) -> torch.memory_format:
    """The memory format kernels pick for this tensor, decided from its strides as c10 does.

    A 1x1 or depthwise weight is `is_contiguous` in both formats, yet convolution kernels
    read the strides of its size-1 dims (c10's `suggest_memory_format`): this answers that.
    """
    order = _CHANNELS_LAST_ORDER.get(tensor.dim())
    if order is None or tensor.layout != torch.strided:
        return torch.contiguous_format
    sizes, strides = tensor.shape, tensor.stride()
    if strides[1] == 0:
        return torch.contiguous_format
    smallest = 0
    for dim in order:
        if sizes[dim] == 0 or strides[dim] < smallest:
            return torch.contiguous_format
        # N111-like tensors whose strides fit both formats count as contiguous, as in c10.
        if dim == 0 and smallest == strides[1]:
            return torch.contiguous_format
        smallest = strides[dim] * max(sizes[dim], 1)
    return CHANNELS_LAST_BY_RANK[tensor.dim()]


def in_layout(tensor: torch.Tensor, memory_format: torch.memory_format) -> bool:
    """Whether the tensor is in `memory_format` as a kernel sees it.

    A weight such as a depthwise 1x1 `(C, 1, 1, 1)` has one possible set of strides: it is
    in every layout (c10 calls it contiguous, and the kernel follows the input).
    """
    if layout_of(tensor) == memory_format:
        return True
    return tensor.dim() in _CHANNELS_LAST_ORDER and has_one_layout(tuple(tensor.shape))


def has_one_layout(shape: tuple[int, ...]) -> bool:
    """Whether a weight of this shape has the same strides in every layout of its rank."""
    channels_last = CHANNELS_LAST_BY_RANK[len(shape)]
    return target_strides(shape, channels_last) == target_strides(shape, torch.contiguous_format)


@functools.lru_cache(maxsize=4096)
def target_strides(shape: tuple[int, ...], memory_format: torch.memory_format) -> tuple[int, ...]:
    """The strides `torch.empty(shape, memory_format=memory_format)` would have.

    Cached: a model repeats a few weight shapes, and this runs once per conv on every call.
    """
    if memory_format == torch.contiguous_format:
        strides, step = [], 1
        for size in reversed(shape):
            strides.append(step)
            step *= max(size, 1)
        return tuple(reversed(strides))
    strides = [0] * len(shape)
    step = 1
    for dim in _CHANNELS_LAST_ORDER[len(shape)]:
        strides[dim] = step
        step *= shape[dim]
    return tuple(strides)


def conv_weight(module: nn.Module) -> torch.Tensor:
    """The weight the module's next forward will use.

    A parametrized weight is computed with its parametrizations in eval mode (spectral norm
    would otherwise run a power iteration); a hook-based `weight_norm`/`spectral_norm` weight
    is recomputed by its hook now, as the next forward will, so a stale `.weight` cannot pass.
    """
    if parametrize.is_parametrized(module, "weight"):
        with torch.no_grad(), eval_mode(module.parametrizations["weight"]):
            return module.weight
    hooks = weight_hooks(module)
    if hooks:
        with eval_mode(module, recurse=False):
            for hook in hooks:
                hook(module, ())
    return module.weight


def weight_kind(module: nn.Module) -> str:
    """What computes a computed weight, for messages: `parametrization _WeightNorm`."""
    if parametrize.is_parametrized(module, "weight"):
        names = ", ".join(type(p).__name__ for p in module.parametrizations["weight"])
        return f"parametrization {names}"
    return f"hook {', '.join(type(hook).__name__ for hook in weight_hooks(module))}"


def weight_hooks(module: nn.Module) -> list[WeightNorm | SpectralNorm]:
    return [
        hook
        for hook in module._forward_pre_hooks.values()
        if isinstance(hook, (WeightNorm, SpectralNorm)) and hook.name == "weight"
    ]


def _weight_sources(module: nn.Module, rank: int) -> tuple[torch.Tensor, ...] | None:
    """The tensors a computed weight is built from, or None for a stored weight."""
    if parametrize.is_parametrized(module, "weight"):
        originals = module.parametrizations["weight"]
        tensors = [*originals._parameters.values(), *originals._buffers.values()]
    elif weight_hooks(module):
        tensors = [
            tensor
            for name, tensor in [*module._parameters.items(), *module._buffers.items()]
            if name.startswith("weight_")
        ]
    else:
        return None
    return tuple(tensor for tensor in tensors if tensor is not None and tensor.dim() == rank)


@contextlib.contextmanager
def eval_mode(module: nn.Module, recurse: bool = True) -> Iterator[None]:
    """Temporarily set `training = False` on a module (and, by default, its children)."""
    modules = [m for _, m in walk_modules(module)] if recurse else [module]
    modes = [(m, m.training) for m in modules]
    for m in modules:
        m.training = False
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode
