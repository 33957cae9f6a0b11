"""`.gitignore` files, matched as git matches them (gitignore(5), git's wildmatch), in time
that no pattern can make exponential.

Patterns are read as bytes and matched against paths as bytes, as git does: `?` and a
bracket match one byte, brackets take ranges (an empty one, `[z-a]`, matches nothing), POSIX
classes (`[[:alpha:]]`) and escapes; a malformed bracket makes the pattern match nothing.
A regex translation of `a*a*a*...b` backtracks exponentially; here each `*` between fixed
pieces takes the earliest place its next piece matches (which is always a right choice),
once, so a match costs at most the length of the path times the length of the pattern.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


class GitIgnore:
    """The .gitignore files that apply to a directory, from the repository root down.

    The last matching pattern wins; a pattern of a deeper .gitignore comes later.
    """

    def __init__(self, rules: tuple = (), seen: frozenset = frozenset()):
        self._rules: tuple[_Rule, ...] = rules
        self._seen = seen

    @classmethod
    def for_directory(cls, top: str) -> "GitIgnore":
        """The ignore rules of the repository around `top` (its root up to `top`'s parent)."""
        top_abs = Path(os.path.abspath(top))
        chain = [top_abs.parent] if top_abs.parent != top_abs else []
        for parent in top_abs.parent.parents:
            chain.append(parent)
        root = next((d for d in chain if (d / ".git").exists()), None)
        ignore = cls()
        if root is None:
            return ignore
        for directory in reversed(chain[: chain.index(root) + 1]):
            ignore = ignore.enter(str(directory))
        return ignore

    def enter(self, directory: str) -> "GitIgnore":
        directory = os.path.abspath(directory)
        if directory in self._seen:
            return self
        try:
            with open(os.path.join(directory, ".gitignore"), "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        base = os.fsencode(os.path.join(directory, ""))
        parsed = tuple(rule for line in _lines(data) if (rule := _parse(base, line)) is not None)
        return GitIgnore(self._rules + parsed, self._seen | {directory})

    def ignores(self, path: str, is_dir: bool) -> bool:
        """Whether an absolute path is ignored by its own last matching pattern (a walk does
        not enter an ignored directory, so the path's parents are not asked again)."""
        if not self._rules:
            return False
        encoded = os.fsencode(path)
        name = encoded.rpartition(os.sep.encode())[2]
        ignored = False
        for rule in self._rules:
            if (rule.dir_only and not is_dir) or rule.negated != ignored or not encoded.startswith(rule.base):
                continue  # a rule that would not change the answer is not asked
            if rule.basename is not None:
                hit = rule.basename.match(name) is not None
            else:
                rel = encoded[len(rule.base):]
                if os.sep != "/":
                    rel = rel.replace(os.sep.encode(), b"/")
                hit = rule.matches_path(rel.split(b"/"))
            if hit:
                ignored = not rule.negated
        return ignored


def _lines(data: bytes) -> list[bytes]:
    """A .gitignore's pattern lines, as git reads them: a BOM skipped, lines split at LF
    with a CR before it dropped, comments and blank lines left out, trailing spaces trimmed
    unless escaped."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out = []
    for line in data.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line and not line.startswith(b"#"):
            out.append(_trim_trailing_spaces(line))
    return out


def _trim_trailing_spaces(line: bytes) -> bytes:
    last_space = None
    i = 0
    while i < len(line):
        c = line[i]
        if c == 0x20:
            if last_space is None:
                last_space = i
        elif c == 0x5C:  # a backslash escapes the next byte, a space too
            i += 1
            if i == len(line):
                return line
            last_space = None
        else:
            last_space = None
        i += 1
    return line if last_space is None else line[:last_space]


@dataclass(frozen=True)
class _Rule:
    base: bytes  # the .gitignore's directory, with a trailing separator
    negated: bool
    dir_only: bool
    basename: re.Pattern | None  # a pattern without a slash matches the name alone
    components: tuple  # else: the pattern's components, matched against the relative path

    def matches_path(self, parts: list[bytes]) -> bool:
        return _match_components(self.components, parts)


def _parse(base: bytes, line: bytes) -> _Rule | None:
    negated = line.startswith(b"!")
    if negated:
        line = line[1:]
    dir_only = line.endswith(b"/")
    if dir_only:
        line = line[:-1]
    if not line:
        return None
    if b"/" not in line:
        tokens = _tokens(line)
        regex = _NEVER if tokens is None else _component_regex(tokens)
        return _Rule(base, negated, dir_only, regex, ())
    if line.startswith(b"/"):
        line = line[1:]
    tokens = _tokens(line)
    if tokens is None:
        return _Rule(base, negated, dir_only, _NEVER, ())
    return _Rule(base, negated, dir_only, None, _components(_split(tokens)))


_NEVER = re.compile(b"(?!)")

# --------------------------------------------------------------------------- patterns

# Tokens: a byte value (a literal), ANY (`?`), a frozenset of byte values (a bracket), STAR
# (one or more `*`), GLOBSTAR (`**` that is a whole component), SEP (`/`).
ANY, STAR, GLOBSTAR, SEP = "any", "star", "globstar", "sep"


def _tokens(pattern: bytes) -> list | None:
    """The pattern's tokens, or None when a malformed bracket keeps it from ever matching."""
    out: list = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # *
            j = i
            while j < n and pattern[j] == 0x2A:
                j += 1
            whole = (i == 0 or pattern[i - 1] == 0x2F) and (
                j == n or pattern[j] == 0x2F or pattern[j : j + 2] == b"\\/"
            )
            out.append(GLOBSTAR if whole and j - i >= 2 else STAR)
            i = j
        elif c == 0x3F:  # ?
            out.append(ANY)
            i += 1
        elif c == 0x5B:  # [
            parsed = _bracket(pattern, i)
            if parsed is None:
                return None
            members, i = parsed
            out.append(members)
        elif c == 0x5C:  # backslash: the next byte as it is
            if i + 1 == n:
                return None  # a trailing backslash matches nothing
            out.append(SEP if pattern[i + 1] == 0x2F else pattern[i + 1])
            i += 2
        else:
            out.append(SEP if c == 0x2F else c)
            i += 1
    return out


_CLASSES = {
    b"alnum": bytes(range(48, 58)) + bytes(range(65, 91)) + bytes(range(97, 123)),
    b"alpha": bytes(range(65, 91)) + bytes(range(97, 123)),
    b"blank": b" \t",
    b"cntrl": bytes(range(0, 32)) + b"\x7f",
    b"digit": bytes(range(48, 58)),
    b"graph": bytes(range(33, 127)),
    b"lower": bytes(range(97, 123)),
    b"print": bytes(range(32, 127)),
    b"punct": b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    b"space": b" \t\n\r",  # git's isspace: not \v or \f
    b"upper": bytes(range(65, 91)),
    b"xdigit": b"0123456789ABCDEFabcdef",
}


def _bracket(pattern: bytes, start: int) -> tuple[frozenset, int] | None:
    """The byte values a bracket at `start` matches (never `/`) and the index after it, as
    git's wildmatch reads it; None for a malformed one (unterminated, an unknown class)."""
    n = len(pattern)
    i = start + 1
    negated = i < n and pattern[i] in b"!^"
    if negated:
        i += 1
    members: set[int] = set()
    previous = 0  # the last single member, which a `-` can start a range from
    first = True
    while first or (i < n and pattern[i] != 0x5D):
        first = False
        if i >= n:
            return None
        c = pattern[i]
        if c == 0x5C:  # \x: x
            i += 1
            if i >= n:
                return None
            c = pattern[i]
            members.add(c)
            previous = c
        elif c == 0x2D and previous and i + 1 < n and pattern[i + 1] != 0x5D:  # a range
            i += 1
            end = pattern[i]
            if end == 0x5C:
                i += 1
                if i >= n:
                    return None
                end = pattern[i]
            members.update(range(previous, end + 1))
            previous = 0
        elif c == 0x5B and i + 1 < n and pattern[i + 1] == 0x3A:  # [:class:]
            close = pattern.find(b"]", i + 2)
            if close == -1:
                return None
            if close - (i + 2) < 1 or pattern[close - 1] != 0x3A:  # not `[:...:]`: a plain [
                members.add(c)
                previous = c
            else:
                name = pattern[i + 2 : close - 1]
                if name not in _CLASSES:
                    return None
                members.update(_CLASSES[name])
                previous = 0
                i = close
        else:
            members.add(c)
            previous = c
        i += 1
    if i >= n:
        return None
    if negated:
        members = set(range(256)) - members
    members.discard(0x2F)
    return frozenset(members), i + 1


def _split(tokens: list) -> list[list]:
    """The tokens of each `/`-separated component."""
    parts: list[list] = [[]]
    for token in tokens:
        if token == SEP:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _components(parts: list[list]) -> tuple:
    """Each component as GLOBSTAR or the regex of one path component. A last `**` matches
    one or more components (`a/**` matches what is inside `a`, not `a`): any one, then any
    number."""
    out = [GLOBSTAR if part == [GLOBSTAR] else _component_regex(part) for part in parts]
    if out[-1] == GLOBSTAR:
        out[-1:] = [_ANY_COMPONENT, GLOBSTAR]
    return tuple(out)


_ANY_COMPONENT = re.compile(b".*", re.DOTALL)


def _component_regex(tokens: list) -> re.Pattern:
    """The regex of one component, built so that it cannot backtrack more than once per
    star: the pieces between stars are fixed-length, and each middle piece takes its
    earliest match, atomically (a lookahead that captures, then the capture)."""
    pieces: list[list] = [[]]
    for token in tokens:
        if token in (STAR, GLOBSTAR):  # in one component, `**` is `*`
            pieces.append([])
        else:
            pieces[-1].append(token)
    texts = [b"".join(_token_regex(t) for t in piece) for piece in pieces]
    if len(texts) == 1:
        return re.compile(texts[0] + rb"\Z", re.DOTALL)
    regex = texts[0]
    for group, middle in enumerate(texts[1:-1], start=1):
        regex += b"(?=(.*?" + middle + b"))\\" + str(group).encode()
    regex += b".*" + texts[-1] + rb"\Z"
    return re.compile(regex, re.DOTALL)


def _token_regex(token) -> bytes:
    if token == ANY:
        return b"."
    if isinstance(token, frozenset):
        if not token:
            return b"(?!)"
        return b"[" + b"".join(b"\\x%02x" % c for c in sorted(token)) + b"]"
    return re.escape(bytes([token]))


def _match_components(pattern: tuple, parts: list[bytes]) -> bool:
    """Match path components against pattern components, where GLOBSTAR stands for any
    number of whole components: the runs between globstars are fixed-length, so each
    middle run takes its earliest place (a right choice whenever any is)."""
    runs: list[list] = [[]]
    for component in pattern:
        if component == GLOBSTAR:
            runs.append([])
        else:
            runs[-1].append(component)
    if len(runs) == 1:
        return len(parts) == len(runs[0]) and _run_matches(runs[0], parts, 0)
    first, last = runs[0], runs[-1]
    if len(first) + len(last) > len(parts) or not _run_matches(first, parts, 0):
        return False
    at, end = len(first), len(parts) - len(last)
    for run in runs[1:-1]:
        while at + len(run) <= end and not _run_matches(run, parts, at):
            at += 1
        if at + len(run) > end:
            return False
        at += len(run)
    return _run_matches(last, parts, end)


def _run_matches(run: list, parts: list[bytes], at: int) -> bool:
    return all(regex.match(parts[at + k]) is not None for k, regex in enumerate(run))
