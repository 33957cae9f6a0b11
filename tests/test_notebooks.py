"""Jupyter notebooks: findings per cell, magics left alone, fixes that touch only code cells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
