"""`UtcDateTime` on SQLite: its one-call result processor reads every stored text as
SQLAlchemy's processor followed by ours would (an aware UTC datetime, or the same error)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

from authward.storage.sql import UtcDateTime

TEXTS = [
    "2030-01-01 00:00:00.000000",  # as SQLAlchemy writes it
    "2030-01-01 12:34:56",
    "2030-01-01T12:34:56.5",
    "2030-01-01",
    "2030-01-01 12:34:56+02:00",  # an offset: moved to UTC, not relabelled
    "2030-01-01 12:34:56.123456-05:30",
    None,
]


def processors() -> tuple[object, object]:
    dialect = sqlite.dialect()
    column = UtcDateTime().dialect_impl(dialect)
    two_calls = TypeDecorator.result_processor(column, dialect, None)
    return column.result_processor(dialect, None), two_calls


@pytest.mark.parametrize("text", TEXTS)
def test_each_stored_text_reads_as_sqlalchemys_then_ours(text: str | None) -> None:
    one_call, two_calls = processors()
    assert callable(one_call) and callable(two_calls)
    assert one_call is not two_calls
    value = one_call(text)
    assert value == two_calls(text)
    if value is not None:
        assert value.tzinfo is UTC and value.utcoffset() == datetime.now(UTC).utcoffset()


def test_a_text_that_is_no_datetime_fails_as_it_did() -> None:
    one_call, two_calls = processors()
    assert callable(one_call) and callable(two_calls)
    with pytest.raises(ValueError):
        two_calls("yesterday")
    with pytest.raises(ValueError):
        one_call("yesterday")
