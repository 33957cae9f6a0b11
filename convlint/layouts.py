"""The one table of channels-last memory formats: each format's name, the rank of the weights
it applies to, and the converter function of that rank. Pure data: no torch import, so the
static side (rules) and the torch side (runtime, verify) read the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    format: str  # the attribute of `torch`: torch.channels_last
    rank: int  # the rank of the conv weights it applies to
    converter: str  # the conv-weight converter of that rank (in torch.nn.utils, convlint.runtime)
    conv: str  # the conv class of that rank, for messages


CHANNELS_LAST = Layout("channels_last", 4, "convert_conv2d_weight_memory_format", "Conv2d")
CHANNELS_LAST_3D = Layout("channels_last_3d", 5, "convert_conv3d_weight_memory_format", "Conv3d")

LAYOUTS: tuple[Layout, ...] = (CHANNELS_LAST, CHANNELS_LAST_3D)
BY_FORMAT: dict[str, Layout] = {layout.format: layout for layout in LAYOUTS}
BY_RANK: dict[int, Layout] = {layout.rank: layout for layout in LAYOUTS}
BY_CONVERTER: dict[str, Layout] = {layout.converter: layout for layout in LAYOUTS}

# Formats that ask for no channels-last layout: a `.to()` or converter call with one of these
# restrides nothing into channels-last.
NEUTRAL_FORMATS = ("contiguous_format", "preserve_format")

# Where the converters are defined. torch.nn.utils re-exports the private module's functions;
# convert_conv3d_weight_memory_format is public in torch.nn.utils from torch 2.3 on.
PUBLIC_HOME = "torch.nn.utils"
# The first torch release whose torch.nn.utils has each converter (the 2-D one: every release).
PUBLIC_SINCE: dict[str, tuple[int, int, int]] = {CHANNELS_LAST_3D.converter: (2, 3, 0)}
PRIVATE_HOME = "torch.nn.utils.memory_format"
RUNTIME_HOME = "convlint.runtime"
CONVERTER_HOMES = (PUBLIC_HOME, PRIVATE_HOME, RUNTIME_HOME)
