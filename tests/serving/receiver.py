"""A real webhook receiver on 127.0.0.1 for the tests, verifying Standard Webhooks signatures on its own
(written from the specification, sharing no code with the service)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Respond = Callable[[str, int], tuple[int, dict[str, str]]]  # (webhook-id, times seen) -> status, headers


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300) -> bool:
    """The receiver's check: a `v1,` signature of `id.timestamp.body` under the secret, a fresh timestamp."""
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance_s:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [
        s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, s) for s in offered)


class QuietServer(ThreadingHTTPServer):
    """Connections a killed sender drops are part of the tests, not errors worth a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass
class Received:
    webhook_id: str
    body: bytes
    verified: bool
    status: int


class Receiver:
    def __init__(self, respond: Respond | None = None, delay_s: float = 0.0) -> None:
        self.secret: str | None = None
        self.respond: Respond = respond or (lambda _id, _n: (204, {}))
        self.delay_s = delay_s
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request (a killed dispatcher): no request reached the app
                headers = {k.lower(): v for k, v in self.headers.items()}
                msg_id = headers.get("webhook-id", "")
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with receiver.lock:
                    seen = sum(r.webhook_id == msg_id for r in receiver.received)
                    code, extra = receiver.respond(msg_id, seen)
                    ok = receiver.secret is not None and verify(receiver.secret, headers, body)
                    receiver.received.append(Received(msg_id, body, ok, code))
                self.send_response(code)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted_ids(self) -> list[str]:
        with self.lock:
            return [r.webhook_id for r in self.received if 200 <= r.status < 300]

    def wait_until(self, done: Callable[[], bool], timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the receiver waited {timeout_s} s; it has {len(self.received)} requests")
            time.sleep(0.02)
