"""What a plain LibCST linter (Fixit, TorchFix) pays per file: parse, then ScopeProvider and
QualifiedNameProvider metadata. One process, files in turn; prints JSON timings.

Usage: `python benchmarks/libcst_baseline.py FILE...`
"""

import json
import sys
import time


def main(paths: list[str]) -> None:
    start = time.perf_counter()
    import libcst
    from libcst.metadata import MetadataWrapper, QualifiedNameProvider, ScopeProvider

    import_seconds = time.perf_counter() - start
    wall = cpu = 0.0
    lines = 0
    for path in paths:
        with open(path, "rb") as f:
            source = f.read()
        lines += source.count(b"\n")
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        wrapper = MetadataWrapper(libcst.parse_module(source))
        wrapper.resolve_many([ScopeProvider, QualifiedNameProvider])
        wall += time.perf_counter() - wall_start
        cpu += time.process_time() - cpu_start
    print(json.dumps({"files": len(paths), "lines": lines, "import_seconds": import_seconds,
                      "wall_seconds": wall, "cpu_seconds": cpu}))


if __name__ == "__main__":
    main(sys.argv[1:])
