"""Ops users: scrypt password hashes, sign-in, disabled users."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from serving.errors import Conflict
from serving.users import active_user, create_user, hash_password, sign_in, verify_password

PASSWORD = "correct horse battery staple"


def test_a_password_hash_is_salted_and_verifies_only_its_password() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$32768$8$1$")
    assert verify_password(PASSWORD, first) and not verify_password(PASSWORD + "!", first)


@pytest.mark.parametrize("stored", ["", "bcrypt$x", "scrypt$1$2$3$@@$@@", "scrypt$a$b$c$d$e"])
def test_a_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert not verify_password(PASSWORD, stored)


def test_a_user_signs_in_with_the_right_password_only(session: Session) -> None:
    user = create_user(session, "ann", PASSWORD, "admin")
    assert sign_in(session, "ann", PASSWORD) == user and user.role == "admin"
    assert sign_in(session, "ann", "wrong password!") is None and sign_in(session, "bob", PASSWORD) is None


def test_a_short_password_or_a_taken_name_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="at least 12"):
        create_user(session, "ann", "short", "ops")
    create_user(session, "ann", PASSWORD, "ops")
    with pytest.raises(Conflict):
        create_user(session, "ann", PASSWORD, "ops")
    with pytest.raises(ValueError):
        create_user(session, "bob", PASSWORD, "superuser")


def test_a_disabled_user_can_no_longer_sign_in(session: Session) -> None:
    user = create_user(session, "ann", PASSWORD, "ops")
    user.disabled_at = dt.datetime.now(dt.UTC)
    session.commit()
    assert sign_in(session, "ann", PASSWORD) is None and active_user(session, user.id) is None
