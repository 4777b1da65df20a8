//! Rotating a key: the new key everywhere the old one is used ([`swap`](super::swap)), then
//! the old key revoked — through the provider's API where it can, else the manual steps
//! and checks until it is dead — or, with a grace period (`--grace`), its revocation
//! recorded for later. That second half lives in the registry rather than a journal: the
//! old key stays in the keyring (`NAME#old`) with a pending revocation on the record until
//! it is revoked, which `rotate --check` and the hooks remind about and `rotate --finish
//! NAME` (or `rotate NAME`) carries out. `--abort` undoes an unfinished rotation, or drops a
//! pending revocation.

use super::edits::Unavailable;
use super::inventory;
use super::keys::KeysError;
use super::revoke::{self, RevokeError, RevokeEvent, RevokeIo, RevokeOptions, RevokeReport};
use super::swap::{
    self, abort_swap, candidate_files, new_key_source, AbortReport, Commands, KeyLabel,
    NewKeyRequest, Retire, Sourcing, Swap, SwapError, SwapEvent, SwapIo, SwapReport, Unfinished,
};
use super::vault::Vault;
use super::{Prompter, Reporter};
use crate::core::clock::Clock;
use crate::core::envfiles::EnvFilePolicy;
use crate::core::provider::Providers;
use crate::core::registry::{KeyRecord, RegistryError, RetiredKey, Revoked, RevokedHow};
use crate::core::secret::Secret;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RotateError {
    /// Boxed: a swap's errors carry the commands to go on with.
    #[error(transparent)]
    Swap(Box<SwapError>),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Revoke(#[from] RevokeError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "no unfinished rotation of {0} and no revocation waiting (see `keywarden rotate --check`)"
    )]
    NothingToAbort(String),
    #[error("no revocation of an old key of {0} is waiting (see `keywarden rotate --check`)")]
    NothingToFinish(String),
    #[error("the keyring no longer holds the old key of {name} ({redacted}); revoke it at the provider by hand, then `keywarden rotate {name} --abort` stops the reminders")]
    OldKeyLost { name: String, redacted: String },
}

impl From<SwapError> for RotateError {
    fn from(err: SwapError) -> Self {
        RotateError::Swap(Box::new(err))
    }
}

/// The directory of the state directory that holds rotation journals.
pub const JOURNAL_DIR: &str = "rotations";

/// The journal of a rotation of `name` in the state directory `home`.
pub fn journal_path(home: &std::path::Path, name: &str) -> PathBuf {
    home.join(JOURNAL_DIR).join(format!("{name}.json"))
}

/// What `rotate` tells the person to type to go on with, or undo, a rotation of `name`.
pub fn commands(name: &str) -> Commands {
    Commands {
        resume: format!("keywarden rotate {name}"),
        abort: format!("keywarden rotate {name} --abort"),
    }
}

/// One rotation, as the person asked for it.
pub struct RotateRequest {
    pub name: String,
    pub new_key: NewKeyRequest,
    /// Keep the old key working this long (a deploy window); its revocation waits.
    pub grace: Option<chrono::Duration>,
    pub dry_run: bool,
    pub unavailable: Unavailable,
    /// The work trees of the repository the command runs in.
    pub here: Vec<PathBuf>,
    pub env_policy: EnvFilePolicy,
    pub revoke: RevokeOptions,
}

/// What happens, as it happens.
pub enum RotateEvent<'a> {
    Swap(SwapEvent<'a>),
    Revoke(RevokeEvent<'a>),
}

/// The person's side of a rotation.
pub struct RotateIo<'a> {
    pub prompter: &'a dyn Prompter,
    pub reporter: &'a dyn Reporter,
    pub events: &'a mut dyn FnMut(RotateEvent<'_>),
    /// Asked while waiting for the old key to die: true once the person wants to stop.
    pub stop: Option<&'a dyn Fn() -> bool>,
}

/// How the old key ended.
#[derive(Debug)]
pub enum OldKey {
    /// Its revocation waits until then (`--grace`).
    Pending { until: DateTime<Utc> },
    /// The revocation ran (`done`: confirmed revoked; otherwise it stays pending).
    Revocation(Box<FinishReport>),
    /// The revocation failed; it stays pending.
    Failed(Box<RotateError>),
    /// A dry run.
    NotTouched,
}

/// What a rotation did.
#[derive(Debug)]
pub struct RotationReport {
    pub swap: SwapReport,
    pub old_key: OldKey,
}

/// What `rotate NAME` did.
#[derive(Debug)]
pub enum RotateOutcome {
    Rotated(Box<RotationReport>),
    /// NAME's old key was still to be revoked: that is what this run did.
    Finished(Box<FinishReport>),
}

/// What finishing a pending revocation did.
#[derive(Debug, Clone)]
pub struct FinishReport {
    pub name: String,
    pub old: KeyLabel,
    pub report: RevokeReport,
    /// Confirmed revoked: the pending revocation is gone.
    pub done: bool,
}

/// Rotates the key `request.name` (or finishes what an earlier rotation left: an
/// unfinished swap, a revocation still pending).
pub fn rotate(
    request: RotateRequest,
    vault: &Vault,
    providers: &Providers,
    env: &crate::core::environment::Environment,
    clock: &Clock,
    io: &mut RotateIo<'_>,
) -> Result<RotateOutcome, RotateError> {
    let name = request.name.as_str();
    let record = vault.record(name)?;
    let journal_path = journal_path(vault.home(), name);
    let journal = swap::unfinished(&journal_path)?;
    if journal.is_none() {
        if let Some(pending) = &record.pending_revocation {
            if request.dry_run || matches!(request.new_key, NewKeyRequest::Given(_)) {
                return Err(SwapError::PendingFirst {
                    name: name.to_string(),
                    redacted: pending.redacted.clone(),
                }
                .into());
            }
            let finished = finish(name, &request.revoke, vault, providers, env, clock, io)?;
            return Ok(RotateOutcome::Finished(Box::new(finished)));
        }
    }
    let provider = providers.get(record.provider);
    let creds = vault.credentials(env)?;
    let old = match &journal {
        Some(journal) => old_key(vault, &record, &journal.old)?,
        None => vault.key(&record)?,
    };
    let files = candidate_files(&record, &request.here, &request.env_policy)?;
    let interval = request
        .revoke
        .wait
        .map_or(revoke::DEFAULT_POLL_INTERVAL, |w| w.interval);
    let not_before = clock.now() + request.grace.unwrap_or_else(chrono::Duration::zero);
    let swap_request = Swap {
        name,
        old: &old,
        provider: &*provider,
        creds: &creds,
        files,
        unavailable: request.unavailable,
        journal: journal_path.clone(),
        retire: Retire::Pending { not_before },
        dry_run: request.dry_run,
        check_interval: interval,
        commands: commands(name),
    };
    if let (NewKeyRequest::Given(key), Some(Unfinished { new: Some(new), .. })) =
        (&request.new_key, &journal)
    {
        if new.fingerprint != key.fingerprint() {
            return Err(SwapError::OtherNewKey {
                name: name.to_string(),
                redacted: new.redacted.clone(),
                commands: commands(name),
            }
            .into());
        }
    }
    let mut new_key = Some(request.new_key);
    let (prompter, reporter) = (io.prompter, io.reporter);
    let mut source = || {
        let asked = new_key.take().unwrap_or(NewKeyRequest::Auto);
        let sourcing = Sourcing {
            name,
            old: &old,
            provider: &*provider,
            creds: &creds,
            clock,
            dry_run: request.dry_run,
        };
        new_key_source(asked, &sourcing, prompter, reporter)
    };
    let report = {
        let events = &mut *io.events;
        let mut swap_events = |event: SwapEvent<'_>| events(RotateEvent::Swap(event));
        let mut swap_io = SwapIo {
            prompter,
            reporter,
            events: &mut swap_events,
        };
        swap::swap(swap_request, &mut source, vault, clock, &mut swap_io)?
    };
    if report.dry_run {
        return Ok(RotateOutcome::Rotated(Box::new(RotationReport {
            swap: report,
            old_key: OldKey::NotTouched,
        })));
    }
    let until = match &report.retire {
        Retire::Pending { not_before } => *not_before,
        Retire::Revoked(_) => clock.now(),
    };
    let old_key = if until > clock.now() {
        OldKey::Pending { until }
    } else {
        match finish(name, &request.revoke, vault, providers, env, clock, io) {
            Ok(finished) => OldKey::Revocation(Box::new(finished)),
            Err(err) => OldKey::Failed(Box::new(err)),
        }
    };
    Ok(RotateOutcome::Rotated(Box::new(RotationReport {
        swap: report,
        old_key,
    })))
}

/// The old key of an unfinished rotation: still under its name, or already kept aside for
/// its revocation, or (a tracked key) in its files.
fn old_key(vault: &Vault, record: &KeyRecord, label: &KeyLabel) -> Result<Secret, RotateError> {
    let entries = [record.name.clone(), KeyRecord::retiring_entry(&record.name)];
    for entry in &entries {
        if let Some(key) = vault.stored(entry)? {
            if key.fingerprint() == label.fingerprint {
                return Ok(key);
            }
        }
    }
    if let Some(key) = inventory::read_from_locations(&KeyRecord {
        fingerprint: label.fingerprint.clone(),
        ..record.clone()
    }) {
        return Ok(key);
    }
    Err(RotateError::OldKeyLost {
        name: record.name.clone(),
        redacted: label.redacted.clone(),
    })
}

/// Revokes the old key whose revocation `name`'s record says is pending (`--finish`): the
/// provider's API where it can, else the manual steps and checks until it is dead. Once
/// revoked the record says so and the keyring lets the old key go; otherwise it stays
/// pending.
pub fn finish(
    name: &str,
    options: &RevokeOptions,
    vault: &Vault,
    providers: &Providers,
    env: &crate::core::environment::Environment,
    clock: &Clock,
    io: &mut RotateIo<'_>,
) -> Result<FinishReport, RotateError> {
    let record = vault.record(name)?;
    let Some(pending) = record.pending_revocation.clone() else {
        return Err(RotateError::NothingToFinish(name.to_string()));
    };
    let entry = KeyRecord::retiring_entry(name);
    let old = match vault.stored(&entry)? {
        Some(key) if key.fingerprint() == pending.fingerprint => key,
        _ => {
            return Err(RotateError::OldKeyLost {
                name: name.to_string(),
                redacted: pending.redacted,
            })
        }
    };
    let provider = providers.get(record.provider);
    let creds = vault.credentials(env)?;
    let target = revoke::RevokeTarget {
        provider: &*provider,
        key: &old,
        creds: &creds,
    };
    let report = {
        let events = &mut *io.events;
        let mut revoke_events = |event: RevokeEvent<'_>| events(RotateEvent::Revoke(event));
        let mut revoke_io = RevokeIo {
            prompter: io.prompter,
            reporter: io.reporter,
            events: &mut revoke_events,
            stop: io.stop,
        };
        revoke::revoke(&target, options, clock.now(), &mut revoke_io)?
    };
    let revoked = match report.revoked() {
        Some(revoked) => Some(revoked),
        // A provider that cannot say whether a key works: the person's word, asked on a
        // terminal only (`--yes` cannot know it); otherwise it stays pending.
        None if report.next_step() == revoke::NextStep::CheckAtProvider => {
            let asked = io
                .prompter
                .offer("Have you revoked the old key at the provider?");
            matches!(asked, Ok(true)).then(|| Revoked {
                at: clock.now(),
                how: RevokedHow::Manual,
                detail: Some("revoked by hand; the provider cannot confirm it".to_string()),
            })
        }
        None => None,
    };
    let done = revoked.is_some();
    if let Some(revoked) = revoked {
        swap::settle_pending(vault, name, &pending.fingerprint, revoked)?;
    }
    Ok(FinishReport {
        name: name.to_string(),
        old: KeyLabel {
            fingerprint: pending.fingerprint,
            redacted: pending.redacted,
        },
        report,
        done,
    })
}

/// What `rotate NAME --abort` did.
#[derive(Debug)]
pub enum Aborted {
    /// An unfinished rotation was undone.
    Rotation(AbortReport),
    /// The pending revocation was dropped: the old key stays valid at the provider.
    PendingRevocation { name: String, old: KeyLabel },
}

/// Undoes an unfinished rotation of `name`; without one, drops its pending revocation
/// (the person revoked the old key by hand, or keeps it on purpose).
pub fn abort(
    name: &str,
    here: &[PathBuf],
    env_policy: &EnvFilePolicy,
    vault: &Vault,
) -> Result<Aborted, RotateError> {
    let record = vault.record(name)?;
    let files = candidate_files(&record, here, env_policy)?;
    if let Some(report) = abort_swap(&journal_path(vault.home(), name), &files, vault)? {
        return Ok(Aborted::Rotation(report));
    }
    let mut registry = vault.lock()?;
    let pending = registry
        .get_mut(name)
        .and_then(|record| record.pending_revocation.take());
    let Some(pending) = pending else {
        return Err(RotateError::NothingToAbort(name.to_string()));
    };
    if let Some(record) = registry.get_mut(name) {
        record.retired.push(RetiredKey {
            fingerprint: pending.fingerprint.clone(),
            redacted: pending.redacted.clone(),
            replaced: pending.replaced,
            revoked: None,
        });
    }
    registry.save()?;
    drop(registry);
    swap::forget_pending(vault, &KeyRecord::retiring_entry(name));
    Ok(Aborted::PendingRevocation {
        name: name.to_string(),
        old: KeyLabel {
            fingerprint: pending.fingerprint,
            redacted: pending.redacted,
        },
    })
}
