"""The registry rows every recorded decision looks up (its API key, its model version), served
from the connection's registry cache where the database backend keeps one (`config.postgresql`:
dropped whenever PostgreSQL announces a committed change to those tables), and queried otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection


def registry_lookup[T](key: tuple, load: Callable[[], T | None]) -> T | None:
    """`load()`'s result, from the cache when it holds `key`. Only found rows are cached: an
    unknown key or model is looked up again every time."""
    cache = connection.registry_cache() if hasattr(connection, "registry_cache") else None
    if cache is None:
        return load()
    if key in cache:
        return cache[key]
    value = load()
    if value is not None:
        # If a change was announced during load(), `cache` is no longer the connection's: the
        # row is dropped with it.
        cache[key] = value
    return value
