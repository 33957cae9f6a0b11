"""The model-name heuristic, kept apart from the facts: a name like `model`, `net` or `unet`
says a value is *likely* a module when nothing else does. It only ever gives an unsafe fix,
and any evidence (a binding, a caller passing a tensor) beats it."""

import re

_MODULE_NAME = re.compile(
    r"(?i)^(?:\w+_)?(model|net|network|module|backbone|encoder|decoder|unet|vae|"
    r"generator|discriminator|teacher|student|classifier|detector|transformer|"
    r"controlnet|policy|critic|actor|ema|ema_model|resnet|vit|convnet|cnn)\d*$"
)
# `build_model`, `convert_splitbn_model`: a verb first names a function that makes or
# changes a model, not a model (calling a module gives tensors, calling these gives modules).
_FACTORY_NAME = re.compile(
    r"(?i)^(?:build|create|make|get|load|convert|init|initialize|prepare|wrap|setup|instantiate|"
    r"construct|apply|fuse|replace|patch|compile|quantize|prune|export|freeze|to)_\w"
)
# Iterating over something named like a data loader gives batches: tensors.
_LOADER_NAME = re.compile(r"(?i)(loader|dataloader|batches|dataset)")


def is_module_like_name(name: str) -> bool:
    return bool(_MODULE_NAME.match(name)) and not _FACTORY_NAME.match(name)


def is_loader_name(name: str) -> bool:
    return bool(_LOADER_NAME.search(name))
