"""The rule base class and the per-file context every rule reads.

A rule only reports: it never touches files. It returns Diagnostics, each with a Fix that
holds its edits, or a plan whose edits (a token rewrite, see codemod.py) are computed later,
and only when something needs them. What a rule knows about the code it asks the analysis
(convlint.analysis): it keeps no model of its own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from convlint.analysis import FileAnalysis
from convlint.config import Settings
from convlint.diagnostics import Diagnostic, Edit, Location
from convlint.codes import RULE_NAMES
from convlint.layouts import BY_CONVERTER
from convlint.source import SourceText
from convlint.suppress import Noqa, line_directives


@dataclass(frozen=True)
class Relayout:
    """The plan of a fix of plain edits whose first one is inside a statement: the edits,
    with that statement laid out again around it where its formatter would (see
    `codemod.materialize`): a name renamed, a `# noqa` comment taken out."""

    edits: tuple[Edit, ...]
    path: str | None = None  # the file, whose formatter settings the layout follows
    comment: bool = False  # the first edit changes only a comment


@dataclass
class Context:
    path: str
    source: SourceText
    tree: ast.Module
    settings: Settings
    analysis: FileAnalysis
    # For a rule that judges the others (`Rule.after_findings`): what they found here,
    # before suppression, and the codes they were enabled to report.
    findings: list[Diagnostic] = field(default_factory=list)
    checked_codes: frozenset[str] = frozenset()
    # How a converter is spelled at a call and the import that defines it (converters.py):
    # asked once per call and converter, whatever rule asks.
    converter_memo: dict = field(default_factory=dict)

    @cached_property
    def directives(self) -> dict[int, Noqa]:
        return line_directives(self.source)

    @cached_property
    def converter_names(self) -> frozenset[str]:
        """The names a converter can be called by here: its own, and what imports bind
        them to (`from torch.nn.utils import convert_conv2d_weight_memory_format as cv`)."""
        names = set(BY_CONVERTER)
        for stmt, _ in self.analysis.imports:
            for alias in stmt.names:
                if alias.name.rsplit(".", 1)[-1] in BY_CONVERTER and alias.asname:
                    names.add(alias.asname)
        return frozenset(names)

    def diagnostic(self, code: str, message: str, node: ast.AST, fix=None, reason: str | None = None,
                   noqa_row: int | None = None) -> Diagnostic:
        return Diagnostic(
            self.path, code, message, self.source.node_start(node), self.source.node_end(node), fix,
            reason=reason, noqa_row=noqa_row,
        )

    def location(self, node: ast.AST) -> tuple[Location, Location]:
        return self.source.node_start(node), self.source.node_end(node)


class Rule:
    """One check. `codes` maps each code the rule reports to its documentation (Ruff's
    sections: what it does, why is this bad, example, fix safety)."""

    codes: dict[str, str] = {}
    # True for a rule about the other rules' findings (CL900): it runs after them.
    after_findings: bool = False
    # Words of which every file the rule triggers on holds at least one: a quick reject
    # shared by all rules, so that most files are scanned once per word. Empty: none.
    needs: tuple[bytes, ...] = ()

    @property
    def names(self) -> dict[str, str]:
        """Each code's name (from convlint/codes.py, which the formats read)."""
        return {code: RULE_NAMES[code] for code in self.codes}

    def triggered(self, data: bytes) -> bool:
        """False when the bytes of a file prove it cannot have a finding (never a miss)."""
        raise NotImplementedError

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        raise NotImplementedError
