//! The keyring store: where the keys themselves live. The OS keyring through the `keyring`
//! crate (Secret Service on Linux desktops, else the kernel keyutils store — which does not
//! survive a reboot, so it comes with a warning; Keychain on macOS; Credential Manager on
//! Windows), or a file (`KEYWARDEN_KEYRING=file:PATH`, mode 0600, written atomically) for
//! headless machines and for every test.
//!
//! The file store's changes are read-modify-write, so each takes an `flock` on a lock file
//! beside it (`<file>.lock`): two processes storing keys at once both keep theirs.
//!
//! `KEYWARDEN_KEYRING` also accepts `secret-service`, `keyutils` and `os` (the default:
//! pick the best available).

use crate::core::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The service name every entry is stored under (the entry's user is the key's name).
pub const SERVICE: &str = "keywarden";

#[derive(Debug, Error)]
pub enum KeyringError {
    #[error(
        "KEYWARDEN_KEYRING=`{0}` is not understood (use file:PATH, secret-service, keyutils or os)"
    )]
    BadSelector(String),
    #[error("no usable OS keyring ({0}); set KEYWARDEN_KEYRING=file:PATH to keep keys in a file only you can read")]
    Unavailable(String),
    #[error("the keyring file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("cannot save the keyring file {path}")]
    Save {
        path: PathBuf,
        #[source]
        source: super::RegistryError,
    },
    #[error(transparent)]
    Lock(#[from] super::lock::LockError),
    #[error("the {store} refused: {message}")]
    Platform {
        store: &'static str,
        message: String,
    },
}

/// Which store is in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    File(PathBuf),
    SecretService,
    Keyutils,
    /// The platform's own store (macOS Keychain, Windows Credential Manager).
    Platform,
}

impl StoreKind {
    pub fn describe(&self) -> String {
        match self {
            StoreKind::File(path) => format!("the keyring file {}", path.display()),
            StoreKind::SecretService => "the Secret Service keyring".to_string(),
            StoreKind::Keyutils => "the kernel keyring (keyutils)".to_string(),
            StoreKind::Platform => "the system keychain".to_string(),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            StoreKind::File(_) => "keyring file",
            StoreKind::SecretService => "Secret Service",
            StoreKind::Keyutils => "kernel keyring",
            StoreKind::Platform => "system keychain",
        }
    }
}

/// A place to keep keys by name.
pub trait KeyStore {
    fn kind(&self) -> StoreKind;

    /// Something the user must know about this store (e.g. it forgets at reboot).
    fn warning(&self) -> Option<String> {
        None
    }

    fn set(&self, name: &str, key: &Secret) -> Result<(), KeyringError>;
    fn get(&self, name: &str) -> Result<Option<Secret>, KeyringError>;
    /// Removes the entry; `false` when there was none.
    fn delete(&self, name: &str) -> Result<bool, KeyringError>;
}

/// The store a `KEYWARDEN_KEYRING` value selects: `file:PATH`, `secret-service`,
/// `keyutils`, or empty / `os` for the best OS keyring available.
pub fn open_selected(selector: &str) -> Result<Box<dyn KeyStore>, KeyringError> {
    if let Some(path) = selector.strip_prefix("file:") {
        if path.is_empty() {
            return Err(KeyringError::BadSelector(selector.to_string()));
        }
        return Ok(Box::new(FileStore::new(path)));
    }
    match selector {
        "" | "os" => os::best(),
        "secret-service" => os::secret_service(),
        "keyutils" => os::keyutils(),
        other => Err(KeyringError::BadSelector(other.to_string())),
    }
}

/// Keys in a JSON file readable only by its owner.
pub struct FileStore {
    path: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileContents {
    #[serde(default)]
    service: String,
    #[serde(default)]
    keys: BTreeMap<String, String>,
}

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, message: impl Into<String>) -> KeyringError {
        KeyringError::File {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    fn load(&self) -> Result<FileContents, KeyringError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) if text.trim().is_empty() => Ok(FileContents::default()),
            // serde_json's messages quote only positions, never the values.
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| self.error(format!("not a keywarden keyring file ({e})"))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(FileContents::default()),
            Err(err) => Err(self.error(err.to_string())),
        }
    }

    fn save(&self, mut contents: FileContents) -> Result<(), KeyringError> {
        contents.service = SERVICE.to_string();
        let text = serde_json::to_string_pretty(&contents).expect("the keyring file serializes");
        super::write_private(&self.path, text.as_bytes()).map_err(|source| KeyringError::Save {
            path: self.path.clone(),
            source,
        })
    }

    /// The lock that every change of the file holds from reading it to writing it back.
    fn lock(&self) -> Result<super::lock::LockFile, KeyringError> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        Ok(super::lock::LockFile::acquire(
            &self.path.with_file_name(name),
        )?)
    }
}

impl KeyStore for FileStore {
    fn kind(&self) -> StoreKind {
        StoreKind::File(self.path.clone())
    }

    fn set(&self, name: &str, key: &Secret) -> Result<(), KeyringError> {
        let _lock = self.lock()?;
        let mut contents = self.load()?;
        contents
            .keys
            .insert(name.to_string(), key.expose().to_string());
        self.save(contents)
    }

    fn get(&self, name: &str) -> Result<Option<Secret>, KeyringError> {
        Ok(self.load()?.keys.remove(name).map(Secret::new))
    }

    fn delete(&self, name: &str) -> Result<bool, KeyringError> {
        let _lock = self.lock()?;
        let mut contents = self.load()?;
        if contents.keys.remove(name).is_none() {
            return Ok(false);
        }
        self.save(contents)?;
        Ok(true)
    }
}

/// The OS keyring through the `keyring` crate.
mod os {
    use super::{KeyStore, KeyringError, StoreKind, SERVICE};
    use crate::core::secret::Secret;

    type Builder = fn(&str) -> keyring::Result<keyring::Entry>;

    pub struct OsStore {
        kind: StoreKind,
        build: Builder,
    }

    fn platform_error(kind: &StoreKind, err: keyring::Error) -> KeyringError {
        // BadEncoding carries the stored bytes: never let them reach a message.
        let message = match err {
            keyring::Error::BadEncoding(_) => "the stored value is not UTF-8".to_string(),
            keyring::Error::Ambiguous(_) => "more than one entry matches".to_string(),
            other => other.to_string(),
        };
        KeyringError::Platform {
            store: kind.label(),
            message,
        }
    }

    impl KeyStore for OsStore {
        fn kind(&self) -> StoreKind {
            self.kind.clone()
        }

        fn warning(&self) -> Option<String> {
            (self.kind == StoreKind::Keyutils).then(|| {
                "no Secret Service keyring is running, so keys go to the kernel keyring \
                 (keyutils), which is emptied at logout or reboot; run a Secret Service \
                 (GNOME Keyring, KeePassXC) or set KEYWARDEN_KEYRING=file:PATH to keep them"
                    .to_string()
            })
        }

        fn set(&self, name: &str, key: &Secret) -> Result<(), KeyringError> {
            (self.build)(name)
                .and_then(|entry| entry.set_password(key.expose()))
                .map_err(|e| platform_error(&self.kind, e))
        }

        fn get(&self, name: &str) -> Result<Option<Secret>, KeyringError> {
            match (self.build)(name).and_then(|entry| entry.get_password()) {
                Ok(value) => Ok(Some(Secret::new(value))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(err) => Err(platform_error(&self.kind, err)),
            }
        }

        fn delete(&self, name: &str) -> Result<bool, KeyringError> {
            match (self.build)(name).and_then(|entry| entry.delete_credential()) {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(err) => Err(platform_error(&self.kind, err)),
            }
        }
    }

    /// Whether a store answers at all: reading an entry that does not exist must give
    /// "no entry", not a platform failure.
    fn probe(store: OsStore) -> Result<Box<dyn KeyStore>, KeyringError> {
        match (store.build)("__keywarden_probe__").and_then(|e| e.get_password()) {
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(Box::new(store)),
            Err(err) => Err(KeyringError::Unavailable(format!(
                "{}: {}",
                store.kind.describe(),
                platform_error(&store.kind, err)
            ))),
        }
    }

    #[cfg(target_os = "linux")]
    pub fn secret_service() -> Result<Box<dyn KeyStore>, KeyringError> {
        fn build(name: &str) -> keyring::Result<keyring::Entry> {
            let credential =
                keyring::secret_service::SsCredential::new_with_target(None, SERVICE, name)?;
            Ok(keyring::Entry::new_with_credential(Box::new(credential)))
        }
        probe(OsStore {
            kind: StoreKind::SecretService,
            build,
        })
    }

    #[cfg(target_os = "linux")]
    pub fn keyutils() -> Result<Box<dyn KeyStore>, KeyringError> {
        fn build(name: &str) -> keyring::Result<keyring::Entry> {
            let credential =
                keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, name)?;
            Ok(keyring::Entry::new_with_credential(Box::new(credential)))
        }
        probe(OsStore {
            kind: StoreKind::Keyutils,
            build,
        })
    }

    #[cfg(target_os = "linux")]
    pub fn best() -> Result<Box<dyn KeyStore>, KeyringError> {
        match secret_service() {
            Ok(store) => Ok(store),
            Err(ss) => keyutils().map_err(|ku| {
                KeyringError::Unavailable(
                    format!("{ss}; and {ku}").replace("no usable OS keyring (", "("),
                )
            }),
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn best() -> Result<Box<dyn KeyStore>, KeyringError> {
        fn build(name: &str) -> keyring::Result<keyring::Entry> {
            keyring::Entry::new(SERVICE, name)
        }
        probe(OsStore {
            kind: StoreKind::Platform,
            build,
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn secret_service() -> Result<Box<dyn KeyStore>, KeyringError> {
        Err(KeyringError::Unavailable(
            "Secret Service exists only on Linux".to_string(),
        ))
    }

    #[cfg(not(target_os = "linux"))]
    pub fn keyutils() -> Result<Box<dyn KeyStore>, KeyringError> {
        Err(KeyringError::Unavailable(
            "keyutils exists only on Linux".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_round_trips_with_private_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/keyring.ron");
        let store = open_selected(&format!("file:{}", path.display())).expect("file store");
        assert_eq!(store.kind(), StoreKind::File(path.clone()));
        assert!(store.get("a").expect("get").is_none());
        store.set("a", &Secret::new("value-a")).expect("set");
        store.set("b", &Secret::new("value-b")).expect("set");
        assert_eq!(
            store.get("a").expect("get").expect("present").expose(),
            "value-a"
        );
        assert!(store.delete("a").expect("delete"));
        assert!(!store.delete("a").expect("delete again"));
        assert!(store.get("a").expect("get").is_none());
        assert!(store.get("b").expect("get").is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn bad_selectors_and_garbled_files_are_errors_without_content() {
        assert!(matches!(
            open_selected("vault"),
            Err(KeyringError::BadSelector(_))
        ));
        assert!(matches!(
            open_selected("file:"),
            Err(KeyringError::BadSelector(_))
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(&path, "sekrit-value-in-garbage").expect("write");
        let err = FileStore::new(&path).get("x").expect_err("garbled");
        assert!(!err.to_string().contains("sekrit"), "{err}");
    }
}
