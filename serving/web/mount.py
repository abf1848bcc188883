"""Wiring the pages into the app: static files, the routers and the HTML answers to page errors."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from serving.web import ops, track, widget
from serving.web.session import Forbidden, LoginRequired
from serving.web.templating import HERE, PageError, forbidden, login_required, page_error


def register_web(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (ops, track, widget):
        app.include_router(module.router)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(LoginRequired, login_required)
