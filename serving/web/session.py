"""The ops session: a signed cookie (HttpOnly, SameSite=Lax, Secure over HTTPS or by setting) holding the
user id and a CSRF token; every state-changing form posts that token back (synchronizer token pattern).

A visitor without a valid cookie gets an anonymous session with its own CSRF token, so even the sign-in form
is protected against login CSRF.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response

from serving.db.tables import User
from serving.deps import SessionDep, SettingsDep
from serving.settings import Settings
from serving.signing import SESSION, BadToken, ExpiredToken, sign, unsign
from serving.users import Role, active_user

COOKIE = "eta_session"


class LoginRequired(Exception):
    """Answered with a redirect to the sign-in page (see `serving.web.pages`)."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Forbidden(Exception):
    """Answered with a 403 page: a bad CSRF token, or a role that may not do this."""


@dataclass
class WebSession:
    user: User | None
    csrf_token: str
    cookie: str | None = None  # a new signed value to send back, when the session changed

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.role == Role.ADMIN


def _expiry(settings: Settings, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(hours=settings.session_hours)


def _new(settings: Settings, user: User | None, now: dt.datetime) -> WebSession:
    csrf = secrets.token_urlsafe(24)
    payload = {"uid": user.id if user else None, "csrf": csrf}
    cookie = sign(settings.secret_key.get_secret_value(), SESSION, payload, _expiry(settings, now))
    return WebSession(user=user, csrf_token=csrf, cookie=cookie)


def web_session(request: Request, settings: SettingsDep, db: SessionDep) -> WebSession:
    now = dt.datetime.now(dt.UTC)
    token = request.cookies.get(COOKIE, "")
    try:
        payload = unsign(settings.secret_key.get_secret_value(), SESSION, token, now)
    except (BadToken, ExpiredToken):
        return _new(settings, None, now)
    uid, csrf = payload.get("uid"), payload.get("csrf")
    user = active_user(db, uid) if isinstance(uid, int) else None
    if not isinstance(csrf, str) or (uid is not None and user is None):
        return _new(settings, None, now)  # a disabled or deleted user is signed out
    return WebSession(user=user, csrf_token=csrf)


def start(settings: Settings, user: User | None) -> WebSession:
    """A fresh session (new CSRF token) for a user who just signed in, or an anonymous one on sign-out."""
    return _new(settings, user, dt.datetime.now(dt.UTC))


def save(response: Response, request: Request, settings: Settings, session: WebSession) -> Response:
    if session.cookie is not None:
        secure = settings.session_cookie_secure
        response.set_cookie(
            COOKIE, session.cookie, max_age=int(settings.session_hours * 3600), path="/",
            secure=request.url.scheme == "https" if secure is None else secure, httponly=True, samesite="lax",
        )  # fmt: skip
    return response


SessionState = Annotated[WebSession, Depends(web_session)]


def signed_in(request: Request, session: SessionState) -> WebSession:
    if session.user is None:
        raise LoginRequired(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
    return session


SignedIn = Annotated[WebSession, Depends(signed_in)]


def csrf_checked(session: SessionState, csrf_token: Annotated[str, Form(max_length=200)] = "") -> WebSession:
    """For POST forms: the posted token must equal the session's."""
    if not csrf_token or not hmac.compare_digest(csrf_token, session.csrf_token):
        raise Forbidden("The form has expired or did not come from this site; reload the page and try again.")
    return session


CsrfChecked = Annotated[WebSession, Depends(csrf_checked)]


def login_url(next_url: str) -> str:
    return "/ops/login?next=" + quote(next_url, safe="/")
