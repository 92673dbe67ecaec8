"""/readyz says whether e-mail is sent, without making readiness depend on a mail server."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(("enabled", "said"), [(True, "configured"), (False, "disabled")])
def test_readyz_says_whether_email_is_sent(client, settings, enabled, said):
    settings.EMAIL_ENABLED = enabled
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok", "email": said}
