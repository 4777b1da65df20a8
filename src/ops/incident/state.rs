//! The record of one incident, `.git/keywarden/incidents/<id>/state.json`: what was found,
//! each stage's result and the timeline, never the key (fingerprints and redacted forms
//! only). It is the incident's journal: written atomically (mode 0600) before and after
//! every stage, so that a run killed anywhere is taken up by the next `keywarden incident`
//! from the first stage without a result.

use crate::core::provider::{ProviderId, RemoteKey};
use crate::core::registry::{write_private, RegistryError};
use crate::ops::swap::KeyLabel;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StateError {
    #[error("cannot read the incident record {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the incident record {path} is damaged; move it aside to start afresh")]
    Damaged {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Write(#[from] RegistryError),
}

/// The stages, in the order they run: make the key worthless first, then clean up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Exposure,
    Contain,
    Replace,
    Purge,
    Report,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Exposure,
        Stage::Contain,
        Stage::Replace,
        Stage::Purge,
        Stage::Report,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Exposure => "exposure",
            Stage::Contain => "contain",
            Stage::Replace => "replace",
            Stage::Purge => "purge",
            Stage::Report => "report",
        }
    }
}

/// How an entry of the timeline ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Result {
    Started,
    Done,
    Skipped,
    Failed,
    Note,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub stage: Stage,
    pub result: Result,
    pub text: String,
}

/// What the person asked for when the incident began (kept so that a resumed run does the
/// same).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Choices {
    pub skip_revoke: bool,
    pub skip_purge: bool,
    pub push: Option<String>,
    pub report_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitRecord {
    pub id: String,
    pub date: DateTime<Utc>,
    pub author: String,
    /// The first line of its message, with the key redacted.
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntroductionRecord {
    pub path: String,
    pub commit: Option<CommitRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteRecord {
    pub name: String,
    pub remote: String,
    /// Without user name or password.
    pub url: Option<String>,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: PathBuf,
    pub lines: Vec<usize>,
}

/// Where the key was found (stage 1).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExposureRecord {
    pub blobs: usize,
    pub commits_holding: usize,
    pub first: Option<CommitRecord>,
    pub last: Option<CommitRecord>,
    pub introductions: Vec<IntroductionRecord>,
    pub commit_messages: Vec<String>,
    pub tag_messages: Vec<String>,
    pub at_head: Vec<String>,
    pub refs: Vec<String>,
    pub tags: Vec<String>,
    pub stash: Vec<usize>,
    pub reflogs: Vec<String>,
    pub remote_refs: Vec<RemoteRecord>,
    /// When a remote first showed it (`None`: not pushed, local only).
    pub public_since: Option<DateTime<Utc>>,
    pub files: Vec<FileRecord>,
    /// Registered names whose keyring entry holds the key.
    pub keyring: Vec<String>,
    /// The key as its provider's records describe it (OpenAI with an admin key).
    pub at_provider: Option<RemoteKey>,
    /// Why the provider's records could not be asked, when they could not.
    pub lookup_problem: Option<String>,
    pub usage: Option<UsageRecord>,
}

impl ExposureRecord {
    pub fn in_history(&self) -> bool {
        self.blobs > 0 || !self.commit_messages.is_empty() || !self.tag_messages.is_empty()
    }

    /// When the leak began: the first time a remote showed it, else the first commit.
    pub fn leaked_at(&self) -> Option<DateTime<Utc>> {
        self.public_since
            .or_else(|| self.first.as_ref().map(|c| c.date))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UsageNumbers {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
    pub by_model: Vec<(String, u64)>,
    pub last_use: Option<DateTime<Utc>>,
}

/// Was the key used since the leak (OpenAI's Usage and Costs APIs)?
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageRecord {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// `None` when the usage could not be read (then `problem` says why).
    pub since_leak: Option<UsageNumbers>,
    pub before_leak: Option<UsageNumbers>,
    pub verdict: String,
    pub problem: Option<String>,
    /// Usage kinds the admin key could not read.
    pub unreadable: Vec<String>,
}

/// How the key was made worthless (stage 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainRecord {
    /// `api`, `manual`, `already-dead` or `skipped`.
    pub how: String,
    pub detail: String,
    /// Confirmed dead by the provider.
    pub dead: bool,
    /// The provider's last answer, in words.
    pub last_answer: String,
    pub at: DateTime<Utc>,
}

/// The new key (stage 3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplaceRecord {
    pub name: String,
    pub new: KeyLabel,
    /// What the provider's API made, in words (`None`: a key the person gave).
    pub created: Option<String>,
    pub files: Vec<PathBuf>,
    pub env_var: String,
    pub at: DateTime<Utc>,
}

/// The rewrite of history (stage 4), from the purge's own summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PurgeRecord {
    /// The purge's first step (backup and rewrite) ran; from then on its own journal (or
    /// its absence: it finished) says where it is.
    pub begun: bool,
    pub finished: bool,
    /// Why it did not run (`--skip-purge`, not in history).
    pub skipped: Option<String>,
    pub backup: Option<PathBuf>,
    pub commit_map: Option<PathBuf>,
    pub first_changed: Vec<String>,
    pub refs_to_push: Vec<String>,
    /// For each remote: the command that force-pushes the new history.
    pub push_commands: Vec<(String, String)>,
    /// The push asked for: the remote, and whether every ref reached it.
    pub pushed: Option<(String, bool)>,
    /// The check of every remaining object (`None`: not known, e.g. killed just after).
    pub verified_clean: Option<bool>,
}

/// How an incident ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Closing {
    pub at: DateTime<Utc>,
    /// The key is confirmed dead.
    pub resolved: bool,
    /// `--abort`: the person stopped it.
    pub abandoned: bool,
}

/// One incident.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentState {
    pub version: u32,
    pub id: String,
    pub started: DateTime<Utc>,
    /// The work tree (or git dir of a bare repository).
    pub repo: PathBuf,
    pub key: KeyLabel,
    pub provider: ProviderId,
    /// The name the key has (or its successor takes) in the registry.
    pub name: String,
    pub choices: Choices,
    /// Written before a stage starts and cleared when it ends: a run killed half-way.
    pub running: Option<Stage>,
    pub timeline: Vec<Entry>,
    pub exposure: Option<ExposureRecord>,
    pub contain: Option<ContainRecord>,
    pub replace: Option<ReplaceRecord>,
    pub purge: Option<PurgeRecord>,
    /// Where the report was written, once it was.
    pub report: Option<PathBuf>,
    pub closed: Option<Closing>,
}

impl IncidentState {
    pub const FILE: &'static str = "state.json";

    /// Whether a stage has its result (a containment that left the key live has not: it
    /// is tried again).
    pub fn is_done(&self, stage: Stage) -> bool {
        match stage {
            Stage::Exposure => self.exposure.is_some(),
            Stage::Contain => self
                .contain
                .as_ref()
                .is_some_and(|c| c.dead || c.how == "skipped"),
            Stage::Replace => self.replace.is_some(),
            Stage::Purge => self
                .purge
                .as_ref()
                .is_some_and(|p| p.finished || p.skipped.is_some()),
            Stage::Report => self.closed.is_some(),
        }
    }

    /// The first stage without its result.
    pub fn next_stage(&self) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| !self.is_done(*s))
    }

    /// Whether the key is confirmed dead.
    pub fn key_dead(&self) -> bool {
        self.contain.as_ref().is_some_and(|c| c.dead)
    }

    /// A new incident's record: nothing found or done yet.
    pub fn new(
        id: String,
        started: DateTime<Utc>,
        repo: PathBuf,
        key: KeyLabel,
        provider: ProviderId,
        name: String,
        choices: Choices,
    ) -> Self {
        IncidentState {
            version: 1,
            id,
            started,
            repo,
            key,
            provider,
            name,
            choices,
            running: None,
            timeline: Vec::new(),
            exposure: None,
            contain: None,
            replace: None,
            purge: None,
            report: None,
            closed: None,
        }
    }

    pub fn note(&mut self, at: DateTime<Utc>, stage: Stage, result: Result, text: String) {
        self.timeline.push(Entry {
            at,
            stage,
            result,
            text,
        });
    }

    /// Reads the record at `path` (`None`: there is none).
    pub fn read(path: &Path) -> std::result::Result<Option<IncidentState>, StateError> {
        let Some(bytes) =
            crate::core::fs::read_if_present(path).map_err(|source| StateError::Read {
                path: path.to_path_buf(),
                source,
            })?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StateError::Damaged {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Writes the record atomically, 0600.
    pub fn write(&self, path: &Path) -> std::result::Result<(), StateError> {
        Ok(write_private(path, &crate::core::fs::json_document(self))?)
    }
}

/// Every incident recorded under `dir` (`.git/keywarden/incidents`), oldest first.
pub fn all(dir: &Path) -> std::result::Result<Vec<(PathBuf, IncidentState)>, StateError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StateError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join(IncidentState::FILE);
        if let Some(state) = IncidentState::read(&path)? {
            found.push((path, state));
        }
    }
    found.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> IncidentState {
        IncidentState::new(
            "20260101T090000Z".into(),
            Utc::now(),
            PathBuf::from("/r"),
            KeyLabel {
                fingerprint: "sha256:ab".into(),
                redacted: "sk-…".into(),
            },
            ProviderId::OpenAi,
            "openai".into(),
            Choices::default(),
        )
    }

    #[test]
    fn stages_run_in_order_and_a_live_key_is_contained_again() {
        let mut s = state();
        assert_eq!(s.next_stage(), Some(Stage::Exposure));
        s.exposure = Some(ExposureRecord::default());
        assert_eq!(s.next_stage(), Some(Stage::Contain));
        s.contain = Some(ContainRecord {
            how: "manual".into(),
            detail: String::new(),
            dead: false,
            last_answer: "live".into(),
            at: Utc::now(),
        });
        assert_eq!(s.next_stage(), Some(Stage::Contain));
        s.contain.as_mut().expect("set").dead = true;
        assert_eq!(s.next_stage(), Some(Stage::Replace));
    }

    #[test]
    fn the_record_round_trips_and_is_written_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x").join(IncidentState::FILE);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let s = state();
        s.write(&path).expect("write");
        let back = IncidentState::read(&path).expect("read").expect("there");
        assert_eq!(back.id, s.id);
        assert_eq!(all(dir.path()).expect("list").len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
