"""Run over paths: discover the files, group them by their settings, read and prefilter
them (most files stop there, unparsed; in the workers of a pool for a large tree), answer
what the result cache can, and process the candidates (lint_file.py); one source from
standard input too. Never prints.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace

from convlint.config import Configuration, Settings
from convlint.discovery import discover_files, path_sort_key
from convlint.files import FileError, error_message, read_bytes
from convlint.modes import FileResult, Mode, Options

# The rules, the analysis and the pool are imported when a file needs them, not before: a
# run that the cache answers (or whose files the prefilter rejects) never loads the analysis.

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
    _forget_projects()
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
        if caches:  # what the cache answers by stat alone needs no worker (a warm run: all)
            answered, groups = _answered_by_stat(groups)
            results.extend(answered)
        if jobs > 1 and sum(map(len, groups.values())) >= PARALLEL_SCAN_FILES:
            chunks = [(group[i : i + SCAN_CHUNK], settings, options)
                      for settings, group in groups.items() for i in range(0, len(group), SCAN_CHUNK)]
            from convlint.pool import pool_map

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
            if workers > 1:
                from convlint.pool import pool_map

                done = pool_map(_process_candidate, candidates, workers)
            else:
                done = [_process_candidate(c) for c in candidates]
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


def _answered_by_stat(groups: dict[Settings, list[str]]) -> tuple[list[FileResult], dict[Settings, list[str]]]:
    """The results the cache keeps for files whose stat is unchanged (none for a file that
    cannot have a finding), and the files it cannot answer so, by settings."""
    answered, remaining = [], {}
    for settings, group in groups.items():
        cache, left = _CACHES[settings], []
        for path in group:
            entry = cache.stat_answer(path)
            if entry is None:
                left.append(path)
            elif entry.result is not None:
                kept = cache.kept(path, entry)
                if kept is None:
                    left.append(path)
                else:
                    answered.append(kept)
        remaining[settings] = left
    return answered, remaining


def _read_candidate(path: str, settings: Settings, new_entries: dict) -> tuple[bytes, os.stat_result] | FileResult | None:
    """A file's bytes and stat when it passes the prefilter and the cache cannot answer
    (`_answered_by_stat` asked it first); None when it cannot have a finding; a FileResult
    with the error when it cannot be read, or with what the cache kept for its content."""
    cache = _CACHES.get(settings)
    try:
        data, stat_result = read_bytes(path)
    except OSError as e:
        return FileResult(path, errors=[FileError(path, error_message(e))])
    from convlint.lint import prefilter, rules_for

    rules = rules_for(path, settings)
    if not (rules and prefilter(data, rules)):
        if cache is not None:
            cache.learn_not_a_candidate(path, stat_result, new_entries)
        return None
    if cache is not None:
        entry = cache.by_content(path, data)
        if entry is not None and (kept := cache.kept(path, entry)) is not None:
            cache.learn_same_content(path, entry, stat_result, new_entries)
            return kept
    return data, stat_result


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
    from convlint import lint_file
    from convlint.analysis.project import project_for
    from convlint.cache import forget_context

    path, data, stat_result, settings, options = args
    cache = _CACHES.get(settings)
    if cache is None:
        return lint_file.process_file(path, data, stat_result, settings, options), None, None
    project = project_for(path, settings.project_root)
    project.consulted.clear()  # what this file's answer reads, from here on
    project.searched_callers = False
    forget_context()  # and the pins and styles it reads
    result = lint_file.process_file(path, data, stat_result, settings, options)
    return result, (cache.path, cache.key(path)), cache.entry_for(path, data, stat_result, result, project)


def run_source(path: str, data: bytes, settings: Settings, options: Options) -> FileResult:
    """Lint (or fix, never write) one source that did not come from a file: stdin."""
    from convlint import lint_file
    from convlint.lint import prefilter, rules_for

    _forget_projects()
    rules = rules_for(path, settings)
    if not (rules and prefilter(data, rules)):
        return FileResult(path)
    if options.mode is Mode.FIX_WRITE:
        options = replace(options, mode=Mode.FIX)
    return lint_file.process_file(path, data, None, settings, options)


def _forget_projects() -> None:
    """A new run sees the files as they are now: drop the projects an earlier run in this
    process (the server, --watch, the API) analysed, and the torch pins and formatter styles
    it read, if they were ever loaded."""
    project = sys.modules.get("convlint.analysis.project")
    if project is not None:
        project.forget_projects()
    for name in ("convlint.style", "convlint.targets"):  # the pins and formatter settings read
        module = sys.modules.get(name)
        if module is not None:
            module.clear_cache()
