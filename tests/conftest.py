"""Shared fixtures: trained demo models (once per session), registered versions, personas."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.services import Actor


@pytest.fixture(scope="session")
def credit_trained():
    from demo import credit

    return credit.train()


@pytest.fixture(scope="session")
def digits_trained():
    from demo import digits

    return digits.train()


# The registration checks' verdict per set of registered files, from the real sandboxed checks:
# run once per session, then recorded for every test that registers the same files.
_VERDICTS: dict[tuple, dict] = {}


def register(trained, *, version: str | None = None, checked: bool = True, **overrides):
    """Register a trained model as the API would, and (unless `checked` is False) run its
    registration checks in the sandbox and record their verdict."""
    from decisions.registration import model_register, model_version_checked
    from explanations.vetting import sandboxed_checks

    registered = model_register(
        name=trained.name,
        version=version or trained.version,
        framework=trained.framework,
        artifact=overrides.pop("artifact", trained.artifact),
        schema=trained.schema,
        output=trained.output,
        background=trained.background,
        training=trained.training,
        texts=trained.subject_texts,
        explainer=overrides.pop("explainer", trained.explainer),
        actor=Actor.system("tests"),
        queue_checks=False,
        **overrides,
    )
    if not checked or registered.checks.get("state") != "pending":
        return registered
    key = (
        registered.explainer,
        registered.artifact_sha256,
        registered.background_sha256,
        repr(registered.feature_schema),
        repr(registered.output),
        repr(registered.training),
    )
    if key not in _VERDICTS:
        _VERDICTS[key] = sandboxed_checks(registered)
    verdict = _VERDICTS[key]
    return model_version_checked(
        version=registered,
        reasons=verdict["reasons"],
        report=verdict.get("report", {}),
        actor=Actor.system("tests"),
    )


@pytest.fixture
def credit_version(db, credit_trained):
    return register(credit_trained)


@pytest.fixture
def digits_version(db, digits_trained):
    return register(digits_trained)


@pytest.fixture
def applicant(credit_trained):
    """A real applicant from the German credit data, as the API receives them."""
    return dict(credit_trained.sample_rows[0])


@pytest.fixture
def api_key(db):
    from decisions.accounts import api_key_create

    key, raw = api_key_create(name="core-banking", actor=Actor.system("tests"))
    key.raw = raw
    return key


@pytest.fixture
def integration(api_key):
    """The controller's decision service, holding a valid API key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw}")
    return client


def _user(username: str, role: str | None):
    from django.contrib.auth import get_user_model

    from decisions.accounts import user_create

    if role is None:
        return get_user_model().objects.create_user(username=username, password="pw-" + username)
    return user_create(username=username, role=role, password="pw-" + username, actor=Actor.system("tests"))


@pytest.fixture
def caseworker(db):
    return _user("casey", "caseworker")


@pytest.fixture
def auditor(db):
    return _user("audrey", "auditor")


@pytest.fixture
def nobody(db):
    """Signed in, but in no group."""
    return _user("norole", None)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------- real processes
@pytest.fixture(scope="session", autouse=True)
def broker():
    """The tests' own Redis broker (see tests/services.py)."""
    from django.conf import settings

    from tests.services import RedisServer

    server = RedisServer(settings.CELERY_BROKER_URL)
    server.start()
    yield server
    server.stop()


def _clear_publish_flags() -> None:
    """Purged tasks leave their "a drain is queued" and fan-out flags behind; a test starts
    without them."""
    import redis
    from django.conf import settings

    flags = redis.Redis.from_url(settings.EXPLAIN_PUBLISH_FLAG_URL)
    for key in flags.scan_iter("rationale:explain:*"):
        flags.delete(key)


def worker_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture
def worker_factory(transactional_db, broker):
    """Start real Celery workers on the test database; stopped at the end of the test."""
    from config.celery import app
    from tests.services import Worker

    app.control.purge()
    _clear_publish_flags()
    started = []

    def start(**kwargs):
        w = Worker(worker_database_url(), **kwargs).start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def worker(worker_factory):
    return worker_factory()
