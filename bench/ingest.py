"""bench/ingest: decisions posted over HTTP to gunicorn on PostgreSQL.

    .venv/bin/python bench/ingest.py [--workers 3] [--rates 300,400] [--duration 30]

Creates the benchmark database (rationale_bench), migrates it, registers the credit model, starts
Redis (port 6398) and gunicorn (DEBUG off), then runs: open-loop fixed rates, a closed-loop
maximum-throughput run, and bulk requests. No Celery worker runs: explanation tasks are published
to Redis (that cost is part of every request) and stay queued. Prints JSON; --out saves it.
Processes are stopped and the database dropped at the end (--keep-db keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

import harness
import loadgen


def count_decisions(tag: str) -> int:
    return int(
        harness.psql(
            f"SELECT count(*) FROM decisions_decision WHERE subject_ref LIKE 'bench-{tag}-%'",  # noqa: S608
            harness.DB_NAME,
        )
    )


def settle(seconds: float = 3.0) -> None:
    time.sleep(seconds)  # let the previous run's stragglers and autovacuum pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=1, help=">1 uses the gthread worker")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="reuse connections, as a client's pool would (needs --threads > 1: sync workers close them)",
    )
    parser.add_argument("--rates", default="300,400", help="open-loop offered rates, decisions/s")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per open-loop rate")
    parser.add_argument("--max-concurrency", type=int, default=6, help="closed-loop clients (0 skips)")
    parser.add_argument("--max-duration", type=float, default=20.0)
    parser.add_argument("--bulk-size", type=int, default=1000, help="decisions per bulk request (0 skips)")
    parser.add_argument("--bulk-requests", type=int, default=20)
    parser.add_argument("--bulk-concurrency", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds at 100/s before measuring")
    parser.add_argument(
        "--idempotency-keys",
        action="store_true",
        help="send a new Idempotency-Key with every single decision, as a careful client does",
    )
    parser.add_argument("--reuse-db", action="store_true", help="do not recreate the database")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--gc-stats",
        action="store_true",
        help="time every web worker's garbage collections (bench/gc_probe.py) and report them",
    )
    parser.add_argument("--out", help="write the JSON summary here too")
    args = parser.parse_args()

    host, port = "127.0.0.1", harness.WEB_PORT
    rows = harness.held_out_rows()
    if not args.reuse_db:
        harness.log(f"creating {harness.DB_NAME}")
        harness.create_database()
    key = harness.api_key()
    report: dict = {
        "machine": f"{_cpus()} cores",
        "host_speed": harness.host_speed(),
        "gunicorn": {"workers": args.workers, "threads": args.threads, "client_keep_alive": args.keep_alive},
        "idempotency_keys": args.idempotency_keys,
        "load_before": harness.load_average(),
        "tree": str(harness.ROOT),
        "runs": [],
    }
    tag_base = time.strftime("%H%M%S")
    gc_dir = Path(tempfile.mkdtemp(prefix="rationale-gc-")) if args.gc_stats else None
    web_options = (
        {"config": str(harness.ROOT / "bench" / "gc_probe.py"), "BENCH_GC_STATS_DIR": str(gc_dir)}
        if gc_dir
        else {}
    )
    try:
        with harness.stack(
            harness.redis_server,
            lambda: harness.gunicorn(workers=args.workers, threads=args.threads, **web_options),
        ):
            # Warm every worker: imports, the predictor cache, database connections, and the
            # path the runs take (with keys, the key's lookup and its statement).
            warm = loadgen.decision_payloads(
                rows, key, host, port, f"{tag_base}w", idempotency_keys=args.idempotency_keys
            )
            asyncio.run(
                loadgen.open_loop(host=host, port=port, make_payload=warm, rate=100, duration=args.warmup)
            )

            for rate in [float(r) for r in args.rates.split(",") if r]:
                settle()
                tag = f"{tag_base}r{int(rate)}"
                harness.log(f"open loop {rate}/s for {args.duration}s (load {harness.load_average()})")
                cpu = harness.cpu_seconds()
                run = asyncio.run(
                    loadgen.open_loop(
                        host=host,
                        port=port,
                        make_payload=loadgen.decision_payloads(
                            rows, key, host, port, tag, args.keep_alive, args.idempotency_keys
                        ),
                        rate=rate,
                        duration=args.duration,
                    )
                )
                summary = run.summary()
                summary["cpu_ms_per_decision"] = harness.cpu_delta(cpu, harness.cpu_seconds(), summary["ok"])
                summary["stored"] = count_decisions(tag)
                summary["load_after"] = harness.load_average()
                report["runs"].append(summary)
                harness.log(str(summary))

            if args.max_concurrency:
                settle()
                tag = f"{tag_base}max"
                harness.log(f"closed loop x{args.max_concurrency} for {args.max_duration}s")
                cpu = harness.cpu_seconds()
                run = asyncio.run(
                    loadgen.closed_loop(
                        host=host,
                        port=port,
                        make_payload=loadgen.decision_payloads(
                            rows, key, host, port, tag, args.keep_alive, args.idempotency_keys
                        ),
                        concurrency=args.max_concurrency,
                        duration=args.max_duration,
                    )
                )
                summary = run.summary()
                summary["cpu_ms_per_decision"] = harness.cpu_delta(cpu, harness.cpu_seconds(), summary["ok"])
                summary["stored"] = count_decisions(tag)
                summary["load_after"] = harness.load_average()
                report["runs"].append(summary)
                harness.log(str(summary))

            if args.bulk_size and args.bulk_requests:
                settle()
                tag = f"{tag_base}bulk"
                make = loadgen.bulk_payloads(rows, key, host, port, tag, args.bulk_size, args.keep_alive)
                payloads = [make(i) for i in range(args.bulk_requests)]
                harness.log(
                    f"bulk {args.bulk_requests} x {args.bulk_size}, {args.bulk_concurrency} at a time"
                )
                cpu = harness.cpu_seconds()
                run = asyncio.run(
                    loadgen.closed_loop(
                        host=host,
                        port=port,
                        make_payload=payloads.__getitem__,
                        concurrency=args.bulk_concurrency,
                        total=args.bulk_requests,
                    )
                )
                summary = run.summary(per_request=args.bulk_size)
                summary["cpu_ms_per_decision"] = harness.cpu_delta(
                    cpu, harness.cpu_seconds(), summary["ok"] * args.bulk_size
                )
                summary["mode"] = f"bulk {args.bulk_size}/request x{args.bulk_concurrency}"
                summary["stored"] = count_decisions(tag)
                summary["load_after"] = harness.load_average()
                report["runs"].append(summary)
                harness.log(str(summary))
    finally:
        if not args.keep_db:
            harness.drop_database()
            harness.log(f"dropped {harness.DB_NAME}")
    if gc_dir:
        # Over each worker's whole life: warm-up and every run.
        report["gc_per_web_worker"] = [json.loads(f.read_text()) for f in sorted(gc_dir.glob("*.json"))]
        shutil.rmtree(gc_dir)
    harness.write_json(args.out, report)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
