"""Tests for convlint.testing.assert_conv_weights_in, the helper for users' own test suites."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convlint.runtime import ConversionWarning, convert_conv_weights
from convlint.testing import assert_conv_weights_in


def model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.Sequential(nn.Conv2d(4, 4, 1), nn.Conv3d(4, 4, 1)),
        nn.utils.parametrizations.weight_norm(nn.Conv2d(4, 4, 3)),
    )


def test_it_lists_every_offending_conv_with_shape_and_strides():
    with pytest.raises(AssertionError) as failure:
        assert_conv_weights_in(model(), torch.channels_last)
    assert str(failure.value).splitlines() == [
        "2 of 3 conv weights are not in channels_last:",
        "  0 (Conv2d): shape (4, 3, 3, 3), strides (27, 9, 3, 1)",
        "  1.0 (Conv2d): shape (4, 4, 1, 1), strides (4, 1, 1, 1)",
        "convert them with convlint.runtime.convert_conv_weights(model, 'channels_last')",
    ]


def test_it_passes_once_converted_and_checks_each_rank_separately():
    net = model()
    with pytest.warns(ConversionWarning, match="_WeightNorm computes the weight in contiguous"):
        convert_conv_weights(net)
    assert_conv_weights_in(net, torch.channels_last)
    assert_conv_weights_in(net, "channels_last_3d")
    with pytest.raises(AssertionError, match="^3 of 4 conv weights are not in contiguous_format"):
        assert_conv_weights_in(net, torch.contiguous_format)


def test_a_1x1_weight_that_only_is_contiguous_in_both_formats_fails():
    conv = nn.Conv2d(4, 8, 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(AssertionError, match=r"\(root\) \(Conv2d\)"):
        assert_conv_weights_in(conv, torch.channels_last)


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="cannot check"):
        assert_conv_weights_in(model(), torch.preserve_format)


def test_an_unmaterialized_lazy_non_conv_does_not_break_the_check():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    with pytest.raises(AssertionError, match="1 of 1 conv weights"):
        assert_conv_weights_in(model, torch.channels_last)
    convert_conv_weights(model)
    assert_conv_weights_in(model, torch.channels_last)
