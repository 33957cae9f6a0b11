"""Facts about PyTorch (torch.nn, torch.jit, torch.fx, torch.compile, the converters)."""

FACTS = {
    "classes": {
        "torch.nn.**.[A-Z]*": "module",
        "torch.nn.utils.**": None,  # PackedSequence, the parametrize machinery...
        "torch.nn.Parameter": "tensor",
        "torch.nn.parameter.Parameter": "tensor",
        "torch.nn.Buffer": "tensor",
        "torch.jit.ScriptModule": "script-module",
        "torch.jit.RecursiveScriptModule": "script-module",
        "torch.fx.GraphModule": "module",
        "torch.optim.swa_utils.AveragedModel": "module",
        "torch.Tensor": "tensor",
        "torch.[A-Z]*Tensor": "tensor",
    },
    "functions": {
        # Tensor factories and ops: the lower-case functions of torch itself...
        "torch.[a-z]*": "tensor",
        "torch.fft.*": "tensor",
        "torch.linalg.*": "tensor",
        "torch.nn.functional.*": "tensor",
        # ...but not torch.load, which returns whatever was saved (often a model)
        "torch.load": None,
        # Models: what returns a module, or the module it was given.
        "torch.compile": "arg:0",
        "torch.hub.load": "module",
        "torch.fx.symbolic_trace": "module",
        "torch.nn.utils.weight_norm": "arg:0",
        "torch.nn.utils.spectral_norm": "arg:0",
        "torch.nn.utils.parametrizations.*": "arg:0",
        "torch.nn.utils.parametrize.register_parametrization": "arg:0",
        "torch.nn.utils.convert_conv*_weight_memory_format": "arg:0",
        "torch.nn.utils.memory_format.convert_conv*_weight_memory_format": "arg:0",
        "convlint.runtime.convert_conv*": "arg:0",
        "torch.nn.SyncBatchNorm.convert_sync_batchnorm": "arg:0",
        # TorchScript: a ScriptModule, which torch's targeted converter does not convert.
        "torch.jit.script": "script:arg:0",
        "torch.jit.trace": "script:arg:0",
        "torch.jit.freeze": "script:arg:0",
        "torch.jit.load": "script-module",
    },
    "methods": {
        "torch.nn.Module": {
            # methods that return the module itself
            "to": "self", "cuda": "self", "cpu": "self", "xpu": "self", "mps": "self", "ipu": "self",
            "half": "self", "float": "self", "bfloat16": "self", "double": "self", "type": "self",
            "eval": "self", "train": "self", "requires_grad_": "self", "share_memory": "self",
            "to_empty": "self", "apply": "self",
            "get_submodule": "module",
            "forward": "tensor",
            "modules": "iter:module",
            "children": "iter:module",
            "named_modules": "iter:pair-module",
            "named_children": "iter:pair-module",
            "parameters": "iter:tensor",
            "buffers": "iter:tensor",
        },
    },
    "attributes": {
        "torch.nn.Module": {
            "weight": "tensor", "bias": "tensor", "running_mean": "tensor", "running_var": "tensor",
            # wrappers (DistributedDataParallel, DataParallel, AveragedModel, EMA copies)
            "module": "module",
        },
    },
    "constants": {
        "torch.channels_last": {"format": "channels_last"},
        "torch.channels_last_3d": {"format": "channels_last_3d"},
        "torch.contiguous_format": {"format": "contiguous_format"},
        "torch.preserve_format": {"format": "preserve_format"},
        "torch.torch": {"alias": "torch"},
    },
    "hazards": {
        "torch.nn.utils.spectral_norm": "parametrized",
        "torch.nn.utils.weight_norm": "parametrized",
        "torch.nn.utils.parametrizations.*": "parametrized",
        "torch.nn.utils.parametrize.register_parametrization": "parametrized",
        "torch.nn.Lazy*": "lazy",
        # A module of the project's own that convolves with a weight it holds, not through an
        # nn.ConvNd: `.to()` restrides that weight, no targeted converter sees it.
        "torch.nn.functional.conv2d": "custom_conv",
        "torch.nn.functional.conv3d": "custom_conv",
        "torch.nn.functional.conv_transpose2d": "custom_conv",
        "torch.nn.functional.conv_transpose3d": "custom_conv",
        "torch.conv2d": "custom_conv",
        "torch.conv3d": "custom_conv",
        "torch.conv_transpose2d": "custom_conv",
        "torch.conv_transpose3d": "custom_conv",
    },
    "callbacks": {
        # model.apply(fn): fn is called with every submodule.
        "torch.nn.Module.apply": {"argument": 0, "parameter": 0, "value": "module", "repeats": True},
    },
}
