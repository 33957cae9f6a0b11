"""The console entry point. It answers `convlint check FILE...` itself when no file can
have a finding (the usual pre-commit run) without importing click, the rules or the
analysis; it brings `convlint check [PATHS]` with no flag to the commands (commands.py)
without click; any other command line goes to the click CLI (cli.py), which gives the same
answer, only slower.
"""

from __future__ import annotations

import os
import sys

# The words of which every file the rules enabled by default can report on holds at least
# one: the union of their `Rule.needs` (tests/test_launcher.py keeps the two equal). A file
# with `memory_format` alone is left to the module-conversion trigger.
DEFAULT_NEEDED_WORDS = (b"channels_last", b"convert_conv", b"memory_format")
_DECISIVE_WORDS = (b"channels_last", b"convert_conv")
# config.CONFIG_NAMES (tests/test_launcher.py keeps the two equal): reading them is config.py's.
CONFIG_NAMES = (".convlint.toml", "convlint.toml", "pyproject.toml")
_QUICK_FLAGS = {"--force-exclude", "--no-cache"}


def main() -> None:
    args = sys.argv[1:]
    if _nothing_to_find(args):
        sys.stdout.write("All checks passed!\n")
        sys.exit(0)
    if _plain_check(args):
        from convlint.commands import check_paths

        sys.exit(check_paths(args[1:]))
    from convlint.cli import main as cli

    cli()


# The environment variables click reads for `check`'s flags: set, they are the CLI's to apply.
_FLAG_VARIABLES = ("CONVLINT_OUTPUT_FORMAT", "CONVLINT_NO_CACHE")


def _plain_check(args: list[str]) -> bool:
    """`check [PATHS]` with no flag (and no standard input): parsing it needs no click."""
    return (bool(args) and args[0] == "check" and not any(a.startswith("-") for a in args[1:])
            and not any(os.environ.get(v) for v in _FLAG_VARIABLES))


def _nothing_to_find(args: list[str]) -> bool:
    """True for `check [--force-exclude] FILE...` where no configuration applies and no
    file holds a needed word. Anything else, or any doubt, is left to the full CLI."""
    if not args or args[0] != "check":
        return False
    files = [a for a in args[1:] if a not in _QUICK_FLAGS]
    if not files or any(f.startswith("-") or not os.path.isfile(f) for f in files):
        return False
    # each file has the configuration closest to it: any at all is the CLI's to apply
    if any(_may_have_config(directory) for directory in {os.path.dirname(os.path.abspath(f)) for f in files}):
        return False
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return False
        if any(word in data for word in _DECISIVE_WORDS):
            return False
        if b"memory_format" in data:
            from convlint.triggers import may_convert_a_module

            if may_convert_a_module(data):
                return False
    return True


def _may_have_config(directory: str) -> bool:
    """Whether a configuration file may apply in `directory` (config.find_config, without
    importing it): a convlint file there or above, or a pyproject.toml that names convlint
    (whether it has the table, or can be read, is the CLI's to say)."""
    while True:
        for name in CONFIG_NAMES:
            candidate = os.path.join(directory, name)
            if not os.path.isfile(candidate):
                continue
            if name != "pyproject.toml":
                return True
            try:
                with open(candidate, "rb") as f:
                    if b"convlint" in f.read():
                        return True
            except OSError:
                return True
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent
