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
        net = model.to(memory_format=torch.channels_last if flag else None)
    """
    assert applicability(tmp_path, source) == ["unsafe"]
    # Under `if flag:` the converter does not run on the off path: a safe fix.
    assert applicability(tmp_path, source.replace("net =", "model =")) == ["safe"]
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


GUARDED = """\
import torch
from torch import nn


def build():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 1))


def assign(model, flag):
    model = model.to(memory_format=torch.channels_last if flag else None)
    return model


def bare(model, flag):
    model.to(memory_format=None if not flag else torch.channels_last)  # NHWC
    return model


def preserve(model, flag):
    model = model.to(memory_format=torch.channels_last if flag and model.training else torch.preserve_format)
    return model


def fresh(flag):
    model = build()
    model = model.to(memory_format=torch.channels_last if flag else None)
    return model
"""


def _layout(model) -> list:
    return [(name, tuple(p.shape), p.stride(), p.data_ptr()) for name, p in model.named_parameters()]


@pytest.mark.parametrize("already_channels_last", [False, True])
def test_a_conditional_format_fixed_under_an_if_converts_and_keeps_what_to_did(tmp_path, already_channels_last):
    """`x = x.to(memory_format=F if C else None)` (or preserve_format, or a bare call) becomes
    `if C:` over the converter: run on a model, the fixed code returns the same module with
    every parameter laid out as the original left it, on both paths, from a contiguous and a
    channels-last start; it is a safe fix where the receiver is known to be a module."""
    (tmp_path / "prog.py").write_text(GUARDED)
    run_cli(["fix", "--isolated", "--write", "--unsafe-fixes", "prog.py"], tmp_path)
    fixed = (tmp_path / "prog.py").read_text()
    assert ".to(memory_format" not in fixed and fixed.count("if ") == 4 and "# NHWC" in fixed
    programs = {}
    for name, text in (("original", GUARDED), ("fixed", fixed)):
        programs[name] = {}
        exec(compile(text, name, "exec"), programs[name])
    for function in ("assign", "bare", "preserve", "fresh"):
        for flag in (False, True):
            results = []
            for name in ("original", "fixed"):
                program = programs[name]
                torch.manual_seed(0)
                model = program["build"]()
                if already_channels_last:
                    model = torch_convert(model, CL)
                before = _layout(model)
                out = program[function](flag) if function == "fresh" else program[function](model, flag)
                if function != "fresh":
                    assert out is model
                results.append([entry[:3] for entry in _layout(out)])
                if not flag and function != "fresh":
                    assert _layout(out) == before  # the off path copies nothing
            assert results[0] == results[1], (function, flag)
            weights = [torch.empty_strided(shape, stride) for _, shape, stride in results[1]
                       if len(shape) == 4 and shape[2] > 1]  # (a 1x1 kernel is in every layout)
            converted = flag or (already_channels_last and function != "fresh")
            assert all(is_cl(w) == converted for w in weights), (function, flag)
    assert applicability(tmp_path, "import torch, torch.nn as nn\nflag = True\n"
                         "model = nn.Sequential(nn.Conv2d(3, 8, 3))\n"
                         "model = model.to(memory_format=torch.channels_last if flag else None)\n") == ["safe"]


RANK_MISMATCH = """\
import torch
from torch import nn


class Net2d(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 3))


def convert():
    m2d = Net2d()
    m2d = torch.nn.utils.convert_conv2d_weight_memory_format(m2d, torch.channels_last_3d)
    return m2d
"""


def test_a_rank_mismatch_on_a_module_of_known_rank_is_fixed_in_the_format(tmp_path):
    """CL103 on a module whose convs are all Conv2d: as written the call raises; the 3-D
    converter (renaming the function) would do nothing; the safe fix takes the 2-D format,
    and the fixed code converts every conv weight."""
    namespace: dict = {}
    exec(compile(RANK_MISMATCH, "original", "exec"), namespace)
    with pytest.raises(RuntimeError, match="rank 5"):
        namespace["convert"]()
    renamed = nn.utils.convert_conv3d_weight_memory_format(namespace["Net2d"](), torch.channels_last_3d)
    assert not any(is_cl(m.weight) for m in renamed.modules() if isinstance(m, nn.Conv2d))
    (tmp_path / "prog.py").write_text(RANK_MISMATCH)
    run_cli(["fix", "--isolated", "--write", "prog.py"], tmp_path)
    fixed = (tmp_path / "prog.py").read_text()
    assert fixed == RANK_MISMATCH.replace("torch.channels_last_3d", "torch.channels_last")
    exec(compile(fixed, "fixed", "exec"), namespace)
    converted = namespace["convert"]()
    convs = [m for m in converted.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 and all(is_cl(m.weight) for m in convs)
