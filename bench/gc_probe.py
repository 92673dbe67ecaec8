"""gunicorn config for `bench/ingest.py --gc-stats`: each worker times its garbage collections
and, when it exits, writes them to $BENCH_GC_STATS_DIR/<pid>.json (collections, total and
longest milliseconds per generation, every full collection's pause). Not for production."""

import gc
import json
import os
import time
from pathlib import Path


def post_fork(server, worker):
    stats = {"collections": [0, 0, 0], "ms": [0.0, 0.0, 0.0], "max_ms": [0.0, 0.0, 0.0], "full_ms": []}
    started = {}

    def timed(phase, info):
        generation = info["generation"]
        if phase == "start":
            started[generation] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[generation]) * 1000
        stats["collections"][generation] += 1
        stats["ms"][generation] += ms
        stats["max_ms"][generation] = max(stats["max_ms"][generation], ms)
        if generation == 2:
            stats["full_ms"].append(round(ms, 1))

    gc.callbacks.append(timed)
    worker.gc_stats = stats


def worker_exit(server, worker):
    stats = worker.gc_stats
    stats["ms"] = [round(ms, 1) for ms in stats["ms"]]
    stats["max_ms"] = [round(ms, 1) for ms in stats["max_ms"]]
    stats["frozen"] = gc.get_freeze_count()
    stats["tracked_at_exit"] = len(gc.get_objects())
    out = Path(os.environ["BENCH_GC_STATS_DIR"]) / f"{os.getpid()}.json"
    out.write_text(json.dumps(stats))
