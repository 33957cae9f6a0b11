"""JUnit XML as Ruff writes it, for CI systems that show test reports: a test suite per file,
a failed test case per finding. A notebook finding's line is the notebook's JSON line."""

from __future__ import annotations

import re
from itertools import groupby

from convlint.formats.report import Report

# XML 1.0 cannot hold these characters at all, escaped or not.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def format_junit(report: Report) -> str:
    import xml.etree.ElementTree as ET  # only JUnit output needs it

    diagnostics = report.diagnostics
    n = str(len(diagnostics))
    root = ET.Element("testsuites", name="convlint", tests=n, failures=n, errors="0")
    if not diagnostics:
        suite = ET.SubElement(root, "testsuite", name="convlint", tests="1", failures="0", errors="0")
        ET.SubElement(suite, "testcase", name="No errors found", classname="convlint")
    for path, group in groupby(diagnostics, key=lambda d: d.path):
        found = list(group)
        count = str(len(found))
        suite = ET.SubElement(root, "testsuite", name=_xml(path), tests=count, failures=count, errors="0")
        for d in found:
            at = report.sources.file_location(d.path, d.cell, d.start)
            case = ET.SubElement(
                suite, "testcase", name=f"org.convlint.{d.code}", classname=_xml(path),
                line=str(at.row), column=str(at.column),
            )
            failure = ET.SubElement(case, "failure", message=_xml(d.message))
            cell = f"cell {d.cell}, " if d.cell is not None else ""
            failure.text = _xml(f"{cell}line {d.start.row}, col {d.start.column}, {d.message}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
