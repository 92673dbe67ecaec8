"""Shared plumbing of the benchmarks: a throwaway database, Redis, gunicorn and Celery processes.

Every process is started in its own session and stopped by its own pid when the benchmark ends
(also on Ctrl-C). Nothing here is imported by the application or by the test suite.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
VAR = ROOT / "var" / "bench"

DB_NAME = os.environ.get("BENCH_DB", "rationale_bench")
DB_HOST = os.environ.get("BENCH_DB_HOST", "127.0.0.1")
DB_PORT = int(os.environ.get("BENCH_DB_PORT", "5432"))
DB_USER = os.environ.get("BENCH_DB_USER", "postgres")
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6398"))
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "8098"))

DATABASE_URL = f"postgres://{DB_USER}@{DB_HOST}:{DB_PORT}/{DB_NAME}"
BROKER_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"

# The application's environment for every process the benchmarks start: DEBUG off, real
# PostgreSQL and Redis, throwaway secrets (the Makefile's test values).
APP_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": BROKER_URL,
    "SECRET_KEY": "bench-secret-key-not-for-production",
    "AUDIT_SIGNING_KEY": "dGVzdC1zaWduaW5nLWtleS0zMi1ieXRlcy1sb25nISE=",
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
    "EMAIL_URL": "none",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "PUBLIC_BASE_URL": f"http://127.0.0.1:{WEB_PORT}",
    "SECURE_COOKIES": "0",
    "RATIONALE_VAR_DIR": str(VAR),
    "LOG_LEVEL": "WARNING",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def app_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **APP_ENV, **{k: str(v) for k, v in extra.items()}}


def setup_django() -> None:
    """Configure Django in this process against the benchmark database."""
    for key, value in APP_ENV.items():
        os.environ.setdefault(key, value)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def host_speed() -> dict[str, float]:
    """Seconds for a fixed pure-Python loop of 10 million additions, best of 3.

    Hosts of the same kind differ up to 3x between sessions and drift within one (stop 10's
    host: 0.50-0.77 s). Every benchmark records this beside its figures, so that figures from
    different hosts are read against each other's speed, not taken as the code's.
    """
    best = float("inf")
    for _ in range(3):
        started, total = time.process_time(), 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.process_time() - started)
    return {"python_loop_10M_s": round(best, 3)}


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


# ---------------------------------------------------------------------------- database
def psql(sql: str, database: str = "postgres") -> str:
    out = subprocess.run(
        ["psql", "-h", DB_HOST, "-p", str(DB_PORT), "-U", DB_USER, "-d", database, "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def create_database() -> None:
    """Drop and create the benchmark database, migrate it, register the credit model."""
    drop_database()
    psql(f'CREATE DATABASE "{DB_NAME}"')
    manage("migrate", "--noinput", "-v", "0")
    VAR.mkdir(parents=True, exist_ok=True)
    key_file = VAR / "api-key"
    key_file.unlink(missing_ok=True)
    # One sample decision each, as in every recorded run; the two demo rows are left out of
    # every figure by their reference.
    manage(
        "seed_demo",
        "--no-users",
        "--credit-decisions",
        "1",
        "--digit-decisions",
        "1",
        "--links-file",
        "",
        "--api-key-file",
        str(key_file),
    )


def ensure_database() -> None:
    """Create the benchmark database (create_database) unless it exists; never drop it."""
    exists = f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"  # noqa: S608 - our constant
    if psql(exists) != "1":
        create_database()


def drop_database() -> None:
    # DB_NAME is the benchmark's own setting, never outside input.
    terminate = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'"
    psql(terminate.format(DB_NAME) + " AND pid <> pg_backend_pid()")
    psql(f'DROP DATABASE IF EXISTS "{DB_NAME}"')


def api_key() -> str:
    return (VAR / "api-key").read_text().strip()


def manage(*args: str, **extra_env: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=app_env(**extra_env),
        check=True,
        stdout=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------------------- processes
class Process:
    """A child process in its own session; stop() signals that whole process group by its pid."""

    running: dict[int, Process] = {}

    def __init__(self, name: str, args: list[str], env: dict[str, str] | None = None):
        self.name = name
        self.args = args
        self.env = env or app_env()
        self.log_path = VAR / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        VAR.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        Process.running[self.popen.pid] = self
        log(f"started {self.name} (pid {self.popen.pid})")
        return self

    @property
    def pgid(self) -> int:
        return self.pid  # start_new_session: the child leads its own group

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, timeout: float = 20) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
            log(f"stopped {self.name} (pid {self.popen.pid})")
        Process.running.pop(self.popen.pid, None)
        self._log.close()
        self.popen = None


def redis_server() -> Process:
    if listening(REDIS_PORT):
        raise RuntimeError(f"port {REDIS_PORT} is taken; set BENCH_REDIS_PORT")
    proc = Process(
        "redis",
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(REDIS_PORT),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
    ).start()
    wait_until(lambda: listening(REDIS_PORT), timeout=10, what="redis")
    return proc


def redis_flush() -> None:
    subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "flushall"], check=True, capture_output=True)


def gunicorn(workers: int, threads: int = 1, config: str | None = None, **extra_env: str) -> Process:
    if listening(WEB_PORT):
        raise RuntimeError(f"port {WEB_PORT} is taken; set BENCH_WEB_PORT")
    args = [
        str(VENV_BIN / "gunicorn"),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{WEB_PORT}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync" if threads == 1 else "gthread",
        "--threads",
        str(threads),
        "--backlog",
        "2048",
        "--preload",
        *(["--config", config] if config else []),
    ]
    proc = Process("gunicorn", args, env=app_env(**extra_env)).start()
    wait_until(lambda: listening(WEB_PORT) or not proc.alive(), timeout=60, what="gunicorn")
    proc.check_alive()
    return proc


def celery_worker(queues: str = "cpu", concurrency: int = 1, **extra_env: str) -> Process:
    args = [
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
        "--without-heartbeat",
        "-n",
        f"bench-{os.getpid()}@%h",
    ]
    proc = Process("worker", args, env=app_env(**extra_env)).start()
    wait_until(
        lambda: "ready." in proc.log_path.read_text() or not proc.alive(), timeout=120, what="celery worker"
    )
    proc.check_alive()
    return proc


@contextlib.contextmanager
def stack(*starters: Callable[[], Process]) -> Iterator[list[Process]]:
    """Start processes in order, stop them in reverse order whatever happens."""
    started: list[Process] = []
    try:
        for start in starters:
            started.append(start())
        yield started
    finally:
        for proc in reversed(started):
            proc.stop()


# ---------------------------------------------------------------------------- CPU accounting
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) start at state.
    return text[text.rfind(")") + 2 :].split()


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """CPU seconds used so far per process, with its role: gunicorn, worker, postgres, redis, or
    "bench client" (this process).

    Processes are grouped by their process group (each one the benchmark starts leads its own)
    or by their title (PostgreSQL backends connected to the benchmark database). cpu_delta() of
    two snapshots gives where a run's CPU went, which stays meaningful when other work shares the
    machine.

    A backend's CPU must not be lost when it exits between the snapshots: a web process renews
    its connection every CONN_MAX_AGE seconds, and runs used to show a third of PostgreSQL's CPU
    or less for that reason (stop 10). The postmaster collects its exited children's CPU, so its
    children total is one more "postgres" entry, under the key -pid; cpu_delta() takes off what
    an exited backend had already used at the first snapshot. That total also holds the
    server's other short-lived children (autovacuum workers, other databases' connections),
    which are negligible while a benchmark runs alone.
    """
    groups = {proc.pgid: proc.name for proc in Process.running.values()}
    me = os.getpid()
    out: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(entry)
        if fields is None:
            continue
        pid, pgid = int(entry), int(fields[2])
        used = (int(fields[11]) + int(fields[12])) / _TICK
        if pid == me:
            out[pid] = ("bench client", used)
        elif pgid in groups:
            out[pid] = (groups[pgid], used)
        else:
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            # Only backends of the benchmark database: others may be testing on the same server.
            if title.startswith(b"postgres: ") and f" {DB_NAME} ".encode() in title:
                out[pid] = ("postgres", used)
            elif fields[1] == "1" and title.split(b"\0")[0].endswith(b"/postgres"):
                # The postmaster (its parent is init): CPU of its children that have exited.
                out[-pid] = ("postgres", (int(fields[13]) + int(fields[14])) / _TICK)
    return out


def cpu_delta(before: dict, after: dict, per: int) -> dict[str, float]:
    """Milliseconds of CPU per unit of work (a request or a decision), by role."""
    totals: dict[str, float] = {}
    for pid, (role, used) in after.items():
        previous = before.get(pid, (role, 0.0))[1]
        totals[role] = totals.get(role, 0.0) + max(0.0, used - previous)
    if any(pid < 0 for pid in after):
        # A backend gone since `before` is in the postmaster's children total, all of its CPU.
        for pid, (role, used) in before.items():
            if role == "postgres" and pid > 0 and pid not in after:
                totals[role] -= used
    return {role: round(1000 * seconds / max(per, 1), 3) for role, seconds in sorted(totals.items())}


# ---------------------------------------------------------------------------- data and figures
def held_out_rows() -> list[dict]:
    """The credit model's held-out applicants (never trained on), as request feature dicts."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from demo import credit

    rows, labels = credit.load_applicants()
    _, test_idx = credit.split_indices(labels, 0)
    return [rows[i] for i in test_idx]


def post_environ(path: str, body: bytes, api_key: str, **headers: str) -> dict:
    """The WSGI environ of a JSON POST with an API key, as gunicorn would build it: for calling
    the application in this process (bench/inprocess.py, bench/stages.py). `headers` are
    environ keys, e.g. HTTP_IDEMPOTENCY_KEY."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(WEB_PORT),
        "HTTP_HOST": f"127.0.0.1:{WEB_PORT}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Api-Key {api_key}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        **headers,
    }


def percentiles(values: list[float], points=(50, 95, 99, 99.9)) -> dict[str, float]:
    if not values:
        return {f"p{p}": float("nan") for p in points}
    ordered = sorted(values)
    out = {}
    for p in points:
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        out[f"p{p:g}"] = ordered[index]
    out["max"] = ordered[-1]
    return out


def write_json(path: str | None, data: dict) -> None:
    text = json.dumps(data, indent=2, default=str)
    print(text)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + "\n")
