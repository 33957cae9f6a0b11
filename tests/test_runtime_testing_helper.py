"""Tests for convlint.testing.assert_conv_weights_in, the helper for users' own test suites."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convlint.runtime import ConversionWarning, convert_conv_weights
from convlint.testing import assert_conv_weights_in

pytest_plugins = ("pytester",)


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


@pytest.mark.parametrize("value, message", [
    (torch.zeros(1, 3, 8, 8), r"not a tensor \(got a torch\.Tensor of shape \(1, 3, 8, 8\)\); check a tensor's layout"),
    (nn.Parameter(torch.zeros(4, 3, 3, 3)), r"not a tensor \(got a torch\.nn\.parameter\.Parameter of shape"),
    ({"0.weight": torch.zeros(4, 3, 3, 3)}, r"an nn\.Module, not a dict$"),
    (nn.Conv2d, r"an nn\.Module, not a type$"),  # the class, not an instance
])
def test_anything_but_a_module_is_a_clear_type_error(value, message):
    with pytest.raises(TypeError, match=message):
        assert_conv_weights_in(value, torch.channels_last)


USER_TESTS = '''
import torch
from torch import nn
from convlint.testing import assert_conv_weights_in

pytest_plugins = ("pytester",)

def test_a_model_left_contiguous():
    assert_conv_weights_in(nn.Sequential(nn.Conv2d(3, 4, 3)), torch.channels_last)

def test_a_tensor_by_mistake():
    images = torch.zeros(1, 3, 8, 8).to(memory_format=torch.channels_last)
    assert_conv_weights_in(images, torch.channels_last)
'''

# Lines of convlint/testing.py that a traceback through it would print.
OWN_SOURCE = ("__tracebackhide__", "offending = [", "raise AssertionError", "raise TypeError", "testing.py")


@pytest.mark.parametrize("tb", ["auto", "long", "short"])
def test_a_failure_in_a_users_pytest_run_shows_their_line_not_ours(pytester, tb):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess(f"--tb={tb}", "-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "AssertionError: 1 of 1 conv weights are not in channels_last:" in out
    assert "TypeError: assert_conv_weights_in() checks the conv weights of an nn.Module, not a tensor" in out
    # The user's own calls are what the traceback shows...
    assert "assert_conv_weights_in(nn.Sequential(nn.Conv2d(3, 4, 3)), torch.channels_last)" in out
    assert "assert_conv_weights_in(images, torch.channels_last)" in out
    # ...and none of the helper's source.
    assert [line for line in out.splitlines() if any(s in line for s in OWN_SOURCE)] == []
