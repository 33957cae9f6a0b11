"""The floor for `convlint check DIR`: walk DIR and read every .py file's bytes, nothing else.

Run as its own process, like convlint, so the floor includes an interpreter start. It skips
directories whose names start with a dot, as convlint's default excludes do (the generated
corpora have no other excluded names). Prints the number of files and bytes read.
"""

import os
import sys


def main(paths: list[str]) -> None:
    files = size = 0
    stack = list(paths)
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        stack.append(entry.path)
                elif entry.name.endswith(".py"):
                    with open(entry.path, "rb") as f:
                        size += len(f.read())
                    files += 1
    print(files, size)


if __name__ == "__main__":
    main(sys.argv[1:])
