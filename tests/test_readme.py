"""The README's promises: a Quickstart of exactly two commands, the second run by CI."""

from __future__ import annotations

import re

from tests.fixture_cases import ROOT


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quickstart_has_two_commands_checking_fixtures_and_running_tests():
    check, tests = quickstart_commands()
    assert "convlint check fixtures/" in check
    assert "[test]" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command():
    _, tests = quickstart_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci


def test_readme_rule_table_lists_every_rule():
    from convlint.rules import KNOWN_CODES, RULE_NAMES

    readme = (ROOT / "README.md").read_text()
    for code in KNOWN_CODES:
        assert f"| {code} | {RULE_NAMES[code]} |" in readme


def readme_anchors() -> set[str]:
    """The anchors GitHub gives the README's headings (lower case, punctuation dropped,
    spaces as hyphens)."""
    readme = re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", readme, re.M)}


def test_every_rule_url_is_a_readme_heading():
    from convlint.formats.report import rule_url
    from convlint.rules import KNOWN_CODES

    for code in KNOWN_CODES:
        url = rule_url(code)
        assert url.startswith("https://github.com/convlint/convlint#")
        assert url.split("#", 1)[1] in readme_anchors(), code


def test_readme_documents_every_output_format_and_check_option():
    from convlint import formats
    from convlint.cli import check

    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Output formats", 1)[1].split("\n### ", 1)[0]
    for name in formats.NAMES:
        assert f"`{name}`" in section, name
    for param in check.params:
        for flag in getattr(param, "opts", []):
            if flag.startswith("-") and flag not in ("-h", "--help"):
                assert re.search(rf"`[^`]*(?<![\w-]){re.escape(flag)}(?![\w-])[^`]*`", readme), flag


def test_ci_runs_torch_free_tests_on_the_other_pythons():
    """.ci/other-pythons installs no torch: the tests it runs must exist and import none."""
    import ast

    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "bash .ci/other-pythons" in ci
    script = (ROOT / ".ci" / "other-pythons").read_text()
    smoke = re.search(r'SMOKE_TESTS=\$\{SMOKE_TESTS:-"(.*?)"\}', script, re.DOTALL).group(1).split()
    assert len(smoke) >= 5
    for name in smoke:
        tree = ast.parse((ROOT / name).read_text())
        imported = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in tree.body if isinstance(node, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] == "torch"}, name
