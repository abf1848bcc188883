"""Ops users: passwords hashed with scrypt (hashlib, RFC 7914), roles `ops` and `admin`.

The hash is stored as `scrypt$N$r$p$salt$key` so the cost can be raised later: a stored hash keeps the
parameters it was made with. Sign-in spends the same work whether or not the user exists, so timing does not
tell which usernames are taken.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db.tables import User
from serving.errors import Conflict

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~32 MiB and tens of milliseconds per check
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
    session.commit()
    return True


def sign_in(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (same work either way)."""
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(password, user.password_hash if user else _dummy_hash())
    return user if ok and user is not None and user.disabled_at is None else None


def active_user(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.disabled_at is None else None
