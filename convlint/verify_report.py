"""The report of `convlint verify`: a target's result as a table (human) or as JSON. No torch."""

from __future__ import annotations

import collections
import dataclasses
import json
import math

from convlint.verdicts import EXIT_OK, TargetResult


def summary_line(result: TargetResult) -> str:
    if result.error is not None:
        return f"ERROR {result.target}: {result.error}"
    counts = collections.Counter(row.status.value for row in result.rows)
    conv_rows = sum(1 for row in result.rows if row.status.is_conv)
    parts = [_plural(conv_rows, "conv weight")
             + (": " + ", ".join(f"{count} {status}" for status, count in counts.items())
                if counts else "")]
    parts.append(f"{_plural(len(result.changed), 'non-conv tensor')} changed layout")
    if result.output is not None:
        parts.append("outputs match" if result.output.match else "outputs differ")
    whole = result.whole_model_to
    if whole is not None and whole.copied:
        parts.append("model.to() raises" if whole.error else
                     f"model.to() restrides {_plural(len(whole.restrided), 'non-conv tensor')}"
                     + (f" and misses {_plural(len(whole.missed), 'conv weight')}" if whole.missed else ""))
    if result.problems:
        parts.append(_plural(len(result.problems), "problem"))
    verdict = "PASS" if result.exit_code == EXIT_OK else "FAIL"
    return f"{verdict} {result.target}: {'; '.join(parts)}"


def format_human(result: TargetResult) -> str:
    strict = ", strict" if result.strict else ""
    lines = [f"{result.target}  (convert: {result.convert}, memory format: "
             f"{', '.join(result.memory_formats)}{strict})"]
    if result.rows:
        kernel = any(row.kernel for row in result.rows)
        header = ("module", "type", "weight shape", "strides", "expected", "status",
                  *(("kernel got",) if kernel else ()), "note")
        lines += _table([header] + [
            (row.module or "(root)", row.type, _dims(row.shape), _dims(row.strides),
             row.expected, row.status.value, *((row.kernel,) if kernel else ()), row.note)
            for row in result.rows])
    if result.changed:
        lines.append("non-conv tensors of rank 4 or 5 whose layout changed:")
        lines += ["  " + line for line in _table(
            [(c.tensor, _dims(c.shape), _dims(c.strides), f"{c.before} -> {c.after}")
             for c in result.changed])]
    if result.output is not None:
        out = result.output
        layout = {True: "channels_last", False: "contiguous", None: "not 4-D or 5-D"}
        whole = result.whole_model_to
        reference = ""
        if whole is not None and whole.output_diff is not None:
            reference = f" (whole-model .to(): {whole.output_diff:.3g})"
        lines.append(
            f"outputs: max abs diff {out.max_abs_diff:.3g}{reference}, {out.relative:.2g} of the "
            f"output's scale {out.scale:.3g} (tolerance {out.rtol:g} of the scale + {out.atol:g}): "
            f"{'match' if out.match else 'DIFFER'}; output is {layout[out.channels_last]}"
        )
    lines += _whole_model_lines(result)
    if result.bench:
        lines.append("forward time (variants interleaved; median and IQR of the rounds):")
        lines += ["  " + line for line in _table(
            [("variant", "median", "IQR", "vs contiguous", "rounds")]
            + [(b.variant, f"{b.median_ms:.3f} ms", f"{b.iqr_ms:.3f} ms",
                f"{b.ratio:.2f}x" if b.ratio is not None else "-", str(b.runs))
               if b.error is None else (b.variant, "-", "-", b.error, "-")
               for b in result.bench])]
    lines += [f"warning: {warning}" for warning in result.warnings]
    lines += [f"note: {note}" for note in result.notes]
    lines += [f"problem: {problem}" for problem in result.problems]
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def _whole_model_lines(result: TargetResult) -> list[str]:
    """The evidence: what the whole-model conversion the linter flags would do to this model."""
    whole = result.whole_model_to
    if whole is None:
        return []
    call = f"model.to(memory_format={whole.memory_format})"
    if not whole.copied:
        return [f"evidence: {call} not measured: {whole.error}"]
    if whole.error:
        return [f"evidence: {call}, measured on a copy: raises {whole.error}"]
    missed = ""
    if whole.missed:
        shown = ", ".join(whole.missed[:3]) + (", ..." if len(whole.missed) > 3 else "")
        missed = f"; it leaves {_plural(len(whole.missed), 'conv weight')} unconverted ({shown})"
    if not whole.restrided:
        return [f"evidence: {call}, measured on a copy: restrides no non-conv tensor{missed}"]
    lines = [f"evidence: {call}, measured on a copy: restrides "
             f"{_plural(len(whole.restrided), 'non-conv tensor')}{missed}:"]
    lines += ["  " + line for line in _table(
        [("tensor", "shape", "layout")]
        + [(c.tensor, _dims(c.shape), f"{c.before} -> {c.after}") for c in whole.restrided])]
    return lines


def format_json(results: list[TargetResult], exit_code: int) -> str:
    """The report as JSON: valid whatever the outputs held (NaN and infinities are null)."""
    targets = []
    for result in results:
        entry = dataclasses.asdict(result)
        entry.pop("captured")
        entry.pop("traceback")
        for row in entry["rows"]:
            row.pop("tensor")
            row["status"] = row["status"].value
        entry["summary"] = summary_line(result)
        targets.append(_finite(entry))
    return json.dumps({"exit_code": exit_code, "targets": targets}, indent=2, allow_nan=False) + "\n"


def _finite(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _dims(values: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, values)) + ")" if values else "-"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in rows]
