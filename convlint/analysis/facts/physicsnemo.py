"""Facts about NVIDIA PhysicsNeMo (formerly Modulus): its models are nn.Modules whose
convolutions are its own `physicsnemo.nn` Conv2d, a module holding a 4-D weight Parameter
applied with F.conv2d (conv_layers.py), which no targeted converter converts."""

FACTS = {
    "classes": {
        "physicsnemo.Module": "module",
        "physicsnemo.models.**.[A-Z]*": "module",
        "physicsnemo.diffusion.preconditioners.**.[A-Z]*": "module",
        "physicsnemo.nn.**.[A-Z]*": "module",
    },
    "methods": {
        "physicsnemo.**": {"from_checkpoint": "instance"},
    },
    "hazards": {
        "physicsnemo.Module": "custom_conv",
        "physicsnemo.models.**.[A-Z]*": "custom_conv",
        "physicsnemo.diffusion.preconditioners.**.[A-Z]*": "custom_conv",
        "physicsnemo.nn.**.Conv*": "custom_conv",  # a project model built from its layers
    },
}
