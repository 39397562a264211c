"""Store latency: a thin proxy that times every async method of a store.

`timed(store, "sessions")` returns an object that answers to the same methods and
records each call's duration in ``authward_store_seconds{store, operation}``, failed
calls included. The histogram children are bound once, at wrapping time, so a call
pays two `perf_counter` reads and one `observe` (about a microsecond): nothing next to
the round trip it measures. Attributes that are not coroutine methods pass through.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any, TypeVar, cast

from prometheus_client.metrics import Histogram

from authward.metrics import STORE_SECONDS

__all__ = ["timed"]

T = TypeVar("T")


class _Timed:
    """The proxy: one timed wrapper per public coroutine method of the wrapped store."""

    def __init__(self, store: object, name: str) -> None:
        self.__wrapped__ = store
        for attr in dir(type(store)):
            if attr.startswith("_"):
                continue
            method = getattr(store, attr)
            if inspect.iscoroutinefunction(method):
                setattr(self, attr, _timing(method, STORE_SECONDS.labels(name, attr)))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.__wrapped__, attr)

    def __repr__(self) -> str:
        return f"timed({self.__wrapped__!r})"


def timed(store: T, name: str) -> T:
    """Wrap `store` so that its calls are timed under `name` (a store already wrapped stays)."""
    if isinstance(store, _Timed):
        return store
    return cast(T, _Timed(store, name))


def _timing(
    method: Callable[..., Awaitable[Any]], histogram: Histogram
) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            histogram.observe(perf_counter() - started)

    return call
