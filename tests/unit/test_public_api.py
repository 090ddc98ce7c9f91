"""The public surfaces of the state and persist packages: changing them must be deliberate."""

from __future__ import annotations

import importlib

import pytest

STATE_ALL = [
    "TERMINAL",
    "TRANSITIONS",
    "Change",
    "ChangeResult",
    "JobQuery",
    "JobRecord",
    "JobStatus",
    "Outcome",
    "StateClient",
    "StateServer",
    "Watch",
    "check_transition",
    "decide",
    "format_time",
    "is_terminal",
    "now",
    "serve_state",
    "transition",
    "validate_record",
]

BACKENDS_ALL = [
    "JobPage",
    "MemoryBackend",
    "StateBackend",
    "StoreSnapshot",
    "SyncResult",
    "WatchCallback",
    "WatchEvent",
    "open_backend",
]

PERSIST_ALL = [
    "METRICS",
    "STDERR",
    "STDOUT",
    "LogBlock",
    "PersistClient",
    "PersistUnavailable",
    "serve_persist",
]

PERSIST_BACKENDS_ALL = [
    "METRICS",
    "STDERR",
    "STDOUT",
    "CleanupResult",
    "CloudWatchBackend",
    "CloudWatchError",
    "JobSummary",
    "LocalBackend",
    "LogBlock",
    "PersistBackend",
    "open_backend",
]

SURFACES = [
    ("joblet_cluster.state", STATE_ALL),
    ("joblet_cluster.state.backends", BACKENDS_ALL),
    ("joblet_cluster.persist", PERSIST_ALL),
    ("joblet_cluster.persist.backends", PERSIST_BACKENDS_ALL),
]


@pytest.mark.parametrize(("module", "expected"), SURFACES)
def test_all_is_pinned(module, expected):
    assert importlib.import_module(module).__all__ == expected


@pytest.mark.parametrize(("module", "expected"), SURFACES)
def test_all_has_no_duplicates_and_no_private_names(module, expected):
    names = importlib.import_module(module).__all__

    assert len(set(names)) == len(names)
    assert not [n for n in names if n.startswith("_")]


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in SURFACES for n in names])
def test_every_public_name_is_importable(module, name):
    namespace: dict = {}
    exec(f"from {module} import {name}", namespace)

    assert namespace[name] is getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("module", "expected"), SURFACES)
def test_star_import_gives_exactly_all(module, expected):
    namespace: dict = {}
    exec(f"from {module} import *", namespace)

    assert sorted(n for n in namespace if n != "__builtins__") == sorted(expected)
