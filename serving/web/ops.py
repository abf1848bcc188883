"""The ops dashboard: sign-in, the at-risk list, a shipment, scorecards, the model (promote / roll back)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from features.reasons import Reason
from serving.db.tables import Shipment
from serving.deps import ModelDep, SessionDep, SettingsDep
from serving.registry_alias import UnknownVersion, alias_target, list_versions, move_alias
from serving.routes.shipments import detail
from serving.scorecards import delivered_outcomes, reliability, scorecard, weekly
from serving.shipment_query import ShipmentFilter, Sort, filter_choices, find_shipments, reason_codes
from serving.tracking import at_risk
from serving.users import SignInLocked, sign_in
from serving.web import session as web_session
from serving.web.session import CsrfChecked, Forbidden, SessionState, SignedIn
from serving.web.templating import PageError, render

router = APIRouter(prefix="/ops", include_in_schema=False)
PAGE_SIZE = 50
SCORECARD_WEEKS = 12


def _safe_next(next_url: str | None) -> str:
    """Only paths inside the dashboard: never an open redirect to another site."""
    if next_url and next_url.startswith("/ops") and not next_url.startswith("//"):
        return next_url
    return "/ops"


@router.get("/login")
def login_page(request: Request, session: SessionState, next: str | None = None) -> Response:
    if session.user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "ops/login.html", {"next": _safe_next(next), "error": None}, session)


@router.post("/login")
def login(
    request: Request,
    settings: SettingsDep,
    db: SessionDep,
    session: CsrfChecked,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/ops",
) -> Response:
    context = {"next": _safe_next(next), "username": username}
    try:
        user = sign_in(db, username.strip(), password)
    except SignInLocked as locked:
        error = f"Too many failed sign-ins for this username: try again in {locked.retry_after} seconds."
        page = render(request, "ops/login.html", context | {"error": error}, session, status=429)
        page.headers["Retry-After"] = str(locked.retry_after)
        return page
    if user is None:
        context["error"] = "Wrong username or password."
        return render(request, "ops/login.html", context, session, status=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    return web_session.save(response, request, settings, web_session.start(settings, user))


@router.post("/logout")
def logout(request: Request, settings: SettingsDep, _: CsrfChecked) -> Response:
    response = RedirectResponse("/ops/login", status_code=303)
    return web_session.save(response, request, settings, web_session.start(settings, None))


def _lane(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    origin, _, destination = value.partition("-")
    if len(origin) != 2 or len(destination) != 2:
        raise PageError(400, "Bad filter", f"The lane '{value}' is not of the form DE-FR.")
    return origin.upper(), destination.upper()


def _end_of(day: str | None) -> dt.datetime | None:
    """The end of a `YYYY-MM-DD` day (UTC), for "promised by"."""
    if not day:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(), dt.UTC)
    except ValueError:
        raise PageError(400, "Bad filter", f"'{day}' is not a date (YYYY-MM-DD).") from None


def _reason(code: str | None) -> Reason | None:
    if not code:
        return None
    if code not in set(Reason):
        raise PageError(400, "Bad filter", f"'{code}' is not a delay reason.")
    return Reason(code)


@router.get("")
def at_risk_list(
    request: Request,
    db: SessionDep,
    session: SignedIn,
    q: Annotated[str | None, Query(max_length=128)] = None,
    carrier: Annotated[str | None, Query(max_length=64)] = None,
    lane: Annotated[str | None, Query(max_length=5)] = None,
    stalled: Annotated[str | None, Query(max_length=5)] = None,
    promised_by: Annotated[str | None, Query(max_length=10)] = None,
    reason: Annotated[str | None, Query(max_length=32)] = None,
    show: Annotated[str, Query(pattern="^(at_risk|all)$")] = "at_risk",
    sort: Sort = "risk",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Empty form fields mean "any" (a GET form sends them all)."""
    origin, destination = _lane(lane)
    where = ShipmentFilter(
        at_risk=show == "at_risk", carrier=carrier or None, origin_country=origin,
        destination_country=destination, stalled=True if stalled == "true" else None,
        promised_before=_end_of(promised_by), search=q or None, reason=_reason(reason),
    )  # fmt: skip
    rows, next_cursor = find_shipments(db, where, sort, PAGE_SIZE, cursor)
    filters = {"q": q, "carrier": carrier, "lane": lane, "stalled": stalled, "promised_by": promised_by,
               "reason": reason, "show": show, "sort": sort}  # fmt: skip
    filters = {k: v for k, v in filters.items() if v}
    next_url = "/ops?" + urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
    context = {
        "rows": [(s, at_risk(s)) for s in rows], "next_url": next_url, "filters": filters,
        "choices": filter_choices(db), "reasons": reason_codes(db, [s.shipment_id for s in rows]),
        "reason_choices": list(Reason),
    }  # fmt: skip
    return render(request, "ops/list.html", context, session)


@router.get("/shipments/{shipment_id}")
def shipment_page(request: Request, shipment_id: str, db: SessionDep, session: SignedIn) -> Response:
    s = db.get(Shipment, shipment_id)
    if s is None:
        raise PageError(404, "Shipment not found", f"No shipment '{shipment_id}'.")
    info = detail(db, s)
    chart = {
        "promised_at": info.promised_at,
        "delivered_at": info.delivered_at,
        "history": [
            {"at": h.computed_at, "start": h.window_start, "p50": h.eta_p50, "end": h.window_end}
            for h in info.eta_history
        ],
    }
    return render(request, "ops/shipment.html", {"s": info, "chart": chart}, session)


@router.get("/scorecards")
def scorecards_page(
    request: Request,
    db: SessionDep,
    session: SignedIn,
    weeks: Annotated[int, Query(ge=1, le=104)] = SCORECARD_WEEKS,
) -> Response:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(weeks=weeks)
    outcomes = delivered_outcomes(db, since)
    context = {
        "weeks": weeks, "n": len(outcomes),
        "carriers": scorecard(outcomes, "carrier"), "lanes": scorecard(outcomes, "lane"),
        "carrier_weeks": weekly(outcomes, "carrier"), "lane_weeks": weekly(outcomes, "lane"),
    }  # fmt: skip
    return render(request, "ops/scorecards.html", context, session)


@router.get("/model")
def model_page(
    request: Request, db: SessionDep, settings: SettingsDep, model: ModelDep, session: SignedIn
) -> Response:
    target = alias_target(settings.model_uri)
    versions = list_versions(settings.mlflow_tracking_uri, target) if target else []
    since = dt.datetime.now(dt.UTC) - dt.timedelta(weeks=SCORECARD_WEEKS)
    meta = model.bundle.metadata if model else {}
    context = {
        "model": model, "meta": meta, "target": target, "versions": versions,
        "current": next((v.version for v in versions if target and target.alias in v.aliases), None),
        "test_reliability": meta.get("reliability") or [],
        "live_reliability": reliability(delivered_outcomes(db, since)),
        "load_error": request.app.state.model.last_error,
    }  # fmt: skip
    return render(request, "ops/model.html", context, session)


@router.post("/model/alias")
async def move_model_alias(
    request: Request,
    settings: SettingsDep,
    session: CsrfChecked,
    version: Annotated[str, Form(pattern=r"^\d{1,9}$")],
) -> Response:
    """Point the served alias at `version` (promote or roll back) and load it now."""
    if session.user is None:
        raise web_session.LoginRequired("/ops/model")
    if not session.is_admin:
        raise Forbidden("Only an admin may promote or roll back the model.")
    target = alias_target(settings.model_uri)
    if target is None:
        raise PageError(409, "No alias to move", "The service serves a fixed model, not a registry alias.")
    try:
        await run_in_threadpool(move_alias, settings.mlflow_tracking_uri, target, version)
    except UnknownVersion as exc:
        raise PageError(404, "No such version", exc.detail) from None
    await run_in_threadpool(request.app.state.model.try_refresh)
    return RedirectResponse("/ops/model?moved=" + version, status_code=303)
