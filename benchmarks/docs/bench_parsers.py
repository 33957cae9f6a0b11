"""How the code blocks of pages are found: speed and line-mapping exactness of the parsers.

    python benchmarks/docs/bench_parsers.py [--cache DIR] [--repeat N]

Pages: every .md and .rst file of the real-code trees in the cache (benchmarks/realcode/
fetch.py), of fixtures/docs and of benchmarks/docs/synthetic. For Markdown, markdown-it-py's
parse alone and convlint's whole page reading (parse + mapping + the Python parse of each
block); a block's mapping is exact when every content line the parser gives is the tail of
its page row (else the block is skipped, with a note). For reStructuredText, docutils
(`publish_doctree`, messages off) against convlint's directive scanner: a docutils literal
block's `line` is exact when it is the row of the block's first content line, as the scanner
finds it (the blocks are matched by their text). Medians of `--repeat` runs, side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.realcode import manifest

ROOT = Path(__file__).resolve().parents[2]


def corpus(cache: Path) -> dict[str, list[tuple[Path, str]]]:
    out: dict[str, list[tuple[Path, str]]] = {".md": [], ".rst": []}
    roots = [cache / "trees", ROOT / "fixtures" / "docs", ROOT / "benchmarks" / "docs" / "synthetic"]
    for root in roots:
        for suffix in out:
            for path in sorted(root.rglob(f"*{suffix}")) if root.is_dir() else []:
                try:
                    out[suffix].append((path, path.read_text(encoding="utf-8")))
                except (OSError, UnicodeDecodeError):
                    continue
    return out


def timed(function, pages, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for path, text in pages:
            function(path, text)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def markdown(pages, repeat: int) -> None:
    from markdown_it import MarkdownIt

    from convlint.markup import read_page

    parser = MarkdownIt("commonmark")
    fences = sum(1 for _, text in pages for t in parser.parse(text) if t.type == "fence")
    inexact = sum(1 for path, text in pages for note in read_page(str(path), text).skipped if "not the same text" in note)
    parse = timed(lambda p, t: parser.parse(t), pages, repeat)
    whole = timed(lambda p, t: read_page(str(p), t), pages, repeat)
    size = sum(len(t) for _, t in pages) / 1e6
    print(f"Markdown: {len(pages)} pages, {size:.2f} MB, {fences} fenced blocks, {fences - inexact} mapped exactly "
          f"({inexact} not: skipped with a note)")
    print(f"  markdown-it-py parse       {parse * 1e3:8.1f} ms  ({parse / len(pages) * 1e3:.2f} ms a page)")
    print(f"  convlint read_page         {whole * 1e3:8.1f} ms  (parse, mapping, each block's Python parse)")


def rst(pages, repeat: int) -> None:
    import docutils.core
    import docutils.nodes

    from convlint.markup import _LINE, _rst_blocks

    overrides = {"report_level": 5, "halt_level": 5, "warning_stream": False, "file_insertion_enabled": False,
                 "raw_enabled": False}

    def with_docutils(path, text):
        return docutils.core.publish_doctree(text, source_path=str(path), settings_overrides=overrides)

    exact = total = 0
    for path, text in pages:
        rows = _LINE.findall(text)
        ours = {}
        for f in _rst_blocks(rows):
            first = next((item[0] for item in f.prefixes if item is not None and rows[item[0]].strip()), None)
            if first is not None:
                ours[rows[first].strip()] = first + 1
        for node in with_docutils(path, text).findall(docutils.nodes.literal_block):
            first_line = next((ln.strip() for ln in node.astext().splitlines() if ln.strip()), "")
            if first_line in ours:
                total += 1
                exact += node.line == ours[first_line]
    parse = timed(with_docutils, pages, repeat)
    scan = timed(lambda p, t: _rst_blocks(_LINE.findall(t)), pages, repeat)
    print(f"reStructuredText: {len(pages)} pages, {total} literal blocks found by both, docutils' line exact for {exact}")
    print(f"  docutils publish_doctree   {parse * 1e3:8.1f} ms  ({parse / max(len(pages), 1) * 1e3:.2f} ms a page)")
    print(f"  convlint directive scanner {scan * 1e3:8.1f} ms  (ratio {parse / scan:.0f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    pages = corpus(manifest.cache_dir(args.cache))
    markdown(pages[".md"], args.repeat)
    rst(pages[".rst"], args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
