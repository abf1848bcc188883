"""Templates and their filters, page rendering (no-store, session cookie) and HTML error pages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from serving.web import session as web_session
from serving.web.session import LoginRequired, WebSession

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "–"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def json_data(value: Any) -> Markup:
    """JSON for a `<script type="application/json">` block, safe against `</script>` in the data."""
    text = (
        json.dumps(value, default=str).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )
    return Markup(text)


templates.env.filters.update(when=when, percent=percent, json_data=json_data)

# Only this site's own scripts and styles, and no framing (defence in depth: injected markup, clickjacking).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


class PageError(Exception):
    """An HTML error page (404, 403, …) with a message written for the reader."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def render(
    request: Request, name: str, context: dict[str, Any], session: WebSession | None = None, status: int = 200
) -> Response:
    response = templates.TemplateResponse(
        request, name, {"session": session, **context}, status_code=status, headers=PAGE_HEADERS
    )
    if session is not None:
        web_session.save(response, request, request.app.state.settings, session)
    return response


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    context = {"title": title, "message": message, "session": None}
    return templates.TemplateResponse(
        request, "error.html", context, status_code=status, headers=PAGE_HEADERS
    )


async def page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return _error_page(request, exc.status, exc.title, exc.message)


async def forbidden(request: Request, exc: Exception) -> Response:
    return _error_page(request, 403, "Not allowed", str(exc))


async def login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(web_session.login_url(exc.next_url), status_code=303)
