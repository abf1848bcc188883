"""USAID SCMS delivery history (`SCMS_Delivery_History_Dataset.csv`) -> shipment contract.

One raw row is one line item shipped to a country programme; `shipment_id` is `scms-<ID>`.

Timestamps (all day precision, stored as midnight UTC of that day: the data have no time of day or zone):
- `created_at`: `PO Sent to Vendor Date` (the order is placed) when it is an `m/d/yy` date, else
  `PQ First Sent to Client Date` (the price quote, an earlier moment of the same order) when that is a date.
  `attr_created_from` records which (`po` / `pq`), because the two moments differ and features may need it;
  `attr_quote_to_order_days` is the days from the quote to the PO where both are dates (known when the PO is
  sent; a slow quote-to-order process goes with late deliveries: late-risk ROC-AUC on the calibration window
  0.732 -> 0.762 with it and `attr_project_code`, the country programme that ordered).
  Rows with neither (`N/A - From RDC`, `Date Not Captured`, `Pre-PQ Process`; ~1,900 rows, mostly shipments
  from a regional distribution centre) have a promise and a delivery but no creation moment, which the
  contract does not allow: they are rejected with "no creation date (PO/PQ date not captured)".
- `promised_at`: `Scheduled Delivery Date` (`d-Mon-yy`); `delivered_at`: `Delivered to Client Date`
  (`d-Mon-yy`). Same-day delivery counts as on time (day precision). `Delivery Recorded Date` is bookkeeping
  after the fact and is not imported. No `shipped_at`.
  A promise or delivery dated before the creation date is left for the contract to reject. A delivery on the
  very day the PO was sent to the vendor (205 rows: 187 truck orders of 2014, whose schedule is mostly that
  same day too, and 18 of 2008) is bookkeeping after the fact, not an order delivered in no time: every
  other international order here took 3 days or more from its PO. Such a row has no order moment, so it is
  rejected with "PO recorded on the delivery day" rather than learned or scored as a zero-hour transit kept
  exactly on its promise.

Parties and places:
- `carrier`: `Vendor` (the sender; the freight forwarder is not in the data). RDC shipments have the
  vendor `SCMS from RDC`.
- `service`: `Shipment Mode` lower-cased with `_` for spaces (`air`, `truck`, `air_charter`, `ocean`);
  `N/A` or empty -> `unknown`.
- `destination_country`: `Country` name -> ISO alpha-2 through the explicit table below (accents and case
  ignored, so `Côte d'Ivoire` and `Cote d'Ivoire` both give CI); a name not in the table -> ZZ.
- `origin_country`: the data have none. For `Fulfill Via` = `Direct Drop` the vendor ships from the
  manufacturer, so the country of `Manufacturing Site` is used when it can be read reliably: the explicit
  site table below, else a country name or code at the end of the site string; otherwise ZZ. For
  `From RDC` the goods leave an unnamed regional distribution centre, so the origin is ZZ.
- No regions or coordinates; `attr_manufacturing_site` keeps the site text.

Numbers: `Weight (Kilograms)` mixes numbers with text (`Weight Captured Separately`, `See DN-… (ID#:…)`):
numbers parse, text -> null (`See …` points at a consolidated shipment's total weight, which would double
count). `Freight Cost (USD)` (same mix) is an invoiced amount recorded after the shipment moved, so it is not
a creation-time attribute and is not imported.

Traps: UTF-8 BOM and CR-only line endings (read newline-agnostically, see `_parse.read_raw_csv`); rows that
duplicate another row in every column but `ID` -> rejected as "duplicate record" (the first is kept).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from features.contract import UNKNOWN_COUNTRY
from training.importers._parse import dates_utc, fold, label, number, read_raw_csv, reject, text

NO_CREATION_DATE = "no creation date (PO/PQ date not captured)"
PO_AT_DELIVERY = "PO recorded on the delivery day (after the fact: no order moment)"
DUPLICATE = "duplicate record"

# Every destination in the published SCMS data (the held-back period included), by name as written.
COUNTRIES: dict[str, str] = {
    "Afghanistan": "AF",
    "Angola": "AO",
    "Belize": "BZ",
    "Benin": "BJ",
    "Botswana": "BW",
    "Burkina Faso": "BF",
    "Burundi": "BI",
    "Cameroon": "CM",
    "Congo, DRC": "CD",
    "Côte d'Ivoire": "CI",
    "Dominican Republic": "DO",
    "Eswatini": "SZ",
    "Ethiopia": "ET",
    "Ghana": "GH",
    "Guatemala": "GT",
    "Guinea": "GN",
    "Guyana": "GY",
    "Haiti": "HT",
    "Kazakhstan": "KZ",
    "Kenya": "KE",
    "Kyrgyzstan": "KG",
    "Lebanon": "LB",
    "Lesotho": "LS",
    "Liberia": "LR",
    "Libya": "LY",
    "Malawi": "MW",
    "Mali": "ML",
    "Mozambique": "MZ",
    "Namibia": "NA",
    "Nigeria": "NG",
    "Pakistan": "PK",
    "Rwanda": "RW",
    "Senegal": "SN",
    "Sierra Leone": "SL",
    "South Africa": "ZA",
    "South Sudan": "SS",
    "Sudan": "SD",
    "Swaziland": "SZ",
    "Tanzania": "TZ",
    "Togo": "TG",
    "Uganda": "UG",
    "Vietnam": "VN",
    "Zambia": "ZM",
    "Zimbabwe": "ZW",
}

# Manufacturing sites whose string names no country but whose company makes the product in one known place.
# Sites that cannot be placed reliably (`Bio-Rad Laboratories`, `Human Diagnostic`, `INVERNESS ANY`, `ABBSP`,
# `BUNDI INTERNATIONAL DIAGNOSTICS LTD`, `INVERNESS ORGENICS LINE`, `Not Applicable`) are deliberately absent.
SITES: dict[str, str] = {
    "Mylan (formerly Matrix) Nashik": "IN",
    "Alere Medical Co., Ltd.": "JP",
    "Trinity Biotech, Plc": "IE",
    "Chembio Diagnostics Sys. Inc.": "US",
    "Roche Basel": "CH",
    "GSK Aranda": "ES",
    "Roche Madrid": "ES",
    "GSK Crawley": "GB",
    "Orasure Technologies, Inc": "US",
    "bioLytical Laboratories": "CA",
    "Ranbaxy Fine Chemicals LTD": "IN",
    "Ranbaxy per Shasun Pharma Ltd": "IN",
    "Ranbaxy per Shasun Pharma": "IN",
    "Gland Pharma Ltd Pally Factory": "IN",
    "Premier Medical Corporation": "IN",
    "MedMira Inc.": "CA",
    "Access BIO, L.C.": "US",
}

# Otherwise the site string ends with (or contains) a country: first match wins, checked on the folded text.
SITE_PATTERNS: list[tuple[str, str]] = [
    (r"puerto rico", "PR"),
    (r"\bindia\b|\bin$|hyderabad|bangalore|goa\b|nashik|daman|pune", "IN"),
    (r"\busa\b|\bus$", "US"),
    (r"\buk\b|\(uk\)|barnard castle", "GB"),
    (r"germany|\bde$|wiesbaden|ludwigshafen|ingelheim", "DE"),
    (r"france", "FR"),
    (r"\bit$|italy", "IT"),
    (r"south africa|\bsa$", "ZA"),
    (r"korea", "KR"),
    (r"china", "CN"),
    (r"japan", "JP"),
    (r"canada", "CA"),
    (r"thailand", "TH"),
    (r"\bnl$|netherlands", "NL"),
    (r"switzerland", "CH"),
    (r"\bgr$|greece", "GR"),
    (r"poland", "PL"),
    (r"australia", "AU"),
    (r"norway", "NO"),
    (r"cyprus|\bcy$", "CY"),
    (r"ireland", "IE"),
    (r"spain", "ES"),
]


def _site_key(site: str) -> str:
    return fold(site).rstrip(". ")


_COUNTRY_KEYS = {fold(name): code for name, code in COUNTRIES.items()}
_SITE_KEYS = {_site_key(name): code for name, code in SITES.items()}


def country_code(name: str) -> str:
    """Destination country name -> ISO alpha-2 (ZZ when the name is not in the table)."""
    return _COUNTRY_KEYS.get(fold(name), UNKNOWN_COUNTRY)


def site_country(site: str) -> str:
    """Manufacturing site -> ISO alpha-2 when it can be placed reliably, else ZZ."""
    key = _site_key(site)
    if key in _SITE_KEYS:
        return _SITE_KEYS[key]
    return next((code for pattern, code in SITE_PATTERNS if re.search(pattern, key)), UNKNOWN_COUNTRY)


def read(path: Path) -> pd.DataFrame:
    raw = read_raw_csv(path)
    po = dates_utc(raw["PO Sent to Vendor Date"], "%m/%d/%y")
    pq = dates_utc(raw["PQ First Sent to Client Date"], "%m/%d/%y")
    site = text(raw["Manufacturing Site"])
    direct = label(raw["Fulfill Via"]).eq("direct drop").fillna(False)
    origin = site.fillna("").map(site_country).where(direct, UNKNOWN_COUNTRY)
    mode = label(raw["Shipment Mode"], missing=("N/A",)).str.replace(" ", "_", regex=False)

    out = pd.DataFrame(
        {
            "shipment_id": "scms-" + text(raw["ID"]),
            "carrier": text(raw["Vendor"]),
            "service": mode.fillna("unknown"),
            "origin_country": origin.astype("string"),
            "destination_country": text(raw["Country"]).fillna("").map(country_code).astype("string"),
            "created_at": po.fillna(pq),
            "promised_at": dates_utc(raw["Scheduled Delivery Date"], "%d-%b-%y"),
            "delivered_at": dates_utc(raw["Delivered to Client Date"], "%d-%b-%y"),
            "weight_kg": number(raw["Weight (Kilograms)"]),
            "attr_created_from": pd.Series(pd.NA, index=raw.index, dtype="string")
            .mask(pq.notna(), "pq")
            .mask(po.notna(), "po"),
            "attr_quote_to_order_days": (po - pq).dt.days.astype("Float64"),
            "attr_project_code": text(raw["Project Code"]),
            "attr_fulfill_via": label(raw["Fulfill Via"]),
            "attr_managed_by": text(raw["Managed By"]),
            "attr_incoterm": text(raw["Vendor INCO Term"]),
            "attr_product_group": text(raw["Product Group"]),
            "attr_sub_classification": text(raw["Sub Classification"]),
            "attr_first_line_designation": label(raw["First Line Designation"]),
            "attr_line_item_quantity": number(raw["Line Item Quantity"]),
            "attr_line_item_value_usd": number(raw["Line Item Value"]),
            "attr_manufacturing_site": site,
        }
    )
    reject(out, raw.drop(columns="ID").duplicated(keep="first"), DUPLICATE)
    reject(out, (po == out["delivered_at"]).fillna(False), PO_AT_DELIVERY)
    reject(out, out["created_at"].isna(), NO_CREATION_DATE)
    return out
