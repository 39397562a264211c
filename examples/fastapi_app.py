"""A FastAPI app: pages on sessions, an API on tokens, both from one `Authward`.

Run it from the repository's root (plain HTTP on localhost, so cookies without
``Secure``; for development only):

    AUTHWARD_INSECURE_COOKIES=1 python examples/fastapi_app.py    # http://127.0.0.1:8000

or ``AUTHWARD_INSECURE_COOKIES=1 uvicorn examples.fastapi_app:app``. Settings come from
the ``AUTHWARD_*`` environment, as for ``authward serve``; ``PORT`` picks the port.
"""

from __future__ import annotations

import html
import logging
import os
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from authward import AuthEvent, AuthUser, Authward

log = logging.getLogger("notes")

auth = Authward.from_env()  # sessions and tokens; the audit log is written by default
# redirect_slashes=False: FastAPI's redirect from /notes/ to /notes is built from the
# request's Host header, so a client could aim it at any host.
app = FastAPI(title="notes", lifespan=auth.lifespan, redirect_slashes=False)
app.include_router(auth.router)  # /auth/register, /auth/session/login, /auth/token, ...

NOTES: dict[str, list[str]] = {}  # user id -> notes (a real app has a database)


@auth.on("login", "refresh_reuse")
def tell(event: AuthEvent) -> None:
    log.info("%s: user %s via %s from %s", event.kind, event.user_id, event.via, event.ip)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)


# --- pages: the browser holds a session cookie ---------------------------------------


@app.get("/", response_class=HTMLResponse)
async def home(
    request: Request, user: Annotated[AuthUser | None, Depends(auth.optional_user)]
) -> str:
    if user is None:
        return SIGN_IN
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in NOTES.get(user.id, []))
    csrf = html.escape(auth.csrf_token(request) or "")
    return NOTES_PAGE.format(user=html.escape(user.id), notes=notes, csrf=csrf)


@app.post("/notes")
async def add_note(
    request: Request, user: Annotated[AuthUser, Depends(auth.session_user)]
) -> RedirectResponse:
    # session_user has checked the form's csrf_token already: a cross-site form gets 403.
    text = str((await request.form()).get("text", ""))[:500]
    if text:
        NOTES.setdefault(user.id, []).append(text)
    return RedirectResponse("/", status_code=303)


# --- API: programs send a bearer token --------------------------------------------------


@app.get("/api/notes")
async def list_notes(user: Annotated[AuthUser, Depends(auth.token_user)]) -> list[str]:
    return NOTES.get(user.id, [])


@app.post("/api/notes", status_code=201)
async def create_note(
    note: NoteIn, user: Annotated[AuthUser, Depends(auth.token_user)]
) -> list[str]:
    NOTES.setdefault(user.id, []).append(note.text)
    return NOTES[user.id]


SIGN_IN = """<!doctype html><title>notes</title>
<h1>Sign in</h1>
<form id=f><input name=email placeholder=email> <input name=password type=password
placeholder=password> <button>Sign in</button> <button name=new value=1>Register</button></form>
<script>
document.getElementById("f").onsubmit = async (e) => {
  e.preventDefault();
  const body = JSON.stringify({email: f.email.value, password: f.password.value});
  const headers = {"content-type": "application/json"};
  if (e.submitter.name === "new") await fetch("/auth/register", {method: "POST", headers, body});
  const r = await fetch("/auth/session/login", {method: "POST", headers, body});
  if (r.ok) location.reload(); else alert((await r.json()).detail);
};
</script>"""

NOTES_PAGE = """<!doctype html><title>notes</title>
<h1>Notes of {user}</h1><ul>{notes}</ul>
<form method=post action=/notes><input type=hidden name=csrf_token value="{csrf}">
<input name=text placeholder="a note"> <button>Add</button></form>
<button onclick="fetch('/auth/session/logout', {{method: 'POST',
  headers: {{'x-csrf-token': '{csrf}'}}}}).then(() => location.reload())">Sign out</button>"""


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
