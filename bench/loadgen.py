"""A small HTTP/1.1 load generator on asyncio streams: open-loop fixed rate and closed-loop max.

No HTTP library: a request is pre-encoded bytes written to a fresh connection (gunicorn's sync
workers close the connection after every response anyway), and a response is read to EOF or
Content-Length. Payloads built with keep_alive=True reuse idle connections instead, as a
client's connection pool would (for gunicorn's gthread workers, which keep connections open). This keeps the generator's own CPU cost to roughly 0.1-0.2 ms per request, which
matters on a 2-core machine that also runs the server and PostgreSQL.

Open loop: request i is sent at t0 + i / rate whether or not earlier ones have answered, and its
latency is measured from that scheduled time, so a stalled server shows up as latency instead of
silently lowering the offered rate (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    status: int
    latency_s: float
    body: bytes = b""
    scheduled: float = 0.0  # perf_counter time the request was due


# The timeline's window: p99 per window tells one stall apart from a uniformly slow run.
WINDOW_S = 5.0


@dataclass
class Run:
    mode: str
    offered_rate: float | None
    duration_s: float
    results: list[Result] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late_starts: int = 0

    def summary(self, *, per_request: int = 1) -> dict:
        from harness import percentiles

        ok = [r for r in self.results if 200 <= r.status < 300]
        statuses: dict[str, int] = {}
        for r in self.results:
            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
        lat_ms = [1000 * r.latency_s for r in ok]
        windows: dict[int, list[float]] = {}
        start = min((r.scheduled for r in ok), default=0.0)
        for r in ok:
            windows.setdefault(int((r.scheduled - start) // WINDOW_S), []).append(1000 * r.latency_s)
        return {
            "mode": self.mode,
            "offered_per_s": self.offered_rate,
            "duration_s": round(self.duration_s, 2),
            "requests": len(self.results) + sum(self.errors.values()),
            "ok": len(ok),
            "statuses": statuses,
            "errors": self.errors,
            "achieved_requests_per_s": round(len(ok) / self.duration_s, 1),
            "achieved_decisions_per_s": round(per_request * len(ok) / self.duration_s, 1),
            "latency_ms": {k: round(v, 2) for k, v in percentiles(lat_ms).items()},
            f"p99_ms_per_{WINDOW_S:g}s_sent": [
                round(percentiles(windows[w])["p99"], 1) for w in sorted(windows)
            ],
            "generator_fell_behind_by_10ms": self.late_starts,
        }


def http_request(
    path: str, body: bytes, headers: dict[str, str], host: str, port: int, keep_alive: bool = False
) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"Connection: {'keep-alive' if keep_alive else 'close'}", "", ""]
    return "\r\n".join(lines).encode() + body


# Idle kept-alive connections per (host, port): a client that reuses its connections, as a
# controller's HTTP client pool would. Only used for payloads that ask for keep-alive.
_idle: dict[tuple[str, int], list] = {}


async def _exchange(reader, writer, payload: bytes) -> tuple[int, bytes, bool]:
    writer.write(payload)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, reusable = None, False
    for line in head.split(b"\r\n"):
        lower = line.lower()
        if lower[:15] == b"content-length:":
            length = int(line[15:])
        elif lower[:11] == b"connection:":
            reusable = b"keep-alive" in lower
    body = await (reader.readexactly(length) if length is not None else reader.read())
    return status, body, reusable and length is not None


async def _send(host: str, port: int, payload: bytes, keep_body: bool) -> tuple[int, bytes]:
    keep_alive = b"\r\nConnection: keep-alive\r\n" in payload[:2048]
    idle = _idle.setdefault((host, port), [])
    if keep_alive and idle:
        reader, writer = idle.pop()
        try:
            status, body, reusable = await _exchange(reader, writer, payload)
        except (OSError, asyncio.IncompleteReadError):
            # The server closed the idle connection (keep-alive timeout): a new one, once.
            writer.close()
            return await _send_new(host, port, payload, keep_body, keep_alive)
        if reusable:
            idle.append((reader, writer))
        else:
            writer.close()
        return status, body if keep_body else b""
    return await _send_new(host, port, payload, keep_body, keep_alive)


async def _send_new(
    host: str, port: int, payload: bytes, keep_body: bool, keep_alive: bool
) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    reusable = False
    try:
        status, body, reusable = await _exchange(reader, writer, payload)
        return status, body if keep_body else b""
    finally:
        if keep_alive and reusable:
            _idle.setdefault((host, port), []).append((reader, writer))
        else:
            writer.close()


async def _one(run: Run, host, port, payload, scheduled: float, keep_body: bool, sem) -> None:
    async with sem:
        try:
            status, body = await _send(host, port, payload, keep_body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            name = exc.__class__.__name__
            run.errors[name] = run.errors.get(name, 0) + 1
            return
        run.results.append(Result(status, time.perf_counter() - scheduled, body, scheduled))


async def open_loop(
    *,
    host: str,
    port: int,
    make_payload: Callable[[int], bytes],
    rate: float,
    duration: float,
    keep_body: bool = False,
    max_in_flight: int = 1000,
) -> Run:
    """Offer `rate` requests/s for `duration` seconds; wait for the stragglers."""
    _idle.clear()  # connections belong to the event loop that opened them
    n = int(rate * duration)
    payloads = [make_payload(i) for i in range(n)]  # built before the clock starts
    run = Run("open", rate, duration)
    sem = asyncio.Semaphore(max_in_flight)
    tasks = []
    t0 = time.perf_counter() + 0.05
    for i, payload in enumerate(payloads):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.010:
            run.late_starts += 1
        tasks.append(asyncio.create_task(_one(run, host, port, payload, scheduled, keep_body, sem)))
    await asyncio.gather(*tasks)
    # Throughput over the offered window plus the time the last answer took to come back.
    run.duration_s = time.perf_counter() - t0
    _close_idle()
    return run


def _close_idle() -> None:
    for connections in _idle.values():
        for _, writer in connections:
            writer.close()
    _idle.clear()


async def closed_loop(
    *,
    host: str,
    port: int,
    make_payload: Callable[[int], bytes],
    concurrency: int,
    duration: float | None = None,
    total: int | None = None,
    keep_body: bool = False,
) -> Run:
    """`concurrency` clients each send the next request as soon as the previous one answers."""
    run = Run(f"closed x{concurrency}", None, 0.0)
    _idle.clear()  # connections belong to the event loop that opened them
    counter = iter(range(10**9))
    t0 = time.perf_counter()
    stop_at = t0 + duration if duration else float("inf")
    sem = asyncio.Semaphore(concurrency)

    async def client() -> None:
        while time.perf_counter() < stop_at:
            i = next(counter)
            if total is not None and i >= total:
                return
            payload = make_payload(i)
            await _one(run, host, port, payload, time.perf_counter(), keep_body, sem)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    run.duration_s = time.perf_counter() - t0
    _close_idle()
    return run


def decision_payloads(
    rows: list[dict],
    api_key: str,
    host: str,
    port: int,
    tag: str,
    keep_alive: bool = False,
    idempotency_keys: bool = False,
) -> Callable[[int], bytes]:
    headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}

    def make(i: int) -> bytes:
        body = {
            "model": "credit-risk",
            "subject_ref": f"bench-{tag}-{i:07d}",
            "features": rows[i % len(rows)],
        }
        # As a careful client sends them: a new key per decision, so every request records.
        extra = {"Idempotency-Key": f"bench-{tag}-{i:07d}"} if idempotency_keys else {}
        return http_request(
            "/api/v1/decisions/", json.dumps(body).encode(), {**headers, **extra}, host, port, keep_alive
        )

    return make


def bulk_payloads(
    rows: list[dict], api_key: str, host: str, port: int, tag: str, size: int, keep_alive: bool = False
) -> Callable[[int], bytes]:
    headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": "application/json"}

    def make(i: int) -> bytes:
        decisions = [
            {
                "model": "credit-risk",
                "subject_ref": f"bench-{tag}-{i:05d}-{j:05d}",
                "features": rows[(i * size + j) % len(rows)],
            }
            for j in range(size)
        ]
        body = json.dumps({"decisions": decisions}).encode()
        return http_request("/api/v1/decisions/bulk/", body, headers, host, port, keep_alive)

    return make
