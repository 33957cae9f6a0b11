"""Synthetic: written for convlint's evaluation: a library module whose docstrings carry
`>>>` examples (checked with `docstring-code = true`)."""

import torch


def channels_last(model):
    """Return the model with its convolution weights in channels-last order.

    Example:

        >>> import torch
        >>> from torchvision.models import resnet18
        >>> model = resnet18()
        >>> model = model.to(memory_format=torch.channels_last)
        >>> images = torch.randn(4, 3, 224, 224)
        >>> images = images.to(memory_format=torch.channels_last)
    """
    return torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)


class Trainer:
    """Train a model.

    >>> trainer = Trainer(torch.nn.Conv2d(3, 8, 3))
    >>> trainer.model = trainer.model.to(memory_format=torch.channels_last)
    """

    def __init__(self, model):
        self.model = model
