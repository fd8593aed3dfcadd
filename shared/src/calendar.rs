//! The national working-day calendar (工作日): weekends, public holidays
//! and adjusted working days (调休), read from a configuration file, and
//! [`WorkingCalendar::add_working_days`] for deadlines such as the §5.3
//! re-push deadline (two working days after a fault ends).
//!
//! Pure: the file's text comes in as an argument ([`WorkingCalendar::from_json`]);
//! the shipped file for 2026–2027 is [`SHIPPED`]. A year the file does not
//! list is counted Monday to Friday, and every answer says which basis it
//! used ([`Basis`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::{Date, Weekday};

use crate::domain::parse_date;

/// The shipped calendar (`shared/data/calendar-cn.json`): 2026 as published
/// by the State Council, 2027's statutory holidays only (its arrangement
/// was not published when the file was made).
pub const SHIPPED: &str = include_str!("../data/calendar-cn.json");

/// How well a year is known, weakest last (an answer that crosses several
/// years reports the weakest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub enum Basis {
    /// The State Council's arrangement for the year, adjusted working days
    /// included.
    Published,
    /// Only the statutory holidays of the year are known; no adjusted
    /// working days.
    StatutoryOnly,
    /// The year is not in the calendar: Monday to Friday.
    WeekdaysOnly,
}

/// Why a calendar file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// Not JSON of the expected shape.
    #[error("calendar file is not valid: {0}")]
    Format(String),
    /// A date that is not `YYYY-MM-DD`.
    #[error("calendar year {year}: bad date {text:?}")]
    BadDate {
        /// The year entry.
        year: i32,
        /// The text found.
        text: String,
    },
    /// A date listed under another year, or a range that ends before it
    /// starts.
    #[error("calendar year {year}: {what}")]
    Inconsistent {
        /// The year entry.
        year: i32,
        /// What is wrong.
        what: String,
    },
    /// The same year twice.
    #[error("calendar year {0} is listed twice")]
    DuplicateYear(i32),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    #[allow(dead_code)]
    about: String,
    years: Vec<YearFormat>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFormat {
    year: i32,
    status: YearStatus,
    #[serde(default)]
    source: String,
    rest_days: Vec<RangeFormat>,
    working_days: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum YearStatus {
    Published,
    StatutoryOnly,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeFormat {
    name: String,
    from: String,
    until: String,
}

/// One year of the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Year {
    basis: Basis,
    source: String,
    rest: BTreeMap<Date, String>,
    work: BTreeSet<Date>,
}

/// The working-day calendar: which days are working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    years: BTreeMap<i32, Year>,
}

/// The answer of [`WorkingCalendar::add_working_days`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingDays {
    /// The last of the working days counted.
    pub date: Date,
    /// The weakest basis of the years the count went through.
    pub basis: Basis,
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

impl Default for WorkingCalendar {
    /// The shipped calendar (its file is checked by the tests; were it
    /// broken, Monday to Friday).
    fn default() -> Self {
        Self::shipped().unwrap_or_else(|_| Self::weekdays_only())
    }
}

impl WorkingCalendar {
    /// A calendar with no year: every answer is Monday to Friday.
    pub fn weekdays_only() -> Self {
        WorkingCalendar {
            years: BTreeMap::new(),
        }
    }

    /// The shipped calendar ([`SHIPPED`]).
    pub fn shipped() -> Result<Self, CalendarError> {
        Self::from_json(SHIPPED)
    }

    /// Reads a calendar file (the format of `shared/data/calendar-cn.json`):
    /// every date must be `YYYY-MM-DD` in its year, ranges in order,
    /// adjusted working days on a weekend and not also a rest day.
    pub fn from_json(text: &str) -> Result<Self, CalendarError> {
        let file: FileFormat =
            serde_json::from_str(text).map_err(|e| CalendarError::Format(e.to_string()))?;
        let mut years = BTreeMap::new();
        for y in file.years {
            let year = y.year;
            let date = |text: &str| -> Result<Date, CalendarError> {
                let d = parse_date(text).map_err(|_| CalendarError::BadDate {
                    year,
                    text: text.to_owned(),
                })?;
                if d.year() != year || text.len() != 10 {
                    return Err(CalendarError::BadDate {
                        year,
                        text: text.to_owned(),
                    });
                }
                Ok(d)
            };
            let mut rest = BTreeMap::new();
            for r in &y.rest_days {
                let (from, until) = (date(&r.from)?, date(&r.until)?);
                if until < from {
                    return Err(CalendarError::Inconsistent {
                        year,
                        what: format!("{} ends before it starts", r.name),
                    });
                }
                let mut d = from;
                while d <= until {
                    rest.insert(d, r.name.clone());
                    match d.next_day() {
                        Some(n) => d = n,
                        None => break,
                    }
                }
            }
            let mut work = BTreeSet::new();
            for w in &y.working_days {
                let d = date(w)?;
                if !is_weekend(d) {
                    return Err(CalendarError::Inconsistent {
                        year,
                        what: format!("adjusted working day {d} is not a Saturday or Sunday"),
                    });
                }
                if rest.contains_key(&d) {
                    return Err(CalendarError::Inconsistent {
                        year,
                        what: format!("{d} is both a rest day and a working day"),
                    });
                }
                work.insert(d);
            }
            let basis = match y.status {
                YearStatus::Published => Basis::Published,
                YearStatus::StatutoryOnly => Basis::StatutoryOnly,
            };
            let entry = Year {
                basis,
                source: y.source,
                rest,
                work,
            };
            if years.insert(year, entry).is_some() {
                return Err(CalendarError::DuplicateYear(year));
            }
        }
        Ok(WorkingCalendar { years })
    }

    /// The years the calendar lists, with their basis and source.
    pub fn years(&self) -> impl Iterator<Item = (i32, Basis, &str)> {
        self.years
            .iter()
            .map(|(y, e)| (*y, e.basis, e.source.as_str()))
    }

    /// How `d`'s year is known.
    pub fn basis(&self, d: Date) -> Basis {
        self.years
            .get(&d.year())
            .map_or(Basis::WeekdaysOnly, |y| y.basis)
    }

    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: Date) -> bool {
        match self.years.get(&d.year()) {
            Some(y) if y.work.contains(&d) => true,
            Some(y) if y.rest.contains_key(&d) => false,
            _ => !is_weekend(d),
        }
    }

    /// The name of the holiday `d` belongs to, if the calendar lists one.
    pub fn holiday(&self, d: Date) -> Option<&str> {
        self.years
            .get(&d.year())
            .and_then(|y| y.rest.get(&d))
            .map(String::as_str)
    }

    /// Unix seconds of 00:00 China Standard Time on the day after the
    /// `n`-th working day following the local day of `at`: the moment a
    /// "within `n` working days" deadline has passed.
    pub fn deadline_after(&self, at: i64, n: u32) -> (i64, Basis) {
        let day = crate::cst::date(at);
        match self.add_working_days(day, n) {
            Some(w) => (
                crate::cst::day_start(w.date) + crate::cst::DAY_SECONDS,
                w.basis,
            ),
            None => (i64::MAX, Basis::WeekdaysOnly),
        }
    }

    /// The `n`-th working day after `date` (`date` itself not counted);
    /// `date` itself for `n` = 0. E.g. a fault that ends on a Friday has
    /// its two working days on Monday and Tuesday: the answer is Tuesday.
    /// `None` only past the end of the calendar type's range.
    pub fn add_working_days(&self, date: Date, n: u32) -> Option<WorkingDays> {
        let mut d = date;
        let mut basis = Basis::Published;
        let mut left = n;
        while left > 0 {
            d = d.next_day()?;
            basis = basis.max(self.basis(d));
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        Some(WorkingDays { date: d, basis })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn shipped() -> WorkingCalendar {
        WorkingCalendar::shipped().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn shipped_years() {
        let c = shipped();
        let years: Vec<(i32, Basis)> = c.years().map(|(y, b, _)| (y, b)).collect();
        assert_eq!(
            years,
            [(2026, Basis::Published), (2027, Basis::StatutoryOnly)]
        );
        // 2026: 7 holidays, 33 rest days listed, 6 adjusted working days.
        let y = &c.years[&2026];
        assert_eq!(y.rest.len(), 3 + 9 + 3 + 5 + 3 + 3 + 7);
        assert_eq!(y.work.len(), 6);
        assert_eq!(c.holiday(date!(2026 - 02 - 17)), Some("春节"));
    }

    #[test]
    fn working_days_table() {
        let c = shipped();
        // (start, n, expected date, basis)
        #[rustfmt::skip]
        let table: &[(Date, u32, Date, Basis)] = &[
            (date!(2026 - 03 - 10), 0, date!(2026 - 03 - 10), Basis::Published),
            // Tuesday → Thursday.
            (date!(2026 - 03 - 10), 2, date!(2026 - 03 - 12), Basis::Published),
            // Friday → Monday, Tuesday.
            (date!(2026 - 03 - 13), 2, date!(2026 - 03 - 17), Basis::Published),
            // Saturday → Monday, Tuesday.
            (date!(2026 - 03 - 14), 2, date!(2026 - 03 - 17), Basis::Published),
            // New Year: Dec 31 (Wed 2025 is out of the file, start day is
            // not counted) → Jan 1–3 rest, Sun Jan 4 worked (调休), Mon Jan 5.
            (date!(2025 - 12 - 31), 2, date!(2026 - 01 - 05), Basis::Published),
            // Spring Festival: Fri Feb 13 → Sat Feb 14 worked, Feb 15–23
            // rest, Tue Feb 24.
            (date!(2026 - 02 - 13), 2, date!(2026 - 02 - 24), Basis::Published),
            // Thu Feb 12 → Fri 13 and Sat 14 (调休).
            (date!(2026 - 02 - 12), 2, date!(2026 - 02 - 14), Basis::Published),
            // Sat Feb 28 is worked: Fri Feb 27 → Sat 28, Mon Mar 2.
            (date!(2026 - 02 - 27), 2, date!(2026 - 03 - 02), Basis::Published),
            // Labour Day: Thu Apr 30 → May 1–5 rest, Wed 6, Thu 7.
            (date!(2026 - 04 - 30), 2, date!(2026 - 05 - 07), Basis::Published),
            // Qingming: Fri Apr 3 → Sat 4–Mon 6 rest, Tue 7, Wed 8.
            (date!(2026 - 04 - 03), 2, date!(2026 - 04 - 08), Basis::Published),
            // National Day: Sat Sep 19 → Sun Sep 20 (调休), Mon 21.
            (date!(2026 - 09 - 19), 2, date!(2026 - 09 - 21), Basis::Published),
            // Sep 30 → Oct 1–7 rest, Thu 8, Fri 9.
            (date!(2026 - 09 - 30), 2, date!(2026 - 10 - 09), Basis::Published),
            // Fri Oct 9 → Sat Oct 10 (调休), Mon 12.
            (date!(2026 - 10 - 09), 2, date!(2026 - 10 - 12), Basis::Published),
            // Into 2027 (statutory only): Thu Dec 31 → Fri Jan 1 rest, Mon 4, Tue 5.
            (date!(2026 - 12 - 31), 2, date!(2027 - 01 - 05), Basis::StatutoryOnly),
            // 2027 Spring Festival Feb 5–8: Thu Feb 4 → Tue 9, Wed 10.
            (date!(2027 - 02 - 04), 2, date!(2027 - 02 - 10), Basis::StatutoryOnly),
            // 2028 is not in the file: Monday to Friday.
            (date!(2028 - 01 - 31), 2, date!(2028 - 02 - 02), Basis::WeekdaysOnly),
        ];
        for &(start, n, want, basis) in table {
            assert_eq!(
                c.add_working_days(start, n),
                Some(WorkingDays { date: want, basis }),
                "{start} + {n}"
            );
        }
        let plain = WorkingCalendar::weekdays_only();
        assert_eq!(
            plain.add_working_days(date!(2026 - 02 - 13), 2),
            Some(WorkingDays {
                date: date!(2026 - 02 - 17),
                basis: Basis::WeekdaysOnly
            })
        );
    }

    #[test]
    fn deadlines_in_china_standard_time() {
        let c = shipped();
        let at = |d: Date, hour: i64| crate::cst::day_start(d) + hour * 3600;
        // A fault ending Monday 2026-06-01 23:00 CST (15:00 UTC): due by the
        // end of Wednesday, i.e. Thursday 00:00 CST.
        assert_eq!(
            c.deadline_after(at(date!(2026 - 06 - 01), 23), 2),
            (
                crate::cst::day_start(date!(2026 - 06 - 04)),
                Basis::Published
            )
        );
        // Ending Friday 2026-06-19... is the Dragon Boat holiday: Jun 19–21
        // rest, so Thursday Jun 18 → Mon 22, Tue 23 → due Wed 24 00:00.
        assert_eq!(
            c.deadline_after(at(date!(2026 - 06 - 18), 10), 2),
            (
                crate::cst::day_start(date!(2026 - 06 - 24)),
                Basis::Published
            )
        );
    }

    #[test]
    fn bad_files_are_refused() {
        let year = |body: &str| format!(r#"{{"years": [{{"year": 2026, {body}}}]}}"#);
        let table: &[(String, &str)] = &[
            ("not json".to_owned(), "not valid"),
            (
                year(r#""status": "published", "rest_days": [], "working_days": ["2026-03-11"]"#),
                "not a Saturday",
            ),
            (
                year(r#""status": "published", "rest_days": [], "working_days": ["2027-01-02"]"#),
                "bad date",
            ),
            (
                year(r#""status": "published", "rest_days": [{"name": "x", "from": "2026-05-05", "until": "2026-05-01"}], "working_days": []"#),
                "ends before",
            ),
            (
                year(r#""status": "published", "rest_days": [{"name": "x", "from": "2026-05-02", "until": "2026-05-03"}], "working_days": ["2026-05-02"]"#),
                "both",
            ),
            (
                year(r#""status": "guessed", "rest_days": [], "working_days": []"#),
                "not valid",
            ),
            (
                year(r#""status": "published", "rest_days": [], "working_days": ["20260314"]"#),
                "bad date",
            ),
            (
                r#"{"years": [{"year": 2026, "status": "published", "rest_days": [], "working_days": []},
                              {"year": 2026, "status": "published", "rest_days": [], "working_days": []}]}"#
                    .to_owned(),
                "twice",
            ),
        ];
        for (text, want) in table {
            match WorkingCalendar::from_json(text) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => assert!(e.to_string().contains(want), "{e} / {text}"),
            }
        }
    }
}
