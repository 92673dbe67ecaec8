import pytest


def test_healthz(client):
    response = client.get("/healthz")
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_broker(client):
    response = client.get("/readyz")
    # The tests run with EMAIL_URL=none (Makefile): said, and no reason to be unready.
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "email": "disabled"}
    assert response.status_code == 200
