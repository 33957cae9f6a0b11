"""Converts convolution weights to channels_last (4-D) or channels_last_3d (5-D) in place.

The targeted converter that convlint's fixes call: a drop-in for torch.nn.utils'
`convert_conv2d_weight_memory_format` / `convert_conv3d_weight_memory_format` that walks the
model without recursion, converts each module once, never copies a weight that already has
the target strides, converts parametrized and lazy weights where the conversion lasts, and
reports (or warns about) whatever it cannot convert instead of skipping it silently.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import torch
from torch import nn
from torch.ao.nn.quantized.modules.conv import _ConvNd as _QuantizedConvNd
from torch.nn.modules.conv import _ConvNd
from torch.nn.parameter import is_lazy
from torch.nn.utils import parametrize
from torch.nn.utils.spectral_norm import SpectralNorm
from torch.nn.utils.weight_norm import WeightNorm

__all__ = [
    "ConversionReport",
    "ConversionWarning",
    "WeightRecord",
    "conv_weight",
    "convert_and_report",
    "convert_conv2d_weight_memory_format",
    "convert_conv3d_weight_memory_format",
    "convert_conv_weights",
    "layout_of",
    "walk_modules",
    "why_not_convertible",
]

M = TypeVar("M", bound=nn.Module)

MEMORY_FORMATS = {
    "channels_last": torch.channels_last,
    "channels_last_3d": torch.channels_last_3d,
    "contiguous_format": torch.contiguous_format,
}
FORMAT_NAMES = {fmt: name for name, fmt in MEMORY_FORMATS.items()}

# The order in which c10 walks dimensions, innermost first, to decide channels-last strides.
_CHANNELS_LAST_ORDER = {4: (1, 3, 2, 0), 5: (1, 4, 3, 2, 0)}

# Lazy convs waiting for their first forward, with the hook that will convert them; a second
# conversion call before that replaces the hook instead of stacking another one.
_PENDING_LAZY: weakref.WeakKeyDictionary[nn.Module, torch.utils.hooks.RemovableHandle] = (
    weakref.WeakKeyDictionary()
)


class ConversionWarning(UserWarning):
    """A conv weight was left as it was, or a compiled module will recompile."""


class WeightRecord(NamedTuple):
    """One conv weight the converter looked at (a tuple: cheap on models with many convs)."""

    path: str  # the module's path as `named_modules` gives it; "" is the root
    module_type: str
    shape: tuple[int, ...]
    detail: str  # how it was converted, or why it was skipped or deferred
    bytes_copied: int = 0


@dataclass
class ConversionReport:
    """What one conversion did: every conv weight of a targeted rank is in exactly one list.

    A computed weight (parametrized or hook-based) is converted through the tensors it is
    computed from; when the computation still yields another layout it is skipped, and its
    sources stay converted (harmless, and a second call then has nothing to copy).
    """

    converted: list[WeightRecord] = field(default_factory=list)
    already_in_place: list[WeightRecord] = field(default_factory=list)
    skipped: list[WeightRecord] = field(default_factory=list)
    # lazy convs: a forward pre-hook converts them once their first forward materializes them
    deferred: list[WeightRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def bytes_copied(self) -> int:
        return sum(record.bytes_copied for record in self.converted)

    def summary(self) -> str:
        copied = sum(record.bytes_copied > 0 for record in self.converted)
        return (
            f"{len(self.converted)} converted ({copied} copied, {self.bytes_copied:,} bytes), "
            f"{len(self.already_in_place)} already in place, {len(self.skipped)} skipped, "
            f"{len(self.deferred)} deferred to first forward"
        )


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
    return torch.channels_last if tensor.dim() == 4 else torch.channels_last_3d


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
        with torch.no_grad(), _eval_mode(module.parametrizations["weight"]):
            return module.weight
    hooks = _weight_hooks(module)
    if hooks:
        with _eval_mode(module, recurse=False):
            for hook in hooks:
                hook(module, ())
    return module.weight


def convert_conv2d_weight_memory_format(module: M, memory_format: torch.memory_format) -> M:
    """Drop-in for `torch.nn.utils.convert_conv2d_weight_memory_format`: 4-D conv weights.

    Returns the module. Weights it cannot convert are named in a `ConversionWarning`.
    """
    fmt = _memory_format(memory_format, allowed=(torch.channels_last, torch.contiguous_format))
    return _convert_and_warn(module, {4: fmt})


def convert_conv3d_weight_memory_format(module: M, memory_format: torch.memory_format) -> M:
    """Drop-in for `torch.nn.utils.convert_conv3d_weight_memory_format`: 5-D conv weights.

    Returns the module. Weights it cannot convert are named in a `ConversionWarning`.
    """
    fmt = _memory_format(
        memory_format, allowed=(torch.channels_last_3d, torch.contiguous_format)
    )
    return _convert_and_warn(module, {5: fmt})


def convert_conv_weights(
    module: M, memory_format: torch.memory_format | str = "channels_last"
) -> M:
    """Convert every conv weight by its rank: 4-D to channels_last, 5-D to channels_last_3d.

    `memory_format` is `channels_last` or `channels_last_3d` (the same request: the channels-
    last layout of each weight's rank) or `contiguous_format` (convert back), as a
    `torch.memory_format` or its name. Returns the module; weights it cannot convert are
    named in a `ConversionWarning`. `convert_and_report` returns the full report instead.
    """
    return _convert_and_warn(module, _formats_by_rank(memory_format, ranks=(4, 5)))


def convert_and_report(
    module: nn.Module,
    memory_format: torch.memory_format | str = "channels_last",
    *,
    ranks: Iterable[int] = (4, 5),
) -> ConversionReport:
    """Convert like `convert_conv_weights`, limited to conv weights of `ranks`; return the report.

    Nothing is skipped silently: each conv weight of a targeted rank lands in the report as
    converted, already in place, skipped (with the reason) or deferred (lazy).
    """
    report = _convert(module, _formats_by_rank(memory_format, ranks=tuple(ranks)))
    _warn(report.warnings)
    return report


def _formats_by_rank(
    memory_format: torch.memory_format | str, ranks: tuple[int, ...]
) -> dict[int, torch.memory_format]:
    fmt = _memory_format(memory_format, allowed=tuple(MEMORY_FORMATS.values()))
    if any(rank not in _CHANNELS_LAST_ORDER for rank in ranks):
        raise ValueError(f"ranks must be 4 and/or 5, got {ranks}")
    if fmt == torch.contiguous_format:
        return {rank: fmt for rank in ranks}
    family = {4: torch.channels_last, 5: torch.channels_last_3d}
    return {rank: family[rank] for rank in ranks}


def _memory_format(
    memory_format: torch.memory_format | str, allowed: tuple[torch.memory_format, ...]
) -> torch.memory_format:
    fmt = MEMORY_FORMATS.get(memory_format, memory_format)
    if fmt not in allowed:
        names = ", ".join(FORMAT_NAMES[option] for option in allowed)
        raise ValueError(f"memory_format must be one of {names}, got {memory_format!r}")
    return fmt


def _convert_and_warn(module: M, formats: dict[int, torch.memory_format]) -> M:
    report = _convert(module, formats)
    _warn(report.warnings + _skip_messages(report.skipped), stacklevel=4)
    return module


def _skip_messages(skipped: list[WeightRecord]) -> list[str]:
    if not skipped:
        return []
    listed = "; ".join(
        f"{record.path or '(root)'} ({record.module_type}): {record.detail}" for record in skipped
    )
    return [f"convlint: {len(skipped)} conv weight(s) left as they were: {listed}"]


def _warn(messages: list[str], stacklevel: int = 3) -> None:
    """Warn from the caller of the public function (stacklevel counts the frames between)."""
    for message in messages:
        warnings.warn(message, ConversionWarning, stacklevel=stacklevel)


def _convert(module: nn.Module, formats: dict[int, torch.memory_format]) -> ConversionReport:
    report = ConversionReport()
    compiled = []
    for path, child in walk_modules(module):
        if _is_compiled(child):
            compiled.append(path or "(root)")
        _convert_module(path, child, formats, report)
    if compiled and report.converted:
        # Dynamo guards on parameter strides: a compiled module that was already called
        # recompiles on its next call; only a conversion before the first call is free.
        report.warnings.append(
            f"convlint: {', '.join(compiled)} is wrapped by torch.compile; weight strides "
            "changed, so its next call recompiles"
        )
    return report


def _is_compiled(module: nn.Module) -> bool:
    # Only a module built by torch.compile can be an OptimizedModule, so when dynamo was
    # never imported there is nothing to find (and importing it here would cost seconds).
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")
    if eval_frame is not None and isinstance(module, eval_frame.OptimizedModule):
        return True
    return module.__dict__.get("_compiled_call_impl") is not None  # nn.Module.compile()


def _convert_module(
    path: str, module: nn.Module, formats: dict[int, torch.memory_format], report: ConversionReport
) -> None:
    if not isinstance(module, _ConvNd):
        if isinstance(module, _QuantizedConvNd):
            weight = module.weight()  # unpacks the packed weight: once
            if weight.dim() in formats:
                reason = "quantized: the quantized engine packs its weight in its own layout"
                report.skipped.append(_record(path, module, weight.shape, reason))
        return
    fmt = formats.get(len(module.kernel_size) + 2)
    if fmt is None:
        return
    # Parametrizations and weight_norm/spectral_norm hooks take `weight` out of _parameters,
    # so a weight found there is stored: the common case, kept cheap for models of 5,000 convs.
    weight = module._parameters.get("weight")
    if weight is not None and is_lazy(weight):
        _convert_when_materialized(path, module, formats)
        reason = "lazy: a forward pre-hook converts it once its first forward materializes it"
        report.deferred.append(_record(path, module, (), reason))
        return
    sources = None if weight is not None else _weight_sources(module)
    if sources is None:
        if weight is None:  # a plain tensor attribute or buffer stands in for the Parameter
            weight = module.weight
        copied = _restride(weight, fmt)
        if copied is None:
            report.already_in_place.append(_record(path, module, weight.shape, "stored weight"))
        else:
            how = "copied" if copied else "restrided without a copy"
            report.converted.append(_record(path, module, weight.shape, how, copied))
        return
    # The weight is computed from other tensors on every access or forward: convert those
    # and check that the computed weight comes out in the target layout.
    results = [_restride(source, fmt) for source in sources]
    copied = sum(result or 0 for result in results)
    weight = conv_weight(module)
    if layout_of(weight) != fmt:
        reason = _unconvertible_reason(module, weight, fmt)
        report.skipped.append(_record(path, module, weight.shape, reason, copied))
    elif any(result is not None for result in results):
        detail = f"computed by {_weight_kind(module)}; its sources converted"
        report.converted.append(_record(path, module, weight.shape, detail, copied))
    else:
        detail = f"computed by {_weight_kind(module)}"
        report.already_in_place.append(_record(path, module, weight.shape, detail))


def why_not_convertible(module: nn.Module, memory_format: torch.memory_format | str) -> str | None:
    """Why convlint cannot put this conv's computed weight in `memory_format`; None when it can
    or when the weight is stored. Tries the conversion, then puts the sources back."""
    fmt = _memory_format(memory_format, allowed=tuple(MEMORY_FORMATS.values()))
    sources = _weight_sources(module) if "weight" not in module._parameters else None
    if not sources:
        return None
    saved = [source.data for source in sources]
    try:
        for source in sources:
            _restride(source, fmt)
        weight = conv_weight(module)
        return None if layout_of(weight) == fmt else _unconvertible_reason(module, weight, fmt)
    finally:
        for source, data in zip(sources, saved):
            source.data = data
        conv_weight(module)  # a hook-computed weight follows its restored sources again


def _unconvertible_reason(module: nn.Module, weight: torch.Tensor, fmt: torch.memory_format) -> str:
    return (
        f"{_weight_kind(module)} computes the weight in {FORMAT_NAMES[layout_of(weight)]} "
        f"even from {FORMAT_NAMES[fmt]} sources, so no stored tensor can hold the layout"
    )


def _restride(tensor: torch.Tensor, fmt: torch.memory_format) -> int | None:
    """Put `tensor` in the canonical strides of `fmt` in place: the bytes copied (0 when
    restriding sufficed), or None when it was already there.

    The tensor object stays the same (Parameter identity, requires_grad, ties and optimizer
    references survive); only its `.data` changes, as in PyTorch's converter.
    """
    shape = tensor.shape
    strides = target_strides(shape, fmt)
    if tensor.stride() == strides or tensor.numel() == 0:
        return None
    data = tensor.detach()
    if data.is_contiguous(memory_format=fmt):
        # Same memory order (only size-1 dims disagree): new strides over the same storage.
        tensor.data = data.as_strided(shape, strides, data.storage_offset())
        return 0
    converted = data.clone(memory_format=fmt)
    tensor.data = converted
    return converted.numel() * converted.element_size()


def _weight_sources(module: nn.Module) -> list[torch.Tensor] | None:
    """The tensors a computed weight is built from, or None for a stored weight."""
    if parametrize.is_parametrized(module, "weight"):
        originals = module.parametrizations["weight"]
        tensors = [*originals._parameters.values(), *originals._buffers.values()]
    elif _weight_hooks(module):
        tensors = [
            tensor
            for name, tensor in [*module._parameters.items(), *module._buffers.items()]
            if name.startswith("weight_")
        ]
    else:
        return None
    rank = len(module.kernel_size) + 2
    return [tensor for tensor in tensors if tensor is not None and tensor.dim() == rank]


def _weight_hooks(module: nn.Module) -> list[WeightNorm | SpectralNorm]:
    return [
        hook
        for hook in module._forward_pre_hooks.values()
        if isinstance(hook, (WeightNorm, SpectralNorm)) and hook.name == "weight"
    ]


def _weight_kind(module: nn.Module) -> str:
    if parametrize.is_parametrized(module, "weight"):
        names = ", ".join(type(p).__name__ for p in module.parametrizations["weight"])
        return f"parametrization {names}"
    return f"hook {', '.join(type(hook).__name__ for hook in _weight_hooks(module))}"


def _convert_when_materialized(path: str, module: nn.Module, formats: dict[int, torch.memory_format]) -> None:
    previous = _PENDING_LAZY.pop(module, None)
    if previous is not None:
        previous.remove()

    def convert_on_first_forward(lazy: nn.Module, args: tuple) -> None:
        # Registered after LazyModuleMixin's own pre-hook, so the weight is materialized here.
        handle.remove()
        _PENDING_LAZY.pop(lazy, None)
        report = ConversionReport()
        _convert_module(path, lazy, formats, report)
        _warn(_skip_messages(report.skipped))

    handle = module.register_forward_pre_hook(convert_on_first_forward)
    _PENDING_LAZY[module] = handle


@contextlib.contextmanager
def _eval_mode(module: nn.Module, recurse: bool = True) -> Iterator[None]:
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


def _record(
    path: str, module: nn.Module, shape: tuple[int, ...], detail: str, bytes_copied: int = 0
) -> WeightRecord:
    return WeightRecord(path, type(module).__name__, tuple(shape), detail, bytes_copied)

