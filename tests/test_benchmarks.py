"""The benchmark corpus generator: deterministic, valid Python, memory_format where promised."""

from __future__ import annotations

import ast
import random

import pytest

from benchmarks import make_corpus


def tree(directory) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*.py"))}


def test_same_seed_same_tree_and_a_smaller_tree_is_a_subset(tmp_path):
    make_corpus.generate(60, str(tmp_path / "a"))
    make_corpus.generate(60, str(tmp_path / "b"))
    make_corpus.generate(30, str(tmp_path / "c"))
    a, b, c = tree(tmp_path / "a"), tree(tmp_path / "b"), tree(tmp_path / "c")
    assert a == b and len(a) == 60
    assert c.items() <= a.items()
    for path, data in a.items():
        ast.parse(data, filename=path)


def test_all_candidates_tree_names_both_trigger_words_in_every_file(tmp_path):
    make_corpus.generate(40, str(tmp_path), seed=3, all_candidates=True)
    files = tree(tmp_path)
    assert len(files) == 40
    assert all(b"memory_format" in data and b"channels_last" in data for data in files.values())


@pytest.mark.parametrize("chunk", [c for c, _ in make_corpus.MF_CHUNKS])
def test_every_memory_format_chunk_renders_valid_python(chunk):
    for kind in make_corpus.KIND_CHUNKS:
        ast.parse(make_corpus.render_file(random.Random(kind), kind, 60, chunk))


def test_huge_files_exist_and_sizes_span_the_range():
    sizes = [make_corpus.file_spec(0, i, False)[1] for i in range(2000)]
    assert min(sizes) == 50 and max(sizes) >= 10_000
    assert sum(s >= 10_000 for s in sizes) == 2
