//! The response to a leaked key, in the order accepted practice gives it — make the key
//! worthless first, then clean up: 1. exposure (where the key is, whether and since when it
//! is public, and, with an OpenAI admin key, whether it was used since), 2. contain (revoke
//! it and check it is dead), 3. replace (a new key in every file and the keyring, as
//! `rotate` does it), 4. purge (history rewritten, and force-pushed when asked), 5. report.
//!
//! Each stage's result goes into the incident's record ([`state`]) before the next begins,
//! and the leaked key waits in the keyring (`incident#<id>`) for the stages that need it,
//! so a run killed anywhere is taken up by `keywarden incident` at the first stage without a
//! result; every stage can run twice (a dead key is found dead, a finished replacement is
//! found in the registry, the purge has its own journal). Nothing is printed here: the
//! command layer drives the stages and renders them; the purge stage is driven through
//! [`ops::purge`](super::purge) by the command layer, which records its summary here.

pub mod state;

use super::exposure::{self, Exposure};
use super::inventory;
use super::keys::KeysError;
use super::purge::{self, PurgeError, Summary, VerifyReport};
use super::replace;
use super::revoke::{self, FinalCheck, RevokeError, RevokeIo, RevokeMethod, RevokeOptions};
use super::swap::{
    self, Commands, KeyLabel, NewKeySource, Retire, Sourcing, Swap, SwapError, SwapIo, SwapReport,
};
use super::vault::Vault;
use super::{Prompter, Reporter};
use crate::core::clock::Clock;
use crate::core::envfiles::EnvFilePolicy;
use crate::core::progress::Progress;
use crate::core::provider::openai_usage::{Usage, Window};
use crate::core::provider::{Credentials, KeyOwner, Provider, ProviderId, RemoteKey};
use crate::core::registry::{KeyRecord, Revoked, RevokedHow};
use crate::core::secret::{Liveness, Secret};
use chrono::{DateTime, Utc};
use git2::Repository;
use state::{
    Choices, Closing, CommitRecord, ContainRecord, ExposureRecord, FileRecord, IncidentState,
    IntroductionRecord, PurgeRecord, RemoteRecord, ReplaceRecord, Stage, StateError, UsageNumbers,
    UsageRecord,
};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum IncidentError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Swap(Box<SwapError>),
    #[error(transparent)]
    Revoke(#[from] RevokeError),
    #[error(transparent)]
    Purge(#[from] PurgeError),
    #[error(transparent)]
    Search(#[from] anyhow::Error),
    #[error("an incident for {redacted} is open (since {started}, next: {next}): `keywarden incident` goes on with it, `keywarden incident --abort` stops it")]
    OtherOpen {
        redacted: String,
        started: String,
        next: &'static str,
    },
    #[error("the key {redacted} is in no commit, message, stash or reflog of this repository and in no env file here: there is nothing to clean up here. To revoke it anyway: `keywarden keys revoke --secret-stdin`")]
    NotHere { redacted: String },
    #[error("the key given ({given}) is not the one of the open incident ({open}); `keywarden incident --abort` stops that one")]
    OtherKey { given: String, open: String },
    #[error("no incident is open here (`keywarden incident --status` lists them)")]
    NoneOpen,
}

impl From<SwapError> for IncidentError {
    fn from(err: SwapError) -> Self {
        IncidentError::Swap(Box::new(err))
    }
}

/// What the person types to go on with an incident, and to stop it.
pub fn commands() -> Commands {
    Commands {
        resume: "keywarden incident".to_string(),
        abort: "keywarden incident --abort".to_string(),
    }
}

/// `.git/keywarden/incidents` of `repo`.
pub fn incidents_dir(repo: &Repository) -> PathBuf {
    repo.commondir().join("keywarden").join("incidents")
}

/// Every incident of `repo`, oldest first.
pub fn list(repo: &Repository) -> Result<Vec<IncidentState>, IncidentError> {
    Ok(state::all(&incidents_dir(repo))?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

/// The incident of `repo` that is not closed, if any.
pub fn open_incident(repo: &Repository) -> Result<Option<Incident>, IncidentError> {
    let found = state::all(&incidents_dir(repo))?
        .into_iter()
        .rfind(|(_, s)| s.closed.is_none());
    Ok(found.map(|(path, state)| Incident {
        dir: path
            .parent()
            .expect("a record is inside its incident's directory")
            .to_path_buf(),
        path,
        state,
    }))
}

/// An incident on disk: its record and where it lives.
#[derive(Debug)]
pub struct Incident {
    pub state: IncidentState,
    pub path: PathBuf,
    pub dir: PathBuf,
}

impl Incident {
    /// The keyring entry that holds the leaked key while the incident is open.
    pub fn keyring_entry(&self) -> String {
        format!("incident#{}", self.state.id)
    }

    /// The journal of the replacement (`ops::swap`).
    pub fn swap_journal(&self) -> PathBuf {
        self.dir.join("swap.json")
    }

    /// Where the report goes: `--report DIR`, else the incident's directory.
    pub fn report_dir(&self) -> PathBuf {
        self.state
            .choices
            .report_dir
            .clone()
            .unwrap_or_else(|| self.dir.clone())
    }

    pub fn save(&self) -> Result<(), IncidentError> {
        Ok(self.state.write(&self.path)?)
    }

    /// Journaled before a stage begins.
    pub fn start(&mut self, stage: Stage, clock: &Clock) -> Result<(), IncidentError> {
        self.state.running = Some(stage);
        self.state
            .note(clock.now(), stage, state::Result::Started, String::new());
        self.save()
    }

    /// A stage's end, journaled.
    pub fn end(
        &mut self,
        stage: Stage,
        result: state::Result,
        text: String,
        clock: &Clock,
    ) -> Result<(), IncidentError> {
        self.state.running = None;
        self.state.note(clock.now(), stage, result, text);
        self.save()
    }

    /// The leaked key, from the keyring entry it waits in.
    pub fn key(&self, vault: &Vault) -> Result<Option<Secret>, IncidentError> {
        let key = vault.stored(&self.keyring_entry())?;
        Ok(key.filter(|k| k.fingerprint() == self.state.key.fingerprint))
    }

    /// Checks that `key` is this incident's and puts it (back) in its keyring entry.
    pub fn take_key(&self, key: &Secret, vault: &Vault) -> Result<(), IncidentError> {
        if key.fingerprint() != self.state.key.fingerprint {
            return Err(IncidentError::OtherKey {
                given: key.redacted(),
                open: self.state.key.redacted.clone(),
            });
        }
        Ok(vault.store_key(&self.keyring_entry(), key)?)
    }
}

/// Where to look for the key on disk: every env file of every work tree of `repo`, and the
/// files the registry says the key is used in.
pub fn files_to_search(
    repo: &Repository,
    record: Option<&KeyRecord>,
    policy: &EnvFilePolicy,
) -> Result<Vec<PathBuf>, IncidentError> {
    let mut files: Vec<PathBuf> = record
        .map(|r| r.locations.iter().map(|l| l.path.clone()).collect())
        .unwrap_or_default();
    let roots = inventory::work_trees(repo);
    for file in inventory::key_files(&roots, policy).map_err(SwapError::from)? {
        if !files.contains(&file) {
            files.push(file);
        }
    }
    Ok(files)
}

/// Stage 1: where the key is, whether and since when it is public, whether the keyring holds
/// it; with the provider's records (OpenAI with an admin key), the key's name, project,
/// owner, dates, and its use since the leak next to the same length of time before.
#[allow(clippy::too_many_arguments)]
pub fn find_exposure(
    repo: &Repository,
    key: &Secret,
    files: &[PathBuf],
    provider: &dyn Provider,
    creds: &Credentials,
    vault: &Vault,
    now: DateTime<Utc>,
    progress: &dyn Progress,
    reporter: &dyn Reporter,
) -> Result<ExposureRecord, IncidentError> {
    let found = exposure::exposure(repo, key, files, progress)?;
    let mut record = exposure_record(&found, key);
    let registry = vault.registry()?;
    if let Some(registered) = registry.find_by_fingerprint(&key.fingerprint()) {
        if registered.in_keyring
            && vault
                .stored(&registered.name)?
                .is_some_and(|k| k.fingerprint() == key.fingerprint())
        {
            record.keyring.push(registered.name.clone());
        }
    }
    if let Some(via) = provider.locator(creds) {
        reporter.status(&format!("looking the key up with {via}"));
        match provider.locate(key, creds) {
            Ok(found) => record.at_provider = found,
            Err(err) => record.lookup_problem = Some(scrub(&err.scrubbed(&[key]), creds)),
        }
    }
    if let (Some(remote), Some(start)) = (&record.at_provider, record.leaked_at()) {
        if start < now {
            let window = Window { start, end: now };
            reporter.status("reading the key's usage since the leak");
            if let Some(asked) = provider.usage(remote, creds, window) {
                record.usage = Some(match asked {
                    Ok(comparison) => UsageRecord {
                        window_start: start,
                        window_end: now,
                        verdict: comparison.verdict(),
                        unreadable: comparison.since_leak.unreadable.clone(),
                        since_leak: Some(numbers(&comparison.since_leak)),
                        before_leak: Some(numbers(&comparison.before_leak)),
                        problem: None,
                    },
                    Err(err) => UsageRecord {
                        window_start: start,
                        window_end: now,
                        since_leak: None,
                        before_leak: None,
                        verdict: "usage unknown".to_string(),
                        problem: Some(scrub(&err.scrubbed(&[key]), creds)),
                        unreadable: Vec::new(),
                    },
                });
            }
        }
    }
    Ok(record)
}

fn scrub(text: &str, creds: &Credentials) -> String {
    crate::core::provider::scrub(text, &creds.secrets())
}

fn numbers(usage: &Usage) -> UsageNumbers {
    let mut by_model: Vec<(String, u64)> = usage
        .requests_by_model
        .iter()
        .map(|(m, n)| (m.clone(), *n))
        .collect();
    by_model.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    UsageNumbers {
        requests: usage.requests,
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cost_usd: usage.cost_usd,
        by_model,
        last_use: usage.last_use,
    }
}

/// The exposure as the record keeps it: ids as text, messages redacted.
fn exposure_record(found: &Exposure, key: &Secret) -> ExposureRecord {
    let redact = |text: &str| text.replace(key.expose(), &key.redacted());
    let commit = |c: &exposure::CommitInfo| CommitRecord {
        id: c.oid.to_string(),
        date: c.date,
        author: c.author.clone(),
        summary: redact(&c.summary),
    };
    ExposureRecord {
        blobs: found.blobs,
        commits_holding: found.commits_holding,
        first: found.first.as_ref().map(commit),
        last: found.last.as_ref().map(commit),
        introductions: found
            .introductions
            .iter()
            .map(|i| IntroductionRecord {
                path: redact(&i.path),
                commit: i.commit.as_ref().map(commit),
            })
            .collect(),
        commit_messages: found
            .commit_messages
            .iter()
            .map(|o| o.to_string())
            .collect(),
        tag_messages: found.tag_messages.iter().map(|o| o.to_string()).collect(),
        at_head: found.at_head.iter().map(|p| redact(p)).collect(),
        refs: found.refs.iter().map(|r| redact(r)).collect(),
        tags: found.tags.iter().map(|r| redact(r)).collect(),
        stash: found.stash.clone(),
        reflogs: found.reflogs.iter().map(|r| redact(r)).collect(),
        remote_refs: found
            .remote_refs
            .iter()
            .map(|r| RemoteRecord {
                name: redact(&r.name),
                remote: r.remote.clone(),
                url: r.url.clone(),
                since: r.since,
            })
            .collect(),
        public_since: found.public_since(),
        files: found
            .files
            .iter()
            .map(|f| FileRecord {
                path: f.path.clone(),
                lines: f.lines.clone(),
            })
            .collect(),
        ..ExposureRecord::default()
    }
}

/// Whether there is anything to clean up here: the key in history, a file or the keyring.
pub fn is_here(exposure: &ExposureRecord) -> bool {
    exposure.in_history() || !exposure.files.is_empty() || !exposure.keyring.is_empty()
}

/// The name the key has in the registry, or a new one for its successor: taken from the
/// variable an env file holds it in (`OPENAI_API_KEY` → `openai-api-key`), else the
/// provider's, with `-2`, `-3`… when a different key has it.
pub fn registry_name(
    vault: &Vault,
    key: &Secret,
    provider: &dyn Provider,
    variable: Option<&str>,
) -> Result<String, IncidentError> {
    let registry = vault.registry()?;
    if let Some(record) = registry.find_by_fingerprint(&key.fingerprint()) {
        return Ok(record.name.clone());
    }
    let base = variable
        .map(|v| v.to_ascii_lowercase().replace('_', "-"))
        .filter(|v| super::keys::validate_name(v).is_ok())
        .unwrap_or_else(|| provider.id().as_str().to_string());
    let mut name = base.clone();
    let mut n = 1;
    while registry.get(&name).is_some() {
        n += 1;
        name = format!("{base}-{n}");
    }
    Ok(name)
}

/// Opens a new incident for `key`: its record with the exposure, and the key in its
/// keyring entry. Refused when another incident is open here.
#[allow(clippy::too_many_arguments)]
pub fn begin(
    repo: &Repository,
    key: &Secret,
    provider: ProviderId,
    name: String,
    choices: Choices,
    exposure: ExposureRecord,
    vault: &Vault,
    clock: &Clock,
) -> Result<Incident, IncidentError> {
    if let Some(open) = open_incident(repo)? {
        return Err(IncidentError::OtherOpen {
            redacted: open.state.key.redacted.clone(),
            started: open.state.started.to_rfc3339(),
            next: open.state.next_stage().map_or("closing", Stage::name),
        });
    }
    let now = clock.now();
    let mut id = now.format("%Y%m%dT%H%M%SZ").to_string();
    let root = incidents_dir(repo);
    let mut n = 1;
    while root.join(&id).exists() {
        n += 1;
        id = format!("{}-{n}", now.format("%Y%m%dT%H%M%SZ"));
    }
    let dir = root.join(&id);
    std::fs::create_dir_all(&dir).map_err(|source| StateError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut state = IncidentState::new(
        id,
        now,
        crate::core::git::root_dir(repo),
        KeyLabel::of(key),
        provider,
        name,
        choices,
    );
    let summary = exposure_summary(&exposure);
    state.exposure = Some(exposure);
    state.note(now, Stage::Exposure, state::Result::Done, summary);
    let incident = Incident {
        path: dir.join(IncidentState::FILE),
        dir,
        state,
    };
    // The key first: a record without it could not go on.
    incident.take_key(key, vault)?;
    incident.save()?;
    crate::core::fault::point("incident:begun");
    Ok(incident)
}

/// One line for the timeline.
pub fn exposure_summary(e: &ExposureRecord) -> String {
    let public = match e.public_since {
        Some(since) => format!("public since {}", since.to_rfc3339()),
        None => "not pushed (local only)".to_string(),
    };
    format!(
        "{} commits and {} env files hold the key; {public}",
        e.commits_holding,
        e.files.len()
    )
}

/// Stage 2: the key made worthless — found dead already, or revoked through the provider
/// (API where it can, else the manual steps and checks until it is dead). `skip`: only
/// checked (`--skip-revoke`).
pub fn contain(
    key: &Secret,
    provider: &dyn Provider,
    creds: &Credentials,
    skip: bool,
    options: &RevokeOptions,
    now: DateTime<Utc>,
    io: &mut RevokeIo<'_>,
) -> Result<ContainRecord, IncidentError> {
    let first = provider.verify(key).scrubbed(key);
    let dead = first.liveness == Liveness::Dead;
    if skip || dead {
        return Ok(ContainRecord {
            how: if skip { "skipped" } else { "already-dead" }.to_string(),
            detail: if skip {
                "not revoked (--skip-revoke)".to_string()
            } else {
                "the provider already refuses the key".to_string()
            },
            dead,
            last_answer: first.reason,
            at: now,
        });
    }
    let target = revoke::RevokeTarget {
        provider,
        key,
        creds,
    };
    let report = revoke::revoke(&target, options, now, io)?;
    let (how, detail) = match &report.method {
        RevokeMethod::Api { detail } => ("api", detail.clone()),
        RevokeMethod::Manual { steps, .. } => (
            "manual",
            format!(
                "revoked by hand{}",
                steps
                    .page
                    .as_deref()
                    .map(|p| format!(" at {p}"))
                    .unwrap_or_default()
            ),
        ),
    };
    let last_answer = match &report.final_check {
        FinalCheck::Checked { answer, checks } => format!(
            "{} after {checks} check{} ({})",
            if report.is_dead() {
                "dead"
            } else {
                answer.liveness.as_str()
            },
            if *checks == 1 { "" } else { "s" },
            answer.reason
        ),
        FinalCheck::CannotCheck => "the provider cannot tell".to_string(),
        FinalCheck::NotChecked => "not checked".to_string(),
    };
    Ok(ContainRecord {
        how: how.to_string(),
        detail,
        dead: report.is_dead(),
        last_answer,
        at: now,
    })
}

/// The revocation a containment that left the key dead amounts to, as the registry keeps it.
fn revoked(c: &ContainRecord) -> Option<Revoked> {
    c.dead.then(|| Revoked {
        at: c.at,
        how: match c.how.as_str() {
            "api" => RevokedHow::Api,
            "manual" => RevokedHow::Manual,
            _ => RevokedHow::Checked,
        },
        detail: Some(c.detail.clone()),
    })
}

/// What the registry records of the old key once it is replaced: revoked (and how), or a
/// revocation still to come.
fn retire(contain: Option<&ContainRecord>, now: DateTime<Utc>) -> Retire {
    match contain.and_then(revoked) {
        Some(revoked) => Retire::Revoked(revoked),
        None => Retire::Pending { not_before: now },
    }
}

/// Stage 2's result recorded. A key found dead after an earlier run replaced it while it
/// still worked has its pending revocation settled in the registry (and the keyring entry
/// that kept it for that revocation dropped).
pub fn record_contained(
    incident: &mut Incident,
    record: ContainRecord,
    vault: &Vault,
) -> Result<(), IncidentError> {
    if let Some(revoked) = revoked(&record) {
        swap::settle_pending(
            vault,
            &incident.state.name,
            &incident.state.key.fingerprint,
            revoked,
        )?;
    }
    incident.state.contain = Some(record);
    Ok(())
}

/// The provider's record of the key, looked up again when the first lookup failed (the
/// network was down, the provider rate limited): the replacement made through the API
/// needs it, and it is gone once the key is revoked.
pub fn locate_again(
    incident: &mut Incident,
    key: &Secret,
    provider: &dyn Provider,
    creds: &Credentials,
    reporter: &dyn Reporter,
) -> Result<(), IncidentError> {
    let Some(exposure) = incident.state.exposure.as_mut() else {
        return Ok(());
    };
    let Some(via) = provider.locator(creds) else {
        return Ok(());
    };
    if exposure.at_provider.is_some() || exposure.lookup_problem.is_none() {
        return Ok(());
    }
    reporter.status(&format!("looking the key up with {via} again"));
    match provider.locate(key, creds) {
        Ok(found) => {
            exposure.at_provider = found;
            exposure.lookup_problem = None;
        }
        Err(err) => exposure.lookup_problem = Some(scrub(&err.scrubbed(&[key]), creds)),
    }
    incident.save()
}

/// A replacement an earlier run finished before its result was recorded: the registry
/// holds another key under the name, with this one retired.
pub fn replaced_earlier(
    vault: &Vault,
    name: &str,
    key: &Secret,
    now: DateTime<Utc>,
) -> Result<Option<ReplaceRecord>, IncidentError> {
    let registry = vault.registry()?;
    let Some(record) = registry.get(name) else {
        return Ok(None);
    };
    let fingerprint = key.fingerprint();
    let retired = record.retired.iter().any(|r| r.fingerprint == fingerprint)
        || record
            .pending_revocation
            .as_ref()
            .is_some_and(|p| p.fingerprint == fingerprint);
    if record.fingerprint == fingerprint || !retired {
        return Ok(None);
    }
    Ok(Some(ReplaceRecord {
        name: name.to_string(),
        new: KeyLabel {
            fingerprint: record.fingerprint.clone(),
            redacted: record.redacted.clone(),
        },
        created: None,
        files: record.locations.iter().map(|l| l.path.clone()).collect(),
        env_var: record.env_var.clone(),
        at: now,
    }))
}

/// What stage 3 needs.
pub struct Replacing<'a> {
    pub key: &'a Secret,
    pub provider: &'a dyn Provider,
    pub creds: &'a Credentials,
    pub files: Vec<PathBuf>,
    /// `--new-key-stdin`'s key.
    pub given: Option<Secret>,
    pub dry_run: bool,
    pub check_interval: std::time::Duration,
}

/// Stage 3: a new key (made through the provider's API where it can — for OpenAI a new
/// service account in the key's project, since the old key's own account may be gone with
/// it — else one the person creates and pastes), checked live, written into every file
/// that held the old one (one redacted diff, one confirmation) and into the keyring; the
/// registry records the rotation.
pub fn replace(
    incident: &Incident,
    replacing: Replacing<'_>,
    vault: &Vault,
    clock: &Clock,
    io: &mut SwapIo<'_>,
) -> Result<SwapReport, IncidentError> {
    let state = &incident.state;
    let located = state.exposure.as_ref().and_then(|e| e.at_provider.clone());
    let provider = replacing.provider;
    let creds = replacing.creds;
    let name = state.name.as_str();
    let mut given = replacing.given;
    let prompter: &dyn Prompter = io.prompter;
    let reporter: &dyn Reporter = io.reporter;
    let mut source = || -> Result<NewKeySource, SwapError> {
        if let Some(key) = given.take() {
            return Ok(NewKeySource::Given(key));
        }
        if let Some(remote) = located
            .clone()
            .filter(|r| provider.can_create_replacement(r, creds))
        {
            return Ok(NewKeySource::Provider {
                old: Box::new(RemoteKey {
                    owner: KeyOwner::Unknown,
                    ..remote
                }),
                name: replace::replacement_name(name, clock),
            });
        }
        let sourcing = Sourcing {
            name,
            old: replacing.key,
            provider,
            creds,
            clock,
            dry_run: replacing.dry_run,
        };
        swap::typed_new_key(&sourcing, prompter, reporter)
    };
    let request = Swap {
        name,
        old: replacing.key,
        provider,
        creds,
        files: replacing.files,
        unavailable: super::edits::Unavailable::Skip,
        journal: incident.swap_journal(),
        retire: retire(state.contain.as_ref(), clock.now()),
        dry_run: replacing.dry_run,
        check_interval: replacing.check_interval,
        commands: commands(),
    };
    Ok(swap::swap(request, &mut source, vault, clock, io)?)
}

/// The record of a finished replacement.
pub fn replace_record(report: &SwapReport, now: DateTime<Utc>) -> Option<ReplaceRecord> {
    Some(ReplaceRecord {
        name: report.name.clone(),
        new: report.new.clone()?,
        created: report
            .created
            .as_ref()
            .map(|c| format!("{} ({}): {}", c.name, c.id, c.detail)),
        files: report.written.clone(),
        env_var: report.env_var.clone(),
        at: now,
    })
}

/// The purge's summary as the record keeps it.
pub fn purge_record(
    summary: &Summary,
    verified: Option<&VerifyReport>,
    finished: bool,
) -> PurgeRecord {
    PurgeRecord {
        begun: true,
        finished,
        skipped: None,
        backup: summary.backup.clone(),
        commit_map: Some(summary.records.commit_map.clone()),
        first_changed: summary
            .first_changed
            .iter()
            .map(|o| o.to_string())
            .collect(),
        refs_to_push: summary.refs_to_push.clone(),
        push_commands: summary
            .remotes
            .iter()
            .map(|(remote, _)| (remote.clone(), summary.push_command(remote)))
            .collect(),
        pushed: summary
            .push
            .clone()
            .map(|remote| (remote, summary.push_complete())),
        verified_clean: verified.map(VerifyReport::clean),
    }
}

/// Stage 5: the report (`render` makes its Markdown and JSON from the record as it will be
/// saved) written to the report directory, mode 0600; the incident closed when the key is
/// dead (or its revocation was skipped), and then the leaked key's keyring entry dropped.
/// An incident whose key still works stays open: the next run checks the key again.
/// Returns the Markdown report's path.
pub fn close(
    incident: &mut Incident,
    render: impl FnOnce(&IncidentState) -> (String, String),
    vault: &Vault,
    clock: &Clock,
) -> Result<PathBuf, IncidentError> {
    let resolved = incident.state.key_dead();
    let dir = incident.report_dir();
    let markdown_path = dir.join("report.md");
    incident.state.report = Some(markdown_path.clone());
    incident.state.running = None;
    incident.state.note(
        clock.now(),
        Stage::Report,
        state::Result::Done,
        format!("report written to {}", dir.display()),
    );
    if resolved || incident.state.choices.skip_revoke {
        incident.state.closed = Some(Closing {
            at: clock.now(),
            resolved,
            abandoned: false,
        });
    }
    let (markdown, json) = render(&incident.state);
    crate::core::registry::write_private(&markdown_path, markdown.as_bytes())
        .map_err(StateError::from)?;
    crate::core::registry::write_private(&dir.join("report.json"), json.as_bytes())
        .map_err(StateError::from)?;
    incident.save()?;
    if incident.state.closed.is_some() {
        // Best effort: the entry only ever held a key that is dead now (or that the person
        // chose not to revoke, and still has wherever it came from).
        let _ = vault.store().delete(&incident.keyring_entry());
    }
    Ok(markdown_path)
}

/// What `--abort` did.
#[derive(Debug)]
pub struct Aborted {
    pub id: String,
    pub redacted: String,
    pub purge: Option<purge::AbortReport>,
    pub swap: Option<swap::AbortReport>,
    /// The key was revoked already: that cannot be undone.
    pub revoked: bool,
}

/// Stops the open incident: an unfinished purge undone, an unfinished replacement undone,
/// the record closed as abandoned, the key's keyring entry dropped.
pub fn abort(repo_dir: &Path, vault: &Vault, clock: &Clock) -> Result<Aborted, IncidentError> {
    let repo = crate::core::git::open(repo_dir).map_err(|e| anyhow::anyhow!(e))?;
    let Some(mut incident) = open_incident(&repo)? else {
        return Err(IncidentError::NoneOpen);
    };
    let purge = match purge::unfinished(&repo)? {
        Some(_) => Some(purge::abort(repo_dir)?),
        None => None,
    };
    let files: Vec<PathBuf> = incident
        .state
        .exposure
        .as_ref()
        .map(|e| e.files.iter().map(|f| f.path.clone()).collect())
        .unwrap_or_default();
    let swap = swap::abort_swap(&incident.swap_journal(), &files, vault)?;
    let now = clock.now();
    incident.state.note(
        now,
        incident.state.next_stage().unwrap_or(Stage::Report),
        state::Result::Failed,
        "stopped with --abort".to_string(),
    );
    incident.state.running = None;
    incident.state.closed = Some(Closing {
        at: now,
        resolved: incident.state.key_dead(),
        abandoned: true,
    });
    incident.save()?;
    let _ = vault.store().delete(&incident.keyring_entry());
    Ok(Aborted {
        id: incident.state.id.clone(),
        redacted: incident.state.key.redacted.clone(),
        purge,
        swap,
        revoked: incident.state.key_dead(),
    })
}
