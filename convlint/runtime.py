"""Converts convolution weights to channels_last (4-D) or channels_last_3d (5-D) in place.

The targeted converter that convlint's fixes call: a drop-in for torch.nn.utils'
`convert_conv2d_weight_memory_format` / `convert_conv3d_weight_memory_format` that walks the
model without recursion, converts each module once, never copies a weight that already has
the target strides, converts parametrized, lazy and TorchScript weights (scripted, traced,
loaded, and the constants of frozen graphs) where the conversion lasts, and reports (or warns
about) whatever it cannot convert instead of skipping it silently.
"""

from __future__ import annotations

import enum
import sys
import warnings
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import torch
from torch import nn

from convlint.convs import (
    CHANNELS_LAST_BY_RANK,
    CONV_RANKS,
    FORMAT_NAMES,
    MEMORY_FORMATS,
    ConvKind,
    classify_conv,
    conv_weight,
    graph_conv_constants,
    in_layout,
    layout_of,
    target_strides,
    type_name,
    walk_modules,
    weight_kind,
)

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

# What PyTorch's converter accepts besides a layout: it clones with the format, and a clone
# with None or preserve_format keeps the layout. The drop-ins leave every weight as it is.
_KEEP_FORMATS = (None, torch.preserve_format, "preserve_format")
_KEEP = object()  # the format value of a conversion that leaves weights as they are
_STORED = ConvKind.STORED

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


class Outcome(enum.Enum):
    """Which list of the report a weight lands in."""

    CONVERTED = "converted"
    ALREADY_IN_PLACE = "already_in_place"
    SKIPPED = "skipped"
    DEFERRED = "deferred"


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


def convert_conv2d_weight_memory_format(module: M, memory_format: torch.memory_format | None) -> M:
    """Drop-in for `torch.nn.utils.convert_conv2d_weight_memory_format`: 4-D conv weights.

    Accepts what PyTorch's accepts: channels_last, contiguous_format, and None or
    preserve_format (every weight stays as it is). Returns the module. Weights it cannot
    convert are named in a `ConversionWarning`.
    """
    return _convert_and_warn(module, {4: _format_for_rank(memory_format, 4)})


def convert_conv3d_weight_memory_format(module: M, memory_format: torch.memory_format | None) -> M:
    """Drop-in for `torch.nn.utils.convert_conv3d_weight_memory_format`: 5-D conv weights.

    Accepts channels_last_3d, contiguous_format, and None or preserve_format (every weight
    stays as it is). Returns the module. Weights it cannot convert are named in a
    `ConversionWarning`.
    """
    return _convert_and_warn(module, {5: _format_for_rank(memory_format, 5)})


def convert_conv_weights(
    module: M, memory_format: torch.memory_format | str | None = "channels_last"
) -> M:
    """Convert every conv weight by its rank: 4-D to channels_last, 5-D to channels_last_3d.

    `memory_format` is `channels_last` or `channels_last_3d` (the same request: the channels-
    last layout of each weight's rank), `contiguous_format` (convert back), or None /
    `preserve_format` (leave each weight as it is), as a `torch.memory_format` or its name.
    Returns the module; weights it cannot convert are named in a `ConversionWarning`.
    `convert_and_report` returns the full report instead.
    """
    return _convert_and_warn(module, _formats_by_rank(memory_format, ranks=CONV_RANKS))


def convert_and_report(
    module: nn.Module,
    memory_format: torch.memory_format | str | None = "channels_last",
    *,
    ranks: Iterable[int] = CONV_RANKS,
) -> ConversionReport:
    """Convert like `convert_conv_weights`, limited to conv weights of `ranks`; return the report.

    Nothing is skipped silently: each conv weight of a targeted rank lands in the report as
    converted, already in place, skipped (with the reason) or deferred (lazy).
    """
    report = _convert(module, _formats_by_rank(memory_format, ranks=tuple(ranks)))
    _warn(report.warnings)
    return report


def _formats_by_rank(memory_format: object, ranks: tuple[int, ...]) -> dict[int, object]:
    if any(rank not in CHANNELS_LAST_BY_RANK for rank in ranks):
        raise ValueError(f"ranks must be among {CONV_RANKS}, got {ranks}")
    if memory_format in _KEEP_FORMATS:
        return dict.fromkeys(ranks, _KEEP)
    fmt = _named_format(memory_format)
    if fmt == torch.contiguous_format:
        return dict.fromkeys(ranks, fmt)
    if fmt not in CHANNELS_LAST_BY_RANK.values():
        raise _refused(memory_format, (*CHANNELS_LAST_BY_RANK.values(), torch.contiguous_format))
    return {rank: CHANNELS_LAST_BY_RANK[rank] for rank in ranks}


def _format_for_rank(memory_format: object, rank: int) -> object:
    if memory_format in _KEEP_FORMATS:
        return _KEEP
    fmt = _named_format(memory_format)
    allowed = (CHANNELS_LAST_BY_RANK[rank], torch.contiguous_format)
    if fmt not in allowed:
        raise _refused(memory_format, allowed)
    return fmt


def _named_format(memory_format: object) -> object:
    try:
        return MEMORY_FORMATS.get(memory_format, memory_format)
    except TypeError:  # unhashable
        return memory_format


def _refused(memory_format: object, allowed: tuple[torch.memory_format, ...]) -> ValueError:
    names = ", ".join(FORMAT_NAMES[option] for option in allowed)
    return ValueError(
        f"memory_format must be one of {names}, preserve_format or None, got {memory_format!r}"
    )


def _convert_and_warn(module: M, formats: dict[int, object]) -> M:
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


def _convert(module: nn.Module, formats: dict[int, object]) -> ConversionReport:
    report = ConversionReport()
    lists = {outcome: getattr(report, outcome.value) for outcome in Outcome}
    compiled = []
    for path, child in walk_modules(module):
        if _is_compiled(child):
            compiled.append(path or "(root)")
        converted = _convert_module(path, child, formats)
        if converted is not None:
            lists[converted[0]].append(converted[1])
        if isinstance(child, torch.jit.ScriptModule):
            for outcome, record in _convert_graph_constants(path, child, formats):
                lists[outcome].append(record)
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
    path: str, module: nn.Module, formats: dict[int, object]
) -> tuple[Outcome, WeightRecord] | None:
    """Convert one module's conv weight: where it landed, or None for no conv of the ranks."""
    conv = classify_conv(module)
    if conv is None or conv.rank not in formats:
        return None
    fmt = formats[conv.rank]
    if fmt is _KEEP:
        shape = conv.weight.shape if conv.weight is not None else ()
        return Outcome.ALREADY_IN_PLACE, _record(path, module, shape, "left as it is (preserve_format)")
    if conv.kind is _STORED:  # the common case first: models of 5,000 convs call this per conv
        return _restride_record(path, module, conv.weight, fmt, "stored weight")
    if conv.kind is ConvKind.QUANTIZED:
        reason = "quantized: the quantized engine packs its weight in its own layout"
        return Outcome.SKIPPED, _record(path, module, conv.weight.shape, reason)
    if conv.kind is ConvKind.LAZY:
        _convert_when_materialized(path, module, formats)
        reason = "lazy: a forward pre-hook converts it once its first forward materializes it"
        return Outcome.DEFERRED, _record(path, module, (), reason)
    # The weight is computed from other tensors on every access or forward: convert those
    # and check that the computed weight comes out in the target layout.
    results = [_restride(source, fmt) for source in conv.sources]
    copied = sum(result or 0 for result in results)
    weight = conv_weight(module)
    if not in_layout(weight, fmt):
        reason = _unconvertible_reason(module, weight, fmt)
        return Outcome.SKIPPED, _record(path, module, weight.shape, reason, copied)
    if any(result is not None for result in results):
        detail = f"computed by {weight_kind(module)}; its sources converted"
        return Outcome.CONVERTED, _record(path, module, weight.shape, detail, copied)
    return Outcome.ALREADY_IN_PLACE, _record(path, module, weight.shape, f"computed by {weight_kind(module)}")


def _convert_graph_constants(
    path: str, module: torch.jit.ScriptModule, formats: dict[int, object]
) -> list[tuple[Outcome, WeightRecord]]:
    """The conv weights `torch.jit.freeze` folded into the graph: restrided in place, which
    the graph sees, since it holds the same tensor."""
    prefix = f"{path}." if path else ""
    records = []
    for name, tensor in graph_conv_constants(module):
        fmt = formats.get(tensor.dim())
        if fmt is None:
            continue
        record_path = prefix + name
        if fmt is _KEEP:
            records.append((Outcome.ALREADY_IN_PLACE, WeightRecord(
                record_path, "graph constant", tuple(tensor.shape), "left as it is (preserve_format)")))
            continue
        outcome, record = _restride_record(record_path, module, tensor, fmt, "frozen graph constant")
        records.append((outcome, record._replace(module_type="graph constant")))
    return records


def _restride_record(
    path: str, module: nn.Module, weight: torch.Tensor, fmt: torch.memory_format, kept: str
) -> tuple[Outcome, WeightRecord]:
    copied = _restride(weight, fmt)
    if copied is None:
        return Outcome.ALREADY_IN_PLACE, _record(path, module, weight.shape, kept)
    how = "copied" if copied else "restrided without a copy"
    return Outcome.CONVERTED, _record(path, module, weight.shape, how, copied)


def why_not_convertible(module: nn.Module, memory_format: torch.memory_format | str) -> str | None:
    """Why convlint cannot put this conv's computed weight in `memory_format`; None when it can
    or when the weight is not computed. Tries the conversion, then puts the sources back."""
    fmt = _named_format(memory_format)
    conv = classify_conv(module)
    if conv is None or conv.kind is not ConvKind.COMPUTED or not conv.sources:
        return None
    saved = [source.data for source in conv.sources]
    try:
        for source in conv.sources:
            _restride(source, fmt)
        weight = conv_weight(module)
        return None if in_layout(weight, fmt) else _unconvertible_reason(module, weight, fmt)
    finally:
        for source, data in zip(conv.sources, saved):
            source.data = data
        conv_weight(module)  # a hook-computed weight follows its restored sources again


def _unconvertible_reason(module: nn.Module, weight: torch.Tensor, fmt: torch.memory_format) -> str:
    return (
        f"{weight_kind(module)} computes the weight in {FORMAT_NAMES[layout_of(weight)]} "
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


def _convert_when_materialized(path: str, module: nn.Module, formats: dict[int, object]) -> None:
    previous = _PENDING_LAZY.pop(module, None)
    if previous is not None:
        previous.remove()

    def convert_on_first_forward(lazy: nn.Module, args: tuple) -> None:
        # Registered after LazyModuleMixin's own pre-hook, so the weight is materialized here.
        handle.remove()
        _PENDING_LAZY.pop(lazy, None)
        converted = _convert_module(path, lazy, formats)
        if converted is not None and converted[0] is Outcome.SKIPPED:
            _warn(_skip_messages([converted[1]]))

    handle = module.register_forward_pre_hook(convert_on_first_forward)
    _PENDING_LAZY[module] = handle


def _record(
    path: str, module: nn.Module, shape: tuple[int, ...], detail: str, bytes_copied: int = 0
) -> WeightRecord:
    return WeightRecord(path, type_name(module), tuple(shape), detail, bytes_copied)
