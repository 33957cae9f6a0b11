"""The library facts (convlint/analysis/facts/) are data, and every entry is used by a fixture:
an entry no fixture exercises is either dead or untested."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from convlint.analysis import facts
from tests.fixture_cases import FIXTURES, all_cases, check_output, run_cli

FACT_MODULES = sorted(Path(facts.__file__).parent.glob("*.py"))
DATA_MODULES = [p for p in FACT_MODULES if p.name not in ("__init__.py", "names.py")]


@pytest.mark.parametrize("path", DATA_MODULES, ids=lambda p: p.stem)
def test_a_facts_module_is_one_literal_table(path):
    tree = ast.parse(path.read_text())
    statements = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    assert len(statements) == 1 and isinstance(statements[0], ast.Assign)
    assert [t.id for t in statements[0].targets] == ["FACTS"]
    table = ast.literal_eval(statements[0].value)  # raises on anything but literals
    assert set(table) <= set(facts.SECTIONS)


def test_every_library_has_its_module():
    assert {p.stem for p in DATA_MODULES} == {m.__name__.rsplit(".", 1)[-1] for m in facts.LIBRARIES}


def test_every_fact_is_used_by_a_fixture(monkeypatch):
    monkeypatch.setattr(facts, "USED", set())
    facts.lookup.cache_clear()
    try:
        for case in all_cases():
            check_output(case)
        for project in (FIXTURES / "projects").iterdir():
            run_cli(["check", "."], project)
        unused = [entry for entry in facts.every_entry() if entry not in facts.USED]
    finally:
        facts.lookup.cache_clear()
    assert unused == []


@pytest.mark.parametrize("pattern, name, matches", [
    ("torch.nn.**.[A-Z]*", "torch.nn.Conv2d", True),
    ("torch.nn.**.[A-Z]*", "torch.nn.parallel.DistributedDataParallel", True),
    ("torch.nn.**.[A-Z]*", "torch.nn.SyncBatchNorm.convert_sync_batchnorm", False),
    ("torch.[a-z]*", "torch.zeros", True),
    ("torch.[a-z]*", "torch.nn.functional", False),
    ("torch.nn.utils.**", "torch.nn.utils", True),
    ("torch.nn.utils.**", "torch.nn.utilsx", False),
    ("timm.utils.**.ModelEma*", "timm.utils.ModelEmaV2", True),
    ("timm.utils.**.ModelEma*", "timm.utils.model_ema.ModelEmaV3", True),
])
def test_patterns_stay_inside_segments(pattern, name, matches):
    assert bool(facts._compile(pattern).fullmatch(name)) is matches


def test_the_most_specific_fact_wins():
    assert facts.lookup("classes", "torch.nn.utils.rnn.PackedSequence") is None  # not torch.nn.**.[A-Z]*
    assert facts.lookup("classes", "transformers.TFAutoModel") is None  # an exclusion beats *Model
    assert facts.lookup("classes", "transformers.AutoModel") == "module"
    assert facts.lookup("functions", "torch.load") is None  # beats torch.[a-z]*
