"""Jupyter notebooks: findings per cell, magics left alone, fixes that touch only code cells."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlint.diagnostics import Location
from convlint.notebook import NotebookError, load_notebook
from tests.fixture_cases import run_cli

OUTPUT = {"output_type": "stream", "name": "stdout", "text": ["héllo ✓\n"]}


def notebook(*cells, language="python") -> dict:
    out = []
    for cell in cells:
        if isinstance(cell, tuple):  # ("markdown", text)
            out.append({"cell_type": cell[0], "metadata": {}, "source": cell[1].splitlines(keepends=True)})
        else:
            out.append({
                "cell_type": "code", "execution_count": 1, "metadata": {"tags": ["t"]},
                "outputs": [OUTPUT], "source": cell.splitlines(keepends=True),
            })
    return {
        "cells": out,
        "metadata": {"kernelspec": {"display_name": "X", "language": language, "name": "x"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def save(path: Path, nb: dict, indent=1, trailing="\n") -> str:
    text = json.dumps(nb, indent=indent, ensure_ascii=False) + trailing
    path.write_text(text, encoding="utf-8")
    return text


TRAIN = notebook(
    ("markdown", "# Train\nWe call `model.to(memory_format=torch.channels_last)` below.\n"),
    "%matplotlib inline\n!pip install timm\nimport torch\nimport torch.nn as nn",
    "model = nn.Sequential(nn.Conv2d(3, 8, 3))\nfiles = !ls\nmodel?\n",
    "%%time\nmodel = model.to(memory_format=torch.channels_last)\n"
    "x = torch.randn(1, 3, 8, 8).to(memory_format=torch.channels_last)",
    "%%bash\necho 'model.to(memory_format=torch.channels_last)'\n",
)


def test_findings_name_the_cell(tmp_path):
    save(tmp_path / "train.ipynb", TRAIN)
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    # Cell 4 (counting every cell), line 2 of the cell; the %%bash cell is not Python.
    assert lines[0].startswith("train.ipynb:cell 4:2:9: CL101 [*] ")
    assert lines[1] == "Found 1 error."


def test_json_output_has_the_cell(tmp_path):
    save(tmp_path / "train.ipynb", TRAIN)
    items = json.loads(run_cli(["check", "--output-format", "json", "."], tmp_path).stdout)
    assert items[0]["cell"] == 4 and items[0]["location"] == {"row": 2, "column": 9}
    assert items[0]["fix"]["edits"][0]["cell"] == 4


def test_fix_changes_only_code_cell_sources(tmp_path):
    path = tmp_path / "train.ipynb"
    before = save(path, TRAIN)
    result = run_cli(["fix", "--write", "train.ipynb"], tmp_path)
    assert result.stdout.endswith("Fixed 1 error in 1 file (0 remaining).\n")
    after = path.read_text(encoding="utf-8")
    expected = json.loads(before)
    expected["cells"][3]["source"][1] = (
        "model = torch.nn.utils.convert_conv2d_weight_memory_format(model, torch.channels_last)\n"
    )
    # Byte for byte what the same serializer writes for the expected notebook: indentation,
    # key order, non-ASCII outputs, magics and the trailing newline all kept.
    assert after == json.dumps(expected, indent=1, ensure_ascii=False) + "\n"
    assert run_cli(["check", "train.ipynb"], tmp_path).stdout == "All checks passed!\n"


@pytest.mark.parametrize("indent, trailing", [(2, ""), (4, "\n"), (None, "")])
def test_other_json_layouts_are_kept(tmp_path, indent, trailing):
    path = tmp_path / "nb.ipynb"
    nb = notebook("import torch\nnet = torch.nn.Conv2d(1, 1, 1)\nnet.to(memory_format=torch.channels_last)\n")
    save(path, nb, indent=indent, trailing=trailing)
    run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    text = path.read_text(encoding="utf-8")
    nb["cells"][0]["source"][2] = "torch.nn.utils.convert_conv2d_weight_memory_format(net, torch.channels_last)\n"
    assert text == json.dumps(nb, indent=indent, ensure_ascii=False) + trailing


def test_a_layout_that_cannot_be_kept_is_not_rewritten(tmp_path):
    path = tmp_path / "odd.ipynb"
    nb = notebook("import torch\nnet = torch.nn.Conv2d(1, 1, 1)\nnet.to(memory_format=torch.channels_last)\n")
    text = json.dumps(nb, indent=1).replace('"nbformat": 4', '"nbformat":   4')
    path.write_text(text)
    result = run_cli(["fix", "--write", "odd.ipynb"], tmp_path)
    assert result.exit_code == 2
    assert "error: odd.ipynb: the notebook's JSON layout cannot be kept; not rewritten" in result.stderr
    assert path.read_text() == text


def test_names_flow_between_cells_and_imports_are_added_in_the_right_cell(tmp_path):
    path = tmp_path / "nb.ipynb"
    nb = notebook(
        "import timm\nfrom torch import channels_last",
        "model = timm.create_model('resnet50')",
        "model = model.to(memory_format=channels_last)",
    )
    save(path, nb)
    run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    cells = [c["source"] for c in json.loads(path.read_text())["cells"]]
    assert cells[0] == [
        "import timm\n", "from torch import channels_last\n",
        "from torch.nn.utils import convert_conv2d_weight_memory_format",
    ]
    assert cells[2] == ["model = convert_conv2d_weight_memory_format(model, channels_last)"]


def test_magics_do_not_break_parsing_and_are_restored(tmp_path):
    path = tmp_path / "nb.ipynb"
    nb = notebook(
        "import torch\nfor i in range(2):\n    %time x = 1\n    !echo hi\n"
        "net = torch.nn.Conv2d(1, 1, 1)\nout = %timeit -o net\nnet.to(memory_format=torch.channels_last)\n"
    )
    save(path, nb)
    run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    source = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert "    %time x = 1\n    !echo hi\n" in source and "out = %timeit -o net\n" in source
    assert "torch.nn.utils.convert_conv2d_weight_memory_format(net, torch.channels_last)" in source


def test_non_python_notebooks_are_skipped(tmp_path):
    save(tmp_path / "r.ipynb", notebook("model.to(memory_format=torch.channels_last)", language="R"))
    assert run_cli(["check", "."], tmp_path).exit_code == 0


def test_invalid_notebook_json_is_a_clear_error_and_the_run_goes_on(tmp_path):
    (tmp_path / "broken.ipynb").write_text('{"cells": [ "m.to(memory_format=torch.channels_last)"')
    save(tmp_path / "good.ipynb", TRAIN)
    result = run_cli(["check", "."], tmp_path)
    assert result.exit_code == 1
    assert "broken.ipynb:1:1: CL000 syntax error: invalid notebook JSON: Expecting ',' delimiter" in result.stdout
    assert "good.ipynb:cell 4:2:9: CL101" in result.stdout


def test_syntax_error_in_a_cell_names_the_cell(tmp_path):
    save(tmp_path / "nb.ipynb", notebook("import torch", "x = (\nmemory_format=torch.channels_last"))
    line = run_cli(["check", "."], tmp_path).stdout.splitlines()[0]
    assert line.startswith("nb.ipynb:cell 2:") and "CL000 syntax error" in line


def test_load_notebook_rejects_non_notebooks():
    with pytest.raises(NotebookError, match="no list of cells"):
        load_notebook('{"metadata": {}}')


def test_stdin_notebook(tmp_path):
    text = json.dumps(TRAIN, indent=1, ensure_ascii=False) + "\n"
    result = run_cli(["check", "--stdin-filename", "nb.ipynb", "-"], tmp_path, input=text)
    assert result.stdout.startswith("nb.ipynb:cell 4:2:9: CL101")


# --------------------------------------------------------------------------- bytes kept

CALL = "net.to(memory_format=torch.channels_last)\n"
FIXED_CALL = "torch.nn.utils.convert_conv2d_weight_memory_format(net, torch.channels_last)\n"


def raw_code_cell(source) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    if source is not ...:  # `...`: no source key at all
        cell["source"] = source
    return cell


def test_cells_the_fix_does_not_touch_are_kept_exactly(tmp_path):
    odd = [
        raw_code_cell(None),
        raw_code_cell(...),
        raw_code_cell(["x = 1\x0c", "# form feed above\x1c and a separator\n", "# line\u2028separator\n", "y = 2"]),
        raw_code_cell(["pass  # convlint-magic-0\n", "# convlint-cell-boundary-6d1f0c\n", "z = 3\n"]),
        raw_code_cell("%time w = 4\npass  # convlint-magic-0"),
    ]
    fixed_cell = raw_code_cell(["import torch\n", "net = torch.nn.Conv2d(1, 1, 1)\n", CALL, "# after\x0cthe call\n"])
    nb = {"cells": [*odd, fixed_cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    save(path, nb)
    result = run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    assert result.stdout.endswith("Fixed 1 error in 1 file (0 remaining).\n"), result.output
    fixed_cell["source"][2] = FIXED_CALL
    assert path.read_text(encoding="utf-8") == json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def test_a_changed_cell_keeps_its_unchanged_lines_as_stored(tmp_path):
    lines = ["import torch\x0c", "\n", "net = torch.nn.Conv2d(1, 1, 1)  # \u2028\n", "# a\x1cb", "\n",
             "net.to(", "memory_format=torch.channels_last)\n", "# tail\u2029", "end = 1"]
    nb = notebook("")
    nb["cells"][0]["source"] = lines
    path = tmp_path / "nb.ipynb"
    save(path, nb)
    run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    nb["cells"][0]["source"] = lines[:5] + [FIXED_CALL] + lines[7:]
    assert path.read_text(encoding="utf-8") == json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def test_user_lines_equal_to_a_placeholder_or_boundary_survive(tmp_path):
    """The placeholders of older versions were fixed strings; a cell could hold them."""
    nb = notebook(
        "import torch\n%time x = 1\npass  # convlint-magic-0\n# convlint-cell-boundary-6d1f0c\n"
        "net = torch.nn.Conv2d(1, 1, 1)\n" + CALL
    )
    path = tmp_path / "nb.ipynb"
    save(path, nb)
    run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    nb["cells"][0]["source"][-1] = FIXED_CALL
    assert path.read_text(encoding="utf-8") == json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def test_the_placeholder_token_is_in_no_cell():
    for token_text in ("", "a"):
        loaded = load_notebook(json.dumps(notebook("%ls\nimport torch\n" + token_text)))
        again = load_notebook(json.dumps(notebook(f"%ls\nimport torch\n# {loaded.token}\n")))
        assert loaded.token not in "%ls\nimport torch\n"
        assert again.token != loaded.token and again.token not in again.cells[0].magics[0]


COMMENT_LINES = ["# plain", "# page\x0cbreak", "# file\x1csep", "# line\u2028sep", "# para\u2029sep",
                 "pass  # convlint-magic-0", "# convlint-cell-boundary-6d1f0c", "x = 'a\x0cb'", "%time y = 1"]


# Where a stored list of lines may be cut: after any character str.splitlines() breaks at
# (tools that split with it cut at form feeds and separators too), or nowhere.
CUT_AFTER = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@st.composite
def stored_source(draw, text: str):
    """`text` as nbformat may store it: a string, or a list of pieces."""
    if draw(st.integers(0, 4)) == 0:
        return text
    places = [i + 1 for i, c in enumerate(text) if c in CUT_AFTER and i + 1 < len(text)]
    cuts = sorted(draw(st.sets(st.sampled_from(places), max_size=6))) if places else []
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


@st.composite
def code_cell_text(draw) -> str:
    lines = draw(st.lists(st.sampled_from(COMMENT_LINES), max_size=5))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_only_the_changed_lines_of_changed_cells_change(data):
    before = data.draw(st.lists(code_cell_text(), max_size=3))
    after = data.draw(st.lists(code_cell_text(), max_size=3))
    head, tail = data.draw(code_cell_text()), data.draw(code_cell_text())
    call_text = "import torch\n" + head + ("\n" if head and not head.endswith("\n") else "")
    call_text += "net = torch.nn.Conv2d(1, 1, 1)\n" + CALL + tail
    others = [data.draw(st.one_of(st.just(None), st.just(...), stored_source(t))) for t in before + after]
    call_source = data.draw(stored_source(call_text))
    cells = [raw_code_cell(s) for s in others[: len(before)]] + [raw_code_cell(call_source)]
    cells += [raw_code_cell(s) for s in others[len(before):]]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb.ipynb"
        text = save(path, nb)
        run_cli(["fix", "--write", "nb.ipynb"], Path(tmp))
        out = path.read_text(encoding="utf-8")
    new = json.loads(out)
    assert out == json.dumps(new, indent=1, ensure_ascii=False) + "\n"  # the layout is kept
    original = json.loads(text)
    call_index = len(before)
    for i, (old_cell, new_cell) in enumerate(zip(original["cells"], new["cells"], strict=True)):
        if i != call_index:
            assert new_cell == old_cell  # null, missing and odd splits included
    new_source = new["cells"][call_index]["source"]
    assert "".join(new_source) == call_text.replace(CALL, FIXED_CALL)
    if isinstance(call_source, list):  # the elements outside the call's line are kept, in order
        call_start = call_text.index(CALL)
        call_end = call_start + len(CALL)
        offset, kept = 0, []
        for element in call_source:
            if offset + len(element) <= call_start or offset >= call_end:
                kept.append(element)
            offset += len(element)
        remaining = iter(new_source)
        assert all(any(e == x for x in remaining) for e in kept), (call_source, new_source)


# --------------------------------------------------------------------------- broken notebooks

BROKEN = {
    "metadata is a number": ({"metadata": 5}, "metadata is a number, not an object"),
    "metadata is a list": ({"metadata": []}, "metadata is an array, not an object"),
    "kernelspec is a string": ({"metadata": {"kernelspec": "python3"}}, "metadata.kernelspec is a string, not an object"),
    "language_info is a list": ({"metadata": {"language_info": ["python"]}},
                                "metadata.language_info is an array, not an object"),
    "source holds a number": ({"cells": [raw_code_cell(["import torch\n", 5])]},
                              "the source of cell 1 holds a number, not only strings"),
    "source holds null": ({"cells": [raw_code_cell([None])]}, "the source of cell 1 holds null, not only strings"),
    "source is an object": ({"cells": [raw_code_cell({"a": 1})]}, "the source of cell 1 is an object"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_notebook_is_one_line_and_the_others_are_checked(tmp_path, name):
    changes, message = BROKEN[name]
    nb = {**notebook("import torch\nmemory_format=torch.channels_last\n"), **changes}
    nb["cells"] = nb["cells"] + [raw_code_cell("m.to(memory_format=torch.channels_last)\n")]
    save(tmp_path / "broken.ipynb", nb)
    save(tmp_path / "good.ipynb", TRAIN)
    for command in (["check", "."], ["fix", "--write", "."]):
        result = run_cli([*command], tmp_path)
        assert "Traceback" not in result.output and "internal error" not in result.output
        broken = [line for line in result.stdout.splitlines() if "broken.ipynb" in line]
        assert broken == [f"broken.ipynb:1:1: CL000 syntax error: invalid notebook: {message}"]
        assert result.exit_code == 1
        if command[0] == "check":
            assert "good.ipynb:cell 4:2:9: CL101" in result.stdout
    assert "convert_conv2d_weight_memory_format(model" in (tmp_path / "good.ipynb").read_text()


# --------------------------------------------------------------------------- the added import

PIP_FIRST = notebook(
    "%matplotlib inline",
    "!pip install torch\nfrom torch.nn import Conv2d\nfrom torch import channels_last\n%load_ext autoreload\nx = 1",
    "model = Conv2d(3, 8, 3)\nmodel.to(memory_format=channels_last)",
)


def layout_of(nb: dict):
    import ast

    from convlint.notebook import cell_layout

    loaded = load_notebook(json.dumps(nb))
    return loaded, cell_layout("nb.ipynb", loaded.source), ast.parse(loaded.source)


def test_the_import_row_is_in_the_first_importing_cell_after_pip_and_imports():
    from convlint.notebook import converter_import_row

    loaded, layout, tree = layout_of(PIP_FIRST)
    row = converter_import_row(layout, tree)
    # Cell 2 (counting every cell), after `!pip`, its two imports and the `%load_ext` magic.
    assert loaded._cell_location(Location(row, 1)) == (2, Location(5, 1))
    assert len(layout.cells) == 3 and len(layout.placeholders) == 3 and len(layout.installs) == 1


def test_the_import_row_follows_an_install_after_imports_and_precedes_the_first_use():
    from convlint.notebook import converter_import_row

    nb = notebook("import os\nx = 1\n%pip install torch\ny = 2", "from torch import channels_last\nm.to(memory_format=channels_last)")
    loaded, layout, tree = layout_of(nb)
    assert loaded._cell_location(Location(converter_import_row(layout, tree), 1)) == (1, Location(4, 1))
    use = loaded.starts[1] + 1  # the call in cell 2: the import may not come later
    assert converter_import_row(layout, tree, first_use=use - 4) == use - 4


def test_a_notebook_without_imports_gets_the_import_before_its_first_statement():
    from convlint.notebook import cell_layout, converter_import_row

    loaded, layout, tree = layout_of(notebook("%matplotlib inline\n!pip install timm", "%time\nm = 1"))
    assert loaded._cell_location(Location(converter_import_row(layout, tree), 1)) == (2, Location(2, 1))
    assert cell_layout("x.py", loaded.source) is None  # a .py file has no cells


def test_fix_puts_the_import_after_pip_in_the_first_importing_cell(tmp_path):
    path = tmp_path / "nb.ipynb"
    save(path, PIP_FIRST)
    run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    cells = [c["source"] for c in json.loads(path.read_text())["cells"]]
    assert cells[0] == ["%matplotlib inline"]
    assert cells[1][:4] == ["!pip install torch\n", "from torch.nn import Conv2d\n", "from torch import channels_last\n",
                            "%load_ext autoreload\n"]
    assert cells[1][4] == "from torch.nn.utils import convert_conv2d_weight_memory_format\n"


# --------------------------------------------------------------------------- CRLF (git autocrlf)

CRLF_NB = notebook(
    ("markdown", "# Train\n"),
    "import torch\nnet = torch.nn.Conv2d(1, 1, 1)\nnet.to(memory_format=torch.channels_last)\n",
    "print('héllo')\n",
)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


@pytest.mark.parametrize("indent, trailing", [(1, "\n"), (2, ""), (4, "\n")])
def test_a_crlf_notebook_is_fixed_and_keeps_its_crlf_bytes(tmp_path, indent, trailing):
    path = tmp_path / "nb.ipynb"
    before = crlf(json.dumps(CRLF_NB, indent=indent, ensure_ascii=False) + trailing)
    path.write_bytes(before)
    result = run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.endswith("Fixed 1 error in 1 file (0 remaining).\n")
    expected = json.loads(before)
    expected["cells"][1]["source"][2] = "torch.nn.utils.convert_conv2d_weight_memory_format(net, torch.channels_last)\n"
    after = path.read_bytes()
    assert after == crlf(json.dumps(expected, indent=indent, ensure_ascii=False) + trailing)
    # Byte for byte, everything up to and after the changed line is what was there.
    old_line = b'"net.to(memory_format=torch.channels_last)\\n"'
    head, tail = before.split(old_line)
    assert after.startswith(head) and after.endswith(tail) and b"\n" not in after.replace(b"\r\n", b"")
    assert run_cli(["check", "nb.ipynb"], tmp_path).stdout == "All checks passed!\n"


def test_check_fix_on_a_crlf_notebook_counts_it_fixed(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(crlf(json.dumps(CRLF_NB, indent=1) + "\n"))
    result = run_cli(["check", "--fix", "nb.ipynb"], tmp_path)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "Found 1 error (1 fixed, 0 remaining).\n"
    assert b"convert_conv2d_weight_memory_format" in path.read_bytes()


def test_a_crlf_notebook_finding_points_at_its_json_line(tmp_path):
    text = json.dumps(CRLF_NB, indent=1) + "\n"
    (tmp_path / "nb.ipynb").write_bytes(crlf(text))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "net.to(" in s)
    out = run_cli(["check", "--output-format", "github", "nb.ipynb"], tmp_path).stdout
    assert out.startswith(f"::error file=nb.ipynb,line={line},col=6,")


def test_a_notebook_with_mixed_line_endings_is_not_rewritten(tmp_path):
    path = tmp_path / "nb.ipynb"
    mixed = crlf(json.dumps(CRLF_NB, indent=1) + "\n").replace(b"\r\n", b"\n", 1)
    path.write_bytes(mixed)
    result = run_cli(["fix", "--write", "nb.ipynb"], tmp_path)
    assert result.exit_code == 2
    assert "error: nb.ipynb: the notebook's JSON layout cannot be kept; not rewritten" in result.stderr
    assert path.read_bytes() == mixed
    # The finding it could not fix still counts.
    assert result.stdout.startswith("nb.ipynb:cell 2:3:1: CL101 [*] ")
    assert result.stdout.endswith("Fixed 0 errors in 0 files (1 remaining).\n")
