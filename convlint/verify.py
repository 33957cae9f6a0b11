"""`convlint verify`: import a user's model, convert it, and check every conv weight's strides.

It runs the target's code (imports it, calls its factory, runs forward passes), as pytest
runs a test suite. The CLI only parses flags and calls `run_verify`.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import importlib
import importlib.util
import io
import json
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

with warnings.catch_warnings():
    # torch warns on import when numpy is missing; verify's report must stay one clean
    # line per problem, and nothing here needs numpy.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
from torch import nn
from torch.ao.nn.quantized.modules.conv import _ConvNd as _QuantizedConvNd
from torch.nn.modules.conv import _ConvNd
from torch.nn.parameter import is_lazy

from convlint.runtime import (
    FORMAT_NAMES,
    conv_weight,
    convert_and_report,
    layout_of,
    walk_modules,
    why_not_convertible,
)

OK = "ok"
NOT_CONVERTED = "not converted"
PARAMETRIZED = "parametrized"
LAZY = "lazy"
QUANTIZED = "quantized"
NOT_A_CONV = "not a conv (left as is)"
NOT_A_CONV_CHANGED = "not a conv (changed)"
NON_CONV_STATUSES = (NOT_A_CONV, NOT_A_CONV_CHANGED)

EXIT_OK, EXIT_FAILED, EXIT_BAD_TARGET = 0, 1, 2

FORMATS_BY_NAME = {"channels_last": (4, torch.channels_last),
                   "channels_last_3d": (5, torch.channels_last_3d)}
DTYPES = {"float32": torch.float32, "float64": torch.float64,
          "float16": torch.float16, "bfloat16": torch.bfloat16}
# (rtol, atol) for comparing outputs before and after conversion: conv kernels for the two
# layouts accumulate in different orders, so outputs differ by rounding, more in low precision.
TOLERANCES = {torch.float64: (1e-7, 1e-7), torch.float32: (1e-4, 1e-5),
              torch.float16: (1e-2, 1e-3), torch.bfloat16: (5e-2, 1e-2)}
_TORCH_CONVERTERS = {4: torch.nn.utils.convert_conv2d_weight_memory_format,
                     5: torch.nn.utils.convert_conv3d_weight_memory_format}
_CAPTURE_LIMIT = 200  # lines of the target's own output kept for --verbose


class TargetError(Exception):
    """The target cannot be loaded or run: exit 2 with this one-line message."""


class TargetTimeout(BaseException):
    """--timeout ran out. A BaseException, so that the target's `except Exception` cannot eat it."""


@dataclass
class WeightRow:
    """One module with a conv-shaped weight, and whether that weight is where it should be."""

    module: str
    type: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    expected: str
    status: str
    note: str = ""
    tensor: str = ""  # the weight's name in the model, e.g. "features.0.weight"


@dataclass
class LayoutChange:
    tensor: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    before: str
    after: str


@dataclass
class OutputCheck:
    max_abs_diff: float
    rtol: float
    atol: float
    match: bool
    channels_last: bool | None  # of the first 4-D/5-D output; None when there is none


@dataclass
class BenchRow:
    variant: str
    median_ms: float | None = None
    iqr_ms: float | None = None
    ratio: float | None = None  # median over the contiguous model's median
    error: str | None = None


@dataclass
class TargetResult:
    target: str
    convert: str
    memory_formats: list[str]
    exit_code: int = EXIT_OK
    error: str | None = None
    rows: list[WeightRow] = field(default_factory=list)
    changed: list[LayoutChange] = field(default_factory=list)
    output: OutputCheck | None = None
    bench: list[BenchRow] | None = None
    problems: list[str] = field(default_factory=list)  # what made it fail, besides the rows
    notes: list[str] = field(default_factory=list)
    captured: list[str] = field(default_factory=list)  # the target's own output, last lines
    traceback: str = ""

    def fail(self, problem: str, exc: BaseException | None = None) -> None:
        self.exit_code = max(self.exit_code, EXIT_FAILED)
        self.problems.append(problem)
        if exc is not None:
            self.traceback += "".join(traceback.format_exception(exc))


@dataclass
class VerifyOptions:
    kwargs: dict = field(default_factory=dict)
    convert: str = "convlint"
    memory_formats: tuple[str, ...] = ("channels_last",)
    input_shape: tuple[int, ...] | None = None
    dtype: str | None = None
    device: str = "cpu"
    bench: bool = False
    bench_seconds: float = 1.0
    timeout: float | None = None


# --- loading the target ------------------------------------------------------------------


def load_target(spec: str, kwargs: Mapping[str, object]) -> nn.Module:
    """Import `package.module:attr` or `path/file.py:attr` and build the module it names."""
    location, _, attr = spec.rpartition(":")
    if not location or not attr:
        raise TargetError("expected MODULE:ATTR or path/to/file.py:ATTR")
    namespace = _import_location(location)
    obj = namespace
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"{location} has no attribute {attr!r}") from None
    if isinstance(obj, nn.Module):
        if kwargs:
            raise TargetError(f"{attr} is a Module instance; --kwargs needs a class or a factory")
        return obj
    if not callable(obj):
        raise TargetError(
            f"{attr} is of type {type(obj).__name__}, not an nn.Module, a Module class or a "
            "function returning one"
        )
    try:
        built = obj(**kwargs)
    except Exception as exc:
        raise TargetError(f"{attr}(...) raised {_one_line(exc)}") from exc
    if not isinstance(built, nn.Module):
        raise TargetError(f"{attr}(...) returned an object of type {type(built).__name__}, "
                          "not an nn.Module")
    return built


def _import_location(location: str) -> object:
    is_file = location.endswith(".py") or "/" in location or os.sep in location
    if is_file:
        path = Path(location).resolve()
        if not path.is_file():
            raise TargetError(f"no such file: {location}")
        name = f"convlint_target_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        # Registered first so that dataclasses and pickling inside the file find the module;
        # the file's folder goes on sys.path so that it can import its siblings.
        sys.modules[name] = module
        with _on_sys_path(str(path.parent)):
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[name]
                raise TargetError(f"importing {location} raised {_one_line(exc)}") from exc
        return module
    with _on_sys_path(os.getcwd()):  # as `python -m` would, also under the console script
        try:
            return importlib.import_module(location)
        except ModuleNotFoundError as exc:
            if exc.name and (location == exc.name or location.startswith(exc.name + ".")):
                raise TargetError(f"no module named {exc.name!r}") from exc
            raise TargetError(f"importing {location} raised {_one_line(exc)}") from exc
        except Exception as exc:
            raise TargetError(f"importing {location} raised {_one_line(exc)}") from exc


@contextlib.contextmanager
def _on_sys_path(folder: str) -> Iterator[None]:
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    if not seconds:
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise TargetTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def timeout_supported() -> bool:
    """--timeout interrupts the target with SIGALRM: POSIX, main thread only."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class _TailBuffer(io.TextIOBase):
    """A text stream that keeps only the last lines written to it: the target's own output."""

    def __init__(self, lines: int) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=lines)
        self._partial = ""
        self.total_lines = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *complete, self._partial = (self._partial + text).split("\n")
        self._lines.extend(complete)
        self.total_lines += len(complete)
        return len(text)

    def tail(self) -> list[str]:
        return [*self._lines, self._partial] if self._partial else list(self._lines)


@contextlib.contextmanager
def _captured(result: TargetResult) -> Iterator[None]:
    """Keep the target's prints out of the report (and JSON output parseable)."""
    buffer = _TailBuffer(_CAPTURE_LIMIT)
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            yield
        finally:
            result.captured = buffer.tail()
            if buffer.total_lines > _CAPTURE_LIMIT:
                earlier = buffer.total_lines - _CAPTURE_LIMIT
                result.captured.insert(0, f"... ({earlier} earlier lines not kept)")


# --- inspecting weights ------------------------------------------------------------------


def inspect_conv_weights(
    model: nn.Module,
    formats: Mapping[int, torch.memory_format],
    baseline: Mapping[str, str] | None = None,
) -> list[WeightRow]:
    """One row per module holding a weight of a rank in `formats`, with its status.

    `formats` maps a weight rank (4, 5) to the memory format expected for it. A non-conv
    module's weight is `not a conv (left as is)` unless its layout differs from `baseline`
    (layout names by tensor name, as `tensor_layouts` gives them; contiguous where absent).
    """
    rows = []
    for path, module in walk_modules(model):
        if isinstance(module, _QuantizedConvNd):
            weight = module.weight()
            if weight.dim() in formats:
                rows.append(_row(path, module, weight, formats[weight.dim()], QUANTIZED,
                                 "its weight is packed by the quantized engine"))
        elif isinstance(module, _ConvNd):
            fmt = formats.get(len(module.kernel_size) + 2)
            if fmt is not None:
                rows.append(_conv_row(path, module, fmt))
        else:
            weight = _stored_weight(module)
            # An unmaterialized LazyLinear has no rank yet: it is no conv and has no layout.
            if weight is not None and not is_lazy(weight) and weight.dim() in formats:
                name = f"{path}.weight" if path else "weight"
                before = (baseline or {}).get(name, "contiguous_format")
                changed = FORMAT_NAMES[layout_of(weight)] != before
                status = NOT_A_CONV_CHANGED if changed else NOT_A_CONV
                row = _row(path, module, weight, None, status, "convlint converts only convs")
                row.tensor = name
                rows.append(row)
    return rows


def _conv_row(path: str, module: nn.Module, fmt: torch.memory_format) -> WeightRow:
    if is_lazy(module._parameters.get("weight")):
        return WeightRow(path, type(module).__name__, (), (), FORMAT_NAMES[fmt], LAZY,
                         "not materialized: pass --input-shape to run it once")
    weight = conv_weight(module)
    computed = "weight" not in module._parameters and _stored_weight(module) is None
    if layout_of(weight) == fmt:
        return _row(path, module, weight, fmt, OK, "computed weight" if computed else "")
    if not computed:
        return _row(path, module, weight, fmt, NOT_CONVERTED)
    reason = why_not_convertible(module, fmt)
    if reason is None:
        return _row(path, module, weight, fmt, NOT_CONVERTED,
                    "computed weight: convlint converts it through its sources")
    return _row(path, module, weight, fmt, PARAMETRIZED, reason)


def _stored_weight(module: nn.Module) -> torch.Tensor | None:
    weight = module._parameters.get("weight")
    return weight if weight is not None else module._buffers.get("weight")


def _row(path: str, module: nn.Module, weight: torch.Tensor, fmt: torch.memory_format | None,
         status: str, note: str = "") -> WeightRow:
    expected = FORMAT_NAMES[fmt] if fmt is not None else "-"
    return WeightRow(path, type(module).__name__, tuple(weight.shape), tuple(weight.stride()),
                     expected, status, note)


def tensor_layouts(model: nn.Module) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], str]]:
    """Shape, strides and layout of every 4-D/5-D parameter and buffer outside the convs.

    Conv weights and the tensors they are computed from (parametrization originals,
    weight_norm's weight_v) are the rows' business, not this list's.
    """
    layouts = {}
    inside_convs: set[int] = set()
    for path, module in walk_modules(model):
        if isinstance(module, (_ConvNd, _QuantizedConvNd)):
            inside_convs.update(id(child) for _, child in walk_modules(module))
        if id(module) in inside_convs:
            continue
        for name, tensor in [*module._parameters.items(), *module._buffers.items()]:
            if tensor is not None and tensor.dim() in (4, 5) and not is_lazy(tensor):
                key = f"{path}.{name}" if path else name
                layouts[key] = (tuple(tensor.shape), tuple(tensor.stride()),
                                FORMAT_NAMES[layout_of(tensor)])
    return layouts


# --- running the model -------------------------------------------------------------------


def _tensors(output: object) -> list[torch.Tensor]:
    """The tensors in a forward's output (nested tuples, lists and dicts), in order."""
    found, pending = [], [output]
    while pending:
        item = pending.pop()
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            pending.extend(reversed(item))
        elif isinstance(item, dict):
            pending.extend(reversed(list(item.values())))
    return found


def _forward(model: nn.Module, x: torch.Tensor, timeout: float | None) -> list[torch.Tensor]:
    with torch.no_grad(), _time_limit(timeout):
        return [t.detach().clone() for t in _tensors(model(x))]


def compare_outputs(before: list[torch.Tensor], after: list[torch.Tensor],
                    dtype: torch.dtype) -> OutputCheck:
    rtol, atol = TOLERANCES.get(dtype, TOLERANCES[torch.float32])
    match = len(before) == len(after)
    largest = [torch.zeros((), dtype=torch.float64)]
    for old, new in zip(before, after):
        if old.shape != new.shape:
            match = False
            continue
        diff = (new.double() - old.double()).abs()
        largest.append(diff.max() if diff.numel() else largest[0])
        # NaN compares False, so a NaN anywhere is a mismatch
        match = match and bool((diff <= atol + rtol * old.double().abs()).all())
    shaped = [t for t in after if t.dim() in (4, 5)]
    channels_last = layout_of(shaped[0]) != torch.contiguous_format if shaped else None
    max_diff = torch.stack(largest).max().item()  # torch's max propagates NaN; Python's does not
    return OutputCheck(max_diff, rtol, atol, match, channels_last)


def _random_input(shape: tuple[int, ...], dtype: torch.dtype, device: str) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator, dtype=torch.float32)
    return x.to(device=device, dtype=dtype)


def _model_dtype(model: nn.Module) -> torch.dtype:
    for _, module in walk_modules(model):
        for tensor in [*module._parameters.values(), *module._buffers.values()]:
            if tensor is not None and tensor.is_floating_point() and not is_lazy(tensor):
                return tensor.dtype
    return torch.float32


# --- conversion --------------------------------------------------------------------------


def _convert(model: nn.Module, convert: str, formats: Mapping[int, torch.memory_format],
             result: TargetResult) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if convert == "convlint":
                report = convert_and_report(model, "channels_last", ranks=sorted(formats))
                result.notes.append(f"convlint: {report.summary()}")
            elif convert == "torch":
                for rank, fmt in formats.items():
                    _TORCH_CONVERTERS[rank](model, fmt)
        except Exception as exc:
            name = "convlint's" if convert == "convlint" else "PyTorch's"
            result.fail(f"{name} converter raised {_one_line(exc)}", exc)
    result.notes.extend(str(w.message) for w in caught if w.category is not DeprecationWarning)


def _unchecked_convs(model: nn.Module, formats: Mapping[int, torch.memory_format]) -> str | None:
    ranks = (len(m.kernel_size) + 2 for _, m in walk_modules(model) if isinstance(m, _ConvNd))
    others = collections.Counter(rank for rank in ranks if rank in (4, 5) and rank not in formats)
    if not others:
        return None
    names = {4: "channels_last", 5: "channels_last_3d"}
    listed = ", ".join(f"{count} {rank}-D" for rank, count in sorted(others.items()))
    flags = " ".join(f"--memory-format {names[rank]}" for rank in sorted(others))
    return f"{listed} conv weight(s) not checked: add {flags}"


# --- benchmark ---------------------------------------------------------------------------


def _bench(variants: list[tuple[str, Callable[[], tuple[nn.Module, torch.Tensor]]]],
           seconds: float, progress: Callable[[str], None]) -> list[BenchRow]:
    from torch.utils import benchmark  # only --bench pays for it

    rows = []
    for number, (name, prepare) in enumerate(variants, 1):
        progress(f"convlint verify: timing {name} ({number}/{len(variants)})")
        try:
            model, x = prepare()
            timer = benchmark.Timer(stmt="model(x)", globals={"model": model, "x": x},
                                    num_threads=torch.get_num_threads())
            with torch.no_grad():
                measurement = timer.blocked_autorange(min_run_time=seconds)
        except Exception as exc:  # one variant failing (e.g. .to() on 5-D weights) is a result
            rows.append(BenchRow(name, error=str(exc) if isinstance(exc, TargetError)
                                 else _one_line(exc)))
            continue
        rows.append(BenchRow(name, measurement.median * 1e3, measurement.iqr * 1e3))
    baseline = rows[0].median_ms
    for row in rows:
        if baseline and row.median_ms is not None:
            row.ratio = row.median_ms / baseline
    return rows


def _snapshot(model: nn.Module) -> nn.Module | Exception:
    """A copy of the unconverted model for --bench, or why there is none (a model holding a
    lock cannot be deep-copied): the variants that need it report that."""
    try:
        return copy.deepcopy(model)
    except Exception as exc:
        return exc


def _bench_variants(reference: nn.Module | Exception, converted: nn.Module, x: torch.Tensor,
                    convert: str) -> list[tuple[str, Callable[[], tuple[nn.Module, torch.Tensor]]]]:
    fmt = FORMATS_BY_NAME["channels_last" if x.dim() == 4 else "channels_last_3d"][1]
    x_converted = x.contiguous(memory_format=fmt) if x.dim() in (4, 5) else x
    name = FORMAT_NAMES[fmt]

    def unconverted() -> nn.Module:
        if isinstance(reference, Exception):
            raise TargetError(f"cannot copy the model: {_one_line(reference)}")
        return copy.deepcopy(reference)

    return [
        ("contiguous", lambda: (unconverted(), x)),
        (f"model.to(memory_format={name})",
         lambda: (unconverted().to(memory_format=fmt), x_converted)),
        ("as built" if convert == "none" else f"targeted ({convert})",
         lambda: (converted, x_converted)),
    ]


# --- one target --------------------------------------------------------------------------


def verify_target(spec: str, options: VerifyOptions,
                  progress: Callable[[str], None] = lambda line: None) -> TargetResult:
    """Load, convert, run and inspect one target. The target's own output is captured."""
    formats = dict(FORMATS_BY_NAME[name] for name in options.memory_formats)
    result = TargetResult(spec, options.convert, list(options.memory_formats))
    with _captured(result):
        try:
            _verify(spec, options, formats, result, progress)
        except TargetTimeout:
            result.exit_code, result.error = EXIT_BAD_TARGET, (
                f"timed out after {options.timeout:g} s (--timeout)"
            )
        except TargetError as exc:
            result.exit_code, result.error = EXIT_BAD_TARGET, str(exc)
            if exc.__cause__ is not None:
                result.traceback = "".join(traceback.format_exception(exc.__cause__))
        except SystemExit as exc:
            result.exit_code, result.error = EXIT_BAD_TARGET, f"called sys.exit({exc.code!r})"
            result.traceback = "".join(traceback.format_exception(exc))
    return result


def _verify(spec: str, options: VerifyOptions, formats: dict[int, torch.memory_format],
            result: TargetResult, progress: Callable[[str], None]) -> None:
    with _time_limit(options.timeout):
        model = load_target(spec, options.kwargs)
    dtype = DTYPES[options.dtype] if options.dtype else None
    try:
        model.eval()  # dropout and batch-norm statistics would make outputs differ
        model.to(device=options.device, dtype=dtype)
    except Exception as exc:
        raise TargetError(f"cannot move it to {options.device}: {_one_line(exc)}") from exc

    x = before = reference = None
    if options.input_shape:
        x = _random_input(options.input_shape, dtype or _model_dtype(model), options.device)
        try:
            before = _forward(model, x, options.timeout)
        except Exception as exc:
            raise TargetError(f"forward on input {list(options.input_shape)} raised "
                              f"{_one_line(exc)}") from exc
        if options.bench:
            reference = _snapshot(model)

    baseline = None if options.convert == "none" else {
        name: layout for name, (_, _, layout) in tensor_layouts(model).items()
    }
    _convert(model, options.convert, formats, result)

    if x is not None:
        try:
            after = _forward(model, x, options.timeout)
        except Exception as exc:
            result.fail(f"forward after conversion raised {_one_line(exc)}", exc)
        else:
            result.output = compare_outputs(before, after, x.dtype)
            if not result.output.match:
                result.fail("outputs after conversion differ beyond the tolerance")

    _inspect(model, formats, baseline, result)
    if options.bench and x is not None:
        result.bench = _bench(_bench_variants(reference, model, x, options.convert),
                              options.bench_seconds, progress)


def _inspect(model: nn.Module, formats: dict[int, torch.memory_format],
             baseline: dict[str, str] | None, result: TargetResult) -> None:
    """Fill in the rows, the non-conv tensors that changed layout, and the notes about them."""
    result.rows = inspect_conv_weights(model, formats, baseline)
    row_tensors = {row.tensor for row in result.rows}
    for name, (shape, strides, layout) in tensor_layouts(model).items():
        before = (baseline or {}).get(name, "contiguous_format")
        if name not in row_tensors and layout != before:
            result.changed.append(LayoutChange(name, shape, strides, before, layout))
    if any(row.status == NOT_CONVERTED for row in result.rows):
        result.exit_code = max(result.exit_code, EXIT_FAILED)
    unchecked = _unchecked_convs(model, formats)
    if unchecked:
        result.notes.append(unchecked)
    if not result.rows:
        ranks = " or ".join(f"{rank}-D" for rank in sorted(formats))
        result.notes.append(f"no module holds a {ranks} weight")


# --- output ------------------------------------------------------------------------------


def summary_line(result: TargetResult) -> str:
    if result.error is not None:
        return f"ERROR {result.target}: {result.error}"
    counts = collections.Counter(row.status for row in result.rows)
    conv_rows = sum(count for status, count in counts.items() if status not in NON_CONV_STATUSES)
    parts = [f"{conv_rows} conv weight{'s' if conv_rows != 1 else ''}"
             + (": " + ", ".join(f"{count} {status}" for status, count in counts.items())
                if counts else "")]
    parts.append(f"{len(result.changed)} non-conv tensor{'s' if len(result.changed) != 1 else ''}"
                 " changed layout")
    if result.output is not None:
        parts.append("outputs match" if result.output.match else "outputs differ")
    if result.problems:
        parts.append(f"{len(result.problems)} problem{'s' if len(result.problems) != 1 else ''}")
    verdict = "PASS" if result.exit_code == EXIT_OK else "FAIL"
    return f"{verdict} {result.target}: {'; '.join(parts)}"


def format_human(result: TargetResult) -> str:
    title = (f"{result.target}  (convert: {result.convert}, memory format: "
             f"{', '.join(result.memory_formats)})")
    lines = [title]
    if result.rows:
        table = [("module", "type", "weight shape", "strides", "expected", "status", "note")]
        table += [(row.module or "(root)", row.type, _dims(row.shape), _dims(row.strides),
                   row.expected, row.status, row.note) for row in result.rows]
        lines += _table(table)
    if result.changed:
        lines.append("non-conv tensors of rank 4 or 5 whose layout changed:")
        lines += ["  " + line for line in _table(
            [(c.tensor, _dims(c.shape), _dims(c.strides), f"{c.before} -> {c.after}")
             for c in result.changed])]
    if result.output is not None:
        out = result.output
        layout = {True: "channels_last", False: "contiguous", None: "not 4-D or 5-D"}
        lines.append(
            f"outputs: max abs diff {out.max_abs_diff:.3g} (rtol {out.rtol:g}, atol {out.atol:g}): "
            f"{'match' if out.match else 'DIFFER'}; output is {layout[out.channels_last]}"
        )
    if result.bench:
        lines.append("forward time (torch.utils.benchmark, median and IQR):")
        lines += ["  " + line for line in _table(
            [("variant", "median", "IQR", "vs contiguous")]
            + [(b.variant, f"{b.median_ms:.3f} ms", f"{b.iqr_ms:.3f} ms",
                f"{b.ratio:.2f}x" if b.ratio is not None else "-")
               if b.error is None else (b.variant, "-", "-", b.error)
               for b in result.bench])]
    lines += [f"note: {note}" for note in result.notes]
    lines += [f"problem: {problem}" for problem in result.problems]
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def format_json(results: list[TargetResult], exit_code: int) -> str:
    targets = []
    for result in results:
        entry = asdict(result)
        entry.pop("captured")
        entry.pop("traceback")
        for row in entry["rows"]:
            row.pop("tensor")
        entry["summary"] = summary_line(result)
        targets.append(entry)
    return json.dumps({"exit_code": exit_code, "targets": targets}, indent=2) + "\n"


def _dims(values: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, values)) + ")" if values else "-"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in rows]


# --- the command -------------------------------------------------------------------------


def run_verify(targets: list[str], options: VerifyOptions, *, output_format: str = "human",
               verbose: bool = False, stdout: TextIO | None = None,
               stderr: TextIO | None = None) -> int:
    """Verify each target and print the report; return the exit code (the worst target's)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr

    def say(line: str) -> None:
        print(line, file=err, flush=True)

    if options.timeout and not timeout_supported():
        say("convlint verify: error: --timeout needs SIGALRM in the main thread (POSIX)")
        return EXIT_BAD_TARGET
    if options.bench and not options.input_shape:
        say("convlint verify: error: --bench needs --input-shape")
        return EXIT_BAD_TARGET
    results = []
    for target in targets:
        result = verify_target(target, options, progress=say)
        results.append(result)
        if result.error is not None:
            say(f"convlint verify: error: {target}: {result.error}")
        if verbose:
            if result.traceback:
                err.write(result.traceback)
            if result.captured:
                say(f"output of {target}:")
                err.write("".join(f"  {line}\n" for line in result.captured))
        if output_format == "human" and result.error is None:
            out.write(("\n" if len(results) > 1 else "") + format_human(result))
    exit_code = max(result.exit_code for result in results)
    if output_format == "json":
        out.write(format_json(results, exit_code))
    return exit_code
