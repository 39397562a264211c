"""What an operator is shown of a store's URL, and which store a failure is about."""

from __future__ import annotations

import pytest
from redis.exceptions import ResponseError
from sqlalchemy.exc import OperationalError

from authward.errors import StoreUnavailable
from authward.storage.failures import (
    StoreFailure,
    diagnose,
    masked_database_url,
    masked_redis_url,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://ada:s3cret@h/1?socket_timeout=2", "redis://ada:***@h/1?socket_timeout=2"),
        ("redis://h/0?password=s3cret", "redis://h/0?password=***"),
        ("redis+cluster://ada:s3%40cret@a:1,b:2", "redis+cluster://ada:***@a:1,b:2"),
        ("unix://:s3cret@/run/redis.sock?db=2", "unix://:***@/run/redis.sock?db=2"),
        ("rediss://h:6380", "rediss://h:6380"),
    ],
)
def test_a_redis_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert masked_redis_url(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ada:s3%40cret@h:5432/db", "postgresql://ada:***@h:5432/db"),
        ("postgresql://ada@h/db?password=s3cret", "postgresql://ada@h/db?password=%2A%2A%2A"),
        ("sqlite:///./authward.db", "sqlite:///./authward.db"),
        ("postgresql://ada:s3cret@h:port/db", "(an unreadable URL)"),
    ],
)
def test_a_database_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert masked_database_url(url) == shown


def test_the_store_and_the_drivers_reason_are_found_in_the_chain() -> None:
    try:
        try:
            raise ResponseError("DB index is out of range")
        except ResponseError as exc:
            raise StoreUnavailable("redis") from exc
    except StoreUnavailable as exc:
        assert diagnose(exc) == StoreFailure("redis", "DB index is out of range")
    refused = OperationalError("SELECT 1", {}, Exception("unable to open database file"))
    assert diagnose(refused) == StoreFailure("database", "unable to open database file")
    assert diagnose(ValueError("no store here")) is None


def test_a_suppressed_context_is_not_a_store_failure() -> None:
    try:
        try:
            raise OperationalError("INSERT", {}, Exception("UNIQUE constraint failed"))
        except OperationalError:
            raise KeyError("taken") from None
    except KeyError as exc:
        assert diagnose(exc) is None
