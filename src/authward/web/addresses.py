"""Who is on the other end: the TCP peer, unless a trusted proxy vouches for someone else."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import Scope

from authward.settings import IpNetwork


def client_address(scope: Scope, trusted_proxies: Sequence[IpNetwork]) -> str:
    """Return the client's address.

    `X-Forwarded-For` is believed only when the peer is a trusted proxy, and then read
    from the right, skipping trusted hops: the first untrusted address is the client.
    Anything the client wrote further left is ignored (it could say anything).
    """
    client = scope.get("client")
    peer = client[0] if client else ""
    if not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    hops = [h.strip() for line in forwarded for h in line.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted_proxies):
            return hop if _is_address(hop) else peer
    return peer


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted(value: str, networks: Sequence[IpNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(address in network for network in networks)
