"""The torch release a project targets, read from its settings and its pins of torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from convlint import targets
from convlint.config import Configuration, ConfigError
from convlint.targets import lowest_admitted, torch_requirement, torch_version


@pytest.mark.parametrize(
    "specifier, lowest",
    [
        ("<2.3", (0, 0, 0)),  # an upper bound alone: any older release
        ("==2.1.*", (2, 1, 0)),
        (">=1.13,<2.2", (1, 13, 0)),
        (">= 1.13 , < 2.2", (1, 13, 0)),
        ("~=2.1", (2, 1, 0)),
        ("~=2.1.3", (2, 1, 3)),
        (">2.1", (2, 1, 1)),
        ("==2.1.0+cu118", (2, 1, 0)),
        (">=2.0.0rc1", (2, 0, 0)),
        ("!=2.1.0,>=2.1", (2, 1, 1)),
        ("!=2.1.*,>=2.1", (2, 2, 0)),
        ("", None),  # a bare `torch` says nothing
        ("!=2.0", None),
        (">=2.3,<2.1", None),  # admits nothing
        ("~=2.1,>=3", None),
        ("latest", None),
    ],
)
def test_the_lowest_release_a_specifier_admits(specifier: str, lowest):
    assert lowest_admitted(specifier) == lowest


@pytest.mark.parametrize(
    "requirement, specifier",
    [
        ("torch", ""),
        ("torch==2.1.0", "==2.1.0"),
        ("Torch[opt] >= 2.0 ; python_version > '3.8'", ">=2.0"),
        ("torch (>=2.0)", ">=2.0"),
        ("torch @ https://download.pytorch.org/whl/cu118/torch-2.1.0%2Bcu118-cp310-cp310-linux_x86_64.whl",
         "==2.1.0"),
        ("https://download.pytorch.org/whl/cpu/torch-2.2.1%2Bcpu-cp311-cp311-linux_x86_64.whl", "==2.2.1"),
        ("torch @ git+https://github.com/pytorch/pytorch", ""),
        ("torchvision==0.16", None),
        ("pytorch-lightning>=2.0", None),
        ("torch-geometric>=2", None),
    ],
)
def test_a_requirement_on_torch_and_only_torch(requirement: str, specifier):
    assert torch_requirement(requirement) == specifier


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    targets.clear_cache()
    return root


@pytest.mark.parametrize(
    "files, lowest, source",
    [
        ({"requirements.txt": "numpy\ntorch<2.3  # no conv3d converter\ntorchvision\n"}, (0, 0, 0), "requirements.txt"),
        ({"requirements-dev.txt": "--extra-index-url https://x\ntorch==2.1.*\n"}, (2, 1, 0), "requirements-dev.txt"),
        ({"requirements/base.txt": "torch>=1.13,\\\n  <2.2\n"}, (1, 13, 0), "requirements/base.txt"),
        ({"requirements.txt": "-r requirements/torch.txt\n", "requirements/torch.txt": "torch==2.0.1\n"},
         (2, 0, 1), "requirements.txt"),
        ({"pyproject.toml": "[project]\nname = 'p'\ndependencies = ['numpy', 'torch>=1.13,<2.2']\n"},
         (1, 13, 0), "pyproject.toml"),
        ({"pyproject.toml": "[tool.poetry.dependencies]\ntorch = { version = '^2.1', source = 'pytorch' }\n"},
         (2, 1, 0), "pyproject.toml"),
        ({"setup.cfg": "[options]\ninstall_requires =\n    numpy\n    torch>=2.0,<2.3\n"}, (2, 0, 0), "setup.cfg"),
        ({"setup.py": "from setuptools import setup\nsetup(install_requires=['torch~=1.13'])\n"},
         (1, 13, 0), "setup.py"),
        # Several pins: the lowest release any of them admits.
        ({"requirements.txt": "torch==2.4.0\n", "setup.cfg": "[options]\ninstall_requires = torch>=2.1\n"},
         (2, 1, 0), "setup.cfg"),
    ],
)
def test_the_torch_release_comes_from_the_projects_pins(tmp_path: Path, files: dict, lowest, source: str):
    root = _project(tmp_path, files)
    found = torch_version(str(root / "src" / "train.py"))
    assert found is not None
    assert (found.lowest, Path(found.source).relative_to(root).as_posix()) == (lowest, source)
    assert found.requirement.startswith("torch")


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"requirements.txt": "torch\n"},  # unpinned
        {"requirements.txt": "torchvision<0.17\n"},
        {"pyproject.toml": "[project\nbroken"},  # unreadable: as if absent
        {"setup.py": "this is not python(\n"},
        {"requirements.txt": "-r requirements.txt\n"},  # an include cycle ends
    ],
)
def test_no_pin_says_nothing(tmp_path: Path, files: dict):
    root = _project(tmp_path, files)
    assert torch_version(str(root / "train.py")) is None


def test_the_setting_wins_and_the_project_root_bounds_the_search(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("torch<2.0\n")  # outside the project
    root = _project(tmp_path, {"pyproject.toml": "[tool.convlint]\ntorch-version = '2.2'\n"})
    assert torch_version(str(root / "train.py")) is None
    settings = Configuration(["CL101"]).settings_for(str(root / "train.py"))
    found = torch_version(str(root / "train.py"), settings.torch_version)
    assert (found.lowest, found.source) == ((2, 2, 0), "[tool.convlint] torch-version")


def test_the_nearest_directory_that_pins_torch_wins(tmp_path: Path):
    root = _project(tmp_path, {"requirements.txt": "torch>=2.4\n", "sub/requirements.txt": "torch==2.1.2\n"})
    assert torch_version(str(root / "sub" / "a.py")).lowest == (2, 1, 2)
    assert torch_version(str(root / "a.py")).lowest == (2, 4, 0)


@pytest.mark.parametrize("value", ["2", "latest", "<2.3", 2.1, ""])
def test_a_bad_torch_version_setting_is_a_clear_error(tmp_path: Path, value):
    config = tmp_path / "pyproject.toml"
    config.write_text(f"[tool.convlint]\ntorch-version = {value!r}\n".replace("'", '"'))
    with pytest.raises(ConfigError, match=r"torch-version must be a torch release such as \"2.1\""):
        Configuration(["CL101"]).settings_for(str(tmp_path / "train.py"))


VIDEO = """\
import torch
from torch import nn
video = nn.Conv3d(3, 8, 3).to(memory_format=torch.channels_last_3d)
video = torch.nn.utils.memory_format.convert_conv3d_weight_memory_format(video, torch.channels_last_3d)
image = nn.Conv2d(3, 8, 3).to(memory_format=torch.channels_last)
"""


@pytest.mark.parametrize("files, old", [
    ({"pyproject.toml": '[tool.convlint]\ntorch-version = "2.2"\n'}, "`torch 2.2` ([tool.convlint] torch-version)"),
    ({"requirements.txt": "torch>=1.13,<2.3\n"}, "`torch>=1.13,<2.3` (requirements.txt)"),
    ({"pyproject.toml": '[project]\nname = "p"\ndependencies = ["torch<2.3"]\n'}, "`torch<2.3` (pyproject.toml)"),
    ({"pyproject.toml": '[tool.convlint]\ntorch-version = "2.3"\n'}, None),
    ({"requirements.txt": "torch>=2.3\n"}, None),
    ({}, None),
])
def test_the_targeted_torch_decides_the_3d_converters_home(tmp_path: Path, files, old):
    """Below torch 2.3 torch.nn.utils has no convert_conv3d_weight_memory_format: CL102's fix
    takes convlint.runtime's (unsafe: a new runtime dependency), CL104 keeps the private path,
    and the messages say why; the 2-D converter is fixed as ever."""
    import json

    from tests.fixture_cases import run_cli

    root = _project(tmp_path, {**files, "train.py": VIDEO})
    found = json.loads(run_cli(["check", "--output-format", "json", "train.py"], root).stdout)
    by_code = {d["code"]: d for d in found}
    assert set(by_code) == {"CL101", "CL102", "CL104"}
    assert by_code["CL101"]["fix"]["applicability"] == "safe"
    cl102, cl104 = by_code["CL102"], by_code["CL104"]
    if old is None:
        assert cl102["fix"]["applicability"] == "safe" and "torch.nn.utils" in cl102["fix"]["message"]
        assert cl104["fix"] is not None and "targets" not in cl102["message"] + cl104["message"]
        return
    assert f"the project targets {old}, whose `torch.nn.utils` has no `convert_conv3d_weight_memory_format`" \
        in cl102["message"]
    assert cl102["fix"]["applicability"] == "unsafe"
    assert "from convlint.runtime import convert_conv3d_weight_memory_format" in json.dumps(cl102["fix"]["edits"])
    assert cl104["fix"] is None and f"not fixed: the project targets {old}" in cl104["message"]
