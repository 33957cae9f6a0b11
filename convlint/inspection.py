"""Inspects a model's conv weights: the layout each one is stored in, the layout each conv
kernel receives during a forward pass, and what `model.to(memory_format=...)` restrides.

Library code for `convlint verify` and `convlint.testing`: it returns rows and changes and
prints nothing. Conv modules are told apart by `convlint.convs.classify_conv`, as the
runtime converter tells them apart.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import nn
from torch.nn.parameter import is_lazy
from torch.utils._python_dispatch import TorchDispatchMode

from convlint.convs import (
    CHANNELS_LAST_BY_RANK,
    FORMAT_NAMES,
    ConvKind,
    classify_conv,
    conv_weight,
    graph_conv_constants,
    has_one_layout,
    in_layout,
    layout_of,
    stored_tensor,
    type_name,
    walk_modules,
)
from convlint.runtime import why_not_convertible
from convlint.verdicts import LayoutChange, Status, WeightRow, WholeModelTo, one_line

# The aten ops a conv kernel is reached through: F.conv* and the conv modules dispatch to
# `convolution`; traced TorchScript graphs call `_convolution`.
_CONVOLUTION_OPS = (torch.ops.aten.convolution.default, torch.ops.aten._convolution.default)
ONE_LAYOUT_NOTE = "one possible set of strides: in every layout"


def inspect_conv_weights(
    model: nn.Module,
    formats: Mapping[int, torch.memory_format],
    baseline: Mapping[str, str] | None = None,
) -> list[WeightRow]:
    """One row per module holding a weight of a rank in `formats`, with its status.

    `formats` maps a weight rank (4, 5) to the memory format expected for it. A non-conv
    module's weight is `not a conv (left as is)` unless its layout differs from `baseline`
    (layout names by tensor name, as `tensor_layouts` gives them; contiguous where absent).
    The constants of a frozen TorchScript graph get a row each, typed `graph constant`.
    """
    rows = []
    for path, module in walk_modules(model):
        conv = classify_conv(module)
        if conv is not None:
            if conv.rank in formats:
                rows.append(_conv_row(path, module, conv, formats[conv.rank]))
        else:
            weight = stored_tensor(module, "weight")
            # An unmaterialized LazyLinear has no rank yet: it is no conv and has no layout.
            if weight is not None and not is_lazy(weight) and weight.dim() in formats:
                name = f"{path}.weight" if path else "weight"
                before = (baseline or {}).get(name, "contiguous_format")
                changed = FORMAT_NAMES[layout_of(weight)] != before
                status = Status.NOT_A_CONV_CHANGED if changed else Status.NOT_A_CONV
                rows.append(_row(path, type_name(module), weight, None, status,
                                 "convlint converts only convs", tensor=name))
        prefix = f"{path}." if path else ""
        for name, constant in graph_conv_constants(module):
            fmt = formats.get(constant.dim())
            if fmt is not None:
                rows.append(_stored_row(prefix + name, "graph constant", constant, fmt,
                                        "frozen graph constant"))
    return rows


def _conv_row(path: str, module: nn.Module, conv, fmt: torch.memory_format) -> WeightRow:
    module_type = type_name(module)
    if conv.kind is ConvKind.QUANTIZED:
        return _row(path, module_type, conv.weight, fmt, Status.QUANTIZED,
                    "its weight is packed by the quantized engine")
    if conv.kind is ConvKind.LAZY:
        return WeightRow(path, module_type, (), (), FORMAT_NAMES[fmt], Status.LAZY,
                         "not materialized: pass --input-shape or --inputs to run it once")
    if conv.kind is ConvKind.STORED:
        note = "TorchScript" if conv.scripted else ""
        return _stored_row(path, module_type, conv.weight, fmt, note, tensor=_weight_name(path))
    weight = conv_weight(module)
    if in_layout(weight, fmt):
        return _row(path, module_type, weight, fmt, Status.OK, "computed weight")
    reason = why_not_convertible(module, fmt)
    if reason is None:
        return _row(path, module_type, weight, fmt, Status.NOT_CONVERTED,
                    "computed weight: convlint converts it through its sources")
    return _row(path, module_type, weight, fmt, Status.PARAMETRIZED, reason)


def _stored_row(path: str, module_type: str, weight: torch.Tensor, fmt: torch.memory_format,
                note: str, tensor: str = "") -> WeightRow:
    if layout_of(weight) == fmt:
        return _row(path, module_type, weight, fmt, Status.OK, note, tensor)
    if has_one_layout(tuple(weight.shape)):
        return _row(path, module_type, weight, fmt, Status.OK, _join(note, ONE_LAYOUT_NOTE), tensor)
    return _row(path, module_type, weight, fmt, Status.NOT_CONVERTED, note, tensor)


def _row(path: str, module_type: str, weight: torch.Tensor, fmt: torch.memory_format | None,
         status: Status, note: str = "", tensor: str = "") -> WeightRow:
    expected = FORMAT_NAMES[fmt] if fmt is not None else "-"
    return WeightRow(path, module_type, tuple(weight.shape), tuple(weight.stride()), expected,
                     status, note, tensor=tensor)


def _weight_name(path: str) -> str:
    return f"{path}.weight" if path else "weight"


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def tensor_layouts(model: nn.Module) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], str]]:
    """Shape, strides and layout of every 4-D/5-D parameter and buffer outside the convs.

    Conv weights and the tensors they are computed from (parametrization originals,
    weight_norm's weight_v) are the rows' business, not this list's.
    """
    layouts = {}
    inside_convs: set[int] = set()
    for path, module in walk_modules(model):
        if id(module) in inside_convs:
            continue
        if classify_conv(module) is not None:
            inside_convs.update(id(child) for _, child in walk_modules(module))
            continue
        for name, tensor in [*module._parameters.items(), *module._buffers.items()]:
            if tensor is not None and not is_lazy(tensor) and tensor.dim() in CHANNELS_LAST_BY_RANK:
                key = f"{path}.{name}" if path else name
                layouts[key] = (tuple(tensor.shape), tuple(tensor.stride()),
                                FORMAT_NAMES[layout_of(tensor)])
    return layouts


def changed_tensors(model: nn.Module, baseline: Mapping[str, str] | None,
                    skip: frozenset[str] = frozenset()) -> list[LayoutChange]:
    """The non-conv 4-D/5-D tensors whose layout differs from `baseline` (layout names by
    tensor name; contiguous where absent), except the names in `skip`."""
    changes = []
    for name, (shape, strides, layout) in tensor_layouts(model).items():
        before = (baseline or {}).get(name, "contiguous_format")
        if name not in skip and layout != before:
            changes.append(LayoutChange(name, shape, strides, before, layout))
    return changes


def whole_model_to(model: nn.Module, memory_format: torch.memory_format
                   ) -> tuple[WholeModelTo, nn.Module | None]:
    """What `model.to(memory_format=...)` would do, measured on a deep copy: the non-conv
    tensors it restrides, or that it raises. Returns the evidence and the converted copy
    (None when it could not be made), so that a forward can measure its outputs too."""
    name = FORMAT_NAMES[memory_format]
    try:
        duplicate = copy.deepcopy(model)
    except Exception as exc:
        return WholeModelTo(name, error=f"cannot copy the model: {one_line(exc)}", copied=False), None
    before = {key: layout for key, (_, _, layout) in tensor_layouts(duplicate).items()}
    try:
        duplicate.to(memory_format=memory_format)
    except Exception as exc:
        return WholeModelTo(name, error=one_line(exc)), None
    rows = inspect_conv_weights(duplicate, {memory_format_rank(memory_format): memory_format})
    missed = [row.module for row in rows if row.status is Status.NOT_CONVERTED]
    return WholeModelTo(name, restrided=changed_tensors(duplicate, before), missed=missed), duplicate


def memory_format_rank(memory_format: torch.memory_format) -> int:
    return next(rank for rank, fmt in CHANNELS_LAST_BY_RANK.items() if fmt == memory_format)


class KernelLayouts(TorchDispatchMode):
    """Records, during a forward pass, the layout of the weight each conv kernel receives,
    and which module it belongs to.

    A kernel call is matched to a row by its weight (the stored tensor: scripted and eager
    modules alike), else to the innermost running eager module that has a row (a module
    that computes its weight in forward, e.g. weight standardization).
    """

    def __init__(self, model: nn.Module, rows: list[WeightRow],
                 formats: Mapping[int, torch.memory_format]) -> None:
        super().__init__()
        self._formats = formats
        self._by_weight: dict[tuple[int, tuple[int, ...]], str] = {}
        self._by_module: dict[int, str] = {}
        paths = {row.module for row in rows}
        for path, module in walk_modules(model):
            if path not in paths:
                continue
            self._by_module[id(module)] = path
            weight = stored_tensor(module, "weight")
            if weight is not None and not is_lazy(weight):
                self._by_weight[(weight.data_ptr(), tuple(weight.shape))] = path
            for name, constant in graph_conv_constants(module):
                prefix = f"{path}." if path else ""
                self._by_weight[(constant.data_ptr(), tuple(constant.shape))] = prefix + name
        for _, module in walk_modules(model):  # graph constants of unlisted (root) modules
            for name, constant in graph_conv_constants(module):
                self._by_weight.setdefault((constant.data_ptr(), tuple(constant.shape)), name)
        self._running: list[int] = []
        self.calls: dict[str, list[str]] = collections.defaultdict(list)
        self.unmatched: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in _CONVOLUTION_OPS:
            self._record(args[1])
        return func(*args, **(kwargs or {}))

    def _record(self, weight: torch.Tensor) -> None:
        fmt = self._formats.get(weight.dim())
        if fmt is None:
            return
        layout = FORMAT_NAMES[fmt] if in_layout(weight, fmt) else FORMAT_NAMES[layout_of(weight)]
        path = self._by_weight.get((weight.data_ptr(), tuple(weight.shape)))
        if path is None:
            path = next((self._by_module[m] for m in reversed(self._running) if m in self._by_module), None)
        if path is None:
            self.unmatched.append(layout)
        else:
            self.calls[path].append(layout)

    @contextlib.contextmanager
    def record_modules(self) -> Iterator[None]:
        """Global module hooks that keep the stack of running eager modules."""
        def enter(module: nn.Module, args: object) -> None:
            self._running.append(id(module))

        def leave(module: nn.Module, args: object, output: object) -> None:
            if self._running and self._running[-1] == id(module):
                self._running.pop()

        pre = torch.nn.modules.module.register_module_forward_pre_hook(enter)
        post = torch.nn.modules.module.register_module_forward_hook(leave)
        try:
            with self:
                yield
        finally:
            pre.remove()
            post.remove()
            self._running.clear()


def record_kernel_layouts(model: nn.Module, rows: list[WeightRow],
                          formats: Mapping[int, torch.memory_format],
                          forward: Callable[[], object]) -> tuple[object, KernelLayouts]:
    """Run `forward()` while recording what each conv kernel receives; its output and the record."""
    recorder = KernelLayouts(model, rows, formats)
    with recorder.record_modules():
        output = forward()
    return output, recorder


def with_kernel_layouts(rows: list[WeightRow], recorder: KernelLayouts) -> list[WeightRow]:
    """The rows with the kernel column filled in; a weight stored in the layout whose kernel
    received another is `computed contiguous at run time`."""
    result = []
    for row in rows:
        layouts = recorder.calls.get(row.module)
        if not layouts:
            # a non-conv module's weight that no conv kernel read is no kernel's business
            result.append(_replace(row, kernel="not called" if row.status.is_conv else "-"))
            continue
        kernel = ", ".join(dict.fromkeys(layouts))
        if row.status is Status.OK and any(layout != row.expected for layout in layouts):
            note = _join(row.note, f"the forward computes the weight: its kernel received {kernel}")
            result.append(_replace(row, kernel=kernel, status=Status.COMPUTED_AT_RUN_TIME, note=note))
        else:
            result.append(_replace(row, kernel=kernel))
    return result


def _replace(row: WeightRow, **changes: object) -> WeightRow:
    return dataclasses.replace(row, **changes)
