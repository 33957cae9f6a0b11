"""CI log commands that annotate files: GitHub Actions workflow commands (`github`) and Azure
Pipelines logging commands (`azure`). Notebook findings point at the notebook's JSON line."""

from __future__ import annotations

import os

from convlint.formats.report import Report, cell_prefix


def _github_escape(text: str, property_value: bool = False) -> str:
    # GitHub workflow commands need %, CR and LF escaped; property values also : and ,.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(report: Report) -> str:
    out = []
    for d in report.diagnostics:
        start = report.sources.file_location(d.path, d.cell, d.start)
        end = report.sources.file_location(d.path, d.cell, d.end)
        props = ",".join(
            [
                f"file={_github_escape(d.path, True)}",
                f"line={start.row}",
                f"col={start.column}",
                f"endLine={end.row}",
                f"endColumn={end.column}",
                f"title={_github_escape(d.code, True)}",
            ]
        )
        out.append(f"::error {props}::{_github_escape(f'{cell_prefix(d)}{d.code} {d.message}')}\n")
    return "".join(out)


def _azure_escape(text: str, property_value: bool = False) -> str:
    # As azure-pipelines-task-lib escapes: the agent turns %AZP25 back into %.
    text = text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace("]", "%5D").replace(";", "%3B")
    return text


def format_azure(report: Report) -> str:
    """`##vso[task.logissue ...]` per finding; the source path absolute, as Azure asks."""
    out = []
    for d in report.diagnostics:
        start = report.sources.file_location(d.path, d.cell, d.start)
        props = ";".join(
            [
                "type=error",
                f"sourcepath={_azure_escape(os.path.abspath(d.path), True)}",
                f"linenumber={start.row}",
                f"columnnumber={start.column}",
                f"code={_azure_escape(d.code, True)}",
            ]
        )
        out.append(f"##vso[task.logissue {props};]{_azure_escape(cell_prefix(d) + d.message)}\n")
    return "".join(out)
