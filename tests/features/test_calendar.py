import datetime as dt

import numpy as np

from features.calendar import HolidayCalendar, day_number, weekday


def days(*dates: dt.date) -> np.ndarray:
    return np.array([day_number(d) for d in dates])


def test_weekday_numbers_follow_the_calendar() -> None:
    assert list(weekday(days(dt.date(2024, 12, 23), dt.date(2024, 12, 29)))) == [0, 6]


def test_christmas_is_a_holiday_in_germany_and_unknown_countries_have_none() -> None:
    cal = HolidayCalendar(2024, 2024)
    christmas = days(dt.date(2024, 12, 25), dt.date(2024, 12, 25))
    assert list(cal.is_holiday(np.array(["DE", "ZZ"]), christmas)) == [True, False]


def test_business_days_skip_weekends_and_public_holidays() -> None:
    cal = HolidayCalendar(2024, 2024)
    start = days(dt.date(2024, 12, 23))  # Monday; 25 and 26 December are holidays in Germany
    assert cal.business_days_between(np.array(["DE"]), start, start + 7)[0] == 3
    assert cal.business_days_between(np.array(["ZZ"]), start, start + 7)[0] == 5


def test_days_to_next_holiday_counts_from_the_given_day() -> None:
    cal = HolidayCalendar(2024, 2024)
    assert cal.days_to_next_holiday(np.array(["DE"]), days(dt.date(2024, 12, 20)))[0] == 5
