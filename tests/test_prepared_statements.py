"""PostgreSQL prepares the statements a connection repeats (DB_PREPARE_THRESHOLD), and a bad
value of the setting stops the process with a message that names it."""

import subprocess

import pytest
from django.db import connection

from decisions.models import ApiKey
from tests.services import settings_process


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


@pytest.mark.django_db
def test_a_statement_is_prepared_on_the_server_after_five_runs():
    def lookup():  # a query no other test sends, so this connection has not counted it yet
        return list(ApiKey.objects.filter(name="prepare-probe", prefix="probe").values_list("id"))

    for _ in range(5):
        lookup()
    assert not [s for s in _prepared() if '"decisions_apikey"."prefix"' in s]
    lookup()
    assert [s for s in _prepared() if '"decisions_apikey"."prefix"' in s]


def _settings_with(value: str) -> subprocess.CompletedProcess:
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"
    return settings_process(code, DB_PREPARE_THRESHOLD=value)


def test_an_empty_threshold_prepares_nothing():
    loaded = _settings_with("")
    assert loaded.returncode == 0, loaded.stderr
    assert "'prepare_threshold': None" in loaded.stdout


@pytest.mark.parametrize("value", ["five", "0", "-1", "2.5"])
def test_a_threshold_that_is_not_a_number_from_one_is_refused_by_name(value):
    loaded = _settings_with(value)
    assert loaded.returncode != 0
    assert (
        f"DB_PREPARE_THRESHOLD must be a whole number from 1, or empty to prepare nothing; got {value!r}"
        in loaded.stderr
    )
