"""Signed tokens: tracking links and session cookies refuse forgery, other shipments, other purposes, age."""

from __future__ import annotations

import datetime as dt

import pytest

from serving.signing import (
    SESSION,
    BadToken,
    ExpiredToken,
    check_tracking_token,
    sign,
    tracking_path,
    tracking_token,
    unsign,
)  # fmt: skip

SECRET = "s" * 40
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=30)


def test_a_tracking_token_opens_its_own_shipment() -> None:
    check_tracking_token(SECRET, "SH1", tracking_token(SECRET, "SH1", LATER), NOW)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB"),  # altered signature
        lambda t: "eyJzaWQiOiJTSDIiLCJleHAiOjk5OTk5OTk5OTl9" + t[t.index(".") :],  # another body, same mac
        lambda t: "",
        lambda t: "not-a-token",
        lambda t: ".",
    ],
)
def test_a_forged_or_mangled_tracking_token_is_refused(forge) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadToken):
        check_tracking_token(SECRET, "SH1", forge(tracking_token(SECRET, "SH1", LATER)), NOW)


def test_a_token_for_one_shipment_does_not_open_another() -> None:
    with pytest.raises(BadToken):
        check_tracking_token(SECRET, "SH2", tracking_token(SECRET, "SH1", LATER), NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(BadToken):
        check_tracking_token(SECRET, "SH1", tracking_token("t" * 40, "SH1", LATER), NOW)


def test_an_expired_token_is_told_apart_from_a_forged_one() -> None:
    with pytest.raises(ExpiredToken):
        check_tracking_token(SECRET, "SH1", tracking_token(SECRET, "SH1", NOW - dt.timedelta(seconds=1)), NOW)


def test_a_session_cookie_is_not_a_tracking_link() -> None:
    cookie = sign(SECRET, SESSION, {"sid": "SH1"}, LATER)
    assert unsign(SECRET, SESSION, cookie, NOW)["sid"] == "SH1"
    with pytest.raises(BadToken):
        check_tracking_token(SECRET, "SH1", cookie, NOW)


def test_the_tracking_path_escapes_the_shipment_id() -> None:
    assert tracking_path(SECRET, "a/b c", LATER).startswith("/track/a%2Fb%20c?t=")
