"""Every error as RFC 9457 `application/problem+json`; domain exceptions mapped to HTTP in one place.

Unexpected exceptions are turned into a generic 500 by the request-context middleware (`serving.middleware`),
not by Starlette's `ServerErrorMiddleware`, which re-raises to the server and would log the traceback a second
time without the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger(__name__)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    status: int,
    detail: str | None = None,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    if request_id:
        body["request_id"] = request_id
    return ProblemResponse(body | extensions, status_code=status, headers=headers)


class ProblemError(Exception):
    """A domain error whose message is written for the client (it becomes the problem's `detail`)."""

    status: ClassVar[int] = 500

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(ProblemError):
    status = 404


class Conflict(ProblemError):
    status = 409


class Unavailable(ProblemError):
    status = 503


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def field_path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """An error location as a dotted path: ("body", "options", 0, "carrier") -> body.options.0.carrier"""
    return ".".join(str(part) for part in loc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": field_path(error["loc"]), "message": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, detail, request_id=request_id_of(request), errors=errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304) or exc.status_code < 200:
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else None
    extra: dict[str, Any] = {} if detail or exc.detail is None else {"errors": exc.detail}
    return problem(exc.status_code, detail, request_id=request_id_of(request), headers=exc.headers, **extra)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem(exc.status, exc.detail, request_id=request_id_of(request), **exc.extensions)


def unexpected_error(exc: BaseException, request_id: str) -> Response:
    """Log the traceback under the request id; the client gets the id and nothing of the exception."""
    logger.error("unhandled error, request_id=%s", request_id, exc_info=exc)
    return problem(
        500, "An unexpected error occurred; quote the request_id when reporting it.", request_id=request_id
    )


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ProblemError, _domain_error)
