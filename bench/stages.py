"""bench/stages: where a recorded decision's web CPU goes, stage by stage, inside real requests.

    .venv/bin/python bench/stages.py [--requests 1500] [--bulk 0]

Sends `POST /api/v1/decisions/` (or, with --bulk N, `POST /api/v1/decisions/bulk/` of N
decisions, 10 requests) through `config.wsgi`'s application in this process, as
bench/inprocess.py does, with the functions listed in STAGES wrapped to add up the thread's CPU
time (`time.thread_time_ns`) spent inside each. Prints, per stage, the mean and the median per
request (per decision for --bulk), slowest first.

Why not cProfile or a microbenchmark: inside a request, with caches cold from everything around
it, a small function costs several times what it costs in a loop of its own (DRF's content
negotiation: 8 us in a loop, 110 us in a request), and cProfile's own overhead inflates small
calls in turn. The wrapper costs about 2 us per call, so the stages here are coarse. Stages
nest: a stage's time includes the stages it calls. The garbage collector is frozen after the
warm-up, as config.wsgi freezes it in gunicorn.

Uses the rationale_bench database (created if absent, never dropped) and its own Redis.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import time

import harness

# (module, attribute path): the stages of one recorded decision, outermost first.
STAGES = [
    ("explanations.api", "DecisionListCreate.post"),
    ("explanations.api", "DecisionBulkCreate.post"),
    ("rest_framework.views", "APIView.initial"),
    ("rest_framework.views", "APIView.perform_content_negotiation"),
    ("rest_framework.request", "Request._authenticate"),
    ("decisions.recording", "decision_prepare"),
    ("decisions.recording", "_check_item"),
    ("decisions.schema", "FeatureSchema.validate"),
    ("decisions.schema", "FeatureSchema.encode"),
    ("decisions.predictors.xgboost", "XGBoostPredictor.predict_proba"),
    ("decisions.recording", "canonical_sha256"),
    ("explanations.recording", "_recording"),
    ("django.db.models.base", "Model.__init__"),
    ("explanations.api", "created_body"),
    ("explanations.recording", "recording_write"),
    ("explanations.storage", "record_decisions_in_one_statement"),
    ("decisions.storage", "decisions_insert_postgresql"),
    ("explanations.storage", "append_call"),
    ("explanations.storage", "audit_record_many"),
    ("django.db.backends.utils", "CursorWrapper.execute"),
    ("psycopg._queries", "PostgresQuery.convert"),
    ("explanations.queue", "publish_flag_set"),
    ("django.template.response", "SimpleTemplateResponse.render"),
]


def instrument(stages: list[tuple[str, str]], spent: dict[str, list[int]]) -> None:
    for module_name, path in stages:
        owner = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        function = getattr(owner, name)
        times = spent.setdefault(path.split(".")[-1] if not parents else path, [])

        def timed(*args, __function=function, __times=times, **kwargs):
            started = time.thread_time_ns()
            try:
                return __function(*args, **kwargs)
            finally:
                __times.append(time.thread_time_ns() - started)

        setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1500, help="measured single-decision requests")
    parser.add_argument("--bulk", type=int, default=0, help="decisions per bulk request (10 requests)")
    args = parser.parse_args()

    harness.ensure_database()
    with harness.stack(harness.redis_server):
        harness.setup_django()
        from config.wsgi import application

        rows, key = harness.held_out_rows(), harness.api_key()
        tag = f"{time.strftime('%H%M%S')}-{os.getpid()}"
        counter = iter(range(10**9))

        def request() -> None:
            n = next(counter)
            if args.bulk:
                path = "/api/v1/decisions/bulk/"
                payload = {
                    "decisions": [
                        {
                            "model": "credit-risk",
                            "subject_ref": f"stages-{tag}-{n}-{j}",
                            "features": rows[(n * args.bulk + j) % len(rows)],
                        }
                        for j in range(args.bulk)
                    ]
                }
            else:
                path = "/api/v1/decisions/"
                payload = {
                    "model": "credit-risk",
                    "subject_ref": f"stages-{tag}-{n}",
                    "features": rows[n % len(rows)],
                }
            body = json.dumps(payload).encode()
            environ = harness.post_environ(path, body, key)
            status: list[str] = []
            started = time.thread_time_ns()
            b"".join(application(environ, lambda s, headers: status.append(s)))
            spent["whole request"].append(time.thread_time_ns() - started)
            if not status[0].startswith("201"):
                raise SystemExit(f"request {n} answered {status[0]}")

        spent: dict[str, list[int]] = {"whole request": []}
        instrument(STAGES, spent)
        measured = 10 if args.bulk else args.requests
        for _ in range(2 if args.bulk else 100):
            request()
        gc.collect()
        gc.freeze()
        for times in spent.values():
            times.clear()
        for _ in range(measured):
            request()

        per = measured * (args.bulk or 1)
        unit = "decision" if args.bulk else "request"
        print(f"{'us/' + unit:>12} {'median/call':>12} {'calls/' + unit:>14}  stage")
        for stage, times in sorted(spent.items(), key=lambda item: -sum(item[1])):
            if times:
                print(
                    f"{sum(times) / per / 1000:12.1f} {statistics.median(times) / 1000:12.1f} "
                    f"{len(times) / per:14.3f}  {stage}"
                )
        print(json.dumps({"tree": str(harness.ROOT), "host_speed": harness.host_speed()}))


if __name__ == "__main__":
    main()
