"""`array_param`: a few values as scalars in ARRAY[...], many as one array parameter; PostgreSQL
reads the same array either way."""

import uuid

import pytest
from django.db import connection

from config.postgresql import ARRAY_OF_SCALARS_MAX, array_param

pytestmark = pytest.mark.django_db

VALUES = {
    "uuid": lambda i: uuid.UUID(int=i + 1),
    "bigint": lambda i: (i + 1) * 10**10 if i % 2 else i,  # int2 and int8 sized values mixed
    "text": lambda i: f'{{"n": {i}, "é": "\\u00e9"}}',
    "bytea": lambda i: bytes([i % 256, 0, 255]),
}


@pytest.mark.parametrize("sql_type", sorted(VALUES))
@pytest.mark.parametrize("n", [0, 1, ARRAY_OF_SCALARS_MAX, ARRAY_OF_SCALARS_MAX + 1, 200])
def test_postgresql_reads_the_values_in_order(sql_type, n):
    values = [VALUES[sql_type](i) for i in range(n)]
    sql, params = array_param(values, sql_type)
    assert ("ARRAY[" in sql) == (0 < n <= ARRAY_OF_SCALARS_MAX)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}, pg_typeof({sql})::text", params + params)  # noqa: S608
        got, typ = cursor.fetchone()
    assert typ == f"{sql_type}[]"
    assert [bytes(v) if sql_type == "bytea" else v for v in got] == values
