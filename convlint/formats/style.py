"""Colour for the human formats, and when to use it: `--color`, then NO_COLOR, FORCE_COLOR and
whether the output is a terminal (the rules CPython's own colouring follows)."""

from __future__ import annotations

import os
from dataclasses import dataclass

_CODES = {
    "bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "underline": "4",
    "bright_red": "91", "bright_blue": "94", "bright_cyan": "96",
}


@dataclass(frozen=True)
class Style:
    enabled: bool = False

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{';'.join(_CODES[s] for s in styles)}m{text}\x1b[0m"


def use_color(choice: str, is_terminal: bool, environ=os.environ) -> bool:
    """`always`/`never` win; `auto`: off when NO_COLOR is set (non-empty), on when
    FORCE_COLOR is, else on a terminal that is not TERM=dumb."""
    if choice != "auto":
        return choice == "always"
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return is_terminal and environ.get("TERM") != "dumb"
