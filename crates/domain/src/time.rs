use std::fmt;
use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// A point in time as whole seconds since the Unix epoch.
///
/// Engines never read the clock themselves: the HTTP edge calls [`Timestamp::now`] once per
/// request and passes the value in, so expiry rules are deterministic under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

/// A duration in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Seconds(pub i64);

impl Seconds {
    pub const fn minutes(minutes: i64) -> Self {
        Self(minutes * 60)
    }

    pub const fn hours(hours: i64) -> Self {
        Self(hours * 3600)
    }
}

impl Timestamp {
    /// Reads the system clock. Call this at the edge only (enforced by `clippy.toml`).
    #[allow(clippy::disallowed_methods)]
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self(i64::try_from(since_epoch).unwrap_or(i64::MAX))
    }
}

impl Timestamp {
    /// The time in UTC as people read it, e.g. `2026-11-23 09:41 UTC`.
    pub fn to_utc_string(self) -> String {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
            secs / 3600,
            secs % 3600 / 60
        )
    }
}

impl Timestamp {
    /// An XML Schema `dateTime` in UTC, as SAML writes instants: `2026-11-23T09:41:07Z`.
    pub fn to_xml_datetime(self) -> String {
        let (year, month, day) = self.date();
        let secs = self.0.rem_euclid(86_400);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }

    /// The UTC calendar date: year, month (1–12), day (1–31).
    pub fn date(self) -> (i64, i64, i64) {
        civil_from_days(self.0.div_euclid(86_400))
    }

    /// Midnight UTC at the start of a calendar date written `YYYY-MM-DD` (what an HTML date
    /// input sends); `None` for anything else, including dates that do not exist.
    pub fn from_date(text: &str) -> Option<Timestamp> {
        let mut parts = text.trim().splitn(3, '-');
        let mut number = |digits: usize| {
            parts
                .next()
                .filter(|part| part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|part| part.parse::<i64>().ok())
        };
        let (year, month, day) = (number(4)?, number(2)?, number(2)?);
        let days = days_from_civil(year, month, day);
        let start = Timestamp(days * 86_400);
        // A date that does not exist (`2026-02-30`) comes back as another one.
        (start.date() == (year, month, day)).then_some(start)
    }
}

impl Add<Seconds> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Seconds) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Seconds> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Seconds) -> Timestamp {
        Timestamp(self.0.saturating_sub(rhs.0))
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Seconds;
    fn sub(self, rhs: Timestamp) -> Seconds {
        Seconds(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Timestamp {
    /// Formats as an RFC 3339 UTC date and time, without pulling in a calendar crate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs_of_day = self.0.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs_of_day / 3600,
            (secs_of_day % 3600) / 60,
            secs_of_day % 60
        )
    }
}

/// Howard Hinnant's civil-to-days algorithm, the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_xml_datetimes() {
        assert_eq!(Timestamp(0).to_xml_datetime(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp(1_795_448_417).to_xml_datetime(),
            "2026-11-23T15:40:17Z"
        );
        assert_eq!(Timestamp(1_795_448_417).date(), (2026, 11, 23));
    }

    #[test]
    fn formats_utc_dates_people_read() {
        assert_eq!(Timestamp(0).to_utc_string(), "1970-01-01 00:00 UTC");
        assert_eq!(
            Timestamp(1_795_426_860).to_utc_string(),
            "2026-11-23 09:41 UTC"
        );
        assert_eq!(
            Timestamp(951_782_400).to_utc_string(),
            "2000-02-29 00:00 UTC"
        );
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp(1_795_424_461).to_string(), "2026-11-23T09:01:01Z");
    }

    #[test]
    fn reads_calendar_dates_and_refuses_others() {
        assert_eq!(Timestamp::from_date("1970-01-01"), Some(Timestamp(0)));
        assert_eq!(
            Timestamp::from_date("2000-02-29"),
            Some(Timestamp(951_782_400))
        );
        assert_eq!(
            Timestamp::from_date("2026-11-23"),
            Some(Timestamp(1_795_392_000))
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "26-01-01",
            "2026-1-01",
            "",
            "2026-01-01x",
        ] {
            assert_eq!(Timestamp::from_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Timestamp(i64::MAX) + Seconds(1), Timestamp(i64::MAX));
        assert_eq!(Timestamp(100) - Timestamp(40), Seconds(60));
    }
}
