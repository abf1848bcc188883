"""Importers: map each raw public dataset onto the canonical shipment contract (features/contract.py).

Each format has a reader `Path -> DataFrame` that returns contract columns plus `attr_*` columns; the
mapping and the handling of every known trap are documented in the format's module. `import_dataset` then
validates the frame. Rows the reader rejects itself (column `_reject_reason`) land in the rejected frame with
that reason, so kept + rejected always equals the raw row count.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.contract import Validated, validate_shipments
from training.importers import amazon_delivery, ecommerce_shipping, scms, truck_trips
from training.importers._parse import REJECT_REASON

FORMATS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "scms": scms.read,
    "truck-trips": truck_trips.read,
    "amazon-delivery": amazon_delivery.read,
    "ecommerce-shipping": ecommerce_shipping.read,
}


def import_dataset(fmt: str, path: Path) -> Validated:
    """Read a raw dataset with its format's reader and validate it against the shipment contract."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(FORMATS))}")
    return validate_read(FORMATS[fmt](Path(path)))


def validate_read(frame: pd.DataFrame) -> Validated:
    """Validate a reader's frame: rows with a reader reason are rejected with it, the rest are validated."""
    if REJECT_REASON not in frame:
        return validate_shipments(frame)
    reason = frame[REJECT_REASON]
    frame = frame.drop(columns=REJECT_REASON)
    result = validate_shipments(frame[reason.isna()])
    rejected, reasons = [], {}
    for why, rows in frame[reason.notna()].groupby(reason[reason.notna()], sort=False):
        conformed = validate_shipments(rows)  # used only to conform the dtypes: the reader's reason wins
        block = _concat([conformed.valid, conformed.rejected.drop(columns="reason")])
        block["reason"] = pd.Series(str(why), index=block.index, dtype="string")
        rejected.append(block)
        reasons[str(why)] = len(block)
    result.rejected = _concat([*rejected, result.rejected])
    result.reasons = reasons | result.reasons
    return result


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames with the same columns, skipping empty ones."""
    nonempty = [f for f in frames if len(f)]
    if len(nonempty) <= 1:
        return (nonempty or frames)[0].reset_index(drop=True)
    return pd.concat(nonempty, ignore_index=True)
