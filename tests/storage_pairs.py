"""Running one write twice, down two paths, and comparing what each left in the database."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction


def written_by(write: Callable[[], object], read: Callable[[], object]):
    """What `read()` sees after `write()`, both inside a savepoint rolled back afterwards, so the
    next path starts from the same database."""
    with transaction.atomic():
        write()
        seen = read()
        transaction.set_rollback(True)
    return seen
