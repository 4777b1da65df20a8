//! The key registry: what keywarden knows about each stored key — name, provider,
//! environment variable, fingerprint, redacted form, dates and where it is used — but
//! never the key itself (that lives in the keyring, see `keyring`). Stored as JSON in
//! `registry.json` under `KEYWARDEN_HOME` (default: the platform data directory), written
//! atomically so a crash never leaves half a file.

pub mod keyring;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("cannot find a home for keywarden's data: set KEYWARDEN_HOME")]
    NoHome,
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid registry: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("KEYWARDEN_NOW is not an RFC 3339 time: {0}")]
    BadNow(String),
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
        write_atomic(&home.join(Self::FILE_NAME), text.as_bytes(), 0o600)
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

/// keywarden's data directory: `KEYWARDEN_HOME`, else the platform data dir
/// (`$XDG_DATA_HOME/keywarden`, `~/Library/Application Support/keywarden`,
/// `%APPDATA%\keywarden`).
pub fn home_dir() -> Result<PathBuf, RegistryError> {
    if let Some(home) = std::env::var_os("KEYWARDEN_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let env_dir = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = if cfg!(windows) {
        env_dir("APPDATA")
    } else if cfg!(target_os = "macos") {
        env_dir("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        env_dir("XDG_DATA_HOME").or_else(|| env_dir("HOME").map(|h| h.join(".local/share")))
    };
    base.map(|b| b.join("keywarden"))
        .ok_or(RegistryError::NoHome)
}

/// The current time, or `KEYWARDEN_NOW` when set (tests and reminders).
pub fn now() -> Result<DateTime<Utc>, RegistryError> {
    match std::env::var("KEYWARDEN_NOW") {
        Ok(value) if !value.trim().is_empty() => DateTime::parse_from_rfc3339(value.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| RegistryError::BadNow(value)),
        _ => Ok(Utc::now()),
    }
}

/// Writes `data` to a temporary file beside `path` with `mode` (Unix), syncs it and
/// renames it over `path`, so readers see the old or the new file, never a mix.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), RegistryError> {
    let fail = |source| RegistryError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let mut attempt = 0u32;
    let (tmp_path, mut file) = loop {
        let tmp_path = dir.join(format!(".{file_name}.tmp-{}-{attempt}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Created with the final mode so the content is never readable by others.
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(&tmp_path) {
            Ok(file) => break (tmp_path, file),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(err) => return Err(fail(err)),
        }
    };
    let result = file
        .write_all(data)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp_path, path));
    if let Err(err) = result {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(fail(err));
    }
    Ok(())
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
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
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
