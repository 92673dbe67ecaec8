"""Real processes for integration tests: a Redis broker the tests own, Celery workers, and the
settings module loaded in a fresh process under a chosen environment.

The broker runs on its own port (TEST_BROKER_URL, 6399 by default) so that a test can stop and
restart it without touching anything else on the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def settings_process(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` (which may read django.conf.settings) in a new interpreter whose environment is
    this one plus `env`: the settings module reads the environment once, at import."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "",
    state: Callable[[], object] | None = None,
) -> None:
    """Poll `predicate`; on timeout, say what was awaited and the state `state()` reports."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    seen = f"; state: {state()}" if state else ""
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate}{seen}")


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class RedisServer:
    """A redis-server child process on a fixed port, stoppable and restartable."""

    def __init__(self, url: str):
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if _listening(self.host, self.port):
            # A server left over from an interrupted run: the port is reserved for tests.
            subprocess.run(
                ["redis-cli", "-h", self.host, "-p", str(self.port), "shutdown", "nosave"],
                capture_output=True,
                timeout=10,
                check=False,
            )
            wait_until(lambda: not _listening(self.host, self.port), timeout=10, what="old redis to stop")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _listening(self.host, self.port), timeout=10, what="redis to listen")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Worker:
    """`celery worker` in its own process group, against the test database."""

    def __init__(
        self,
        database_url: str,
        *,
        queues: str = "cpu",
        concurrency: int = 1,
        beat: bool = False,
        env: dict | None = None,
        log_path: Path | None = None,
    ):
        self.database_url = database_url
        self.args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]
        if beat:
            self.args += ["-B", "-s", str(ROOT / "var" / "test" / f"beat-{os.getpid()}")]
        self.env = {**os.environ, "DATABASE_URL": database_url, **(env or {})}
        self.log_path = log_path or ROOT / "var" / "test" / f"worker-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: "ready." in self.log_path.read_text() or self.process.poll() is not None,
            timeout=60,
            interval=0.1,
            what="celery worker to be ready",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text()
