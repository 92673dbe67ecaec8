"""A subject's whole journey against a real gunicorn (two workers, the repository's
gunicorn.conf.py, so config.gunicorn_logging's logger) on the test database: no access token, status
link or e-mail address in its access log or its stderr, and the bad-token count shared by the
workers through Redis."""

import os
import re
import signal
import socket
import subprocess
import sys

import pytest
import redis
import requests
from django.conf import settings
from django.core.cache import cache

from audit.services import Actor
from decisions.recording import DecisionInput
from explanations.recording import decision_record_many
from reviews.models import ReviewRequest
from tests.conftest import worker_database_url
from tests.services import ROOT, wait_until

EMAIL = "quokka.subject+rights@example.org"
LIMIT = 5
T = 30  # seconds for one request: two CPUs shared with everything else


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn as `make web` and the image start it (from the repository root, which holds
    gunicorn.conf.py), with its access log on stdout; yields its base URL and the two logs."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TRUSTED_PROXY_COUNT": "1",
        "SUBJECT_BAD_TOKEN_LIMIT": str(LIMIT),
    }
    out, err = tmp_path / "access.log", tmp_path / "stderr.log"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "2", "--access-logfile", "-"],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or _up(base), timeout=60, what="gunicorn", state=err.read_text
        )
        assert process.poll() is None, err.read_text()
        yield base, out, err, tmp_path / "mail"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        cache.clear()


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or a worker still loading
        return False


def test_a_subject_journey_leaves_no_token_or_address_in_the_logs(gunicorn, credit_version, credit_trained):
    base, access_log, stderr_log, mail_dir = gunicorn
    item = DecisionInput(model="credit-risk", features=credit_trained.sample_rows[0], subject_ref="p-0")
    mine = decision_record_many(items=[item], actor=Actor.system("tests"))[0]
    person = requests.Session()
    person.headers.update({"X-Forwarded-For": "203.0.113.9", "Origin": base})

    # The link: a redirect to a URL without the token, then the decision, its form, a contest.
    opened = person.get(f"{base}/access/{mine.access_token}/", allow_redirects=False, timeout=T)
    assert opened.status_code == 302 and opened.headers["Location"] == f"/access/decision/{mine.decision.pk}/"
    page = person.get(base + opened.headers["Location"], timeout=T)
    assert page.status_code == 200 and page.url == f"{base}/access/decision/{mine.decision.pk}/"
    form = person.get(f"{page.url}ask/contest/?from={EMAIL}", timeout=T)  # an address in a query string too
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    sent = person.post(
        f"{page.url}ask/contest/",
        data={
            "csrfmiddlewaretoken": csrf,
            "grounds": "data_wrong",
            "statement": "My savings are 1,200 DM, not under 100 DM.",
            "contact_email": EMAIL,
        },
        timeout=T,
    )
    request = ReviewRequest.objects.get(decision=mine.decision)
    assert sent.status_code == 200 and request.reference in sent.text and request.contact_email == EMAIL
    # The receipt went out (to a file here), with the signed status link; which is opened too.
    [receipt] = [p.read_text() for p in mail_dir.iterdir()]
    assert f"To: {EMAIL}" in receipt
    status_path = re.search(r"/request-status/[^/\s]+/", receipt).group(0)
    assert person.get(base + status_path, timeout=T).status_code == 200
    # The API takes its token in a header, which no log writes.
    api = person.get(
        f"{base}/api/v1/subject/decision/", headers={"X-Access-Token": mine.access_token}, timeout=T
    )
    assert api.json()["id"] == str(mine.decision.pk)

    # Guesses from elsewhere, spread over both workers, counted together in Redis.
    guesser = {"X-Forwarded-For": "198.51.100.23"}
    guesses = [f"{'g' * 28}{i:04d}" for i in range(LIMIT + 3)]
    answers = [requests.get(f"{base}/access/{g}/", headers=guesser, timeout=T).status_code for g in guesses]
    assert answers == [404] * LIMIT + [429] * 3
    stored = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).get(
        cache.make_key("subject-bad-token:198.51.100.23")
    )
    assert int(stored) == LIMIT + 3
    # ...and the person behind that address still gets in.
    assert requests.get(f"{base}/access/{mine.access_token}/", headers=guesser, timeout=T).status_code == 200

    logs = access_log.read_text() + stderr_log.read_text()
    for secret in (mine.access_token, status_path.split("/")[2], EMAIL, EMAIL.split("@")[0], *guesses):
        assert secret not in logs
    # The lines are there, with the marker where the secrets were.
    lines = access_log.read_text()
    assert (
        '"GET /access/<token>/ HTTP/1.1" 302' in lines
        and '"GET /request-status/<token>/ HTTP/1.1" 200' in lines
    )
    assert '/ask/contest/?from=<email> HTTP/1.1" 200' in lines
    assert "Not Found: /access/<token>/" in stderr_log.read_text()  # django.request's warning
