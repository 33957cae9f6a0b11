"""The zoo: convlint.runtime and `convlint verify` on real architectures (not a test).

Builds 30+ architectures from their configs with transformers and diffusers (no weights are
downloaded; the configs are shrunk so that each runs on a CPU in seconds) and, for each:
conv weights by rank, what whole-model `.to(memory_format=...)` restrides or whether it
raises, verify's verdict with both converters, the layout each conv kernel receives, and
the runtime's first/second call time and bytes copied against PyTorch's converter.

Run by hand: `python benchmarks/zoo.py [--only NAME ...] [--before PATH]`; `--before` also
runs `convlint verify` from another checkout (e.g. main before a change) on the same
targets. Results go in benchmarks/RESULTS.md. Each entry is also a verify target:
`convlint verify benchmarks/zoo.py:resnet --input-shape 1,3,64,64`, and those that need
several inputs have a `NAME_inputs` function for `--inputs`.

Needs `pip install transformers diffusers` beside torch (they do not replace it). timm is
not in the zoo: no torchvision that imports beside torch 2.13.0+cpu installs (see RESULTS).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent

# The factories import nothing of convlint: `--before` runs another checkout's verify on them.
warnings.filterwarnings("ignore")


@dataclass(frozen=True)
class Arch:
    name: str
    library: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...] | None = None  # a single random tensor
    inputs: Callable[[], tuple] | None = None  # (args, kwargs) for --inputs


ZOO: dict[str, Arch] = {}


def arch(name: str, library: str, input_shape: tuple[int, ...] | None = None,
         inputs: Callable[[], tuple] | None = None):
    """Register a factory: it becomes the verify target `benchmarks/zoo.py:NAME`."""
    def register(build: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        def seeded() -> nn.Module:
            torch.manual_seed(0)
            return build()

        ZOO[name] = Arch(name, library, seeded, input_shape, inputs)
        globals()[name] = seeded
        if inputs is not None:
            globals()[f"{name}_inputs"] = inputs
        return seeded
    return register


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


# --- transformers ------------------------------------------------------------------------

def _hf(model: str, config: str, **kwargs) -> nn.Module:
    import transformers

    return getattr(transformers, model)(getattr(transformers, config)(**kwargs))


IMAGE = (1, 3, 64, 64)
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)

arch("resnet", "transformers", IMAGE)(lambda: _hf(
    "ResNetModel", "ResNetConfig", embedding_size=16, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 1, 1]))
arch("convnext", "transformers", IMAGE)(lambda: _hf(
    "ConvNextModel", "ConvNextConfig", hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1]))
arch("convnextv2", "transformers", IMAGE)(lambda: _hf(
    "ConvNextV2Model", "ConvNextV2Config", hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1]))
arch("regnet", "transformers", IMAGE)(lambda: _hf(
    "RegNetModel", "RegNetConfig", embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1],
    groups_width=8))
arch("bit", "transformers", IMAGE)(lambda: _hf(
    "BitModel", "BitConfig", embedding_size=16, hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 1, 1],
    num_groups=8))
arch("mobilenet_v1", "transformers", IMAGE)(lambda: _hf(
    "MobileNetV1Model", "MobileNetV1Config", image_size=64, depth_multiplier=0.25))
arch("mobilenet_v2", "transformers", IMAGE)(lambda: _hf(
    "MobileNetV2Model", "MobileNetV2Config", image_size=64, depth_multiplier=0.35))
arch("mobilevit", "transformers", IMAGE)(lambda: _hf(
    "MobileViTModel", "MobileViTConfig", image_size=64, hidden_sizes=[32, 48, 64],
    neck_hidden_sizes=[8, 16, 24, 24, 32, 40, 80]))
arch("mobilevitv2", "transformers", IMAGE)(lambda: _hf(
    "MobileViTV2Model", "MobileViTV2Config", image_size=64, width_multiplier=0.25))
arch("efficientnet", "transformers", IMAGE)(lambda: _hf(
    "EfficientNetModel", "EfficientNetConfig", image_size=64, width_coefficient=0.25,
    depth_coefficient=0.25, hidden_dim=320))
arch("poolformer", "transformers", IMAGE)(lambda: _hf(
    "PoolFormerModel", "PoolFormerConfig", hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1]))
arch("segformer", "transformers", IMAGE)(lambda: _hf(
    "SegformerModel", "SegformerConfig", hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1],
    decoder_hidden_size=64))
arch("cvt", "transformers", IMAGE)(lambda: _hf(
    "CvtModel", "CvtConfig", embed_dim=[16, 32, 64], depth=[1, 2, 3], num_heads=[1, 2, 4]))
arch("levit", "transformers", IMAGE)(lambda: _hf(
    "LevitModel", "LevitConfig", image_size=64, hidden_sizes=[32, 48, 64], num_attention_heads=[1, 2, 2],
    depths=[1, 1, 1], key_dim=[8, 8, 8]))
arch("pvt_v2", "transformers", IMAGE)(lambda: _hf(
    "PvtV2Model", "PvtV2Config", hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1],
    num_attention_heads=[1, 2, 4, 8]))
arch("focalnet", "transformers", IMAGE)(lambda: _hf(
    "FocalNetModel", "FocalNetConfig", image_size=64, embed_dim=16, depths=[1, 1, 1, 1]))
arch("swin", "transformers", IMAGE)(lambda: _hf(
    "SwinModel", "SwinConfig", image_size=64, embed_dim=16, depths=[1, 1, 1, 1],
    num_heads=[1, 2, 2, 4], window_size=2))
arch("swinv2", "transformers", IMAGE)(lambda: _hf(
    "Swinv2Model", "Swinv2Config", image_size=64, embed_dim=16, depths=[1, 1, 1, 1],
    num_heads=[1, 2, 2, 4], window_size=2))
arch("vit", "transformers", IMAGE)(lambda: _hf("ViTModel", "ViTConfig", image_size=64, patch_size=8, **SMALL))
arch("deit", "transformers", IMAGE)(lambda: _hf("DeiTModel", "DeiTConfig", image_size=64, patch_size=8, **SMALL))
arch("beit", "transformers", IMAGE)(lambda: _hf("BeitModel", "BeitConfig", image_size=64, patch_size=8, **SMALL))
arch("dinov2", "transformers", IMAGE)(lambda: _hf("Dinov2Model", "Dinov2Config", image_size=64, patch_size=8, **SMALL))
arch("vitdet", "transformers", IMAGE)(lambda: _hf(
    "VitDetModel", "VitDetConfig", image_size=64, patch_size=8, pretrain_image_size=64, **SMALL))
arch("hiera", "transformers", IMAGE)(lambda: _hf(
    "HieraModel", "HieraConfig", image_size=[64, 64], embed_dim=16, depths=[1, 1, 1, 1],
    num_heads=[1, 1, 2, 2]))
arch("dpt", "transformers", IMAGE)(lambda: _hf(
    "DPTModel", "DPTConfig", image_size=64, patch_size=8, **SMALL))
arch("videomae", "transformers", (1, 4, 3, 32, 32))(lambda: _hf(
    "VideoMAEModel", "VideoMAEConfig", image_size=32, patch_size=8, num_frames=4, tubelet_size=2, **SMALL))
arch("vivit", "transformers", (1, 4, 3, 32, 32))(lambda: _hf(
    "VivitModel", "VivitConfig", image_size=32, num_frames=4, tubelet_size=[2, 8, 8], **SMALL))
arch("timesformer", "transformers", (1, 4, 3, 32, 32))(lambda: _hf(
    "TimesformerModel", "TimesformerConfig", image_size=32, patch_size=8, num_frames=4, **SMALL))


def _traced(name: str, freeze: bool = False) -> torch.jit.ScriptModule:
    """A zoo model in TorchScript form, as deployment code ships it: traced (and frozen)."""
    model = ZOO[name].build().eval()
    model.config.torchscript = True  # tuples instead of ModelOutput, as tracing needs
    with torch.no_grad():
        traced = torch.jit.trace(model, _randn(*ZOO[name].input_shape), strict=False)
    return torch.jit.freeze(traced) if freeze else traced


arch("resnet_traced", "transformers", IMAGE)(lambda: _traced("resnet"))
arch("resnet_frozen", "transformers", IMAGE)(lambda: _traced("resnet", freeze=True))
arch("mobilenet_v2_traced", "transformers", IMAGE)(lambda: _traced("mobilenet_v2"))


# --- diffusers ---------------------------------------------------------------------------

def _df(model: str, **config) -> nn.Module:
    import diffusers

    return getattr(diffusers, model)(**config)


LATENT = (1, 4, 16, 16)
BLOCKS = dict(block_out_channels=(32, 64), norm_num_groups=8, layers_per_block=1)


def unet_inputs():
    return (_randn(1, 4, 16, 16), torch.tensor([10])), {"encoder_hidden_states": _randn(1, 7, 32)}


def unet2d_inputs():
    return (_randn(1, 4, 16, 16), torch.tensor([10])), {}


def unet3d_inputs():
    return (_randn(1, 4, 2, 16, 16), torch.tensor([10])), {"encoder_hidden_states": _randn(1, 7, 32)}


def controlnet_inputs():
    (sample, timestep), kwargs = unet_inputs()
    return (sample, timestep), {**kwargs, "controlnet_cond": _randn(1, 3, 128, 128)}


def dit_inputs():
    return (_randn(1, 4, 16, 16),), {"timestep": torch.tensor([10]), "class_labels": torch.tensor([1])}


def svd_decoder_inputs():
    return (_randn(2, 4, 8, 8), torch.zeros(1, 2)), {"num_frames": 2}


def sd3_inputs():
    return (_randn(1, 4, 16, 16),), {"encoder_hidden_states": _randn(1, 7, 32),
                                      "pooled_projections": _randn(1, 16), "timestep": torch.tensor([10])}


arch("unet2d", "diffusers", inputs=unet2d_inputs)(lambda: _df(
    "UNet2DModel", sample_size=16, in_channels=4, out_channels=4, attention_head_dim=8,
    down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"), **BLOCKS))
arch("unet2d_condition", "diffusers", inputs=unet_inputs)(lambda: _df(
    "UNet2DConditionModel", sample_size=16, in_channels=4, out_channels=4, cross_attention_dim=32,
    attention_head_dim=8, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), **BLOCKS))
arch("controlnet", "diffusers", inputs=controlnet_inputs)(lambda: _df(
    "ControlNetModel", in_channels=4, cross_attention_dim=32, attention_head_dim=8,
    conditioning_embedding_out_channels=(8, 16, 32, 32),
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), **BLOCKS))
arch("unet3d_condition", "diffusers", inputs=unet3d_inputs)(lambda: _df(
    "UNet3DConditionModel", sample_size=16, in_channels=4, out_channels=4, cross_attention_dim=32,
    attention_head_dim=8, block_out_channels=(32, 64), norm_num_groups=8, layers_per_block=1,
    down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D")))
arch("autoencoder_kl", "diffusers", (1, 3, 32, 32))(lambda: _df(
    "AutoencoderKL", in_channels=3, out_channels=3, latent_channels=4,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), **BLOCKS))
arch("vq_model", "diffusers", (1, 3, 32, 32))(lambda: _df(
    "VQModel", in_channels=3, out_channels=3, latent_channels=4, num_vq_embeddings=32,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), **BLOCKS))
arch("autoencoder_tiny", "diffusers", (1, 3, 32, 32))(lambda: _df(
    "AutoencoderTiny", encoder_block_out_channels=(16, 16, 16, 16), decoder_block_out_channels=(16, 16, 16, 16),
    num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1)))
arch("svd_temporal_decoder", "diffusers", inputs=svd_decoder_inputs)(lambda: _df(
    "AutoencoderKLTemporalDecoder", in_channels=3, out_channels=3, latent_channels=4,
    block_out_channels=(32, 64), layers_per_block=1,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D")).decoder)
arch("dit", "diffusers", inputs=dit_inputs)(lambda: _df(
    "DiTTransformer2DModel", num_attention_heads=2, attention_head_dim=16, in_channels=4, num_layers=2,
    sample_size=16, patch_size=2, num_embeds_ada_norm=10, norm_num_groups=8))
arch("sd3_transformer", "diffusers", inputs=sd3_inputs)(lambda: _df(
    "SD3Transformer2DModel", sample_size=16, patch_size=2, in_channels=4, num_layers=2, attention_head_dim=16,
    num_attention_heads=2, joint_attention_dim=32, caption_projection_dim=32, pooled_projection_dim=16,
    out_channels=4, pos_embed_max_size=16))


# --- measuring ---------------------------------------------------------------------------


def conv_ranks(model: nn.Module) -> dict[int, int]:
    from convlint.convs import classify_conv, graph_conv_constants, walk_modules

    counts: dict[int, int] = {}
    for _, module in walk_modules(model):
        conv = classify_conv(module)
        ranks = [conv.rank] if conv is not None else []
        ranks += [constant.dim() for _, constant in graph_conv_constants(module)]
        for rank in ranks:
            counts[rank] = counts.get(rank, 0) + 1
    return counts


def convert_torch(model: nn.Module, ranks: dict[int, int]) -> None:
    if 4 in ranks:
        torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)
    if 5 in ranks:
        torch.nn.utils.convert_conv3d_weight_memory_format(model, torch.channels_last_3d)


def convert_convlint(model: nn.Module, ranks: dict[int, int]) -> None:
    from convlint import runtime

    runtime.convert_conv_weights(model)


def time_runtime(entry: Arch, ranks: dict[int, int], repeats: int) -> dict[str, tuple[float, float, int]]:
    """Median first/second call (ms) and the bytes the first call allocates, per converter;
    the converters alternate, each on a freshly built model."""
    from benchmarks.bench_runtime import CountAllocations

    converters = {"torch": convert_torch, "convlint": convert_convlint}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in converters}
    for repeat in range(repeats):
        for name in (list(converters) if repeat % 2 == 0 else list(reversed(converters))):
            model = entry.build()
            gc.collect()
            times = []
            for _ in range(2):
                start = time.perf_counter()
                converters[name](model, ranks)
                times.append(time.perf_counter() - start)
            runs[name].append((times[0], times[1]))
    result = {}
    for name, convert in converters.items():
        model = entry.build()
        with CountAllocations() as counter:
            convert(model, ranks)
        result[name] = (statistics.median(r[0] for r in runs[name]) * 1e3,
                        statistics.median(r[1] for r in runs[name]) * 1e3, counter.bytes)
    return result


def input_args(entry: Arch, new: bool) -> tuple[str, ...]:
    """The input flags of an entry; the old verify (`new` False) has no --inputs."""
    if entry.input_shape:
        return ("--input-shape", ",".join(map(str, entry.input_shape)))
    if entry.inputs is not None and new:
        return ("--inputs", f"{Path(__file__).resolve()}:{entry.name}_inputs")
    return ()


def verify_all(names: list[str], checkout: Path, new: bool, *extra: str) -> dict[str, dict]:
    """`python -m convlint verify` of a checkout on the entries, one run per set of input
    flags (one torch import for many targets); one run per target for the old verify, where
    one target's internal error ends the run. channels_last comes first, so that the
    evidence is what the linter flags, `model.to(memory_format=torch.channels_last)`, also on
    3-D models; 5-D convs are checked for channels_last_3d."""
    groups: dict[tuple, list[str]] = {}
    for name in names:
        key = input_args(ZOO[name], new)
        groups.setdefault(key if new else (*key, name), []).append(name)
    zoo = Path(__file__).resolve()
    results = {}
    for members in groups.values():
        flags = input_args(ZOO[members[0]], new)
        args = [*(f"{zoo}:{name}" for name in members), "--output-format", "json", "--timeout",
                "600", "--memory-format", "channels_last", "--memory-format", "channels_last_3d",
                *flags, *extra]
        targets = run_verify(args, checkout)
        results.update(zip(members, targets))
    return results


def run_verify(args: list[str], checkout: Path) -> list[dict]:
    """`python -m convlint verify` of a checkout, run in it (so that its convlint is the one
    imported): the JSON targets, or one error entry per target when there is no JSON."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-m", "convlint", "verify", *args], cwd=checkout, env=env,
                          capture_output=True, text=True, check=False)
    try:
        return json.loads(done.stdout)["targets"]
    except (json.JSONDecodeError, KeyError):
        line = (done.stderr.strip().splitlines() or ["no output"])[-1]
        count = sum(1 for arg in args if arg.endswith(tuple(f":{name}" for name in ZOO)))
        return [{"exit_code": done.returncode, "error": line[-160:], "rows": []}] * count


def verdict(target: dict) -> str:
    if target.get("error"):
        return f"ERROR ({target['error'][:70]})"
    counts: dict[str, int] = {}
    for row in target["rows"]:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    bad = {status: count for status, count in counts.items() if status != "ok"}
    word = "PASS" if target["exit_code"] == 0 else "FAIL"
    details = ", ".join(f"{count} {status}" for status, count in bad.items())
    problems = [p for p in target.get("problems", []) if not p.startswith("--strict")]
    if problems:
        details = ", ".join(filter(None, [details, "; ".join(p[:60] for p in problems)]))
    return f"{word}" + (f" ({details})" if details else "")


def evidence(target: dict) -> str:
    whole = target.get("whole_model_to")
    if not whole:
        return "-"
    if whole.get("error"):
        return "raises: " + whole["error"].split(":")[0] + (": " + whole["error"].split(": ", 1)[1][:40]
                                                           if ": " in whole["error"] else "")
    restrided, missed = whole["restrided"], whole.get("missed", [])
    misses = f"; misses {len(missed)} conv weights" if missed else ""
    if not restrided:
        return "restrides nothing else" + misses
    listed = ", ".join(f"{c['tensor']} {tuple(c['shape'])}" for c in restrided[:2])
    more = f" +{len(restrided) - 2}" if len(restrided) > 2 else ""
    return f"restrides {len(restrided)}: {listed}{more}{misses}"


def kernel_check(target: dict) -> str:
    rows = target.get("rows", [])
    kernels = [row.get("kernel", "") for row in rows if row["status"] not in (
        "not a conv (left as is)", "not a conv (changed)")]
    if not any(kernels):
        return "-"
    computed = sum(row["status"] == "computed contiguous at run time" for row in rows)
    not_called = sum(kernel == "not called" for kernel in kernels)
    parts = [f"{sum(1 for row, k in zip(rows, kernels) if k and k != 'not called' and row['status'] == 'ok')} ok"]
    if computed:
        parts.append(f"{computed} computed contiguous")
    if not_called:
        parts.append(f"{not_called} not called")
    return ", ".join(parts)


def diff(target: dict) -> str:
    output = target.get("output")
    if not output:
        return "-"
    whole = (target.get("whole_model_to") or {}).get("output_diff")
    reference = f" / {whole:.1g}" if whole is not None else " / -"
    return f"{output['relative']:.1g}{reference}" if output["relative"] is not None else "nan"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="names of the zoo entries to run")
    parser.add_argument("--before", type=Path, help="a checkout whose verify to run as 'before'")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    names = args.only or list(ZOO)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    header = ("model", "library", "convs 3-D/4-D/5-D", "model.to(channels_last), on a copy",
              *(("verify before",) if args.before else ()), "verify --convert torch",
              "verify (convlint)", "kernels got (convlint)", "output diff: rel / .to() abs",
              "1st call ms convlint/torch", "2nd call ms convlint/torch", "MiB copied convlint/torch")
    rows, raw = [header], {}
    ours = verify_all(names, ROOT, True)
    theirs = verify_all(names, ROOT, True, "--convert", "torch")
    before = verify_all(names, args.before, False) if args.before else {}
    for name in names:
        entry = ZOO[name]
        with contextlib.redirect_stdout(io.StringIO()):
            ranks = conv_ranks(entry.build())
        timing = time_runtime(entry, ranks, args.repeats)
        raw[name] = {"ranks": ranks, "convlint": ours[name], "torch": theirs[name],
                     "before": before.get(name), "timing": timing}
        (cf, cs, cb), (tf, ts, tb) = timing["convlint"], timing["torch"]
        row = (name, entry.library, "/".join(str(ranks.get(r, 0)) for r in (3, 4, 5)), evidence(ours[name]),
               *((verdict(before[name]),) if args.before else ()), verdict(theirs[name]),
               verdict(ours[name]), kernel_check(ours[name]), diff(ours[name]),
               f"{cf:.1f} / {tf:.1f}", f"{cs:.2f} / {ts:.1f}", f"{cb / 2**20:.2f} / {tb / 2**20:.2f}")
        rows.append(row)
        print(" | ".join(row), flush=True)
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows[1:]:
        print("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str))


if __name__ == "__main__":
    main()
