"""Tests for convlint.runtime, the conv-weight converter, on real torch modules on CPU."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

from convlint.runtime import (
    ConversionWarning,
    conv_weight,
    convert_and_report,
    convert_conv2d_weight_memory_format,
    convert_conv3d_weight_memory_format,
    convert_conv_weights,
    layout_of,
    target_strides,
    walk_modules,
)

CL, CL3D, CONTIGUOUS = torch.channels_last, torch.channels_last_3d, torch.contiguous_format


def small_cnn() -> nn.Sequential:
    """Plain, 1x1, depthwise and transposed convs with the layers between them."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 1),
        nn.Conv2d(16, 16, 3, padding=1, groups=16),
        nn.ConvTranspose2d(16, 4, 2, stride=2),
    ).eval()


def mixed_rank_model() -> nn.Module:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.image = nn.Conv2d(3, 4, 3)
            self.video = nn.Conv3d(3, 4, 3)
            self.up = nn.ConvTranspose3d(4, 2, 2)

    return Mixed()


def weight_ptrs(model: nn.Module) -> dict[str, int]:
    return {name: p.data_ptr() for name, p in model.named_parameters()}


def test_rank_aware_conversion_converts_4d_and_5d_weights_where_module_to_raises():
    model = mixed_rank_model()
    with pytest.raises(RuntimeError, match="rank 4"):
        copy.deepcopy(model).to(memory_format=CL)

    assert convert_conv_weights(model) is model
    assert model.image.weight.stride() == target_strides(model.image.weight.shape, CL)
    assert model.video.weight.stride() == target_strides(model.video.weight.shape, CL3D)
    assert layout_of(model.up.weight) == CL3D


@pytest.mark.parametrize("spelling", ["contiguous_format", CONTIGUOUS])
def test_contiguous_converts_back_including_size_one_strides(spelling):
    model = small_cnn()
    convert_conv_weights(model, "channels_last")
    convert_conv_weights(model, spelling)
    for module in model:
        if isinstance(module, nn.modules.conv._ConvNd):
            # exact strides, not just is_contiguous(), which a 1x1 weight passes either way
            assert module.weight.stride() == target_strides(module.weight.shape, CONTIGUOUS)


def test_drop_ins_touch_only_their_rank_and_return_the_module():
    model = mixed_rank_model()
    assert convert_conv2d_weight_memory_format(model, CL) is model
    assert layout_of(model.image.weight) == CL
    assert layout_of(model.video.weight) == CONTIGUOUS

    assert convert_conv3d_weight_memory_format(model, CL3D) is model
    assert layout_of(model.video.weight) == CL3D
    assert layout_of(model.up.weight) == CL3D


@pytest.mark.parametrize(
    ("function", "memory_format"),
    [
        (convert_conv2d_weight_memory_format, CL3D),
        (convert_conv3d_weight_memory_format, CL),
        (convert_conv_weights, "nhwc"),
        (convert_conv_weights, torch.channels_last.__class__),
    ],
)
def test_a_format_that_does_not_fit_is_refused(function, memory_format):
    with pytest.raises(ValueError, match="memory_format must be one of"):
        function(small_cnn(), memory_format)


@pytest.mark.parametrize("keep", [None, torch.preserve_format, "preserve_format"])
@pytest.mark.parametrize(
    "function",
    [convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format, convert_conv_weights],
)
def test_none_and_preserve_format_are_accepted_as_pytorch_accepts_them_and_copy_nothing(function, keep):
    # The default path of `fmt = torch.channels_last if flag else None` after a convlint fix.
    model = mixed_rank_model()
    model.image.weight.data = model.image.weight.detach().contiguous(memory_format=CL)
    strides = {name: p.stride() for name, p in model.named_parameters()}
    ptrs = weight_ptrs(model)
    reference = copy.deepcopy(model)
    # PyTorch's converter accepts None (its clone keeps the layout); with preserve_format
    # its resize_ raises, and convlint treats it as None.
    torch.nn.utils.convert_conv2d_weight_memory_format(reference, None)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)
        assert function(model, keep) is model

    assert weight_ptrs(model) == ptrs
    assert {name: p.stride() for name, p in model.named_parameters()} == strides
    assert {name: p.stride() for name, p in reference.named_parameters()} == strides


def test_none_is_reported_as_leaving_each_weight_in_place():
    report = convert_and_report(small_cnn(), None)
    assert report.converted == [] and report.skipped == []
    assert {record.detail for record in report.already_in_place} == {"left as it is (preserve_format)"}
    assert len(report.already_in_place) == 4


def test_a_model_nested_5000_deep_converts_without_recursion():
    innermost = nn.Conv2d(2, 2, 3)
    model: nn.Module = innermost
    for _ in range(5000):
        model = nn.Sequential(model)

    report = convert_and_report(model)

    assert layout_of(innermost.weight) == CL
    [record] = report.converted
    assert record.path == ".".join(["0"] * 5000)


def test_walk_modules_yields_what_named_modules_yields():
    shared = nn.Conv2d(4, 4, 1)
    model = nn.Sequential(
        nn.Sequential(shared, nn.ReLU()), nn.ModuleDict({"a": shared, "b": nn.Conv2d(4, 4, 3)})
    )
    walked = [(path, id(module)) for path, module in walk_modules(model)]
    assert walked == [(path, id(module)) for path, module in model.named_modules()]


def test_a_module_shared_by_several_parents_is_converted_once():
    shared = nn.Conv2d(4, 4, 3)
    model = nn.Sequential(nn.Sequential(shared), nn.Sequential(shared), shared)

    report = convert_and_report(model)

    assert [record.path for record in report.converted] == ["0.0"]
    assert report.already_in_place == []
    assert layout_of(shared.weight) == CL


def test_a_second_call_copies_nothing():
    model = small_cnn()
    first = convert_and_report(model)
    ptrs = weight_ptrs(model)

    second = convert_and_report(model)

    assert second.converted == []
    assert len(second.already_in_place) == len(first.converted) == 4
    assert weight_ptrs(model) == ptrs


def test_1x1_and_depthwise_weights_get_channels_last_strides_without_a_copy():
    pointwise, depthwise = nn.Conv2d(8, 16, 1), nn.Conv2d(8, 8, 3, groups=8)
    x = torch.randn(1, 8, 6, 6)
    for conv in (pointwise, depthwise):
        # both pass is_contiguous in either format, yet the kernel reads the strides
        assert conv.weight.is_contiguous(memory_format=CL)
        assert layout_of(conv(x)) == CONTIGUOUS
        ptr = conv.weight.data_ptr()

        [record] = convert_and_report(conv).converted

        assert record.bytes_copied == 0
        assert conv.weight.data_ptr() == ptr
        assert conv.weight.stride() == target_strides(conv.weight.shape, CL)
        assert layout_of(conv(x)) == CL


def test_layout_of_agrees_with_torch_on_ambiguous_strides():
    prims = pytest.importorskip("torch._prims_common")
    tensors = [
        torch.empty(16, 8, 1, 1),
        torch.empty(16, 8, 1, 1).as_strided((16, 8, 1, 1), (8, 1, 8, 8)),
        torch.empty(8, 1, 3, 3),
        torch.empty(4, 1, 1, 1),
        torch.empty(1, 3, 1, 5).transpose(1, 3),
        torch.empty(2, 3, 4, 5, memory_format=CL)[:, :, :, 1:],
        torch.empty(2, 3, 4, 5, 6, memory_format=CL3D),
        torch.empty(2, 3, 4, 5).permute(0, 2, 3, 1),
    ]
    for tensor in tensors:
        assert layout_of(tensor) == prims.suggest_memory_format(tensor), tensor.stride()


def test_parameters_keep_identity_requires_grad_and_ties_and_the_optimizer_still_steps():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3))
    model[2].weight = model[1].weight
    model[0].weight.requires_grad_(False)
    reference = copy.deepcopy(model)
    x = torch.randn(2, 3, 9, 9)

    def step(net: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad()
        net(x).square().mean().backward()
        optimizer.step()

    params = list(model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    step(model, optimizer)
    step(reference, reference_optimizer)

    convert_conv_weights(model)

    assert list(model.parameters()) == params
    assert model[2].weight is model[1].weight
    assert not model[0].weight.requires_grad and model[1].weight.requires_grad
    assert layout_of(model[1].weight) == CL
    step(model, optimizer)
    step(reference, reference_optimizer)
    for converted, unconverted in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(converted, unconverted)


def test_outputs_after_conversion_match_the_unconverted_model():
    model = small_cnn()
    x = torch.randn(2, 3, 10, 10)
    with torch.no_grad():
        before = model(x)
        convert_conv_weights(model)
        after = model(x)
    torch.testing.assert_close(after, before)


def test_spectral_norm_parametrization_is_converted_through_its_original():
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(3, 8, 3))
    conv.eval()
    x = torch.randn(1, 3, 7, 7)
    before = conv(x).detach()

    report = convert_and_report(conv)

    assert [record.detail for record in report.converted] == [
        "computed by parametrization _SpectralNorm; its sources converted"
    ]
    assert layout_of(conv.parametrizations.weight.original) == CL
    assert layout_of(conv.weight) == CL
    torch.testing.assert_close(conv(x), before)


def test_weight_norm_parametrization_is_reported_never_silently_left():
    model = nn.Sequential(nn.utils.parametrizations.weight_norm(nn.Conv2d(3, 8, 3)))

    with pytest.warns(ConversionWarning, match=r"0 \(ParametrizedConv2d\): parametrization"):
        convert_conv_weights(model)
    [record] = convert_and_report(model).skipped

    assert "_WeightNorm computes the weight in contiguous_format" in record.detail
    assert layout_of(model[0].weight) == CONTIGUOUS


def test_hook_based_spectral_norm_keeps_the_layout_across_the_next_forward():
    conv = nn.utils.spectral_norm(nn.Conv2d(3, 8, 3))
    [record] = convert_and_report(conv).converted
    conv(torch.randn(1, 3, 7, 7))  # the hook recomputes conv.weight from weight_orig
    assert "SpectralNorm" in record.detail
    assert layout_of(conv.weight_orig) == CL
    assert layout_of(conv.weight) == CL


def test_hook_based_weight_norm_converts_weight_v_and_reports_the_contiguous_result():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.nn.utils.weight_norm is deprecated
        conv = nn.utils.weight_norm(nn.Conv2d(3, 8, 3))
    conv(torch.randn(1, 3, 7, 7))

    report = convert_and_report(conv)

    assert layout_of(conv.weight_v) == CL
    [record] = report.skipped
    assert "hook WeightNorm computes the weight in contiguous_format" in record.detail
    # what the next forward will use, not the attribute PyTorch's converter restrides
    assert layout_of(conv_weight(conv)) == CONTIGUOUS


def test_a_lazy_conv_is_converted_at_its_first_forward():
    model = nn.Sequential(nn.LazyConv2d(8, 3), nn.ReLU(), nn.LazyConv2d(4, 1))

    convert_conv_weights(model)
    report = convert_and_report(model)  # twice: one pending hook per module, not two

    assert [record.path for record in report.deferred] == ["0", "2"]
    assert len(model[0]._forward_pre_hooks) == 2  # LazyModuleMixin's own + convlint's
    model(torch.randn(1, 3, 8, 8))
    assert layout_of(model[0].weight) == CL
    assert layout_of(model[2].weight) == CL
    assert len(model[0]._forward_pre_hooks) == 0


def test_a_lazy_conv_converted_back_before_materializing_ends_contiguous():
    conv = nn.LazyConv2d(8, 1)
    convert_conv_weights(conv, "channels_last")
    convert_conv_weights(conv, "contiguous_format")
    conv(torch.randn(1, 3, 4, 4))
    assert conv.weight.stride() == target_strides(conv.weight.shape, CONTIGUOUS)


def test_quantized_convs_are_reported_as_skipped():
    quantized = torch.ao.nn.quantized.Conv2d(4, 8, 3)
    model = nn.Sequential(quantized, nn.Conv2d(8, 8, 3))

    report = convert_and_report(model)

    [record] = report.skipped
    assert (record.path, record.module_type) == ("0", "Conv2d")
    assert record.detail.startswith("quantized")
    assert [record.path for record in report.converted] == ["1"]


def test_qat_convs_are_converted():
    qconfig = torch.ao.quantization.get_default_qat_qconfig("x86")
    qat = torch.ao.nn.qat.Conv2d(3, 4, 3, qconfig=qconfig)
    fused = torch.ao.nn.intrinsic.qat.ConvBn2d(4, 4, 3, qconfig=qconfig)
    model = nn.Sequential(qat, fused)

    report = convert_and_report(model)

    assert [record.module_type for record in report.converted] == ["Conv2d", "ConvBn2d"]
    assert layout_of(qat.weight) == CL and layout_of(fused.weight) == CL


def test_a_compiled_module_converts_and_warns_that_it_recompiles():
    compilations = []

    def counting_backend(graph_module, example_inputs):
        compilations.append(graph_module)
        return graph_module.forward

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    compiled = torch.compile(model, backend=counting_backend)
    x = torch.randn(1, 3, 8, 8)
    compiled(x)

    with pytest.warns(ConversionWarning, match="next call recompiles"):
        convert_conv_weights(compiled)

    assert layout_of(model[0].weight) == CL
    compiled(x)
    assert len(compilations) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConversionWarning)
        convert_conv_weights(compiled)  # nothing changes, so nothing recompiles


def test_module_compile_in_place_is_detected_too():
    model = nn.Sequential(nn.Conv2d(3, 4, 3))
    model.compile()
    with pytest.warns(ConversionWarning, match=r"\(root\) is wrapped by torch.compile"):
        report = convert_and_report(model)
    assert report.warnings and "recompiles" in report.warnings[0]


def test_the_summary_counts_each_outcome():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.Conv2d(4, 4, 3),
        nn.utils.parametrizations.weight_norm(nn.Conv2d(4, 4, 3)),
        nn.LazyConv2d(4, 3),
    )
    model[1].weight.data = model[1].weight.detach().contiguous(memory_format=CL)
    summary = convert_and_report(model).summary()
    assert summary.startswith("1 converted (1 copied, 432 bytes), 1 already in place, ")
    assert summary.endswith("1 skipped, 1 deferred to first forward")


def test_the_converter_and_the_inspection_see_the_same_convs():
    # One classifier (convlint.convs.classify_conv) decides for both: every conv weight the
    # report lists has a row, and every conv row is in the report.
    from convlint.inspection import inspect_conv_weights

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1)))
        hook_norm = nn.utils.weight_norm(nn.Conv2d(4, 4, 3))
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1, groups=4), nn.ConvTranspose2d(4, 4, 2),
        nn.utils.parametrizations.spectral_norm(nn.Conv2d(4, 4, 3)),
        nn.utils.parametrizations.weight_norm(nn.Conv2d(4, 4, 3)), hook_norm,
        nn.LazyConv2d(4, 3), torch.ao.nn.quantized.Conv2d(4, 4, 3), nn.Conv3d(4, 4, 1),
        nn.Linear(4, 4), nn.Conv1d(4, 4, 1),
    )
    model.add_module("scripted", scripted)

    report = convert_and_report(model, ranks=(4,))
    reported = {record.path for records in (report.converted, report.already_in_place,
                                             report.skipped, report.deferred) for record in records}
    rows = inspect_conv_weights(model, {4: CL})

    assert reported == {row.module for row in rows if row.status.is_conv}
    assert reported == {"0", "1", "2", "3", "4", "5", "6", "7", "scripted.0", "scripted.1"}


def test_a_computed_depthwise_1x1_weight_is_in_every_layout_not_skipped():
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(8, 8, 1, groups=8))  # (8, 1, 1, 1)
    report = convert_and_report(conv)
    assert report.skipped == []
    assert len(report.converted + report.already_in_place) == 1
