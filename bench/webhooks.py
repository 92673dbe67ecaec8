"""bench/webhooks: webhook throughput, and what a subscribed webhook costs the recording of a
decision.

    .venv/bin/python bench/webhooks.py [--deliveries 2000] [--concurrency 1] [--requests 400]
        [--rounds 3] [--out bench/out/webhooks.json]

1. Throughput. N decisions are recorded (bulk, with the benchmark's API key) while one endpoint
   subscribes to decision.recorded; the dispatcher runs in this process (its CPU per delivery
   event is measured, with PostgreSQL's); then a real Celery worker sends the N deliveries, signed,
   to a receiver process (tests/webhooks/receiver.py --count-only) that verifies each with the
   standardwebhooks library. deliveries/s = N / time from the first task published to the last
   delivery recorded as delivered.
2. Ingest A/B. `POST /api/v1/decisions/` through Django's WSGI handler in this process (as
   bench/inprocess.py), alternately with the endpoint disabled (A: no webhook) and enabled (B:
   one subscribed), `--rounds` times: CPU ms per request of this process and of PostgreSQL. The
   audit log is the outbox, so B should cost what A costs; the dispatcher's share is part 1's.

Uses BENCH_DB (default rationale_bench; created if absent, never dropped), its own Redis on
BENCH_REDIS_PORT and a receiver on a free port. Writes the JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time

import harness

RECEIVER = harness.ROOT / "tests" / "webhooks" / "receiver.py"
# The receiver is on this host: the SSRF guards must let the worker and this process send there.
WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_HTTP": "1",
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "1",
    "WEBHOOK_DELIVERY_BATCH": "100",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def receiver(port: int, state: str, secret: str) -> harness.Process:
    args = [
        sys.executable,
        str(RECEIVER),
        "--port",
        str(port),
        "--state",
        state,
        "--secret",
        secret,
        "--count-only",
    ]
    proc = harness.Process("receiver", args).start()
    harness.wait_until(lambda: harness.listening(port), timeout=10, what="receiver")
    return proc


def accepted(state: str) -> int:
    try:
        with open(state) as f:
            return json.load(f)["accepted_count"]
    except (OSError, ValueError):
        return 0


def record(api_key, rows, n: int) -> None:
    from audit.services import Actor
    from decisions.recording import DecisionInput
    from explanations.recording import decision_record_many

    done = 0
    while done < n:
        size = min(500, n - done)
        items = [
            DecisionInput(
                model="credit-risk", features=rows[(done + i) % len(rows)], subject_ref=f"wh-{done + i}"
            )
            for i in range(size)
        ]
        decision_record_many(items=items, actor=Actor.system("bench"), api_key=api_key)
        done += size
    # Their explanation tasks are dropped (the explanations stay pending): the worker started
    # next sends webhooks only.
    harness.redis_flush()


def throughput(endpoint, state: str) -> dict:
    from webhooks.dispatch import webhooks_dispatch
    from webhooks.models import Delivery

    start_count = accepted(state)
    before = harness.cpu_seconds()
    cpu = time.process_time()
    # The worker is idle: the dispatcher's publish (on commit of each batch) starts the sending at
    # once, so the clock starts before the dispatch.
    wall = time.perf_counter()
    made = webhooks_dispatch(limit=500, rounds=1000)
    dispatch_cpu = time.process_time() - cpu
    others = harness.cpu_delta(before, harness.cpu_seconds(), max(made["deliveries"], 1))
    due = ("pending", "failed_retrying")
    harness.wait_until(
        lambda: not Delivery.objects.filter(endpoint=endpoint, status__in=due).exists(),
        timeout=600,
        what="every delivery sent",
        interval=0.05,
    )
    elapsed = time.perf_counter() - wall
    delivered = Delivery.objects.filter(endpoint=endpoint, status="delivered").count()
    # Dispatching and sending, every process (the worker's share is the sender's CPU).
    whole = harness.cpu_delta(before, harness.cpu_seconds(), max(delivered, 1))
    return {
        "deliveries": made["deliveries"],
        "events_read": made["events"],
        "delivered": delivered,
        "receiver_verified": accepted(state) - start_count,
        "seconds": round(elapsed, 3),
        "deliveries_per_second": round(delivered / elapsed, 1),
        "dispatcher_cpu_ms_per_delivery": round(1000 * dispatch_cpu / max(made["deliveries"], 1), 4),
        "cpu_ms_per_delivery_while_dispatching": others,
        "cpu_ms_per_delivery_dispatch_and_send": whole,
    }


def ingest_ab(args, raw_key: str, endpoint, rows) -> dict:
    from django.core.wsgi import get_wsgi_application

    from webhooks.models import Endpoint

    app = get_wsgi_application()
    tag = f"{time.strftime('%H%M%S')}-{os.getpid()}"
    sent = 0

    def one() -> None:
        nonlocal sent
        sent += 1
        body = json.dumps(
            {"model": "credit-risk", "subject_ref": f"ab-{tag}-{sent}", "features": rows[sent % len(rows)]}
        ).encode()
        status: list[str] = []
        b"".join(
            app(harness.post_environ("/api/v1/decisions/", body, raw_key), lambda s, h: status.append(s))
        )
        if not status[0].startswith("201"):
            raise SystemExit(f"request {sent} answered {status[0]}")

    for _ in range(50):
        one()
    runs: dict[str, list] = {"A_no_webhook": [], "B_one_webhook": []}
    for _ in range(args.rounds):
        for label, enabled in (("A_no_webhook", False), ("B_one_webhook", True)):
            Endpoint.objects.filter(pk=endpoint.pk).update(enabled=enabled)
            before = harness.cpu_seconds()
            cpu = time.process_time()
            for _ in range(args.requests):
                one()
            cpu = time.process_time() - cpu
            others = harness.cpu_delta(before, harness.cpu_seconds(), args.requests)
            runs[label].append(
                {
                    "cpu_ms_per_request": round(1000 * cpu / args.requests, 3),
                    "postgres_cpu_ms_per_request": others.get("postgres"),
                }
            )
    return {
        label: {
            "runs": found,
            "median_cpu_ms_per_request": sorted(r["cpu_ms_per_request"] for r in found)[len(found) // 2],
        }
        for label, found in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1, help="the worker's processes")
    parser.add_argument("--requests", type=int, default=400, help="requests per A or B run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(harness.ROOT / "bench" / "out" / "webhooks.json"))
    args = parser.parse_args()

    os.environ.update(WEBHOOK_ENV)
    # Creating the database rewrites the shared var/bench/api-key: keep the other benches' key.
    shared_key = harness.VAR / "api-key"
    kept = shared_key.read_text() if shared_key.exists() else None
    harness.ensure_database()
    if kept is not None:
        shared_key.write_text(kept)
    port = free_port()
    state = str(harness.VAR / f"webhook-receiver-{port}.json")
    with harness.stack(harness.redis_server):
        harness.setup_django()
        from audit.services import Actor
        from decisions.accounts import api_key_create
        from webhooks.models import Endpoint
        from webhooks.services import endpoint_create

        # Earlier runs' endpoints point at receivers that are gone: nothing may be sent to them.
        Endpoint.objects.update(enabled=False)
        # A key of this run's own: the shared var/bench/api-key file is left to the other benches.
        api_key, raw_key = api_key_create(name=f"webhook-bench-{os.getpid()}", actor=Actor.system("bench"))
        endpoint, secret = endpoint_create(
            api_key=api_key,
            url=f"http://127.0.0.1:{port}/hooks",
            event_types=["decision.recorded"],
            actor=Actor.system("bench"),
        )
        rows = harness.held_out_rows()
        record(api_key, rows, args.deliveries)
        with harness.stack(
            lambda: receiver(port, state, secret),
            lambda: harness.celery_worker(concurrency=args.concurrency, **WEBHOOK_ENV),
        ):
            result = {
                "tree": str(harness.ROOT),
                "worker_concurrency": args.concurrency,
                "throughput": throughput(endpoint, state),
            }
        # The ingest A/B: no worker, no receiver, nothing delivered; only the recording path.
        result["ingest_ab"] = ingest_ab(args, raw_key, endpoint, rows)
        Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
        result["load"] = harness.load_average()
        result["host_speed"] = harness.host_speed()
    harness.write_json(args.out, result)


if __name__ == "__main__":
    main()
