"""Facts about Intel Extension for PyTorch: ipex.optimize returns the model (and optimizer)."""

FACTS = {
    "functions": {
        "intel_extension_for_pytorch.optimize": {"spec": "arg:0:model",
                                                 "keyword": {"optimizer": {"tuple": ["arg:0:model", "none"]}}},
        # static quantization: the prepared, then the converted, model
        "intel_extension_for_pytorch.quantization.prepare": "arg:0:model",
        "intel_extension_for_pytorch.quantization.convert": "arg:0:model",
    },
}
