"""HMAC-signed, expiring tokens: the ops session cookie and the customer tracking link.

A token is `base64url(json payload).base64url(HMAC-SHA256)`; each purpose signs with its own key derived
from the service secret, so a token made for one purpose is refused by every other.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

TRACKING = "tracking-link"
SESSION = "ops-session"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def sign(secret: str, purpose: str, payload: dict[str, Any], expires_at: dt.datetime) -> str:
    body = _b64(json.dumps({**payload, "exp": int(expires_at.timestamp())}, separators=(",", ":")).encode())
    mac = hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


class BadToken(ValueError):
    """The token was not signed with this secret for this purpose, or is malformed."""


class ExpiredToken(ValueError):
    """A genuine token whose time has passed."""


def unsign(secret: str, purpose: str, token: str, now: dt.datetime) -> dict[str, Any]:
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest()
        if not body or not hmac.compare_digest(_unb64(mac), expected):
            raise BadToken("bad signature")
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadToken(str(exc)) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        raise BadToken("no expiry")
    if payload["exp"] <= now.timestamp():
        raise ExpiredToken("expired")
    return payload


def tracking_token(secret: str, shipment_id: str, expires_at: dt.datetime) -> str:
    return sign(secret, TRACKING, {"sid": shipment_id}, expires_at)


def check_tracking_token(secret: str, shipment_id: str, token: str, now: dt.datetime) -> None:
    """Raises BadToken unless the token was signed for exactly this shipment; ExpiredToken when too old."""
    payload = unsign(secret, TRACKING, token, now)
    if not hmac.compare_digest(str(payload.get("sid", "")), shipment_id):
        raise BadToken("made for another shipment")


def tracking_path(secret: str, shipment_id: str, expires_at: dt.datetime) -> str:
    """The customer's tracking page for this shipment, signed until `expires_at`."""
    return f"/track/{quote(shipment_id, safe='')}?t={tracking_token(secret, shipment_id, expires_at)}"
