//! The key registry: what keywarden knows about each stored key — name, provider,
//! environment variable, fingerprint, redacted form, dates (created, first seen, last
//! rotated, last used, revoked) and where it is used — but never the key itself (that lives
//! in the keyring, see `keyring`). Stored as JSON in `registry.json` in keywarden's data
//! directory (`core::environment`), written atomically so a crash never leaves half a file,
//! and changed only under the writers' lock (`lock`), so that concurrent writers never lose
//! each other's keys.
//!
//! Version 2 of the file records locations as `{path, var, repo}`; a version-1 file (its
//! locations plain strings) is read as well and written back as version 2.

pub mod keyring;
pub mod lock;
pub mod policy;

use crate::core::fs::{self, FsError, Mode, SECRET_MODE};
use crate::core::provider::ProviderId;
use chrono::{DateTime, Utc};
use lock::{LockError, LockFile};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] FsError),
    #[error("{path} is not a valid registry")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path} was written by a newer keywarden (registry version {version}); update keywarden"
    )]
    Newer { path: PathBuf, version: u64 },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("no key named `{0}` in the registry")]
    Unknown(String),
    #[error("a key named `{0}` is already in the registry")]
    Exists(String),
}

/// A place a key is used: a file (absolute path), the variable it is assigned to there, and
/// the repository the file belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub var: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<PathBuf>,
}

impl Location {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Location {
            path: path.into(),
            var: None,
            repo: None,
        }
    }

    /// Whether the location lies in a repository whose work tree is one of `roots`.
    pub fn is_in(&self, roots: &[PathBuf]) -> bool {
        roots
            .iter()
            .any(|root| self.repo.as_deref() == Some(root.as_path()) || self.path.starts_with(root))
    }
}

impl<'de> Deserialize<'de> for Location {
    /// Version 2 writes an object; version 1 wrote free text, usually a path, kept as is.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Text(String),
            Fields {
                path: PathBuf,
                #[serde(default)]
                var: Option<String>,
                #[serde(default)]
                repo: Option<PathBuf>,
            },
        }
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Text(text) => Location::file(text),
            Stored::Fields { path, var, repo } => Location { path, var, repo },
        })
    }
}

/// How a key was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevokedHow {
    /// The provider's API accepted the revocation.
    Api,
    /// Revoked by hand at the provider, and then checked dead.
    Manual,
    /// Found dead by a check (`keys check`), however it happened.
    Checked,
}

/// When and how a key was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub at: DateTime<Utc>,
    pub how: RevokedHow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One key, described without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub name: String,
    pub provider: ProviderId,
    pub env_var: String,
    pub fingerprint: String,
    pub redacted: String,
    /// When the provider created the key, where its API says (else its age counts from
    /// `added`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// When keywarden first saw this key.
    pub added: DateTime<Utc>,
    /// When this key replaced the one before it under the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotated: Option<DateTime<Utc>>,
    /// When the provider last saw the key used, where its API says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<DateTime<Utc>>,
    /// The provider's id for the key (`key_…`), once it has been looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revoked>,
    /// Where the key is used.
    #[serde(default)]
    pub locations: Vec<Location>,
    /// Whether the keyring holds the key. A key `install` or `keys import` found in an env
    /// file is only tracked (its age, where it is used) until it is moved into the keyring.
    #[serde(default = "held", skip_serializing_if = "is_held")]
    pub in_keyring: bool,
    /// The key this one replaced, while it still waits to be revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_revocation: Option<PendingRevocation>,
    /// The keys this one replaced, oldest first, and how each was revoked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredKey>,
}

fn held() -> bool {
    true
}

fn is_held(in_keyring: &bool) -> bool {
    *in_keyring
}

/// An old key that a rotation replaced and that is still to be revoked: after a grace
/// period (`rotate --grace`), or because its revocation could not be confirmed yet. The
/// keyring keeps it under [`KeyRecord::retiring_entry`] until then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRevocation {
    pub fingerprint: String,
    pub redacted: String,
    /// When the new key took its place.
    pub replaced: DateTime<Utc>,
    /// When it is to be revoked (the end of the grace period).
    pub not_before: DateTime<Utc>,
}

impl PendingRevocation {
    /// Whether its grace period is over.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.not_before <= now
    }
}

/// A key a rotation replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    pub fingerprint: String,
    pub redacted: String,
    pub replaced: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revoked>,
}

impl KeyRecord {
    /// The date its age counts from.
    pub fn born(&self) -> DateTime<Utc> {
        self.created.unwrap_or(self.added)
    }

    /// Records a place the key is used, once.
    pub fn add_location(&mut self, location: Location) {
        if !self.locations.contains(&location) {
            self.locations.push(location);
        }
    }

    /// Whether the key is used in a repository whose work tree is one of `roots`.
    pub fn is_used_in(&self, roots: &[PathBuf]) -> bool {
        self.locations.iter().any(|l| l.is_in(roots))
    }

    /// The keyring entry a rotation keeps its new key under until every file has it.
    pub fn pending_entry(name: &str) -> String {
        format!("{name}#pending")
    }

    /// The keyring entry that keeps a replaced key until it is revoked.
    pub fn retiring_entry(name: &str) -> String {
        format!("{name}#old")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub version: u32,
    pub keys: Vec<KeyRecord>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            version: Registry::VERSION,
            keys: Vec::new(),
        }
    }
}

impl Registry {
    pub const FILE_NAME: &'static str = "registry.json";
    /// The lock file writers hold, beside the registry.
    pub const LOCK_NAME: &'static str = "registry.lock";
    /// The version this keywarden writes.
    pub const VERSION: u32 = 2;

    /// The registry at `home`, or an empty one when there is none yet. For reading only:
    /// a change goes through `lock`.
    pub fn load(home: &Path) -> Result<Self, RegistryError> {
        let path = home.join(Self::FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Registry::default())
            }
            Err(source) => return Err(RegistryError::Read { path, source }),
        };
        Self::parse(&text, &path)
    }

    /// Reads a registry file of any version this keywarden knows, as the current version.
    fn parse(text: &str, path: &Path) -> Result<Self, RegistryError> {
        #[derive(Deserialize)]
        struct Version {
            version: u64,
        }
        let corrupt = |source| RegistryError::Corrupt {
            path: path.to_path_buf(),
            source,
        };
        let Version { version } = serde_json::from_str(text).map_err(corrupt)?;
        if version > u64::from(Self::VERSION) {
            return Err(RegistryError::Newer {
                path: path.to_path_buf(),
                version,
            });
        }
        // Version 1 differs only in its locations, which `Location` reads in both forms.
        let mut registry: Registry = serde_json::from_str(text).map_err(corrupt)?;
        registry.version = Self::VERSION;
        Ok(registry)
    }

    /// Takes the writers' lock for `home` (waiting for another writer to finish), then
    /// reads the registry under it. Change it and `save` before the lock is dropped.
    pub fn lock(home: &Path) -> Result<LockedRegistry, RegistryError> {
        let lock = LockFile::acquire(&home.join(Self::LOCK_NAME))?;
        let registry = Self::load(home)?;
        Ok(LockedRegistry {
            registry,
            home: home.to_path_buf(),
            _lock: lock,
        })
    }

    fn save_to(&self, home: &Path) -> Result<(), RegistryError> {
        let mut text = serde_json::to_string_pretty(self).expect("the registry serializes");
        text.push('\n');
        write_private(&home.join(Self::FILE_NAME), text.as_bytes())
    }

    pub fn get(&self, name: &str) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.name == name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut KeyRecord> {
        self.keys.iter_mut().find(|k| k.name == name)
    }

    pub fn add(&mut self, record: KeyRecord) -> Result<(), RegistryError> {
        if self.get(&record.name).is_some() {
            return Err(RegistryError::Exists(record.name));
        }
        self.keys.push(record);
        self.keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    /// Adds or replaces the record with the same name.
    pub fn upsert(&mut self, record: KeyRecord) {
        self.keys.retain(|k| k.name != record.name);
        self.keys.push(record);
        self.keys.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn remove(&mut self, name: &str) -> Result<KeyRecord, RegistryError> {
        let index = self
            .keys
            .iter()
            .position(|k| k.name == name)
            .ok_or_else(|| RegistryError::Unknown(name.to_string()))?;
        Ok(self.keys.remove(index))
    }

    pub fn find_by_fingerprint(&self, fingerprint: &str) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.fingerprint == fingerprint)
    }

    pub fn find_by_fingerprint_mut(&mut self, fingerprint: &str) -> Option<&mut KeyRecord> {
        self.keys.iter_mut().find(|k| k.fingerprint == fingerprint)
    }
}

/// The registry, read under the writers' lock, which is held until this is dropped.
#[derive(Debug)]
pub struct LockedRegistry {
    registry: Registry,
    home: PathBuf,
    _lock: LockFile,
}

impl LockedRegistry {
    /// Writes the registry (atomically), still holding the lock.
    pub fn save(&self) -> Result<(), RegistryError> {
        self.registry.save_to(&self.home)
    }
}

impl std::ops::Deref for LockedRegistry {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        &self.registry
    }
}

impl std::ops::DerefMut for LockedRegistry {
    fn deref_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }
}

/// Writes a private file (exactly [`SECRET_MODE`]) of keywarden's data directory through the
/// one atomic write, creating the directory first when it is missing.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), RegistryError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| RegistryError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(fs::write_atomic(path, data, Mode::Exact(SECRET_MODE))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> KeyRecord {
        KeyRecord {
            name: name.to_string(),
            provider: ProviderId::OpenAi,
            env_var: "OPENAI_API_KEY".to_string(),
            fingerprint: crate::core::secret::fingerprint(name),
            redacted: "sk-proj-Ab…Yz9Q".to_string(),
            created: None,
            added: DateTime::from_timestamp(1_700_000_000, 0).expect("valid time"),
            last_rotated: None,
            last_used: None,
            remote_id: None,
            revoked: None,
            locations: vec![Location {
                path: "/w/app/.env".into(),
                var: Some("OPENAI_API_KEY".to_string()),
                repo: Some("/w/app".into()),
            }],
            in_keyring: true,
            pending_revocation: None,
            retired: Vec::new(),
        }
    }

    #[test]
    fn round_trips_sorted_and_refuses_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut registry = Registry::lock(dir.path()).expect("empty registry");
        assert!(registry.keys.is_empty());
        registry.add(record("b")).expect("add b");
        registry.add(record("a")).expect("add a");
        assert!(matches!(
            registry.add(record("a")),
            Err(RegistryError::Exists(_))
        ));
        registry.save().expect("save");
        let loaded = Registry::load(dir.path()).expect("load");
        assert_eq!(loaded, *registry);
        assert_eq!(loaded.version, 2);
        assert_eq!(loaded.keys[0].name, "a");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(Registry::FILE_NAME))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_version_1_registry_is_read_and_written_back_as_version_2() {
        let dir = tempfile::tempdir().expect("tempdir");
        let v1 = r#"{
  "version": 1,
  "keys": [
    {
      "name": "openai-prod",
      "provider": "openai",
      "env_var": "OPENAI_API_KEY",
      "fingerprint": "sha256:00",
      "redacted": "sk-proj-Ab…Yz9Q",
      "added": "2026-01-01T00:00:00Z",
      "locations": ["api/.env", "CI settings"]
    },
    {
      "name": "db",
      "provider": "generic",
      "env_var": "DB",
      "fingerprint": "sha256:01",
      "redacted": "co…42",
      "created": "2025-06-01T00:00:00Z",
      "added": "2026-01-01T00:00:00Z"
    }
  ]
}
"#;
        std::fs::write(dir.path().join(Registry::FILE_NAME), v1).expect("write");
        let registry = Registry::lock(dir.path()).expect("a version-1 registry reads");
        assert_eq!(registry.version, 2);
        let prod = registry.get("openai-prod").expect("kept");
        assert_eq!(prod.provider, ProviderId::OpenAi);
        assert_eq!(
            prod.locations,
            vec![Location::file("api/.env"), Location::file("CI settings")]
        );
        assert_eq!(prod.revoked, None);
        let db = registry.get("db").expect("kept");
        assert_eq!(db.provider, ProviderId::Generic);
        assert!(db.locations.is_empty());
        assert_eq!(db.born().to_rfc3339(), "2025-06-01T00:00:00+00:00");
        registry.save().expect("save");
        drop(registry);
        let written: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(Registry::FILE_NAME)).expect("read"),
        )
        .expect("json");
        assert_eq!(written["version"], 2);
        assert_eq!(written["keys"][0]["locations"][0]["path"], "api/.env");
        let again = Registry::load(dir.path()).expect("version 2 reads");
        assert_eq!(again.get("openai-prod").expect("kept").locations.len(), 2);
    }

    #[test]
    fn a_registry_from_a_newer_keywarden_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(Registry::FILE_NAME),
            r#"{"version": 3, "keys": []}"#,
        )
        .expect("write");
        let err = Registry::load(dir.path()).expect_err("newer");
        assert!(
            matches!(err, RegistryError::Newer { version: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn corrupt_files_are_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(Registry::FILE_NAME), "{not json").expect("write");
        assert!(matches!(
            Registry::load(dir.path()),
            Err(RegistryError::Corrupt { .. })
        ));
    }
}
