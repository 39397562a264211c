"""Every JSON error answer carries a stable `code` beside its unchanged `detail`."""

from __future__ import annotations

import httpx
import pytest

from authward import errors
from authward.web.apidoc import service_openapi
from tests.web.helpers import PASSWORD, register

WRONG = {"email": "ada@example.com", "password": "not the password"}


async def test_authwards_own_errors_carry_their_class_code(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    answers = {
        "invalid_credentials": await client.post("/auth/session/login", json=WRONG),
        "email_taken": await client.post(
            "/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
        ),
        "not_authenticated": await client.get("/auth/me"),
        "invalid_token": await client.get("/auth/me", headers={"Authorization": "Bearer x"}),
    }
    for code, answer in answers.items():
        assert answer.json()["code"] == code, answer.text
    assert answers["invalid_credentials"].json() == {
        "detail": errors.InvalidCredentials.detail,
        "code": "invalid_credentials",
    }


async def test_validation_limits_and_unknown_paths_carry_a_code(
    client: httpx.AsyncClient,
) -> None:
    invalid = await client.post("/auth/session/login", json={"email": 1})
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_input"
    deep = await client.post(
        "/auth/session/login",
        content="[" * 500 + "]" * 500,
        headers={"Content-Type": "application/json"},
    )
    assert (deep.status_code, deep.json()["code"]) == (422, "invalid_input")
    big = await client.post(
        "/auth/register", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    assert (big.status_code, big.json()["code"]) == (413, "payload_too_large")
    unknown = await client.get("/no-such-page")
    assert unknown.json() == {"detail": "Not Found", "code": "not_found"}
    wrong_method = await client.put("/auth/me")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")


async def test_throttled_and_unavailable_codes(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    for _ in range(20):
        answer = await client.post("/auth/session/login", json=WRONG)
        if answer.status_code == 429:
            break
    assert (answer.status_code, answer.json()["code"]) == (429, "too_many_attempts")


@pytest.mark.parametrize("cls", [errors.StoreUnavailable, errors.CsrfRejected, errors.NotFound])
def test_each_error_class_has_its_own_snake_case_code(cls: type[errors.AuthwardError]) -> None:
    from authward.web.errors import error_response

    body = error_response(cls()).body
    assert f'"code":"{cls.code}"'.encode() in body.replace(b" ", b"")
    assert cls.code.isidentifier() and cls.code == cls.code.lower()


def test_the_openapi_schema_of_error_answers_shows_the_code() -> None:
    schemas = service_openapi()["components"]["schemas"]
    for name in ("ErrorOut", "InvalidInputOut"):
        assert "code" in schemas[name]["properties"] and "code" in schemas[name]["required"]


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.RefreshReuse(), "invalid_token"),
        (errors.TokenExpired(), "invalid_token"),
        (errors.TokenRevoked(), "invalid_token"),
        (errors.SessionExpired(), "not_authenticated"),
        (errors.InvalidCredentials(), "invalid_credentials"),
        (errors.InvalidInput("Email or password too long."), "invalid_input"),
    ],
)
def test_a_code_tells_no_more_than_the_detail(exc: errors.AuthwardError, code: str) -> None:
    from authward.web.errors import public_code

    assert public_code(exc) == code


async def test_a_reused_refresh_token_is_just_an_invalid_token(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    refresh = {
        "refresh_token": (await client.post("/auth/token", json=credentials)).json()[
            "refresh_token"
        ]
    }
    assert (await client.post("/auth/token/refresh", json=refresh)).status_code == 200
    reused = await client.post("/auth/token/refresh", json=refresh, headers={"User-Agent": "x"})
    assert reused.json() == {"detail": "Invalid token.", "code": "invalid_token"}
