"""The flake8 plugin (entry point prefix `CL`): convlint's findings as flake8 violations."""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import replace

from convlint import __version__
from convlint.codes import KNOWN_CODES
from convlint.config import Configuration, ConfigError, Settings
from convlint.diagnostics import Diagnostic, Location
from convlint.lint import lint_buffer
from convlint.source import SourceText
from convlint.suppress import Noqa, is_suppressed, line_directives


class ConvlintChecker:
    """A flake8 tree plugin. It lints the lines flake8 read (a file or stdin); flake8 applies
    its own select/ignore, per-file-ignores and `# noqa` to what it reports."""

    name = "convlint"
    version = __version__
    # From flake8's options (parse_options), before any file is checked.
    extend_select: tuple[str, ...] = ()
    disable_noqa = False
    # Each file's settings as `convlint check` resolves them (the closest configuration
    # file): its fix target, torch version and project root; flake8 does the selecting.
    configuration = Configuration(KNOWN_CODES)
    _told: set[str] = set()

    def __init__(self, tree: ast.AST, lines: list[str], filename: str):
        # flake8 classifies a plugin by its parameters: `tree` makes this one run once per
        # file, and only on files that parse (flake8 reports E999 for the others itself).
        self.lines = lines
        self.filename = filename

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        cls.disable_noqa = options.disable_noqa
        # flake8 chooses what it shows, so every default rule runs; the opt-in ones (CL9xx,
        # about suppressions) only when a flake8 selector names them.
        selectors = [*(options.select or ()), *(options.extend_select or ())]
        cls.extend_select = tuple(s for s in selectors if s.upper().startswith("CL9"))
        cls.configuration = Configuration(KNOWN_CODES)

    def settings(self) -> Settings:
        """The file's settings, with flake8's selection instead of convlint's."""
        try:
            resolved = self.configuration.settings_for(self.filename)
        except ConfigError as e:  # said once, and the file is checked with the defaults
            if str(e) not in self._told:
                self._told.add(str(e))
                sys.stderr.write(f"convlint: error: {e}\n")
            resolved = Settings()
        return replace(resolved, select=Settings.select, extend_select=self.extend_select, ignore=(),
                       per_file_ignores=())

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        text = "".join(self.lines)
        try:
            diagnostics = lint_buffer(text, self.filename, self.settings(), noqa=False)
            directives = {} if self.disable_noqa or not diagnostics else line_directives(SourceText(text))
        except Exception as e:  # flake8 would abort its whole run on a plugin's exception
            sys.stderr.write(f"convlint: error: {self.filename}: internal error: {type(e).__name__}: {e}\n")
            return
        for d in diagnostics:
            if _suppressed_below_first_row(d, directives):
                continue
            # flake8 takes 0-based column offsets and prints them plus one.
            yield d.start.row, d.start.column - 1, f"{d.code} {d.message}", type(self)


def _suppressed_below_first_row(d: Diagnostic, directives: dict[int, Noqa]) -> bool:
    """convlint lets a `# noqa` on any row of a multi-line call suppress it. flake8 reads only
    the row it reports (the first), and does so itself: convlint judges only the rows below."""
    return d.end.row > d.start.row and is_suppressed(replace(d, start=Location(d.start.row + 1, 1)), directives)
