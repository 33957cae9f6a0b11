"""Library facts, as data: one module per library, each a literal `FACTS` table.

Sections (every key is a qualified name or a pattern; a pattern's segments are globs that
stay inside a segment, `**` spans any number of segments; the most specific key wins, and a
key mapped to None says "nothing is known" where a broader pattern would say something):

- `classes`: what instances of a class are: "module", "script-module", "tensor", "class"
  (a plain class: a pipeline, an accelerator), "none" (not a class of interest).
- `functions`: what a call returns (see `Spec` below).
- `methods`: per class (or `torch.nn.Module` for every module), what a method call returns.
- `attributes`: per class, what an attribute is ("module", "tensor").
- `constants`: a memory format (`{"format": "channels_last"}`) or an alias of another name
  (`{"alias": "torch"}`).
- `hazards`: constructors and functions that make a targeted conversion do less than `.to()`:
  "parametrized" (spectral_norm, weight_norm, parametrizations), "lazy" (LazyConv*),
  "custom_conv" (`F.conv2d` called in a project class that is not an nn.ConvNd).
- `callbacks`: functions and methods that call a function argument with a value:
  `{"argument": 0, "parameter": 0, "value": "module", "repeats": True}`.
- `overrides`: per library class, the parameters (by name) its subclasses' methods are
  called with by the library: `{"pl_module": "module"}` for a Lightning Callback.

A return spec is a string: "module", "script-module", "tensor", "none", "instance" (an
instance of the receiver class: `Model.from_pretrained`), "self" (the receiver),
"arg:0" / "arg:0:model" (the value of positional argument 0, or of keyword `model`),
"script:arg:0" (a ScriptModule made from that argument), "args" (the positional arguments:
the one, or a tuple of them), "iter:module" / "iter:tensor" / "iter:pair-module" (what
iterating over the result gives), "class:<qualified>" (an instance of that library class),
"formats:arg:0"; or a table `{"tuple": [spec, ...]}`, or `{"spec": ..., "keyword": {"name":
spec}}` (another spec when that keyword is passed).
"""

from __future__ import annotations

import re
from functools import lru_cache

from convlint.analysis.facts import (
    accelerate,
    apex,
    deepspeed,
    diffusers,
    ipex,
    lightning,
    physicsnemo,
    python,
    quantization,
    timm,
    torch,
    torchvision,
    transformers,
)

LIBRARIES = (python, torch, quantization, torchvision, timm, diffusers, transformers, accelerate,
             deepspeed, ipex, apex, lightning, physicsnemo)
SECTIONS = ("classes", "functions", "methods", "attributes", "constants", "hazards", "callbacks", "overrides")

# Filled when coverage is on (tests/test_facts.py): every (library, section, key) looked up
# and matched.
USED: set[tuple[str, str, str]] | None = None


class _Table:
    """One section of every library: exact keys and patterns, most specific first."""

    def __init__(self, section: str):
        self.exact: dict[str, tuple[str, object]] = {}
        patterns = []
        for library in LIBRARIES:
            for key, value in library.FACTS.get(section, {}).items():
                owner = library.__name__.rsplit(".", 1)[-1]
                if any(c in key for c in "*?["):
                    patterns.append((key, owner, value))
                else:
                    self.exact[key] = (owner, value)
        # More literal segments first (`torch.nn.utils.**` beats `torch.nn.**`), then the
        # exclusions (`transformers.**.TF*` beats `transformers.**.*Model`), then longer
        # patterns.
        patterns.sort(key=lambda p: (-_literal_segments(p[0]), p[2] is not None, -len(p[0])))
        self.patterns = [(key, _compile(key), owner, value) for key, owner, value in patterns]
        self.section = section

    def lookup(self, qualified: str) -> object | None:
        found = self.exact.get(qualified)
        if found is not None:
            _record(found[0], self.section, qualified)
            return found[1]
        for key, regex, owner, value in self.patterns:
            if regex.fullmatch(qualified):
                _record(owner, self.section, key)
                return value
        return None


def _record(owner: str, section: str, key: str) -> None:
    if USED is not None:
        USED.add((owner, section, key))


def _literal_segments(pattern: str) -> int:
    return sum(1 for part in pattern.split(".") if not any(c in part for c in "*?["))


def _compile(pattern: str) -> re.Pattern:
    segments = pattern.split(".")
    regex = ""
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**" and last:
            regex = regex.removesuffix(r"\.") + r"(?:\.[^.]+)*"
        elif segment == "**":
            regex += r"(?:[^.]+\.)*"
        else:
            regex += _segment(segment) + ("" if last else r"\.")
    return re.compile(regex)


def _segment(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out.append("[^.]*")
        elif c == "?":
            out.append("[^.]")
        elif c == "[" and "]" in glob[i + 2 :]:
            end = glob.index("]", i + 2)
            out.append(glob[i : end + 1])
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@lru_cache(maxsize=None)
def _table(section: str) -> _Table:
    return _Table(section)


@lru_cache(maxsize=65536)
def lookup(section: str, qualified: str) -> object | None:
    """The most specific fact of `section` about `qualified` (None: nothing known)."""
    return _table(section).lookup(qualified)


def every_entry() -> list[tuple[str, str, str]]:
    """(library, section, key) of every fact, for the coverage test."""
    out = []
    for library in LIBRARIES:
        owner = library.__name__.rsplit(".", 1)[-1]
        for section in SECTIONS:
            for key in library.FACTS.get(section, {}):
                out.append((owner, section, key))
    return out


def class_members(section: str, classes: list[str], member: str) -> object | None:
    """A method or attribute fact of the first of `classes` (most derived first) that has
    one; `torch.nn.Module` last for any module."""
    for cls in classes:
        table = lookup(section, cls)
        if isinstance(table, dict) and member in table:
            return table[member]
    return None
