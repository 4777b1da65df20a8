//! The one clock. Every date keywarden records or compares (key ages, rotation reminders,
//! purge stamps, incident timelines) comes from here, so `KEYWARDEN_NOW` moves all of them
//! together.

use chrono::{DateTime, Utc};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("KEYWARDEN_NOW is not an RFC 3339 time (such as 2026-01-02T03:04:05Z): `{0}`")]
pub struct BadNow(pub String);

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
}
