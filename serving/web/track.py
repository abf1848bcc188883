"""The customer tracking page, `/track/{id}?t=TOKEN`: reached by a signed link, no sign-in.

It shows the status, the current delivery window as local dates, the scans (status and place only: carrier
free text may carry names) and a delay message. A forged, altered or expired link shows nothing of the
shipment. Tokens sit in the URL, so the page is never cached and sends no referrer.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from features.contract import EventStatus
from features.geo import country_timezone
from serving.db.tables import Event, Shipment
from serving.deps import SessionDep, SettingsDep
from serving.signing import BadToken, ExpiredToken, check_tracking_token
from serving.tracking import at_risk, events_of
from serving.web.templating import PageError, render

router = APIRouter(include_in_schema=False)

STATUS_TEXT = {
    EventStatus.LABEL_CREATED: "Label created",
    EventStatus.PICKED_UP: "Picked up by the carrier",
    EventStatus.IN_TRANSIT: "On its way",
    EventStatus.ARRIVED_AT_FACILITY: "Arrived at a depot",
    EventStatus.DEPARTED_FACILITY: "Left a depot",
    EventStatus.CUSTOMS_HOLD: "Held at customs",
    EventStatus.CUSTOMS_CLEARED: "Cleared customs",
    EventStatus.OUT_FOR_DELIVERY: "Out for delivery",
    EventStatus.DELIVERY_ATTEMPTED: "Delivery attempted",
    EventStatus.EXCEPTION: "Delayed by the carrier",
    EventStatus.DELIVERED: "Delivered",
    EventStatus.RETURNED: "Returned to sender",
}


def status_text(status: str | None) -> str:
    return STATUS_TEXT.get(EventStatus(status), status) if status in set(EventStatus) else "Order received"


def local_date(moment: dt.datetime | None, country: str) -> dt.date | None:
    return moment.astimezone(zoneinfo.ZoneInfo(country_timezone(country))).date() if moment else None


def delay_message(s: Shipment, events: list[Event]) -> str | None:
    """What to tell the customer when the parcel is late or held; None when all is well or delivered."""
    if s.delivered_at is not None or s.status == EventStatus.RETURNED:
        return None
    statuses = {e.status for e in events}
    if EventStatus.CUSTOMS_HOLD in statuses and EventStatus.CUSTOMS_CLEARED not in statuses:
        return "Your parcel is being checked at customs. This can add a day or more to the delivery."
    if at_risk(s) and s.promised_at and s.window_end and s.window_end > s.promised_at:
        latest = local_date(s.window_end, s.destination_country)
        promised = local_date(s.promised_at, s.destination_country)
        return (
            f"Your parcel is running late: we now expect it by {latest:%A %d %B}, "
            f"later than the {promised:%d %B} we first gave you. We are sorry for the wait."
        )
    if s.stalled or s.status == EventStatus.EXCEPTION:
        return "Your parcel is taking longer than usual at its current stop. We are keeping an eye on it."
    return None


@router.get("/track/{shipment_id}")
def tracking_page(
    request: Request,
    shipment_id: str,
    db: SessionDep,
    settings: SettingsDep,
    t: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    try:
        check_tracking_token(settings.secret_key.get_secret_value(), shipment_id, t, dt.datetime.now(dt.UTC))
    except ExpiredToken:
        raise PageError(403, "This tracking link has expired", "Ask the shop for a new link.") from None
    except BadToken:
        raise PageError(
            403, "This tracking link is not valid", "Check that the whole link was copied, or ask the shop."
        ) from None
    s = db.get(Shipment, shipment_id)
    if s is None:
        raise PageError(404, "Parcel not found", "This parcel is not known (yet). Try again later.")
    events = events_of(db, shipment_id)
    country = s.destination_country
    context = {
        "shipment_id": s.shipment_id, "status": status_text(s.status),
        "delivered": s.delivered_at is not None, "delivered_on": local_date(s.delivered_at, country),
        "earliest": local_date(s.window_start, country), "latest": local_date(s.window_end, country),
        "promised": local_date(s.promised_at, country), "message": delay_message(s, events),
        "events": [
            {"when": e.occurred_at.astimezone(zoneinfo.ZoneInfo(country_timezone(e.country or country))),
             "text": status_text(e.status), "place": ", ".join(p for p in (e.region, e.country) if p)}
            for e in reversed(events)
        ],
    }  # fmt: skip
    response = render(request, "track.html", context)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
