"""The registry of rules. Each rule is a class in its own module, documented in `codes`."""

from __future__ import annotations

from convlint.codes import KNOWN_CODES, RULE_NAMES, SYNTAX_ERROR
from convlint.rules.base import Context, Rule
from convlint.rules.converter_rank import ConverterRankMismatch
from convlint.rules.module_to_channels_last import ModuleToChannelsLast
from convlint.rules.private_converter_path import PrivateConverterPath
from convlint.rules.unused_noqa import UnusedNoqa

ALL_RULES: tuple[Rule, ...] = (ModuleToChannelsLast(), ConverterRankMismatch(), PrivateConverterPath(), UnusedNoqa())

SYNTAX_ERROR_DOC = """\
# syntax-error (CL000)

## What it does
Reports a file that cannot be parsed (or decoded) as Python. It is always reported, and it
counts as a finding: a file convlint cannot read is a file it cannot vouch for.
"""

RULE_DOCS: dict[str, str] = {SYNTAX_ERROR: SYNTAX_ERROR_DOC}
for _rule in ALL_RULES:
    RULE_DOCS.update(_rule.codes)

__all__ = ["ALL_RULES", "Context", "KNOWN_CODES", "RULE_DOCS", "RULE_NAMES", "Rule", "SYNTAX_ERROR"]
