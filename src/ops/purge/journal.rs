//! The purge journal: `.git/keywarden/purge-journal.json`, written atomically (whole, then
//! renamed over the old one) before each phase starts, so that after a crash anywhere the
//! next run knows which phase to run again (each phase can run twice without harm). It
//! holds ids, paths and fingerprints — never a secret: a ref whose name held one is stored
//! by its redacted name and the fingerprint of its full name, and the secrets are read again
//! to resume.

use crate::core::fs::{self, Mode, SECRET_MODE};
use crate::core::git::rewrite::WorktreeRefUpdate;
use crate::core::git::tips::StashEntry;
use git2::Oid;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The journal's file name, in the repository's `.git/keywarden/`.
pub const JOURNAL_NAME: &str = "purge-journal.json";

/// The phase a purge is in: the next one to run (again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Backup and rewrite (nothing visible has changed yet).
    Rewrite,
    /// Moving the refs.
    Refs,
    /// Bringing the worktrees to their new HEADs.
    Worktrees,
    /// Force-pushing to the remote asked for.
    Push,
    /// Expiring reflogs and putting the stash list back.
    Reflogs,
    /// `git gc --prune=now`.
    Gc,
    /// Checking no object still holds a secret.
    Verify,
}

impl Phase {
    /// Its name as the journal spells it (`before-<name>` is the fault point before it).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Rewrite => "rewrite",
            Phase::Refs => "refs",
            Phase::Worktrees => "worktrees",
            Phase::Push => "push",
            Phase::Reflogs => "reflogs",
            Phase::Gc => "gc",
            Phase::Verify => "verify",
        }
    }

    /// What the phase does, for messages ("stopped before moving the refs").
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Rewrite => "the backup and the rewrite",
            Phase::Refs => "moving the refs",
            Phase::Worktrees => "updating the worktrees",
            Phase::Push => "the push",
            Phase::Reflogs => "expiring the reflogs",
            Phase::Gc => "garbage collection",
            Phase::Verify => "the final check",
        }
    }
}

/// An object id, stored as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(pub Oid);

impl TryFrom<String> for Id {
    type Error = git2::Error;
    fn try_from(hex: String) -> Result<Self, Self::Error> {
        Oid::from_str(&hex).map(Id)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.0.to_string()
    }
}

/// A shared ref the purge moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRef {
    /// Its name, or its redacted name when the name held a secret (then `fingerprint` is
    /// set and the ref is renamed).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    pub old: Id,
    pub new: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed: Option<String>,
}

impl JournalRef {
    /// Its name after the purge.
    pub fn final_name(&self) -> &str {
        self.renamed.as_deref().unwrap_or(&self.name)
    }
}

/// A worktree's own ref (its detached HEAD, `refs/worktree/*`…) the purge moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalWorktreeRef {
    pub git_dir: PathBuf,
    pub name: String,
    pub old: Id,
    pub new: Id,
}

impl JournalWorktreeRef {
    /// The update the purge makes: from the old commit to the new.
    pub fn forward(&self) -> WorktreeRefUpdate {
        WorktreeRefUpdate {
            git_dir: self.git_dir.clone(),
            name: self.name.clone(),
            old: self.old.0,
            new: self.new.0,
        }
    }

    /// The update an abort makes: back from the new commit to the old.
    pub fn back(&self) -> WorktreeRefUpdate {
        WorktreeRefUpdate {
            old: self.new.0,
            new: self.old.0,
            ..self.forward()
        }
    }
}

/// A worktree and the commit it had checked out when the purge started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalWorktree {
    pub workdir: PathBuf,
    pub git_dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Id>,
}

/// One stash entry (`stash@{n}`), oldest first in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalStash {
    pub oid: Id,
    pub name: String,
    pub email: String,
    pub time: i64,
    pub offset_minutes: i32,
    pub message: String,
}

impl JournalStash {
    pub fn from_entry(entry: &StashEntry) -> Self {
        JournalStash {
            oid: Id(entry.oid),
            name: entry.name.clone(),
            email: entry.email.clone(),
            time: entry.time,
            offset_minutes: entry.offset_minutes,
            message: entry.message.clone(),
        }
    }

    pub fn to_entry(&self) -> StashEntry {
        StashEntry {
            oid: self.oid.0,
            name: self.name.clone(),
            email: self.email.clone(),
            time: self.time,
            offset_minutes: self.offset_minutes,
            message: self.message.clone(),
        }
    }
}

/// The counts a summary reports, kept so that a resumed purge can still report them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub commits_total: usize,
    pub commits_rewritten: usize,
    pub blobs_total: usize,
    pub blobs_scrubbed: usize,
    pub files_scrubbed: usize,
    pub files_dropped: usize,
    pub files_renamed: usize,
    pub messages_scrubbed: usize,
    pub signatures_dropped: usize,
    pub stash_changed: bool,
}

/// What became of one pushed ref, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalPushed {
    pub shown: String,
    /// `None`: pushed; otherwise why not ("not attempted", git's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The whole journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// Names this purge's files (`backup-<stamp>.bundle`, `commit-map-<stamp>.txt`…).
    pub stamp: String,
    /// When it started (RFC 3339).
    pub started: String,
    pub phase: Phase,
    /// Fingerprints of the secrets and patterns (see `Scrubber::fingerprints`).
    pub secrets: Vec<String>,
    pub replacement: String,
    pub delete_paths: Vec<String>,
    pub include_remotes: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<String>,
    /// The complete backup, once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<PathBuf>,
    /// The pack of new objects, once stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<PathBuf>,
    #[serde(default)]
    pub refs: Vec<JournalRef>,
    #[serde(default)]
    pub worktree_refs: Vec<JournalWorktreeRef>,
    #[serde(default)]
    pub worktrees: Vec<JournalWorktree>,
    /// The stash list before (a message that held a secret is kept with it redacted) and
    /// after the rewrite: saved here before any reflog is touched, put back from here.
    #[serde(default)]
    pub stash_before: Vec<JournalStash>,
    #[serde(default)]
    pub stash_after: Vec<JournalStash>,
    /// Files dropped by `--delete-path` (by path), which stay on disk when their name also
    /// held a secret.
    #[serde(default)]
    pub files_dropped: Vec<String>,
    #[serde(default)]
    pub first_changed: Vec<Id>,
    #[serde(default)]
    pub counts: Counts,
    #[serde(default)]
    pub remote_refs_skipped: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed: Option<Vec<JournalPushed>>,
}

impl Journal {
    pub const VERSION: u32 = 1;

    /// Where the journal of the repository whose common git dir is `common_dir` is.
    pub fn path(common_dir: &Path) -> PathBuf {
        common_dir.join("keywarden").join(JOURNAL_NAME)
    }

    /// Reads the journal at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Journal>, JournalError> {
        let Some(bytes) = fs::read_if_present(path).map_err(|source| JournalError::Read {
            path: path.to_path_buf(),
            source,
        })?
        else {
            return Ok(None);
        };
        let journal: Journal =
            serde_json::from_slice(&bytes).map_err(|source| JournalError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        if journal.version != Self::VERSION {
            return Err(JournalError::Version {
                path: path.to_path_buf(),
                version: journal.version,
            });
        }
        Ok(Some(journal))
    }

    /// Writes the journal whole (temporary file, fsync, rename), readable by the user only.
    pub fn write(&self, path: &Path) -> Result<(), JournalError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let text = fs::json_document(self);
        fs::write_atomic(path, &text, Mode::Exact(SECRET_MODE)).map_err(|source| {
            JournalError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Removes the journal: the purge is finished (or undone).
    pub fn remove(path: &Path) -> Result<(), JournalError> {
        fs::remove_if_present(path).map_err(|source| JournalError::Remove {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read the purge journal {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove the purge journal {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the purge journal {path} is not readable JSON (was it edited?)")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "the purge journal {path} is of version {version}, which this keywarden does not know"
    )]
    Version { path: PathBuf, version: u32 },
    #[error("cannot write the purge journal {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: crate::core::fs::FsError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_is_named_as_the_journal_spells_it() {
        for phase in [
            Phase::Rewrite,
            Phase::Refs,
            Phase::Worktrees,
            Phase::Push,
            Phase::Reflogs,
            Phase::Gc,
            Phase::Verify,
        ] {
            let spelled = serde_json::to_string(&phase).expect("serializes");
            assert_eq!(spelled, format!("\"{}\"", phase.name()));
        }
    }

    #[test]
    fn the_journal_round_trips_and_holds_ids_as_hex() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Journal::path(dir.path());
        assert!(Journal::read(&path).expect("read").is_none());
        let oid = Oid::from_bytes(&[7; 20]).expect("oid");
        let journal = Journal {
            version: Journal::VERSION,
            stamp: "20260102T030405Z".into(),
            started: "2026-01-02T03:04:05Z".into(),
            phase: Phase::Refs,
            secrets: vec!["sha256:ab".into()],
            replacement: "***REMOVED***".into(),
            delete_paths: Vec::new(),
            include_remotes: false,
            push: Some("origin".into()),
            backup: None,
            pack: None,
            refs: vec![JournalRef {
                name: "refs/heads/main".into(),
                fingerprint: None,
                old: Id(oid),
                new: Id(oid),
                renamed: None,
            }],
            worktree_refs: Vec::new(),
            worktrees: Vec::new(),
            stash_before: Vec::new(),
            stash_after: Vec::new(),
            files_dropped: Vec::new(),
            first_changed: vec![Id(oid)],
            counts: Counts::default(),
            remote_refs_skipped: 0,
            pushed: None,
        };
        journal.write(&path).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(&oid.to_string()), "{text}");
        assert!(text.contains("\"phase\": \"refs\""), "{text}");
        let back = Journal::read(&path).expect("read").expect("there");
        assert_eq!(back.refs, journal.refs);
        assert_eq!(back.phase, Phase::Refs);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Journal::remove(&path).expect("removed");
        assert!(Journal::read(&path).expect("read").is_none());
    }
}
