//! The one clock. Every date keywarden records or compares (key ages, rotation reminders,
//! purge stamps, incident timelines) comes from here, so `KEYWARDEN_NOW` moves all of them
//! together.

use chrono::{DateTime, Utc};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("KEYWARDEN_NOW is not an RFC 3339 time (such as 2026-01-02T03:04:05Z): `{0}`")]
pub struct BadNow(pub String);

#[derive(Debug, Error)]
#[error("`{0}` is not a duration: a whole number and a unit, such as 90m, 2h, 3d or 1w (at most a year)")]
pub struct BadDuration(pub String);

/// A span of time as people write it: a whole number and `s`, `m`, `h`, `d` or `w`
/// (`90m`, `2h`, `3d`), more than zero and at most a year.
pub fn parse_duration(text: &str) -> Result<chrono::Duration, BadDuration> {
    let bad = || BadDuration(text.to_string());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(bad)?;
    let (number, unit) = trimmed.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let seconds = n.checked_mul(seconds_per).ok_or_else(bad)?;
    if seconds == 0 || seconds > 366 * 86_400 {
        return Err(bad());
    }
    Ok(chrono::Duration::seconds(seconds))
}

/// The system clock, or a fixed instant (tests, reminders).
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    fixed: Option<DateTime<Utc>>,
}

impl Clock {
    pub fn system() -> Self {
        Clock { fixed: None }
    }

    pub fn fixed(at: DateTime<Utc>) -> Self {
        Clock { fixed: Some(at) }
    }

    /// The clock `KEYWARDEN_NOW` asks for: its value when set and not blank, else the
    /// system clock.
    pub fn from_setting(value: Option<&str>) -> Result<Self, BadNow> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(Clock::system()),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|t| Clock::fixed(t.with_timezone(&Utc)))
                .map_err(|_| BadNow(text.to_string())),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.fixed.unwrap_or_else(Utc::now)
    }

    /// A UTC stamp for file and directory names (`20260102T030405Z`).
    pub fn stamp(&self) -> String {
        self.now().format("%Y%m%dT%H%M%SZ").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stands_still_and_a_blank_setting_means_the_system_clock() {
        let clock = Clock::from_setting(Some(" 2026-01-02T03:04:05+01:00 ")).expect("valid");
        assert_eq!(clock.now().to_rfc3339(), "2026-01-02T02:04:05+00:00");
        assert_eq!(clock.stamp(), "20260102T020405Z");
        assert!(Clock::from_setting(Some("  "))
            .expect("blank")
            .fixed
            .is_none());
        assert!(Clock::from_setting(None).expect("unset").fixed.is_none());
        let err = Clock::from_setting(Some("yesterday")).expect_err("invalid");
        assert!(err.to_string().contains("`yesterday`"), "{err}");
    }

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert_eq!(parse_duration("2h").expect("2h").num_minutes(), 120);
        assert_eq!(parse_duration(" 90m ").expect("90m").num_minutes(), 90);
        assert_eq!(parse_duration("1w").expect("1w").num_days(), 7);
        for bad in [
            "",
            "2",
            "h",
            "0h",
            "2 h",
            "2hours",
            "-1d",
            "400d",
            "99999999999999999w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
