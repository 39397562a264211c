"""The breached-password check against a local range server (never the internet).

Found, not found, padding lines with a count of 0, a server that is down or too slow
(failing open or closed as configured), and answers that are not a range.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from authward.accounts.breached import BreachedPasswords
from authward.cli.loadgen import free_port
from authward.errors import StoreUnavailable
from tests.accounts.range_server import RangeServer, range_server, sha1_hex

BREACHED = "correct horse battery staple"
OTHER = "a passphrase nobody leaked"


@pytest.fixture
def server() -> Iterator[RangeServer]:
    with range_server() as running:
        yield running


@pytest.fixture(params=[True, False], ids=["closed", "open"])
def fail_closed(request: pytest.FixtureRequest) -> bool:
    closed: bool = request.param
    return closed


@pytest.fixture
async def checker(server: RangeServer, fail_closed: bool) -> AsyncIterator[BreachedPasswords]:
    made = BreachedPasswords(server.url, timeout=5.0, fail_closed=fail_closed)
    yield made
    await made.aclose()


def fill(server: RangeServer, password: str) -> None:
    """Other suffixes of `password`'s range, as a real (padded) answer has hundreds."""
    prefix = sha1_hex(password)[:5]
    lines = server.ranges.setdefault(prefix, [])
    lines += [f"{index:035X}:{index % 7}" for index in range(1, 400)]


async def test_a_breached_password_is_found_and_only_its_prefix_is_sent(
    server: RangeServer, checker: BreachedPasswords
) -> None:
    fill(server, BREACHED)
    server.add(BREACHED, 3_645_804)
    assert await checker.contains(BREACHED)
    ((path, headers),) = server.requests
    digest = sha1_hex(BREACHED)
    assert path == "/range/" + digest[:5]  # five hex digits of the hash, nothing more
    assert headers["add-padding"] == "true"


async def test_a_password_not_in_its_range_passes(
    server: RangeServer, checker: BreachedPasswords
) -> None:
    fill(server, OTHER)
    assert not await checker.contains(OTHER)
    assert len(server.requests) == 1


async def test_a_padding_line_with_a_count_of_zero_is_no_match(
    server: RangeServer, checker: BreachedPasswords
) -> None:
    fill(server, BREACHED)
    server.add(BREACHED, 0)
    assert not await checker.contains(BREACHED)


async def test_a_server_that_is_down_fails_as_configured(fail_closed: bool) -> None:
    down = BreachedPasswords(
        f"http://127.0.0.1:{free_port()}/range/", timeout=5.0, fail_closed=fail_closed
    )
    try:
        if fail_closed:
            with pytest.raises(StoreUnavailable):
                await down.contains(BREACHED)
        else:
            assert not await down.contains(BREACHED)
    finally:
        await down.aclose()


async def test_a_slow_server_times_out_and_fails_as_configured(
    server: RangeServer, fail_closed: bool
) -> None:
    server.add(BREACHED, 12)
    server.hang = threading.Event()  # held until the test ends: the answer never comes in time
    slow = BreachedPasswords(server.url, timeout=0.2, fail_closed=fail_closed)
    try:
        if fail_closed:
            with pytest.raises(StoreUnavailable):
                await slow.contains(BREACHED)
        else:
            assert not await slow.contains(BREACHED)
    finally:
        await slow.aclose()
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b""),
        (429, b""),
        (200, b""),
        (200, b"<html>captive portal</html>"),
        (200, b"ZZZ:1"),
        (200, b"\xff\xfe"),
    ],
)
async def test_an_answer_that_is_not_a_range_is_a_failure_not_a_pass(
    server: RangeServer, status: int, body: bytes
) -> None:
    server.status, server.body = status, body
    closed = BreachedPasswords(server.url, timeout=5.0, fail_closed=True)
    try:
        with pytest.raises(StoreUnavailable):
            await closed.contains(BREACHED)
    finally:
        await closed.aclose()


async def test_neither_the_password_nor_its_hash_is_logged(
    server: RangeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.status = 503
    failing = BreachedPasswords(server.url, timeout=5.0, fail_closed=False)
    with caplog.at_level(logging.DEBUG, logger="authward"):
        assert not await failing.contains(BREACHED)
    await failing.aclose()
    assert "breached-password check unavailable" in caplog.text  # something was logged
    digest = sha1_hex(BREACHED)
    for secret in (BREACHED, digest, digest[5:], digest.lower()):
        assert secret not in caplog.text
