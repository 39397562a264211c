"""A separate service that trusts authward's access tokens through its JWKS alone.

It holds no secret and shares no database: it fetches the public keys from authward
(``/.well-known/jwks.json``), caches them, and verifies each bearer token with the same
rules as authward itself. Run authward, then this, from the repository's root:

    authward serve &                                   # http://127.0.0.1:8000
    AUTHWARD_JWKS_URL=http://127.0.0.1:8000/.well-known/jwks.json \\
        python examples/resource_service.py            # http://127.0.0.1:8001

``PORT`` picks the port; ``AUTHWARD_ISSUER`` / ``AUTHWARD_AUDIENCE`` must match
authward's when they are not the defaults.
"""

from __future__ import annotations

import os
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI

from authward import AuthUser, JwksVerifier

verifier = JwksVerifier(
    os.environ.get("AUTHWARD_JWKS_URL", "http://127.0.0.1:8000/.well-known/jwks.json"),
    issuer=os.environ.get("AUTHWARD_ISSUER", "authward"),
    audience=os.environ.get("AUTHWARD_AUDIENCE", "authward"),
)
# redirect_slashes=False: FastAPI's redirect from /reports/ to /reports is built from the
# request's Host header, so a client could aim it at any host.
app = FastAPI(title="reports", redirect_slashes=False)


@app.get("/reports")
async def reports(user: Annotated[AuthUser, Depends(verifier.current_user)]) -> dict[str, str]:
    return {"owner": user.id, "report": "all quiet"}


@app.get("/")
async def index() -> dict[str, str]:
    return {"service": "reports", "auth": "bearer tokens from authward, checked via JWKS"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8001")))
