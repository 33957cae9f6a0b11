"""convlint.runtime on TorchScript modules: scripted, traced, frozen and loaded, each converted
where `Module.to(memory_format=...)` converts them and torch.nn.utils' converter does not."""

from __future__ import annotations

import io
import warnings

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from convlint.runtime import convert_and_report, convert_conv_weights, layout_of

CL = torch.channels_last
X = torch.randn(1, 3, 8, 8)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated


def eager() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 3, groups=8)
    ).eval()


def scripted() -> torch.jit.ScriptModule:
    return torch.jit.script(eager())


def traced() -> torch.jit.ScriptModule:
    return torch.jit.trace(eager(), X)


def frozen() -> torch.jit.ScriptModule:
    return torch.jit.freeze(torch.jit.script(eager()))


def loaded() -> torch.jit.ScriptModule:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(eager()), buffer)
    buffer.seek(0)
    return torch.jit.load(buffer)


class KernelWeights(TorchDispatchMode):
    """Records the layout of the weight each convolution kernel receives."""

    def __init__(self) -> None:
        super().__init__()
        self.layouts: list[torch.memory_format] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in (torch.ops.aten.convolution.default, torch.ops.aten._convolution.default):
            self.layouts.append(layout_of(args[1]))
        return func(*args, **(kwargs or {}))


def kernel_layouts(module: nn.Module) -> list[torch.memory_format]:
    with torch.no_grad(), KernelWeights() as recorder:
        module(X)
    return recorder.layouts


@pytest.mark.parametrize("build", [scripted, traced, frozen, loaded])
def test_pytorchs_converter_leaves_a_torchscript_module_as_it_was(build):
    module = build()
    torch.nn.utils.convert_conv2d_weight_memory_format(module, CL)
    layouts = kernel_layouts(module)
    assert len(layouts) == 3 and CL not in layouts


@pytest.mark.parametrize("build", [scripted, traced, loaded])
def test_torchscript_conv_weights_are_converted_and_the_kernels_receive_them(build):
    module = build()
    with torch.no_grad():
        before = module(X)

    report = convert_and_report(module)

    assert [record.path for record in report.converted] == ["0", "3", "4"]
    assert {record.module_type for record in report.converted} == {"Conv2d"}
    assert report.skipped == []
    assert kernel_layouts(module) == [CL, CL, CL]
    with torch.no_grad():
        torch.testing.assert_close(module(X), before)
    assert convert_and_report(module).converted == []  # a second call copies nothing


def test_a_frozen_modules_graph_constants_are_restrided_in_place():
    module = frozen()
    with torch.no_grad():
        before = module(X)
    assert list(module.parameters()) == []  # freeze folded them into the graph

    report = convert_and_report(module)

    # named as the graph names them; freeze folded the batch norm into the first conv
    assert [(r.path, r.module_type) for r in report.converted] == [
        ("0.weight_fused_bn", "graph constant"), ("3.weight", "graph constant"),
        ("4.weight", "graph constant"),
    ]
    assert kernel_layouts(module) == [CL, CL, CL]
    with torch.no_grad():
        torch.testing.assert_close(module(X), before)


def test_a_torchscript_module_converts_back_and_warns_about_nothing():
    module = scripted()
    convert_conv_weights(module)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convert_conv_weights(module, "contiguous_format")
    layouts = kernel_layouts(module)
    assert len(layouts) == 3 and CL not in layouts
