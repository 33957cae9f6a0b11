"""Tests for `convlint verify`: the fixture models under fixtures/models, through click's
runner (in-process) and through `python -m convlint` (a subprocess)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from convlint.cli import main
from convlint.runtime import layout_of
from convlint.checker import compare_outputs
from convlint.inspection import inspect_conv_weights
from convlint.verdicts import Status

NOT_CONVERTED = Status.NOT_CONVERTED.value

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "fixtures" / "models"
PASSING = "fixtures/models/passing.py"
FAILING = "fixtures/models/failing.py"
BAD = "fixtures/models/bad_targets.py"


@pytest.fixture(autouse=True)
def in_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def verify(*args: str):
    return CliRunner().invoke(main, ["verify", *args])


def verify_json(*args: str) -> tuple[int, dict]:
    result = verify(*args, "--output-format", "json")
    return result.exit_code, json.loads(result.stdout)


def statuses(report: dict) -> dict[str, str]:
    return {row["module"]: row["status"] for row in report["targets"][0]["rows"]}


def test_a_passing_model_prints_one_ok_row_per_conv_and_matching_outputs():
    result = verify(f"{PASSING}:SmallNet", "--input-shape", "1,3,16,16")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["module", "type", "weight", "shape", "strides", "expected",
                                "status", "kernel", "got", "note"]
    assert "pointwise  Conv2d           (16, 8, 1, 1)  (8, 1, 8, 8)" in result.stdout
    assert result.stdout.count("channels_last  ok      channels_last") == 4
    assert "): match; output is not 4-D or 5-D" in result.stdout
    assert ("evidence: model.to(memory_format=channels_last), measured on a copy: restrides no "
            "non-conv tensor") in result.stdout
    assert lines[-1].startswith(f"PASS {PASSING}:SmallNet: 4 conv weights: 4 ok; ")


@pytest.mark.parametrize(
    ("target", "args", "exit_code", "expected"),
    [
        (f"{PASSING}:build_small_net", ["--kwargs", '{"num_classes": 3}'], 0,
         {"stem.0": "ok", "pointwise": "ok", "depthwise": "ok", "up": "ok"}),
        (f"{PASSING}:SmallNet", ["--kwargs", '{"num_classes": 3}'], 0,
         {"stem.0": "ok", "pointwise": "ok", "depthwise": "ok", "up": "ok"}),
        (f"{PASSING}:small_net", [], 0, {"stem.0": "ok", "pointwise": "ok", "depthwise": "ok",
                                         "up": "ok"}),
        (f"{PASSING}:spectral_norm_net", [], 0, {"0": "ok", "2": "ok"}),
        # PyTorch's converter leaves a parametrized weight as it was, silently
        (f"{PASSING}:spectral_norm_net", ["--convert", "torch"], 1,
         {"0": NOT_CONVERTED, "2": "ok"}),
        (f"{PASSING}:weight_norm_net", [], 0, {"0": "parametrized"}),
        (f"{PASSING}:custom_conv_net", [], 0, {"0": "not a conv (left as is)", "1": "ok"}),
        (f"{PASSING}:converted_by_its_factory", ["--convert", "none"], 0, {"proj": "ok"}),
        (f"{PASSING}:lazy_net", [], 0, {"0": "lazy", "2": "lazy"}),
        (f"{PASSING}:lazy_net", ["--input-shape", "1,3,8,8"], 0, {"0": "ok", "2": "ok"}),
        (f"{PASSING}:MixedNet", ["--memory-format", "channels_last", "--memory-format",
                                 "channels_last_3d", "--convert", "torch"], 0,
         {"image": "ok", "video": "ok"}),
        (f"{FAILING}:unconverted", ["--convert", "none"], 1,
         {"stem.0": NOT_CONVERTED, "pointwise": NOT_CONVERTED, "depthwise": NOT_CONVERTED,
          "up": NOT_CONVERTED}),
    ],
)
def test_fixture_targets_get_their_statuses_and_exit_code(target, args, exit_code, expected):
    code, report = verify_json(target, *args)
    assert (code, report["exit_code"]) == (exit_code, exit_code)
    assert statuses(report) == expected


def test_the_json_report_has_every_field_of_a_row():
    _, report = verify_json(f"{PASSING}:PatchEmbed", "--input-shape", "1,3,16,16")
    [target] = report["targets"]
    assert target["rows"] == [{
        "module": "proj", "type": "Conv2d", "shape": [8, 3, 4, 4], "strides": [48, 1, 12, 3],
        "expected": "channels_last", "status": "ok", "note": "", "kernel": "channels_last",
    }]
    assert target["changed"] == []  # the targeted conversion leaves the positional embedding
    assert target["output"]["match"] and target["output"]["channels_last"]
    assert target["summary"].startswith("PASS ")


def test_a_whole_model_conversion_is_shown_restriding_the_positional_embedding():
    code, report = verify_json(f"{PASSING}:converted_whole", "--convert", "none")
    assert code == 0
    assert report["targets"][0]["changed"] == [{
        "tensor": "pos_embed", "shape": [1, 8, 4, 4], "strides": [128, 1, 32, 8],
        "before": "contiguous_format", "after": "channels_last",
    }]


def test_a_model_with_3d_convs_gets_a_hint_when_only_channels_last_is_checked():
    code, report = verify_json(f"{PASSING}:MixedNet")
    assert code == 0
    assert statuses(report) == {"image": "ok"}
    assert ("1 5-D conv weight(s) not checked: add --memory-format channels_last_3d"
            in report["targets"][0]["notes"])


def test_a_forward_that_breaks_after_conversion_fails():
    result = verify(f"{FAILING}:ViewsItsWeight", "--input-shape", "1,3,8,8")
    assert result.exit_code == 1
    assert "problem: forward after conversion raised RuntimeError: view size" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("; 1 problem")


def test_pytorchs_converter_raising_on_a_lazy_conv_is_a_failure_not_a_crash():
    result = verify(f"{PASSING}:lazy_net", "--convert", "torch")
    assert result.exit_code == 1
    assert "problem: PyTorch's converter raised ValueError: Attempted to use an uninit" in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("target", "args", "message"),
    [
        (f"{BAD}:raises", [], "raises(...) raised ValueError: checkpoint not found: /data/m"),
        (f"{BAD}:hangs", ["--timeout", "0.3"], "timed out after 0.3 s (--timeout)"),
        (f"{BAD}:hangs_and_swallows_exceptions", ["--timeout", "0.3"], "timed out after 0.3 s"),
        (f"{BAD}:exits", [], "called sys.exit(3)"),
        (f"{BAD}:returns_a_dict", [], "returned an object of type dict, not an nn.Module"),
        (f"{BAD}:not_a_module", [], "not_a_module is of type int, not an nn.Module"),
        (f"{BAD}:missing", [], f"{BAD} has no attribute 'missing'"),
        ("fixtures/models/import_error.py:model", [],
         "raised ModuleNotFoundError: No module named 'a_package_that_is_not_installed'"),
        ("no_such_package.models:Net", [], "no module named 'no_such_package'"),
        ("fixtures/models/absent.py:Net", [], "no such file: fixtures/models/absent.py"),
        ("SmallNet", [], "expected MODULE:ATTR or path/to/file.py:ATTR"),
        (f"{PASSING}:small_net", ["--kwargs", '{"num_classes": 3}'],
         "small_net is a Module instance; --kwargs needs a class or a factory"),
    ],
)
def test_a_bad_target_exits_2_with_one_line_naming_it(target, args, message):
    result = verify(target, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"convlint verify: error: {target}: ")
    assert message in line


def test_a_bad_target_in_json_output_carries_its_error():
    code, report = verify_json(f"{BAD}:exits", f"{PASSING}:SmallNet")
    assert code == report["exit_code"] == 2
    bad, good = report["targets"]
    assert (bad["exit_code"], bad["error"]) == (2, "called sys.exit(3)")
    assert good["exit_code"] == 0 and good["summary"].startswith("PASS")


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-7), ("bfloat16", 5e-2)])
def test_dtype_casts_the_model_and_picks_the_tolerance(dtype, rtol):
    code, report = verify_json(f"{PASSING}:SmallNet", "--input-shape", "1,3,8,8", "--dtype", dtype)
    assert code == 0
    assert report["targets"][0]["output"]["rtol"] == rtol
    assert report["targets"][0]["output"]["match"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_device_that_is_not_there_is_a_bad_target():
    result = verify(f"{PASSING}:SmallNet", "--device", "cuda")
    assert result.exit_code == 2
    assert f"{PASSING}:SmallNet: cannot move it to cuda: " in result.stderr


def test_verbose_adds_the_traceback():
    result = verify(f"{BAD}:raises", "--verbose")
    assert result.exit_code == 2
    assert "Traceback (most recent call last):" in result.stderr
    assert 'raise ValueError("checkpoint not found' in result.stderr


def test_a_target_that_prints_a_lot_keeps_the_report_clean():
    code, report = verify_json(f"{BAD}:prints_a_lot")
    assert code == 0
    assert statuses(report) == {"0": "ok"}

    verbose = verify(f"{BAD}:prints_a_lot", "--verbose")
    assert "loading shard" not in verbose.stdout
    shown = verbose.stderr.splitlines()
    assert shown[0] == f"output of {BAD}:prints_a_lot:"
    assert shown[1] == "  ... (99801 earlier lines not kept)"
    assert len(shown) == 2 + 200
    assert shown[-1] == "  a warning on stderr"


def test_several_targets_exit_with_the_worst_code():
    result = verify(f"{PASSING}:SmallNet", f"{FAILING}:unconverted", "--convert", "none")
    assert result.exit_code == 1
    summaries = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert [line.split()[0] for line in summaries] == ["FAIL", "FAIL"]
    assert verify(f"{PASSING}:SmallNet", f"{BAD}:raises").exit_code == 2


def test_bench_prints_a_timing_table_and_progress():
    result = verify(f"{PASSING}:SmallNet", "--input-shape", "1,3,16,16", "--bench",
                    "--bench-seconds", "0.05")
    assert result.exit_code == 0, result.output
    assert "  contiguous                             " in result.stdout
    assert "  model.to(memory_format=channels_last)  " in result.stdout
    assert "  targeted (convlint)  " in result.stdout
    assert "1.00x" in result.stdout
    assert result.stderr.splitlines() == [
        "convlint verify: preparing contiguous",
        "convlint verify: preparing model.to(memory_format=channels_last)",
        "convlint verify: preparing targeted (convlint)",
        "convlint verify: timing 3 variants interleaved",
    ]


def test_bench_reports_model_to_raising_on_a_5d_model():
    _, report = verify_json(f"{PASSING}:MixedNet", "--input-shape", "1,3,8,8", "--bench",
                            "--bench-seconds", "0.02")
    bench = {row["variant"]: row for row in report["targets"][0]["bench"]}
    assert "required rank 4 tensor" in bench["model.to(memory_format=channels_last)"]["error"]
    assert bench["targeted (convlint)"]["median_ms"] > 0


def test_bench_reports_a_model_that_cannot_be_copied_and_still_times_the_converted_one():
    code, report = verify_json(f"{PASSING}:UncopyableNet", "--input-shape", "1,3,8,8",
                               "--bench", "--bench-seconds", "0.02")
    assert code == 0
    assert statuses(report) == {"conv": "ok"}
    bench = report["targets"][0]["bench"]
    assert [row["error"].split(":")[0] for row in bench[:2]] == ["cannot copy the model"] * 2
    assert bench[2]["variant"] == "targeted (convlint)" and bench[2]["median_ms"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kwargs", "{num_classes: 3}"], "not valid JSON"),
        (["--kwargs", "[3]"], "must be a JSON object"),
        (["--input-shape", "1,x,3"], "expected positive sizes"),
        (["--bench"], "--bench needs --input-shape"),
    ],
)
def test_bad_flags_exit_2(args, message):
    result = verify(f"{PASSING}:SmallNet", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_hook_based_weight_restrided_by_pytorch_is_checked_as_the_next_forward_computes_it():
    conv = nn.utils.spectral_norm(nn.Conv2d(3, 4, 3))
    torch.nn.utils.convert_conv2d_weight_memory_format(conv, torch.channels_last)
    assert layout_of(conv.weight) == torch.channels_last  # the attribute, until the next forward

    [row] = inspect_conv_weights(conv, {4: torch.channels_last})

    assert row.status == NOT_CONVERTED
    assert row.note == "computed weight: convlint converts it through its sources"


def test_outputs_that_differ_or_are_nan_do_not_match():
    before = [torch.ones(2, 3)]
    assert compare_outputs(before, [torch.ones(2, 3)], torch.float32).match
    assert not compare_outputs(before, [torch.ones(2, 3) + 1e-2], torch.float32).match
    assert compare_outputs(before, [torch.ones(2, 3) + 1e-2], torch.bfloat16).match
    nan = compare_outputs(before, [torch.full((2, 3), float("nan"))], torch.float32)
    assert not nan.match and math.isnan(nan.max_abs_diff)
    assert not compare_outputs(before, [], torch.float32).match


def run_module(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "convlint", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_subprocess_verifies_a_dotted_module_target_as_json():
    result = run_module("verify", "passing:build_small_net", "--kwargs", '{"num_classes": 5}',
                        "--input-shape", "2,3,8,8", "--output-format", "json", cwd=MODELS)
    assert result.returncode == 0, result.stderr
    [target] = json.loads(result.stdout)["targets"]
    assert {row["status"] for row in target["rows"]} == {"ok"}
    assert target["output"]["max_abs_diff"] < 1e-5


def test_subprocess_exits_2_with_one_line_for_a_hanging_factory():
    result = run_module("verify", f"{BAD}:hangs", "--timeout", "0.5")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"convlint verify: error: {BAD}:hangs: timed out after 0.5 s (--timeout) while "
        "importing and building it"
    ]


def test_importing_the_cli_and_verify_help_do_not_import_torch():
    code = ("import sys; from click.testing import CliRunner; from convlint.cli import main; "
            "r = CliRunner().invoke(main, ['verify', '--help']); "
            "assert 'RUNS THE TARGET' in r.output, r.output; print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=False)
    assert result.stdout.strip() == "False", result.stderr


def test_a_forward_that_fails_keeps_the_stride_report():
    result = verify(f"{PASSING}:SmallNet", "--input-shape", "1,3")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"convlint verify: error: {PASSING}:SmallNet: forward on input [1, 3] "
                           "raised RuntimeError")
    assert "stem.0     Conv2d           (8, 3, 3, 3)   (27, 1, 9, 3)" in result.stdout

    code, report = verify_json(f"{PASSING}:SmallNet", "--input-shape", "1,3")
    assert code == 2
    assert set(statuses(report).values()) == {"ok"} and len(report["targets"][0]["rows"]) == 4


FAMILIES = "fixtures/models/families.py"


@pytest.mark.parametrize("build", ["scripted", "traced", "loaded"])
def test_torchscript_targets_are_converted_and_checked(build):
    code, report = verify_json(f"{FAMILIES}:{build}", "--input-shape", "1,3,8,8")
    assert code == 0
    [target] = report["targets"]
    assert [(row["module"], row["type"], row["status"], row["kernel"]) for row in target["rows"]] == [
        ("0", "Conv2d", "ok", "channels_last"), ("2", "Conv2d", "ok", "channels_last"),
    ]


def test_a_frozen_target_has_a_row_per_graph_constant():
    code, report = verify_json(f"{FAMILIES}:frozen", "--input-shape", "1,3,8,8")
    assert code == 0
    rows = report["targets"][0]["rows"]
    assert [(row["module"], row["type"], row["status"], row["kernel"]) for row in rows] == [
        ("0.weight", "graph constant", "ok", "channels_last"),
        ("2.weight", "graph constant", "ok", "channels_last"),
    ]
    # the whole-model .to() finds no parameter to convert in a frozen module
    assert report["targets"][0]["whole_model_to"]["missed"] == ["0.weight", "2.weight"]
    assert report["targets"][0]["summary"].endswith(
        "model.to() restrides 0 non-conv tensors and misses 2 conv weights")


def test_a_torchscript_target_converted_by_pytorch_fails():
    code, report = verify_json(f"{FAMILIES}:scripted", "--convert", "torch")
    assert code == 1
    assert set(statuses(report).values()) == {NOT_CONVERTED}


def test_a_depthwise_1x1_weight_is_in_every_layout():
    code, report = verify_json(f"{FAMILIES}:depthwise_pointwise", "--convert", "none")
    assert code == 1  # the 3x3 conv is not converted; the (8, 1, 1, 1) one is in every layout
    rows = {row["module"]: row for row in report["targets"][0]["rows"]}
    assert rows["0"]["status"] == NOT_CONVERTED
    assert (rows["1"]["shape"], rows["1"]["status"]) == ([8, 1, 1, 1], "ok")
    assert rows["1"]["note"] == "one possible set of strides: in every layout"


def test_rounding_noise_on_large_outputs_matches_and_is_shown_beside_model_to():
    code, report = verify_json(f"{FAMILIES}:LargeScaleNoise", "--input-shape", "1,3,8,8")
    assert code == 0
    target = report["targets"][0]
    output = target["output"]
    assert output["match"] and output["scale"] == pytest.approx(1000)
    assert output["max_abs_diff"] == pytest.approx(0.02, rel=0.05)  # float32 at 1e3: 0.0202
    assert target["whole_model_to"]["output_diff"] == output["max_abs_diff"]
    human = verify(f"{FAMILIES}:LargeScaleNoise", "--input-shape", "1,3,8,8").stdout
    assert re.search(r"outputs: max abs diff 0\.020\d \(whole-model \.to\(\): 0\.020\d\), 2e-05 of "
                     r"the output's scale 1e\+03 \(tolerance 0\.001 of the scale \+ 1e-05\): match", human)


def test_a_weight_computed_in_forward_is_reported_as_the_kernel_receives_it():
    code, report = verify_json(f"{FAMILIES}:weight_standardized", "--input-shape", "1,3,8,8")
    assert code == 0  # convlint cannot do better: only --strict fails it
    rows = {row["module"]: row for row in report["targets"][0]["rows"]}
    assert rows["0"]["strides"] == [27, 1, 9, 3]  # the stored weight is converted
    assert (rows["0"]["status"], rows["0"]["kernel"]) == (
        "computed contiguous at run time", "contiguous_format")
    assert (rows["2"]["status"], rows["2"]["kernel"]) == ("ok", "channels_last")

    strict, report = verify_json(f"{FAMILIES}:weight_standardized", "--input-shape", "1,3,8,8",
                                 "--strict")
    assert strict == 1
    assert report["targets"][0]["problems"] == ["--strict: 1 computed contiguous at run time"]


def test_a_hook_based_weight_norm_is_parametrized_and_its_kernel_gets_contiguous():
    code, report = verify_json(f"{PASSING}:weight_norm_net", "--input-shape", "1,3,8,8")
    assert code == 0
    [row] = report["targets"][0]["rows"]
    assert (row["status"], row["kernel"]) == ("parametrized", "contiguous_format")


@pytest.mark.parametrize(
    ("target", "args"),
    [
        (f"{PASSING}:weight_norm_net", []),
        (f"{PASSING}:lazy_net", []),
        (f"{PASSING}:converted_whole", ["--convert", "none"]),  # not a conv (changed)
        (f"{PASSING}:quantized_net", []),
    ],
)
def test_strict_fails_what_convlint_cannot_convert_or_should_not_have_changed(target, args):
    assert verify(target, *args).exit_code == 0
    result = verify(target, *args, "--strict")
    assert result.exit_code == 1
    assert "problem: --strict: " in result.stdout


def test_inputs_runs_a_model_with_several_arguments_and_keywords():
    result = verify(f"{FAMILIES}:TinyUNet", "--inputs", f"{FAMILIES}:unet_inputs")
    assert result.exit_code == 0, result.output
    assert "conv_in   Conv2d  (8, 4, 3, 3)  (36, 1, 12, 4)  channels_last  ok      channels_last" in (
        result.stdout)
    assert "): match; output is channels_last" in result.stdout


def test_inputs_as_a_plain_tuple_are_the_positional_arguments():
    code, report = verify_json(f"{PASSING}:SmallNet", "--inputs", f"{PASSING}:small_inputs")
    assert code == 0
    assert {row["kernel"] for row in report["targets"][0]["rows"]} == {"channels_last"}


def test_the_kernels_of_transposed_and_3d_convs_get_their_ranks_layout():
    code, report = verify_json(f"{PASSING}:transposed_and_3d", "--input-shape", "1,3,8,8",
                               "--memory-format", "channels_last", "--memory-format", "channels_last_3d")
    assert code == 0
    rows = [(r["type"], r["status"], r["kernel"]) for r in report["targets"][0]["rows"]]
    assert rows == [("ConvTranspose2d", "ok", "channels_last"), ("Conv3d", "ok", "channels_last_3d")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--inputs", f"{FAMILIES}:nothing"], f"{FAMILIES} has no attribute 'nothing'"),
        (["--inputs", "fixtures/models/absent.py:make"], "no such file: fixtures/models/absent.py"),
        (["--inputs", f"{FAMILIES}:X"], "--inputs X is of type Tensor, not a function"),
        (["--inputs", f"{FAMILIES}:unet_inputs", "--input-shape", "1,3,8,8"], "cannot be used together"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(args, message):
    result = verify(f"{FAMILIES}:TinyUNet", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_the_evidence_lists_the_non_conv_tensors_model_to_restrides():
    code, report = verify_json(f"{FAMILIES}:NonConvTensors", "--input-shape", "1,3,8,8")
    assert code == 0
    target = report["targets"][0]
    assert target["changed"] == []  # the targeted conversion leaves them
    evidence = target["whole_model_to"]
    assert evidence["memory_format"] == "channels_last" and evidence["error"] is None
    assert [(c["tensor"], c["shape"], c["after"]) for c in evidence["restrided"]] == [
        ("pos_embed", [1, 4, 4, 8], "channels_last"), ("grn_gamma", [1, 1, 1, 8], "channels_last"),
    ]
    human = verify(f"{FAMILIES}:NonConvTensors").stdout
    assert ("evidence: model.to(memory_format=channels_last), measured on a copy: restrides "
            "2 non-conv tensors:") in human
    assert "  pos_embed  (1, 4, 4, 8)  contiguous_format -> channels_last" in human


def test_the_evidence_says_model_to_raises_on_a_model_with_3d_convs():
    code, report = verify_json(f"{PASSING}:MixedNet")
    assert code == 0
    evidence = report["targets"][0]["whole_model_to"]
    assert evidence["error"].startswith("RuntimeError: required rank 4 tensor")
    assert report["targets"][0]["summary"].endswith("; model.to() raises")


def test_without_torch_verify_says_what_to_install():
    code = ("import sys; sys.modules['torch'] = None; from click.testing import CliRunner; "
            "from convlint.cli import main; "
            "r = CliRunner().invoke(main, ['verify', 'fixtures/models/passing.py:SmallNet']); "
            "print(r.exit_code); print(r.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=False)
    assert result.stdout.splitlines()[:2] == [
        "2",
        f"convlint verify: error: {PASSING}:SmallNet: convlint verify needs torch: "
        "pip install torch (or pip install 'convlint[torch]')",
    ]


def test_a_missing_target_file_is_reported_without_importing_torch_or_starting_a_process():
    code = ("import multiprocessing, sys; from convlint.verify import run_verify; "
            "from convlint.verdicts import VerifyOptions; "
            "c = run_verify(['fixtures/models/absent.py:Net'], VerifyOptions()); "
            "print(c, 'torch' in sys.modules, multiprocessing.active_children())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=False)
    assert result.stdout.split() == ["2", "False", "[]"], result.stderr
    assert "no such file: fixtures/models/absent.py" in result.stderr


class Recorder(nn.Module):
    def __init__(self, name: str, calls: list[str]) -> None:
        super().__init__()
        self.name, self.calls = name, calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(self.name)
        return x


def test_bench_interleaves_the_variants_round_by_round():
    from convlint import checker

    calls: list[str] = []
    variants = [(name, lambda name=name: (Recorder(name, calls), ((torch.ones(1),), {})))
                for name in "ABC"]
    rows, _ = checker._bench(variants, 0.02, lambda step, announce=False: None)

    runs = [name for index, name in enumerate(calls) if index == 0 or calls[index - 1] != name]
    assert len(runs) >= 3 * 6  # the warm-up, then at least five rounds
    assert runs == list("ABC") * (len(runs) // 3)
    assert [row.runs for row in rows] == [len(runs) // 3 - 1] * 3


def test_bench_warns_when_a_variants_iqr_is_over_a_quarter_of_its_median():
    from convlint import checker
    from convlint.verdicts import BenchRow

    steady, noisy = BenchRow("steady"), BenchRow("noisy")
    assert checker._summarize(steady, [0.010, 0.011, 0.010, 0.012, 0.011]) is None
    assert steady.median_ms == pytest.approx(11.0) and steady.runs == 5
    warning = checker._summarize(noisy, [0.010, 0.020, 0.010, 0.030, 0.011])
    assert warning.startswith("--bench: noisy: the IQR (10.000 ms) is over a quarter of the median")


def test_a_forward_that_breaks_under_the_kernel_recording_is_compared_without_it():
    code, report = verify_json(f"{FAMILIES}:RefusesDispatchModes", "--input-shape", "1,3,8,8")
    assert code == 0
    target = report["targets"][0]
    assert target["output"]["match"]
    assert [row["kernel"] for row in target["rows"]] == [""]
    assert ("the conv kernels' layouts were not recorded: RuntimeError: no dispatch modes here"
            in target["notes"])
