"""The Django decorator and middleware (run when Django is installed: it is in the dev extra)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from authward.clock import FrozenClock
from authward.remote.django import TokenMiddleware, token_required
from tests.remote.conftest import Endpoint

django = pytest.importorskip("django")


@pytest.fixture(scope="module")
def django_settings() -> Any:
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, ALLOWED_HOSTS=["testserver"], USE_TZ=True)
        django.setup()
    return settings


def _view(request: Any) -> Any:
    from django.http import JsonResponse

    user = request.authward_user
    return JsonResponse({"owner": None if user is None else user.id})


async def test_token_required(endpoint: Endpoint, clock: FrozenClock, django_settings: Any) -> None:
    from django.test import RequestFactory

    view = token_required(endpoint.verifier(clock))(_view)
    token = await endpoint.token("user-5")
    requests = RequestFactory()
    ok = view(requests.get("/reports", HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert ok.status_code == 200 and json.loads(ok.content) == {"owner": "user-5"}
    missing = view(requests.get("/reports"))
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == "Bearer"
    assert json.loads(missing.content) == {
        "detail": "Not authenticated.",
        "code": "not_authenticated",
    }


async def test_middleware(endpoint: Endpoint, clock: FrozenClock, django_settings: Any) -> None:
    from django.test import RequestFactory, override_settings

    token = await endpoint.token("user-6")
    with override_settings(AUTHWARD_VERIFIER=endpoint.verifier(clock)):
        middleware = TokenMiddleware(_view)
    requests = RequestFactory()
    ok = middleware(requests.get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert json.loads(ok.content) == {"owner": "user-6"}
    anonymous = middleware(requests.get("/"))
    assert json.loads(anonymous.content) == {"owner": None}
    forged = middleware(requests.get("/", HTTP_AUTHORIZATION="Bearer forged"))
    assert forged.status_code == 401
    assert forged["WWW-Authenticate"] == 'Bearer error="invalid_token"'
