"""Documentation pages: the code blocks of Markdown, reStructuredText and docstrings (markup.py).

The fixture pages (fixtures/docs) are compared by test_fixtures.py; here: the property that a
fix changes only code, positions, selection, notes, outputs and the edge cases of writing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from convlint.config import Settings
from convlint.fixing import FixOutcome, fix_buffer, fix_source
from convlint.lint import lint_buffer, open_document
from convlint.markup import PageError, read_docstrings, read_page
from tests.fixture_cases import FIXTURES, run_cli

CONVERT = "net = net.to(memory_format=torch.channels_last)"
DEFINE = "net = torch.nn.Conv2d(3, 8, 3)"
PAGE = f"""# Guide

```python
import torch
{DEFINE}
```

Some prose with `net.to(memory_format=torch.channels_last)` in it.

- A list item:

  ```py
  {CONVERT}
  ```
"""


def fixed_page(path: str, text: str, unsafe: bool = True, settings: Settings = Settings()) -> str:
    page = open_document(path, text)
    outcome = fix_source(page.source, path, settings, unsafe, page.block_noqa)
    return page.render(outcome.text)


# --------------------------------------------------------------------------- a fix changes only code

_CODE = [
    "import torch",
    DEFINE,
    CONVERT,
    "net.to(memory_format=torch.channels_last)",
    "x = torch.randn(1, 3, 4, 4).to(memory_format=torch.channels_last)",
    "model = model.to(memory_format=torch.channels_last)",
    "unet.to(\n    memory_format=torch.channels_last\n    )",
    "for m in [net]:\n    m.to(memory_format=torch.channels_last)",
    "model = ...  <the model>",  # pseudo-code: the block is skipped
    "y = 1  # model.to(memory_format=torch.channels_last)",
]
_PROSE = st.sampled_from([
    "Some text.", "`model.to(memory_format=torch.channels_last)` in prose.", "", "<!-- convlint: noqa -->",
    "    model.to(memory_format=torch.channels_last)", "# A heading",
])


def _console(code: str) -> str:
    """A console session of `code`: `>>> ` where a statement starts, `... ` in one."""
    return "\n".join(("... " if line[:1].isspace() else ">>> ") + line for line in code.split("\n"))


@st.composite
def markdown_pages(draw):
    """(page, its segments): prose and code blocks, each block's fence and indentation drawn."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    segments: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 4))):
        segments.append(("prose", draw(_PROSE) + "\n\n"))
        code = "\n".join(draw(st.lists(st.sampled_from(_CODE), min_size=1, max_size=4)))
        style = draw(st.sampled_from(["python", "py", "tilde", "list", "quote", "pycon", "diff"]))
        if style == "pycon":
            code = _console(code)
        fence, indent = ("~~~", "") if style == "tilde" else ("```", "")
        info = {"tilde": "python", "list": "py", "quote": "python"}.get(style, style)
        if style == "list":
            segments.append(("prose", "1. An item:\n\n"))
            indent = "   "
        elif style == "quote":
            indent = "> "
        body = "".join(indent + line + "\n" for line in code.split("\n"))
        segments.append(("prose", f"{indent}{fence}{info}\n"))
        segments.append(("code", body))
        segments.append(("prose", f"{indent}{fence}\n\n"))
    text = "".join(t for _, t in segments)
    return text.replace("\n", newline), [(k, t.replace("\n", newline)) for k, t in segments]


@st.composite
def rst_pages(draw):
    segments: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 3))):
        segments.append(("prose", "Some text.\n\n"))
        code = "\n".join(draw(st.lists(st.sampled_from(_CODE), min_size=1, max_size=4)))
        style = draw(st.sampled_from(["code-block", "literal", "doctest", "noqa"]))
        if style == "doctest":
            code = _console(code)
            head = ".. doctest::\n\n"
        elif style == "literal":
            head = "Example::\n\n"
        else:
            head = (".. convlint: noqa\n\n" if style == "noqa" else "") + ".. code-block:: python\n\n"
        segments.append(("prose", head))
        segments.append(("code", "".join("   " + line + "\n" for line in code.split("\n"))))
        segments.append(("prose", "\n"))
    return "".join(t for _, t in segments), segments


def _only_code_changed(segments: list[tuple[str, str]], fixed: str) -> bool:
    """Whether `fixed` is the page with only its code segments replaced."""
    pattern = "".join(re.escape(t) if kind == "prose" else "(.*?)" for kind, t in segments)
    return re.fullmatch(pattern, fixed, re.DOTALL) is not None


@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(markdown_pages().map(lambda drawn: ("page.md", drawn)), rst_pages().map(lambda drawn: ("page.rst", drawn))))
def test_a_fixed_page_differs_only_inside_code_blocks(case):
    path, (text, segments) = case
    fixed = fixed_page(path, text)
    assert _only_code_changed(segments, fixed)
    # ... and it is a fixed point: nothing fixable is left, a second fix changes nothing.
    assert fixed_page(path, fixed) == fixed


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdown_pages())
def test_findings_point_at_the_call_on_the_page(drawn):
    text, _ = drawn
    rows = text.splitlines()
    for d in lint_buffer(text, "page.md", Settings()):
        line = rows[d.start.row - 1]
        at = line[d.start.column - 1 :]
        assert re.match(r"(net|model|m|unet)\.to\(", at), (line, d)
        # The rewrite's edits are edits of the page: applying them keeps the page a page.
        if d.fix is not None:
            assert all(e.cell is None for e in d.fix.edits)


# --------------------------------------------------------------------------- positions and outputs


def test_the_finding_is_at_the_page_line(tmp_path: Path):
    (tmp_path / "guide.md").write_text(PAGE)
    result = run_cli(["check", "--output-format", "concise", "guide.md"], tmp_path)
    row = PAGE.splitlines().index(f"  {CONVERT}") + 1
    assert result.stdout.splitlines()[0].startswith(f"guide.md:{row}:9: CL101 [*] ")
    github = run_cli(["check", "--output-format", "github", "guide.md"], tmp_path).stdout
    assert f"file=guide.md,line={row},col=9," in github
    sarif = json.loads(run_cli(["check", "--output-format", "sarif", "guide.md"], tmp_path).stdout)
    region = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (row, 9)
    (finding,) = json.loads(run_cli(["check", "--output-format", "json", "guide.md"], tmp_path).stdout)
    assert (finding["location"]["row"], finding["cell"]) == (row, None)
    # The fix's edit in JSON is an edit of the page: applied to it, it gives `fix --write`.
    (edit,) = finding["fix"]["edits"]
    assert edit["location"]["row"] == row and edit["location"]["column"] == 9
    lines = PAGE.splitlines(keepends=True)
    line = lines[row - 1]
    new = line[: edit["location"]["column"] - 1] + edit["content"] + line[edit["end_location"]["column"] - 1 :]
    run_cli(["fix", "--write", "guide.md"], tmp_path)
    assert (tmp_path / "guide.md").read_text() == "".join(lines[: row - 1] + [new] + lines[row:])


def test_a_page_never_gets_cl000_and_verbose_lists_skipped_blocks(tmp_path: Path):
    page = "```python\nmodel = ...\nmodel.to(memory_format=<channels_last>)\n```\n\n```python\nfor each m in models:\n    m.to(memory_format=torch.channels_last)\n```\n"
    (tmp_path / "pseudo.md").write_text(page)
    quiet = run_cli(["check", "pseudo.md"], tmp_path)
    assert (quiet.stdout, quiet.stderr, quiet.exit_code) == ("All checks passed!\n", "", 0)
    verbose = run_cli(["check", "--verbose", "pseudo.md"], tmp_path)
    assert verbose.stderr.splitlines() == [
        "info: pseudo.md:1: code block skipped: it does not parse as Python",
        "info: pseudo.md:6: code block skipped: it does not parse as Python",
    ]
    assert verbose.exit_code == 0


def test_markdown_named_on_the_command_line_is_read_as_a_page_not_python(tmp_path: Path):
    # Before: `CL000 syntax error: leading zeros in decimal integer literals`.
    page = "# fp16\n\nUse 01 or 02 GPUs.\n\n```py\nimport torch\nnet = torch.nn.Conv2d(3, 3, 1)\nnet.to(memory_format=torch.channels_last)\n```\n"
    (tmp_path / "fp16.md").write_text(page)
    result = run_cli(["check", "--output-format", "concise", "fp16.md"], tmp_path)
    assert result.stdout.startswith("fp16.md:8:1: CL101 [*] ")
    assert "CL000" not in result.stdout


def test_a_txt_page_is_read_as_restructuredtext(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("Example::\n\n    net = torch.nn.Conv2d(3, 3, 1)\n    net.to(memory_format=torch.channels_last)\n")
    result = run_cli(["check", "--output-format", "concise", "notes.txt"], tmp_path)
    assert result.stdout.startswith("notes.txt:4:5: CL101 [*] ")


# --------------------------------------------------------------------------- selection


def _tree(tmp_path: Path, config: str | None) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text(PAGE)
    (tmp_path / "docs" / "api.rst").write_text(".. code-block:: python\n\n   import torch\n   net = torch.nn.Conv2d(3, 3, 1)\n   net.to(memory_format=torch.channels_last)\n")
    (tmp_path / "docs" / "notes.txt").write_text("Example::\n\n    net = torch.nn.Conv2d(3, 3, 1)\n    net.to(memory_format=torch.channels_last)\n")
    if config is not None:
        (tmp_path / "pyproject.toml").write_text(f"[tool.convlint]\n{config}\n")
    return tmp_path


def _files(output: str) -> set[str]:
    return {line.split(":")[0] for line in output.splitlines() if ": CL" in line}


def test_walks_skip_pages_unless_include_docs(tmp_path: Path):
    root = _tree(tmp_path, None)
    assert _files(run_cli(["check", "--output-format", "concise", "."], root).stdout) == set()


def test_include_docs_walks_pages(tmp_path: Path):
    root = _tree(tmp_path, "include-docs = true")
    assert _files(run_cli(["check", "--output-format", "concise", "."], root).stdout) == {
        "docs/api.rst", "docs/guide.md", "docs/notes.txt"}


def test_extend_include_walks_the_pages_it_names(tmp_path: Path):
    root = _tree(tmp_path, 'extend-include = ["docs/*.rst"]')
    assert _files(run_cli(["check", "--output-format", "concise", "."], root).stdout) == {"docs/api.rst"}


@pytest.mark.parametrize("config, message", [
    ('include-docs = "yes"', "include-docs must be true or false"),
    ("extend-include = 1", "extend-include must be a list of strings"),
    ("docstring-code = 1", "docstring-code must be true or false"),
])
def test_bad_doc_settings_are_one_line_errors(tmp_path: Path, config: str, message: str):
    root = _tree(tmp_path, config)
    result = run_cli(["check", "."], root)
    assert result.exit_code == 2
    assert message in result.stderr


def test_the_prefilter_keeps_pages_without_the_words_unparsed(tmp_path: Path, monkeypatch):
    from convlint import markup

    root = _tree(tmp_path, "include-docs = true")
    (root / "docs" / "other.md").write_text("```python\nimport torch\nx = torch.ones(1)\n```\n")
    read = []
    real = markup.read_page
    monkeypatch.setattr(markup, "read_page", lambda path, text, token=None: read.append(path) or real(path, text, token))
    run_cli(["check", "-j", "1", "."], root)
    assert sorted(Path(p).name for p in read) == ["api.rst", "guide.md", "notes.txt"]


def test_a_python_tree_does_not_import_the_markdown_parser(tmp_path: Path):
    (tmp_path / "a.py").write_text("import torch\nnet = torch.nn.Conv2d(3, 3, 1)\nnet.to(memory_format=torch.channels_last)\n")
    code = ("import sys; from convlint.cli import main\n"
            "try:\n    main(['check', '.'])\nexcept SystemExit:\n    pass\n"
            "print('markdown_it' in sys.modules, 'convlint.markup' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.splitlines()[-1] == "False False"


# --------------------------------------------------------------------------- docstrings


def test_docstring_examples_are_opt_in(tmp_path: Path):
    source = (FIXTURES / "docs" / "docstrings" / "examples.py").read_text()
    (tmp_path / "examples.py").write_text(source)
    off = run_cli(["check", "--output-format", "concise", "examples.py"], tmp_path).stdout
    assert [line.split(":")[1] for line in off.splitlines() if ": CL" in line] == ["22"]  # the code only


def test_docstring_examples_that_would_read_differently_are_skipped():
    text = 'def f():\n    """Doc.\n\n    >>> print("a\\n")\n    >>> m.to(memory_format=torch.channels_last)\n    """\n'
    import ast

    page = read_docstrings("a.py", text, ast.parse(text))
    assert page.blocks == [] and "backslash" in page.skipped[0]


# --------------------------------------------------------------------------- writing back


def test_a_rewrite_that_cannot_be_put_back_exactly_is_refused():
    page = read_page("page.md", "```python\nimport torch\nx = 1\n```\n")
    with pytest.raises(PageError):
        page.render(page.source.replace("x = 1", "```"))  # would close the fence


def test_an_unwritable_rewrite_is_reported_and_nothing_is_written(tmp_path: Path, monkeypatch):
    from convlint import markup

    (tmp_path / "guide.md").write_text(PAGE)

    def refuse(self, fixed_source):
        raise PageError("a code block's fix cannot be written back into the page exactly; not written")

    monkeypatch.setattr(markup.Page, "render", refuse)
    result = run_cli(["fix", "--write", "guide.md"], tmp_path)
    assert result.exit_code == 2
    assert "error: guide.md: a code block's fix cannot be written back into the page exactly" in result.stderr
    assert (tmp_path / "guide.md").read_text() == PAGE


def test_the_page_keeps_its_last_line_without_a_newline():
    text = "```python\nimport torch\nnet = torch.nn.Conv2d(3, 3, 1)\nnet.to(memory_format=torch.channels_last)\n```"
    assert fixed_page("page.md", text).endswith("convert_conv2d_weight_memory_format(net, torch.channels_last)\n```")
    rst = ".. code-block:: python\n\n   net = torch.nn.Conv2d(3, 3, 1)\n   net.to(memory_format=torch.channels_last)"
    assert fixed_page("page.rst", rst).endswith("   torch.nn.utils.convert_conv2d_weight_memory_format(net, torch.channels_last)")


def test_fix_buffer_fixes_a_page_as_fix_write_does(tmp_path: Path):
    outcome: FixOutcome = fix_buffer(PAGE, "guide.md", Settings(), unsafe=False)
    (tmp_path / "guide.md").write_text(PAGE)
    run_cli(["fix", "--write", "--isolated", "guide.md"], tmp_path)
    assert outcome.text == (tmp_path / "guide.md").read_text()
    assert outcome.fixed == 1 and outcome.remaining == []


# --------------------------------------------------------------------------- the evaluation set


def test_the_doc_labels_are_well_formed_and_match_their_pages():
    from benchmarks.docs import score

    sites = score.load_labels()
    assert len(sites) >= 60 and len({s.key for s in sites}) == len(sites)
    for s in sites:
        assert s.label in ("module", "tensor", "not-python", "other"), s
        assert (s.expected in ("CL101", "CL102")) == (s.label == "module"), s
        if s.set == "synthetic":  # the real pages are in the cache; these are here
            line = (score.SYNTHETIC / s.path).read_text().splitlines()[s.line - 1]
            assert line.strip()[:120] == s.text, s


def test_the_synthetic_doc_set_meets_the_bar(capsys):
    from benchmarks.docs import score

    assert score.main(["--set", "synthetic", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["score"]["synthetic"]
    assert result["precision"] == 1.0 and result["recall"] >= 0.9, result


def test_the_readme_before_and_after_page_is_what_fix_writes(tmp_path: Path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Documentation\n", 1)[1].split("\n### ", 1)[0]
    before, after = re.findall(r"~~~markdown\n(.*?)~~~\n", section, re.DOTALL)
    (tmp_path / "page.md").write_text(before)
    run_cli(["fix", "--write", "--isolated", "page.md"], tmp_path)
    assert (tmp_path / "page.md").read_text() == after


def test_an_undecodable_page_is_a_one_line_error_not_cl000(tmp_path: Path):
    (tmp_path / "notes.txt").write_bytes(b"Example::\n\n    net.to(memory_format=torch.channels_last)  # \xff\n")
    result = run_cli(["check", "notes.txt"], tmp_path)
    assert result.exit_code == 2 and "CL000" not in result.stdout
    assert result.stderr.startswith("error: notes.txt: cannot decode the file as utf-8: ")
    assert len(result.stderr.splitlines()) == 1


def test_add_noqa_on_a_page_writes_the_comment_into_the_code_line(tmp_path: Path):
    (tmp_path / "guide.md").write_text(PAGE)
    run_cli(["check", "--add-noqa", "guide.md"], tmp_path)
    assert (tmp_path / "guide.md").read_text() == PAGE.replace(f"  {CONVERT}\n", f"  {CONVERT}  # noqa: CL101\n")
    assert run_cli(["check", "guide.md"], tmp_path).stdout == "All checks passed!\n"


def test_standard_input_named_as_a_page_is_read_as_a_page(tmp_path: Path):
    result = run_cli(["fix", "--stdin-filename", "guide.md", "-"], tmp_path, input=PAGE)
    assert result.stdout == fixed_page("guide.md", PAGE, unsafe=False)
    assert "convert_conv2d_weight_memory_format(net, torch.channels_last)" in result.stdout


def test_lines_a_fix_adds_to_a_console_session_get_the_prompts_doctest_needs():
    page = ("```pycon\n>>> import torch\n>>> net = torch.nn.Conv2d(3, 8, 3)\n>>> net = net.to(\n"
            "...     memory_format=torch.channels_last)\n>>> net.weight.shape\ntorch.Size([8, 3, 3, 3])\n```\n")
    fixed = fixed_page("page.md", page, settings=Settings(fix_target="convlint"))
    assert fixed == (
        "```pycon\n>>> import torch\n>>> from convlint.runtime import convert_conv2d_weight_memory_format\n"
        ">>> net = torch.nn.Conv2d(3, 8, 3)\n>>> net = convert_conv2d_weight_memory_format(net, torch.channels_last)\n"
        ">>> net.weight.shape\ntorch.Size([8, 3, 3, 3])\n```\n")


def test_a_console_whose_prompts_would_not_fit_its_statements_is_not_written():
    # `...` where a statement starts: doctest would read the two lines as one statement.
    page = ("```pycon\n>>> import torch\n... net = torch.nn.Conv2d(3, 8, 3)\n"
            ">>> net.to(memory_format=torch.channels_last)\n```\n")
    with pytest.raises(PageError):
        fixed_page("page.md", page)
    fitting = page.replace("... net", ">>> net")
    assert "convert_conv2d_weight_memory_format(net" in fixed_page("page.md", fitting)
