"""Importers: synthetic parser tests, then each real dataset against the figures in shared/data/README.md."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import SHIPMENT_COLUMNS, UTC_TS, Validated
from training.__main__ import main
from training.importers import FORMATS, import_dataset, scms, truck_trips, validate_read
from training.importers._parse import INDIA_BBOX, REJECT_REASON, lat_lon_pair, local_times_utc, read_raw_csv

pytestmark = [pytest.mark.realdata]

DATA = Path(os.environ.get("ETA_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
FILES = {
    "scms": "scms-delivery-history/SCMS_Delivery_History_Dataset.csv",
    "truck-trips": "delivery-truck-trips/vts_data_280820_noPII.csv",
    "amazon-delivery": "amazon-delivery/amazon_delivery.csv",
    "ecommerce-shipping": "ecommerce-shipping-data/Train.csv",
}
IST = "Asia/Kolkata"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"shared datasets not found at {DATA} (set ETA_SHARED_DATA to their folder)"
)


def _write(tmp_path: Path, name: str, rows: list[str], newline: str, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode() + newline.join(rows).encode() + newline.encode())
    return path


# ---------------------------------------------------------------- synthetic: parsers and readers


def test_raw_csv_is_read_newline_agnostic_and_bom_free(tmp_path: Path) -> None:
    rows = ["ID,Country", "1,Côte d'Ivoire", "2,Namibia"]
    for newline in ("\r", "\r\n", "\n"):
        df = read_raw_csv(_write(tmp_path, "x.csv", rows, newline, bom=True))
        assert list(df.columns) == ["ID", "Country"]
        assert df["Country"].tolist() == ["Côte d'Ivoire", "Namibia"]


def test_time_only_and_excel_epoch_cells_are_missing() -> None:
    cells = ["08:58:00", "1899-12-30 08:58:00.000", "2020-08-17 14:59:01.000", "2020-08-17 14:59:01", "", "x"]
    out = local_times_utc(pd.Series(cells, dtype="str"), IST)
    assert str(out.dtype) == UTC_TS
    assert out.isna().tolist() == [True, True, False, False, True, True]
    assert out[2] == out[3] == pd.Timestamp("2020-08-17 09:29:01", tz="UTC")  # IST is UTC+05:30


def test_lat_lon_strings_split_into_floats() -> None:
    lat, lon = lat_lon_pair(pd.Series(["13.1550,80.1960", " 12.7, 77.8 ", "bad", "", "12.0"], dtype="str"))
    assert lat.tolist()[:2] == [13.155, 12.7] and lon.tolist()[:2] == [80.196, 77.8]
    assert lat[2:].isna().all() and lon[2:].isna().all()


SCMS_HEADER = (
    "ID,Country,Fulfill Via,Vendor INCO Term,Shipment Mode,PQ First Sent to Client Date,"
    "PO Sent to Vendor Date,Scheduled Delivery Date,Delivered to Client Date,Vendor,Manufacturing Site,"
    "Weight (Kilograms),Managed By,Product Group,Sub Classification,First Line Designation,"
    "Line Item Quantity,Line Item Value,Project Code"
)
SCMS_ROWS = [
    '1,Côte d\'Ivoire,Direct Drop,EXW,Air,2/1/10,3/1/10,2-Jun-10,5-Jun-10,V,"Cipla, Goa, India",13,'
    "PMO - US,ARV,Adult,Yes,19,551,100-CI-T01",
    "2,Namibia,From RDC,N/A - From RDC,N/A,6/15/09,N/A - From RDC,2-Jun-10,1-Jun-10,SCMS from RDC,"
    "Roche Basel,Weight Captured Separately,PMO - US,ARV,Adult,Yes,19,551,100-NA-T01",
    "3,Atlantis,From RDC,N/A - From RDC,Air Charter,Date Not Captured,N/A - From RDC,2-Jun-10,2-Jun-10,"
    "SCMS from RDC,X,See DN-304 (ID#:10589),PMO - US,ARV,Adult,Yes,19,551,100-ZZ-T01",
    "4,Atlantis,From RDC,N/A - From RDC,Air Charter,Date Not Captured,N/A - From RDC,2-Jun-10,2-Jun-10,"
    "SCMS from RDC,X,See DN-304 (ID#:10589),PMO - US,ARV,Adult,Yes,19,551,100-ZZ-T01",
    "5,South Africa,Direct Drop,EXW,Truck,5/23/13,7/2/14,2-Jul-14,2-Jul-14,V,Aurobindo Unit III India,40,"
    "PMO - US,ARV,Adult,Yes,19,551,100-CI-T01",
]


def test_scms_reader_on_a_cr_only_bom_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "scms.csv", [SCMS_HEADER, *SCMS_ROWS], "\r", bom=True)
    result = import_dataset("scms", path)
    assert result.n_kept + result.n_rejected == 5
    assert result.reasons == {"duplicate record": 1, scms.NO_CREATION_DATE: 1, scms.PO_AT_DELIVERY: 1}
    v = result.valid.set_index("shipment_id")
    assert v.loc["scms-1", "destination_country"] == "CI" and v.loc["scms-2", "destination_country"] == "NA"
    assert v.loc["scms-1", "origin_country"] == "IN"  # direct drop: the manufacturing site's country
    assert v.loc["scms-2", "origin_country"] == "ZZ"  # from an unnamed regional distribution centre
    assert v.loc["scms-1", "service"] == "air" and v.loc["scms-2", "service"] == "unknown"
    assert v.loc["scms-1", "weight_kg"] == 13 and pd.isna(v.loc["scms-2", "weight_kg"])
    assert v.loc["scms-1", "created_at"] == pd.Timestamp("2010-03-01", tz="UTC")  # PO date
    assert v.loc["scms-2", "created_at"] == pd.Timestamp("2009-06-15", tz="UTC")  # PQ date as a fallback
    assert v.loc["scms-1", "attr_quote_to_order_days"] == 28  # from the quote (PQ) to the PO
    assert pd.isna(v.loc["scms-2", "attr_quote_to_order_days"])  # no PO date
    assert v.loc["scms-1", "attr_project_code"] == "100-CI-T01"
    assert v.loc["scms-1", "delivered_late"] and not v.loc["scms-2", "delivered_late"]
    rejected = result.rejected.set_index("shipment_id")["reason"]
    assert rejected["scms-3"] == scms.NO_CREATION_DATE
    assert rejected["scms-5"] == scms.PO_AT_DELIVERY  # delivered the day its PO was sent


def test_scms_country_and_site_tables() -> None:
    assert scms.country_code("Cote d'Ivoire") == scms.country_code("CÔTE D'IVOIRE") == "CI"
    assert scms.country_code("Congo, DRC") == "CD" and scms.country_code("Atlantis") == "ZZ"
    assert scms.site_country("Boehringer Ingelheim Roxane US") == "US"
    assert scms.site_country("MSD Manati, Puerto Rico, (USA)") == "PR"
    assert scms.site_country("Alere Medical Co., Ltd.") == "JP"
    assert scms.site_country("Bio-Rad Laboratories") == "ZZ"


AMAZON_HEADER = (
    "Order_ID,Agent_Age,Agent_Rating,Store_Latitude,Store_Longitude,Drop_Latitude,Drop_Longitude,Order_Date,"
    "Order_Time,Pickup_Time,Weather,Traffic,Vehicle,Area,Delivery_Time,Category"
)


def test_amazon_reader_cleans_labels_coordinates_and_midnight(tmp_path: Path) -> None:
    rows = [
        "a1,30,4.9,-22.7,75.8,22.75,75.85,2022-03-19,23:55:00,00:05:00,Sunny,High ,motorcycle ,"
        "Metropolitian ,30,Toys",
        "a2,30,6.0,0.0,0.0,0.05,0.05,2022-03-19,11:30:00,11:45:00,NaN,NaN ,van,Urban ,120,Toys",
        "a3,30,4.0,22.7,75.8,22.75,75.85,2022-03-19,NaN ,11:45:00,NaN,NaN ,van,Urban ,120,Toys",
    ]
    result = import_dataset("amazon-delivery", _write(tmp_path, "amazon.csv", [AMAZON_HEADER, *rows], "\r\n"))
    assert result.reasons == {"missing created_at": 1}
    a1, a2 = result.valid.iloc[0], result.valid.iloc[1]
    assert a1["created_at"] == pd.Timestamp("2022-03-19 18:25", tz="UTC")
    assert a1["shipped_at"] == pd.Timestamp("2022-03-19 18:35", tz="UTC")  # pickup rolled past midnight
    assert a1["delivered_at"] == a1["created_at"] + pd.Timedelta(minutes=30)
    assert (a1["origin_lat"], a1["origin_lon"]) == (22.7, 75.8)  # a lost sign, confirmed by the drop point
    assert (a1["service"], a1["attr_traffic"], a1["attr_area"]) == ("motorcycle", "high", "metropolitan")
    assert a2[["origin_lat", "origin_lon", "destination_lat", "destination_lon"]].isna().all()
    assert (
        pd.isna(a2["weather_condition"]) and pd.isna(a2["attr_traffic"]) and pd.isna(a2["attr_agent_rating"])
    )


def test_truck_reader_times_flags_and_the_gps_ping(tmp_path: Path) -> None:
    base = {
        "BookingID": "B1",
        "Market/Regular ": "Regular ",
        "BookingID_Date": "2020-08-01 10:00:00.000",
        "trip_start_date": "2020-08-01 10:00:00",
        "Planned_ETA": "2020-08-03 10:00:00",
        "actual_eta": "2020-08-02 10:00:00.123000",
        "Data_Ping_time": "2020-08-05 10:00:00",
        "ontime": "G",
        "delay": "",
        "Origin_Location": "Anekal, Bangalore, Karnataka",
        "Destination_Location": "Sedarapet, India",
        "Org_lat_lon": "12.72,77.67",
        "Des_lat_lon": "11.98,79.74",
        "Curr_lat": "20.0",
        "Curr_lon": "80.0",
        "OriginLocation_Code": "V1 ",
        "DestinationLocation_Code": "LE1",
        "TRANSPORTATION_DISTANCE_IN_KM": "0.0",
        "vehicleType": "24 | 26 FT  Open",
        "Minimum_kms_to_be_covered_in_a_day": "",
        "customerNameCode": "C",
        "supplierNameCode": "S",
    }
    rows = pd.DataFrame([base] * 5)
    rows["BookingID"] = ["B1", "B2", "B3", "B4", "B5"]
    rows.loc[1, ["trip_start_date", "ontime", "delay"]] = ["2020-08-01 09:59:30", "G", "R"]  # clock skew
    rows.loc[2, ["Planned_ETA", "actual_eta", "ontime", "delay"]] = [
        "1899-12-30 08:58:00.000",
        "2020-08-09",
        "",
        "R",
    ]
    # closed at booking: 110 km in 7 minutes; ~240 km in a straight line in 2 hours (no route distance)
    rows.loc[3, ["TRANSPORTATION_DISTANCE_IN_KM", "actual_eta"]] = ["110", "2020-08-01 10:07:00.500"]
    rows.loc[4, "actual_eta"] = "2020-08-01 12:00:00.500"
    path = tmp_path / "trucks.csv"
    rows.to_csv(path, index=False)
    result = import_dataset("truck-trips", path)
    assert result.reasons == {truck_trips.TOO_FAST: 2}
    assert set(result.rejected["shipment_id"]) == {"truck-B4", "truck-B5"}
    v = result.valid.set_index("shipment_id")
    assert v.loc["truck-B1", "delivered_at"] == pd.Timestamp("2020-08-02 04:30:00.123", tz="UTC")
    assert not v.loc["truck-B1", "delivered_late"]  # from the timestamps
    assert v.loc["truck-B2", "shipped_at"] == v.loc["truck-B2", "created_at"]  # 30 s of clock skew absorbed
    assert pd.isna(v.loc["truck-B3", "promised_at"])  # Excel epoch: time only
    assert pd.isna(v.loc["truck-B3", "delivered_at"])  # after the export: a forecast, still in flight
    assert v.loc["truck-B3", "delivered_late"]  # the R flag stands where there is no arrival
    assert (v["destination_lat"] == 11.98).all() and (v["destination_region"] == "Sedarapet").all()
    assert (v["origin_region"] == "Bangalore").all() and v["distance_km"].isna().all()
    assert (v["attr_vehicle_type"] == "24 / 26 FT Open").all() and (v["attr_origin_code"] == "V1").all()


def test_reader_rejections_are_counted_not_dropped() -> None:
    frame = pd.DataFrame(
        {
            "shipment_id": ["a", "b", "c", "d"],
            "carrier": "x",
            "service": "y",
            "created_at": ["2024-01-01", "2024-01-01", None, "2024-01-01"],
            REJECT_REASON: pd.Series([pd.NA, "bad thing", pd.NA, "bad thing"], dtype="string"),
        }
    )
    result = validate_read(frame)
    assert result.n_kept == 1 and result.n_rejected == 3
    assert result.reasons == {"bad thing": 2, "missing created_at": 1}
    assert sorted(result.rejected["shipment_id"]) == ["b", "c", "d"]
    assert REJECT_REASON not in result.rejected and REJECT_REASON not in result.valid


def test_unknown_format_names_the_known_ones() -> None:
    assert sorted(FORMATS) == ["amazon-delivery", "ecommerce-shipping", "scms", "truck-trips"]
    with pytest.raises(ValueError, match="amazon-delivery, ecommerce-shipping, scms, truck-trips"):
        import_dataset("dhl", Path("x.csv"))


# ---------------------------------------------------------------- real datasets


@pytest.fixture(scope="module")
def imported() -> dict[str, tuple[pd.DataFrame, Validated]]:
    if not DATA.is_dir():
        pytest.skip(f"shared datasets not found at {DATA} (set ETA_SHARED_DATA to their folder)")
    return {fmt: (read_raw_csv(DATA / rel), import_dataset(fmt, DATA / rel)) for fmt, rel in FILES.items()}


def _late_share(v: pd.DataFrame) -> float:
    return float(v["delivered_late"].dropna().astype(bool).mean())


@needs_data
@pytest.mark.parametrize("fmt", sorted(FILES))
def test_every_raw_row_is_kept_or_rejected_with_contract_dtypes(imported, fmt: str) -> None:
    raw, result = imported[fmt]
    expected_rows = {
        "scms": 8_869,
        "truck-trips": 5_967,
        "amazon-delivery": 35_620,
        "ecommerce-shipping": 10_999,
    }
    assert len(raw) == expected_rows[fmt]
    assert result.n_kept + result.n_rejected == len(raw)
    assert sum(result.reasons.values()) == result.n_rejected
    assert result.rejected["reason"].notna().all()
    for col, dtype in SHIPMENT_COLUMNS.items():
        assert str(result.valid[col].dtype) == dtype, col
    assert result.valid["shipment_id"].is_unique
    strings = result.valid.select_dtypes("string")
    assert not strings.isin(["NaN", "nan", "N/A", ""]).any().any()
    assert not (strings != strings.apply(lambda s: s.str.strip())).any().any()


@needs_data
def test_scms(imported) -> None:
    raw, result = imported["scms"]
    v = result.valid
    assert result.reasons["duplicate record"] == 4
    assert 1_800 <= result.reasons[scms.NO_CREATION_DATE] <= 2_100
    every = pd.concat([v, result.rejected])
    assert (
        pd.Timestamp("2006-05-01", tz="UTC")
        <= every["promised_at"].min()
        < pd.Timestamp("2006-06-01", tz="UTC")
    )
    assert (
        pd.Timestamp("2014-08-01", tz="UTC")
        <= every["promised_at"].max()
        < pd.Timestamp("2014-09-01", tz="UTC")
    )
    assert v["promised_at"].between(every["promised_at"].min(), every["promised_at"].max()).all()
    for col in ("created_at", "promised_at", "delivered_at"):
        assert (v[col] == v[col].dt.normalize()).all(), col  # day precision: midnight UTC
    # README: 11.6% delivered after schedule among all rows with both dates (kept or rejected).
    assert (every["delivered_at"] > every["promised_at"]).mean() == pytest.approx(0.116, abs=0.001)
    # Kept rows: exactly the raw file's share over the same rows. It is higher (~14.6%) because the rows
    # without a PO/PQ date, rejected by the contract, are almost never late.
    kept_raw = raw[("scms-" + raw["ID"]).isin(v["shipment_id"])]
    scheduled = pd.to_datetime(kept_raw["Scheduled Delivery Date"], format="%d-%b-%y")
    delivered = pd.to_datetime(kept_raw["Delivered to Client Date"], format="%d-%b-%y")
    assert _late_share(v) == pytest.approx((delivered > scheduled).mean(), abs=1e-12)
    assert set(v["service"]) == {"air", "truck", "air_charter", "ocean", "unknown"}
    assert v["destination_country"].str.fullmatch(r"[A-Z]{2}").all() and "ZZ" not in set(
        v["destination_country"]
    )
    assert (v.loc[v["attr_fulfill_via"] == "from rdc", "origin_country"] == "ZZ").all()
    # days from quote to order only where the order moment is the PO and the quote is dated too
    gap = v["attr_quote_to_order_days"]
    assert gap.notna().sum() > 1_000 and (gap.dropna() >= 0).mean() > 0.99
    assert gap[v["attr_created_from"] == "pq"].isna().all()
    assert v["attr_project_code"].str.fullmatch(r"\d{3}-[A-Z]{2}-[A-Z0-9]+(-[A-Z0-9]+)*").mean() > 0.95
    text_weight = ~raw["Weight (Kilograms)"].str.fullmatch(r"[\d.]+")
    assert text_weight.sum() > 2_000
    assert v.loc[v["shipment_id"].isin("scms-" + raw.loc[text_weight, "ID"]), "weight_kg"].isna().all()


@needs_data
def test_truck_trips(imported) -> None:
    raw, result = imported["truck-trips"]
    v = result.valid
    assert result.reasons["duplicate shipment_id"] == raw["BookingID"].duplicated().sum()
    booked = v["created_at"].dt.tz_convert(IST)
    assert pd.Timestamp("2019-03-01", tz=IST) <= booked.min() < pd.Timestamp("2019-04-01", tz=IST)
    assert pd.Timestamp("2020-08-17", tz=IST) <= booked.max() < pd.Timestamp("2020-08-18", tz=IST)
    assert _late_share(v) == pytest.approx(0.705, abs=0.02)
    for side in ("origin", "destination"):
        lat, lon = v[f"{side}_lat"], v[f"{side}_lon"]
        assert lat.notna().all() and lat.between(*INDIA_BBOX[:2]).all() and lon.between(*INDIA_BBOX[2:]).all()
    # destinations are `Des_lat_lon`, not the GPS ping `Curr_lat` / `Curr_lon`
    first = raw.drop_duplicates("BookingID").set_index("truck-" + raw["BookingID"].drop_duplicates())
    first = first.loc[v["shipment_id"]]
    des_lat = pd.to_numeric(first["Des_lat_lon"].str.split(",").str[0]).to_numpy()
    assert np.allclose(v["destination_lat"].to_numpy(), des_lat)
    assert not np.allclose(
        v["destination_lat"].to_numpy(), pd.to_numeric(first["Curr_lat"]).to_numpy(), atol=0.5
    )
    assert (v["shipped_at"].dropna() >= v.loc[v["shipped_at"].notna(), "created_at"]).all()
    assert v["delivered_at"].max() <= pd.Timestamp("2020-08-28 12:05:08", tz=IST)  # nothing after the export
    # no arrival sooner than 80 km/h over the route allows; the bookings closed at once are rejected
    hours = (v["delivered_at"] - v["created_at"]).dt.total_seconds() / 3600
    assert not (v["distance_km"] > truck_trips.MAX_TRUCK_KMH * hours).any()
    assert result.reasons[truck_trips.TOO_FAST] == 115 and (hours.dropna() < 0.5).sum() < 5
    assert set(v["attr_market_regular"]) == {"market", "regular"}
    assert not v["attr_vehicle_type"].str.contains("|", regex=False).any()


@needs_data
def test_amazon_delivery(imported) -> None:
    raw, result = imported["amazon-delivery"]
    v = result.valid
    assert result.reasons == {"missing created_at": int(raw["Order_Time"].str.strip().eq("NaN").sum())}
    ordered = v["created_at"].dt.tz_convert(IST).dt.normalize()
    assert ordered.min() == pd.Timestamp("2022-02-11", tz=IST) and ordered.max() == pd.Timestamp(
        "2022-03-29", tz=IST
    )
    assert (v["shipped_at"] > v["created_at"]).all() and (
        v["shipped_at"] - v["created_at"]
    ).max() <= pd.Timedelta(minutes=15)
    assert v["delivered_late"].isna().all() and v["promised_at"].isna().all()
    for side in ("origin", "destination"):
        lat, lon = v[f"{side}_lat"].dropna(), v[f"{side}_lon"].dropna()
        assert lat.between(*INDIA_BBOX[:2]).all() and lon.between(*INDIA_BBOX[2:]).all()
    kept = raw.set_index("amzn-" + raw["Order_ID"]).loc[v["shipment_id"]]
    zero_store = pd.to_numeric(kept["Store_Latitude"]).eq(0).to_numpy()
    assert (v["origin_lat"].isna().to_numpy() == zero_store).all()  # only the (0, 0) stores are dropped
    assert (v["destination_lat"].isna().to_numpy() == zero_store).all()  # and their drops at (offset, offset)
    assert set(v["attr_area"].dropna()) == {"metropolitan", "urban", "semi-urban", "other"}
    assert set(v["service"]) <= {"motorcycle", "scooter", "van", "bicycle"}
    assert set(v["weather_condition"]) == {"sunny", "stormy", "sandstorms", "cloudy", "fog", "windy"}
    assert v["attr_agent_rating"].dropna().between(1, 5).all()


@needs_data
def test_ecommerce_shipping(imported) -> None:
    raw, result = imported["ecommerce-shipping"]
    v = result.valid
    assert result.n_rejected == 0
    assert _late_share(v) == pytest.approx(pd.to_numeric(raw["Reached.on.Time_Y.N"]).eq(1).mean(), abs=1e-12)
    assert v[["created_at", "shipped_at", "promised_at", "delivered_at"]].isna().all().all()
    assert not any("id" in col.lower().split("_") for col in v.columns if col.startswith("attr_"))
    assert "attr_customer_care_calls" not in v  # enquiries made during transit: not known at creation
    assert set(v[["origin_country", "destination_country"]].stack()) == {"ZZ"}
    assert v["weight_kg"].max() < 10


@needs_data
def test_cli_import_prints_counts_and_writes_contract_parquet(tmp_path: Path, capsys) -> None:
    out, rejected = tmp_path / "scms.parquet", tmp_path / "rejected.parquet"
    assert (
        main(["import", "scms", str(DATA / FILES["scms"]), "--out", str(out), "--rejected", str(rejected)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "scms shipments: kept 6," in printed and f"wrote {out}" in printed
    for reason in (scms.NO_CREATION_DATE, "duplicate record", "delivered_at before created_at"):
        assert f": {reason}\n" in printed
    back = pd.read_parquet(out)
    for col, dtype in SHIPMENT_COLUMNS.items():
        assert str(back[col].dtype) == dtype, col
    assert len(back) + len(pd.read_parquet(rejected)) == 8_869
