//! The rotation policy: how old a key may get before it is due for rotation —
//! `max_age_days` (default 90) for every key, per provider and per key — and what it says
//! about a key now (its age, when it is due, whether it is). The settings come from
//! `[rotation]` in a repository's `.keywarden.toml` and in the user's configuration; for a
//! key the most specific setting wins (per key, then per provider, then the default), and
//! at the same level the repository's beats the user's.
//!
//! ```toml
//! [rotation]
//! max_age_days = 90
//! [rotation.providers]
//! openai = 30
//! [rotation.keys]
//! openai-prod = 14
//! ```

use super::KeyRecord;
use crate::core::provider::ProviderId;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use thiserror::Error;

/// How old a key may get when nothing says otherwise (CIS's 90 days for access keys).
pub const DEFAULT_MAX_AGE_DAYS: u32 = 90;
/// The largest `max_age_days` accepted (a hundred years).
pub const MAX_AGE_LIMIT: u32 = 36_500;

/// A `[rotation]` setting that is not valid. `key` is its dotted name
/// (`rotation.providers.openai`), `needle` the text to find its line by.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key}: {message}")]
pub struct SettingError {
    pub key: String,
    pub needle: String,
    pub message: String,
}

/// One configuration file's `[rotation]` table, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationSettings {
    pub max_age_days: Option<u32>,
    pub providers: BTreeMap<ProviderId, u32>,
    pub keys: BTreeMap<String, u32>,
}

impl RotationSettings {
    /// Reads a `[rotation]` table: `max_age_days`, `[rotation.providers]` (known provider
    /// ids) and `[rotation.keys]` (key names), each a whole number of days from 1 to
    /// 36 500. Anything else is an error naming the setting.
    pub fn from_toml(table: &toml::Table) -> Result<Self, SettingError> {
        let mut settings = RotationSettings::default();
        for (name, value) in table {
            match name.as_str() {
                "max_age_days" => {
                    settings.max_age_days = Some(days("rotation.max_age_days", name, value)?)
                }
                "providers" => {
                    for (provider, value) in section("rotation.providers", name, value)? {
                        let key = format!("rotation.providers.{provider}");
                        let id: ProviderId = provider.parse().map_err(|_| SettingError {
                            key: key.clone(),
                            needle: provider.clone(),
                            message: format!(
                                "unknown provider (one of: {})",
                                ProviderId::ALL.map(ProviderId::as_str).join(", ")
                            ),
                        })?;
                        settings.providers.insert(id, days(&key, provider, value)?);
                    }
                }
                "keys" => {
                    for (key_name, value) in section("rotation.keys", name, value)? {
                        let key = format!("rotation.keys.{key_name}");
                        if !is_key_name(key_name) {
                            return Err(SettingError {
                                key,
                                needle: key_name.clone(),
                                message: "not a key name (letters, digits, `-`, `_` and `.`)"
                                    .to_string(),
                            });
                        }
                        settings
                            .keys
                            .insert(key_name.clone(), days(&key, key_name, value)?);
                    }
                }
                other => {
                    return Err(SettingError {
                        key: format!("rotation.{other}"),
                        needle: other.to_string(),
                        message: "unknown setting (max_age_days, providers, keys)".to_string(),
                    })
                }
            }
        }
        Ok(settings)
    }
}

fn section<'a>(
    key: &str,
    needle: &str,
    value: &'a toml::Value,
) -> Result<&'a toml::Table, SettingError> {
    value.as_table().ok_or_else(|| SettingError {
        key: key.to_string(),
        needle: needle.to_string(),
        message: "must be a table of names and days".to_string(),
    })
}

fn days(key: &str, needle: &str, value: &toml::Value) -> Result<u32, SettingError> {
    match value.as_integer() {
        Some(n) if (1..=i64::from(MAX_AGE_LIMIT)).contains(&n) => {
            Ok(u32::try_from(n).expect("checked to be in range"))
        }
        _ => Err(SettingError {
            key: key.to_string(),
            needle: needle.to_string(),
            message: format!(
                "must be a whole number of days from 1 to {MAX_AGE_LIMIT}, not `{value}`"
            ),
        }),
    }
}

fn is_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The settings that apply, most important first (the repository's, then the user's).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    layers: Vec<RotationSettings>,
}

/// Where a key stands with the policy now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Whole days since it was created (or first seen).
    pub age_days: i64,
    pub max_age_days: u32,
    /// When it is (or was) due.
    pub due_at: DateTime<Utc>,
    pub due: bool,
    /// A revoked key is never due: it is dead already.
    pub revoked: bool,
}

impl Standing {
    /// Whole days until it is due (0 or less: due).
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.due_at - now).num_days()
    }
}

impl Policy {
    /// `repo` (a repository's `.keywarden.toml`) before `user` (the user's configuration).
    pub fn new(repo: Option<&RotationSettings>, user: Option<&RotationSettings>) -> Self {
        Policy {
            layers: repo.into_iter().chain(user).cloned().collect(),
        }
    }

    /// The age a key may reach: per key, else per provider, else the default.
    pub fn max_age_days(&self, record: &KeyRecord) -> u32 {
        let by_key = self.layers.iter().find_map(|l| l.keys.get(&record.name));
        let by_provider = || {
            self.layers
                .iter()
                .find_map(|l| l.providers.get(&record.provider))
        };
        let default = || self.layers.iter().find_map(|l| l.max_age_days.as_ref());
        by_key
            .or_else(by_provider)
            .or_else(default)
            .copied()
            .unwrap_or(DEFAULT_MAX_AGE_DAYS)
    }

    /// The key's age and whether it is due at `now`.
    pub fn standing(&self, record: &KeyRecord, now: DateTime<Utc>) -> Standing {
        let max_age_days = self.max_age_days(record);
        let due_at = record.born() + Duration::days(i64::from(max_age_days));
        let revoked = record.revoked.is_some();
        Standing {
            age_days: age_days(record.born(), now),
            max_age_days,
            due_at,
            due: !revoked && due_at <= now,
            revoked,
        }
    }
}

/// Whole days from `born` to `now` (never negative).
pub fn age_days(born: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - born).num_days().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::registry::Location;

    fn table(text: &str) -> toml::Table {
        text.parse().expect("toml")
    }

    fn record(name: &str, provider: ProviderId, added: &str) -> KeyRecord {
        KeyRecord {
            name: name.to_string(),
            provider,
            env_var: "X".to_string(),
            fingerprint: "sha256:00".to_string(),
            redacted: "x…y".to_string(),
            created: None,
            added: DateTime::parse_from_rfc3339(added)
                .expect("time")
                .with_timezone(&Utc),
            last_rotated: None,
            last_used: None,
            remote_id: None,
            revoked: None,
            locations: vec![Location::file("/r/.env")],
            in_keyring: true,
            pending_revocation: None,
            retired: Vec::new(),
        }
    }

    #[test]
    fn the_most_specific_setting_wins_and_the_repository_beats_the_user() {
        let user = RotationSettings::from_toml(&table(
            "max_age_days = 60\n[providers]\nopenai = 45\n[keys]\nprod = 14\n",
        ))
        .expect("valid");
        let repo =
            RotationSettings::from_toml(&table("max_age_days = 120\n[providers]\nopenai = 30\n"))
                .expect("valid");
        let policy = Policy::new(Some(&repo), Some(&user));
        let added = "2026-01-01T00:00:00Z";
        assert_eq!(
            policy.max_age_days(&record("prod", ProviderId::OpenAi, added)),
            14
        );
        assert_eq!(
            policy.max_age_days(&record("dev", ProviderId::OpenAi, added)),
            30
        );
        assert_eq!(
            policy.max_age_days(&record("gh", ProviderId::GitHub, added)),
            120
        );
        assert_eq!(
            Policy::default().max_age_days(&record("gh", ProviderId::GitHub, added)),
            DEFAULT_MAX_AGE_DAYS
        );
    }

    #[test]
    fn a_key_is_due_once_its_age_reaches_the_limit_unless_revoked() {
        let policy = Policy::default();
        let mut key = record("k", ProviderId::OpenAi, "2026-01-01T00:00:00Z");
        let at = |t: &str| {
            DateTime::parse_from_rfc3339(t)
                .expect("t")
                .with_timezone(&Utc)
        };
        let before = policy.standing(&key, at("2026-03-31T23:00:00Z"));
        assert_eq!(before.age_days, 89);
        assert!(!before.due);
        assert_eq!(before.days_left(at("2026-03-31T00:00:00Z")), 1);
        let after = policy.standing(&key, at("2026-05-11T00:00:00Z"));
        assert!(after.due);
        assert_eq!(after.age_days, 130);
        key.revoked = Some(crate::core::registry::Revoked {
            at: at("2026-02-01T00:00:00Z"),
            how: crate::core::registry::RevokedHow::Api,
            detail: None,
        });
        assert!(!policy.standing(&key, at("2026-05-11T00:00:00Z")).due);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        for (text, key, needle) in [
            ("max_age_days = 0", "rotation.max_age_days", "max_age_days"),
            (
                "max_age_days = \"ninety\"",
                "rotation.max_age_days",
                "max_age_days",
            ),
            (
                "[providers]\nopnai = 30",
                "rotation.providers.opnai",
                "opnai",
            ),
            (
                "[providers]\nopenai = -1",
                "rotation.providers.openai",
                "openai",
            ),
            ("[keys]\nprod = 1.5", "rotation.keys.prod", "prod"),
            ("providers = 3", "rotation.providers", "providers"),
            ("max_age = 3", "rotation.max_age", "max_age"),
        ] {
            let err = RotationSettings::from_toml(&table(text)).expect_err(text);
            assert_eq!(err.key, key, "{text}");
            assert_eq!(err.needle, needle, "{text}");
            assert!(err.to_string().starts_with(key), "{err}");
        }
    }
}
