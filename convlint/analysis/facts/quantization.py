"""Facts about torch.ao / torch.quantization: eager and FX graph mode quantization."""

FACTS = {
    "functions": {
        # Eager mode (torch.quantization, torch.ao.quantization): the module itself,
        # prepared, fused, quantized or converted.
        "torch.**.quantization.prepare*": "arg:0",
        "torch.**.quantization.convert": "arg:0",
        "torch.**.quantization.quantize*": "arg:0",
        "torch.**.quantization.fuse_modules*": "arg:0",
        # FX graph mode: a GraphModule built from the model.
        "torch.**.quantization.quantize_fx.*_fx": "module",
    },
    "classes": {
        "torch.ao.nn.**.[A-Z]*": "module",
    },
}
