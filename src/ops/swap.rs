//! Replacing a key by a new one everywhere it is used — the first half of a rotation, and
//! the "replace" step of an incident: the new key (through the provider's API where it
//! can, else one the person creates), checked live; one plan of every edit — every
//! registered location and every other env file of the repositories that holds the old
//! key — shown as one redacted diff and confirmed once; the files all or nothing; then the
//! keyring and the registry, with the old key retired (kept for a revocation to come, or
//! recorded as revoked already).
//!
//! It is journaled in the state directory (a JSON file with fingerprints and redacted
//! forms, never a key) so that a run killed at any point is finished by running it again:
//! the new key is in the keyring (`NAME#pending`) before anything else happens — an API
//! shows a new key only once — and the files go through `ops::edits`, so each holds either
//! its old or its new content. Phases of the journal:
//! - `creating`: the new key is being made or taken; `NAME#pending` may hold it.
//! - `new-key`: `NAME#pending` holds the new key (its fingerprint is recorded).
//! - `files`: the person confirmed; the files are being edited (`<journal>.edits.json`).
//!
//! Once the keyring and the registry hold the new key the journal is removed. Where the
//! person is told to go on or to undo (`keywarden rotate NAME`, `… --abort`), the commands
//! are the caller's (`Swap::commands`), so that they work for `rotate` and `incident` alike.

use super::edits::{self, EditPlan, EditsError, Unavailable};
use super::inventory;
use super::keys::{self, KeysError};
use super::replace::{self, Created, NewKey, Obtained, ReplaceError};
use super::vault::Vault;
use super::{PromptError, Prompter, Reporter};
use crate::core::clock::Clock;
use crate::core::envfile::Warning;
use crate::core::envfiles::EnvFilePolicy;
use crate::core::fault;
use crate::core::provider::{Credentials, KeyOwner, Provider, ProviderId, RemoteKey, Verification};
use crate::core::registry::{
    write_private, KeyRecord, Location, PendingRevocation, RegistryError, RetiredKey, Revoked,
};
use crate::core::secret::{Liveness, Secret};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SwapError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Replace(#[from] ReplaceError),
    #[error(transparent)]
    Edits(#[from] EditsError),
    #[error(transparent)]
    Walk(#[from] crate::core::walk::WalkError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("refusing to replace {name} without confirmation: pass --yes")]
    NeedsConfirmation { name: String },
    #[error("not confirmed; nothing was changed")]
    Declined,
    #[error("not confirmed; the new key stays in the keyring as `{entry}`: `{}` goes on, `{}` drops it", .commands.resume, .commands.abort)]
    DeclinedKept { entry: String, commands: Commands },
    #[error("cannot ask for confirmation")]
    Prompt(#[source] PromptError),
    #[error("{provider} cannot create the new key here; create one{page} and give it with --new-key-stdin (or run on a terminal to paste it)", provider = .provider.name(), page = .page.as_deref().map(|p| format!(" at {p}")).unwrap_or_default())]
    NoNewKey {
        provider: ProviderId,
        page: Option<String>,
    },
    #[error("{provider} does not accept the new key {redacted} yet ({reason}); it is kept in the keyring as `{entry}`: `{}` checks it again and goes on, `{}` drops it", .commands.resume, .commands.abort, provider = .provider.name())]
    NotAcceptedYet {
        provider: ProviderId,
        redacted: String,
        reason: String,
        entry: String,
        commands: Commands,
    },
    #[error("the unfinished replacement of {name} replaces {journal} but {name} is {current} now; `{}` drops it", .commands.abort)]
    OtherRotation {
        name: String,
        journal: String,
        current: String,
        commands: Commands,
    },
    #[error("the keyring no longer holds the new key of the unfinished replacement of {name} (`{entry}`); `{}` drops it", .commands.abort)]
    PendingLost {
        name: String,
        entry: String,
        commands: Commands,
    },
    #[error("the unfinished replacement of {name} has its own new key {redacted}; run `{}` without --new-key-stdin to finish it, or `{}` first", .commands.resume, .commands.abort)]
    OtherNewKey {
        name: String,
        redacted: String,
        commands: Commands,
    },
    #[error("{name} has an unfinished replacement: `{}` finishes it and `{}` undoes it (a dry run shows nothing for it)", .commands.resume, .commands.abort)]
    UnfinishedDryRun { name: String, commands: Commands },
    #[error("the old key of {name} ({redacted}) is still to be revoked: `keywarden rotate --finish {name}` first")]
    PendingFirst { name: String, redacted: String },
    #[error("cannot read the journal {path}")]
    ReadJournal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the journal {path} is damaged; check the files it names, then remove it to start afresh"
    )]
    BadJournal {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The commands that go on with an unfinished swap and undo it, as the person types them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commands {
    pub resume: String,
    pub abort: String,
}

/// A key named without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLabel {
    pub fingerprint: String,
    pub redacted: String,
}

impl KeyLabel {
    pub fn of(key: &Secret) -> Self {
        KeyLabel {
            fingerprint: key.fingerprint(),
            redacted: key.redacted(),
        }
    }
}

/// Where a new key comes from.
pub enum NewKeySource {
    /// Made through the provider's API as a successor of `old` (as `locate` found it),
    /// under `name`.
    Provider { old: Box<RemoteKey>, name: String },
    /// Given by the person: on stdin or at the hidden prompt.
    Given(Secret),
    /// To be created by the person at the provider's page (a dry run does not ask for it).
    ToBeGiven { page: Option<String> },
}

/// How the person asked for the new key.
pub enum NewKeyRequest {
    /// Through the provider's API where it can (a new service account for a user's
    /// OpenAI key is offered first), else the provider's page and a hidden prompt.
    Auto,
    /// This key (`--new-key-stdin`).
    Given(Secret),
}

/// What becomes of the old key once the new one has its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Retire {
    /// Revoked later: kept in the keyring (`NAME#old`) with a pending revocation that is
    /// due at `not_before` (now, when there is no grace period).
    Pending { not_before: DateTime<Utc> },
    /// Revoked already (an incident contains a leak before it replaces the key).
    Revoked(Revoked),
}

/// The first half of a rotation, for `rotate` and `incident`.
pub struct Swap<'a> {
    /// The name the new key takes: a registered key's, or a new one (a record is made).
    pub name: &'a str,
    pub old: &'a Secret,
    pub provider: &'a dyn Provider,
    pub creds: &'a Credentials,
    /// Every file to look in; each that holds the old key is edited.
    pub files: Vec<PathBuf>,
    /// What to do with a file that is gone or read-only.
    pub unavailable: Unavailable,
    /// The journal (`<journal>.edits.json` beside it journals the files).
    pub journal: PathBuf,
    pub retire: Retire,
    /// Show the plan and change nothing.
    pub dry_run: bool,
    /// The pause between checks of a key the API just made.
    pub check_interval: Duration,
    /// What the person types to go on with an unfinished swap, or to undo it.
    pub commands: Commands,
}

/// What a swap shows as it goes.
#[derive(Debug)]
pub enum SwapEvent<'a> {
    /// An unfinished swap is taken up where it stopped.
    Resuming { phase: &'static str },
    /// Every edit, before the one confirmation (or in a dry run). `placeholder`: the API
    /// has not made the new key yet, so `new` only stands in for it (same shape).
    Plan {
        plan: &'a EditPlan,
        old: &'a Secret,
        new: &'a Secret,
        placeholder: bool,
    },
}

/// The person's side of a swap.
pub struct SwapIo<'a> {
    pub prompter: &'a dyn Prompter,
    pub reporter: &'a dyn Reporter,
    pub events: &'a mut dyn FnMut(SwapEvent<'_>),
}

/// What a swap did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct SwapReport {
    pub name: String,
    pub provider: ProviderId,
    pub env_var: String,
    pub old: KeyLabel,
    /// `None` in a dry run that would have the API make the key.
    pub new: Option<KeyLabel>,
    pub created: Option<Created>,
    /// In a dry run: where the new key would come from, in words.
    pub would_come_from: Option<String>,
    /// How the new key was checked (`None`: not in this dry run).
    pub verification: Option<Verification>,
    /// In a dry run: the files that would change.
    pub written: Vec<PathBuf>,
    /// Registered files left out (gone or read-only, with `Unavailable::Skip`).
    pub skipped: Vec<PathBuf>,
    pub warnings: Vec<(PathBuf, Warning)>,
    pub resumed: bool,
    pub dry_run: bool,
    pub retire: Retire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Phase {
    Creating,
    NewKey,
    Files,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Creating => "creating the new key",
            Phase::NewKey => "the new key is in the keyring",
            Phase::Files => "editing the files",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    version: u32,
    name: String,
    provider: ProviderId,
    phase: Phase,
    started: DateTime<Utc>,
    old: KeyLabel,
    #[serde(default)]
    new: Option<KeyLabel>,
    #[serde(default)]
    created: Option<Created>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    retire: Retire,
}

fn edits_journal(journal: &Path) -> PathBuf {
    journal.with_extension("edits.json")
}

/// An unfinished swap, as its journal records it.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub old: KeyLabel,
    /// The new key, once it is in the keyring.
    pub new: Option<KeyLabel>,
}

/// The swap journaled at `journal`, when one is unfinished.
pub fn unfinished(journal: &Path) -> Result<Option<Unfinished>, SwapError> {
    Ok(read_journal(journal)?.map(|j| Unfinished {
        old: j.old,
        new: j.new,
    }))
}

fn read_journal(path: &Path) -> Result<Option<Journal>, SwapError> {
    let Some(bytes) =
        crate::core::fs::read_if_present(path).map_err(|source| SwapError::ReadJournal {
            path: path.to_path_buf(),
            source,
        })?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| SwapError::BadJournal {
            path: path.to_path_buf(),
            source,
        })
}

/// Written atomically with mode 0600, as the registry beside it.
fn write_journal(path: &Path, journal: &Journal) -> Result<(), RegistryError> {
    write_private(path, &crate::core::fs::json_document(journal))
}

fn remove_file(path: &Path) {
    // A journal that cannot be removed is found and finished by the next run.
    let _ = std::fs::remove_file(path);
}

/// A key of the old one's shape for a plan made before the API makes the real one: every
/// letter and digit shifted, everything else kept, so the quoting checks see what they
/// will see.
fn stand_in(old: &Secret) -> Secret {
    let shifted: String = old
        .expose()
        .chars()
        .map(|c| match c {
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            c if c.is_ascii_alphanumeric() => char::from(c as u8 + 1),
            c => c,
        })
        .collect();
    Secret::new(shifted)
}

pub(super) fn confirm(
    prompter: &dyn Prompter,
    question: &str,
    name: &str,
) -> Result<bool, SwapError> {
    match prompter.confirm(question) {
        Ok(answer) => Ok(answer),
        Err(PromptError::NoTerminal) => Err(SwapError::NeedsConfirmation {
            name: name.to_string(),
        }),
        Err(err) => Err(SwapError::Prompt(err)),
    }
}

/// Replaces `swap.old` by a new key everywhere: the new key (from `source`, asked only
/// when needed — not when an unfinished run already holds it), checked live; one plan of
/// every edit, shown and confirmed once (`--yes` answers); the files all or nothing; then
/// the keyring and the registry (with the old key retired as `swap.retire` says). An
/// unfinished swap at `swap.journal` is finished first.
pub fn swap(
    swap: Swap<'_>,
    source: &mut dyn FnMut() -> Result<NewKeySource, SwapError>,
    vault: &Vault,
    clock: &Clock,
    io: &mut SwapIo<'_>,
) -> Result<SwapReport, SwapError> {
    let name = swap.name;
    let pending = KeyRecord::pending_entry(name);
    let existing = read_journal(&swap.journal)?;
    let editing = existing.as_ref().is_some_and(|j| j.phase == Phase::Files);
    if !swap.dry_run && !editing && !io.prompter.assume_yes() && !io.prompter.can_ask() {
        // Asked before anything happens, not half-way.
        return Err(SwapError::NeedsConfirmation {
            name: name.to_string(),
        });
    }
    if let Retire::Pending { .. } = swap.retire {
        let record = vault.registry()?.get(name).cloned();
        if let Some(earlier) = record.and_then(|r| r.pending_revocation) {
            if earlier.fingerprint != swap.old.fingerprint() {
                return Err(SwapError::PendingFirst {
                    name: name.to_string(),
                    redacted: earlier.redacted,
                });
            }
        }
    }
    if let Some(journal) = &existing {
        if journal.old.fingerprint != swap.old.fingerprint() {
            return Err(SwapError::OtherRotation {
                name: name.to_string(),
                journal: journal.old.redacted.clone(),
                current: swap.old.redacted(),
                commands: swap.commands.clone(),
            });
        }
        if swap.dry_run {
            return Err(SwapError::UnfinishedDryRun {
                name: name.to_string(),
                commands: swap.commands.clone(),
            });
        }
        (io.events)(SwapEvent::Resuming {
            phase: journal.phase.as_str(),
        });
    }
    let resumed = existing.is_some();
    // A new key an earlier run already holds: by its fingerprint, else (killed while it was
    // being made) whatever the pending entry holds.
    let held = match &existing {
        Some(journal) => match (&journal.new, vault.stored(&pending)?) {
            (Some(label), Some(key)) if key.fingerprint() == label.fingerprint => Some(key),
            (None, Some(key)) => Some(key),
            (Some(label), _) => match vault.stored(name)? {
                // Killed after the keyring took the new key under its name.
                Some(key) if key.fingerprint() == label.fingerprint => Some(key),
                _ => {
                    return Err(SwapError::PendingLost {
                        name: name.to_string(),
                        entry: pending,
                        commands: swap.commands.clone(),
                    })
                }
            },
            (None, None) => None,
        },
        None => None,
    };
    let mut journal = existing.unwrap_or_else(|| Journal {
        version: 1,
        name: name.to_string(),
        provider: swap.provider.id(),
        phase: Phase::Creating,
        started: clock.now(),
        old: KeyLabel::of(swap.old),
        new: None,
        created: None,
        created_at: None,
        retire: swap.retire.clone(),
    });
    let plan_for = |new: &Secret| edits::plan(&swap.files, swap.old, new, swap.unavailable);

    let (new_key, verification, plan) = match held {
        Some(key) => {
            // Killed before the journal named it: it does from now on.
            journal.new = Some(KeyLabel::of(&key));
            // Checked again: time has passed, and the plan is confirmed again unless the
            // files are already being edited.
            let verification = if journal.created.is_some() {
                replace::check_new(swap.provider, &key, swap.check_interval)
            } else {
                replace::check_given(swap.provider, &key, io.reporter)?
            };
            not_accepted(&swap, &journal, &key, &verification, &pending)?;
            let plan = plan_for(&key)?;
            if journal.phase != Phase::Files {
                (io.events)(SwapEvent::Plan {
                    plan: &plan,
                    old: swap.old,
                    new: &key,
                    placeholder: false,
                });
                if !confirm(io.prompter, &question(name, &plan), name)? {
                    return Err(SwapError::DeclinedKept {
                        entry: pending,
                        commands: swap.commands.clone(),
                    });
                }
            }
            (key, verification, plan)
        }
        None => match source()? {
            NewKeySource::Given(key) => {
                // Local refusals (quoting, missing files) before the network.
                let plan = plan_for(&key)?;
                if swap.dry_run {
                    let verification = replace::check_given(swap.provider, &key, io.reporter)?;
                    (io.events)(SwapEvent::Plan {
                        plan: &plan,
                        old: swap.old,
                        new: &key,
                        placeholder: false,
                    });
                    return Ok(dry_report(
                        &swap,
                        &plan,
                        Some(&key),
                        None,
                        Some(verification),
                    ));
                }
                write_journal(&swap.journal, &journal)?;
                let obtained = obtain(
                    &swap,
                    NewKey::Given(key),
                    None,
                    &mut journal,
                    vault,
                    io.reporter,
                );
                let obtained = match obtained {
                    Ok(obtained) => obtained,
                    Err(err) => {
                        // A dead or refused key: nothing was changed.
                        forget_pending(vault, &pending);
                        remove_file(&swap.journal);
                        return Err(err);
                    }
                };
                (io.events)(SwapEvent::Plan {
                    plan: &plan,
                    old: swap.old,
                    new: &obtained.key,
                    placeholder: false,
                });
                match confirm(io.prompter, &question(name, &plan), name) {
                    Ok(true) => {}
                    answer => {
                        forget_pending(vault, &pending);
                        remove_file(&swap.journal);
                        answer?;
                        return Err(SwapError::Declined);
                    }
                }
                (obtained.key, obtained.verification, plan)
            }
            NewKeySource::Provider {
                old,
                name: api_name,
            } => {
                // Confirmed before the API makes anything: a "no" leaves nothing behind.
                let preview = preview(&swap, io)?;
                if swap.dry_run {
                    let origin = would_make(swap.provider, &old, &api_name);
                    return Ok(dry_report(&swap, &preview, None, Some(origin), None));
                }
                if !confirm(io.prompter, &question(name, &preview), name)? {
                    return Err(SwapError::Declined);
                }
                write_journal(&swap.journal, &journal)?;
                let made = obtain(
                    &swap,
                    NewKey::FromProvider { name: api_name },
                    Some(&old),
                    &mut journal,
                    vault,
                    io.reporter,
                );
                let made = match made {
                    Ok(made) => made,
                    Err(err) => {
                        // Nothing was made (else it would be kept): start afresh next time.
                        if vault.stored(&pending)?.is_none() {
                            remove_file(&swap.journal);
                        }
                        return Err(err);
                    }
                };
                not_accepted(&swap, &journal, &made.key, &made.verification, &pending)?;
                // The real key this time: its own quoting checks.
                let plan = plan_for(&made.key)?;
                (made.key, made.verification, plan)
            }
            NewKeySource::ToBeGiven { page } => {
                if !swap.dry_run {
                    return Err(SwapError::NoNewKey {
                        provider: swap.provider.id(),
                        page,
                    });
                }
                let preview = preview(&swap, io)?;
                let origin = format!(
                    "a key you create{} and paste",
                    page.map(|p| format!(" at {p}")).unwrap_or_default()
                );
                return Ok(dry_report(&swap, &preview, None, Some(origin), None));
            }
        },
    };

    journal.phase = Phase::Files;
    write_journal(&swap.journal, &journal)?;
    fault::point("rotate:files");
    let applied = edits::apply(&plan, &edits_journal(&swap.journal))?;
    fault::point("rotate:files-done");
    let env_var = store(&swap, &journal, &new_key, &plan, vault, clock)?;
    remove_file(&swap.journal);
    Ok(SwapReport {
        name: name.to_string(),
        provider: swap.provider.id(),
        env_var,
        old: journal.old.clone(),
        new: Some(KeyLabel::of(&new_key)),
        created: journal.created.clone(),
        would_come_from: None,
        verification: Some(verification),
        written: applied.written,
        skipped: plan.skipped.clone(),
        warnings: warnings(&plan),
        resumed,
        dry_run: false,
        retire: journal.retire.clone(),
    })
}

/// The plan for a key not made yet (a stand-in of the old key's shape in its place), shown.
fn preview(swap: &Swap<'_>, io: &mut SwapIo<'_>) -> Result<EditPlan, SwapError> {
    let placeholder = stand_in(swap.old);
    let plan = edits::plan(&swap.files, swap.old, &placeholder, swap.unavailable)?;
    (io.events)(SwapEvent::Plan {
        plan: &plan,
        old: swap.old,
        new: &placeholder,
        placeholder: true,
    });
    Ok(plan)
}

fn question(name: &str, plan: &EditPlan) -> String {
    match plan.edits.len() {
        0 => format!("Rotate {name}?"),
        1 => format!("Rotate {name} and make this change?"),
        n => format!("Rotate {name} and make these changes to {n} files?"),
    }
}

fn warnings(plan: &EditPlan) -> Vec<(PathBuf, Warning)> {
    plan.warnings()
        .map(|(path, w)| (path.to_path_buf(), w.clone()))
        .collect()
}

/// What the API would make for `old`, in words (a dry run).
fn would_make(provider: &dyn Provider, old: &RemoteKey, api_name: &str) -> String {
    match &old.owner {
        KeyOwner::ServiceAccount { name, .. } => format!(
            "another key for service account {name}, made by the {} API",
            provider.name()
        ),
        _ => format!(
            "a new service account {api_name}{}, made by the {} API",
            old.project
                .as_ref()
                .map(|p| format!(" in project {}", p.name))
                .unwrap_or_default(),
            provider.name()
        ),
    }
}

fn dry_report(
    swap: &Swap<'_>,
    plan: &EditPlan,
    new: Option<&Secret>,
    origin: Option<String>,
    verification: Option<Verification>,
) -> SwapReport {
    SwapReport {
        name: swap.name.to_string(),
        provider: swap.provider.id(),
        env_var: String::new(),
        old: KeyLabel::of(swap.old),
        new: new.map(KeyLabel::of),
        created: None,
        would_come_from: origin,
        verification,
        written: plan.edits.iter().map(|e| e.path.clone()).collect(),
        skipped: plan.skipped.clone(),
        warnings: warnings(plan),
        resumed: false,
        dry_run: true,
        retire: swap.retire.clone(),
    }
}

/// A key the API made that the provider does not accept yet stops the swap (kept, so the
/// next run goes on); one that is dead too.
fn not_accepted(
    swap: &Swap<'_>,
    journal: &Journal,
    key: &Secret,
    verification: &Verification,
    pending: &str,
) -> Result<(), SwapError> {
    if journal.created.is_some() && verification.liveness != Liveness::Live {
        return Err(SwapError::NotAcceptedYet {
            commands: swap.commands.clone(),
            provider: swap.provider.id(),
            redacted: key.redacted(),
            reason: verification.reason.clone(),
            entry: pending.to_string(),
        });
    }
    Ok(())
}

/// The new key, kept in the pending entry the moment it exists, the journal saying so.
fn obtain(
    swap: &Swap<'_>,
    new_key: NewKey,
    located: Option<&RemoteKey>,
    journal: &mut Journal,
    vault: &Vault,
    reporter: &dyn Reporter,
) -> Result<Obtained, SwapError> {
    let pending = KeyRecord::pending_entry(swap.name);
    let old_fingerprint = journal.old.fingerprint.clone();
    let source = replace::Source {
        provider: swap.provider,
        old: located,
        creds: swap.creds,
        replaces: &old_fingerprint,
        check_interval: swap.check_interval,
    };
    let path = swap.journal.clone();
    let mut keep = |key: &Secret, created: Option<&Created>, created_at| {
        vault.store_key(&pending, key)?;
        fault::point("rotate:kept");
        journal.phase = Phase::NewKey;
        journal.new = Some(KeyLabel::of(key));
        journal.created = created.cloned();
        journal.created_at = created_at;
        Ok(write_journal(&path, journal)?)
    };
    Ok(replace::obtain(&source, new_key, &mut keep, reporter)?)
}

pub(super) fn forget_pending(vault: &Vault, entry: &str) {
    // Best effort: a leftover pending entry is overwritten by the next rotation.
    let _ = vault.store().delete(entry);
}

/// Records that the old key of `name` awaiting its revocation (`fingerprint`) is revoked:
/// retired with how, and the keyring entry that kept it for the revocation dropped.
/// Returns whether it was awaiting one.
pub fn settle_pending(
    vault: &Vault,
    name: &str,
    fingerprint: &str,
    revoked: Revoked,
) -> Result<bool, SwapError> {
    let mut registry = vault.lock()?;
    let Some(record) = registry.get_mut(name) else {
        return Ok(false);
    };
    let Some(pending) = record
        .pending_revocation
        .take_if(|p| p.fingerprint == fingerprint)
    else {
        return Ok(false);
    };
    record.retired.push(RetiredKey {
        fingerprint: pending.fingerprint,
        redacted: pending.redacted,
        replaced: pending.replaced,
        revoked: Some(revoked),
    });
    registry.save()?;
    drop(registry);
    forget_pending(vault, &KeyRecord::retiring_entry(name));
    Ok(true)
}

/// The keyring and the registry take the new key, under the lock: the old key kept for
/// its revocation (`NAME#old`) first, then the new one under its name, then the record —
/// each step idempotent, so a resumed run simply does them again. Returns the variable.
fn store(
    swap: &Swap<'_>,
    journal: &Journal,
    new: &Secret,
    plan: &EditPlan,
    vault: &Vault,
    clock: &Clock,
) -> Result<String, SwapError> {
    let name = swap.name;
    let mut registry = vault.lock()?;
    let now = clock.now();
    if let Retire::Pending { .. } = journal.retire {
        vault.store_key(&KeyRecord::retiring_entry(name), swap.old)?;
    }
    vault.store_key(name, new)?;
    fault::point("rotate:keyring");
    let edited_var = plan
        .edits
        .iter()
        .flat_map(|e| e.changes.iter())
        .find_map(|c| c.var.clone());
    if registry.get(name).is_none() {
        // A key nobody registered (an incident's leaked key): recorded as the old key, so
        // that it is retired below like any other.
        let env_var = edited_var
            .clone()
            .unwrap_or_else(|| swap.provider.default_env_var().to_string());
        registry.add(keys::new_record(
            name,
            swap.provider.id(),
            &env_var,
            swap.old,
            now,
        ))?;
    }
    let record = registry
        .get_mut(name)
        .expect("the record is there or was just added");
    if record.fingerprint != new.fingerprint() {
        record.fingerprint = new.fingerprint();
        record.redacted = new.redacted();
        record.created = journal.created_at;
        record.added = now;
        record.last_rotated = Some(now);
        record.last_used = None;
        record.remote_id = None;
        record.revoked = None;
        match &journal.retire {
            Retire::Pending { not_before } => {
                record.pending_revocation = Some(PendingRevocation {
                    fingerprint: journal.old.fingerprint.clone(),
                    redacted: journal.old.redacted.clone(),
                    replaced: now,
                    not_before: *not_before,
                })
            }
            Retire::Revoked(revoked) => record.retired.push(RetiredKey {
                fingerprint: journal.old.fingerprint.clone(),
                redacted: journal.old.redacted.clone(),
                replaced: now,
                revoked: Some(revoked.clone()),
            }),
        }
    }
    record.in_keyring = true;
    for edit in &plan.edits {
        let var = edit.changes.iter().find_map(|c| c.var.clone());
        let location = Location {
            repo: keys::repo_of(&edit.path),
            path: edit.path.clone(),
            var,
        };
        if !record.locations.iter().any(|l| l.path == location.path) {
            record.add_location(location);
        }
    }
    // Registered files that are gone are dropped (`--skip-missing`); unwritable ones stay.
    record
        .locations
        .retain(|l| !plan.skipped.contains(&l.path) || l.path.exists());
    let env_var = record.env_var.clone();
    registry.save()?;
    drop(registry);
    forget_pending(vault, &KeyRecord::pending_entry(name));
    Ok(env_var)
}

/// Every file a rotation of `record` looks in: its registered locations, and the files
/// that may hold keys (env-file names, `.envrc`) in every work tree of the repositories
/// those locations lie in and of `here`.
pub fn candidate_files(
    record: &KeyRecord,
    here: &[PathBuf],
    policy: &EnvFilePolicy,
) -> Result<Vec<PathBuf>, SwapError> {
    let mut roots: Vec<PathBuf> = here.to_vec();
    for location in &record.locations {
        let repo_dir = location
            .repo
            .clone()
            .or_else(|| keys::repo_of(&location.path));
        let Some(dir) = repo_dir.filter(|d| d.is_dir()) else {
            continue;
        };
        let Ok(repo) = git2::Repository::open(&dir) else {
            continue;
        };
        for root in inventory::work_trees(&repo) {
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
    }
    let mut files: Vec<PathBuf> = record.locations.iter().map(|l| l.path.clone()).collect();
    for file in inventory::key_files(&roots, policy)? {
        if !files.contains(&file) {
            files.push(file);
        }
    }
    Ok(files)
}

/// What deciding where a new key comes from needs to know.
pub struct Sourcing<'a> {
    /// The key's registered name.
    pub name: &'a str,
    pub old: &'a Secret,
    pub provider: &'a dyn Provider,
    pub creds: &'a Credentials,
    pub clock: &'a Clock,
    /// A dry run: offers count as accepted and no key is asked for, to show what would be.
    pub dry_run: bool,
}

/// How a new key is asked for, decided with the person: `--new-key-stdin`'s key; else,
/// where the provider's API can make a successor, the API — at once for a service
/// account's key, after a yes (`--yes` answers it) for a user's key, which the API cannot
/// make, so a new service account in the same project takes its place; else the provider's
/// page and a hidden prompt.
pub fn new_key_source(
    request: NewKeyRequest,
    sourcing: &Sourcing<'_>,
    prompter: &dyn Prompter,
    reporter: &dyn Reporter,
) -> Result<NewKeySource, SwapError> {
    let Sourcing {
        name,
        old,
        provider,
        creds,
        clock,
        dry_run,
    } = *sourcing;
    if let NewKeyRequest::Given(key) = request {
        return Ok(NewKeySource::Given(key));
    }
    if let Some(via) = provider.locator(creds) {
        reporter.status(&format!("looking the key up with {via}"));
        match provider.locate(old, creds) {
            Ok(Some(remote)) if provider.can_create_replacement(&remote, creds) => {
                let api_name = replace::replacement_name(name, clock);
                let accepted = match &remote.owner {
                    KeyOwner::ServiceAccount { .. } => true,
                    _ if dry_run => true,
                    owner => {
                        let project = remote
                            .project
                            .as_ref()
                            .map(|p| format!(" in project \"{}\"", p.name))
                            .unwrap_or_default();
                        confirm(
                            prompter,
                            &format!(
                                "{name} belongs to {}, and {} cannot make a user's key. Create a new service account \"{api_name}\"{project} to hold its successor?",
                                owner.describe(),
                                provider.name()
                            ),
                            name,
                        )?
                    }
                };
                if accepted {
                    return Ok(NewKeySource::Provider {
                        old: Box::new(remote),
                        name: api_name,
                    });
                }
            }
            Ok(_) => {}
            Err(err) => {
                let mut secrets = creds.secrets();
                secrets.push(old);
                reporter.warn(&format!(
                    "could not look the key up, so the new key cannot be made through the API: {}",
                    err.scrubbed(&secrets)
                ));
            }
        }
    }
    typed_new_key(sourcing, prompter, reporter)
}

/// A new key the person creates at the provider's page and pastes at a hidden prompt
/// (in a dry run, only where it would come from); with nobody to ask, the error that says
/// to give it with `--new-key-stdin`.
pub fn typed_new_key(
    sourcing: &Sourcing<'_>,
    prompter: &dyn Prompter,
    reporter: &dyn Reporter,
) -> Result<NewKeySource, SwapError> {
    let Sourcing {
        name,
        old,
        provider,
        dry_run,
        ..
    } = *sourcing;
    let page = provider.manual_steps(old).page;
    if dry_run {
        return Ok(NewKeySource::ToBeGiven { page });
    }
    if prompter.can_ask() && !prompter.assume_yes() {
        reporter.status(&format!(
            "create a new {} key{}, then paste it here",
            provider.name(),
            page.as_deref()
                .map(|p| format!(" at {p}"))
                .unwrap_or_default()
        ));
        let typed = prompter
            .secret(&format!("The new key for {name} (input hidden): "))
            .map_err(SwapError::Prompt)?;
        return Ok(NewKeySource::Given(Secret::new(typed.expose().trim())));
    }
    Err(SwapError::NoNewKey {
        provider: provider.id(),
        page,
    })
}

/// Undoes an unfinished swap: files back to their old content, the pending keyring entry
/// removed, the journal dropped. A key the provider's API made cannot be unmade here: it
/// comes back so the person can delete it.
pub fn abort_swap(
    journal_path: &Path,
    files: &[PathBuf],
    vault: &Vault,
) -> Result<Option<AbortReport>, SwapError> {
    let Some(journal) = read_journal(journal_path)? else {
        return Ok(None);
    };
    let edits = edits_journal(journal_path);
    let restored = if edits::is_unfinished(&edits) {
        edits::abort(&edits)?
    } else {
        Vec::new()
    };
    let mut rewritten = Vec::new();
    if journal.phase == Phase::Files && restored.is_empty() {
        // The files were all renamed and the edit journal is gone: each file that holds
        // the new key gets the old one back. That needs both keys.
        rewritten = undo_finished_files(&journal, journal_path, files, vault)?;
    }
    forget_pending(vault, &KeyRecord::pending_entry(&journal.name));
    remove_file(journal_path);
    Ok(Some(AbortReport {
        name: journal.name,
        restored: restored.into_iter().chain(rewritten).collect(),
        created: journal.created,
        provider: journal.provider,
        new: journal.new,
    }))
}

/// After every file was renamed but before the keyring took the new key: put the old key
/// back in `files`.
fn undo_finished_files(
    journal: &Journal,
    journal_path: &Path,
    files: &[PathBuf],
    vault: &Vault,
) -> Result<Vec<PathBuf>, SwapError> {
    let entries = [
        KeyRecord::pending_entry(&journal.name),
        journal.name.clone(),
        KeyRecord::retiring_entry(&journal.name),
    ];
    let find = |label: &Option<KeyLabel>| -> Result<Option<Secret>, SwapError> {
        let Some(label) = label else { return Ok(None) };
        for entry in &entries {
            if let Some(key) = vault.stored(entry)? {
                if key.fingerprint() == label.fingerprint {
                    return Ok(Some(key));
                }
            }
        }
        Ok(None)
    };
    let (Some(new), Some(old)) = (find(&journal.new)?, find(&Some(journal.old.clone()))?) else {
        return Ok(Vec::new());
    };
    let plan = edits::plan(files, &new, &old, Unavailable::Skip)?;
    Ok(edits::apply(&plan, &edits_journal(journal_path))?.written)
}

/// What `--abort` did.
#[derive(Debug, Clone)]
pub struct AbortReport {
    pub name: String,
    /// Files put back to their old content.
    pub restored: Vec<PathBuf>,
    /// A key the API made, which still works at the provider.
    pub created: Option<Created>,
    pub provider: ProviderId,
    pub new: Option<KeyLabel>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stand_in_keeps_the_shape_and_differs() {
        let old = Secret::new("sk-proj-az_Z9-x");
        let stand = stand_in(&old);
        assert_eq!(stand.expose(), "tl-qspk-ba_A0-y");
        assert_ne!(stand.fingerprint(), old.fingerprint());
    }

    #[test]
    fn the_journal_names_phases_in_kebab_case_and_holds_no_key() {
        let key = Secret::new("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789");
        let journal = Journal {
            version: 1,
            name: "openai-prod".to_string(),
            provider: ProviderId::OpenAi,
            phase: Phase::NewKey,
            started: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            old: KeyLabel::of(&key),
            new: None,
            created: None,
            created_at: None,
            retire: Retire::Pending {
                not_before: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            },
        };
        let text = serde_json::to_string(&journal).expect("json");
        assert!(text.contains("\"phase\":\"new-key\""), "{text}");
        assert!(!text.contains(key.expose()));
        let back: Journal = serde_json::from_str(&text).expect("read back");
        assert_eq!(back.phase, Phase::NewKey);
    }

    #[test]
    fn a_key_nobody_registered_is_replaced_and_recorded_with_its_predecessor_revoked() {
        use crate::core::provider::manual::Generic;
        use crate::core::registry::keyring::FileStore;
        use crate::core::registry::Registry;
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("state");
        let env = dir.path().join(".env");
        let (old, new) = (
            Secret::new("leaked-generic-secret-0123456789abcdef"),
            Secret::new("fresh-generic-secret-9876543210fedcba"),
        );
        std::fs::write(&env, format!("# db\nDB_PASSWORD='{}'\n", old.expose())).expect("write");
        let vault = Vault::new(
            home.clone(),
            Box::new(FileStore::new(dir.path().join("keyring.json"))),
        );
        let clock = Clock::fixed(DateTime::from_timestamp(1_780_000_000, 0).expect("time"));
        let revoked = Revoked {
            at: clock.now(),
            how: crate::core::registry::RevokedHow::Api,
            detail: Some("contained first".to_string()),
        };
        let mut events = |_: SwapEvent<'_>| {};
        let mut io = SwapIo {
            prompter: &super::super::Unattended { yes: true },
            reporter: &super::super::Quiet,
            events: &mut events,
        };
        let mut given = Some(new.clone());
        let mut source = || Ok(NewKeySource::Given(given.take().expect("asked once")));
        let report = swap(
            Swap {
                name: "db-leak",
                old: &old,
                provider: &Generic::with_defaults(),
                creds: &Credentials::default(),
                files: vec![env.clone()],
                unavailable: Unavailable::Refuse,
                journal: home.join("incident/swap.json"),
                retire: Retire::Revoked(revoked.clone()),
                dry_run: false,
                check_interval: Duration::from_millis(1),
                commands: Commands {
                    resume: "keywarden incident".to_string(),
                    abort: "keywarden incident --abort".to_string(),
                },
            },
            &mut source,
            &vault,
            &clock,
            &mut io,
        )
        .expect("swapped");
        assert_eq!(report.written, vec![env.clone()]);
        assert_eq!(report.env_var, "DB_PASSWORD");
        assert_eq!(
            std::fs::read_to_string(&env).expect("read"),
            format!("# db\nDB_PASSWORD='{}'\n", new.expose())
        );
        let registry = Registry::load(&home).expect("registry");
        let record = registry.get("db-leak").expect("recorded");
        assert_eq!(record.fingerprint, new.fingerprint());
        assert_eq!(record.retired[0].fingerprint, old.fingerprint());
        assert_eq!(record.retired[0].revoked, Some(revoked));
        assert!(record.pending_revocation.is_none());
        assert_eq!(record.locations[0].var.as_deref(), Some("DB_PASSWORD"));
        assert_eq!(
            vault
                .stored("db-leak")
                .expect("keyring")
                .map(|k| k.fingerprint()),
            Some(new.fingerprint())
        );
        assert!(vault.stored("db-leak#old").expect("keyring").is_none());
        assert!(!home.join("incident/swap.json").exists());
    }
}
