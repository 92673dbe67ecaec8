"""bench/inprocess: CPU per recorded decision inside one process, without HTTP or a server.

    .venv/bin/python bench/inprocess.py [--requests 600] [--profile 40] [--idempotency-keys]

Sends `POST /api/v1/decisions/` through Django's WSGI handler in this process (every middleware,
DRF, the service, PostgreSQL and the Redis publish flag; no gunicorn, no sockets) and prints the
process's CPU and wall milliseconds per request, and PostgreSQL's CPU per request. With --profile N it then runs the same number
of requests under cProfile (CPU clock) and prints the N most expensive calls by cumulative time.

It isolates the web process's own cost from the load generator and the server, so two trees can
be compared on the same host: run it in each, alternately, several times (bench/RESULTS.md,
stop 8). Uses the rationale_bench database (created if absent, never dropped) and starts its
own Redis on the benchmarks' port.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time

import harness


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=600, help="measured requests")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--profile", type=int, default=0, help="print this many cProfile rows")
    parser.add_argument(
        "--sort", default="cumulative", help="cProfile order: cumulative (default) or tottime"
    )
    parser.add_argument(
        "--idempotency-keys", action="store_true", help="send a new Idempotency-Key with every request"
    )
    args = parser.parse_args()

    harness.ensure_database()
    with harness.stack(harness.redis_server):
        harness.setup_django()
        from django.core.wsgi import get_wsgi_application

        app = get_wsgi_application()
        rows = harness.held_out_rows()
        key = harness.api_key()
        tag = f"{time.strftime('%H%M%S')}-{os.getpid()}"
        sent = 0

        def one() -> None:
            nonlocal sent
            sent += 1
            body = json.dumps(
                {
                    "model": "credit-risk",
                    "subject_ref": f"inproc-{tag}-{sent}",
                    "features": rows[sent % len(rows)],
                }
            ).encode()
            # As a careful client sends them: a new Idempotency-Key per request.
            keyed = {"HTTP_IDEMPOTENCY_KEY": f"inproc-{tag}-{sent}"} if args.idempotency_keys else {}
            environ = harness.post_environ("/api/v1/decisions/", body, key, **keyed)
            status: list[str] = []
            b"".join(app(environ, lambda s, headers: status.append(s)))
            if not status[0].startswith("201"):
                raise SystemExit(f"request {sent} answered {status[0]}")

        for _ in range(args.warmup):
            one()
        before = harness.cpu_seconds()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.requests):
            one()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        others = harness.cpu_delta(before, harness.cpu_seconds(), args.requests)
        print(
            json.dumps(
                {
                    "tree": str(harness.ROOT),
                    "requests": args.requests,
                    "idempotency_keys": args.idempotency_keys,
                    "cpu_ms_per_request": round(1000 * cpu / args.requests, 3),
                    "wall_ms_per_request": round(1000 * wall / args.requests, 3),
                    "postgres_cpu_ms_per_request": others.get("postgres"),
                    "load": harness.load_average(),
                    "host_speed": harness.host_speed(),
                }
            )
        )
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(args.requests):
                one()
            profiler.disable()
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.profile)


if __name__ == "__main__":
    main()
