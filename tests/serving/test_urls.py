"""Where webhooks may go: public HTTPS only; loopback only when the development setting allows it."""

from __future__ import annotations

import pytest

from serving.notify.urls import UnsafeUrl, check


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://[::ffff:10.0.0.1]/hooks", "private address"),
        ("https://100.64.0.1/hooks", "non-public address"),
        ("https://0.0.0.0/hooks", "private address"),
        ("https://localhost/hooks", "loopback address"),
        ("https://127.0.0.1:70000/hooks", "port"),
        ("http://127.0.0.1/hooks", "https://"),
        ("https:///hooks", "no host"),
    ],
)
def test_internal_targets_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check(url, allow_loopback=False)


def test_loopback_over_plain_http_is_allowed_only_in_development() -> None:
    target = check("http://127.0.0.1:8123/hooks", allow_loopback=True)
    assert (target.host, target.port, target.addresses) == ("127.0.0.1", 8123, ("127.0.0.1",))


def test_plain_http_to_a_private_address_is_refused_even_in_development() -> None:
    with pytest.raises(UnsafeUrl, match="private address"):
        check("http://192.168.1.5/hooks", allow_loopback=True)


def test_a_public_address_over_https_is_accepted() -> None:
    target = check("https://93.184.215.14/hooks", allow_loopback=False)
    assert target.addresses == ("93.184.215.14",) and target.port == 443
