"""Standard Webhooks signatures (https://www.standardwebhooks.com/): the sender's side.

The secret is `whsec_` + base64 of 32 random bytes; the signature of a message is
`v1,` + base64(HMAC-SHA256(key, f"{webhook_id}.{webhook_timestamp}.{body}")), sent with the message id and
the timestamp (integer Unix seconds) in the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id() -> str:
    """`msg_` + the creation time in nanoseconds (hex) + 48 random bits: unique, and sorted by creation."""
    return f"msg_{time.time_ns():016x}{secrets.token_hex(6)}"


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
