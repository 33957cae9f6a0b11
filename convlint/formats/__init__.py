"""Every report format, one module per family: `text` (concise, grouped, pylint, the footer),
`full` (code frames and fix diffs), `json_report` (json, json-lines), `annotations`
(github, azure), `review` (gitlab, rdjson), `sarif`, `junit`. A format is a function of a
`Report` to the text to print; each module is imported only when its format is used."""

from __future__ import annotations

import importlib
from typing import Callable

from convlint.formats.report import Report

_FORMATS = {
    "full": ("full", "format_full"),
    "concise": ("text", "format_concise"),
    "grouped": ("text", "format_grouped"),
    "json": ("json_report", "format_json"),
    "json-lines": ("json_report", "format_json_lines"),
    "github": ("annotations", "format_github"),
    "azure": ("annotations", "format_azure"),
    "gitlab": ("review", "format_gitlab"),
    "rdjson": ("review", "format_rdjson"),
    "pylint": ("text", "format_pylint"),
    "sarif": ("sarif", "format_sarif"),
    "junit": ("junit", "format_junit"),
}
NAMES = list(_FORMATS)
# The formats that print fix edits: computing them imports LibCST.
SHOWS_EDITS = frozenset({"full", "json", "json-lines", "sarif", "rdjson"})
# The formats for people: a footer counts the findings after them.
WITH_FOOTER = frozenset({"full", "concise", "grouped"})


def formatter(name: str) -> Callable[[Report], str]:
    module, function = _FORMATS[name]
    return getattr(importlib.import_module(f"convlint.formats.{module}"), function)


def render(name: str, report: Report) -> str:
    return formatter(name)(report)
