"""API keys with scopes. Clients send `Authorization: Bearer eta_<prefix>_<secret>`.

Only a SHA-256 of each key is stored. A slow password hash (scrypt, argon2) protects low-entropy secrets
chosen by people; these keys carry 256 random bits, so a fast hash is as safe to store and keeps
authentication off the latency budget. The public prefix finds the row; hashes are compared in constant
time.

Checked keys are remembered per app for `CACHE_SECONDS`, so a quote costs no database round trip: revoking a
key takes effect within that time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from serving.db.tables import ApiKey

KEY_TAG = "eta"
CACHE_SECONDS = 10.0
CACHE_MAX_KEYS = 10_000


class Scope(StrEnum):
    QUOTE = "quote"
    TRACK = "track"
    INGEST = "ingest"
    OPS = "ops"
    ADMIN = "admin"  # implies every other scope


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, scopes: Iterable[Scope | str]) -> str:
    """Store a new key (hashed) and return its plaintext: the only time it is ever shown."""
    chosen = sorted({Scope(scope) for scope in scopes})
    if not chosen:
        raise ValueError("a key needs at least one scope")
    prefix = secrets.token_hex(6)
    key = f"{KEY_TAG}_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(name=name, prefix=prefix, key_hash=hash_key(key), scopes=",".join(chosen)))
    session.commit()
    return key


def revoke_key(session: Session, prefix: str) -> bool:
    """Revoke the key with this prefix (the part after `eta_`); False when no active key has it."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=dt.datetime.now(dt.UTC))
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def authenticate(session: Session, key: str) -> Principal | None:
    tag, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    if tag != KEY_TAG or not prefix or not secret:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        return None
    return Principal(row.id, row.name, frozenset(Scope(s) for s in row.scopes.split(",")))


class KeyCache:
    """Keys that authenticated recently, by hash, with the time they were checked."""

    def __init__(self, ttl_seconds: float = CACHE_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None or time.monotonic() - entry[0] > self.ttl_seconds:
            return None
        return entry[1]

    def put(self, key_hash: str, principal: Principal) -> None:
        if len(self._entries) >= CACHE_MAX_KEYS:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic(), principal)


bearer = HTTPBearer(auto_error=False, description="An API key from `python -m serving create-key`")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def require(scope: Scope | str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting keys with `scope` (or `admin`): 401 without a valid key, 403 without scope."""
    needed = Scope(scope)

    def look_up(factory: sessionmaker[Session], key: str) -> Principal | None:
        with factory() as session:  # its own short transaction, not held while the route works
            return authenticate(session, key)

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        """On the event loop for a cached key; the database look-up of a new key runs in the thread pool."""
        if credentials is None:
            raise _unauthorized("Missing API key: send `Authorization: Bearer <key>`.")
        cache: KeyCache = request.app.state.key_cache
        key_hash = hash_key(credentials.credentials)
        principal = cache.get(key_hash)
        if principal is None:
            factory = request.app.state.session_factory
            principal = await run_in_threadpool(look_up, factory, credentials.credentials)
            if principal is None:
                raise _unauthorized("Invalid or revoked API key.")
            cache.put(key_hash, principal)
        if not principal.allows(needed):
            raise HTTPException(403, f"This API key lacks the '{needed}' scope.")
        return principal

    return dependency
