//! The key workflows: reading a key someone pasted (a bare key or a whole `NAME=value`
//! line), telling its provider from its shape, adding, checking, forgetting and revoking
//! keys (with an optional replacement) against the `Vault`. Key names are checked here, and
//! keys pasted onto the command line are refused (shell history and `ps` would keep them).

use super::key_source::ResolvedKey;
use super::replace::{self, NewKey, ReplaceError, ReplaceReport, ReplaceRequest};
use super::revoke::{self, RevokeError, RevokeIo, RevokeOptions, RevokeReport, RevokeTarget};
use super::vault::Vault;
use super::Reporter;
use crate::core::clock::Clock;
use crate::core::environment::Environment;
use crate::core::provider::{
    Credentials, Provider, ProviderId, Providers, RemoteKey, Verification,
};
use crate::core::registry::keyring::{KeyringError, StoreKind};
use crate::core::registry::{KeyRecord, Location, RegistryError, Revoked, RevokedHow};
use crate::core::rules::RuleSet;
use crate::core::scan::Scanner;
use crate::core::secret::{Liveness, Secret};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The refusal for a key on the command line. It never repeats the argument.
pub const ARGV_KEY: &str = "keys are never taken from the command line (shell history and `ps` \
would keep them): pipe the key on stdin (`keywarden keys add NAME --provider P < key.txt`) or \
run without it to get a hidden prompt";

#[derive(Debug, Error)]
pub enum KeysError {
    #[error("{ARGV_KEY}")]
    KeyOnCommandLine,
    #[error("invalid key name `{0}`: use up to 64 letters, digits, `-`, `_` and `.`")]
    BadName(String),
    #[error("invalid environment variable name `{0}`")]
    BadVariable(String),
    #[error("empty key: pipe the key on stdin or paste it at the prompt")]
    Empty,
    #[error("the key spans several lines; pipe exactly one key on stdin")]
    SeveralLines,
    #[error("the line names {var} but assigns it no value; pipe the key itself, or the `NAME=value` line that holds it")]
    EmptyAssignment { var: String },
    #[error("cannot read the `NAME=value` line: {0}")]
    BadLine(&'static str),
    #[error("cannot tell the provider of {redacted} from its shape; pass --provider (one of: {known})", known = ProviderId::ALL.map(ProviderId::as_str).join(", "))]
    UnknownShape { redacted: String },
    #[error("{redacted} looks like {shape} key, not {given}; pass --provider {shape_id} (or leave --provider out)", shape = .shape.name(), shape_id = .shape.as_str())]
    ProviderMismatch {
        redacted: String,
        shape: ProviderId,
        given: ProviderId,
    },
    #[error("a key named `{0}` is already registered (pass --replace to replace it, or `keywarden keys forget {0}` first)")]
    Taken(String),
    #[error("no key named `{0}` in the registry")]
    NotRegistered(String),
    #[error("`{name}` is in the registry but not in {store} (add it again with `keywarden keys add {name} --provider {provider} --replace`)")]
    NotInKeyring {
        name: String,
        store: String,
        provider: ProviderId,
    },
    #[error("`{name}` is only tracked where it is used (it is not in the keyring), and none of those files holds it any more; add it again with `keywarden keys add {name} --replace`")]
    LostTrack { name: String },
    #[error("{provider} says the key {redacted} is dead ({reason}); not stored (pass --no-verify to store it anyway)", provider = .provider.name())]
    Dead {
        provider: ProviderId,
        redacted: String,
        reason: String,
    },
    #[error("no finding with fingerprint {0} in this repository's history or working tree (copy it from `keywarden scan` output)")]
    NoSuchFinding(String),
    #[error("`{0}` is not a fingerprint: it looks like `sha256:` and 64 hex digits, as `keywarden scan` prints it")]
    BadFingerprint(String),
    #[error("the finding's rule names provider `{0}`, which keywarden cannot check")]
    CustomProvider(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("the keyring refused `{name}`")]
    Keyring {
        name: String,
        #[source]
        source: KeyringError,
    },
    #[error(transparent)]
    Scan(anyhow::Error),
}

/// Whether a command-line argument is probably a key pasted in the wrong place.
pub fn looks_like_secret(arg: &str) -> bool {
    if arg.len() < 16 {
        return false;
    }
    let hit =
        builtin_scanner().is_some_and(|(_, scanner)| !scanner.scan(arg.as_bytes()).is_empty());
    hit || (arg.len() >= 24 && crate::core::entropy::shannon(arg.as_bytes()) >= 4.0)
}

fn builtin_scanner() -> Option<(RuleSet, Scanner)> {
    let rules = RuleSet::builtin().ok()?;
    let scanner = Scanner::new(&rules, Vec::new()).ok()?;
    Some((rules, scanner))
}

/// Checks a key name from the command line. A name that looks like a key is refused
/// without being repeated (it is probably a key pasted in the wrong place).
pub fn validate_name(name: &str) -> Result<(), KeysError> {
    if looks_like_secret(name) {
        return Err(KeysError::KeyOnCommandLine);
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with(['-', '.']);
    if !ok {
        return Err(KeysError::BadName(name.to_string()));
    }
    Ok(())
}

/// Checks an environment variable name.
pub fn validate_env_var(var: &str) -> Result<(), KeysError> {
    let mut chars = var.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(KeysError::BadVariable(var.to_string()));
    }
    Ok(())
}

/// What someone pasted or piped: the key, and the variable it was assigned to when it came
/// as a `NAME=value` line.
#[derive(Debug, Clone)]
pub struct KeyInput {
    pub key: Secret,
    pub var: Option<String>,
}

/// Reads a key from what was pasted or piped: a bare key, or one `NAME=value` line as in a
/// `.env` file (`export` and quotes allowed, a trailing ` # comment` after an unquoted
/// value dropped), of which only the value is the key. Several lines are refused unless
/// `multiline` (a PEM private key).
pub fn read_key_input(text: &str, multiline: bool) -> Result<KeyInput, KeysError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(KeysError::Empty);
    }
    if trimmed.contains(['\n', '\r']) {
        if multiline || trimmed.starts_with("-----BEGIN ") {
            return Ok(KeyInput {
                key: Secret::new(trimmed),
                var: None,
            });
        }
        return Err(KeysError::SeveralLines);
    }
    let Some((var, value)) = split_assignment(trimmed) else {
        return Ok(KeyInput {
            key: Secret::new(trimmed),
            var: None,
        });
    };
    let value = unquote(value)?;
    if value.is_empty() {
        return Err(KeysError::EmptyAssignment {
            var: var.to_string(),
        });
    }
    Ok(KeyInput {
        key: Secret::new(value),
        var: Some(var.to_string()),
    })
}

/// `NAME=value` (optionally after `export `): the name and the raw value, when the line is
/// an assignment to a variable name.
fn split_assignment(line: &str) -> Option<(&str, &str)> {
    let line = line
        .strip_prefix("export")
        .filter(|rest| rest.starts_with([' ', '\t']))
        .map_or(line, str::trim_start);
    let (name, value) = line.split_once('=')?;
    let name = name.trim_end();
    validate_env_var(name).ok()?;
    // `abc123==` is a base64 value with its padding, not an assignment.
    if !value.is_empty() && value.chars().all(|c| c == '=') {
        return None;
    }
    Some((name, value.trim()))
}

/// A value as a `.env` line writes it: in matching quotes (taken literally), or bare up to
/// a ` #` comment.
fn unquote(value: &str) -> Result<&str, KeysError> {
    for quote in ['"', '\'', '`'] {
        if let Some(rest) = value.strip_prefix(quote) {
            let Some(end) = rest.find(quote) else {
                return Err(KeysError::BadLine("a quote is not closed"));
            };
            let after = rest[end + 1..].trim();
            if !(after.is_empty() || after.starts_with('#')) {
                return Err(KeysError::BadLine("text follows the closing quote"));
            }
            return Ok(&rest[..end]);
        }
    }
    let bare = match value.find(" #").or_else(|| value.find("\t#")) {
        Some(comment) => value[..comment].trim_end(),
        None => value,
    };
    if bare.contains(char::is_whitespace) {
        return Err(KeysError::BadLine(
            "the value holds a space; quote it or pipe the key alone",
        ));
    }
    Ok(bare)
}

/// The provider a key's shape names, from a scan of the key with the built-in rules (the
/// self-describing prefixes: `sk-proj-`, `sk-ant-`, `ghp_`, `glpat-`, `xoxb-`, `AKIA`…).
/// `None` when no rule recognises the whole key.
///
/// A key of an issuer keywarden has no client for (an npm token, a SendGrid key) is handled
/// as a generic secret: revoked by hand, with the issuer's page when its rule names one.
pub fn infer_provider(key: &Secret) -> Option<ProviderId> {
    let rule = crate::core::scan::builtin_rule_for(key)?;
    Some(rule.provider_id().unwrap_or(ProviderId::Generic))
}

/// The provider to use for `key`: the one given (which must not contradict the key's
/// shape), else the one its shape names.
pub fn resolve_provider(given: Option<ProviderId>, key: &Secret) -> Result<ProviderId, KeysError> {
    let shape = infer_provider(key);
    match (given, shape) {
        (Some(given), Some(shape)) if given != shape => Err(KeysError::ProviderMismatch {
            redacted: key.redacted(),
            shape,
            given,
        }),
        (Some(given), _) => Ok(given),
        (None, Some(shape)) => Ok(shape),
        (None, None) => Err(KeysError::UnknownShape {
            redacted: key.redacted(),
        }),
    }
}

/// The provider's usual variable; for providers without a vendor, derived from the key's
/// name (`db-password` → `DB_PASSWORD`).
pub fn default_env_var(provider: &dyn Provider, name: &str) -> String {
    if provider.id().has_vendor() {
        return provider.default_env_var().to_string();
    }
    let derived: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if derived.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{derived}")
    } else {
        derived
    }
}

/// A location from `--used-in PATH`: the file made absolute, the variable, and the
/// repository it lies in (when it does).
pub fn location(cwd: &Path, path: &Path, var: &str) -> Location {
    let path = cwd.join(path);
    Location {
        repo: repo_of(&path),
        path,
        var: Some(var.to_string()),
    }
}

/// The work tree of the repository a file lies in, when it does.
pub fn repo_of(path: &Path) -> Option<PathBuf> {
    // The nearest directory that exists: the file (and its folder) may not exist yet.
    path.ancestors()
        .skip(1)
        .find(|dir| dir.is_dir())
        .and_then(|dir| git2::Repository::discover(dir).ok())
        // Rebuilt from its components: git2 ends a work tree's path with a slash.
        .and_then(|repo| repo.workdir().map(|dir| dir.components().collect()))
}

/// What `keys add` should store.
pub struct AddRequest {
    pub name: String,
    pub input: KeyInput,
    pub provider: Option<ProviderId>,
    pub env_var: Option<String>,
    pub used_in: Vec<PathBuf>,
    /// Files to look for the key in (a repository's env files): each that assigns it is
    /// recorded as a location, with its variable.
    pub search: Vec<PathBuf>,
    pub cwd: PathBuf,
    pub verify: bool,
    pub replace: bool,
}

/// What the provider said before the key was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddVerdict {
    Live {
        restricted: bool,
    },
    /// Asked, but the answer said nothing (stored anyway, with a warning).
    Unverified,
    /// The provider has nothing to ask.
    CannotVerify,
    /// `--no-verify`.
    NotVerified,
}

/// What `keys add` did.
#[derive(Debug, Clone)]
pub struct AddReport {
    pub name: String,
    pub provider: ProviderId,
    pub env_var: String,
    pub redacted: String,
    pub verdict: AddVerdict,
    /// A key was registered under this name before, and this one took its place.
    pub replaced: bool,
    pub store: StoreKind,
    pub located: Option<RemoteKey>,
}

/// Verifies, looks up (with an admin key) and stores a key. The network comes first; the
/// registry is read and written only afterwards, under the writers' lock, with the keyring
/// written under the same lock.
pub fn add(
    request: AddRequest,
    vault: &Vault,
    providers: &Providers,
    env: &Environment,
    clock: &Clock,
    reporter: &dyn Reporter,
) -> Result<AddReport, KeysError> {
    validate_name(&request.name)?;
    let key = request.input.key;
    let provider_id = resolve_provider(request.provider, &key)?;
    let provider = providers.get(provider_id);
    let env_var = match request.env_var.or(request.input.var) {
        Some(var) => var,
        None => default_env_var(&*provider, &request.name),
    };
    validate_env_var(&env_var)?;
    // A quick answer before the network; checked again under the lock.
    if !request.replace && vault.registry()?.get(&request.name).is_some() {
        return Err(KeysError::Taken(request.name));
    }

    let verdict = if !request.verify {
        AddVerdict::NotVerified
    } else if !provider.can_verify(&key) {
        AddVerdict::CannotVerify
    } else {
        reporter.status(&format!(
            "checking the key with {} (this contacts the provider)",
            provider.name()
        ));
        let answer = provider.verify(&key).scrubbed(&key);
        match answer.liveness {
            Liveness::Dead => {
                return Err(KeysError::Dead {
                    provider: provider_id,
                    redacted: key.redacted(),
                    reason: answer.reason,
                })
            }
            Liveness::Unknown => {
                reporter.warn(&format!(
                    "could not verify the key ({}); storing it anyway",
                    answer.reason
                ));
                AddVerdict::Unverified
            }
            Liveness::Live => AddVerdict::Live {
                restricted: answer.restricted,
            },
        }
    };
    let located = if request.verify {
        look_up(&*provider, &key, &vault.credentials(env)?, reporter)
    } else {
        None
    };

    let mut registry = vault.lock()?;
    let previous = registry.get(&request.name).cloned();
    if previous.is_some() && !request.replace {
        return Err(KeysError::Taken(request.name));
    }
    if let Some(other) = registry
        .find_by_fingerprint(&key.fingerprint())
        .filter(|r| r.name != request.name)
    {
        reporter.note(&format!(
            "the same key is already registered as `{}`",
            other.name
        ));
    }
    vault.store_key(&request.name, &key)?;
    let now = clock.now();
    let mut record = match &previous {
        // The same key again: its dates stay.
        Some(previous) if previous.fingerprint == key.fingerprint() => previous.clone(),
        Some(previous) => KeyRecord {
            last_rotated: Some(now),
            locations: previous.locations.clone(),
            ..new_record(&request.name, provider_id, &env_var, &key, now)
        },
        None => new_record(&request.name, provider_id, &env_var, &key, now),
    };
    record.provider = provider_id;
    record.env_var = env_var.clone();
    if let Some(remote) = &located {
        apply_remote(&mut record, remote);
    }
    for path in &request.used_in {
        record.add_location(location(&request.cwd, path, &env_var));
    }
    for (path, var) in super::inventory::whereabouts(&request.search, &key) {
        if !record.locations.iter().any(|l| l.path == path) {
            record.add_location(Location {
                repo: repo_of(&path),
                path,
                var: Some(var),
            });
        }
    }
    registry.upsert(record);
    registry.save()?;
    Ok(AddReport {
        name: request.name,
        provider: provider_id,
        env_var,
        redacted: key.redacted(),
        verdict,
        replaced: previous.is_some(),
        store: vault.store_kind(),
        located,
    })
}

/// A record for a key first seen `now`.
pub fn new_record(
    name: &str,
    provider: ProviderId,
    env_var: &str,
    key: &Secret,
    now: chrono::DateTime<chrono::Utc>,
) -> KeyRecord {
    KeyRecord {
        name: name.to_string(),
        provider,
        env_var: env_var.to_string(),
        fingerprint: key.fingerprint(),
        redacted: key.redacted(),
        created: None,
        added: now,
        last_rotated: None,
        last_used: None,
        remote_id: None,
        revoked: None,
        locations: Vec::new(),
        in_keyring: true,
        pending_revocation: None,
        retired: Vec::new(),
    }
}

/// What the provider's records say about a key, copied into its registry record.
pub fn apply_remote(record: &mut KeyRecord, remote: &RemoteKey) {
    record.created = remote.created.or(record.created);
    record.last_used = remote.last_used.or(record.last_used);
    record.remote_id = Some(remote.id.clone());
}

/// The key in its provider's records, when the provider can look keys up with these
/// credentials; trouble is a note, not a failure (the lookup only adds dates).
fn look_up(
    provider: &dyn Provider,
    key: &Secret,
    creds: &Credentials,
    reporter: &dyn Reporter,
) -> Option<RemoteKey> {
    let via = provider.locator(creds)?;
    reporter.status(&format!("looking the key up with {via} for its dates"));
    let mut secrets = creds.secrets();
    secrets.push(key);
    match provider.locate(key, creds) {
        Ok(found) => found,
        Err(err) => {
            reporter.note(&format!(
                "could not look the key up with {via}, so its dates stay unknown: {}",
                err.scrubbed(&secrets)
            ));
            None
        }
    }
}

/// What `keys forget` did.
pub struct ForgetReport {
    pub record: KeyRecord,
    /// Whether the keyring held it.
    pub removed_from_keyring: bool,
    pub store: StoreKind,
}

/// Removes a key from the keyring and the registry (it stays valid at its provider).
pub fn forget(name: &str, vault: &Vault) -> Result<ForgetReport, KeysError> {
    validate_name(name)?;
    let mut registry = vault.lock()?;
    let record = registry.remove(name).map_err(|err| match err {
        RegistryError::Unknown(name) => KeysError::NotRegistered(name),
        other => other.into(),
    })?;
    let removed = vault
        .store()
        .delete(name)
        .map_err(|source| KeysError::Keyring {
            name: name.to_string(),
            source,
        })?;
    // What a rotation keeps beside it goes too (best effort: they are only leftovers).
    for entry in [
        KeyRecord::pending_entry(name),
        KeyRecord::retiring_entry(name),
    ] {
        let _ = vault.store().delete(&entry);
    }
    registry.save()?;
    Ok(ForgetReport {
        record,
        removed_from_keyring: removed,
        store: vault.store_kind(),
    })
}

/// What `keys check` found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub label: String,
    pub provider: ProviderId,
    pub answer: Verification,
    /// A registered key found dead that the registry did not know was revoked: now it does.
    pub recorded_revoked: bool,
}

/// Asks the provider now whether the key works. A registered key found dead is recorded as
/// revoked (if it was not already).
pub fn check(
    resolved: &ResolvedKey,
    vault: &Vault,
    providers: &Providers,
    clock: &Clock,
) -> Result<CheckReport, KeysError> {
    let provider = providers.get(resolved.provider);
    let answer = if provider.can_verify(&resolved.key) {
        provider.verify(&resolved.key).scrubbed(&resolved.key)
    } else {
        Verification::unknown(format!(
            "{} keys cannot be checked with their provider",
            provider.name()
        ))
    };
    let mut recorded = false;
    if answer.liveness == Liveness::Dead && resolved.name.is_some() {
        recorded = record_revoked(
            vault,
            &resolved.key.fingerprint(),
            Revoked {
                at: clock.now(),
                how: RevokedHow::Checked,
                detail: Some(answer.reason.clone()),
            },
            false,
        )?;
    }
    Ok(CheckReport {
        label: resolved.label(),
        provider: resolved.provider,
        answer,
        recorded_revoked: recorded,
    })
}

/// Records a revocation on the registered key with this fingerprint, under the lock.
/// Returns whether a record changed. `overwrite: false` keeps a revocation already recorded.
pub fn record_revoked(
    vault: &Vault,
    fingerprint: &str,
    revoked: Revoked,
    overwrite: bool,
) -> Result<bool, KeysError> {
    let mut registry = vault.lock()?;
    let Some(record) = registry.find_by_fingerprint_mut(fingerprint) else {
        return Ok(false);
    };
    if record.revoked.is_some() && !overwrite {
        return Ok(false);
    }
    record.revoked = Some(revoked);
    registry.save()?;
    Ok(true)
}

/// How `keys revoke --replace` gets the new key.
pub enum Replacing {
    /// Through the provider's API where it can; else a hidden prompt when a person is
    /// there; else not at all (the report says how to do it).
    Auto,
    /// This key (from `--new-key-stdin`).
    Given(Secret),
}

/// A revocation of a resolved key, with an optional replacement.
pub struct RevokeRequest {
    pub resolved: ResolvedKey,
    pub options: RevokeOptions,
    pub replace: Option<Replacing>,
}

/// What `keys revoke` did.
pub struct RevokeOutcome {
    pub revoke: RevokeReport,
    pub replaced: Option<ReplaceReport>,
    /// `--replace` asked for, but there was no way to make or take the new key here.
    pub replace_skipped: Option<ReplaceError>,
    /// The registry now records the key as revoked.
    pub recorded: bool,
}

#[derive(Debug, Error)]
pub enum RevokeKeyError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Revoke(#[from] RevokeError),
    #[error(transparent)]
    Replace(#[from] ReplaceError),
}

/// Looks the key up and asks (`ops::revoke::prepare`), replaces it when asked — after the
/// yes, before the old key goes, so a service account the deletion may remove can still
/// make its successor — revokes it and waits, and records the revocation in the registry.
pub fn revoke_key(
    request: RevokeRequest,
    vault: &Vault,
    providers: &Providers,
    env: &Environment,
    clock: &Clock,
    io: &mut RevokeIo<'_>,
) -> Result<RevokeOutcome, RevokeKeyError> {
    let resolved = &request.resolved;
    let provider = providers.get(resolved.provider);
    let creds = vault.credentials(env)?;
    let target = RevokeTarget {
        provider: &*provider,
        key: &resolved.key,
        creds: &creds,
    };
    let prepared = revoke::prepare(&target, io)?;
    let mut replaced = None;
    let mut replace_skipped = None;
    if let (Some(replacing), Some(name)) = (request.replace, &resolved.name) {
        let interval = request
            .options
            .wait
            .map_or(revoke::DEFAULT_POLL_INTERVAL, |w| w.interval);
        let new_key = match replacing {
            Replacing::Given(key) => Some(NewKey::Given(key)),
            Replacing::Auto
                if replace::can_create(&*provider, prepared.located.as_ref(), &creds) =>
            {
                Some(NewKey::FromProvider {
                    name: replace::replacement_name(name, clock),
                })
            }
            Replacing::Auto if io.prompter.can_ask() && !io.prompter.assume_yes() => {
                let page = provider.manual_steps(&resolved.key).page;
                io.reporter.status(&format!(
                    "{} cannot create the replacement here: create a new key{}, then paste it",
                    provider.name(),
                    page.map(|p| format!(" at {p}")).unwrap_or_default()
                ));
                let key = io
                    .prompter
                    .secret(&format!("The new key for {name} (input hidden): "))
                    .map_err(RevokeError::Prompt)?;
                Some(NewKey::Given(Secret::new(key.expose().trim())))
            }
            Replacing::Auto => None,
        };
        match new_key {
            Some(new_key) => {
                let request = ReplaceRequest {
                    name,
                    provider: &*provider,
                    old: prepared.located.as_ref(),
                    creds: &creds,
                    new_key,
                    check_interval: interval,
                };
                replaced = Some(replace::replace(request, vault, clock, io.reporter)?);
            }
            None => replace_skipped = Some(replace::cannot_create(&*provider, &creds)),
        }
    }
    let report = revoke::execute(&target, &prepared, &request.options, clock.now(), io)?;
    // The fingerprint of the old key: the record now holds the new one when replaced.
    let recorded = match report.revoked() {
        Some(revoked) if replaced.is_none() => {
            record_revoked(vault, &resolved.key.fingerprint(), revoked, true)?
        }
        _ => false,
    };
    Ok(RevokeOutcome {
        revoke: report,
        replaced,
        replace_skipped,
        recorded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rules::template::{expand, KeyRng};

    fn fake(template: &str) -> String {
        expand(template, &mut KeyRng::new(42))
            .expect("template")
            .text
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("openai-prod_2.x").is_ok());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a b").is_err());
    }

    #[test]
    fn variables_are_checked() {
        assert!(validate_env_var("OPENAI_API_KEY").is_ok());
        assert!(validate_env_var("1X").is_err());
        assert!(validate_env_var("A-B").is_err());
    }

    #[test]
    fn secret_looking_arguments_are_spotted() {
        assert!(!looks_like_secret("openai-prod"));
        assert!(!looks_like_secret("my-service-account-name"));
        let body: String = (0..40)
            .map(|i| (b"aZ3kQ9xPm2Lw7RtY"[(i * 7) % 16]) as char)
            .collect();
        assert!(looks_like_secret(&format!("ghp_{}", &body[..36])));
    }

    #[test]
    fn a_whole_env_line_gives_its_value_and_variable() {
        let key = fake("sk-proj-{alnum_:74}T3BlbkFJ{alnum_:74}");
        for line in [
            format!("OPENAI_API_KEY={key}"),
            format!("export OPENAI_API_KEY=\"{key}\"\n"),
            format!("OPENAI_API_KEY = '{key}'  # prod"),
            format!("OPENAI_API_KEY={key} # prod"),
        ] {
            let input = read_key_input(&line, false).expect("a line");
            assert_eq!(input.key.expose(), key, "{line}");
            assert_eq!(input.var.as_deref(), Some("OPENAI_API_KEY"));
        }
        let bare = read_key_input(&format!("  {key}\n"), false).expect("bare");
        assert_eq!(bare.key.expose(), key);
        assert_eq!(bare.var, None);
        let padded = read_key_input("c2VjcmV0LXZhbHVlLTQy==", false).expect("base64");
        assert_eq!(padded.key.expose(), "c2VjcmV0LXZhbHVlLTQy==");
        assert_eq!(padded.var, None);
        assert!(matches!(
            read_key_input("OPENAI_API_KEY=", false),
            Err(KeysError::EmptyAssignment { .. })
        ));
        assert!(matches!(
            read_key_input(&format!("OPENAI_API_KEY=\"{key}"), false),
            Err(KeysError::BadLine(_))
        ));
        assert!(matches!(
            read_key_input(&format!("A={key}\nB={key}"), false),
            Err(KeysError::SeveralLines)
        ));
    }

    #[test]
    fn the_provider_comes_from_the_key_shape() {
        for (template, provider) in [
            ("sk-proj-{alnum_:74}T3BlbkFJ{alnum_:74}", ProviderId::OpenAi),
            (
                "sk-svcacct-{alnum_:74}T3BlbkFJ{alnum_:74}",
                ProviderId::OpenAi,
            ),
            (
                "sk-admin-{alnum_:58}T3BlbkFJ{alnum_:58}",
                ProviderId::OpenAi,
            ),
            ("sk-ant-api03-{alnum_:93}AA", ProviderId::Anthropic),
            ("ghp_{alnum:36}", ProviderId::GitHub),
            ("github_pat_{alnum:22}_{alnum:59}", ProviderId::GitHub),
            ("glpat-{alnum_:20}", ProviderId::GitLab),
            ("xoxb-{digits:12}-{digits:13}-{alnum:24}", ProviderId::Slack),
            ("AKIA{upper32:16}", ProviderId::Aws),
            ("sk_live_{alnum:24}", ProviderId::Stripe),
            ("hf_{letters:34}", ProviderId::HuggingFace),
        ] {
            let key = Secret::new(fake(template));
            assert_eq!(infer_provider(&key), Some(provider), "{template}");
            assert_eq!(resolve_provider(None, &key).expect("inferred"), provider);
            assert_eq!(
                resolve_provider(Some(provider), &key).expect("agrees"),
                provider
            );
        }
        let github = Secret::new(fake("ghp_{alnum:36}"));
        let err = resolve_provider(Some(ProviderId::OpenAi), &github).expect_err("mismatch");
        assert!(err.to_string().contains("--provider github"), "{err}");
        assert!(!err.to_string().contains(github.expose()));
        let plain = Secret::new("correct-horse-battery-staple-42");
        assert!(matches!(
            resolve_provider(None, &plain),
            Err(KeysError::UnknownShape { .. })
        ));
        assert_eq!(
            resolve_provider(Some(ProviderId::Generic), &plain).expect("given"),
            ProviderId::Generic
        );
    }
}
