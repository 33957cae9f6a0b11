"""Codecs that do not round-trip (cp932, utf-7, raw_unicode_escape): a fix changes the bytes
of the rewritten calls and nothing else, or the file is not written, with a line saying so."""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convlint.files import DecodedSource, encode_like
from tests.fixture_cases import run_cli

# A converter already imported under a short name: the fixed call stays on one line, however
# long a comment after it (the layout of a long line is the layout tests' business).
CALL = b"m = m.to(memory_format=torch.channels_last)"
FIXED = b"m = cv(m, torch.channels_last)"
HEADER = (b"import torch\nimport torch.nn as nn\nfrom torch.nn.utils import convert_conv2d_weight_memory_format as cv\n"
          b"m = nn.Conv2d(3, 8, 3)\n")

# Pieces of comment text, as bytes in each codec; the first of each decode to text that
# encodes back to other bytes.
PIECES = {
    "cp932": [b"\x87\x90", b"\xed\x40", b"\xfa\x40", b"\x82\xa0", b"\x81\x5f", b"a", b" ", b"\\"],
    "utf-7": [b"+AOk-.", b"~", b"+AOk", b"+AOk.", b"+AOkA6Q-", b"+AOk-", b"+-", b"a", b" "],
    "raw_unicode_escape": [b"\\u00e9", b"\\u0041", b"\\U0001F600", b"\xe9", b"a", b" ", b"\\x"],
}


def source(codec: str, comments: list[bytes], call: bytes, trailer: bytes = b"") -> bytes:
    lines = [f"# -*- coding: {codec} -*-".encode()] + [b"# " + c for c in comments[:2]]
    return b"\n".join(lines) + b"\n" + HEADER + b"\n".join(b"# " + c for c in comments[2:]) + b"\n" + call + trailer + b"\n"


def fixed_bytes(tmp: Path, data: bytes) -> tuple[bytes, object]:
    (tmp / "coded.py").write_bytes(data)
    result = run_cli(["fix", "--write", "--isolated", "coded.py"], tmp)
    return (tmp / "coded.py").read_bytes(), result


@pytest.mark.parametrize("codec", sorted(PIECES))
def test_bytes_far_from_the_call_are_kept(tmp_path, codec):
    odd = PIECES[codec][0]
    assert odd.decode(codec).encode(codec) != odd  # the reason for the test
    data = source(codec, [odd, odd + b" " + odd, odd], CALL, b"  # " + odd)
    after, result = fixed_bytes(tmp_path, data)
    assert result.exit_code == 0, result.output
    assert after == data.replace(CALL, FIXED)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data(), codec=st.sampled_from(sorted(PIECES)))
def test_only_the_rewritten_call_changes_in_any_codec(data, codec):
    pieces = st.lists(st.sampled_from(PIECES[codec]), min_size=1, max_size=6).map(b"".join)
    comments = data.draw(st.lists(pieces, min_size=2, max_size=5))
    trailer = data.draw(st.sampled_from([b"", b"  # "]))
    if trailer:
        trailer += data.draw(pieces)
    original = source(codec, comments, CALL, trailer)
    try:
        text = original.decode(codec)
    except UnicodeDecodeError:  # pieces that do not join (an unterminated shift)
        assume(False)
    with tempfile.TemporaryDirectory() as tmp:
        after, result = fixed_bytes(Path(tmp), original)
    assert result.exit_code == 0, result.output
    assert after == original.replace(CALL, FIXED)
    assert after.decode(codec) == text.replace(CALL.decode(), FIXED.decode())


def test_an_added_import_is_spliced_in_too(tmp_path):
    odd = PIECES["cp932"][0]
    data = b"# -*- coding: cp932 -*-\n# " + odd + b"\nfrom torch.nn import Conv2d\nfrom torch import channels_last\n"
    data += b"# " + odd + b"\nmodel = Conv2d(3, 8, 3)\nmodel.to(memory_format=channels_last)  # " + odd + b"\n"
    after, result = fixed_bytes(tmp_path, data)
    assert result.exit_code == 0, result.output
    expected = data.replace(b"import channels_last\n", b"import channels_last\nfrom torch.nn.utils import convert_conv2d_weight_memory_format\n")
    expected = expected.replace(b"model.to(memory_format=channels_last)", b"convert_conv2d_weight_memory_format(model, channels_last)")
    assert after == expected


def _lossy(name):
    """A codec that decodes every byte as latin-1 but writes "Q" for "q": text with a "q"
    cannot be spliced back into bytes that decode to it."""
    if name != "convlint_test_lossy":
        return None
    latin = codecs.lookup("latin-1")

    def encode(text, errors="strict"):
        return latin.encode(text.replace("q", "Q"), errors)

    return codecs.CodecInfo(encode, latin.decode, name="convlint_test_lossy",
                            incrementaldecoder=latin.incrementaldecoder)


codecs.register(_lossy)


def test_a_text_that_cannot_be_spliced_is_refused():
    data = "# a q\nx = 1\n".encode("latin-1")
    decoded = DecodedSource(data.decode("latin-1"), "convlint_test_lossy")
    assert encode_like(decoded, data, "# a q\nx = 2\n") == b"# a q\nx = 2\n"  # the q line kept as it was
    with pytest.raises(UnicodeError, match="cannot be written in the file's encoding"):
        encode_like(decoded, data, "# a q\nx = q\n")


def test_a_refused_write_is_reported_and_the_file_left(tmp_path, monkeypatch):
    from convlint import lint_file

    def refuse(decoded, data, new_text):
        raise UnicodeError("the fix cannot be written in the file's encoding (cp932) without changing other bytes")

    monkeypatch.setattr(lint_file, "encode_like", refuse)
    data = source("cp932", [PIECES["cp932"][0]] * 2, CALL)
    (tmp_path / "coded.py").write_bytes(data)
    result = run_cli(["fix", "--write", "--isolated", "coded.py"], tmp_path)
    assert result.exit_code == 2
    assert result.stderr == ("error: coded.py: not written: the fix cannot be written in the file's encoding "
                             "(cp932) without changing other bytes\n")
    assert "coded.py:9:5: CL101" in result.stdout  # still there
    assert (tmp_path / "coded.py").read_bytes() == data
