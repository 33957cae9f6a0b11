"""Benchmark: convlint.runtime against torch.nn.utils' converter (first call, second call, memory).

Not a test. Run `python benchmarks/bench_runtime.py [--repeats N]` on an idle machine (Linux:
it reads /proc/self/status). Runs are interleaved (the converters alternate, each on a freshly
built model) and medians are printed, with convlint/torch ratios to hold against the
issue's targets (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import convlint.runtime

CONVERTERS: dict[str, Callable[[nn.Module, torch.memory_format], nn.Module]] = {
    "torch": torch.nn.utils.convert_conv2d_weight_memory_format,
    "convlint": convlint.runtime.convert_conv2d_weight_memory_format,
}
_ALLOCATING_OPS = {"clone", "empty_like", "empty", "empty_strided", "_to_copy"}


def resnet50_like() -> nn.Sequential:
    """ResNet-50's conv stack (53 convs, 25.5 M parameters) without torchvision."""

    def bottleneck(in_channels: int, width: int, stride: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(in_channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4),
        )

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)]
    in_channels = 64
    for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for block in range(blocks):
            layers.append(bottleneck(in_channels, width, stride if block == 0 else 1))
            if block == 0:  # the projection shortcut
                layers.append(nn.Conv2d(in_channels, width * 4, 1, stride, bias=False))
            in_channels = width * 4
    layers.append(nn.Linear(2048, 1000))
    return nn.Sequential(*layers)


def tiny_convs() -> nn.Sequential:
    return nn.Sequential(*(nn.Conv2d(4, 4, 3) for _ in range(5000)))


MODELS = {
    "(a) ResNet-50-like": resnet50_like,
    "(b) 5,000 tiny convs": tiny_convs,
}


def memory(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


class CountAllocations(TorchDispatchMode):
    """Sums the bytes of tensors that allocating aten ops return."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if func._opname in _ALLOCATING_OPS and isinstance(result, torch.Tensor):
            self.bytes += result.numel() * result.element_size()
        return result


def time_calls(build: Callable[[], nn.Module], convert: Callable) -> tuple[float, float]:
    """Seconds the first and the second call take on a freshly built model."""
    model = build()
    gc.collect()
    times = []
    for _ in range(2):
        start = time.perf_counter()
        convert(model, torch.channels_last)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def bytes_allocated(build: Callable[[], nn.Module], convert: Callable) -> tuple[int, int]:
    """Bytes the first and the second call allocate (a separate, untimed pass)."""
    model = build()
    counts = []
    for _ in range(2):
        with CountAllocations() as counter:
            convert(model, torch.channels_last)
        counts.append(counter.bytes)
    return counts[0], counts[1]


def peak_extra_memory(model_name: str, converter: str) -> dict[str, int]:
    """Peak resident memory above the start during a first call, in a fresh process."""
    command = [sys.executable, __file__, "--peak", model_name, converter]
    return json.loads(subprocess.run(command, capture_output=True, check=True, text=True).stdout)


def measure_peak(model_name: str, converter: str) -> None:
    # Large blocks come from mmap and go back to the OS when freed, so the resident-set peak
    # measures what is alive at once rather than what glibc's heap happens to keep.
    ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD
    model = MODELS[model_name]()
    gc.collect()
    tracemalloc.start()  # sees the converter's Python objects (e.g. its report), not tensors
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets VmHWM to the current VmRSS
    resident = memory("VmRSS")
    CONVERTERS[converter](model, torch.channels_last)
    peak = memory("VmHWM") - resident
    print(json.dumps({"peak": peak, "python": tracemalloc.get_traced_memory()[1]}))


def largest_weight(model: nn.Module) -> int:
    return max(p.numel() * p.element_size() for p in model.parameters())


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--peak", nargs=2, metavar=("MODEL", "CONVERTER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:
        measure_peak(*args.peak)
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.repeats} interleaved runs per cell, medians; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    rows = [("model", "converter", "1st call", "2nd call", "2nd/1st", "allocated 1st/2nd",
             "peak extra (of it Python)", "largest weight")]
    ratios = {}
    for model_name, build in MODELS.items():
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in CONVERTERS}
        for repeat in range(args.repeats):
            order = list(CONVERTERS) if repeat % 2 == 0 else list(reversed(CONVERTERS))
            for name in order:
                runs[name].append(time_calls(build, CONVERTERS[name]))
        biggest = largest_weight(build())
        medians = {}
        for name, convert in CONVERTERS.items():
            first = statistics.median(run[0] for run in runs[name])
            second = statistics.median(run[1] for run in runs[name])
            medians[name] = (first, second)
            allocated = bytes_allocated(build, convert)
            peak = peak_extra_memory(model_name, name)
            rows.append((model_name, name, f"{first * 1e3:.1f} ms", f"{second * 1e3:.2f} ms",
                         f"{second / first:.3f}", f"{mib(allocated[0])} / {mib(allocated[1])}",
                         f"{mib(peak['peak'])} ({mib(peak['python'])})", mib(biggest)))
        ratios[model_name] = (medians["convlint"][0] / medians["torch"][0],
                              medians["convlint"][1] / medians["torch"][1])
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print()
    for model_name, (first_ratio, second_ratio) in ratios.items():
        print(f"{model_name}: convlint/torch first call {first_ratio:.2f}x, "
              f"second call {second_ratio:.3f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
