"""CL900: a `# noqa: CLxxx` directive that suppresses nothing."""

from __future__ import annotations

import re

from convlint.diagnostics import Applicability, Diagnostic, Fix
from convlint.rules.base import Context, Relayout, Rule
from convlint.suppress import noqa_edit

CL900_DOC = """\
# unused-noqa (CL900)

## What it does
Finds `# noqa` directives that name a convlint code (`CL101`, ...) with no finding of that
code on the line. Only convlint's own codes are judged, and only those enabled for the file:
`# noqa: E501` belongs to another tool and is left alone, and a bare `# noqa` is never
reported.

## Why is this bad?
A suppression that suppresses nothing is noise, and worse: when the code changes, it
silently hides the next real finding on that line. They pile up as inference improves (a
receiver once only *likely* a module may now be known to be a tensor) and as code is
rewritten by `convlint fix`.

## Example
```python
images = images.to(memory_format=torch.channels_last)  # noqa: CL101
model = model.cuda()  # noqa: CL101, E501
```

Use instead:
```python
images = images.to(memory_format=torch.channels_last)
model = model.cuda()  # noqa: E501
```

## Fix safety
The fix is safe: it removes the unused codes from the directive, or the whole comment when
no other code is left (text after the codes is kept), which changes no behaviour.

## Not on by default
Like Ruff's RUF100, this rule is opt-in: `extend-select = ["CL900"]` (or
`--extend-select CL900`, or `select = ["CL"]`). Which findings exist depends on the
configuration and on the convlint version (inference only gets sharper), so a directive
that is needed under one setup would fail a CI run under another, and an upgrade of
convlint alone could fail a build. Run it when cleaning up, or pin the version when it
gates CI.
"""

# A directive naming some `CL<digit>` code: files without one cannot have a finding.
_CL_NOQA = re.compile(rb"(?i)noqa\s*:[^\r\n]*?cl[0-9]")


class UnusedNoqa(Rule):
    codes = {"CL900": CL900_DOC}
    after_findings = True

    def triggered(self, data: bytes) -> bool:
        return _CL_NOQA.search(data) is not None

    def check(self, ctx: Context) -> list[Diagnostic]:
        directives = {d.row: d for d in ctx.directives.values() if d.codes is not None}
        if not directives:
            return []
        used: set[tuple[int, str]] = set()
        for finding in ctx.findings:
            for row in range(finding.start.row, finding.end.row + 1):
                directive = ctx.directives.get(row)
                if directive is not None:
                    used.add((directive.row, finding.code))
        out = []
        for row, directive in sorted(directives.items()):
            written = directive.written
            unused = [c for c in written if c.upper() in ctx.checked_codes and (row, c.upper()) not in used]
            if not unused:
                continue
            kept = [c for c in written if c not in unused]
            names = ", ".join(f"`{c}`" for c in unused)
            action = f"Remove {names}" if kept else "Remove the `noqa` directive"
            fix = Fix(Applicability.SAFE, action, plan=Relayout((noqa_edit(ctx.source, directive, kept),), ctx.path, comment=True))
            start, end = directive.location
            out.append(Diagnostic(ctx.path, "CL900", f"Unused `noqa` directive (unused: {names})", start, end, fix))
        return out
