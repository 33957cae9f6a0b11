"""The line formats people read: `concise` (one line per finding), `grouped` (by file) and
`pylint`, the footer that counts findings and fixes, per-rule statistics, and the lists of
fixes available or applied."""

from __future__ import annotations

from collections import Counter
from itertools import groupby

from convlint.diagnostics import Applicability, Diagnostic
from convlint.formats.report import Report, cell_prefix, printable, reason_line
from convlint.formats.style import Style
from convlint.codes import RULE_NAMES


def fix_marker(d: Diagnostic, report: Report) -> str:
    """` [*]` for a finding whose fix `fix --write` applies (with the run's --unsafe-fixes)."""
    return f" [{report.style('*', 'cyan')}]" if d.fixable(report.unsafe_fixes) else ""


def format_concise(report: Report) -> str:
    style = report.style
    lines = []
    for d in report.diagnostics:
        path, *position = _where_parts(d)
        where = style(path, "bold") + "".join(style(":", "cyan") + part for part in position) + style(":", "cyan")
        lines.append(f"{where} {style(d.code, 'bold', 'red')}{fix_marker(d, report)} {printable(d.message)}\n")
        lines.append(reason_line(d, report))
    return "".join(lines)


def format_grouped(report: Report) -> str:
    """Ruff's `grouped`: a heading per file, then `row:col CODE message` aligned under it."""
    style = report.style
    out = []
    for path, group in groupby(report.diagnostics, key=lambda d: d.path):
        found = list(group)
        rows = [":".join(_where_parts(d)[1:-1]) for d in found]
        row_width = max(len(row) for row in rows)
        column_width = max(len(str(d.start.column)) for d in found)
        out.append(f"{style(printable(path), 'underline')}:\n")
        for d, row in zip(found, rows):
            at = f"{row:>{row_width}}{style(':', 'cyan')}{d.start.column:<{column_width}}"
            out.append(f"  {at} {style(d.code, 'bold', 'red')}{fix_marker(d, report)} {printable(d.message)}\n")
            out.append(reason_line(d, report, "    "))
        out.append("\n")
    return "".join(out)


def format_pylint(report: Report) -> str:
    """`path:line: [CODE] message`, the line in the file as it is (a notebook's JSON line)."""
    lines = []
    for d in report.diagnostics:
        row = report.sources.file_location(d.path, d.cell, d.start).row
        lines.append(f"{printable(d.path)}:{row}: [{d.code}] {printable(cell_prefix(d) + d.message)}\n")
    return "".join(lines)


def _where_parts(d: Diagnostic) -> list[str]:
    cell = [f"cell {d.cell}"] if d.cell is not None else []
    return [printable(d.path), *cell, str(d.start.row), str(d.start.column)]


# --------------------------------------------------------------------------- footer


def format_footer(diagnostics: list[Diagnostic], unsafe_fixes: bool, style: Style = Style(),
                  fixed: int = 0, fix_command: str = "convlint fix --write") -> str:
    """`Found 3 errors.` (with `--fix`: how many were fixed and remain) and what the fixes
    that are left would take; `All checks passed!` when nothing was found."""
    n = len(diagnostics)
    if not n and not fixed:
        return "All checks passed!\n"
    if fixed:
        total = n + fixed
        lines = [f"Found {total} error{'s' if total != 1 else ''} ({fixed} fixed, {n} remaining)."]
    else:
        lines = [f"Found {n} error{'s' if n != 1 else ''}."]
    safe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability is Applicability.SAFE)
    unsafe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability is Applicability.UNSAFE)
    star = f"[{style('*', 'cyan')}]"
    if unsafe_fixes and safe + unsafe:
        lines.append(f"{star} {safe + unsafe} fixable with `{fix_command} --unsafe-fixes`.")
    elif safe:
        more = f" ({unsafe} more with `--unsafe-fixes`)" if unsafe else ""
        lines.append(f"{star} {safe} fixable with `{fix_command}`{more}.")
    elif unsafe:
        lines.append(f"No fixes available ({unsafe} fixable with `{fix_command} --unsafe-fixes`).")
    return "".join(line + "\n" for line in lines)


def format_fix_only_footer(report: Report, fixed: int) -> str:
    """`check --fix-only`: how many were fixed, and how many more unsafe fixes would."""
    held = 0 if report.unsafe_fixes else sum(
        1 for d in report.diagnostics if d.fix is not None and d.fix.applicability is Applicability.UNSAFE
    )
    more = f" ({held} more with `--unsafe-fixes`)" if held else ""
    if fixed:
        return f"Fixed {fixed} error{'s' if fixed != 1 else ''}{more}.\n"
    return f"No errors fixed{more}.\n" if held else ""


# --------------------------------------------------------------------------- statistics


def statistics(diagnostics: list[Diagnostic], unsafe_fixes: bool) -> list[dict]:
    """Findings per code, most frequent first; `fixable` when some of them are."""
    counts = Counter(d.code for d in diagnostics)
    fixable = {d.code for d in diagnostics if d.fixable(unsafe_fixes)}
    return [
        {"code": code, "name": RULE_NAMES.get(code, ""), "count": count, "fixable": code in fixable}
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def format_statistics(report: Report) -> str:
    """Ruff's (and flake8's) `--statistics` table: count, code, `[*]` when fixable, name."""
    rows = statistics(report.diagnostics, report.unsafe_fixes)
    if not rows:
        return ""
    count_width = max(len(str(row["count"])) for row in rows)
    code_width = max(len(row["code"]) for row in rows)
    any_fixable = any(row["fixable"] for row in rows)
    lines = []
    for row in rows:
        marker = ("[*] " if row["fixable"] else "[ ] ") if any_fixable else ""
        lines.append(f"{row['count']:>{count_width}}\t{row['code']:<{code_width}}\t{marker}{row['name']}\n")
    return "".join(lines)


def format_statistics_json(report: Report) -> str:
    import json

    return json.dumps(statistics(report.diagnostics, report.unsafe_fixes), indent=2) + "\n"


# --------------------------------------------------------------------------- fixes


def format_available_fixes(report: Report) -> str:
    """`check --show-fixes`: each fix that `fix --write` (with `--unsafe-fixes`) applies."""
    fixable = [d for d in report.diagnostics if d.fixable(report.unsafe_fixes)]
    if not fixable:
        return ""
    lines = [f"Fixes available ({len(fixable)}):\n"]
    lines += [f"  {printable(d.where)}: {d.code} {printable(d.fix.message)}\n" for d in fixable]
    return "".join(lines)


def format_fix_summary(fixed: dict[str, Counter[str]], applied: bool) -> str:
    """`--show-fixes` with fixes: Ruff's table of the fixes applied (or to apply), per file
    and code."""
    total = sum(sum(codes.values()) for codes in fixed.values())
    if not total:
        return ""
    width = max(len(str(n)) for codes in fixed.values() for n in codes.values())
    verb = "Fixed" if applied else "Would fix"
    lines = [f"{verb} {total} error{'s' if total != 1 else ''}:\n"]
    for path, codes in sorted(fixed.items()):
        if not codes:
            continue
        lines.append(f"- {printable(path)}:\n")
        for code, n in sorted(codes.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"    {n:>{width}} × {code} ({RULE_NAMES.get(code, '')})\n")
    return "".join(lines)
