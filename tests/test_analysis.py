"""The analysis (convlint.analysis): module / likely module / tensor / unknown for receivers,
formats through data flow, with the reason; flow-sensitivity, narrowing, call sites,
attributes, library facts and the project across files."""

from __future__ import annotations

import ast
import os
import textwrap
from pathlib import Path

import pytest

from convlint.analysis import Receiver, analyze, index as index_module
from convlint.analysis.facts.names import is_module_like_name
from convlint.analysis.index import FileIndex, UnhandledNode
from convlint.analysis.project import forget_projects


def _site(analysis, marker: str, method: str = "to"):
    text = analysis.index.text
    row = next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)
    for site in analysis.calls:
        func = site.node.func
        if site.node.lineno == row and isinstance(func, ast.Attribute) and func.attr == method:
            return site
    raise AssertionError(f"no .{method}() call on line {row}")


def analysis_of(source: str, path: str = "<source>"):
    forget_projects()
    source = textwrap.dedent(source)
    return analyze(path, source, ast.parse(source))


def infer_receiver(source: str, marker: str = "TARGET", path: str = "<source>"):
    """The verdict on the receiver of the `.to(...)` call on the line that holds `marker`."""
    analysis = analysis_of(source, path)
    site = _site(analysis, marker)
    return analysis.receiver(site.node.func.value, site.scope)


def formats_of(source: str, marker: str = "TARGET") -> set[str]:
    analysis = analysis_of(source)
    site = _site(analysis, marker)
    keyword = next(k for k in site.node.keywords if k.arg == "memory_format")
    return set(analysis.formats(keyword.value, site.scope).names)


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def infer_in_file(path: Path, marker: str = "TARGET"):
    forget_projects()
    text = path.read_text()
    analysis = analyze(str(path), text, ast.parse(text))
    site = _site(analysis, marker)
    return analysis.receiver(site.node.func.value, site.scope)


def infer_all_in_file(path: Path, marker: str = "TARGET") -> dict:
    """The verdict on the receiver of every marked `.to()`, by the receiver's name."""
    forget_projects()
    text = path.read_text()
    analysis = analyze(str(path), text, ast.parse(text))
    rows = {i for i, line in enumerate(text.splitlines(), 1) if marker in line}
    return {site.node.func.value.id: analysis.receiver(site.node.func.value, site.scope)
            for site in analysis.calls
            if site.node.lineno in rows and isinstance(site.node.func, ast.Attribute) and site.node.func.attr == "to"}


MODULE_CASES = {
    "torch.nn constructor via alias": """
        import torch.nn as tnn
        m = tnn.Conv2d(3, 8, 3)
        m.to()  # TARGET
    """,
    "from torch.nn import class": """
        from torch.nn import Sequential, Conv2d
        m = Sequential(Conv2d(3, 8, 3))
        m.to()  # TARGET
    """,
    "local subclass through two levels": """
        from torch import nn
        class A(nn.Module): pass
        class B(A): pass
        B().to()  # TARGET
    """,
    "self in a module method": """
        import torch
        class M(torch.nn.Module):
            def go(self):
                self.to()  # TARGET
    """,
    "self attribute assigned a module": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(2, 2)
            def go(self):
                self.enc.to()  # TARGET
    """,
    "self attribute unpacked from a tuple of modules": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.width = nn.Conv2d(1, 1, 1), 3
            def f(self):
                self.enc.to()  # TARGET
    """,
    "attribute of an instance of a local class": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(2, 2)
        m = M()
        m.enc.to()  # TARGET
    """,
    "module-returning method chain": """
        import torch.nn as nn
        m = nn.Linear(2, 2)
        m.cuda().half().eval().to()  # TARGET
    """,
    "annotated parameter": """
        from torch import nn
        def f(model: nn.Module):
            model.to()  # TARGET
    """,
    "Optional string annotation": """
        from typing import Optional
        import torch
        def f(x: Optional["torch.nn.Module"]):
            x.to()  # TARGET
    """,
    "timm factory": """
        import timm
        timm.create_model("resnet50").to()  # TARGET
    """,
    "torchvision builder": """
        from torchvision import models
        models.resnet50().to()  # TARGET
    """,
    "from_pretrained of a transformers model class": """
        from transformers import AutoModel
        AutoModel.from_pretrained("x").to()  # TARGET
    """,
    "diffusers model class": """
        from diffusers import UNet2DConditionModel
        unet = UNet2DConditionModel.from_pretrained("x")
        unet.to()  # TARGET
    """,
    "deepcopy of a module": """
        import copy, torch.nn as nn
        m = nn.Linear(2, 2)
        copy.deepcopy(m).to()  # TARGET
    """,
    "torch.compile of a module": """
        import torch
        m = torch.nn.Linear(2, 2)
        torch.compile(m).to()  # TARGET
    """,
    "self-referential rebinding": """
        import torch.nn as nn
        net = nn.Linear(2, 2)
        net = net.cuda()
        net = net.to()  # TARGET
    """,
    "None placeholder then module": """
        import torch.nn as nn
        head = None
        head = nn.Linear(2, 2)
        head.to()  # TARGET
    """,
    "function returning a module": """
        import torch.nn as nn
        def build():
            return nn.Sequential()
        thing = build()
        thing.to()  # TARGET
    """,
    "element of a Sequential": """
        import torch.nn as nn
        seq = nn.Sequential(nn.Linear(2, 2))
        seq[0].to()  # TARGET
    """,
    "element of a Sequential built in either branch": """
        import torch.nn as nn
        seq = nn.Sequential(nn.Linear(2, 2)) if flag else nn.Sequential(nn.ReLU())
        seq[0].to()  # TARGET
    """,
    "loop over modules()": """
        import torch.nn as nn
        seq = nn.Sequential(nn.Linear(2, 2))
        for sub in seq.modules():
            sub.to()  # TARGET
    """,
    "rebound through module transforms": """
        import torch, timm
        model = timm.create_model("x")
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = torch.jit.script(model)
        model.to()  # TARGET
    """,
    "unpacked from apex amp.initialize, optional import": """
        import torch.nn as nn
        try:
            from apex import amp
        except ImportError:
            amp = None
        model = nn.Conv2d(1, 1, 1)
        model, opt = amp.initialize(model, opt)
        model.to()  # TARGET
    """,
    "LightningModule subclass": """
        import pytorch_lightning as pl
        class L(pl.LightningModule):
            def x(self):
                self.to()  # TARGET
    """,
}


@pytest.mark.parametrize("source", MODULE_CASES.values(), ids=MODULE_CASES.keys())
def test_module_receivers(source):
    result = infer_receiver(source)
    assert result.kind is Receiver.MODULE, result.reason


TENSOR_CASES = {
    "torch factory": """
        import torch
        x = torch.randn(2, 3)
        x.to()  # TARGET
    """,
    "functional op": """
        import torch.nn.functional as F
        F.relu(y).to()  # TARGET
    """,
    "nn.Parameter": """
        import torch
        p = torch.nn.Parameter(torch.zeros(2))
        p.to()  # TARGET
    """,
    "output of calling a module": """
        import torch.nn as nn
        m = nn.Linear(2, 2)
        out = m(inp)
        out.to()  # TARGET
    """,
    "loop target over a loader": """
        for images, labels in train_loader:
            images.to()  # TARGET
    """,
    "Tensor annotation": """
        from torch import Tensor
        def f(x: Tensor):
            x.to()  # TARGET
    """,
    "registered buffer": """
        import torch
        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("mask", torch.ones(2))
            def f(self):
                self.mask.to()  # TARGET
    """,
    "weight of a module": """
        import torch.nn as nn
        conv = nn.Conv2d(3, 3, 1)
        conv.weight.to()  # TARGET
    """,
    "tensor method chain": """
        import torch
        torch.zeros(1).cuda().permute(0).to()  # TARGET
    """,
}


@pytest.mark.parametrize("source", TENSOR_CASES.values(), ids=TENSOR_CASES.keys())
def test_tensor_receivers(source):
    result = infer_receiver(source)
    assert result.kind is Receiver.TENSOR, result.reason


UNKNOWN_CASES = {
    "unbound plain name": "batch.to()  # TARGET",
    "subscript of unknown": "batch['x'].to()  # TARGET",
    "module and tensor bindings conflict": """
        import torch
        model = torch.nn.Linear(2, 2) if flag else torch.zeros(2)
        model.to()  # TARGET
    """,
    "instance of a plain class": """
        class Box:
            def to(self): return self
        Box().to()  # TARGET
    """,
    "self in a plain class": """
        class Box:
            def f(self):
                self.to()  # TARGET
    """,
    "self attribute rebound by unpacking": """
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self, x):
                super().__init__()
                self.head = nn.Conv2d(1, 1, 1)
                self.head, self.other = x, 1
            def f(self):
                self.head.to()  # TARGET
    """,
    "self attribute as a loop target": """
        import torch.nn as nn
        class M(nn.Module):
            def f(self, items):
                for self.item in items:
                    self.item.to()  # TARGET
    """,
    "function named like a model is not a model": """
        from factory import build_model
        build_model.to()  # TARGET
    """,
}


@pytest.mark.parametrize("source", UNKNOWN_CASES.values(), ids=UNKNOWN_CASES.keys())
def test_unknown_receivers(source):
    result = infer_receiver(source)
    assert result.kind is Receiver.UNKNOWN, result.reason


LIKELY_CASES = {
    "model from an unknown factory": """
        from project import build
        model = build()
        model.to()  # TARGET
    """,
    "unet attribute of a pipeline": """
        pipe = load()
        pipe.unet.to()  # TARGET
    """,
    "parameter named net": """
        def f(net):
            net.cuda().to()  # TARGET
    """,
}


@pytest.mark.parametrize("source", LIKELY_CASES.values(), ids=LIKELY_CASES.keys())
def test_likely_module_receivers(source):
    result = infer_receiver(source)
    assert result.kind is Receiver.LIKELY_MODULE, result.reason


def test_reason_names_the_binding_and_the_class():
    result = infer_receiver(
        """
        import torch.nn as nn
        class Net(nn.Module): pass
        model = Net()
        model.to()  # TARGET
        """
    )
    assert result.kind is Receiver.MODULE
    assert "`model` = `Net()` (line 4)" in result.reason
    assert "`Net` (line 3) subclasses torch.nn.Module" in result.reason


def test_tensor_reason_names_the_factory():
    result = infer_receiver(
        """
        import torch
        x = torch.ones(3)
        x.to()  # TARGET
        """
    )
    assert "torch.ones() returns a tensor" in result.reason


def test_long_chains_of_rebindings_are_followed_without_deep_recursion():
    source = "import torch.nn as nn\nm = nn.Linear(2, 2)\n" + "m = m.cuda()\n" * 5000 + "m.to()  # TARGET\n"
    assert infer_receiver(source).kind is Receiver.MODULE


@pytest.mark.parametrize("name", ["model", "net", "unet", "ema_model", "text_encoder", "backbone", "model2", "Model"])
def test_module_like_names(name):
    assert is_module_like_name(name)


@pytest.mark.parametrize("name", ["model_inputs", "model_output", "models_dir", "images", "inputs", "x", "modelx", "network_input",
                                  "build_model", "create_model", "convert_splitbn_model", "get_backbone", "load_unet"])
def test_names_that_are_not_module_like(name):
    assert not is_module_like_name(name)


# ------------------------------------------------------------------ flow-sensitivity

FLOW_CASES = {
    "self-referential rebinding to the weight": ("""
        import torch.nn as nn
        w = nn.Conv2d(3, 8, 3)
        w = w.weight
        w.to()  # TARGET
    """, Receiver.TENSOR),
    "the module called on its own name in a loop": ("""
        import torch.nn as nn
        m = nn.Conv2d(3, 3, 3)
        for x in xs:
            m = m(x)
            m.to()  # TARGET
    """, Receiver.UNKNOWN),
    "the use before the rebinding sees the module": ("""
        import torch.nn as nn
        m = nn.Conv2d(3, 3, 3)
        m.to()  # TARGET
        m = m.weight
    """, Receiver.MODULE),
    "a module on one path and a tensor on the other": ("""
        import torch
        if flag:
            m = torch.nn.Conv2d(3, 3, 3)
        else:
            m = torch.zeros(3)
        m.to()  # TARGET
    """, Receiver.UNKNOWN),
    "an early return leaves only the module path": ("""
        import torch
        def f(flag):
            m = torch.zeros(3)
            if flag:
                return
            m = torch.nn.Conv2d(3, 3, 3)
            m.to()  # TARGET
    """, Receiver.MODULE),
    "a nonlocal rebinding in a nested function": ("""
        import torch.nn as nn
        def outer():
            m = nn.Conv2d(3, 3, 3)
            def take_weight():
                nonlocal m
                m = m.weight
            take_weight()
            m.to()  # TARGET
    """, Receiver.UNKNOWN),
    "a global rebinding in a function": ("""
        import torch, torch.nn as nn
        m = nn.Conv2d(3, 3, 3)
        def reset():
            global m
            m = torch.zeros(1)
        m.to()  # TARGET
    """, Receiver.UNKNOWN),
    "del then rebinding": ("""
        import torch.nn as nn
        m = nn.Conv2d(3, 3, 3)
        del m
        m = nn.Linear(2, 2)
        m.to()  # TARGET
    """, Receiver.MODULE),
    "a handler sees what the try body bound": ("""
        import torch, torch.nn as nn
        m = nn.Conv2d(3, 3, 3)
        try:
            m = torch.zeros(1)
            risky()
        except ValueError:
            m.to()  # TARGET
    """, Receiver.UNKNOWN),
    "a while True loop exits only by break": ("""
        import torch.nn as nn
        while True:
            m = nn.Conv2d(3, 3, 3)
            break
        m.to()  # TARGET
    """, Receiver.MODULE),
    "a comprehension variable shadows nothing outside": ("""
        import torch, torch.nn as nn
        m = nn.Conv2d(3, 3, 3)
        outs = [m for m in torch.zeros(3, 3)]
        m.to()  # TARGET
    """, Receiver.MODULE),
    "an assignment expression in a comprehension binds outside": ("""
        import torch, torch.nn as nn
        m = nn.Conv2d(3, 3, 3)
        any((m := t) is None for t in [torch.zeros(1)])
        m.to()  # TARGET
    """, Receiver.UNKNOWN),
}


@pytest.mark.parametrize("source, expected", FLOW_CASES.values(), ids=FLOW_CASES.keys())
def test_flow_sensitive_bindings(source, expected):
    result = infer_receiver(source)
    assert result.kind is expected, result.reason


NARROWING_CASES = {
    "isinstance of nn.Module": """
        import torch.nn as nn
        def f(x):
            if isinstance(x, nn.Module):
                x.to()  # TARGET
    """,
    "isinstance with a tuple of module classes": """
        import torch.nn as nn
        def f(x):
            if isinstance(x, (nn.Conv2d, nn.Linear)):
                x.to()  # TARGET
    """,
    "a not-isinstance early return": """
        import torch.nn as nn
        def f(x):
            if not isinstance(x, nn.Module):
                raise TypeError(x)
            x.to()  # TARGET
    """,
    "an elif chain after a tensor test": """
        import torch, torch.nn as nn
        def f(x):
            if isinstance(x, torch.Tensor):
                pass
            elif isinstance(x, nn.Module):
                x.to()  # TARGET
    """,
    "a match class pattern": """
        import torch.nn as nn
        def f(x):
            match x:
                case nn.Module():
                    x.to()  # TARGET
    """,
    "a match capture with a class pattern": """
        import torch.nn as nn
        def f(x):
            match x:
                case nn.Conv2d() as conv:
                    conv.to()  # TARGET
    """,
    "assert isinstance": """
        import torch.nn as nn
        def f(x):
            assert isinstance(x, nn.Module)
            x.to()  # TARGET
    """,
}


@pytest.mark.parametrize("source", NARROWING_CASES.values(), ids=NARROWING_CASES.keys())
def test_narrowing_makes_a_module(source):
    result = infer_receiver(source)
    assert result.kind is Receiver.MODULE, result.reason
    assert "narrowed by" in result.reason or "matched by" in result.reason


@pytest.mark.parametrize("source", [
    """
    import torch
    def f(model):
        if isinstance(model, torch.Tensor):
            model.to()  # TARGET
    """,
    """
    import torch
    def f(model):
        match model:
            case torch.Tensor():
                model.to()  # TARGET
    """,
], ids=["isinstance Tensor beats the name", "match Tensor beats the name"])
def test_narrowing_to_a_tensor_beats_the_name(source):
    assert infer_receiver(source).kind is Receiver.TENSOR


def test_a_match_capture_of_a_tensor_is_a_tensor():
    source = """
        import torch, torch.nn as nn
        m = nn.Conv2d(3, 3, 3)
        match torch.zeros(1):
            case m:
                m.to()  # TARGET
    """
    assert infer_receiver(source).kind is Receiver.TENSOR


def test_a_narrowing_is_dropped_when_the_name_is_rebound():
    source = """
        import torch, torch.nn as nn
        def f(x):
            if isinstance(x, nn.Module):
                x = x(torch.zeros(1))
                x.to()  # TARGET
    """
    assert infer_receiver(source).kind is Receiver.TENSOR


# ------------------------------------------------------------------ call sites

def test_callers_passing_tensors_beat_a_model_like_name():
    source = """
        import torch
        def to_nhwc(module):
            return module.to(memory_format=torch.channels_last)  # TARGET
        to_nhwc(torch.zeros(1, 3, 8, 8))
        to_nhwc(images)
    """
    result = infer_receiver(source)
    assert result.kind is Receiver.UNKNOWN, result.reason


def test_every_caller_passing_a_tensor_makes_the_parameter_a_tensor():
    source = """
        import torch
        def prep(net):
            return net.to(memory_format=torch.channels_last)  # TARGET
        prep(torch.zeros(1, 3, 8, 8))
    """
    assert infer_receiver(source).kind is Receiver.TENSOR


def test_callers_passing_modules_make_the_parameter_a_module():
    source = """
        import timm, torch
        def prepare(x):
            return x.to(memory_format=torch.channels_last)  # TARGET
        prepare(timm.create_model("resnet50"))
    """
    result = infer_receiver(source)
    assert result.kind is Receiver.MODULE
    assert "what the callers of `prepare()` pass for `x`" in result.reason


def test_a_method_parameter_from_its_callers_in_the_class():
    source = """
        import torch.nn as nn
        class Runner:
            def convert(self, thing):
                thing.to()  # TARGET
            def go(self):
                self.convert(nn.Conv2d(1, 1, 1))
    """
    assert infer_receiver(source).kind is Receiver.MODULE


def test_a_lambda_bound_to_a_name_takes_its_callers_arguments():
    source = """
        import torch.nn as nn
        convert = lambda m: m.to()  # TARGET
        convert(nn.Conv2d(1, 1, 1))
    """
    assert infer_receiver(source).kind is Receiver.MODULE


def test_apply_callbacks_get_modules_and_repeat():
    source = """
        import torch, torch.nn as nn
        def nhwc(m):
            m.to(memory_format=torch.channels_last)  # TARGET
        model = nn.Sequential(nn.Conv2d(1, 1, 1))
        model.apply(nhwc)
    """
    analysis = analysis_of(source)
    site = _site(analysis, "TARGET")
    assert analysis.receiver(site.node.func.value, site.scope).kind is Receiver.MODULE
    assert "once per item" in analysis.repeats(site)


def test_map_callbacks_get_the_elements():
    source = """
        import torch, torch.nn as nn
        def nhwc(m):
            return m.to(memory_format=torch.channels_last)  # TARGET
        models = [nn.Conv2d(1, 1, 1), nn.Conv2d(2, 2, 1)]
        list(map(nhwc, models))
    """
    assert infer_receiver(source).kind is Receiver.MODULE


def test_a_function_called_from_a_loop_repeats():
    source = """
        import torch
        def step(model):
            model.to(memory_format=torch.channels_last)  # TARGET
        def train(model):
            for batch in loader:
                step(model)
    """
    analysis = analysis_of(source)
    site = _site(analysis, "TARGET")
    assert "is called in a loop" in analysis.repeats(site)


# ------------------------------------------------------------------ attributes

ATTRIBUTE_CASES = {
    "an attribute of a plain holder class": """
        import torch.nn as nn
        class Trainer:
            def __init__(self):
                self.net = nn.Sequential(nn.Conv2d(1, 1, 1))
        t = Trainer()
        t.net.to()  # TARGET
    """,
    "a dataclass field annotated with a module type": """
        from dataclasses import dataclass
        import torch.nn as nn
        @dataclass
        class State:
            model: nn.Module
            step: int = 0
        def f(state: State):
            state.model.to()  # TARGET
    """,
    "vgg.features": """
        import torchvision
        vgg = torchvision.models.vgg16()
        vgg.features.to()  # TARGET
    """,
    "a diffusers pipeline's safety checker": """
        from diffusers import StableDiffusionPipeline
        pipe = StableDiffusionPipeline.from_pretrained("x")
        pipe.safety_checker.to()  # TARGET
    """,
    "a timm EMA copy's module": """
        from timm.utils import ModelEmaV2
        ema = ModelEmaV2(model)
        ema.module.to()  # TARGET
    """,
    "an AveragedModel's module": """
        from torch.optim.swa_utils import AveragedModel
        swa = AveragedModel(net)
        swa.module.to()  # TARGET
    """,
    "accelerate's unwrap_model": """
        import torch.nn as nn
        from accelerate import Accelerator
        accelerator = Accelerator()
        m = accelerator.unwrap_model(nn.Conv2d(1, 1, 1))
        m.to()  # TARGET
    """,
    "accelerate's prepare, unpacked": """
        import torch.nn as nn
        from accelerate import Accelerator
        accelerator = Accelerator()
        m, opt = accelerator.prepare(nn.Conv2d(1, 1, 1), optimizer)
        m.to()  # TARGET
    """,
    "a DeepSpeed engine": """
        import deepspeed
        engine, optimizer, _, _ = deepspeed.initialize(model=model, model_parameters=params)
        engine.module.to()  # TARGET
    """,
    "getattr with the module as default": """
        import torch.nn as nn
        m = nn.Conv2d(1, 1, 1)
        inner = getattr(m, "module", m)
        inner.to()  # TARGET
    """,
    "ipex.optimize with an optimizer": """
        import torch.nn as nn
        import intel_extension_for_pytorch as ipex
        model, opt = ipex.optimize(nn.Conv2d(1, 1, 1), optimizer=opt)
        model.to()  # TARGET
    """,
    "a transformers pipeline's model": """
        from transformers import pipeline
        pipe = pipeline("image-classification")
        pipe.model.to()  # TARGET
    """,
    "FX graph mode quantization": """
        import torch.nn as nn
        from torch.ao.quantization.quantize_fx import prepare_fx, convert_fx
        prepared = prepare_fx(nn.Conv2d(1, 1, 1), qconfig, example)
        q = convert_fx(prepared)
        q.to()  # TARGET
    """,
    "an inherited attribute": """
        import torch.nn as nn
        class Base(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 1, 1)
        class Net(Base):
            pass
        Net().conv.to()  # TARGET
    """,
    "a property returning a module": """
        import torch.nn as nn
        class Holder:
            def __init__(self):
                self._net = nn.Conv2d(1, 1, 1)
            @property
            def net(self):
                return self._net
        Holder().net.to()  # TARGET
    """,
}


@pytest.mark.parametrize("source", ATTRIBUTE_CASES.values(), ids=ATTRIBUTE_CASES.keys())
def test_attributes_that_are_modules(source):
    result = infer_receiver(source)
    assert result.kind is Receiver.MODULE, result.reason


def test_torchscript_results_are_script_modules():
    source = """
        import torch, torch.nn as nn
        m = torch.jit.script(nn.Conv2d(1, 1, 1))
        m.to()  # TARGET
    """
    result = infer_receiver(source)
    assert result.kind is Receiver.MODULE and result.is_script


def test_a_scriptmodule_annotation_is_a_script_module():
    source = """
        import torch
        def f(m: torch.jit.ScriptModule):
            m.to()  # TARGET
    """
    assert infer_receiver(source).is_script


@pytest.mark.parametrize("body, hazard", [
    ("self.conv = nn.utils.spectral_norm(nn.Conv2d(1, 1, 1))", "parametrized"),
    ("self.conv = nn.utils.parametrizations.weight_norm(nn.Conv2d(1, 1, 1))", "parametrized"),
    ("self.conv = nn.LazyConv2d(8, 3)", "lazy"),
    ("self.block = Block()", "parametrized"),
], ids=["spectral_norm", "weight_norm", "lazy", "through a class it builds"])
def test_class_hazards(body, hazard):
    source = f"""
        import torch.nn as nn
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.utils.spectral_norm(nn.Conv2d(1, 1, 1))
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                {body}
        Net().to()  # TARGET
    """
    analysis = analysis_of(source)
    site = _site(analysis, "TARGET")
    result = analysis.receiver(site.node.func.value, site.scope)
    assert result.kind is Receiver.MODULE and hazard in analysis.hazards(result)


# ------------------------------------------------------------------ formats

FORMAT_CASES = {
    "a parameter's default and its callers": ("""
        import torch
        def convert(m, fmt=torch.contiguous_format):
            m.to(memory_format=fmt)  # TARGET
        convert(net, torch.channels_last)
        convert(net)
    """, {"channels_last", "contiguous_format"}),
    "an annotated parameter with no caller": ("""
        import torch
        def convert(m, fmt: torch.memory_format = torch.channels_last):
            m.to(memory_format=fmt)  # TARGET
    """, {"channels_last", "unknown"}),
    "a loop over formats": ("""
        import torch
        for fmt in [torch.channels_last, torch.contiguous_format]:
            m.to(memory_format=fmt)  # TARGET
    """, {"channels_last", "contiguous_format"}),
    "itertools.product of formats and dtypes": ("""
        import itertools, torch
        for fmt, dtype in itertools.product([torch.channels_last], [torch.half]):
            m.to(memory_format=fmt)  # TARGET
    """, {"channels_last"}),
    "getattr on torch": ("""
        import torch
        m.to(memory_format=getattr(torch, "channels_last"))  # TARGET
    """, {"channels_last"}),
    "torch.torch": ("""
        import torch
        m.to(memory_format=torch.torch.channels_last)  # TARGET
    """, {"channels_last"}),
    "a dataclass field's default": ("""
        from dataclasses import dataclass
        import torch
        @dataclass
        class Config:
            memory_format: torch.memory_format = torch.channels_last
        cfg = Config()
        m.to(memory_format=cfg.memory_format)  # TARGET
    """, {"channels_last"}),
    "a flag or None": ("""
        import torch
        fmt = torch.channels_last if args.channels_last else None
        m.to(memory_format=fmt)  # TARGET
    """, {"channels_last", "none"}),
}


@pytest.mark.parametrize("source, expected", FORMAT_CASES.values(), ids=FORMAT_CASES.keys())
def test_formats_through_data_flow(source, expected):
    assert formats_of(source) == expected


# ------------------------------------------------------------------ the project

def test_inherited_attributes_across_files(tmp_path):
    root = project(tmp_path, {
        "pyproject.toml": "",
        "models.py": """
            import torch.nn as nn
            class Base(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 8, 3)
            class Net(Base):
                pass
        """,
        "train.py": """
            import torch
            from models import Net
            m = Net()
            m.conv.to(memory_format=torch.channels_last)  # TARGET
        """,
    })
    assert infer_in_file(root / "train.py").kind is Receiver.MODULE


def test_results_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    root = project(tmp_path, {
        "proj/pyproject.toml": "",
        "proj/pkg/__init__.py": "from .nets import Net\n",
        "proj/pkg/nets.py": "import torch.nn as nn\nclass Net(nn.Module):\n    pass\n",
        "proj/scripts/train.py": "import torch\nfrom pkg import Net\nNet().to(memory_format=torch.channels_last)  # TARGET\n",
    })
    answers = []
    for cwd in (root / "proj", Path("/"), root / "proj" / "pkg"):
        monkeypatch.chdir(cwd)
        answers.append(infer_in_file(root / "proj" / "scripts" / "train.py").kind)
    assert answers == [Receiver.MODULE] * 3


def test_a_src_layout_and_a_scripts_sibling_module(tmp_path):
    root = project(tmp_path, {
        "pyproject.toml": "",
        "src/mypkg/__init__.py": "",
        "src/mypkg/arch.py": "import torch.nn as nn\ndef build():\n    return nn.Conv2d(1, 1, 1)\n",
        "tools/helpers.py": "import torch.nn as nn\nclass Head(nn.Module):\n    pass\n",
        "tools/run.py": """
            import torch
            from mypkg.arch import build
            from helpers import Head
            build().to(memory_format=torch.channels_last)  # A
            Head().to(memory_format=torch.channels_last)  # B
        """,
    })
    assert infer_in_file(root / "tools/run.py", "# A").kind is Receiver.MODULE
    assert infer_in_file(root / "tools/run.py", "# B").kind is Receiver.MODULE


# utils.nhwc(model), and a.py that imports it and passes a tensor.
A_CALLER_PASSES_A_TENSOR = {
    "pyproject.toml": "",
    "utils.py": """
        import torch
        def nhwc(model):
            return model.to(memory_format=torch.channels_last)  # TARGET
    """,
    "a.py": "import torch\nfrom utils import nhwc\nnhwc(torch.zeros(1, 3, 4, 4))\n",
}


def test_callers_in_other_files(tmp_path):
    root = project(tmp_path, A_CALLER_PASSES_A_TENSOR)
    assert infer_in_file(root / "utils.py").kind is Receiver.TENSOR


HELPERS = """
    import torch
    class Conv:
        def prep(self, net):
            return net.to(memory_format=torch.channels_last)  # TARGET
    def to_cl(module):
        return module.to(memory_format=torch.channels_last)  # TARGET
"""


@pytest.mark.parametrize("caller", [
    "from pkg.util import Conv\nConv().prep({arg})\n",
    "import pkg.util as u\nu.Conv().prep(net={arg})\n",
    "from pkg.util import to_cl as nhwc\nnhwc({arg})\n",
    "from pkg import util\nutil.to_cl({arg})\n",
], ids=["method", "method-of-module-alias", "aliased-function", "module-attribute"])
@pytest.mark.parametrize("arg, expected", [
    ("torch.zeros(1, 3, 4, 4)", Receiver.TENSOR),
    ("torch.nn.Conv2d(3, 8, 3)", Receiver.MODULE),
])
def test_callers_in_other_files_of_methods_and_aliases(tmp_path, caller, arg, expected):
    """A method's callers, and callers that import a function under another name, are
    callers too: a tensor they pass beats the parameter's model-like name."""
    root = project(tmp_path, {
        "pyproject.toml": "",
        "pkg/__init__.py": "",
        "pkg/util.py": HELPERS,
        "main.py": "import torch\n" + caller.format(arg=arg),
    })
    target = "net" if "prep" in caller else "module"
    verdicts = infer_all_in_file(root / "pkg" / "util.py")
    assert verdicts[target].kind is expected
    other = "module" if target == "net" else "net"
    assert verdicts[other].kind is Receiver.LIKELY_MODULE  # no caller: the name decides


def test_the_caller_search_reads_only_files_that_name_the_function_and_its_module(tmp_path):
    """A file whose text holds the function's name or its module's only inside longer
    identifiers (`_nhwc_all`, `utils_old`) cannot import or call it: it is not read."""
    from convlint.analysis.project import project_for

    root = project(tmp_path, {
        **A_CALLER_PASSES_A_TENSOR,
        "b.py": "from utils_old import _nhwc_all\n_nhwc_all(1)\n",
        "c.py": "import utils\nnhwc_ = utils\n",
        "d.py": "from utils import nhwc2\n",
    })
    assert infer_in_file(root / "utils.py").kind is Receiver.TENSOR
    read = {os.path.basename(p) for p in project_for(str(root / "utils.py")).consulted}
    assert "a.py" in read and not read & {"b.py", "c.py", "d.py"}


@pytest.mark.parametrize("files", [
    {  # defined in a package's __init__, called through a relative import
        "pkg/__init__.py": "import torch\ndef nhwc(model):\n    return model.to(memory_format=torch.channels_last)  # TARGET\n",
        "pkg/b.py": "import torch\nfrom . import nhwc\nnhwc(torch.zeros(1, 3, 4, 4))\n",
    },
    {  # re-exported by the package's __init__: the caller never names the module
        "pkg/__init__.py": "from .impl import nhwc\n",
        "pkg/impl.py": "import torch\ndef nhwc(model):\n    return model.to(memory_format=torch.channels_last)  # TARGET\n",
        "use.py": "import torch\nfrom pkg import nhwc\nnhwc(torch.zeros(1, 3, 4, 4))\n",
    },
    {  # a relative import from a sibling module
        "pkg/__init__.py": "",
        "pkg/impl.py": "import torch\ndef nhwc(model):\n    return model.to(memory_format=torch.channels_last)  # TARGET\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/use.py": "import torch\nfrom ..impl import nhwc as f\nf(torch.zeros(1, 3, 4, 4))\n",
    },
    {  # a relative import in brackets, over lines
        "pkg/__init__.py": "import torch\ndef nhwc(model):\n    return model.to(memory_format=torch.channels_last)  # TARGET\n",
        "pkg/b.py": "import torch\nfrom . import (\n    other,\n    nhwc,\n)\nnhwc(torch.zeros(1, 3, 4, 4))\n",
    },
], ids=["init-relative", "re-export", "parent-relative", "init-relative-brackets"])
def test_the_caller_search_finds_callers_that_do_not_name_the_module(tmp_path, files):
    """A caller that imports the function relatively, or through the package that
    re-exports it, passes a tensor: the parameter is a tensor, not a model by its name."""
    root = project(tmp_path, {"pyproject.toml": "", **files})
    target = next(path for path, text in files.items() if "# TARGET" in text)
    assert infer_in_file(root / target).kind is Receiver.TENSOR


def test_a_package_that_does_not_re_export_the_function_does_not_widen_the_search(tmp_path):
    """Only a package whose __init__ names the function may re-export it: a file that
    names the package and the function's name otherwise is not read."""
    from convlint.analysis.project import project_for

    root = project(tmp_path, {
        "pyproject.toml": "",
        "pkg/__init__.py": "VERSION = 1\n",
        "pkg/impl.py": "import torch\ndef nhwc(model):\n    return model.to(memory_format=torch.channels_last)  # TARGET\n",
        "pkg/user.py": "from .impl import nhwc\n",
        "other.py": "import pkg\nnhwc = pkg.VERSION\n",
        "rel.py": "from . import other\nnhwc = 2\n",
    })
    infer_in_file(root / "pkg/impl.py")
    read = {os.path.relpath(p, root) for p in project_for(str(root / "pkg/impl.py")).consulted}
    assert "pkg/user.py" in read and not read & {"other.py", "rel.py"}


@pytest.mark.parametrize("text, found", [
    (b"load(x)", True),
    (b"x.load", True),
    (b"from m import load as f", True),
    (b"_load(x)", False),
    (b"load_all(x)", False),
    (b"reload", False),
    ("\u00e9load()".encode(), False),  # part of a non-ASCII name
    ("load\u00e9".encode(), False),
    (b"'load'", True),
    (b"", False),
])
def test_the_caller_search_finds_a_name_only_as_a_whole_word(tmp_path, text, found):
    from convlint.analysis.project import _Corpus

    # The word in the middle file, between files that hold it inside longer names.
    paths = []
    for name, data in (("a.py", b"xload"), ("b.py", text), ("c.py", b"loadx")):
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    for sizes in ({}, {"chunk_bytes": 1, "memory_bytes": 0}, {"chunk_bytes": 8, "memory_bytes": 8}):
        corpus = _Corpus.read(paths, **sizes)
        assert corpus.files_with(b"load") == ({1} if found else set()), sizes
        corpus.close()


def test_a_large_project_is_searched_from_a_temporary_file_chunk_by_chunk(tmp_path):
    """Beyond CORPUS_MEMORY_BYTES the project's text is not held in memory: each chunk is
    read back for a search, and a search finds what the in-memory corpus finds."""
    from convlint.analysis.project import _Corpus

    paths = []
    for i in range(40):
        (tmp_path / f"m{i}.py").write_bytes(b"x = 1\n" * i + (b"from utils import nhwc\n" if i % 7 == 3 else b"nhwc_all()\n"))
        paths.append(str(tmp_path / f"m{i}.py"))
    in_memory = _Corpus.read(paths)
    spilled = _Corpus.read(paths, chunk_bytes=64, memory_bytes=100)
    assert in_memory.spill is None and spilled.spill is not None
    assert all(isinstance(kept, int) for _, kept in spilled.chunks) and len(spilled.chunks) > 10
    expected = {i for i in range(40) if i % 7 == 3}
    assert in_memory.files_with(b"nhwc") == spilled.files_with(b"nhwc") == expected
    assert spilled.files_with(b"utils") == expected
    for i in (0, 17, 39):  # a file's own bytes, from either
        assert in_memory._text(i) == spilled._text(i) == (tmp_path / f"m{i}.py").read_bytes()
    relative = {i for i in range(40) if i % 5 == 1}
    for i in relative:
        (tmp_path / f"m{i}.py").write_bytes(b"from . import (\n    a,\n    nhwc,\n)\n")
    for corpus in (_Corpus.read(paths), _Corpus.read(paths, chunk_bytes=64, memory_bytes=100)):
        assert corpus.files_importing_relatively(b"nhwc", set(range(40))) == relative
        assert corpus.files_importing_relatively(b"nhw", set(range(40))) == set()
        corpus.close()
    spilled.close()


def test_an_import_cycle_terminates(tmp_path):
    root = project(tmp_path, {
        "pyproject.toml": "",
        "a.py": "from b import make\nimport torch.nn as nn\nNet = nn.Conv2d\nmake().to()  # TARGET\n",
        "b.py": "from a import Net\ndef make():\n    return Net(1, 1, 1)\n",
    })
    assert infer_in_file(root / "a.py").kind is Receiver.MODULE


# ------------------------------------------------------------------ the binder

def test_strict_mode_makes_an_unhandled_statement_fail():
    class Unheard(ast.stmt):
        _fields = ()

    tree = ast.parse("x = 1\n")
    tree.body.append(Unheard())
    assert index_module.STRICT  # the suite runs strict (tests/conftest.py)
    with pytest.raises(UnhandledNode):
        FileIndex(tree)
    index_module.STRICT = False
    try:
        FileIndex(tree)  # walked generically, not an error
    finally:
        index_module.STRICT = True


def test_type_checking_imports_do_not_name_the_converter_at_run_time():
    source = """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import torch
        def f(m):
            m.to(memory_format=torch.channels_last)  # TARGET
    """
    analysis = analysis_of(source)
    site = _site(analysis, "TARGET")
    assert "torch" not in analysis.bound_imports(site.node, site.scope)


def test_an_import_later_in_the_function_is_not_bound_at_the_call():
    source = """
        import torch
        def f(m):
            m.to(memory_format=torch.channels_last)  # TARGET
            import torch
    """
    analysis = analysis_of(source)
    site = _site(analysis, "TARGET")
    assert "torch" not in analysis.bound_imports(site.node, site.scope)


def test_a_return_annotation_names_the_module():
    source = """
        import torch.nn as nn
        def get_eager_model() -> nn.Module:
            return registry[name]()
        get_eager_model().to()  # TARGET
    """
    result = infer_receiver(source)
    assert result.kind is Receiver.MODULE
    assert "annotated to return `nn.Module`" in result.reason


def test_a_return_annotation_does_not_beat_a_returned_tensor():
    source = """
        import torch, torch.nn as nn
        def make() -> nn.Module:
            return torch.zeros(1)
        make().to()  # TARGET
    """
    assert infer_receiver(source).kind is Receiver.UNKNOWN


def test_a_lightning_callback_hook_gets_the_module():
    source = """
        import pytorch_lightning as pl
        class ChannelsLast(pl.Callback):
            def setup(self, trainer, pl_module, stage=None):
                pl_module.to()  # TARGET
    """
    assert infer_receiver(source).kind is Receiver.MODULE
