"""What a change costs the language server on a long file (issue 12), run by hand.

    python benchmarks/bench_server.py [--lines 5800] [--repeats 21]

A generated model file of about 5,800 lines (make_corpus, with a `.to(memory_format=...)`
finding) is edited as a user types, in the middle of the file: a character typed inside a
line, and a new line (Enter, which moves every statement after it). Each edit is analysed
as the server analyses a buffer (`BufferAnalysis`: settings, lint, positions), once with a
whole parse of the text (what the server did before analysis/reparse.py) and once with the
document's `Reparser`, alternating A B / B A, on the same sequence of texts. "change + code
action" adds the code action an editor asks for at the cursor after each change: before,
the server analysed the buffer again for it; now it answers from the analysis of that
version. Medians of the repeats, and the median of the paired ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lsprotocol import types  # noqa: E402
from pygls.workspace import TextDocument  # noqa: E402
from pygls.workspace.position_codec import PositionCodec  # noqa: E402

from benchmarks import make_corpus  # noqa: E402
from convlint.analysis.reparse import Reparser  # noqa: E402
from convlint.analysis.syntax import parse  # noqa: E402
from convlint.config import Settings  # noqa: E402
from convlint.server_buffers import BufferAnalysis  # noqa: E402


def long_file(lines: int) -> str:
    rng = random.Random(12)
    return make_corpus.render_file(rng, "model", lines, make_corpus.MF_CHUNKS[0][0])


def edits(text: str, kind: str, n: int) -> list[str]:
    """n successive versions of `text`, each one keystroke on from the last, mid-file."""
    lines = text.splitlines(keepends=True)
    row = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].strip().startswith("return"))
    versions = []
    for _ in range(n):
        if kind == "char":
            body = lines[row].rstrip("\n")
            lines[row] = body + " " + "\n"  # a space typed at the end of the line
        else:
            lines.insert(row + 1, "\n")
        versions.append("".join(lines))
    return versions


def analyse(path: str, text: str, version: int, parser) -> BufferAnalysis:
    document = TextDocument(f"file://{path}", text, version=version, language_id="python")
    return BufferAnalysis(document, path, Settings(project_root=os.path.dirname(path)),
                          PositionCodec(types.PositionEncodingKind.Utf16), parser)


def run(path: str, versions: list[str], parser, requests: int) -> float:
    """Seconds per change: the analysis, plus `requests` code actions on it."""
    start = time.perf_counter()
    for version, text in enumerate(versions, 2):
        analysis = analyse(path, text, version, parser())
        for _ in range(requests):
            if parser is _whole:  # the server before: every request analysed the buffer again
                analysis = analyse(path, text, version, parser())
            analysis.placed()
    return (time.perf_counter() - start) / len(versions)


def _whole():
    return parse


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5800)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--edits", type=int, default=5, help="keystrokes per repeat")
    args = parser.parse_args(argv)
    text = long_file(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.py")
        analysis = analyse(path, text, 1, parse)
        print(f"{text.count(chr(10)):,} lines, {len(analysis.diagnostics)} finding(s); "
              f"load average {os.getloadavg()[0]:.2f}")
        rows = []
        for label, kind, requests in [("character in a line", "char", 0), ("new line", "line", 0),
                                      ("character + code action", "char", 1)]:
            versions = edits(text, kind, args.edits)
            before, after = [], []
            for i in range(args.repeats):
                reparser = Reparser()
                reparser.parse(text)
                incremental = lambda r=reparser: r.parse  # noqa: E731 - one document's parser
                for who in ((_whole, incremental) if i % 2 == 0 else (incremental, _whole)):
                    (before if who is _whole else after).append(run(path, versions, who, requests))
            ratio = statistics.median(a / b for a, b in zip(after, before))
            rows.append((label, statistics.median(before), statistics.median(after), ratio))
        print(f"load average after {os.getloadavg()[0]:.2f}")
    print("\n| change | before (whole parse; request re-analyses) | after (reparse; kept analysis) | after/before |")
    print("| --- | --- | --- | --- |")
    for label, before, after, ratio in rows:
        print(f"| {label} | {before * 1000:.1f} ms | {after * 1000:.1f} ms | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
