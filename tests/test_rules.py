"""The byte prefilter of every rule is sound over the fixtures, and sharp where it matters."""

from __future__ import annotations

import re

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlint.config import Settings
from convlint.lint import lint_source, prefilter, rules_for
from convlint.triggers import may_convert_a_module
from convlint.rules import ALL_RULES
from tests.fixture_cases import all_cases

EXAMPLES = int(os.environ.get("CONVLINT_HYPOTHESIS_EXAMPLES", "60"))
FINDING = re.compile(r"^\S+:\d+:\d+: (CL\d+) ", re.MULTILINE)


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.id)
def test_each_rule_triggers_on_every_file_it_reports(case):
    data = case.path.read_bytes()
    for code in set(FINDING.findall(case.expected(".txt").read_text())) - {"CL000"}:
        (rule,) = [r for r in ALL_RULES if code in r.codes]
        assert rule.triggered(data), f"{code} found in {case.id}, but its rule's prefilter drops the file"


@pytest.mark.parametrize(
    "text",
    [
        "from torch.nn.utils import convert_conv2d_weight_memory_format\n",
        "x = x.to(memory_format=torch.contiguous_format)  # noqa: CL101\n",
    ],
    ids=["public-converter-import", "contiguous-with-noqa"],
)
def test_files_that_cannot_have_a_finding_are_not_parsed(text):
    assert not prefilter(text.encode(), rules_for("a.py", Settings()))


@pytest.mark.parametrize("rule", [r for r in ALL_RULES if r.needs], ids=lambda r: min(r.codes))
def test_needed_words_are_needed(rule):
    """Each fixture the rule triggers on holds a word of `needs`, and stops triggering once
    those words are gone: the shared quick reject never drops a file a rule wants."""
    triggered = 0
    for case in all_cases():
        data = case.path.read_bytes()
        if rule.triggered(data):
            triggered += 1
            assert any(word in data for word in rule.needs), case.id
            stripped = data
            for word in rule.needs:
                stripped = stripped.replace(word, b"")
            assert not rule.triggered(stripped), case.id
    assert triggered


def test_quick_reject_agrees_with_the_rules(tmp_path):
    rules = rules_for("a.py", Settings(select=("CL",)))
    for case in all_cases():
        data = case.path.read_bytes()
        assert prefilter(data, rules) == any(r.triggered(data) for r in rules), case.id


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("x = x.to(memory_format=torch.contiguous_format)\ny = torch.channels_last\n", False),
        ("x = x.to(memory_format = th.preserve_format)  # channels_last\n", False),
        ("x.to(memory_format=torch.contiguous_format)\nm.to(memory_format=fmt)  # channels_last\n", True),
        ("m.to(memory_format=torch.channels_last)\n", True),
        ("m.to(memory_format=(\n    torch.contiguous_format))  # channels_last\n", True),  # not sure: parse
        ("ok = x.memory_format == torch.channels_last\n", False),
    ],
)
def test_contiguous_only_files_are_not_parsed(text, parsed):
    assert prefilter(text.encode(), rules_for("a.py", Settings())) is parsed


def test_two_rules_needing_the_same_import_add_it_once(tmp_path):
    from tests.fixture_cases import run_cli

    (tmp_path / "m.py").write_text(
        "import timm\n"
        "from torch import channels_last\n"
        "import torch.nn.utils.memory_format as private\n"
        "net = private.convert_conv2d_weight_memory_format(timm.create_model('a'), channels_last)\n"
        "import foo\n"
        "model = timm.create_model('b').to(memory_format=channels_last)\n"
    )
    run_cli(["fix", "--write", "m.py"], tmp_path)
    text = (tmp_path / "m.py").read_text()
    assert text.count("from torch.nn.utils import convert_conv2d_weight_memory_format\n") == 1
    assert "net = convert_conv2d_weight_memory_format(timm.create_model('a'), channels_last)" in text
    assert "model = convert_conv2d_weight_memory_format(timm.create_model('b'), channels_last)" in text


def test_chains_of_conditional_formats_are_followed_in_linear_time(monkeypatch):
    from convlint.analysis.evaluate import Evaluator

    calls = []
    real = Evaluator._dispatch
    monkeypatch.setattr(Evaluator, "_dispatch", lambda self, *a: calls.append(1) or real(self, *a))
    chain = "".join(f"f{i} = f{i - 1} if c else f{i - 1}\n" for i in range(1, 40))
    text = "import torch, timm\nf0 = torch.channels_last\n" + chain + "timm.create_model('x').to(memory_format=f39)\n"
    from convlint.lint import lint_source

    found = lint_source(text, "a.py", Settings())
    assert [d.code for d in found] == ["CL101"]
    assert len(calls) < 40 * 10  # each expression once, not 2 ** 39 times


# The module-conversion trigger looks back from each `memory_format=` for its call: a file is
# dropped only when every such keyword is surely an argument of a call that is not `.to(`.
_CALLEES = ["to", "contiguous", "empty_like", "to ", "is_contiguous", "t", "tо"]  # the last: a Cyrillic о
_BEFORE = ["", "device, ", "f(a), ", "'(', ", '"contiguous(", ', "[1, (2)], ", "\n    ", "  # c(\n    ",
           "x.contiguous(y), ", "{'a': 1}, "]
_RECEIVERS = ["model", "nn.Conv2d(3, 3, 3)", "(model)", "model\\\n    ", "x[0]"]


@settings(max_examples=max(50, EXAMPLES), deadline=None, derandomize=EXAMPLES <= 100,
          suppress_health_check=list(HealthCheck))
@given(calls=st.lists(st.tuples(st.sampled_from(_RECEIVERS), st.sampled_from(_CALLEES), st.sampled_from(_BEFORE),
                                st.sampled_from(["torch.channels_last", "fmt", "torch.channels_last_3d"])),
                      min_size=1, max_size=3),
       wrapped=st.booleans())
def test_a_file_the_trigger_drops_has_no_module_conversion(calls, wrapped):
    lines = ["import torch", "import torch.nn as nn", "model = nn.Conv2d(3, 3, 3)", "fmt = torch.channels_last"]
    for receiver, callee, before, fmt in calls:
        call = f"{receiver}.{callee}({before}memory_format={fmt})"
        lines.append(f"y = ({call})" if wrapped else f"y = {call}")
    text = "\n".join(lines) + "\n"
    findings = [d.code for d in lint_source(text, "a.py", Settings())]
    if {"CL101", "CL102"} & set(findings):
        assert may_convert_a_module(text.encode()), text


def test_every_code_has_one_rule_and_one_name():
    """convlint/codes.py (what the formats and the command line read without importing the
    rules) names exactly the codes the rules document, each once."""
    from convlint.codes import KNOWN_CODES, RULE_NAMES, SYNTAX_ERROR
    from convlint.rules import RULE_DOCS

    documented = [code for rule in ALL_RULES for code in rule.codes]
    assert len(documented) == len(set(documented))
    assert sorted([SYNTAX_ERROR, *documented]) == KNOWN_CODES == sorted(RULE_DOCS)
    for rule in ALL_RULES:
        for code, doc in rule.codes.items():
            assert doc.startswith(f"# {RULE_NAMES[code]} ({code})")
