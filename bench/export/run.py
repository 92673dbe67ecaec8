"""Benchmark: a JSON Lines decisions export from PostgreSQL, rows/s and peak memory.

    .venv/bin/python bench/export/run.py            # set up rationale_bench once, then measure
    .venv/bin/python bench/export/run.py --rows 100000 1000000

Rows are generated in the database with INSERT ... SELECT generate_series into a separate
database (`rationale_bench`, never the test database): one model version per size, each decision
with 20 features and a done explanation with 20 contributions, like the German-credit model's
(stored as the worker stores them: numbers keyed by feature).
Each size is exported in a fresh subprocess through the same code path as a file export
(oversight.exports.export_lines -> sha256 -> file), and reports its own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DB", "rationale_bench")
BENCH_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DB
ENV = {
    **os.environ,
    "DATABASE_URL": BENCH_URL,
    "SECRET_KEY": "bench",
    "AUDIT_SIGNING_KEY": "YmVuY2gtc2lnbmluZy1rZXktMzItYnl0ZXMtbG9uZyE=",
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1maWVsZC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=",
    "RATIONALE_VAR_DIR": str(ROOT / "var" / "bench"),
    "CELERY_BROKER_URL": "memory://",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}

FEATURES_SQL = (
    "jsonb_build_object("
    + ", ".join(
        f"'f{k}', "
        + ("(random() * 100)::int" if k % 2 else "(ARRAY['a','b','c','d'])[1 + (random() * 3)::int]")
        for k in range(20)
    )
    + ")"
)
# As the worker stores them: {"feature": contribution}, full float precision.
# 61 model columns, as the credit model has; not exported, but part of each row read.
RAW_VALUES_SQL = "(SELECT jsonb_agg(random() - 0.5) FROM generate_series(1, 61))"
CONTRIBUTIONS_SQL = "(SELECT jsonb_object_agg('f' || k, random() - 0.5) FROM generate_series(0, 19) k)"


def psql(url: str, sql: str, *, autocommit: bool = True):
    import psycopg

    with psycopg.connect(url, autocommit=autocommit) as conn:
        return (
            conn.execute(sql).fetchall() if sql.lstrip().upper().startswith("SELECT") else conn.execute(sql)
        )


def setup(sizes: list[int]) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=ENV, check=True
    )
    with psycopg.connect(BENCH_URL, autocommit=True) as conn:
        for size in sizes:
            name = f"bench-{size}"
            have = conn.execute(
                "SELECT count(*) FROM decisions_decision d JOIN decisions_modelversion v ON v.id = d.model_version_id "
                "JOIN decisions_decisionmodel m ON m.id = v.model_id WHERE m.name = %s",
                [name],
            ).fetchone()[0]
            if have == size:
                continue
            started = time.perf_counter()
            conn.execute(
                "INSERT INTO decisions_decisionmodel (name, description, created_at, updated_at) "
                "VALUES (%s, '', now(), now()) ON CONFLICT DO NOTHING",
                [name],
            )
            model_id = conn.execute(
                "SELECT id FROM decisions_decisionmodel WHERE name = %s", [name]
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO decisions_modelversion (model_id, version, framework, explainer, status, artifact, "
                "artifact_sha256, feature_schema, output, background, background_sha256, training, controller, "
                "purpose, significance, consequences, legal_basis, contact, retention_days, registered_by, "
                "created_at, updated_at) VALUES (%s, '1', 'xgboost', 'auto', 'active', '', %s, %s, %s, '', %s, "
                "'{}', '', '', '', '', '', '', 183, 'bench', now(), now()) ON CONFLICT DO NOTHING",
                [model_id, "0" * 64, json.dumps({"features": []}), json.dumps({"type": "binary"}), "0" * 64],
            )
            version_id = conn.execute(
                "SELECT id FROM decisions_modelversion WHERE model_id = %s", [model_id]
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO decisions_decision (id, model_version_id, kind, subject_ref, reference, features, "  # noqa: S608
                "features_commitment, score, outcome, favourable, decided_at, access_token_hash, access_expires_at) "
                f"SELECT gen_random_uuid(), %s, 'automated', 'subject-' || g.i, '', {FEATURES_SQL}, "
                "md5(g.i::text) || md5((g.i + 1)::text), random(), CASE WHEN g.i %% 3 = 0 THEN 'refused' ELSE "
                "'approved' END, g.i %% 3 <> 0, now() - make_interval(secs => g.i), "
                "md5(random()::text || g.i) || md5(g.i::text || random()), now() + interval '1 year' "
                "FROM generate_series(1, %s) AS g(i)",
                [version_id, size],
            )
            conn.execute(
                "INSERT INTO explanations_explanation (decision_id, model_version_id, is_current, status, method, "  # noqa: S608
                "params, output_space, explained_class, base_value, predicted_value, contributions, raw_values, "
                "additivity_error, versions, model_sha256, background_sha256, device, worker, queued_at, "
                "started_at, finished_at, attempts, error) "
                f"SELECT d.id, d.model_version_id, true, 'done', 'tree', '{{}}', 'log_odds', 'approved', 0.3, 0.7, "
                f"{CONTRIBUTIONS_SQL}, {RAW_VALUES_SQL}, 1e-7, '{{}}', repeat('0', 64), repeat('0', 64), "
                "'cpu', 'bench', d.decided_at, d.decided_at, d.decided_at + interval '20 ms', 1, '' "
                "FROM decisions_decision d WHERE d.model_version_id = %s",
                [version_id],
            )
            conn.execute("VACUUM ANALYZE decisions_decision")
            conn.execute("VACUUM ANALYZE explanations_explanation")
            print(f"generated {size} decisions in {time.perf_counter() - started:.1f} s", flush=True)


def measure(size: int) -> dict:
    """In this (fresh) process: export model bench-<size> as JSON Lines to a file."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from oversight.export_filters import ExportFilters
    from oversight.exports import _Hashing, export_lines

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = ROOT / "var" / "bench" / f"decisions-{size}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: dict = {}
    hashing = _Hashing()
    started = time.perf_counter()
    lines = export_lines(
        kind="decisions",
        fmt="jsonl",
        filters=ExportFilters(model=f"bench-{size}"),
        checkpoint=None,
        counts=counts,
    )
    with open(out, "wb") as handle:
        for block in hashing.feed(lines):
            handle.write(block)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "rows": counts["rows"],
        "explanations": counts.get("explanations", 0),
        "seconds": round(seconds, 2),
        "rows_per_s": round(counts["rows"] / seconds),
        "mb_per_s": round(hashing.size / seconds / 1e6, 1),
        "file_mb": round(hashing.size / 1e6, 1),
        "sha256": hashing.digest.hexdigest(),
        "maxrss_after_setup_mb": round(baseline / 1024, 1),
        "maxrss_peak_mb": round(peak / 1024, 1),
    }
    out.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    setup(args.rows)
    for size in args.rows:
        done = subprocess.run(
            [sys.executable, __file__, "--measure", str(size)],
            cwd=ROOT,
            env=ENV,
            check=True,
            capture_output=True,
            text=True,
        )
        print(json.dumps({"size": size, **json.loads(done.stdout.strip().splitlines()[-1])}), flush=True)


if __name__ == "__main__":
    main()
