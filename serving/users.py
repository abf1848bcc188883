"""Ops users: passwords hashed with scrypt (hashlib, RFC 7914), roles `ops` and `admin`, and a sign-in
throttle: after FREE_FAILURES failed attempts in a row a username is locked for a time that doubles with every
further failure (OWASP's advice against password guessing, with a bounded lock so a guesser cannot keep an
ops user out for long).

The hash is stored as `scrypt$N$r$p$salt$key` so the cost can be raised later: a stored hash keeps the
parameters it was made with. Sign-in spends the same work whether or not the user exists, so timing does not
tell which usernames are taken.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import math
import secrets
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from serving.db.session import insert_if_absent
from serving.db.tables import SignInFailure, User, utcnow
from serving.errors import Conflict

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~32 MiB and tens of milliseconds per check
FREE_FAILURES = 5  # failed sign-ins in a row before a username is locked
FIRST_LOCK_SECONDS, MAX_LOCK_SECONDS = 30, 900  # the first lock, doubling with each further failure, capped
FORGET_AFTER = dt.timedelta(days=1)  # a failure count this old starts again from nothing
KEY_BYTES = 32
MIN_PASSWORD_CHARS = 12


class Role(StrEnum):
    OPS = "ops"
    ADMIN = "admin"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * r * (n + p + 2), dklen=KEY_BYTES
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def _dummy_hash() -> str:
    """Checked against when no user has the name, so a miss costs what a hit costs."""
    return hash_password(secrets.token_urlsafe(16))


def create_user(session: Session, username: str, password: str, role: Role | str) -> User:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"User '{username}' already exists.")
    user = User(username=username, password_hash=hash_password(password), role=Role(role).value)
    session.add(user)
    session.commit()
    return user


def reset_password(session: Session, username: str, password: str) -> bool:
    """A new password for an existing user; False when there is no such user."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        return False
    user.password_hash = hash_password(password)
    session.execute(delete(SignInFailure).where(SignInFailure.username == username))  # and unlocked
    session.commit()
    return True


class SignInLocked(Exception):
    """Too many failed sign-ins in a row for this username: no password is checked for `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


def lock_seconds(failures: int) -> float:
    """How long a username is refused after `failures` failed sign-ins in a row: free for the first
    FREE_FAILURES, then FIRST_LOCK_SECONDS doubling with every further failure, at most MAX_LOCK_SECONDS."""
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(FIRST_LOCK_SECONDS * 2 ** (failures - FREE_FAILURES), MAX_LOCK_SECONDS))


def sign_in(session: Session, username: str, password: str, now: dt.datetime | None = None) -> User | None:
    """The active user with this name and password, else None (same work either way).

    Failed attempts in a row are counted per username, known or not (so the answer tells nothing about
    which names exist), under a row lock, so that concurrent guesses are all counted. From the
    FREE_FAILURES-th on, the name is locked for `lock_seconds`, and an attempt meanwhile raises
    `SignInLocked` without a password check. A success clears the count; so does a day without failures
    (and counts a day old are dropped)."""
    now = now or utcnow()
    failed = _failures(session, username, now)
    if failed.locked_until is not None and failed.locked_until > now:
        retry = math.ceil((failed.locked_until - now).total_seconds())
        session.rollback()
        raise SignInLocked(retry)
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(password, user.password_hash if user else _dummy_hash())
    active = user if ok and user is not None and user.disabled_at is None else None
    if active is not None:
        session.delete(failed)
    else:
        failed.failures = (failed.failures if failed.last_failed_at > now - FORGET_AFTER else 0) + 1
        failed.last_failed_at = now
        lock = lock_seconds(failed.failures)
        failed.locked_until = now + dt.timedelta(seconds=lock) if lock else None
        session.execute(delete(SignInFailure).where(SignInFailure.last_failed_at < now - FORGET_AFTER))
    session.commit()
    return active


def _failures(session: Session, username: str, now: dt.datetime) -> SignInFailure:
    """The username's failure count, locked for this transaction; an empty one is stored first if there is
    none, so that two concurrent first failures do not collide."""
    empty = {"username": username, "failures": 0, "last_failed_at": now, "locked_until": None}
    session.execute(insert_if_absent(session, SignInFailure, empty, ["username"]))
    return session.scalars(
        select(SignInFailure).where(SignInFailure.username == username).with_for_update()
    ).one()


def active_user(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.disabled_at is None else None
