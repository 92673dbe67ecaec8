"""Webhooks: delivery of events to the controller's endpoints (webhooks/). Every figure can be
set from the environment; docs/webhooks.md explains each to integrators and operators."""

from .environment import env  # noqa: F401

# The dispatcher (beat) turns new audit events into deliveries every this many seconds, reading
# at most WEBHOOK_DISPATCH_BATCH events per transaction.
WEBHOOK_DISPATCH_SECONDS = env.float("WEBHOOK_DISPATCH_SECONDS", default=2.0)
WEBHOOK_DISPATCH_BATCH = env.int("WEBHOOK_DISPATCH_BATCH", default=500)
# A delivery task claims this many due deliveries at a time and sends them one after another.
WEBHOOK_DELIVERY_BATCH = env.int("WEBHOOK_DELIVERY_BATCH", default=50)
# The sweep re-publishes delivery tasks for due retries and for claims left by a dead worker.
WEBHOOK_SWEEP_SECONDS = env.float("WEBHOOK_SWEEP_SECONDS", default=10.0)
# After this long a claimed delivery is taken back: longer than a whole batch can take
# (WEBHOOK_DELIVERY_BATCH x WEBHOOK_TIMEOUT_SECONDS).
WEBHOOK_CLAIM_STALE_SECONDS = env.float("WEBHOOK_CLAIM_STALE_SECONDS", default=300.0)
# Attempts before a delivery is dead-lettered; the wait before attempt n+1 is drawn uniformly
# from [0, min(cap, base * 2**(n-1))] ("full jitter").
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_BACKOFF_BASE_SECONDS = env.float("WEBHOOK_BACKOFF_BASE_SECONDS", default=60.0)
WEBHOOK_BACKOFF_CAP_SECONDS = env.float("WEBHOOK_BACKOFF_CAP_SECONDS", default=4 * 3600.0)
# Connect, read and write limit of one POST; the response body is never read beyond this.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# After a rotation the previous secret still signs (beside the new one) for this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env.float("WEBHOOK_SECRET_OVERLAP_HOURS", default=24.0)
# Server-side request forgery guards: https only, and no address on this host or its networks
# (loopback, private, link-local, ...). Tests and closed networks may relax them.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
