"""Run over paths: discover the files, group them by their settings, read and prefilter
them (most files stop there, unparsed; in the workers of a pool for a large tree), answer
what the result cache can, and process the candidates (lint_file.py); one source from
standard input too. Never prints.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace

from convlint.analysis.project import forget_projects, project_for
from convlint.config import Configuration, Settings
from convlint.discovery import discover_files, path_sort_key
from convlint.files import FileError, error_message, read_bytes
from convlint.lint import prefilter, rules_for
from convlint.lint_file import FileResult, Mode, Options, process_file
from convlint.pool import pool_map

# Below this many candidate files per worker a process pool costs more than it saves.
MIN_FILES_PER_WORKER = 4
# From this many files on, the workers read and filter too, SCAN_CHUNK paths at a time.
PARALLEL_SCAN_FILES = 500
SCAN_CHUNK = 64


def run(paths: list[str], config: Configuration, options: Options, jobs: int | None = None) -> list[FileResult]:
    """Lint (or fix) every file under `paths`, each with its own settings. Results sorted
    by path; errors per file.

    A large tree is read, filtered and analysed by the workers, in chunks of paths of the
    same settings (only paths, settings and findings cross between processes); a small one
    is read here, and only its candidates go to workers, when there are enough of them to
    pay for a pool. With the result cache (one per settings), a file whose stat or content
    (and dependencies) is unchanged is answered from it, unparsed.
    """
    global _CACHES
    forget_projects()
    discovered = discover_files(paths, config)
    files = discovered.files
    results = [FileResult(e.path, errors=[e]) for e in discovered.errors]
    results += [FileResult(n.path, notes=[f"{n.path}: {n.message}"]) for n in discovered.notes]
    groups = _by_settings(files, config)
    _CACHES = {}
    if options.cache:
        from convlint.cache import ResultCache

        _CACHES = {settings: ResultCache.load(settings, options.edits) for settings in groups}
    caches = _CACHES
    jobs = jobs or os.cpu_count() or 1
    new_entries: dict = {}
    try:
        if jobs > 1 and len(files) >= PARALLEL_SCAN_FILES:
            chunks = [(group[i : i + SCAN_CHUNK], settings, options)
                      for settings, group in groups.items() for i in range(0, len(group), SCAN_CHUNK)]
            for found, entries in pool_map(_scan_files, chunks, jobs):
                results.extend(found)
                new_entries.update(entries)
        else:
            candidates = []
            for settings, group in groups.items():
                unreadable, found, entries = _partition(group, settings, options)
                results.extend(unreadable)
                candidates.extend(found)
                new_entries.update(entries)
            workers = min(jobs, len(candidates) // MIN_FILES_PER_WORKER)
            done = (pool_map(_process_candidate, candidates, workers) if workers > 1
                    else [_process_candidate(c) for c in candidates])
            for result, key, entry in done:
                results.append(result)
                if entry is not None:
                    new_entries[key] = entry
    finally:
        _CACHES = {}
    by_file = {cache.path: cache for cache in caches.values()}
    for (cache_file, key), entry in new_entries.items():
        by_file[cache_file].new[key] = entry
    for cache in caches.values():
        warnings = [w for w in (cache.warning, cache.save()) if w]
        if warnings:  # printed as warnings, like discovery's notes
            results.append(FileResult(cache.path, notes=warnings))
    # The order discovery gives (by path components), whichever process found what.
    return sorted(results, key=lambda r: path_sort_key(r.path))


_CACHES: dict = {}  # the run's ResultCache of each settings (workers inherit them when they fork)


def _by_settings(files: list[str], config: Configuration) -> dict[Settings, list[str]]:
    """The files by their settings (most runs: one group), each group in discovery order."""
    groups: dict[Settings, list[str]] = {}
    directory, group = None, []
    for path in files:  # a directory's files are next to each other: one lookup for them all
        here = os.path.dirname(path)
        if here != directory:
            directory, group = here, groups.setdefault(config.settings_for_directory(here), [])
        group.append(path)
    return groups


def _read_candidate(path: str, settings: Settings, new_entries: dict) -> tuple[bytes, os.stat_result] | FileResult | None:
    """A file's bytes and stat when it passes the prefilter and the cache cannot answer;
    None when it cannot have a finding; a FileResult with the error when it cannot be read,
    or with what the cache kept for it."""
    cache = _CACHES.get(settings)
    if cache is not None:
        try:
            status = os.stat(path)
        except OSError:
            status = None
        entry = cache.by_stat(path, status) if status is not None and stat.S_ISREG(status.st_mode) else None
        if entry is not None and entry.result is None:
            return None
        if entry is not None and (kept := _from_cache(path, entry)) is not None:
            return kept
    try:
        data, stat_result = read_bytes(path)
    except OSError as e:
        return FileResult(path, errors=[FileError(path, error_message(e))])
    rules = rules_for(path, settings)
    if not (rules and prefilter(data, rules)):
        if cache is not None and _stat_key(stat_result) is not None:  # else nothing to keep
            new_entries[cache.path, cache.key(path)] = _entry(stat_result, None, {}, None)
        return None
    if cache is not None:
        entry = cache.by_content(path, data)
        if entry is not None and (kept := _from_cache(path, entry)) is not None:
            new_entries[cache.path, cache.key(path)] = replace(entry, stat=_stat_key(stat_result))
            return kept
    return data, stat_result


def _stat_key(status: os.stat_result) -> tuple[int, int] | None:
    from convlint.cache import stat_key

    return stat_key(status)


def _entry(status: os.stat_result, digest: str | None, deps: dict, result: dict | None):
    from convlint.cache import Entry

    return Entry(_stat_key(status), digest, deps, result)


def _from_cache(path: str, entry) -> FileResult | None:
    """The FileResult a candidate's entry kept; None when it does not decode (the file is
    then checked again)."""
    from convlint.cache import decode

    try:
        kept = decode(entry.result)
        return FileResult(path, diagnostics=list(kept["diagnostics"]), notes=list(kept["notes"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _cache_entry(cache, path: str, data: bytes, status: os.stat_result, result: FileResult, project):
    """The entry that answers for this file next time; None when the answer cannot be kept
    (an error)."""
    if result.errors:
        return None
    from convlint.cache import content_hash, encode, project_dependency

    try:
        encoded = encode({"diagnostics": result.diagnostics, "notes": result.notes})
    except TypeError:  # a fix plan the cache does not know how to keep
        return None
    absolute = os.path.abspath(path)
    deps = {dep: cache.hash_of(dep) for dep in sorted(project.consulted) if dep != absolute}
    if project.searched_callers:  # any file of the project may be a caller
        dependency = project_dependency(project.root)
        deps[dependency] = cache.hash_of(dependency)
    return _entry(status, content_hash(data), deps, encoded)


def _partition(paths: list[str], settings: Settings, options: Options) -> tuple[list[FileResult], list[tuple], dict]:
    """Read the files: the results of those that cannot be read (or that the cache
    answers), the candidates, and the cache entries learnt on the way."""
    unreadable, candidates, new_entries = [], [], {}
    for path in paths:
        scanned = _read_candidate(path, settings, new_entries)
        if isinstance(scanned, FileResult):
            unreadable.append(scanned)
        elif scanned is not None:
            candidates.append((path, *scanned, settings, options))
    return unreadable, candidates, new_entries


def _scan_files(args) -> tuple[list[FileResult], dict]:
    """A worker's share of a large tree: read, filter and analyse a chunk of paths."""
    unreadable, candidates, new_entries = _partition(*args)
    results = unreadable
    for result, key, entry in map(_process_candidate, candidates):
        results.append(result)
        if entry is not None:
            new_entries[key] = entry
    return results, new_entries


def _process_candidate(args) -> tuple[FileResult, tuple | None, object]:
    """A candidate's result, and the cache entry that keeps it (or None)."""
    path, data, stat_result, settings, options = args
    cache = _CACHES.get(settings)
    if cache is None:
        return process_file(path, data, stat_result, settings, options), None, None
    project = project_for(path, settings.project_root)
    project.consulted.clear()  # what this file's answer reads, from here on
    project.searched_callers = False
    result = process_file(path, data, stat_result, settings, options)
    return result, (cache.path, cache.key(path)), _cache_entry(cache, path, data, stat_result, result, project)


def run_source(path: str, data: bytes, settings: Settings, options: Options) -> FileResult:
    """Lint (or fix, never write) one source that did not come from a file: stdin."""
    forget_projects()
    rules = rules_for(path, settings)
    if not (rules and prefilter(data, rules)):
        return FileResult(path)
    if options.mode is Mode.FIX_WRITE:
        options = replace(options, mode=Mode.FIX)
    return process_file(path, data, None, settings, options)
