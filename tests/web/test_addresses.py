from __future__ import annotations

import ipaddress

from authward.web.addresses import client_address

PROXY = (ipaddress.ip_network("10.0.0.0/8"),)


def scope(peer: str, forwarded: str | None = None) -> dict[str, object]:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    return {"type": "http", "client": (peer, 1234), "headers": headers}


def test_peer_is_the_client_without_trusted_proxies() -> None:
    assert client_address(scope("203.0.113.9", "1.2.3.4"), ()) == "203.0.113.9"


def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address(scope("203.0.113.9", "1.2.3.4"), PROXY) == "203.0.113.9"


def test_rightmost_untrusted_hop_is_the_client() -> None:
    assert client_address(scope("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.5"), PROXY) == "1.2.3.4"


def test_garbage_in_forwarded_for_falls_back_to_the_peer() -> None:
    assert client_address(scope("10.0.0.2", "not-an-ip"), PROXY) == "10.0.0.2"
