"""A webhook receiver in its own process, as an integrator would write one: it verifies every
request with the standardwebhooks library and records what it accepted.

    python tests/webhooks/receiver.py --port P --state FILE --secret whsec_... [--secret ...]
        [--fail-first N]

Each request is checked against every `--secret` separately (one Webhook per secret, as two
receivers holding different secrets would). The first N requests are answered 500 without being
accepted; after that a request that verifies under at least one secret is answered 204 and
recorded. FILE holds {"accepted": [{"id", "body", "verified_by"}], "accepted_count": n, "failed": n,
"rejected": n} (with --count-only, no "accepted" entries),
rewritten atomically after each request.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--secret", action="append", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    # The benchmark's receiver: count what verified, keep no bodies (the file stays small).
    parser.add_argument("--count-only", action="store_true")
    args = parser.parse_args()

    lock = threading.Lock()
    state = {"accepted": [], "accepted_count": 0, "failed": 0, "rejected": 0}
    if os.path.exists(args.state):  # a restart keeps what was accepted before
        with open(args.state) as f:
            state = json.load(f)

    def save() -> None:
        tmp = args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, args.state)

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as a real receiver's server: every answer says its (empty) length.
        protocol_version = "HTTP/1.1"

        def answer(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                if state["failed"] < args.fail_first:
                    state["failed"] += 1
                    save()
                    self.answer(500)
                    return
                verified_by = []
                for index, secret in enumerate(args.secret):
                    try:
                        Webhook(secret).verify(body, headers)
                        verified_by.append(index)
                    except WebhookVerificationError:
                        pass
                if not verified_by:
                    state["rejected"] += 1
                    save()
                    self.answer(401)
                    return
                state["accepted_count"] += 1
                if not args.count_only:
                    state["accepted"].append(
                        {"id": headers.get("webhook-id"), "body": body.decode(), "verified_by": verified_by}
                    )
                save()
            self.answer(204)

        def log_message(self, *args):  # quiet
            pass

    save()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
