"""bench/broker_down: decisions recorded over HTTP while the broker's Redis is down.

    .venv/bin/python bench/broker_down.py [--rate 20] [--phase 15] [--outage stop|pause]

Creates its own database (rationale_bench_broker), starts its own Redis (BENCH_REDIS_PORT, 6446
unless set: never a shared one, since it is stopped) and gunicorn (DEBUG off), then offers single
decisions open loop at --rate for three phases of --phase seconds each: broker up, broker down,
broker back. Down is the Redis process stopped (connections refused), or with --outage pause,
frozen with SIGSTOP: it accepts connections and never answers, so every wait is a timeout. No
Celery worker runs. Prints each phase's latencies as JSON; --out saves it.

Goal: p99 of the decisions recorded while the broker is down within
CELERY_BROKER_CONNECTION_TIMEOUT (1 s by default) + 200 ms, every one recorded (201). With
--outage pause each request holds a gunicorn worker for up to that timeout, so offer fewer than
workers / timeout requests per second (e.g. --rate 2 with 3 workers), or the figure measures the
queue in front of gunicorn instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time

# Before harness reads them: this benchmark stops its Redis, so nothing else may be using it.
os.environ.setdefault("BENCH_REDIS_PORT", "6446")
os.environ.setdefault("BENCH_DB", "rationale_bench_broker")
os.environ.setdefault("BENCH_WEB_PORT", "8446")

import harness  # noqa: E402
import loadgen  # noqa: E402


def count(tag: str, table: str = "decisions_decision") -> int:
    sql = f"SELECT count(*) FROM {table} WHERE subject_ref LIKE 'bench-{tag}-%'"  # noqa: S608 - ours
    return int(harness.psql(sql, harness.DB_NAME))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--rate", type=float, default=20.0, help="offered decisions/s in every phase")
    parser.add_argument("--phase", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--outage", choices=["stop", "pause"], default="stop")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--out", help="write the JSON summary here too")
    args = parser.parse_args()

    host, port = "127.0.0.1", harness.WEB_PORT
    rows = harness.held_out_rows()
    harness.log(f"creating {harness.DB_NAME}")
    harness.create_database()
    key = harness.api_key()
    report: dict = {
        "machine": f"{len(os.sched_getaffinity(0))} cores",
        "host_speed": harness.host_speed(),
        "gunicorn_workers": args.workers,
        "outage": args.outage,
        "offered_per_s": args.rate,
        "load_before": harness.load_average(),
        "phases": {},
    }
    tag_base = time.strftime("%H%M%S")

    def phase(name: str) -> None:
        tag = f"{tag_base}{name}"
        harness.log(f"{name}: {args.rate}/s for {args.phase}s")
        run = asyncio.run(
            loadgen.open_loop(
                host=host,
                port=port,
                make_payload=loadgen.decision_payloads(rows, key, host, port, tag),
                rate=args.rate,
                duration=args.phase,
            )
        )
        summary = run.summary()
        summary["stored"] = count(tag)
        report["phases"][name] = summary
        harness.log(f"{name}: {summary['statuses']} latency {summary['latency_ms']}")

    try:
        with harness.stack(harness.redis_server, lambda: harness.gunicorn(workers=args.workers)) as started:
            warm = loadgen.decision_payloads(rows, key, host, port, f"{tag_base}w")
            asyncio.run(loadgen.open_loop(host=host, port=port, make_payload=warm, rate=20, duration=3))
            phase("up")
            redis = started[0]
            if args.outage == "stop":
                redis.stop()
            else:
                os.kill(redis.pid, signal.SIGSTOP)
            try:
                phase("down")
            finally:
                if args.outage == "stop":
                    started[0] = harness.redis_server()  # the stack stops this one at the end
                else:
                    os.kill(redis.pid, signal.SIGCONT)
            phase("back")
    finally:
        if not args.keep_db:
            harness.drop_database()
            harness.log(f"dropped {harness.DB_NAME}")
    down = report["phases"]["down"]
    report["down_p50_ms"] = down["latency_ms"]["p50"]
    report["down_p99_ms"] = down["latency_ms"]["p99"]
    report["down_all_recorded"] = down["ok"] == down["requests"] == down["stored"]
    harness.write_json(args.out, report)


if __name__ == "__main__":
    main()
