"""`make run`'s processes: the web server, an explanation worker and the periodic tasks, started
together and stopped together, cleanly.

    python -m demo.supervise --bind 127.0.0.1:8000

Each process runs in a process group of its own, so Ctrl-C in the terminal, or a signal to
`make run`'s process group, reaches this supervisor alone. It then sends SIGTERM to each main
process, never to its group: gunicorn stops its workers and Celery its pool processes themselves
(a Celery pool process signalled directly dies mid-task, and its worker forks another while it
shuts down). A process still running GRACE_SECONDS later is killed with its whole group, so that
nothing outlives `make run`; a task cut short is delivered again on the next start (tasks are
acknowledged late and their claims are conditional). A second Ctrl-C kills at once. If one
process stops on its own, the others are stopped too.

The exit status is 0 after a stop asked for by a signal, else that of the process that stopped
first. Not honcho: it signals each process's whole group and gives 5 s before SIGKILL, less than
a Celery worker on the filesystem broker takes to stop (it polls the broker in 2 s cycles).

Plain Python: no Django import.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_SECONDS = 8.0
POLL_SECONDS = 0.1


def commands(bind: str, var_dir: Path) -> dict[str, list[str]]:
    """The processes, by name: what `make web`, `make worker` and `make beat` run, for one machine."""
    python = sys.executable
    return {
        "web": [python, "-m", "gunicorn", "config.wsgi", "--bind", bind, "--workers", "2", "--access-logfile", "-"],
        "worker": [python, "-m", "celery", "-A", "config", "worker", "-Q", "cpu,gpu", "--concurrency", "1",
                   "--loglevel", "INFO"],
        "beat": [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                 "-s", str(var_dir / "celerybeat-schedule")],
    }  # fmt: skip


def supervise(processes: dict[str, list[str]], *, grace: float = GRACE_SECONDS) -> int:
    """Run the processes until a signal or until one stops; stop the rest; the exit status."""
    received: list[int] = []

    def on_signal(signum, frame) -> None:
        received.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    running = {
        name: subprocess.Popen(argv, stdin=subprocess.DEVNULL, process_group=0)
        for name, argv in processes.items()
    }
    first_exit: tuple[str, int] | None = None
    while not received and first_exit is None:
        time.sleep(POLL_SECONDS)
        first_exit = next(((n, p.returncode) for n, p in running.items() if p.poll() is not None), None)
    if first_exit is not None:
        _say(f"{first_exit[0]} stopped ({_status_text(first_exit[1])}); stopping the others")
    else:
        _say(f"stopping {', '.join(running)} (Ctrl-C again to kill them at once)")
    _stop(running, received, grace)
    if first_exit is None:
        return 0
    return first_exit[1] if first_exit[1] > 0 else 1


def _stop(running: dict[str, subprocess.Popen], received: list[int], grace: float) -> None:
    asked = len(received)
    for process in running.values():
        if process.poll() is None:
            process.terminate()  # the main process only: it stops its own children
    deadline = time.monotonic() + grace
    while any(p.poll() is None for p in running.values()):
        # A repeated SIGTERM is `make` passing on the one it got; only a second Ctrl-C is impatience.
        again = signal.SIGINT in received[asked:] or signal.SIGHUP in received[asked:]
        if again or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    late = [name for name, process in running.items() if process.poll() is None]
    for process in running.values():
        _kill_group(process.pid)  # with whatever its main process left behind
        process.wait()
    _say(f"{', '.join(late)} did not stop in time: killed" if late else "stopped")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # the group is gone already
        pass


def _status_text(returncode: int) -> str:
    return f"signal {-returncode}" if returncode < 0 else f"exit status {returncode}"


def _say(text: str) -> None:
    print(f"make run: {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.supervise", description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1:8000", help="the web server's HOST:PORT")
    args = parser.parse_args(argv)
    var_dir = Path(os.environ.get("RATIONALE_VAR_DIR", "var"))
    return supervise(commands(args.bind, var_dir))


if __name__ == "__main__":
    sys.exit(main())
