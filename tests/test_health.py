import pytest


def test_healthz(client):
    response = client.get("/healthz")
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_broker(client):
    response = client.get("/readyz")
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert response.status_code == 200
