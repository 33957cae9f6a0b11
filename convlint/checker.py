"""The torch side of `convlint verify`: loads one target, converts it, runs it, inspects it,
and returns a `TargetResult`. `convlint.verify` runs this in a child process per target.

It runs the target's code (imports it, calls its factory, runs forward passes), as pytest
runs a test suite.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import importlib.util
import math
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

with warnings.catch_warnings():
    # torch warns on import when numpy is missing; verify's report must stay one clean
    # line per problem, and nothing here needs numpy.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch
from torch import nn
from torch.nn.parameter import is_lazy

from convlint.convs import CHANNELS_LAST_BY_RANK, FORMAT_NAMES, MEMORY_FORMATS, classify_conv, layout_of, walk_modules
from convlint.inspection import (
    changed_tensors,
    inspect_conv_weights,
    record_kernel_layouts,
    tensor_layouts,
    whole_model_to,
    with_kernel_layouts,
)
from convlint.layouts import BY_FORMAT, BY_RANK
from convlint.runtime import convert_and_report
from convlint.verdicts import (
    EXIT_FAILED,
    BenchRow,
    OutputCheck,
    Status,
    TargetResult,
    VerifyOptions,
    WeightRow,
    one_line,
)

DTYPES = {"float32": torch.float32, "float64": torch.float64,
          "float16": torch.float16, "bfloat16": torch.bfloat16}
# (rtol, atol) for comparing outputs before and after conversion. Conv kernels for the two
# layouts accumulate in different orders, so outputs differ by rounding, which grows with
# the output's magnitude and with depth: rtol is relative to each output's largest value.
TOLERANCES = {torch.float64: (1e-7, 1e-7), torch.float32: (1e-3, 1e-5),
              torch.float16: (1e-2, 1e-3), torch.bfloat16: (5e-2, 1e-2)}
_TORCH_CONVERTERS = {rank: getattr(torch.nn.utils, layout.converter) for rank, layout in BY_RANK.items()}
# A --bench variant whose spread (IQR) is above this share of its median is reported as noisy.
NOISY_IQR = 0.25

Inputs = tuple[tuple, dict]
# Says which step starts (the parent's --timeout is per step) and whether to show it.
Phase = Callable[..., None]


class TargetError(Exception):
    """The target cannot be loaded or run: exit 2 with this one-line message."""


# --- loading the target and its inputs ---------------------------------------------------


def load_attribute(spec: str, what: str = "MODULE:ATTR") -> tuple[str, object]:
    """Import `package.module:attr` or `path/file.py:attr`: (attr, the object it names)."""
    location, _, attr = spec.rpartition(":")
    if not location or not attr:
        raise TargetError(f"expected {what} or path/to/file.py:ATTR")
    obj = _import_location(location)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"{location} has no attribute {attr!r}") from None
    return attr, obj


def load_target(spec: str, kwargs: Mapping[str, object]) -> nn.Module:
    """Build the module `spec` names: an nn.Module, a Module class or a factory."""
    attr, obj = load_attribute(spec)
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
        raise TargetError(f"{attr}(...) raised {one_line(exc)}") from exc
    if not isinstance(built, nn.Module):
        raise TargetError(f"{attr}(...) returned an object of type {type(built).__name__}, "
                          "not an nn.Module")
    return built


def load_inputs(spec: str) -> Inputs:
    """Call the --inputs function: it returns a tuple of args, `(args, kwargs)`, or a tensor."""
    attr, make = load_attribute(spec, "--inputs FILE.py:FUNCTION")
    if not callable(make):
        raise TargetError(f"--inputs {attr} is of type {type(make).__name__}, not a function")
    try:
        made = make()
    except Exception as exc:
        raise TargetError(f"--inputs {attr}() raised {one_line(exc)}") from exc
    if isinstance(made, torch.Tensor):
        return (made,), {}
    if (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], (tuple, list))
            and isinstance(made[1], dict)):
        return tuple(made[0]), dict(made[1])
    if isinstance(made, (tuple, list)):
        return tuple(made), {}
    raise TargetError(f"--inputs {attr}() returned an object of type {type(made).__name__}: "
                      "expected a tuple of arguments, (args, kwargs) or a tensor")


def _import_location(location: str) -> object:
    is_file = location.endswith(".py") or "/" in location or os.sep in location
    if is_file:
        path = Path(location).resolve()
        if not path.is_file():
            raise TargetError(f"no such file: {location}")
        name = f"convlint_target_{path.stem}"
        if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
            return sys.modules[name]  # the target's file, imported again for --inputs
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
                raise TargetError(f"importing {location} raised {one_line(exc)}") from exc
        return module
    with _on_sys_path(os.getcwd()):  # as `python -m` would, also under the console script
        try:
            return importlib.import_module(location)
        except ModuleNotFoundError as exc:
            if exc.name and (location == exc.name or location.startswith(exc.name + ".")):
                raise TargetError(f"no module named {exc.name!r}") from exc
            raise TargetError(f"importing {location} raised {one_line(exc)}") from exc
        except Exception as exc:
            raise TargetError(f"importing {location} raised {one_line(exc)}") from exc


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


# --- running the model -------------------------------------------------------------------


def _tensors(output: object) -> list[torch.Tensor]:
    """The tensors in a forward's output (nested tuples, lists, dicts and dataclass-like
    model outputs), in order."""
    found, pending = [], [output]
    while pending:
        item = pending.pop()
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            pending.extend(reversed(item))
        elif isinstance(item, dict):
            pending.extend(reversed(list(item.values())))
        elif hasattr(item, "to_tuple"):  # transformers' ModelOutput, diffusers' BaseOutput
            pending.extend(reversed(item.to_tuple()))
    return found


def _forward(model: nn.Module, inputs: Inputs) -> list[torch.Tensor]:
    args, kwargs = inputs
    with torch.no_grad():
        return [t.detach().clone() for t in _tensors(model(*args, **kwargs))]


def compare_outputs(before: list[torch.Tensor], after: list[torch.Tensor],
                    dtype: torch.dtype) -> OutputCheck:
    """Whether the outputs after conversion match: within rtol of each output's largest
    magnitude (its scale) plus atol. NaN anywhere is a mismatch."""
    rtol, atol = TOLERANCES.get(dtype, TOLERANCES[torch.float32])
    match = len(before) == len(after)
    largest, scale, relative = 0.0, 0.0, 0.0
    for old, new in zip(before, after):
        if old.shape != new.shape:
            match = False
            continue
        if not old.numel():
            continue
        old, new = old.double(), new.double()
        diff = (new - old).abs().max().item()
        size = old.abs().max().item()
        largest, scale = _nan_max(largest, diff), _nan_max(scale, size)
        relative = _nan_max(relative, diff / size if size else (0.0 if diff == 0 else math.inf))
        # NaN compares False, so a NaN anywhere is a mismatch
        match = match and diff <= atol + rtol * size
    shaped = [t for t in after if t.dim() in CHANNELS_LAST_BY_RANK]
    channels_last = layout_of(shaped[0]) != torch.contiguous_format if shaped else None
    return OutputCheck(largest, scale, relative, rtol, atol, match, channels_last)


def _nan_max(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def _max_abs_diff(before: list[torch.Tensor], after: list[torch.Tensor]) -> float | None:
    diffs = [(new.double() - old.double()).abs().max().item()
             for old, new in zip(before, after) if old.shape == new.shape and old.numel()]
    if len(before) != len(after) or not diffs:
        return None
    return math.nan if any(math.isnan(d) for d in diffs) else max(diffs)


def _random_inputs(shape: tuple[int, ...], dtype: torch.dtype, device: str) -> Inputs:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator, dtype=torch.float32)
    return (x.to(device=device, dtype=dtype),), {}


def _placed(value: object, dtype: torch.dtype | None, device: str) -> object:
    """--inputs values moved to the device, floating tensors cast to --dtype."""
    if isinstance(value, torch.Tensor):
        cast = dtype if dtype is not None and value.is_floating_point() else None
        return value.to(device=device, dtype=cast)
    if isinstance(value, (tuple, list)):
        return type(value)(_placed(item, dtype, device) for item in value)
    if isinstance(value, dict):
        return {key: _placed(item, dtype, device) for key, item in value.items()}
    return value


def _model_dtype(model: nn.Module) -> torch.dtype:
    for _, module in walk_modules(model):
        for tensor in [*module._parameters.values(), *module._buffers.values()]:
            if tensor is not None and tensor.is_floating_point() and not is_lazy(tensor):
                return tensor.dtype
    return torch.float32


def _describe(inputs: Inputs) -> str:
    args, kwargs = inputs
    shapes = [list(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__ for a in args]
    shapes += [f"{k}={list(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__}"
               for k, v in kwargs.items()]
    return ", ".join(map(str, shapes))


# --- conversion --------------------------------------------------------------------------


def _convert(model: nn.Module, convert: str, formats: Mapping[int, torch.memory_format]
             ) -> tuple[list[str], str | None, str]:
    """Convert as --convert says: (notes, the problem if the converter raised, traceback)."""
    problem, trace = None, ""
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if convert == "convlint":
                report = convert_and_report(model, "channels_last", ranks=sorted(formats))
                notes.append(f"convlint: {report.summary()}")
            elif convert == "torch":
                for rank, fmt in formats.items():
                    _TORCH_CONVERTERS[rank](model, fmt)
        except Exception as exc:
            name = "convlint's" if convert == "convlint" else "PyTorch's"
            problem, trace = f"{name} converter raised {one_line(exc)}", _trace(exc)
    notes.extend(str(w.message) for w in caught if w.category is not DeprecationWarning)
    return notes, problem, trace


def _unchecked_convs(model: nn.Module, formats: Mapping[int, torch.memory_format]) -> str | None:
    ranks = []
    for _, module in walk_modules(model):
        conv = classify_conv(module)
        if conv is not None and conv.rank in BY_RANK and conv.rank not in formats:
            ranks.append(conv.rank)
    if not ranks:
        return None
    counts = {rank: ranks.count(rank) for rank in sorted(set(ranks))}
    listed = ", ".join(f"{count} {rank}-D" for rank, count in counts.items())
    flags = " ".join(f"--memory-format {BY_RANK[rank].format}" for rank in counts)
    return f"{listed} conv weight(s) not checked: add {flags}"


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


# --- benchmark ---------------------------------------------------------------------------


def _bench(variants: list[tuple[str, Callable[[], tuple[nn.Module, Inputs]]]],
           seconds: float, phase: Phase) -> tuple[list[BenchRow], list[str]]:
    """Time the variants interleaved, one block each per round (A B C A B C ...), so that a
    change in the machine's load falls on all of them: rows and warnings about noise."""
    rows, timed = [], []
    for name, prepare in variants:
        phase(f"preparing {name}", True)
        try:
            model, (args, kwargs) = prepare()
            call = functools.partial(model, *args, **kwargs)
            first = _time_block(call, 1)  # warm-up, and the size of a block
        except Exception as exc:  # one variant failing (e.g. .to() on 5-D weights) is a result
            rows.append(BenchRow(name, error=str(exc) if isinstance(exc, TargetError)
                                 else one_line(exc)))
            continue
        block = max(1, int(min(0.05, seconds / 10) / max(first, 1e-9)))
        rows.append(BenchRow(name))
        timed.append((rows[-1], call, block, []))
    phase(f"timing {len(timed)} variants interleaved", True)
    started = time.perf_counter()
    rounds = 0
    while timed and rounds < 10_000 and (rounds < 5 or time.perf_counter() - started < seconds * len(timed)):
        for _, call, block, times in timed:
            times.append(_time_block(call, block))
        rounds += 1
    noisy = [_summarize(row, times) for row, _, _, times in timed]
    baseline = rows[0].median_ms
    for row in rows:
        if baseline and row.median_ms is not None:
            row.ratio = row.median_ms / baseline
    return rows, [warning for warning in noisy if warning]


def _time_block(call: Callable[[], object], number: int) -> float:
    """Seconds per call of `number` calls, CUDA synchronized (kernels run asynchronously)."""
    synchronize = torch.cuda.synchronize if torch.cuda.is_initialized() else (lambda: None)
    with torch.no_grad():
        synchronize()
        start = time.perf_counter()
        for _ in range(number):
            call()
        synchronize()
    return (time.perf_counter() - start) / number


def _summarize(row: BenchRow, times: list[float]) -> str | None:
    """Fill in the row's median and IQR (ms) from per-call times (s); a warning when the
    IQR is over NOISY_IQR of the median, so that noise is not read as a speed-up."""
    low, median, high = _quartiles(times)
    row.median_ms, row.iqr_ms, row.runs = median * 1e3, (high - low) * 1e3, len(times)
    if row.iqr_ms <= NOISY_IQR * row.median_ms:
        return None
    return (f"--bench: {row.variant}: the IQR ({row.iqr_ms:.3f} ms) is over a quarter of the "
            f"median ({row.median_ms:.3f} ms): the machine is noisy, do not trust the ratios; "
            "rerun with more --bench-seconds")


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        position = q * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return at(0.25), at(0.5), at(0.75)


def _bench_variants(reference: nn.Module | Exception, converted: nn.Module, inputs: Inputs,
                    fmt: torch.memory_format, convert: str
                    ) -> list[tuple[str, Callable[[], tuple[nn.Module, Inputs]]]]:
    args, kwargs = inputs
    converted_inputs = (tuple(_channels_last(a) for a in args),
                        {k: _channels_last(v) for k, v in kwargs.items()})
    name = FORMAT_NAMES[fmt]

    def unconverted() -> nn.Module:
        if isinstance(reference, Exception):
            raise TargetError(f"cannot copy the model: {one_line(reference)}")
        return copy.deepcopy(reference)

    return [
        ("contiguous", lambda: (unconverted(), inputs)),
        (f"model.to(memory_format={name})",
         lambda: (unconverted().to(memory_format=fmt), converted_inputs)),
        ("as built" if convert == "none" else f"targeted ({convert})",
         lambda: (converted, converted_inputs)),
    ]


def _channels_last(value: object) -> object:
    if isinstance(value, torch.Tensor) and value.dim() in CHANNELS_LAST_BY_RANK:
        return value.contiguous(memory_format=CHANNELS_LAST_BY_RANK[value.dim()])
    return value


# --- one target --------------------------------------------------------------------------


def verify_target(spec: str, options: VerifyOptions,
                  phase: Phase = lambda step, announce=False: None) -> TargetResult:
    """Load, convert, run and inspect one target."""
    result = TargetResult(spec, options.convert, list(options.memory_formats), options.strict)
    try:
        _verify(spec, options, result, phase)
    except TargetError as exc:
        result.bad_target(str(exc), _trace(exc.__cause__) if exc.__cause__ is not None else "")
    except SystemExit as exc:
        result.bad_target(f"called sys.exit({exc.code!r})", _trace(exc))
    return result


def _verify(spec: str, options: VerifyOptions, result: TargetResult, phase: Phase) -> None:
    formats = {BY_FORMAT[name].rank: MEMORY_FORMATS[name] for name in options.memory_formats}
    first_format = MEMORY_FORMATS[options.memory_formats[0]]
    phase("importing and building it")
    model = load_target(spec, options.kwargs)
    dtype = DTYPES[options.dtype] if options.dtype else None
    try:
        model.eval()  # dropout and batch-norm statistics would make outputs differ
        model.to(device=options.device, dtype=dtype)
    except Exception as exc:
        raise TargetError(f"cannot move it to {options.device}: {one_line(exc)}") from exc

    inputs = None
    if options.inputs:
        phase("making the --inputs")
        inputs = _placed(load_inputs(options.inputs), dtype, options.device)
    elif options.input_shape:
        inputs = _random_inputs(options.input_shape, dtype or _model_dtype(model), options.device)

    before = reference = None
    if inputs is not None:
        phase("running the forward pass before conversion")
        try:
            before = _forward(model, inputs)
        except Exception as exc:
            # the strides are still checked; the run is an error, since nothing was compared
            result.bad_target(f"forward on input {_describe(inputs)} raised {one_line(exc)}", _trace(exc))
        if options.bench and before is not None:
            reference = _snapshot(model)

    phase("measuring model.to(memory_format=...) on a copy")
    result.whole_model_to, whole = whole_model_to(model, first_format)
    if whole is not None and before is not None:
        phase("running the forward pass of the model.to() copy")
        try:
            result.whole_model_to.output_diff = _max_abs_diff(before, _forward(whole, inputs))
        except Exception as exc:
            result.notes.append(f"the forward of the model.to() copy raised {one_line(exc)}")
    del whole

    baseline = None if options.convert == "none" else {
        name: layout for name, (_, _, layout) in tensor_layouts(model).items()
    }
    phase("converting it")
    notes, problem, trace = _convert(model, options.convert, formats)
    result.notes.extend(notes)
    if problem:
        result.fail(problem, trace)

    rows = inspect_conv_weights(model, formats, baseline)
    if before is not None:
        phase("running the forward pass after conversion")
        try:
            after, rows, note = _forward_recording_kernels(model, rows, formats, inputs)
        except Exception as exc:
            result.fail(f"forward after conversion raised {one_line(exc)}", _trace(exc))
        else:
            result.notes.extend([note] if note else [])
            result.output = compare_outputs(before, after, _output_dtype(before, model))
            if not result.output.match:
                result.fail("outputs after conversion differ beyond the tolerance")
    result.rows = rows
    result.changed = changed_tensors(model, baseline, skip=frozenset(row.tensor for row in rows))
    failed, problems, notes = _judge(model, formats, rows, result.changed, options.strict)
    if failed:
        result.exit_code = max(result.exit_code, EXIT_FAILED)
    for problem in problems:
        result.fail(problem)
    result.notes.extend(notes)
    if options.bench and before is not None:
        result.bench, result.warnings = _bench(
            _bench_variants(reference, model, inputs, first_format, options.convert),
            options.bench_seconds, phase)


def _forward_recording_kernels(model: nn.Module, rows: list[WeightRow],
                               formats: Mapping[int, torch.memory_format], inputs: Inputs
                               ) -> tuple[list[torch.Tensor], list[WeightRow], str | None]:
    """The forward after conversion, recording what each conv kernel receives: its outputs,
    the rows with their kernel column, and a note. Should the recording itself break the
    forward (a dispatch mode of the model's own), it runs again without."""
    try:
        after, recorder = record_kernel_layouts(model, rows, formats, lambda: _forward(model, inputs))
    except Exception as exc:
        after = _forward(model, inputs)  # raises when the forward itself is broken
        return after, rows, f"the conv kernels' layouts were not recorded: {one_line(exc)}"
    note = None
    if recorder.unmatched:
        kinds = ", ".join(dict.fromkeys(recorder.unmatched))
        note = (f"{len(recorder.unmatched)} conv kernel call(s) with a weight no row holds "
                f"(computed or functional): {kinds}")
    return after, with_kernel_layouts(rows, recorder), note


def _output_dtype(outputs: list[torch.Tensor], model: nn.Module) -> torch.dtype:
    floating = [t.dtype for t in outputs if t.is_floating_point()]
    return floating[0] if floating else _model_dtype(model)


def _judge(model: nn.Module, formats: dict[int, torch.memory_format], rows: list[WeightRow],
           changed: list, strict: bool) -> tuple[bool, list[str], list[str]]:
    """The verdict from the rows and the changed non-conv tensors: whether a weight failed,
    the --strict problems, and notes."""
    failing = [row for row in rows if row.status.fails(strict)]
    problems = []
    strict_rows = [row for row in failing if row.status is not Status.NOT_CONVERTED]
    if strict_rows:
        counts = {status: sum(row.status is status for row in strict_rows)
                  for status in dict.fromkeys(row.status for row in strict_rows)}
        problems.append("--strict: " + ", ".join(f"{count} {status}" for status, count in counts.items()))
    if strict and changed:
        problems.append(f"--strict: {len(changed)} non-conv tensor(s) changed layout")
    notes = []
    unchecked = _unchecked_convs(model, formats)
    if unchecked:
        notes.append(unchecked)
    if not rows:
        notes.append(f"no module holds a {' or '.join(f'{rank}-D' for rank in sorted(formats))} weight")
    return any(row.status is Status.NOT_CONVERTED for row in failing), problems, notes


def _snapshot(model: nn.Module) -> nn.Module | Exception:
    """A copy of the unconverted model for --bench, or why there is none (a model holding a
    lock cannot be deep-copied): the variants that need it report that."""
    try:
        return copy.deepcopy(model)
    except Exception as exc:
        return exc
