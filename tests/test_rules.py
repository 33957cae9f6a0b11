"""The byte prefilter of every rule is sound over the fixtures, and sharp where it matters."""

from __future__ import annotations

import re

import pytest

from convlint.config import Settings
from convlint.engine import prefilter, rules_for
from convlint.rules import ALL_RULES
from tests.fixture_cases import all_cases

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
