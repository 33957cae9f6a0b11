"""The benchmark corpus generator: deterministic, valid Python, memory_format where promised."""

from __future__ import annotations

import ast
import io
import json
import random
import tarfile
import zipfile

import pytest

from benchmarks import make_corpus
from benchmarks.realcode import extract, fetch, manifest, score


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


# The real-code evaluation set (benchmarks/realcode): manifest, labels, extractor, scorer.


LABEL_HEADER = "\t".join(score.LABEL_FIELDS)


def label_row(project="proj", path="train.py", line=3, col=1, end_line=None, end_col=44, receiver="module",
              fmt="channels_last", hazard="", method="read", evidence="model = Net()"):
    end_line = line if end_line is None else end_line
    return "\t".join(map(str, (project, "1.0", path, line, col, end_line, end_col, "model.to", receiver, fmt,
                               hazard, method, evidence, "model.to(memory_format=torch.channels_last)")))


def write_labels(tmp_path, *rows):
    path = tmp_path / "labels.tsv"
    path.write_text("\n".join((LABEL_HEADER, *rows)) + "\n", encoding="utf-8")
    return path


def finding(path, line, col, end_line, end_col, applicability="safe", code="CL101"):
    fix = None if applicability == "none" else {"applicability": applicability, "edits": []}
    return {"code": code, "filename": path, "location": {"row": line, "column": col},
            "end_location": {"row": end_line, "column": end_col}, "fix": fix}


def test_the_manifest_pins_every_package_and_the_labels_match_it():
    packages = manifest.load()
    assert len(packages) >= 15
    versions = {p.name: p.version for p in packages}
    labels = score.load_labels()
    assert {l.project for l in labels} <= set(versions)
    assert all(l.version == versions[l.project] for l in labels)
    positives = [l for l in labels if l.positive]
    assert len(positives) >= 30 and all(l.evidence for l in positives)
    assert all(l.method == "read" for l in labels if l.receiver == "module")


def test_load_labels_rejects_malformed_rows(tmp_path):
    for bad in (label_row(receiver="model"), label_row(fmt="cl"), label_row(hazard="jit"),
                label_row(end_line=2), label_row(evidence=" "), label_row().rsplit("\t", 1)[0]):
        with pytest.raises(score.LabelError):
            score.load_labels(write_labels(tmp_path, bad))
    with pytest.raises(score.LabelError, match="duplicate"):
        score.load_labels(write_labels(tmp_path, label_row(), label_row()))
    (tmp_path / "labels.tsv").write_text("project\tpath\n", encoding="utf-8")
    with pytest.raises(score.LabelError, match="header"):
        score.load_labels(tmp_path / "labels.tsv")


def test_scorer_counts_precision_recall_misses_and_hazards(tmp_path):
    labels = score.load_labels(write_labels(
        tmp_path,
        label_row(line=3),                                             # positive, found safe
        label_row(line=5, hazard="torchscript"),                       # positive, found safe: hazard
        label_row(line=7, fmt="variable"),                             # positive, found unsafe
        label_row(line=9, fmt="channels_last_3d"),                     # positive, missed
        label_row(line=11, receiver="tensor"),                         # a tensor: a finding there is a false positive
        label_row(line=13, fmt="never"),                               # contiguous: not a positive
    ))
    dump = [finding("proj/train.py", 3, 1, 3, 44), finding("proj/train.py", 5, 1, 5, 44),
            finding("proj/./train.py", 7, 1, 7, 44, "unsafe", "CL102"), finding("proj/train.py", 11, 1, 11, 44, "unsafe"),
            finding("proj/other.py", 1, 1, 1, 9, "none"), finding("proj/train.py", 3, 1, 3, 44, code="CL103")]
    findings = score.load_findings(dump, {"proj"}, None)
    result = score.score(labels, findings)
    assert (result.positives, result.findings, result.true_positives) == (4, 5, 3)
    assert result.precision == pytest.approx(3 / 5) and result.recall == pytest.approx(3 / 4)
    assert result.by_applicability == {"safe": (2, 2), "unsafe": (2, 1), "none": (1, 0)}
    assert [l.line for l in result.misses] == [9]
    assert [(f.line, l.receiver if l else None) for f, l in result.false_positives] == [(11, "tensor"), (1, None)]
    assert [f.line for f, _ in result.hazardous_safe_fixes] == [5]
    assert result.wrong_code == [] and result.unsafe_literal == []
    out = io.StringIO()
    score.report(result, labels, out)
    assert "precision 0.600  recall 0.750" in out.getvalue()
    assert json.loads(json.dumps(score.as_json(result)))["misses"] == ["proj/train.py:9:1"]


def test_scorer_reads_a_per_project_dump_and_rejects_unknown_projects():
    data = {"proj": [finding("./train.py", 3, 1, 3, 44)]}
    assert [f.path for f in score.load_findings(data, {"proj"}, None)] == ["train.py"]
    with pytest.raises(score.FindingsError):
        score.load_findings([finding("elsewhere/train.py", 3, 1, 3, 44)], {"proj"}, None)
    with pytest.raises(score.FindingsError):
        score.load_findings([{"code": "CL101", "filename": "proj/a.py"}], {"proj"}, None)


def test_extractor_finds_keyword_and_converter_calls_with_character_columns(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(
        '"""model.to(memory_format=torch.channels_last) in a docstring is no call."""\n'
        "import torch\n"
        "é = model.to(memory_format=torch.channels_last)\n"
        "x = x.contiguous(memory_format=fmt); y = x.to(dtype)\n"
        "torch.nn.utils.convert_conv3d_weight_memory_format(net, torch.channels_last_3d)\n"
        "x.to(memory_format=torch.channels_last).to(memory_format=torch.contiguous_format)\n",
        encoding="utf-8")
    (tmp_path / "broken.py").write_text("memory_format = (\n", encoding="utf-8")
    errors = []
    sites = extract.tree_sites("p", "1", tmp_path, errors)
    assert [(s.path, s.line, s.col, s.end_col, s.callee, s.format) for s in sites] == [
        ("pkg/m.py", 3, 5, 48, "model.to", "torch.channels_last"),
        ("pkg/m.py", 4, 5, 36, "x.contiguous", "fmt"),
        ("pkg/m.py", 5, 1, 80, "torch.nn.utils.convert_conv3d_weight_memory_format", "torch.channels_last_3d"),
        ("pkg/m.py", 6, 1, 40, "x.to", "torch.channels_last"),
        ("pkg/m.py", 6, 1, 82, "x.to(memory_format=torch.channels_last).to", "torch.contiguous_format"),
    ]
    assert len(errors) == 1 and "broken.py" in errors[0]


def test_fetch_asks_pip_for_the_pinned_wheel_whatever_the_host_python():
    assert fetch.wheel_tag_options("timm-1.0-py3-none-any.whl") == []
    assert fetch.wheel_tag_options("tv-0.2-cp311-cp311-manylinux_2_28_x86_64.whl") == [
        "--platform", "manylinux_2_28_x86_64", "--implementation", "cp", "--python-version", "311", "--abi", "cp311"]
    assert fetch.wheel_tag_options("ao-0.1-cp310-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl") == [
        "--platform", "manylinux_2_24_x86_64", "--platform", "manylinux_2_28_x86_64",
        "--implementation", "cp", "--python-version", "310", "--abi", "abi3"]


def test_unpacking_strips_the_sdist_directory_and_native_libraries(tmp_path):
    sdist = tmp_path / "p-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as t:
        for name, data in (("p-1.0/.gitignore", b"build/\n"), ("p-1.0/p/a.py", b"x = 1\n"),
                           ("p-1.0/p/_C.so", b"\0"), ("p-1.0/../evil.py", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    assert sorted(str(p) for p, _ in fetch.archive_members(sdist, "sdist")) == [".gitignore", "p/a.py"]
    wheel = tmp_path / "p-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("p/a.py", "x = 1\n")
        z.writestr("p/lib.so.1", "\0")
        z.writestr("p-1.0.dist-info/METADATA", "Name: p\n")
    assert sorted(str(p) for p, _ in fetch.archive_members(wheel, "wheel")) == ["p-1.0.dist-info/METADATA", "p/a.py"]


def test_a_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    package = manifest.Package("p", "p", "1.0", "sdist", "p-1.0.tar.gz", "0" * 64, "tuned", "why")

    def offline(*args, **kwargs):
        return fetch.subprocess.CompletedProcess(args, 1, "", "ERROR: Could not find a version that satisfies p==1.0\n")

    monkeypatch.setattr(fetch.subprocess, "run", offline)
    with pytest.raises(fetch.FetchError, match=r"pip download p==1.0 failed \(offline\?"):
        fetch.download(package, tmp_path)


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


# Sets: `tuned` (the analysis was developed against them) and `heldout` (labelled blind).

def package(name, which="tuned"):
    return manifest.Package(name, name, "1.0", "sdist", f"{name}-1.0.tar.gz", "0" * 64, which, "why")


def test_every_package_is_in_one_set_and_the_held_out_set_is_labelled():
    packages = manifest.load()
    assert {p.set for p in packages} == set(manifest.SETS)
    heldout = {p.name for p in packages if p.set == "heldout"}
    labels = score.load_labels()
    assert heldout <= {l.project for l in labels}
    positives = [l for l in labels if l.positive and l.project in heldout]
    assert len(heldout) >= 20 and len(positives) >= 40 and len({l.project for l in positives}) >= 15
    assert all(l.method == "read" for l in labels if l.project in heldout and l.receiver == "module")


def test_a_manifest_entry_without_a_known_set_is_rejected(tmp_path):
    entry = ('[[package]]\nname = "p"\nrequirement = "p"\nversion = "1.0"\ndist = "sdist"\nfile = "p-1.0.tar.gz"\n'
             f'sha256 = "{"0" * 64}"\n{{set}}why = "w"\n')
    path = tmp_path / "packages.toml"
    path.write_text(entry.format(set='set = "heldout"\n'), encoding="utf-8")
    assert [p.set for p in manifest.load(path)] == ["heldout"]
    for bad, message in (("", "keys"), ('set = "test"\n', "set must be one of")):
        path.write_text(entry.format(set=bad), encoding="utf-8")
        with pytest.raises(manifest.ManifestError, match=message):
            manifest.load(path)


def test_select_filters_by_set_and_refuses_a_named_package_of_another_set():
    packages = [package("a"), package("b", "heldout"), package("c")]
    assert [p.name for p in manifest.select(packages, [], "tuned")] == ["a", "c"]
    assert [p.name for p in manifest.select(packages, [], "heldout")] == ["b"]
    assert [p.name for p in manifest.select(packages, ["c", "b"])] == ["c", "b"]
    with pytest.raises(manifest.ManifestError, match="not in the heldout set: a"):
        manifest.select(packages, ["a"], "heldout")
    with pytest.raises(manifest.ManifestError, match="unknown set"):
        manifest.select(packages, [], "test")


def test_the_score_is_given_per_set_and_for_all(tmp_path):
    labels = score.load_labels(write_labels(
        tmp_path, label_row(project="a", line=3), label_row(project="b", line=3), label_row(project="b", line=5)))
    findings = score.load_findings([finding("a/train.py", 3, 1, 3, 44), finding("b/train.py", 5, 1, 5, 44)],
                                   {"a", "b"}, None)
    packages = [package("a"), package("b", "heldout")]
    results = {name: (len(chosen), r) for name, chosen, r in score.scored_sets(packages, labels, findings, "all")}
    assert list(results) == ["tuned", "heldout", "all"]
    assert [(n, r.positives, r.true_positives, r.findings) for n, r in results.values()] == [
        (1, 1, 1, 1), (2, 2, 1, 1), (3, 3, 2, 2)]
    only = score.scored_sets(packages[1:], labels, findings, "heldout")
    assert [(name, result.recall) for name, _, result in only] == [("heldout", 0.5)]


def test_the_combined_timing_trees_hold_the_tuned_set_only(tmp_path, monkeypatch):
    packages = [package("a"), package("b", "heldout")]
    monkeypatch.setattr(manifest, "load", lambda: packages)
    monkeypatch.setattr(fetch, "download", lambda p, downloads: downloads / p.file)

    def unpack(p, archive, trees):
        (trees / p.name).mkdir(parents=True, exist_ok=True)
        (trees / p.name / "m.py").write_text("x = 1\n", encoding="utf-8")
        return trees / p.name

    monkeypatch.setattr(fetch, "unpack", unpack)
    assert fetch.main(["--cache", str(tmp_path), "--no-git", "--set", "heldout"]) == 0
    assert not (tmp_path / "combined").exists()
    assert fetch.main(["--cache", str(tmp_path), "--no-git"]) == 0
    assert sorted(p.name for p in (tmp_path / "combined").iterdir() if not p.name.startswith(".")) == ["a"]


def test_absolute_filenames_from_a_run_are_made_relative_to_the_tree(tmp_path):
    tree = tmp_path / "proj"
    (tree / "pkg").mkdir(parents=True)
    assert score.tree_path(str(tree / "pkg" / "m.py"), tree) == "pkg/m.py"
    assert score.tree_path("./pkg/m.py", tree) == "pkg/m.py"
    with pytest.raises(score.FindingsError, match="outside the tree"):
        score.tree_path(str(tmp_path / "elsewhere.py"), tree)


def test_a_conv_that_is_not_an_nn_conv_is_restrided_by_to_and_skipped_by_the_torch_converter():
    """The `custom_conv` hazard of the labels: a module holding its own 4-D weight, used with F.conv2d."""
    torch = pytest.importorskip("torch")

    class Conv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(8, 4, 3, 3))

        def forward(self, x):
            return torch.nn.functional.conv2d(x, self.weight)

    def channels_last(model):
        return model.weight.is_contiguous(memory_format=torch.channels_last) and not model.weight.is_contiguous()

    assert channels_last(Conv().to(memory_format=torch.channels_last))
    assert not channels_last(torch.nn.utils.convert_conv2d_weight_memory_format(Conv(), torch.channels_last))
    assert "custom_conv" in score.HAZARDS
