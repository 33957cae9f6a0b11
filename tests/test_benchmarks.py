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


def test_the_formatting_bar_inserts_valid_module_conversions_of_each_kind(tmp_path):
    from benchmarks import bench_formatting

    module = tmp_path / "m.py"
    module.write_text(
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.stem = nn.Conv2d(3, 8, 3)\n"
        "        self.video = nn.Conv3d(\n            3, 8, 3\n        )\n        self.head = nn.Sequential()\n"
        "        self.scale = torch.ones(3)\n"
    )
    assert bench_formatting.insert_conversions(module, [0]) == 3
    text = module.read_text()
    ast.parse(text)
    assert "        self.stem = self.stem.to(memory_format=torch.channels_last)\n" in text
    assert '        self.video = self.video.to("cpu", memory_format=torch.channels_last_3d)  # NHWC\n' in text
    assert "        self.head = nn.Sequential().to(memory_format=torch.channels_last)\n" in text
    assert "self.scale = torch.ones(3)\n" in text  # not a module: left alone
    untouched = tmp_path / "no_torch.py"
    untouched.write_text("from torch import nn\nx = nn.Conv2d(1, 1, 1)\n")
    assert bench_formatting.insert_conversions(untouched, [0]) == 0
