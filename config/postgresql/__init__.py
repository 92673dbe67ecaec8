"""Django's PostgreSQL backend, extended (`base`), and helpers for the SQL the project writes."""

from __future__ import annotations

import functools

# Up to this many values, an array is sent as ARRAY[%s, ...] of scalar parameters.
ARRAY_OF_SCALARS_MAX = 16


def array_param(values: list, sql_type: str) -> tuple[str, list]:
    """An array of `sql_type` values as a SQL expression and its parameters.

    psycopg adapts a list parameter by inspecting its elements to choose the array's type: for
    the write statement of one decision, whose 9 one-element arrays this was, that cost several
    times what all of the statement's parameters cost sent as scalars. A few values therefore go
    as scalars in an ARRAY[...] constructor; many go as one array parameter, which keeps the
    statement short for the bulk path.
    """
    if 0 < len(values) <= ARRAY_OF_SCALARS_MAX:
        return _array_of_scalars(len(values), sql_type), list(values)
    return f"%s::{sql_type}[]", [values]


@functools.cache
def _array_of_scalars(n: int, sql_type: str) -> str:
    return f"ARRAY[{', '.join(['%s'] * n)}]::{sql_type}[]"
