"""Ops users: scrypt password hashes, sign-in, disabled users."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.orm import Session, sessionmaker

from serving.db.tables import SignInFailure
from serving.errors import Conflict
from serving.users import (
    FREE_FAILURES,
    SignInLocked,
    active_user,
    create_user,
    hash_password,
    lock_seconds,
    reset_password,
    sign_in,
    verify_password,
)

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


def test_the_lock_doubles_after_the_free_failures_up_to_its_cap() -> None:
    assert [lock_seconds(n) for n in range(1, 12)] == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]


@pytest.mark.parametrize("username", ["ann", "nobody"])  # a name that exists or not: the same answers
def test_failed_sign_ins_in_a_row_lock_the_username_for_a_while(session: Session, username: str) -> None:
    create_user(session, "ann", PASSWORD, "ops")
    t0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    for _ in range(FREE_FAILURES):
        assert sign_in(session, username, "wrong password!", now=t0) is None
    with pytest.raises(SignInLocked) as locked:
        sign_in(session, username, PASSWORD, now=t0 + dt.timedelta(seconds=10))  # even the right password
    assert locked.value.retry_after == 20
    assert sign_in(session, "bob", "wrong password!", now=t0) is None  # another name is not held up
    later = t0 + dt.timedelta(seconds=31)
    if username == "ann":
        assert sign_in(session, "ann", PASSWORD, now=later) is not None
        assert sign_in(session, "ann", "wrong password!", now=later) is None  # the count started again
        assert sign_in(session, "ann", PASSWORD, now=later) is not None
    else:
        assert sign_in(session, username, "wrong password!", now=later) is None
        with pytest.raises(SignInLocked, match="try again in 60 s"):  # the sixth failure: twice as long
            sign_in(session, username, PASSWORD, now=later)


def test_a_day_without_failures_or_a_new_password_clears_the_count(session: Session) -> None:
    create_user(session, "ann", PASSWORD, "ops")
    t0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    for _ in range(FREE_FAILURES - 1):
        sign_in(session, "ann", "wrong password!", now=t0)
    assert sign_in(session, "ann", "wrong password!", now=t0 + dt.timedelta(days=2)) is None
    assert sign_in(session, "ann", PASSWORD, now=t0 + dt.timedelta(days=2)) is not None  # not locked
    for _ in range(FREE_FAILURES):
        sign_in(session, "ann", "wrong password!", now=t0 + dt.timedelta(days=3))
    assert reset_password(session, "ann", PASSWORD)  # what an admin does for a locked-out user
    assert sign_in(session, "ann", PASSWORD, now=t0 + dt.timedelta(days=3)) is not None


def test_concurrent_guesses_are_all_counted(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        create_user(session, "ann", PASSWORD, "ops")
    now = dt.datetime.now(dt.UTC)

    def guess(_: int) -> str:
        with sessions() as session:
            try:
                return "refused" if sign_in(session, "ann", "wrong password!", now=now) is None else "in"
            except SignInLocked:
                return "locked"

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(guess, range(12)))
    assert answers.count("refused") == FREE_FAILURES and answers.count("locked") == 12 - FREE_FAILURES
    with sessions() as session:
        assert session.get(SignInFailure, "ann").failures == FREE_FAILURES  # type: ignore[union-attr]
