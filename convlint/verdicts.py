"""What a conv-weight check finds, as plain data: the statuses, a weight row, and one verify
target's result. No torch here: the child process that runs a target fills these in, and the
parent process that prints the report (and `convlint.testing`) reads them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

EXIT_OK, EXIT_FAILED, EXIT_BAD_TARGET = 0, 1, 2


class Status(str, enum.Enum):
    """A conv weight's verdict (a str, so JSON and tables print the value)."""

    OK = "ok"
    NOT_CONVERTED = "not converted"
    # the stored weight is in the layout, but the forward computes another one (timm
    # ScaledStdConv2d standardizes its weight on every call): the kernel got contiguous
    COMPUTED_AT_RUN_TIME = "computed contiguous at run time"
    PARAMETRIZED = "parametrized"  # computed by a parametrization or hook no conversion changes
    LAZY = "lazy"
    QUANTIZED = "quantized"
    NOT_A_CONV = "not a conv (left as is)"
    NOT_A_CONV_CHANGED = "not a conv (changed)"

    def __str__(self) -> str:
        return self.value

    @property
    def is_conv(self) -> bool:
        return self not in (Status.NOT_A_CONV, Status.NOT_A_CONV_CHANGED)

    def fails(self, strict: bool) -> bool:
        """Whether a row with this status fails verify (`--strict` fails on more)."""
        if self is Status.NOT_CONVERTED:
            return True
        return strict and self in STRICT_FAILURES


STRICT_FAILURES = frozenset({
    Status.COMPUTED_AT_RUN_TIME, Status.PARAMETRIZED, Status.LAZY, Status.QUANTIZED,
    Status.NOT_A_CONV_CHANGED,
})


@dataclass
class WeightRow:
    """One module with a conv-shaped weight, and whether that weight is where it should be."""

    module: str
    type: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    expected: str
    status: Status
    note: str = ""
    # the layout(s) the conv kernels received during the forward after conversion: "" when
    # no forward ran, "not called" when the forward did not reach this module
    kernel: str = ""
    tensor: str = ""  # the weight's name in the model, e.g. "features.0.weight"


@dataclass
class LayoutChange:
    tensor: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    before: str
    after: str


@dataclass
class WholeModelTo:
    """What `model.to(memory_format=...)` does to this model, measured on a deep copy: the
    argument for the targeted rewrite."""

    memory_format: str
    error: str | None = None  # it raised (or the model could not be copied: `copied` False)
    copied: bool = True
    restrided: list[LayoutChange] = field(default_factory=list)  # non-conv tensors it restrides
    missed: list[str] = field(default_factory=list)  # conv weights it leaves in another layout
    output_diff: float | None = None  # its outputs against the unconverted model's, same input


@dataclass
class OutputCheck:
    max_abs_diff: float
    scale: float  # the largest magnitude of the unconverted outputs: the tolerance is relative to it
    relative: float  # the largest diff over its output's scale
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
    runs: int = 0
    error: str | None = None


@dataclass
class TargetResult:
    target: str
    convert: str
    memory_formats: list[str]
    strict: bool = False
    exit_code: int = EXIT_OK
    error: str | None = None
    rows: list[WeightRow] = field(default_factory=list)
    changed: list[LayoutChange] = field(default_factory=list)
    output: OutputCheck | None = None
    whole_model_to: WholeModelTo | None = None
    bench: list[BenchRow] | None = None
    problems: list[str] = field(default_factory=list)  # what made it fail, besides the rows
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a noisy benchmark
    captured: list[str] = field(default_factory=list)  # the target's own output, last lines
    traceback: str = ""

    def fail(self, problem: str, traceback: str = "") -> None:
        self.exit_code = max(self.exit_code, EXIT_FAILED)
        self.problems.append(problem)
        self.traceback += traceback

    def bad_target(self, error: str, traceback: str = "") -> None:
        self.exit_code, self.error = EXIT_BAD_TARGET, error
        self.traceback += traceback


def one_line(exc: BaseException) -> str:
    """An exception as one short line: `ValueError: checkpoint not found: /data/m`."""
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class VerifyOptions:
    kwargs: dict = field(default_factory=dict)
    convert: str = "convlint"
    memory_formats: tuple[str, ...] = ("channels_last",)
    input_shape: tuple[int, ...] | None = None
    inputs: str | None = None  # file.py:make_inputs or module:make_inputs
    dtype: str | None = None
    device: str = "cpu"
    strict: bool = False
    bench: bool = False
    bench_seconds: float = 1.0
    timeout: float | None = None
