"""Hypothesis over the parsers that see raw client input first.

Each may accept or refuse, but refuses only with authward's own errors: anything else
would surface as a 500 (or, in a page, a broken form).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.requests import HTTPConnection, Request

from authward import crypto
from authward.auth.transports import cookie_in, credential_headers, session_cookie_name
from authward.errors import AuthwardError, InvalidInput, InvalidToken
from authward.settings import Settings
from authward.web.bodies import read_fields
from authward.web.limits import MAX_JSON_DEPTH, json_too_deep
from authward.web.transports import MAX_TOKEN_LENGTH, bearer_token, read_session_cookie
from tests.conftest import TEST_SECRET

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
HEADER_BYTES = st.binary(max_size=200) | st.text(max_size=200).map(
    lambda s: s.encode("utf-8", "surrogatepass")
)
SETTINGS = Settings(secret_key=TEST_SECRET, insecure_cookies=False)  # type: ignore[arg-type]


def connection(*headers: tuple[bytes, bytes]) -> HTTPConnection:
    return HTTPConnection({"type": "http", "headers": list(headers), "method": "GET"})


@PROPERTY
@given(value=HEADER_BYTES)
@example(value=b"Bearer " + b"a" * (MAX_TOKEN_LENGTH + 1))
@example(value=b"Bearer \xff\xfe")
@example(value=b"bearer\tx")
def test_bearer_token_returns_a_token_or_raises_invalid_token(value: bytes) -> None:
    authorization = connection((b"authorization", value)).headers["authorization"]
    try:
        token = bearer_token(authorization)
    except InvalidToken:
        return
    assert token is not None
    assert 0 < len(token) <= MAX_TOKEN_LENGTH
    assert token == token.strip()


@PROPERTY
@given(value=HEADER_BYTES)
@example(value=b"__Host-authward_session=")
@example(value=b'__Host-authward_session="\\"; x=;;=')
@example(value=b"__Host-authward_session=\xff\xfe; a=b")
def test_session_cookie_parsing_never_raises(value: bytes) -> None:
    session_id = read_session_cookie(connection((b"cookie", value)), SETTINGS)
    assert session_id is None or isinstance(session_id, str)
    if session_id is not None:
        crypto.is_token_shaped(session_id)
        crypto.digest(session_id)


COOKIE_NAME = b"__Host-authward_session"
HEADER_NAMES = st.sampled_from([b"authorization", b"cookie", b"host", b"x-other"])
COOKIE_VALUES = HEADER_BYTES | st.lists(
    st.sampled_from([COOKIE_NAME, b"other", b" " + COOKIE_NAME, b""]).flatmap(
        lambda name: HEADER_BYTES.map(lambda value: name + b"=" + value)
    ),
    max_size=3,
).map(b"; ".join)


@PROPERTY
@given(headers=st.lists(st.tuples(HEADER_NAMES, COOKIE_VALUES), max_size=5))
@example(headers=[(b"cookie", COOKIE_NAME + b"=a"), (b"cookie", COOKIE_NAME + b"=b")])
@example(headers=[(b"cookie", COOKIE_NAME + b"=a"), (b"cookie", COOKIE_NAME + b"=")])
@example(headers=[(b"cookie", COOKIE_NAME + b'="q\\"')])
@example(headers=[(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")])
def test_the_one_pass_header_reader_agrees_with_starlette(
    headers: list[tuple[bytes, bytes]],
) -> None:
    """The hot path's reader finds what ``request.headers`` and ``request.cookies`` find."""
    starlette = connection(*headers)
    authorization, cookies = credential_headers(starlette.scope["headers"])
    assert authorization == starlette.headers.get("authorization")
    session_cookie = cookie_in(cookies, session_cookie_name(SETTINGS))
    assert session_cookie == read_session_cookie(starlette, SETTINGS)


@PROPERTY
@given(value=st.text(max_size=100))
@example(value="A" * 43)
@example(value="A" * 42 + "\n")
@example(value="é" * 43)
def test_is_token_shaped_is_exact(value: str) -> None:
    shaped = crypto.is_token_shaped(value)
    assert shaped == (
        len(value) == 43 and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)
    )


@PROPERTY
@given(body=st.binary(max_size=300))
@example(body=b"[" * 10_000)
@example(body=b'"' + b"\\" * 101)
def test_json_depth_scanner_never_raises(body: bytes) -> None:
    assert json_too_deep(body) in (True, False)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=60,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@PROPERTY
@given(value=JSON_VALUES, wrap=st.integers(0, MAX_JSON_DEPTH + 5))
def test_json_depth_scanner_agrees_with_the_parser(value: Any, wrap: int) -> None:
    body = ("[" * wrap + json.dumps(value) + "]" * wrap).encode()
    assert json_too_deep(body) == (depth(value) + wrap > MAX_JSON_DEPTH)


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/plain",
        "",
    ]
)
FORMISH = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10) | st.integers(), max_size=4).map(
        lambda d: json.dumps(d).encode()
    ),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass")
    ),
    st.binary(max_size=100).map(
        lambda b: b'--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\n' + b
    ),
)


def request(body: bytes, content_type: str) -> Request:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", content_type.encode())] if content_type else []
    scope = {"type": "http", "method": "POST", "headers": headers, "path": "/", "query_string": b""}
    return Request(scope, receive)


@PROPERTY
@given(body=FORMISH, content_type=CONTENT_TYPES)
@example(body=b"--xyz\r\nbroken", content_type="multipart/form-data; boundary=xyz")
@example(body=b"\xff\xfe\x00", content_type="application/json")
@example(body=b"[" * 5000, content_type="application/json")
@example(body=b'{"email": "\\ud800", "password": "x"}', content_type="application/json")
@example(body=b"email=%ED%A0%80&password=x", content_type="application/x-www-form-urlencoded")
def test_read_fields_returns_strings_or_raises_invalid_input(
    body: bytes, content_type: str
) -> None:
    async def read() -> dict[str, str]:
        return await read_fields(request(body, content_type), "email", "password")

    try:
        fields = asyncio.run(read())
    except InvalidInput:
        return
    except AuthwardError as exc:  # pragma: no cover - the property says InvalidInput only
        raise AssertionError(f"unexpected {type(exc).__name__}") from exc
    assert set(fields) == {"email", "password"}
    assert all(isinstance(v, str) for v in fields.values())
