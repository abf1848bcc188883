"""Finding shipments: the filters and cursor pages behind `GET /v1/shipments` and the ops at-risk list."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from features.reasons import Reason
from serving.db.tables import AlertStateRow, Shipment
from serving.errors import ProblemError
from serving.tracking import AT_RISK

Sort = Literal["risk", "promise"]


class BadCursor(ProblemError):
    status = 400


@dataclass(frozen=True)
class ShipmentFilter:
    at_risk: bool = False
    risk_gte: float | None = None
    carrier: str | None = None
    origin_country: str | None = None
    destination_country: str | None = None
    status: str | None = None
    stalled: bool | None = None
    promised_before: dt.datetime | None = None
    search: str | None = None  # part of the shipment id, any case
    reason: Reason | None = None  # among the shipment's current delay reasons

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        if self.at_risk:
            late_window = and_(Shipment.promised_at.is_not(None), Shipment.window_end > Shipment.promised_at)
            stmt = stmt.where(Shipment.delivered_at.is_(None)).where(
                or_(late_window, Shipment.stalled.is_(True), Shipment.p_late >= AT_RISK)
            )
        equal = ((Shipment.carrier, self.carrier), (Shipment.origin_country, self.origin_country),
                 (Shipment.destination_country, self.destination_country), (Shipment.status, self.status),
                 (Shipment.stalled, self.stalled))  # fmt: skip
        for column, value in equal:
            if value is not None:
                stmt = stmt.where(column == value)
        if self.risk_gte is not None:
            stmt = stmt.where(Shipment.p_late >= self.risk_gte)
        if self.promised_before is not None:
            stmt = stmt.where(Shipment.promised_at < self.promised_before)
        if self.search:
            pattern = "%" + self.search.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            stmt = stmt.where(func.lower(Shipment.shipment_id).like(pattern + "%", escape="\\"))
        if self.reason is not None:
            # The reasons are a JSON list written by `json.dumps`; matching its text works alike on SQLite
            # and PostgreSQL, and a taxonomy code cannot contain a LIKE wildcard or a quote.
            code = f'%"code": "{Reason(self.reason).value}"%'
            stmt = stmt.join(AlertStateRow, AlertStateRow.shipment_id == Shipment.shipment_id).where(
                cast(AlertStateRow.reasons, String).like(code)
            )
        return stmt


def reason_codes(session: Session, shipment_ids: list[str]) -> dict[str, list[str]]:
    """Each shipment's current delay reason codes, strongest first."""
    rows = session.execute(
        select(AlertStateRow.shipment_id, AlertStateRow.reasons).where(
            AlertStateRow.shipment_id.in_(shipment_ids)
        )
    )
    return {sid: [r["code"] for r in reasons or []] for sid, reasons in rows}


def _encode(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _decode(cursor: str) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError(cursor)
        return values
    except ValueError as exc:
        raise BadCursor("The cursor is not one this service issued.") from exc


def find_shipments(
    session: Session, where: ShipmentFilter, sort: Sort = "risk", limit: int = 50, cursor: str | None = None
) -> tuple[list[Shipment], str | None]:
    """One page sorted by risk (highest first) or by promise (soonest first), and the cursor of the next."""
    stmt = where.apply(select(Shipment))
    key = Shipment.p_late if sort == "risk" else Shipment.promised_at
    stmt = stmt.where(key.is_not(None))
    if cursor:
        value, after_id = _decode(cursor)
        value = value if sort == "risk" else dt.datetime.fromisoformat(value)
        if sort == "risk":
            stmt = stmt.where(or_(key < value, and_(key == value, Shipment.shipment_id > after_id)))
        else:
            stmt = stmt.where(or_(key > value, and_(key == value, Shipment.shipment_id > after_id)))
    order = key.desc() if sort == "risk" else key.asc()
    rows = list(session.scalars(stmt.order_by(order, Shipment.shipment_id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        value = last.p_late if sort == "risk" else last.promised_at.isoformat()  # type: ignore[union-attr]
        next_cursor = _encode([value, last.shipment_id])
    return rows, next_cursor


def filter_choices(session: Session) -> dict[str, list[str]]:
    """The carriers and lanes (`DE-FR`) the service has seen, for the filter menus."""
    carriers = session.scalars(select(Shipment.carrier).distinct().order_by(Shipment.carrier))
    lanes = session.execute(
        select(Shipment.origin_country, Shipment.destination_country)
        .distinct()
        .order_by(Shipment.origin_country, Shipment.destination_country)
    )
    return {"carriers": list(carriers), "lanes": [f"{o}-{d}" for o, d in lanes]}
