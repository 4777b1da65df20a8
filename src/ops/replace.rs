//! Replacing a registered key: a new key made through the provider's API (OpenAI with an
//! admin key: another key for the same service account, or a new service account in the
//! same project), or one the person created and typed or piped in; checked live; then put
//! into the keyring and the registry under the old one's name, under the writers' lock.
//!
//! A key the API made is stored before it is checked: the API shows it only once, and a
//! brand-new key may take a moment to be accepted everywhere. A key the person gives is
//! checked first, and a dead one is refused.

use super::keys::{resolve_provider, KeysError};
use super::vault::Vault;
use super::Reporter;
use crate::core::clock::Clock;
use crate::core::provider::{
    Credentials, Provider, ProviderError, ProviderId, RemoteKey, Verification,
};
use crate::core::registry::keyring::StoreKind;
use crate::core::secret::{Liveness, Secret};
use thiserror::Error;

/// How many times a key the API just made is checked before keywarden says it is not
/// accepted yet.
pub const NEW_KEY_CHECKS: u32 = 3;

#[derive(Debug, Error)]
pub enum ReplaceError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error("{provider} cannot create a replacement here{hint}; create one at the provider{page} and give it with --new-key-stdin or at the prompt", provider = .provider.name(), page = .page.as_deref().map(|p| format!(" ({p})")).unwrap_or_default())]
    CannotCreate {
        provider: ProviderId,
        page: Option<String>,
        hint: String,
    },
    #[error("{provider} did not create the replacement", provider = .provider.name())]
    Create {
        provider: ProviderId,
        #[source]
        source: ProviderError,
    },
    #[error("{provider} says the new key {redacted} is dead ({reason}); nothing was changed", provider = .provider.name())]
    DeadKey {
        provider: ProviderId,
        redacted: String,
        reason: String,
    },
    #[error("the new key is the key it should replace; create a new one at the provider")]
    SameKey,
}

/// Where the new key comes from.
pub enum NewKey {
    /// Made by the provider's API, under this name.
    FromProvider { name: String },
    /// Created by the person and typed at a hidden prompt or piped in.
    Given(Secret),
}

/// The key to replace and where its successor comes from.
pub struct ReplaceRequest<'a> {
    /// The registered name; the new key takes its place.
    pub name: &'a str,
    pub provider: &'a dyn Provider,
    /// The old key as `locate` found it (the API needs it to make a successor).
    pub old: Option<&'a RemoteKey>,
    pub creds: &'a Credentials,
    pub new_key: NewKey,
    /// The pause between checks of a key the API just made.
    pub check_interval: std::time::Duration,
}

/// What the API made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Created {
    pub id: String,
    pub name: String,
    pub detail: String,
}

/// What a replacement did.
#[derive(Debug, Clone)]
pub struct ReplaceReport {
    pub name: String,
    pub provider: ProviderId,
    pub env_var: String,
    pub redacted: String,
    pub fingerprint: String,
    /// Set when the provider's API made the key.
    pub created: Option<Created>,
    /// The check of the new key.
    pub verification: Verification,
    pub store: StoreKind,
}

/// Whether the provider can make a successor for `old` with these credentials.
pub fn can_create(provider: &dyn Provider, old: Option<&RemoteKey>, creds: &Credentials) -> bool {
    old.is_some_and(|old| provider.can_create_replacement(old, creds))
}

/// Why the provider cannot make the new key here, with its page.
pub fn cannot_create(provider: &dyn Provider, creds: &Credentials) -> ReplaceError {
    ReplaceError::CannotCreate {
        provider: provider.id(),
        page: provider.manual_steps(&Secret::new("")).page,
        hint: match provider.id().admin_key_var() {
            Some(var) if creds.admin(provider.id()).is_none() => format!(" without {var}"),
            _ => String::new(),
        },
    }
}

/// The name a key made by the API gets: `keywarden-<name>-<date>`.
pub fn replacement_name(name: &str, clock: &Clock) -> String {
    format!("keywarden-{name}-{}", clock.now().format("%Y%m%d"))
}

/// Where a new key comes from and what it replaces, for [`obtain`].
pub struct Source<'a> {
    pub provider: &'a dyn Provider,
    /// The old key as `locate` found it (the API needs it to make a successor).
    pub old: Option<&'a RemoteKey>,
    pub creds: &'a Credentials,
    /// The fingerprint of the key being replaced (a "new" key equal to it is refused).
    pub replaces: &'a str,
    /// The pause between checks of a key the API just made.
    pub check_interval: std::time::Duration,
}

/// Where [`obtain`] puts a new key the moment it has it: the key, what the API made (if it
/// made it) and when the provider says it did.
pub type Keep<'a> = dyn FnMut(&Secret, Option<&Created>, Option<chrono::DateTime<chrono::Utc>>) -> Result<(), KeysError>
    + 'a;

/// A new key, made or taken, kept and checked.
#[derive(Debug, Clone)]
pub struct Obtained {
    pub key: Secret,
    /// Set when the provider's API made the key.
    pub created: Option<Created>,
    /// When the provider says it made the key.
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub verification: Verification,
}

/// Makes the new key through the provider's API — handed to `keep` at once, before it is
/// checked, because the API shows a new key only this one time (a key the API made that is
/// not accepted yet comes back with that verification) — or checks a given key, refusing a
/// dead one, and then hands it to `keep`.
pub fn obtain(
    source: &Source<'_>,
    new_key: NewKey,
    keep: &mut Keep<'_>,
    reporter: &dyn Reporter,
) -> Result<Obtained, ReplaceError> {
    let provider = source.provider;
    match new_key {
        NewKey::FromProvider { name } => {
            let Some(old) = source
                .old
                .filter(|old| provider.can_create_replacement(old, source.creds))
            else {
                return Err(cannot_create(provider, source.creds));
            };
            reporter.status(&format!(
                "creating the replacement with {}",
                provider.name()
            ));
            let made = provider
                .create_replacement(old, &name, source.creds)
                .map_err(|source| ReplaceError::Create {
                    provider: provider.id(),
                    source,
                })?;
            let created = Created {
                id: made.id,
                name: made.name,
                detail: made.detail,
            };
            keep(&made.key, Some(&created), made.created)?;
            let verification = check_new(provider, &made.key, source.check_interval);
            Ok(Obtained {
                key: made.key,
                created: Some(created),
                created_at: made.created,
                verification,
            })
        }
        NewKey::Given(key) => {
            if key.fingerprint() == source.replaces {
                return Err(ReplaceError::SameKey);
            }
            resolve_provider(Some(provider.id()), &key)?;
            let verification = check_given(provider, &key, reporter)?;
            keep(&key, None, None)?;
            Ok(Obtained {
                key,
                created: None,
                created_at: None,
                verification,
            })
        }
    }
}

/// Checks a key the person gives: a dead one is refused, one that cannot be checked comes
/// back unknown with a warning.
pub fn check_given(
    provider: &dyn Provider,
    key: &Secret,
    reporter: &dyn Reporter,
) -> Result<Verification, ReplaceError> {
    if !provider.can_verify(key) {
        return Ok(Verification::unknown(format!(
            "{} keys cannot be checked with their provider",
            provider.name()
        )));
    }
    reporter.status(&format!(
        "checking the new key with {} (this contacts the provider)",
        provider.name()
    ));
    let verification = provider.verify(key).scrubbed(key);
    match verification.liveness {
        Liveness::Dead => Err(ReplaceError::DeadKey {
            provider: provider.id(),
            redacted: key.redacted(),
            reason: verification.reason,
        }),
        Liveness::Unknown => {
            reporter.warn(&format!(
                "could not verify the new key ({}); going on with it",
                verification.reason
            ));
            Ok(verification)
        }
        Liveness::Live => Ok(verification),
    }
}

/// Makes or takes the new key, checks it, and stores it under the old one's name.
pub fn replace(
    request: ReplaceRequest<'_>,
    vault: &Vault,
    clock: &Clock,
    reporter: &dyn Reporter,
) -> Result<ReplaceReport, ReplaceError> {
    let record = vault.record(request.name)?;
    let source = Source {
        provider: request.provider,
        old: request.old,
        creds: request.creds,
        replaces: &record.fingerprint,
        check_interval: request.check_interval,
    };
    let mut keep = |key: &Secret, _: Option<&Created>, created_at| {
        store(vault, &record.name, key, created_at, clock)
    };
    let obtained = obtain(&source, request.new_key, &mut keep, reporter)?;
    if obtained.created.is_some() && obtained.verification.liveness != Liveness::Live {
        reporter.warn(&format!(
            "the new key is not accepted yet ({}); it is stored — check it later with `keywarden keys check {}`",
            obtained.verification.reason, record.name
        ));
    }
    Ok(ReplaceReport {
        name: record.name,
        provider: request.provider.id(),
        env_var: record.env_var,
        redacted: obtained.key.redacted(),
        fingerprint: obtained.key.fingerprint(),
        created: obtained.created,
        verification: obtained.verification,
        store: vault.store_kind(),
    })
}

/// A key the API just made: checked a few times, as it may take a moment to be accepted.
pub fn check_new(
    provider: &dyn Provider,
    key: &Secret,
    interval: std::time::Duration,
) -> Verification {
    let mut answer = provider.verify(key).scrubbed(key);
    for _ in 1..NEW_KEY_CHECKS {
        if answer.liveness == Liveness::Live {
            break;
        }
        std::thread::sleep(interval);
        answer = provider.verify(key).scrubbed(key);
    }
    answer
}

/// The new key into the keyring and the record, under the lock: the old key's dates go,
/// its name, variable and locations stay.
fn store(
    vault: &Vault,
    name: &str,
    key: &Secret,
    created: Option<chrono::DateTime<chrono::Utc>>,
    clock: &Clock,
) -> Result<(), KeysError> {
    let mut registry = vault.lock()?;
    let Some(record) = registry.get_mut(name) else {
        return Err(KeysError::NotRegistered(name.to_string()));
    };
    let now = clock.now();
    record.fingerprint = key.fingerprint();
    record.redacted = key.redacted();
    record.created = created;
    record.added = now;
    record.last_rotated = Some(now);
    record.last_used = None;
    record.remote_id = None;
    record.revoked = None;
    record.in_keyring = true;
    vault.store_key(name, key)?;
    registry.save()?;
    Ok(())
}
