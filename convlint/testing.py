"""An assertion for users' own test suites: `assert_conv_weights_in(model, torch.channels_last)`."""

from __future__ import annotations

import torch
from torch import nn

from convlint.convs import CHANNELS_LAST_BY_RANK, CONV_RANKS, FORMAT_NAMES, MEMORY_FORMATS
from convlint.inspection import inspect_conv_weights
from convlint.verdicts import Status


def _checked_ranks(fmt: torch.memory_format) -> tuple[int, ...]:
    """The conv weight ranks a format applies to: its own rank, or every rank for contiguous."""
    if fmt == torch.contiguous_format:
        return CONV_RANKS
    return tuple(rank for rank, layout in CHANNELS_LAST_BY_RANK.items() if layout == fmt)


def _not_a_module(value: object) -> str:
    what = type(value)
    name = f"{what.__module__}.{what.__qualname__}" if what.__module__ != "builtins" else what.__qualname__
    if isinstance(value, torch.Tensor):
        return (f"assert_conv_weights_in() checks the conv weights of an nn.Module, not a tensor "
                f"(got a {name} of shape {tuple(value.shape)}); check a tensor's layout with "
                "tensor.is_contiguous(memory_format=...)")
    return f"assert_conv_weights_in() checks the conv weights of an nn.Module, not a {name}"


def assert_conv_weights_in(
    model: nn.Module, memory_format: torch.memory_format | str = torch.channels_last
) -> None:
    """Raise AssertionError listing every conv weight that is not in `memory_format`.

    `channels_last` checks the 4-D conv weights, `channels_last_3d` the 5-D ones,
    `contiguous_format` both. Layouts are read from strides, as kernels read them, and a
    computed weight (parametrized, weight_norm hook) is checked as the next forward will
    compute it. Weights that cannot be converted (quantized; weight_norm, whose output is
    always contiguous) and lazy weights not materialized yet do not fail the assertion:
    `convlint verify` lists them.

    Raises TypeError for anything that is not an `nn.Module` (a tensor's layout is
    `tensor.is_contiguous(memory_format=...)`), ValueError for a format it cannot check.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's source
    if not isinstance(model, nn.Module):
        raise TypeError(_not_a_module(model))
    fmt = MEMORY_FORMATS.get(memory_format, memory_format) if isinstance(memory_format, str) else memory_format
    ranks = _checked_ranks(fmt) if fmt in FORMAT_NAMES else ()
    if not ranks:
        raise ValueError(f"cannot check conv weights for memory_format {memory_format!r}")
    rows = inspect_conv_weights(model, dict.fromkeys(ranks, fmt))
    rows = [row for row in rows if row.status.is_conv]
    offending = [row for row in rows if row.status is Status.NOT_CONVERTED]
    if not offending:
        return
    name = FORMAT_NAMES[fmt]
    lines = [f"{len(offending)} of {len(rows)} conv weights are not in {name}:"]
    lines += [
        f"  {row.module or '(root)'} ({row.type}): shape {row.shape}, strides {row.strides}"
        + (f"; {row.note}" if row.note else "")
        for row in offending
    ]
    lines.append(f"convert them with convlint.runtime.convert_conv_weights(model, {name!r})")
    raise AssertionError("\n".join(lines))
