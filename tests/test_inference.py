"""Receiver inference: MODULE / LIKELY_MODULE / TENSOR / UNKNOWN, with the reason."""

from __future__ import annotations

import ast
import textwrap

import pytest

from convlint.inference import FileIndex, Inferrer, Receiver, is_module_like_name


def infer_receiver(source: str, marker: str = "TARGET"):
    """Infer the receiver of the `.to(...)` call on the line that contains `marker`."""
    source = textwrap.dedent(source)
    row = next(i for i, line in enumerate(source.splitlines(), 1) if marker in line)
    index = FileIndex(ast.parse(source))
    for call, scope in index.calls:
        if call.lineno == row and isinstance(call.func, ast.Attribute) and call.func.attr == "to":
            return Inferrer(index).infer(call.func.value, scope)
    raise AssertionError(f"no .to() call on line {row}")


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
    assert "Net subclasses torch.nn.Module" in result.reason


def test_tensor_reason_names_the_factory():
    result = infer_receiver(
        """
        import torch
        x = torch.ones(3)
        x.to()  # TARGET
        """
    )
    assert "torch.ones() returns a tensor" in result.reason


def test_deep_self_reference_terminates():
    source = "import torch.nn as nn\nm = nn.Linear(2, 2)\n" + "m = m.cuda()\n" * 300 + "m.to()  # TARGET\n"
    assert infer_receiver(source).kind is Receiver.MODULE


@pytest.mark.parametrize("name", ["model", "net", "unet", "ema_model", "text_encoder", "backbone", "model2", "Model"])
def test_module_like_names(name):
    assert is_module_like_name(name)


@pytest.mark.parametrize("name", ["model_inputs", "model_output", "models_dir", "images", "inputs", "x", "modelx", "network_input"])
def test_names_that_are_not_module_like(name):
    assert not is_module_like_name(name)
