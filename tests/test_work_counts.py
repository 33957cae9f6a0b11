"""The analysis does work linear in what it is asked (counted in Python calls, not timed):
chains of rebindings, names with many bindings, many findings, callers searched."""

from __future__ import annotations

from tests.test_hostile import _python_calls
from convlint import lint
from convlint.config import Settings

HEADER = "import torch\nimport torch.nn as nn\n\n"


def test_a_chain_of_rebindings_costs_linear_work():
    """Issue 10 item 14: 8,000 `m = m.cuda()` once took 13.9 s (quadratic in the bindings)."""
    def check(n: int):
        text = HEADER + "m = nn.Conv2d(1, 1, 1)\n" + "m = m.cuda()\n" * n + "m = m.to(memory_format=torch.channels_last)\n"
        return lambda: lint.lint_source(text, "chain.py", Settings())

    assert [d.code for d in lint.lint_source(
        HEADER + "m = nn.Conv2d(1, 1, 1)\n" + "m = m.cuda()\n" * 3000 + "m = m.to(memory_format=torch.channels_last)\n",
        "chain.py", Settings())] == ["CL101"]
    small, large = _python_calls(check(1_000)), _python_calls(check(4_000))
    assert large < 5 * small, f"{small:,} calls, then {large:,}"


def test_many_conditional_rebindings_of_one_name_cost_linear_work():
    def check(n: int):
        body = "".join(f"if c{i}:\n    m = m.half()\nelse:\n    m = m.float()\n" for i in range(n))
        text = HEADER + "m = nn.Conv2d(1, 1, 1)\n" + body + "m.to(memory_format=torch.channels_last)\n"
        return lambda: lint.lint_source(text, "branches.py", Settings())

    small, large = _python_calls(check(250)), _python_calls(check(1_000))
    assert large < 5 * small, f"{small:,} calls, then {large:,}"
