//! The `Vault`: the registry and the keyring together, as every key workflow uses them.
//! Reads need no lock; every change takes the writers' lock, re-reads, and writes the
//! keyring and the registry before letting go. It also knows the admin keys the
//! environment and the registry hold (`Credentials`).

use super::keys::{validate_name, KeysError};
use crate::core::environment::Environment;
use crate::core::provider::{Credentials, ProviderId};
use crate::core::registry::keyring::{KeyStore, StoreKind};
use crate::core::registry::{KeyRecord, LockedRegistry, Registry};
use crate::core::secret::Secret;
use std::path::PathBuf;

/// The registry and the keyring together. Reads need no lock; every change takes the
/// writers' lock, re-reads, and writes the keyring and the registry before letting go.
pub struct Vault {
    home: PathBuf,
    store: Box<dyn KeyStore>,
}

impl Vault {
    pub fn new(home: PathBuf, store: Box<dyn KeyStore>) -> Self {
        Vault { home, store }
    }

    /// keywarden's data directory (the registry, rotation journals).
    pub fn home(&self) -> &std::path::Path {
        &self.home
    }

    pub fn store_kind(&self) -> StoreKind {
        self.store.kind()
    }

    pub fn store(&self) -> &dyn KeyStore {
        &*self.store
    }

    /// The registry as it is now (for reading).
    pub fn registry(&self) -> Result<Registry, KeysError> {
        Ok(Registry::load(&self.home)?)
    }

    /// The registry under the writers' lock.
    pub fn lock(&self) -> Result<LockedRegistry, KeysError> {
        Ok(Registry::lock(&self.home)?)
    }

    /// The registered record `name`.
    pub fn record(&self, name: &str) -> Result<KeyRecord, KeysError> {
        validate_name(name)?;
        self.registry()?
            .get(name)
            .cloned()
            .ok_or_else(|| KeysError::NotRegistered(name.to_string()))
    }

    /// What the keyring holds under `name` (a registered name, or one of the entries a
    /// rotation keeps beside it).
    pub fn stored(&self, name: &str) -> Result<Option<Secret>, KeysError> {
        self.store.get(name).map_err(|source| KeysError::Keyring {
            name: name.to_string(),
            source,
        })
    }

    /// The key a record stands for: from the keyring, or — for a key that is only tracked
    /// where it is used — from those files.
    pub fn key(&self, record: &KeyRecord) -> Result<Secret, KeysError> {
        if !record.in_keyring {
            return super::inventory::read_from_locations(record).ok_or_else(|| {
                KeysError::LostTrack {
                    name: record.name.clone(),
                }
            });
        }
        self.stored(&record.name)?
            .ok_or_else(|| KeysError::NotInKeyring {
                name: record.name.clone(),
                store: self.store.kind().describe(),
                provider: record.provider,
            })
    }

    /// Stores `key` under `name` in the keyring (the caller holds the lock).
    pub fn store_key(&self, name: &str, key: &Secret) -> Result<(), KeysError> {
        self.store
            .set(name, key)
            .map_err(|source| KeysError::Keyring {
                name: name.to_string(),
                source,
            })
    }

    /// The admin keys the environment and this vault hold: for each provider with an
    /// admin API, its variable (`OPENAI_ADMIN_KEY`) from the environment, else a registered
    /// key kept under that variable.
    pub fn credentials(&self, env: &Environment) -> Result<Credentials, KeysError> {
        let mut creds = Credentials::default();
        let registry = self.registry()?;
        for provider in ProviderId::ALL {
            let Some(var) = provider.admin_key_var() else {
                continue;
            };
            let key = match env.admin_key(var) {
                Some(key) => Some(key),
                None => match registry.keys.iter().find(|k| k.env_var == var) {
                    Some(record) => self.stored(&record.name)?,
                    None => None,
                },
            };
            if let Some(key) = key {
                creds = creds.with_admin(provider, key);
            }
        }
        Ok(creds)
    }
}
