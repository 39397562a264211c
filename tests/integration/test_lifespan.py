"""The lifespan: stores opened with the app, closed with it, composed with the app's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from authward import Authward
from authward.clock import FrozenClock
from tests.conftest import make_settings


@pytest.fixture
def auth(tmp_path: Path, clock: FrozenClock) -> Authward:
    return Authward(make_settings(tmp_path), clock=clock)


async def test_lifespan_opens_and_closes_the_runtime(auth: Authward) -> None:
    app = FastAPI(lifespan=auth.lifespan)
    async with auth.lifespan(app):
        assert auth.runtime.tokens.jwks()["keys"], "keys are loaded: the runtime is open"
        assert (await auth.runtime.health())["database"]
        assert auth.runtime._background, "the sweep runs"
    assert not auth.runtime._background


async def test_lifespan_with_runs_the_apps_own_inside(auth: Authward) -> None:
    steps: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        # authward is open already: the app's startup may use it.
        steps.append(f"own start, keys={bool(auth.runtime.tokens.jwks()['keys'])}")
        yield {"greeting": "hello"}
        steps.append(f"own stop, open={bool(auth.runtime._background)}")

    lifespan = auth.lifespan_with(own)
    app = FastAPI(lifespan=lifespan)
    async with lifespan(app) as state:
        assert state == {"greeting": "hello"}
    assert steps == ["own start, keys=True", "own stop, open=True"]
    assert not auth.runtime._background


async def test_nested_opens_are_counted(auth: Authward) -> None:
    async with auth:
        async with auth.lifespan(None):
            assert auth.runtime._background
        assert auth.runtime._background, "still open: the outer block holds it"
    assert not auth.runtime._background
    await auth.close()  # one close too many is harmless


def test_strategies_must_be_known(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="strategies"):
        Authward(make_settings(tmp_path), strategies={"cookie"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strategies"):
        Authward(make_settings(tmp_path), strategies=())


class Labelled(Authward):
    """An app's subclass that sets an attribute of its own in ``__init__``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = "ours"


async def test_from_runtime_goes_through_init(tmp_path: Path, clock: FrozenClock) -> None:
    built = Labelled(make_settings(tmp_path), clock=clock, strategies={"jwt"})
    wrapped = Labelled.from_runtime(built.runtime, strategies={"jwt"}, migrate=False)
    assert isinstance(wrapped, Labelled) and wrapped.label == "ours"
    assert wrapped.runtime is built.runtime
    assert set(vars(wrapped)) == set(vars(built))  # no attribute missed either way
    assert wrapped.strategies == frozenset({"jwt"}) and not wrapped._migrate
    with pytest.raises(ValueError, match="strategies"):
        Authward.from_runtime(built.runtime, strategies=())
    with pytest.raises(ValueError, match="runtime brings"):
        Authward(runtime=built.runtime, clock=clock)
    with pytest.raises(ValueError, match="settings or a runtime"):
        Authward()
