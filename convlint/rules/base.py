"""The rule base class and the per-file context every rule reads.

A rule only reports: it never touches files. It returns Diagnostics, each with a Fix whose
edits are computed later, and only when something needs them (see codemod.py).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterable

from convlint.config import Settings
from convlint.diagnostics import Diagnostic, Location
from convlint.inference import FileIndex, Inferrer
from convlint.source import SourceText


@dataclass
class Context:
    path: str
    source: SourceText
    tree: ast.Module
    settings: Settings
    resolve_import: Callable[[str], FileIndex | None] | None = None
    _extra: dict = field(default_factory=dict)

    @cached_property
    def index(self) -> FileIndex:
        return FileIndex(self.tree, self.resolve_import)

    @cached_property
    def inferrer(self) -> Inferrer:
        return Inferrer(self.index)

    def diagnostic(self, code: str, message: str, node: ast.AST, fix=None) -> Diagnostic:
        return Diagnostic(
            self.path, code, message, self.source.node_start(node), self.source.node_end(node), fix
        )

    def location(self, node: ast.AST) -> tuple[Location, Location]:
        return self.source.node_start(node), self.source.node_end(node)


class Rule:
    """One check. `codes` maps each code the rule reports to its documentation (Ruff's
    sections: what it does, why is this bad, example, fix safety)."""

    codes: dict[str, str] = {}
    names: dict[str, str] = {}

    def triggered(self, data: bytes) -> bool:
        """False when the bytes of a file prove it cannot have a finding (never a miss)."""
        raise NotImplementedError

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        raise NotImplementedError
