"""Which files to lint: the paths named, and the source files under the directories named,
minus excludes and what `.gitignore` ignores.

Inside a git work tree one `git ls-files --cached --others --exclude-standard` lists the
files (git's own rules: nested .gitignores, negation, .git/info/exclude, the global excludes
file; a tracked file is linted even where a pattern matches it, as git treats it). Where git
is not installed, or outside a work tree, a directory walk applies the .gitignore files it
meets with `pathspec`'s gitignore matching.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache

from convlint.config import Configuration
from convlint.files import DOC_SUFFIXES, SOURCE_SUFFIXES, FileError, error_message


@dataclass
class Discovered:
    """What discovery found: the files to lint (sorted), the paths that cannot be walked or
    do not exist (errors), and the files left alone on purpose, with why (notes)."""

    files: list[str]
    errors: list[FileError]
    notes: list[FileError]


def discover_files(paths: list[str], config: Configuration) -> Discovered:
    """The files to lint under `paths`, each directory's entries judged by its own settings
    (a nested configuration file rules its subtree).

    A file named explicitly is always linted (whatever its suffix) unless its settings set
    `force_exclude` and an exclude pattern matches it. A symlink found under a directory is
    the file it points to: linted once (under the name that is not a link, when both are
    found), and only when that file is inside one of the directories named, so that a fix
    never writes outside them. Symlinked directories are not entered.
    """
    found: dict[str, str] = {}  # the real path of each file -> the path it is linted as
    errors: list[FileError] = []
    notes: list[FileError] = []
    roots = [(path, os.path.realpath(path)) for path in paths if _is_directory(path)]
    for path in paths:
        try:
            status = os.stat(path)
        except OSError as e:
            if not os.path.islink(path):
                errors.append(FileError(path, error_message(e)))
                continue
            status = None  # a broken link: reading it says why
        if status is not None and stat.S_ISDIR(status.st_mode):
            if _force_excluded(path, config.settings_for(path)):
                continue
            for file, real, is_link in files_under(path, config, errors):
                if not is_link:
                    found[real] = file
                elif any(_inside(real, root) for _, root in roots):
                    found.setdefault(real, file)
                else:
                    notes.append(FileError(file, f"not checked: a symlink to a file outside the checked directories ({real})"))
        elif not _force_excluded(path, config.settings_for(path)):
            found.setdefault(os.path.realpath(path), path)
    return Discovered(sorted(found.values(), key=path_sort_key), errors, notes)


def files_under(top: str, config: Configuration, errors: list[FileError]):
    """The source files under the directory `top`: (path, real path, is a symlink). Paths
    are `top` joined with the relative path (bare names for `.`)."""
    if config.settings_for_directory(os.path.abspath(top)).respect_gitignore:
        listed = git_listing(top)
        if listed is not None:
            files = _listed_files(top, listed, config, errors)
            if files is not None:
                return files
    return _walk(top, config, errors)


def _force_excluded(path: str, settings) -> bool:
    return settings.force_exclude and settings.is_excluded(path)


def _is_directory(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(os.path.join(root, ""))


def path_sort_key(path: str) -> list[str]:
    return os.path.normpath(path).split(os.sep)


# --------------------------------------------------------------------------- through git


@lru_cache(maxsize=1)
def _git() -> str | None:
    import shutil  # only inside a work tree (a run outside one never starts git)

    return shutil.which("git")


def _in_work_tree(directory: str) -> bool:
    """Whether a `.git` (a directory, or the file of a worktree or submodule) is at or above
    `directory`: the only case worth starting git for."""
    current = os.path.abspath(directory)
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return True
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent


def git_listing(top: str) -> list[str] | None:
    """The paths, relative to `top`, that git lists under it: tracked and untracked files
    that no ignore rule excludes, and directories git does not list into (an untracked
    nested repository, `sub/`; a submodule). None where git cannot answer, or where an
    ignore file holds a pattern git would match in exponential time (then the walk, which
    leaves such patterns out, decides)."""
    if not _in_work_tree(top) or (git := _git()) is None:
        return None
    # Listing the ignore files themselves (tracked or not) needs no ignore rule.
    found = _git_lines(git, top, "--cached", "--others", "--", ":(glob)**/.gitignore")
    if found is None:
        return None
    if any(_is_hostile(path) for path in [*_ignore_files_above(top), *(os.path.join(top, p) for p in found)]):
        return None
    listed = _git_lines(git, top, "--cached", "--others", "--exclude-standard")
    return None if listed is None else list(dict.fromkeys(listed))


def _git_lines(git: str, top: str, *options: str) -> list[str] | None:
    import subprocess

    try:
        result = subprocess.run(
            [git, "-C", top, "ls-files", "-z", *options],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
    except OSError:
        return None
    if result.returncode != 0:  # not a work tree after all (inside .git, a bare repository)
        return None
    return [os.fsdecode(p) for p in result.stdout.split(b"\0") if p]


def _ignore_files_above(top: str) -> list[str]:
    """The ignore files git applies to `top` from its parents: their .gitignores up to the
    work tree's root, and the root's .git/info/exclude."""
    found = []
    current = os.path.abspath(top)
    while True:
        parent = os.path.dirname(current)
        if os.path.lexists(os.path.join(current, ".git")):
            return [*found, os.path.join(current, ".git", "info", "exclude")]
        if parent == current:
            return found
        current = parent
        found.append(os.path.join(current, ".gitignore"))


def _is_hostile(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return any(exponential(line) for line in data.decode("utf-8", "surrogateescape").splitlines())


# A name pattern with more `*` than this (`a*a*a*a*b`) makes a backtracking matcher (git's
# wildmatch, Python's re under pathspec) take time exponential in the count on a long name.
MAX_STARS_IN_A_NAME = 3
_STARS = re.compile(r"\*+")


def exponential(pattern: str) -> bool:
    """Whether a .gitignore line has a path segment with more than MAX_STARS_IN_A_NAME runs
    of `*` (a `**` segment is one run)."""
    return any(len(_STARS.findall(segment)) > MAX_STARS_IN_A_NAME for segment in pattern.strip().split("/"))


def _listed_files(top: str, listed: list[str], config: Configuration, errors: list[FileError]) -> list | None:
    """The files of git's listing that discovery keeps, judged as the walk judges them (each
    directory's settings); None when a directory's settings do not respect .gitignore
    (then the walk decides)."""
    prefix = "" if top == "." else os.path.join(top, "")
    real_prefix = os.path.join(os.path.realpath(top), "")
    absolute_prefix = os.path.join(os.path.abspath(top), "")
    settings_of: dict[str, object] = {}  # relative directory -> its settings
    excluded: dict[str, bool] = {}  # relative directory -> excluded (itself or a parent)

    def settings(rel_dir: str):
        found = settings_of.get(rel_dir)
        if found is None:
            found = settings_of[rel_dir] = config.settings_for_directory(absolute_prefix + rel_dir if rel_dir
                                                                         else absolute_prefix.rstrip(os.sep) or os.sep)
        return found

    def directory_excluded(rel_dir: str) -> bool:
        if rel_dir == "":
            return False
        known = excluded.get(rel_dir)
        if known is None:
            parent, _, name = rel_dir.rpartition("/")
            known = directory_excluded(parent) or settings(parent).excludes_entry(name, prefix + rel_dir)
            excluded[rel_dir] = known
        return known

    out = []
    for rel in listed:
        nested = rel.endswith("/")
        rel = rel.rstrip("/")
        rel_dir, _, name = rel.rpartition("/")
        if directory_excluded(rel_dir):
            continue
        here = settings(rel_dir)
        if not here.respect_gitignore:
            return None
        native = rel if os.sep == "/" else rel.replace("/", os.sep)
        path = prefix + native
        suffixes = SOURCE_SUFFIXES + (DOC_SUFFIXES if here.include_docs else ())
        wanted = name.endswith(suffixes) or (here.extend_include and here.is_included(path))
        if not (nested or wanted or "." not in name):
            continue  # not a source file (a name without a dot may be a submodule)
        if here.excludes_entry(name, path):
            continue
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue  # deleted from the work tree, still in the index
        if stat.S_ISDIR(mode):  # a repository of its own: what it lists
            out.extend(files_under(path, config, errors))
        elif not wanted:
            continue
        elif stat.S_ISLNK(mode):
            out.append((path, os.path.realpath(path), True))
        else:
            out.append((path, real_prefix + native, False))
    return out


# --------------------------------------------------------------------------- the walk


class _Ignores:
    """The .gitignore files that apply in a directory, from the repository root down; a
    pattern of a deeper file decides over a shallower one."""

    def __init__(self, specs: tuple = ()):
        self._specs = specs  # (directory with a trailing separator, GitIgnoreSpec)

    def __bool__(self) -> bool:
        return bool(self._specs)

    @classmethod
    def above(cls, top: str) -> "_Ignores":
        """The .gitignore files of the repository around `top`, down to `top`'s parent
        (none outside a repository)."""
        chain = []
        current = os.path.dirname(os.path.abspath(top))
        while True:
            chain.append(current)
            if os.path.lexists(os.path.join(current, ".git")):
                break
            parent = os.path.dirname(current)
            if parent == current:
                return cls()
            current = parent
        ignores = cls()
        for directory in reversed(chain):
            ignores = ignores.enter(directory)
        return ignores

    def enter(self, directory: str) -> "_Ignores":
        try:
            with open(os.path.join(directory, ".gitignore"), "rb") as f:
                data = f.read()
        except OSError:
            return self
        spec = _spec(data)
        if spec is None:
            return self
        return _Ignores((*self._specs, (os.path.join(directory, ""), spec)))

    def ignores(self, path: str, is_dir: bool) -> bool:
        """Whether an absolute path is ignored by its own patterns (a walk does not enter an
        ignored directory, so its parents are not asked again)."""
        for base, spec in reversed(self._specs):
            if not path.startswith(base):
                continue
            rel = path[len(base):].replace(os.sep, "/") + ("/" if is_dir else "")
            include = spec.check_file(rel).include
            if include is not None:
                return include
        return False


def _spec(data: bytes):
    """A .gitignore's patterns; a pattern that pathspec cannot compile is left out (git
    would match nothing, or next to nothing, with it)."""
    import warnings

    from pathspec import GitIgnoreSpec

    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    patterns = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # re's FutureWarnings about `[[` in brackets
        for line in text.splitlines():
            if exponential(line):
                continue  # see MAX_STARS_IN_A_NAME: left out rather than hang the run
            try:
                GitIgnoreSpec.from_lines([line])
            except Exception:  # pathspec raises ValueError or re.error subclasses
                continue
            patterns.append(line)
        spec = GitIgnoreSpec.from_lines(patterns)
    return spec if len(spec) else None


def _name(entry: os.DirEntry) -> str:
    return entry.name


def _walk(top: str, config: Configuration, errors: list[FileError]):
    stack = [(top, os.path.realpath(top), _Ignores.above(top))]
    while stack:
        directory, real_directory, ignores = stack.pop()
        absolute = os.path.abspath(directory)
        settings = config.settings_for_directory(absolute)
        ignores = ignores.enter(absolute)
        gitignore = ignores if settings.respect_gitignore and ignores else None
        suffixes = SOURCE_SUFFIXES + (DOC_SUFFIXES if settings.include_docs else ())
        try:
            entries = sorted(os.scandir(directory), key=_name, reverse=True)
        except OSError as e:
            errors.append(FileError(directory, f"cannot list the directory: {error_message(e)}"))
            continue
        prefix = "" if directory == "." else os.path.join(directory, "")
        real_prefix, absolute_prefix = os.path.join(real_directory, ""), os.path.join(absolute, "")
        for entry in entries:
            path = prefix + entry.name
            try:
                # Symlinked directories are not followed: they lead to loops and to trees
                # outside the project.
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not is_dir and not entry.name.endswith(suffixes) and not (
                    settings.extend_include and settings.is_included(path)):
                continue
            if settings.excludes_entry(entry.name, path):
                continue
            if gitignore is not None and gitignore.ignores(absolute_prefix + entry.name, is_dir):
                continue
            real = real_prefix + entry.name  # directory links are not followed
            if is_dir:
                stack.append((path, real, ignores))
            elif entry.is_symlink():
                yield path, os.path.realpath(path), True
            else:
                yield path, real, False


# A project's caller search (and the cache's view of a project) reads at most this many
# files, and never walks into these directories.
MAX_PROJECT_FILES = 20000
_PROJECT_SKIP_DIRS = {".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__", "build",
              "dist", "node_modules", "site-packages", ".mypy_cache", ".ruff_cache", ".eggs",
              "__pypackages__", ".ipynb_checkpoints", "buck-out", "_build"}


def project_python_files(root: str, limit: int = MAX_PROJECT_FILES) -> list[str]:
    """Every Python file under a project's root, at most `limit`: the files a caller may be
    in. Default excludes and dot-directories skipped, symlinks not followed; no
    configuration applies (a caller excluded from checking still calls)."""
    found: list[str] = []
    stack = [root]
    while stack and len(found) < limit:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _PROJECT_SKIP_DIRS and not entry.name.startswith("."):
                        stack.append(entry.path)
                elif entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
                    found.append(os.path.abspath(entry.path))
            except OSError:
                continue
    return found
