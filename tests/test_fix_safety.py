"""What a safe fix must mean, measured with torch: for each context where torch's targeted
converter does less than (or costs more than) `Module.to(memory_format=...)`, the torch run
shows the difference, and convlint gives no safe fix to torch's converter there."""

from __future__ import annotations

import json
import textwrap

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
from torch.nn.utils import convert_conv2d_weight_memory_format as torch_convert  # noqa: E402

from tests.fixture_cases import run_cli  # noqa: E402

CL = torch.channels_last


def applicability(tmp_path, source: str, *flags: str) -> list:
    """convlint's verdict on each CL101 of `source`: the fix's applicability, or None."""
    (tmp_path / "prog.py").write_text(textwrap.dedent(source))
    result = run_cli(["check", "--isolated", "--output-format", "json", *flags, "prog.py"], tmp_path)
    return [(d["fix"] or {}).get("applicability") for d in json.loads(result.stdout) if d["code"] == "CL101"]


def is_cl(tensor) -> bool:
    return tensor.is_contiguous(memory_format=CL) and not tensor.is_contiguous()


def test_torchscript_modules_are_converted_by_to_but_not_by_torchs_converter(tmp_path):
    scripted = torch.jit.script(nn.Sequential(nn.Conv2d(3, 8, 3)))
    torch_convert(scripted, CL)
    assert not is_cl(scripted[0].weight)
    scripted.to(memory_format=CL)
    assert is_cl(scripted[0].weight)
    source = """
        import torch, torch.nn as nn
        m = torch.jit.script(nn.Sequential(nn.Conv2d(3, 8, 3)))
        m = m.to(memory_format=torch.channels_last)
    """
    assert applicability(tmp_path, source) == [None]  # no fix to torch's converter
    assert applicability(tmp_path, source, "--fix-target", "convlint") == ["safe"]


def test_parametrized_convs_are_left_by_torchs_converter(tmp_path):
    def model():
        return nn.Sequential(nn.utils.parametrizations.spectral_norm(nn.Conv2d(3, 8, 3)))

    converted = torch_convert(model(), CL)
    assert not is_cl(converted[0].parametrizations.weight.original)
    moved = model().to(memory_format=CL)
    assert is_cl(moved[0].parametrizations.weight.original)
    source = """
        import torch, torch.nn as nn
        class D(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(3, 8, 3))
        d = D().to(memory_format=torch.channels_last)
    """
    assert applicability(tmp_path, source) == ["unsafe"]
    assert applicability(tmp_path, source, "--fix-target", "convlint") == ["safe"]


def test_parametrizations_applied_in_place_make_the_fix_unsafe(tmp_path):
    """`spectral_norm(net[0])` changes a module that already exists: no class body shows it."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3))
    nn.utils.parametrizations.spectral_norm(net[0])
    torch_convert(net, CL)
    assert not is_cl(net[0].parametrizations.weight.original)
    header = "import torch, torch.nn as nn\nfrom torch.nn.utils import weight_norm\n"
    in_place = header + textwrap.dedent("""
        n = nn.Sequential(nn.Conv2d(3, 8, 3))
        nn.utils.parametrizations.spectral_norm(n[0])
        n.to(memory_format=torch.channels_last)
    """)
    in_a_factory = header + textwrap.dedent("""
        def build():
            m = nn.Sequential(nn.Conv2d(3, 8, 3))
            weight_norm(m[0])
            return m
        build().to(memory_format=torch.channels_last)
    """)
    in_a_helper = header + textwrap.dedent("""
        def add_norm(model):
            weight_norm(model[0])
        n = nn.Sequential(nn.Conv2d(3, 8, 3))
        add_norm(n)
        n.to(memory_format=torch.channels_last)
    """)
    plain = header + textwrap.dedent("""
        n = nn.Sequential(nn.Conv2d(3, 8, 3))
        n.to(memory_format=torch.channels_last)
    """)
    for source in (in_place, in_a_factory, in_a_helper):
        assert applicability(tmp_path, source) == ["unsafe"], source
        assert applicability(tmp_path, source, "--fix-target", "convlint") == ["safe"], source
    assert applicability(tmp_path, plain) == ["safe"]


def test_lazy_convs_cannot_be_converted_by_torchs_converter_before_a_forward(tmp_path):
    with pytest.raises(ValueError, match="uninitialized parameter"):
        torch_convert(nn.Sequential(nn.LazyConv2d(8, 3)), CL)
    source = """
        import torch, torch.nn as nn
        m = nn.Sequential(nn.LazyConv2d(8, 3)).to(memory_format=torch.channels_last)
    """
    assert applicability(tmp_path, source) == ["unsafe"]


def test_in_a_loop_torchs_converter_copies_every_weight_each_time(tmp_path):
    converted = torch_convert(nn.Sequential(nn.Conv2d(3, 8, 3)), CL)
    before = converted[0].weight.data_ptr()
    torch_convert(converted, CL)
    assert converted[0].weight.data_ptr() != before  # a copy, every call
    moved = nn.Sequential(nn.Conv2d(3, 8, 3)).to(memory_format=CL)
    before = moved[0].weight.data_ptr()
    moved.to(memory_format=CL)
    assert moved[0].weight.data_ptr() == before  # nothing once converted
    source = """
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Conv2d(3, 8, 3))
        for batch in batches:
            model = model.to(memory_format=torch.channels_last)
            model(batch)
    """
    assert applicability(tmp_path, source) == ["unsafe"]


def test_the_off_path_of_a_format_that_may_be_none_copies_with_torchs_converter(tmp_path):
    converted = nn.Sequential(nn.Conv2d(3, 8, 3))
    before = converted[0].weight.data_ptr()
    torch_convert(converted, None)
    assert converted[0].weight.data_ptr() != before
    moved = nn.Sequential(nn.Conv2d(3, 8, 3))
    before = moved[0].weight.data_ptr()
    moved.to(memory_format=None)
    assert moved[0].weight.data_ptr() == before
    source = """
        import torch, timm
        model = timm.create_model("resnet50")
        model = model.to(memory_format=torch.channels_last if flag else None)
    """
    assert applicability(tmp_path, source) == ["unsafe"]
    # convlint's converter copies nothing for None, but the conditional is not the literal:
    # unsafe for that target too, and the message says why
    assert applicability(tmp_path, source, "--fix-target", "convlint") == ["unsafe"]
    result = run_cli(["check", "--isolated", "--output-format", "json", "--fix-target", "convlint", "prog.py"], tmp_path)
    assert "is not written `torch.channels_last` but computed" in json.loads(result.stdout)[0]["message"]


def test_a_plain_module_gets_a_safe_fix_that_converts_the_same_conv_weights(tmp_path):
    """The control: where nothing above applies, the fix is safe, and torch's converter
    leaves every conv weight as `.to()` does."""
    def model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 1))

    converted, moved = torch_convert(model(), CL), model().to(memory_format=CL)
    for a, b in zip(converted.modules(), moved.modules()):
        if isinstance(a, nn.Conv2d):
            assert a.weight.stride() == b.weight.stride()
    source = """
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 1))
        model = model.to(memory_format=torch.channels_last)
    """
    assert applicability(tmp_path, source) == ["safe"]


def test_convolutions_of_a_projects_own_are_converted_by_to_only(tmp_path):
    """A module with its own 4-D weight used through F.conv2d (PhysicsNeMo's Conv2d): `.to()`
    restrides it, neither converter does; an nn.Conv2d subclass that does the same in its
    forward is converted by both."""
    from convlint.runtime import convert_conv_weights

    class OwnConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(8, 3, 3, 3))

        def forward(self, x):
            return nn.functional.conv2d(x, self.weight)

    class Standardized(nn.Conv2d):
        def forward(self, x):
            return nn.functional.conv2d(x, self.weight - self.weight.mean(), self.bias)

    assert is_cl(OwnConv().to(memory_format=CL).weight)
    assert not is_cl(torch_convert(OwnConv(), CL).weight)
    assert not is_cl(convert_conv_weights(OwnConv(), CL).weight)
    assert is_cl(torch_convert(Standardized(3, 8, 3), CL).weight)
    source = """
        import torch, torch.nn as nn, torch.nn.functional as F
        class OwnConv(nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = nn.Parameter(torch.randn(8, 3, 3, 3))
            def forward(self, x):
                return F.conv2d(x, self.weight)
        class Standardized(nn.Conv2d):
            def forward(self, x):
                return F.conv2d(x, self.weight - self.weight.mean(), self.bias)
        class A(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = OwnConv()
        class B(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = Standardized(3, 8, 3)
        a = A().to(memory_format=torch.channels_last)
        b = B().to(memory_format=torch.channels_last)
    """
    assert applicability(tmp_path, source) == ["unsafe", "safe"]
    assert applicability(tmp_path, source, "--fix-target", "convlint") == ["unsafe", "safe"]
