"""`Authward`'s router and dependencies in an app of its own (no handlers of authward's)."""

from __future__ import annotations

import httpx

from authward import AuthUser, Authward
from authward.runtime import Runtime
from tests.integration.conftest import make_app, user_client
from tests.web.helpers import PASSWORD, register, session_login


async def _token(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_no_credential_is_401_asking_for_a_bearer_token(
    app_client: httpx.AsyncClient,
) -> None:
    response = await app_client.get("/whoami")
    assert response.status_code == 401
    # The app's own route, answered by FastAPI's own handler: `detail` alone.
    assert response.json() == {"detail": "Not authenticated."}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_current_user_by_session_and_by_token_without_a_user_lookup(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user_id = await register(app_client, "ada@example.com")
    await session_login(app_client, "ada@example.com")

    async def no_lookup(user_id: str) -> None:
        raise AssertionError("the hot path must not look the user up")

    runtime.accounts.users.get = no_lookup  # type: ignore[method-assign]
    by_session = (await app_client.get("/whoami")).json()
    assert by_session["id"] == user_id and by_session["via"] == "session"
    token = await _token(app_client, "ada@example.com")
    app_client.cookies.clear()
    by_token = await app_client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert by_token.json()["via"] == "jwt" and by_token.json()["id"] == user_id


async def test_csrf_is_enforced_on_the_apps_own_unsafe_routes(
    app_client: httpx.AsyncClient,
) -> None:
    await register(app_client, "ada@example.com")
    csrf = await session_login(app_client, "ada@example.com")
    refused = await app_client.post("/notes")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF token missing or wrong."}  # FastAPI's handler
    form = await app_client.post("/notes", data={"csrf_token": csrf})
    assert form.status_code == 200
    assert (await app_client.post("/notes", headers={"X-CSRF-Token": csrf})).status_code == 200
    # A bearer token needs no CSRF token: a cross-site form cannot send one.
    token = await _token(app_client, "ada@example.com")
    app_client.cookies.clear()
    bearer = await app_client.post("/notes", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200


async def test_optional_user(app_client: httpx.AsyncClient) -> None:
    assert (await app_client.get("/maybe")).json() == {"id": None}
    user_id = await register(app_client, "ada@example.com")
    csrf = await session_login(app_client, "ada@example.com")
    assert (await app_client.get("/maybe")).json() == {"id": user_id}
    logout = await app_client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})
    assert logout.status_code == 204
    # An ended session's cookie is no credential: anonymous, not an error.
    app_client.cookies.set("__Host-authward_session", "A" * 43, domain="app.test")
    assert (await app_client.get("/maybe")).json() == {"id": None}
    # A bearer token that does not hold is still a 401.
    bad = await app_client.get("/maybe", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_session_user_and_token_user_accept_their_strategy_only(
    app_client: httpx.AsyncClient,
) -> None:
    user_id = await register(app_client, "ada@example.com")
    await session_login(app_client, "ada@example.com")
    assert (await app_client.get("/page")).json() == {"id": user_id}
    cookie_only = await app_client.get("/api")
    assert cookie_only.status_code == 401
    assert cookie_only.headers["www-authenticate"] == "Bearer"
    token = await _token(app_client, "ada@example.com")
    app_client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await app_client.get("/api", headers=bearer)).json() == {"id": user_id}
    assert (await app_client.get("/page", headers=bearer)).status_code == 401
    assert (await app_client.get("/page")).headers.get("www-authenticate") is None


async def test_current_account_loads_the_email_and_refuses_a_disabled_one(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user_id = await register(app_client, "Ada@Example.com")
    csrf = await session_login(app_client, "ada@example.com")
    account = (await app_client.get("/account")).json()
    assert account == {"email": "ada@example.com", "csrf": csrf}
    token = await _token(app_client, "ada@example.com")
    await runtime.accounts.set_disabled(user_id, True)
    app_client.cookies.clear()
    refused = await app_client.get("/account", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


async def test_router_maps_errors_without_the_apps_handlers(
    app_client: httpx.AsyncClient,
) -> None:
    await register(app_client, "ada@example.com")
    taken = await app_client.post(
        "/auth/register", json={"email": "ADA@example.com", "password": PASSWORD}
    )
    assert taken.status_code == 409
    assert taken.json() == {"detail": "This email is already registered.", "code": "email_taken"}
    secret = "hunter2-hunter2"
    invalid = await app_client.post("/auth/token/refresh", json={"refresh_token": 5, "x": secret})
    assert invalid.status_code == 422 and secret not in invalid.text
    wrong = await app_client.post(
        "/auth/session/login", json={"email": "ada@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == 401 and wrong.json() == {
        "detail": "Invalid email or password.",
        "code": "invalid_credentials",
    }
    jwks = await app_client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json()["keys"]


async def test_strategies_choose_the_routes_and_the_credentials(runtime: Runtime) -> None:
    sessions_only = Authward.from_runtime(runtime, strategies={"session"})
    async with user_client(make_app(sessions_only)) as client:
        assert (await client.post("/auth/token", json={})).status_code == 404
        assert (await client.get("/.well-known/jwks.json")).status_code == 404
        await register(client, "ada@example.com")
        await session_login(client, "ada@example.com")
        assert (await client.get("/whoami")).json()["via"] == "session"
    tokens_only = Authward.from_runtime(runtime, strategies={"jwt"})
    async with user_client(make_app(tokens_only)) as client:
        login = await client.post(
            "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert login.status_code == 404
        token = await _token(client, "ada@example.com")
        whoami = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert whoami.json()["via"] == "jwt"


async def test_routes_find_their_runtime_without_the_apps_state(runtime: Runtime) -> None:
    auth = Authward.from_runtime(runtime)
    app = make_app(auth)
    assert not hasattr(app.state, "authward_runtime")
    async with user_client(app) as client:
        assert (await client.get("/auth/me")).status_code == 401
        await register(client, "ada@example.com")
        await session_login(client, "ada@example.com")
        assert (await client.get("/auth/me")).json()["auth"] == "session"


async def test_each_dependency_is_one_callable_an_override_can_replace(auth: Authward) -> None:
    """``app.dependency_overrides[auth.current_user]`` is how an app's tests log a user in."""
    assert auth.current_user is auth.current_user
    assert auth.optional_user is auth.optional_user
    app = make_app(auth)
    ada = AuthUser("ada", "jwt", "family")

    async def logged_in() -> AuthUser:
        return ada

    app.dependency_overrides[auth.current_user] = logged_in
    async with user_client(app) as client:
        response = await client.get("/whoami")
    assert response.json() == {"id": "ada", "via": "jwt", "handle": "family"}


async def test_a_401_for_another_scheme_names_the_bearer_scheme(
    app_client: httpx.AsyncClient,
) -> None:
    response = await app_client.get("/whoami", headers={"Authorization": "Basic YWRhOnB3"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_awaited_inside_the_endpoint_it_answers_as_the_dependency_does(
    app_client: httpx.AsyncClient,
) -> None:
    refused = await app_client.get("/direct")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    user_id = await register(app_client, "ada@example.com")
    csrf = await session_login(app_client, "ada@example.com")
    assert (await app_client.get("/direct")).json() == {"id": user_id, "via": "session"}
    assert (await app_client.post("/direct")).status_code == 403  # no CSRF token
    assert (await app_client.post("/direct", headers={"X-CSRF-Token": csrf})).status_code == 200
    token = await _token(app_client, "ada@example.com")
    app_client.cookies.clear()
    bearer = await app_client.get("/direct", headers={"Authorization": f"Bearer {token}"})
    assert bearer.json() == {"id": user_id, "via": "jwt"}
    bad = await app_client.get("/direct", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401
