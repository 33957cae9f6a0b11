"""The plans rules leave in a `Fix` for the fixer (codemod.py) to carry out later, only when
something needs the edits: plain frozen data, so that the result cache keeps them and
reading them back imports neither the rules nor the analysis."""

from __future__ import annotations

from dataclasses import dataclass

from convlint.diagnostics import Edit, Location


@dataclass(frozen=True)
class Guard:
    """A CL101/CL102 fix at the level of the statement: `[x = ]x.to(memory_format=F if C else
    None)` becomes `if C:` over `[x = ]convert(x, F)`, so that the off path copies nothing."""

    start: Location  # the statement
    end: Location
    condition: str  # the `if` header's test, as written (`C`, `not C`)
    format_start: Location  # the `memory_format=` keyword in the call, replaced by `format`
    format_end: Location
    format: str  # `memory_format=` and the channels-last branch, as written


@dataclass(frozen=True)
class CallRewrite:
    """The plan of a CL101/CL102 fix, carried out by `codemod.materialize`."""

    start: Location  # the whole call, `<receiver>.to(...)`
    end: Location
    converter: str  # the converter as it is spelled in this file
    import_edit: Edit | None  # the import that makes `converter` defined, if needed
    path: str | None = None  # the file, whose formatter settings the rewrite follows
    guard: Guard | None = None  # the statement-level form, where it is equivalent
