"""Other services: verify authward's access tokens with nothing but its JWKS URL.

`JwksVerifier` does the work (blocking and async); `current_user` is its FastAPI
dependency (made by `authward.remote.fastapi` on first use); `authward.remote.flask` and
`authward.remote.django` hold a decorator (and, for Django, a middleware) that import
their framework only when used. Nothing here imports FastAPI, SQLAlchemy or redis, and
only the FastAPI dependency loads Starlette.
"""

from __future__ import annotations

from authward.remote.verifier import JwksVerifier, bearer_token

__all__ = ["JwksVerifier", "bearer_token"]
