"""`make run` stops cleanly: Ctrl-C, or SIGTERM to its process group, stops the web server, the
worker and the periodic tasks within 10 s, with no traceback, no crash and no signal loop. Real
processes on the embedded default, on a free port, in a var dir of their own, seeded once (`make
seed` trains the demo models) and explained beforehand, so that the worker is idle, as a demo's
soon is, and stops by itself. (A process still busy after the supervisor's grace period is
killed with its group: tests/demo/test_supervise.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
STOP_WITHIN = 10  # seconds, from the signal to the exit of everything make run started
READY = ("Listening at: http://127.0.0.1:{port}", " ready.", "beat: Starting...")
DRAIN = """
from decisions.models import ModelVersion
from explanations.drain import explanation_drain
from explanations.models import Explanation
for version in ModelVersion.objects.all():
    explanation_drain(model_version_id=version.pk)
print(*sorted(set(Explanation.objects.values_list("status", flat=True))))
"""


def _env(var_dir: Path) -> dict[str, str]:
    """The environment of a person's shell: the embedded default, no test settings, no outer make."""
    dropped = {"DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "EXPLAIN_PUBLISH_FLAG_URL"}
    dropped |= {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "RATIONALE_VAR_DIR"}
    return {k: v for k, v in os.environ.items() if k not in dropped}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("make-run")
    done = subprocess.run(
        ["make", "seed", f"VAR_DIR={path}"],
        cwd=ROOT,
        env=_env(path),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    drained = subprocess.run(
        [str(PYTHON), "manage.py", "shell", "-c", DRAIN],
        cwd=ROOT,
        env={**_env(path), "DEBUG": "1", "RATIONALE_VAR_DIR": str(path)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert drained.stdout.strip().splitlines()[-1:] == ["done"], (
        drained.stdout[-3000:] + drained.stderr[-3000:]
    )
    return path


def _started(argv: list[str], var_dir: Path, port: int, log: Path) -> subprocess.Popen:
    """Start argv as `make run` is started from a terminal: the leader of its own process group."""
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=_env(var_dir), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 180
    markers = [m.format(port=port) for m in READY]
    while not all(m in log.read_text() for m in markers):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"not ready: {log.read_text()[-3000:]}"
        time.sleep(0.2)
    return process


def _stopped(process: subprocess.Popen, sig: int, log: Path) -> tuple[int, str]:
    os.killpg(process.pid, sig)
    try:
        returncode = process.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail(
            f"still running {STOP_WITHIN} s after {signal.Signals(sig).name}: {log.read_text()[-3000:]}"
        )
    return returncode, log.read_text()


def _assert_clean(output: str, port: int) -> None:
    assert "make run: stopping" in output, output[-3000:]
    after = output[output.index("make run: stopping") :]
    for sign in ("Traceback", "Segmentation fault", "RecursionError", "ERROR/", "[ERROR]"):
        assert sign not in output, after[-3000:]
    # Each main process was asked, and stops its own children: the worker its pool (no pool
    # process dies of a signal: "ERROR/" above), the web server's master its workers. One still
    # busy after the grace period (a loaded machine) is killed with its group instead.
    assert "Warm shutdown" in after and "Handling signal: term" in after
    last = after.rstrip().splitlines()[-1]
    assert last == "make run: stopped" or last.endswith("did not stop in time: killed"), after[-3000:]
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_run_stops_cleanly_on_a_signal_to_its_group(var_dir, tmp_path, sig):
    port = _free_port()
    log = tmp_path / "make-run.log"
    process = _started(["make", "run", f"VAR_DIR={var_dir}", f"PORT={port}"], var_dir, port, log)

    returncode, output = _stopped(process, sig, log)

    _assert_clean(output, port)
    # GNU make waits for its recipe, then ends itself by the signal it was sent, as a shell
    # expects of a program stopped by Ctrl-C (130) or by SIGTERM (143); what it ran exited 0.
    assert returncode in (0, -sig, 128 + sig)


def test_the_processes_make_run_starts_exit_0_on_sigterm_to_their_group(var_dir, tmp_path):
    # The same process tree as `make run` starts (with the environment its Makefile gives it),
    # without make on top to re-raise the signal: the status is the supervisor's own.
    port = _free_port()
    log = tmp_path / "supervise.log"
    env_prefix = [
        "env",
        "DEBUG=1",
        f"PUBLIC_BASE_URL=http://127.0.0.1:{port}",
        f"RATIONALE_VAR_DIR={var_dir}",
    ]
    argv = [*env_prefix, str(PYTHON), "-m", "demo.supervise", "--bind", f"127.0.0.1:{port}"]
    process = _started(argv, var_dir, port, log)

    returncode, output = _stopped(process, signal.SIGTERM, log)

    _assert_clean(output, port)
    assert returncode == 0
