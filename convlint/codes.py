"""The rule codes and their names: what the command line, the configuration and the formats
need to know of the rules, without importing them (and the analysis they run). Each rule
(convlint/rules/) documents its codes; tests/test_rules.py keeps the two in step."""

from __future__ import annotations

SYNTAX_ERROR = "CL000"

RULE_NAMES: dict[str, str] = {
    SYNTAX_ERROR: "syntax-error",
    "CL101": "module-to-channels-last",
    "CL102": "module-to-channels-last-3d",
    "CL103": "converter-rank-mismatch",
    "CL104": "private-converter-path",
    "CL900": "unused-noqa",
}

KNOWN_CODES: list[str] = sorted(RULE_NAMES)
