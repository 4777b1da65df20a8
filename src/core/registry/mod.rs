//! The key registry: what keywarden knows about each stored key — name, provider,
//! environment variable, fingerprint, redacted form, dates and where it is used — but
//! never the key itself (that lives in the keyring, see `keyring`). Stored as JSON in
//! `registry.json` in keywarden's data directory (`core::environment`), written
//! atomically so a crash never leaves half a file.

pub mod keyring;

use crate::core::fs::{self, FsError, Mode, SECRET_MODE};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
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
    #[error("{path} is not a valid registry: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("no key named `{0}` in the registry")]
    Unknown(String),
    #[error("a key named `{0}` is already in the registry")]
    Exists(String),
}

/// One key, described without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub name: String,
    pub provider: String,
    pub env_var: String,
    pub fingerprint: String,
    pub redacted: String,
    /// When the provider created the key, when known (else its age counts from `added`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    pub added: DateTime<Utc>,
    /// Where the key is used: `.env` files, CI settings… (free text, usually paths).
    #[serde(default)]
    pub locations: Vec<String>,
}

impl KeyRecord {
    /// The date its age counts from.
    pub fn born(&self) -> DateTime<Utc> {
        self.created.unwrap_or(self.added)
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
            version: 1,
            keys: Vec::new(),
        }
    }
}

impl Registry {
    pub const FILE_NAME: &'static str = "registry.json";

    /// The registry at `home`, or an empty one when there is none yet.
    pub fn load(home: &Path) -> Result<Self, RegistryError> {
        let path = home.join(Self::FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Registry::default())
            }
            Err(source) => return Err(RegistryError::Read { path, source }),
        };
        serde_json::from_str(&text).map_err(|e| RegistryError::Corrupt {
            path,
            message: e.to_string(),
        })
    }

    pub fn save(&self, home: &Path) -> Result<(), RegistryError> {
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
            provider: "openai".to_string(),
            env_var: "OPENAI_API_KEY".to_string(),
            fingerprint: crate::core::secret::fingerprint(name),
            redacted: "sk-proj-Ab…Yz9Q".to_string(),
            created: None,
            added: DateTime::from_timestamp(1_700_000_000, 0).expect("valid time"),
            locations: vec![".env".to_string()],
        }
    }

    #[test]
    fn round_trips_sorted_and_refuses_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut registry = Registry::load(dir.path()).expect("empty registry");
        assert!(registry.keys.is_empty());
        registry.add(record("b")).expect("add b");
        registry.add(record("a")).expect("add a");
        assert!(matches!(
            registry.add(record("a")),
            Err(RegistryError::Exists(_))
        ));
        registry.save(dir.path()).expect("save");
        let loaded = Registry::load(dir.path()).expect("load");
        assert_eq!(loaded, registry);
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
    fn corrupt_files_are_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(Registry::FILE_NAME), "{not json").expect("write");
        assert!(matches!(
            Registry::load(dir.path()),
            Err(RegistryError::Corrupt { .. })
        ));
    }
}
