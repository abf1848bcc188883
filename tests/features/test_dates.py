import datetime as dt

import pandas as pd

from features.calendar import HolidayCalendar
from features.dates import DeliveryCalendar, learn_delivery_weekdays, local_dates


def test_local_dates_follow_the_destination_time_zone() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-03-01T23:30:00Z", "2024-03-01T23:30:00Z"], utc=True))
    assert list(local_dates(stamps, pd.Series(["DE", "US"]))) == [dt.date(2024, 3, 2), dt.date(2024, 3, 1)]


def test_delivery_weekdays_are_read_off_past_deliveries() -> None:
    weekdays = pd.date_range("2024-01-01T12:00:00Z", periods=120, freq="D")
    delivered = pd.Series(weekdays[weekdays.day_of_week < 5])  # never on weekends
    learned = learn_delivery_weekdays(
        delivered, pd.Series("DE", index=delivered.index), pd.Series("ups", index=delivered.index)
    )
    assert learned == {"ups": [0, 1, 2, 3, 4]}


def test_dates_move_onto_the_carriers_delivery_days_around_holidays() -> None:
    cal = DeliveryCalendar(HolidayCalendar(2024, 2025), {"ups": [0, 1, 2, 3, 4], "dpd": [0, 1, 2, 3, 4, 5]})
    christmas = dt.date(2024, 12, 25)  # Wednesday; 26 December is a holiday in Germany too
    assert cal.shift("ups", "DE", christmas, forward=True) == dt.date(2024, 12, 27)
    assert cal.shift("ups", "DE", dt.date(2024, 12, 29), forward=False) == dt.date(2024, 12, 27)
    assert cal.shift("dpd", "DE", dt.date(2024, 12, 29), forward=False) == dt.date(2024, 12, 28)
