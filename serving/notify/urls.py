"""Where webhooks may go: HTTPS only (plain HTTP just to loopback, when the development setting allows it),
and never to a private, link-local, loopback or otherwise internal address: checked when an endpoint is
registered and again, on freshly resolved addresses, before every delivery (DNS can change in between)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _forbidden(address: IPAddress, allow_loopback: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _forbidden(address.ipv4_mapped, allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


def resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"the host {host!r} does not resolve ({exc})") from None
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def check(url: str, allow_loopback: bool) -> Target:
    """The URL's target with every address its host resolves to, or `UnsafeUrl` saying what is wrong."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_loopback):
        raise UnsafeUrl("the URL must start with https:// (http:// only to loopback in development)")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL may not carry credentials")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("the URL's port is not a number between 0 and 65535") from None
    addresses = resolve(host, port)
    parsed = [ipaddress.ip_address(a.split("%")[0]) for a in addresses]
    for address in parsed:
        why = _forbidden(address, allow_loopback)
        if why is not None:
            raise UnsafeUrl(f"the host {host!r} resolves to {why} ({address})")
    if parts.scheme == "http" and not (allow_loopback and all(a.is_loopback for a in parsed)):
        raise UnsafeUrl(
            "the URL must use https (plain http only to loopback with ETA_WEBHOOK_ALLOW_LOOPBACK)"
        )
    return Target(url=url, scheme=parts.scheme, host=host, port=port, addresses=addresses)
