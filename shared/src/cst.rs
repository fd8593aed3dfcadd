//! China Standard Time (UTC+8, no daylight saving): the days, months and
//! years of the province, as pure functions over Unix seconds.
//!
//! Validity dates, push deadlines, the evaluation's months and a check's
//! day are all local days; this is the one place that turns Unix seconds
//! into them and back. Nothing here reads the clock: `now` is an argument.

use time::{Date, Month, OffsetDateTime, Weekday};

/// China Standard Time's offset from UTC, seconds.
pub const OFFSET_SECONDS: i64 = 8 * 3600;

/// Seconds in a day.
pub const DAY_SECONDS: i64 = 86_400;

/// The China Standard Time calendar day at Unix time `at` (`Date::MIN`
/// outside the calendar's range).
pub fn date(at: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(at.saturating_add(OFFSET_SECONDS))
        .map_or(Date::MIN, |t| t.date())
}

/// `YYYY-MM-DD HH:MM:SS` in China Standard Time at Unix time `at` (the
/// Unix seconds as digits outside the calendar's range).
pub fn datetime_text(at: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(at.saturating_add(OFFSET_SECONDS)) {
        Ok(t) => format!(
            "{} {:02}:{:02}:{:02}",
            t.date(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => at.to_string(),
    }
}

/// RFC 3339 in China Standard Time at Unix time `at`, e.g.
/// `2026-03-01T08:00:00+08:00` (the Unix seconds as digits outside the
/// calendar's range).
pub fn rfc3339(at: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(at.saturating_add(OFFSET_SECONDS)) {
        Ok(t) => format!(
            "{}T{:02}:{:02}:{:02}+08:00",
            t.date(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => at.to_string(),
    }
}

/// The China Standard Time year at Unix time `at`.
pub fn year(at: i64) -> i32 {
    date(at).year()
}

/// Unix seconds of 00:00 China Standard Time on `day`.
pub fn day_start(day: Date) -> i64 {
    (i64::from(day.to_julian_day()) - 2_440_588) * DAY_SECONDS - OFFSET_SECONDS
}

/// The number of the China Standard Time day at Unix time `at`, counted
/// from 1970-01-01 (a key for "the same local day").
pub fn day_number(at: i64) -> i64 {
    at.saturating_add(OFFSET_SECONDS).div_euclid(DAY_SECONDS)
}

/// Unix seconds of 00:00 China Standard Time on the first of `month` of
/// `year`; `month` 13 is January of the next year. 0 for a month that is
/// not 1 to 13 or a year out of range.
pub fn month_start(year: i32, month: u8) -> i64 {
    let (y, m) = if month > 12 {
        (year.saturating_add(1), 1)
    } else {
        (year, month)
    };
    Month::try_from(m)
        .ok()
        .and_then(|m| Date::from_calendar_date(y, m, 1).ok())
        .map_or(0, day_start)
}

/// Whether `day` is a working day: Monday to Friday. Public holidays and
/// their make-up working days are not known, so a holiday counts as a
/// working day.
pub fn is_working_day(day: Date) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Unix seconds of 00:00 China Standard Time on the day after the
/// `working_days`-th working day following the local day of `at`.
pub fn after_working_days(at: i64, working_days: u32) -> i64 {
    let mut day = date(at);
    let mut counted = 0;
    while counted < working_days {
        day = day.next_day().unwrap_or(day);
        if is_working_day(day) {
            counted += 1;
        }
    }
    day_start(day.next_day().unwrap_or(day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    /// 2026-06-01 00:00 China Standard Time (a Monday).
    const JUNE_1: i64 = 1_780_243_200;

    #[test]
    fn days_turn_at_local_midnight() {
        assert_eq!(day_start(date!(2026 - 06 - 01)), JUNE_1);
        assert_eq!(date(JUNE_1), date!(2026 - 06 - 01));
        assert_eq!(date(JUNE_1 - 1), date!(2026 - 05 - 31));
        assert_eq!(day_number(JUNE_1) - day_number(JUNE_1 - 1), 1);
        assert_eq!(day_number(JUNE_1), day_number(JUNE_1 + DAY_SECONDS - 1));
        assert_eq!(year(month_start(2027, 1) - 1), 2026);
        assert_eq!(year(month_start(2027, 1)), 2027);
    }

    #[test]
    fn months_and_the_thirteenth() {
        assert_eq!(month_start(2026, 6), JUNE_1);
        assert_eq!(month_start(2026, 13), month_start(2027, 1));
        assert_eq!(month_start(2026, 0), 0);
        assert_eq!(month_start(2026, 14), month_start(2027, 1));
    }

    #[test]
    fn working_days_skip_weekends() {
        // Monday → due at the start of Thursday.
        assert_eq!(
            after_working_days(JUNE_1 + 3600, 2),
            JUNE_1 + 3 * DAY_SECONDS
        );
        // Friday 2026-06-05 → Monday, Tuesday → due Wednesday 06-10.
        let friday = JUNE_1 + 4 * DAY_SECONDS;
        assert_eq!(
            after_working_days(friday, 2),
            day_start(date!(2026 - 06 - 10))
        );
        assert!(!is_working_day(date!(2026 - 06 - 06)));
    }
}
