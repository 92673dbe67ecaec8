"""Webhook tests' real parts: receiver processes (tests/webhooks/receiver.py) and a Celery worker
running beat with the dispatcher, with retries fast enough for a test."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.services import ROOT, wait_until

RECEIVER = Path(__file__).with_name("receiver.py")

# The worker reads its settings from the environment at start; the test process gets the same
# values through the `settings` fixture (webhook_settings).
WORKER_ENV = {
    "WEBHOOK_ALLOW_HTTP": "1",
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "1",
    "WEBHOOK_DISPATCH_SECONDS": "0.2",
    "WEBHOOK_SWEEP_SECONDS": "0.2",
    "WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
    "WEBHOOK_BACKOFF_CAP_SECONDS": "0.5",
    "WEBHOOK_MAX_ATTEMPTS": "5",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A receiver process on a fixed port, stoppable and restartable; its state file survives."""

    def __init__(self, tmp: Path, fail_first: int = 0):
        self.port = free_port()
        self.state_path = tmp / f"receiver-{self.port}.json"
        self.secrets: list[str] = []
        self.fail_first = fail_first
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self, secrets: list[str] | None = None) -> Receiver:
        """Start (or restart) listening; `secrets` the first time: the secrets it verifies with."""
        self.secrets = secrets or self.secrets
        args = [sys.executable, str(RECEIVER), "--port", str(self.port), "--state", str(self.state_path)]
        args += ["--fail-first", str(self.fail_first)]
        for secret in self.secrets:
            args += ["--secret", secret]
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, timeout=10, what="the receiver to listen")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def state(self) -> dict:
        if not self.state_path.exists():
            return {"accepted": [], "failed": 0, "rejected": 0}
        return json.loads(self.state_path.read_text())

    def accepted(self) -> list[dict]:
        return self.state()["accepted"]


@pytest.fixture
def receiver_factory(tmp_path):
    started: list[Receiver] = []

    def make(*, fail_first: int = 0, start: bool = False, secrets: list[str] | None = None) -> Receiver:
        receiver = Receiver(tmp_path, fail_first)
        started.append(receiver)
        return receiver.start(secrets) if start else receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def webhook_settings(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOK_MAX_ATTEMPTS = int(WORKER_ENV["WEBHOOK_MAX_ATTEMPTS"])
    return settings


@pytest.fixture
def webhook_worker(worker_factory, webhook_settings):
    """A worker with beat (the dispatcher and the sweep) and the fast test settings."""
    return worker_factory(beat=True, env=WORKER_ENV)


def register(client: APIClient, url: str, event_types: list[str]) -> dict:
    response = client.post(
        "/api/v1/webhooks/endpoints/",
        data=json.dumps({"url": url, "event_types": event_types, "description": "loan system"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def record_decisions(client: APIClient, rows: list[dict], prefix: str = "wh") -> list[dict]:
    payload = {
        "decisions": [
            {"model": "credit-risk", "subject_ref": f"{prefix}-subject-{i}", "features": r}
            for i, r in enumerate(rows)
        ]
    }
    response = client.post(
        "/api/v1/decisions/bulk/", data=json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()["decisions"]
