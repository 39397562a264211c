"""The HTML pages: sign-in, account, re-authentication, the mailed links' pages and the
/how demo.

`router` holds the pages every deployment serves; `how_router` the /how demo, included
only when ``AUTHWARD_DEMO_PAGES`` is on; `static_files` serves the stylesheet.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles

from authward.web.pages import account, how, mailed, reauth, security, signin
from authward.web.pages.render import STATIC_DIR

router = APIRouter(include_in_schema=False)
router.include_router(signin.router)
router.include_router(account.router)
router.include_router(security.router)
router.include_router(reauth.router)
router.include_router(mailed.router)

how_router = APIRouter(include_in_schema=False)
how_router.include_router(how.router)


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)


__all__ = ["how_router", "router", "static_files"]
