"""bench/floor: what the web stack costs per request before any work of ours, on this machine.

    .venv/bin/python bench/floor.py [--workers 3] [--concurrency 6] [--duration 10]

The same gunicorn, settings, database and load generator as bench/ingest.py, in closed loop,
against requests that do less and less of what recording a decision does:

  healthz        GET /healthz: Django's middleware and a JSON response, no database
  readyz         GET /readyz: the same plus one `SELECT 1` and a Redis ping
  api-models     GET /api/v1/models/ with the API key: DRF, key authentication, one list query
  decision       POST /api/v1/decisions/: the real thing (validate, predict, record, audit)

The gap between two rows is what the extra work costs; the first row is a ceiling that no
change inside a view can lift. Run it after bench/ingest.py --keep-db (or it creates the
database). Prints JSON; --out saves it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import harness
import loadgen


def get_request(path: str, headers: dict[str, str], host: str, port: int) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--concurrency", type=int, default=6, help="closed-loop clients")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--out", help="write the JSON summary here too")
    args = parser.parse_args()

    host, port = "127.0.0.1", harness.WEB_PORT
    harness.ensure_database()
    key = harness.api_key()
    auth = {"Authorization": f"Api-Key {key}"}
    tag = time.strftime("%H%M%S")
    endpoints = {
        "healthz": lambda i: get_request("/healthz", {}, host, port),
        "readyz": lambda i: get_request("/readyz", {}, host, port),
        "api-models": lambda i: get_request("/api/v1/models/", auth, host, port),
        "decision": loadgen.decision_payloads(harness.held_out_rows(), key, host, port, f"{tag}floor"),
    }
    report: dict = {
        "machine": f"{os.cpu_count()} cores",
        "gunicorn": {"workers": args.workers},
        "load_before": harness.load_average(),
        "runs": [],
    }
    with harness.stack(harness.redis_server, lambda: harness.gunicorn(workers=args.workers)):
        for make in endpoints.values():  # warm every worker on every path
            asyncio.run(loadgen.closed_loop(host=host, port=port, make_payload=make, concurrency=6, total=60))
        for name, make in endpoints.items():
            time.sleep(3)
            cpu = harness.cpu_seconds()
            run = asyncio.run(
                loadgen.closed_loop(
                    host=host,
                    port=port,
                    make_payload=make,
                    concurrency=args.concurrency,
                    duration=args.duration,
                )
            )
            summary = {"endpoint": name, **run.summary()}
            summary["cpu_ms_per_request"] = harness.cpu_delta(cpu, harness.cpu_seconds(), summary["ok"])
            report["runs"].append(summary)
            harness.log(str(summary))
    harness.write_json(args.out, report)


if __name__ == "__main__":
    main()
