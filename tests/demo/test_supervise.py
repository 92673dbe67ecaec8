"""demo/supervise.py, `make run`'s process manager, with real processes: it signals each main
process alone, kills whatever is still running after its grace period with its whole group, and
stops everything when one process stops. The supervisor runs in a subprocess of its own, as under
`make run`, so that its signal handlers are not the test runner's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUPERVISOR = """
import json, sys
from demo.supervise import supervise
sys.exit(supervise(json.loads(sys.argv[1]), grace=float(sys.argv[2])))
"""
# A main process with a child in its process group, each saying so once it is ready. The main
# process leaves on SIGTERM (after a moment, as a worker stopping its pool would); the child
# writes down any SIGTERM that reaches it.
PARENT = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, lambda *a: (time.sleep(0.3), sys.exit(0)))
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
time.sleep(1)
print("parent ready", child.pid, flush=True)
time.sleep(60)
"""
CHILD = """
import pathlib, signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: pathlib.Path(sys.argv[1]).write_text("SIGTERM"))
print("child ready", flush=True)
time.sleep(60)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("stubborn ready", flush=True)
time.sleep(60)
"""
SLEEPER = "import time; print('sleeper ready', flush=True); time.sleep(60)"


def _start(processes: dict[str, list[str]], log: Path, grace: float = 5.0) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-c", SUPERVISOR, json.dumps(processes), str(grace)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for(log: Path, *texts: str) -> str:
    deadline = time.monotonic() + 30
    while not all(t in log.read_text() for t in texts):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return log.read_text()


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A killed process lingers as a zombie until its new parent reaps it.
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return True
        time.sleep(0.05)
    return False


def test_sigterm_reaches_each_main_process_alone_and_what_it_leaves_is_killed(tmp_path):
    marker = tmp_path / "child-was-signalled"
    log = tmp_path / "supervise.log"
    supervisor = _start({"app": [sys.executable, "-c", PARENT, CHILD, str(marker)]}, log)
    output = _wait_for(log, "parent ready", "child ready")
    child_pid = int(output.split("parent ready ")[1].split()[0])

    os.killpg(supervisor.pid, signal.SIGTERM)

    assert supervisor.wait(timeout=10) == 0
    assert not marker.exists()  # the child was not sent SIGTERM: its parent is the one to stop it
    assert _gone(child_pid)  # left behind by its parent, killed with its process group
    assert log.read_text().splitlines()[-1] == "make run: stopped"


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    log = tmp_path / "supervise.log"
    supervisor = _start(
        {"sleeper": [sys.executable, "-c", SLEEPER], "stubborn": [sys.executable, "-c", STUBBORN]},
        log,
        grace=1.0,
    )
    _wait_for(log, "sleeper ready", "stubborn ready")

    os.killpg(supervisor.pid, signal.SIGINT)

    assert supervisor.wait(timeout=10) == 0
    assert log.read_text().splitlines()[-1] == "make run: stubborn did not stop in time: killed"


def test_a_second_ctrl_c_kills_at_once(tmp_path):
    log = tmp_path / "supervise.log"
    supervisor = _start({"stubborn": [sys.executable, "-c", STUBBORN]}, log, grace=60.0)
    _wait_for(log, "stubborn ready")

    os.killpg(supervisor.pid, signal.SIGINT)
    _wait_for(log, "Ctrl-C again")
    os.killpg(supervisor.pid, signal.SIGINT)

    assert supervisor.wait(timeout=10) == 0
    assert "stubborn did not stop in time: killed" in log.read_text()


@pytest.mark.parametrize(("code", "status"), [("raise SystemExit(3)", 3), ("import os; os.abort()", 1)])
def test_when_one_process_stops_the_others_are_stopped_and_its_status_is_returned(tmp_path, code, status):
    log = tmp_path / "supervise.log"
    short = f"import time; time.sleep(1); {code}"
    supervisor = _start(
        {"sleeper": [sys.executable, "-c", SLEEPER], "short": [sys.executable, "-c", short]}, log
    )

    assert supervisor.wait(timeout=20) == status
    lines = log.read_text().splitlines()
    assert lines[-2].startswith("make run: short stopped (") and lines[-2].endswith("); stopping the others")
    assert lines[-1] == "make run: stopped"
