//! The purge workflow as steps a caller runs and reports one at a time: a dry run, or
//! [`Purge::begin`] (checks, the whole-run lock) and then [`Purge::step`] until it returns
//! `None`: backup + rewrite → move the refs → update the worktrees → push (when asked) →
//! expire the reflogs (the stash list saved first, put back after) → gc → verify. Each step
//! returns a typed report; nothing here prints.
//!
//! Every step can be interrupted — killed, a failure, SIGINT/SIGTERM between steps — and
//! run again: the journal (`journal.rs`, in `.git/keywarden/`) is written before each phase
//! starts, and each phase finishes what an interrupted run of it left. [`Purge::resume`]
//! continues an unfinished purge (the secrets are given again, checked against the journal's
//! fingerprints, never stored); [`abort`] puts every ref back from the backup and removes
//! what the run added. [`unfinished`] tells whether a purge is unfinished.

pub mod journal;

mod interrupt;
mod refs;

use crate::core::clock::Clock;
use crate::core::fault;
use crate::core::git::aftercare::{self, Leftover, Records};
use crate::core::git::delete_paths::{BadPattern, DeletePaths};
use crate::core::git::error::GitError;
use crate::core::git::oid::OidSet;
use crate::core::git::pack::ObjectSink;
use crate::core::git::rewrite::{self, Rewrite, RewriteOptions};
use crate::core::git::tips::{self, Tips};
use crate::core::git::{self as git};
use crate::core::progress::Progress;
use crate::core::registry::lock::{LockError, LockFile};
use crate::core::scrub::Scrubber;
use crate::core::shell;
use git2::{ObjectType, Oid, Repository};
use journal::{
    Counts, Id, Journal, JournalError, JournalPushed, JournalRef, JournalStash, JournalWorktree,
    JournalWorktreeRef, Phase,
};
use std::path::{Path, PathBuf};
use thiserror::Error;

pub use aftercare::{PushOutcome, WorktreeUpdate};

#[derive(Debug, Error)]
pub enum PurgeError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("--delete-path {0}")]
    DeletePath(#[from] BadPattern),
    #[error("nothing to purge: give secrets or --delete-path patterns")]
    NothingToRemove,
    #[error(
        "a purge of this repository is unfinished (started {started}, stopped before {}): run `{resume}` with the same secrets to finish it, or `keywarden purge --abort` to undo it",
        phase.describe()
    )]
    Unfinished {
        started: String,
        phase: Phase,
        resume: String,
    },
    #[error("no unfinished purge in {}: nothing to resume or abort", root.display())]
    NothingUnfinished { root: PathBuf },
    #[error("another keywarden purge is running in this repository (it holds {}); wait until it is done", lock.display())]
    Busy { lock: PathBuf },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("these are not the secrets of the unfinished purge (started {started}): give the same secrets, and the same --delete-path patterns, as that run")]
    OtherSecrets { started: String },
    #[error(
        "interrupted: the purge stopped before {}; run `{resume}` with the same secrets to finish it, or `keywarden purge --abort` to undo it",
        phase.describe()
    )]
    Interrupted { phase: Phase, resume: String },
    #[error("backup failed; nothing was changed")]
    Backup(#[source] GitError),
    #[error("the rewrite failed; nothing was changed")]
    Rewrite(#[source] GitError),
    #[error("cannot store the rewritten objects; no ref was changed")]
    Store(#[source] GitError),
    #[error(
        "history is rewritten, but {} stopped: {reason}; fix that, then run `{resume}` with the same secrets",
        phase.describe()
    )]
    Stopped {
        phase: Phase,
        reason: String,
        resume: String,
    },
}

impl PurgeError {
    /// Whether the purge stopped because of SIGINT or SIGTERM (exit 130, as shells do).
    pub fn is_interrupt(&self) -> bool {
        matches!(self, PurgeError::Interrupted { .. })
    }
}

/// What a purge removes: secrets (with their replacement), and paths to drop.
pub struct Removal {
    scrubber: Option<Scrubber>,
    delete_paths: Vec<String>,
    globs: Option<DeletePaths>,
}

impl Removal {
    pub fn new(scrubber: Option<Scrubber>, delete_paths: Vec<String>) -> Result<Self, PurgeError> {
        let globs = DeletePaths::new(&delete_paths)?;
        if scrubber.is_none() && globs.is_none() {
            return Err(PurgeError::NothingToRemove);
        }
        Ok(Removal {
            scrubber,
            delete_paths,
            globs,
        })
    }

    pub fn scrubber(&self) -> Option<&Scrubber> {
        self.scrubber.as_ref()
    }

    pub fn delete_paths(&self) -> &[String] {
        &self.delete_paths
    }

    /// `text` as it may be shown: every secret in it redacted.
    pub fn show(&self, text: &str) -> String {
        match &self.scrubber {
            Some(s) => s.redact(text),
            None => text.to_string(),
        }
    }

    fn holds_secret(&self, text: &str) -> bool {
        self.scrubber
            .as_ref()
            .is_some_and(|s| s.is_match(text.as_bytes()))
    }

    fn fingerprints(&self) -> Vec<String> {
        let mut all = self
            .scrubber
            .as_ref()
            .map(Scrubber::fingerprints)
            .unwrap_or_default();
        all.extend(self.delete_paths.iter().map(|p| delete_path_fingerprint(p)));
        all.sort();
        all
    }

    fn replacement(&self) -> String {
        self.scrubber
            .as_ref()
            .map(|s| String::from_utf8_lossy(s.replacement()).into_owned())
            .unwrap_or_default()
    }

    fn rewrite_options(&self, include_remotes: bool) -> RewriteOptions<'_> {
        RewriteOptions {
            scrubber: self.scrubber.as_ref(),
            delete_paths: self.globs.as_ref(),
            include_remotes,
        }
    }
}

/// How to purge, beyond what is removed.
#[derive(Debug, Clone, Default)]
pub struct PurgeOptions {
    /// Rewrite `refs/remotes/*` too.
    pub include_remotes: bool,
    /// Force-push the result to this remote.
    pub push: Option<String>,
}

/// An unfinished purge, as `status` (or an incident resuming) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub started: String,
    pub phase: Phase,
    pub journal: PathBuf,
    /// The command that finishes it, exactly as it must be typed.
    pub resume: String,
}

/// How a `--delete-path` pattern is recorded in the journal, beside the secrets' fingerprints.
fn delete_path_fingerprint(pattern: &str) -> String {
    crate::core::secret::fingerprint(&format!("delete-path:{pattern}"))
}

/// `keywarden purge --resume` with what the purge was given: the secrets again on stdin (a
/// hidden prompt at a terminal) when there were any, the same `--delete-path` patterns.
fn resume_command(has_secrets: bool, delete_paths: &[String]) -> String {
    let mut command = String::from("keywarden purge --resume");
    if has_secrets {
        command.push_str(" --secret-stdin");
    }
    for pattern in delete_paths {
        command.push_str(" --delete-path ");
        command.push_str(&shell::word(pattern));
    }
    command
}

impl Journal {
    /// Whether the purge removes secrets, not only paths: the journal holds fingerprints of
    /// both, so a fingerprint that is not a pattern's is a secret's.
    fn has_secrets(&self) -> bool {
        let patterns: Vec<String> = self
            .delete_paths
            .iter()
            .map(|p| delete_path_fingerprint(p))
            .collect();
        self.secrets.iter().any(|fp| !patterns.contains(fp))
    }

    fn resume_command(&self) -> String {
        resume_command(self.has_secrets(), &self.delete_paths)
    }

    /// The refusal to start another purge while this one is unfinished.
    fn still_unfinished(self) -> PurgeError {
        PurgeError::Unfinished {
            resume: self.resume_command(),
            started: self.started,
            phase: self.phase,
        }
    }
}

impl Removal {
    fn resume_command(&self) -> String {
        resume_command(self.scrubber.is_some(), &self.delete_paths)
    }
}

/// The unfinished purge of `repo`, if any.
pub fn unfinished(repo: &Repository) -> Result<Option<Unfinished>, PurgeError> {
    let path = Journal::path(repo.commondir());
    Ok(Journal::read(&path)?.map(|journal| Unfinished {
        resume: journal.resume_command(),
        started: journal.started,
        phase: journal.phase,
        journal: path,
    }))
}

/// What a purge would do (`--dry-run`): the rewrite computed in memory, nothing written.
pub struct PurgePlan {
    pub root: PathBuf,
    pub rewrite: Rewrite,
    pub stash_entries: usize,
    /// Each ref that would move or be renamed: (name as shown, old, new, new name).
    pub refs: Vec<(String, Oid, Oid, Option<String>)>,
    /// Linked worktrees registered here that belong to another repository.
    pub foreign_worktrees: Vec<PathBuf>,
}

/// Reads and rewrites everything in memory and reports what would change; writes nothing.
pub fn dry_run(
    repo_dir: &Path,
    removal: &Removal,
    include_remotes: bool,
    progress: &dyn Progress,
) -> Result<PurgePlan, PurgeError> {
    git::tune_for_bulk_reads();
    let repo = tips::main_repository(git::open(repo_dir)?)?;
    if let Some(journal) = Journal::read(&Journal::path(repo.commondir()))? {
        return Err(journal.still_unfinished());
    }
    let tips = Tips::read(&repo, include_remotes)?;
    let mut sink = ObjectSink::dry_run();
    let result = rewrite::rewrite(
        &repo,
        &tips,
        &removal.rewrite_options(include_remotes),
        &mut sink,
        progress,
    )
    .map_err(PurgeError::Rewrite)?;
    let refs = result
        .ref_updates
        .iter()
        .map(|u| (removal.show(&u.name), u.old, u.new, u.renamed.clone()))
        .collect();
    Ok(PurgePlan {
        root: git::root_dir(&repo),
        stash_entries: tips.stash.len(),
        rewrite: result,
        refs,
        foreign_worktrees: tips::foreign_worktrees(&repo)
            .into_iter()
            .map(|f| f.workdir)
            .collect(),
    })
}

/// What the person is asked to confirm.
#[derive(Debug, Clone)]
pub struct Outline {
    pub root: PathBuf,
    /// The secrets, redacted, and how many patterns.
    pub secrets: Vec<String>,
    pub patterns: usize,
    pub delete_paths: Vec<String>,
    pub refs: usize,
    /// Set when resuming: where the unfinished purge stopped.
    pub resuming: Option<Phase>,
}

/// One step's report.
#[derive(Debug)]
pub enum Step {
    Rewritten(RewriteReport),
    RefsMoved(RefsReport),
    WorktreesUpdated(WorktreesReport),
    Pushed(PushReport),
    ReflogsExpired { stash_entries: usize },
    Collected,
    Verified(VerifyReport),
}

/// The backup and the rewrite.
#[derive(Debug, Clone)]
pub struct RewriteReport {
    pub backup: Option<PathBuf>,
    pub records: Records,
    pub counts: Counts,
    /// Refs renamed because their name held a secret: (old, redacted; new).
    pub renamed: Vec<(String, String)>,
    pub refs_changed: usize,
}

#[derive(Debug, Clone)]
pub struct RefsReport {
    pub moved: usize,
    /// Moved by an interrupted run already.
    pub already: usize,
    pub worktree_refs: usize,
    pub heads_repointed: usize,
}

#[derive(Debug, Clone)]
pub struct WorktreesReport {
    pub worktrees: Vec<(PathBuf, WorktreeUpdate)>,
    pub message_files: Vec<PathBuf>,
    /// Linked worktrees registered here that belong to another repository: left alone.
    pub foreign: Vec<PathBuf>,
}

/// What the push did, per ref.
#[derive(Debug, Clone)]
pub struct PushReport {
    pub remote: String,
    /// The remote's URL without credentials.
    pub url: Option<String>,
    pub refs: Vec<(String, PushOutcome)>,
    /// Why the push failed as a whole, as git said it (redacted).
    pub failure: Option<String>,
    /// Refs renamed because their name held a secret: the remote may still have them under
    /// the old name, which cannot be put on a command line; (redacted old name, new name).
    pub renamed_on_remote: Vec<(String, String)>,
}

impl PushReport {
    pub fn all_pushed(&self) -> bool {
        self.failure.is_none() && self.refs.iter().all(|(_, o)| *o == PushOutcome::Pushed)
    }
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Whether the content was checked (only when secrets were given).
    pub checked: bool,
    pub objects: usize,
    pub read_again: usize,
    pub leftovers: Vec<Leftover>,
    /// Refs whose name still holds a secret (as shown).
    pub ref_names: Vec<String>,
}

impl VerifyReport {
    pub fn clean(&self) -> bool {
        self.leftovers.is_empty() && self.ref_names.is_empty()
    }
}

/// Everything the final summary ("the world outside") needs, at any point of a purge.
#[derive(Debug, Clone)]
pub struct Summary {
    pub root: PathBuf,
    pub records: Records,
    pub backup: Option<PathBuf>,
    pub changed: bool,
    pub first_changed: Vec<Oid>,
    /// The refs every remote needs force-pushed, by their names after the purge.
    pub refs_to_push: Vec<String>,
    /// (name, URL without credentials).
    pub remotes: Vec<(String, Option<String>)>,
    pub push: Option<String>,
    /// Per pushed ref: (shown, None when pushed, else why not).
    pub pushed: Option<Vec<(String, Option<String>)>>,
    pub remote_refs_skipped: usize,
    pub include_remotes: bool,
    /// Where `git push` is to be run (the work tree, or a bare repository's git dir).
    pub push_dir: PathBuf,
}

impl Summary {
    /// The command that force-pushes every rewritten ref to `remote`, runnable from any
    /// directory as printed.
    pub fn push_command(&self, remote: &str) -> String {
        let specs: Vec<String> = self
            .refs_to_push
            .iter()
            .map(|n| format!("{n}:{n}"))
            .collect();
        refs::push_command(&self.push_dir, remote, &specs)
    }

    /// [`Summary::push_command`] for the remote asked for.
    pub fn retry_push_command(&self) -> String {
        self.push_command(self.push.as_deref().unwrap_or_default())
    }

    /// Whether the push asked for reached the remote with every ref.
    pub fn push_complete(&self) -> bool {
        match &self.pushed {
            Some(refs) => refs.iter().all(|(_, problem)| problem.is_none()),
            None => self.push.is_none(),
        }
    }
}

/// A purge in progress, holding the repository's purge lock.
pub struct Purge<'a> {
    repo: Repository,
    removal: &'a Removal,
    options: PurgeOptions,
    journal_path: PathBuf,
    /// `None` until the first step writes it; `phase` then says what runs next.
    journal: Option<Journal>,
    done: bool,
    stamp: String,
    started: String,
    /// Objects the rewrite searched and found clean (this process only; a resumed purge
    /// reads everything again to verify).
    checked_clean: Option<OidSet>,
    _lock: LockFile,
}

impl<'a> Purge<'a> {
    /// Starts a purge of the repository at (or above) `repo_dir`: takes the lock, refuses
    /// when a purge is unfinished or a worktree has uncommitted changes or an operation in
    /// progress. Nothing is written until the first [`step`](Self::step).
    pub fn begin(
        repo_dir: &Path,
        removal: &'a Removal,
        options: PurgeOptions,
        clock: &Clock,
    ) -> Result<Self, PurgeError> {
        git::tune_for_bulk_reads();
        let Locked {
            repo,
            lock,
            journal_path,
            journal,
        } = Locked::open(repo_dir)?;
        if let Some(journal) = journal {
            return Err(journal.still_unfinished());
        }
        aftercare::preflight(&repo)?;
        interrupt::catch();
        Ok(Purge {
            stamp: unique_stamp(&repo, clock),
            started: clock
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            repo,
            removal,
            options,
            journal_path,
            journal: None,
            done: false,
            checked_clean: None,
            _lock: lock,
        })
    }

    /// Continues the unfinished purge of the repository at `repo_dir` with `removal`, which
    /// must be what that purge was started with (the same secrets and patterns).
    pub fn resume(repo_dir: &Path, removal: &'a Removal) -> Result<Self, PurgeError> {
        git::tune_for_bulk_reads();
        let Locked {
            repo,
            lock,
            journal_path,
            journal,
        } = Locked::open(repo_dir)?;
        let journal = Locked::needed(&repo, journal)?;
        if journal.secrets != removal.fingerprints() {
            return Err(PurgeError::OtherSecrets {
                started: journal.started,
            });
        }
        if journal.phase == Phase::Rewrite {
            // Nothing has changed yet: the worktrees must be as clean as for a new purge.
            aftercare::preflight(&repo)?;
        }
        interrupt::catch();
        Ok(Purge {
            stamp: journal.stamp.clone(),
            started: journal.started.clone(),
            options: PurgeOptions {
                include_remotes: journal.include_remotes,
                push: journal.push.clone(),
            },
            repo,
            removal,
            journal_path,
            journal: Some(journal),
            done: false,
            checked_clean: None,
            _lock: lock,
        })
    }

    /// What is about to happen, for the confirmation question.
    pub fn outline(&self) -> Result<Outline, PurgeError> {
        let refs = match &self.journal {
            Some(j) if j.phase > Phase::Rewrite => j.refs.len(),
            _ => Tips::read(&self.repo, self.options.include_remotes)?
                .refs
                .len(),
        };
        let (secrets, patterns) = match self.removal.scrubber() {
            Some(s) => {
                let named: Vec<String> = s.literals().iter().map(|l| l.redacted()).collect();
                let patterns = s.len() - named.len();
                (named, patterns)
            }
            None => (Vec::new(), 0),
        };
        Ok(Outline {
            root: git::root_dir(&self.repo),
            secrets,
            patterns,
            delete_paths: self.removal.delete_paths().to_vec(),
            refs,
            resuming: self.journal.as_ref().map(|j| j.phase),
        })
    }

    /// The phase that runs next (`None` once the purge is done).
    pub fn phase(&self) -> Option<Phase> {
        if self.done {
            return None;
        }
        Some(self.journal.as_ref().map_or(Phase::Rewrite, |j| j.phase))
    }

    /// Runs the next step and reports it; `None` once the purge is done. Stops with
    /// `Interrupted` when SIGINT or SIGTERM came since the last step.
    pub fn step(&mut self, progress: &dyn Progress) -> Result<Option<Step>, PurgeError> {
        let Some(phase) = self.phase() else {
            return Ok(None);
        };
        if interrupt::received() {
            return Err(PurgeError::Interrupted {
                phase,
                resume: self.removal.resume_command(),
            });
        }
        let result = match phase {
            Phase::Rewrite => self.rewrite(progress).map(Step::Rewritten),
            Phase::Refs => self.move_refs().map(Step::RefsMoved),
            Phase::Worktrees => self.update_worktrees().map(Step::WorktreesUpdated),
            Phase::Push => self.push().map(Step::Pushed),
            Phase::Reflogs => self.expire_reflogs(),
            Phase::Gc => self.gc(),
            Phase::Verify => self.verify().map(Step::Verified),
        };
        match result {
            // A signal reaches git's children too: a step that failed meanwhile was
            // interrupted, and is resumable like one stopped between steps.
            Err(_) if interrupt::received() && phase > Phase::Rewrite => {
                Err(PurgeError::Interrupted {
                    phase,
                    resume: self.removal.resume_command(),
                })
            }
            other => other.map(Some),
        }
    }

    /// Runs every remaining step, handing the purge and each report to `on_step` (to show
    /// and record it); returns the verification, when this run did it.
    pub fn run_to_end(
        &mut self,
        progress: &dyn Progress,
        on_step: &mut dyn FnMut(&Purge<'_>, &Step),
    ) -> Result<Option<VerifyReport>, PurgeError> {
        let mut verified = None;
        while let Some(step) = self.step(progress)? {
            on_step(self, &step);
            if let Step::Verified(report) = step {
                verified = Some(report);
            }
        }
        Ok(verified)
    }

    /// What the final report needs (valid at any point; complete once done).
    pub fn summary(&self) -> Summary {
        let records = Records::at(&self.repo, &self.stamp);
        let root = git::root_dir(&self.repo);
        let push_dir = tips::worktrees(&self.repo)
            .first()
            .map(|w| w.workdir.clone())
            .unwrap_or_else(|| self.repo.path().to_path_buf());
        let remotes = tips::remotes(&self.repo)
            .into_iter()
            .map(|r| {
                let url = r.display_url();
                (r.name, url)
            })
            .collect();
        let (changed, first_changed, refs_to_push, backup, pushed, skipped) = match &self.journal {
            Some(j) => (
                !j.refs.is_empty() || !j.worktree_refs.is_empty() || j.counts.stash_changed,
                j.first_changed.iter().map(|id| id.0).collect(),
                j.refs
                    .iter()
                    .map(|r| r.final_name().to_string())
                    .filter(|n| aftercare::is_pushable(n))
                    .collect(),
                j.backup.clone(),
                j.pushed.as_ref().map(|p| {
                    p.iter()
                        .map(|r| (r.shown.clone(), r.problem.clone()))
                        .collect()
                }),
                j.remote_refs_skipped,
            ),
            None => (false, Vec::new(), Vec::new(), None, None, 0),
        };
        Summary {
            root,
            records,
            backup,
            changed,
            first_changed,
            refs_to_push,
            remotes,
            push: self.options.push.clone(),
            pushed,
            remote_refs_skipped: skipped,
            include_remotes: self.options.include_remotes,
            push_dir,
        }
    }

    fn journal_mut(&mut self) -> &mut Journal {
        self.journal
            .as_mut()
            .expect("the journal exists once the first step has run")
    }

    /// Records that `next` runs next (before it starts), then stops at its fault point.
    fn advance(&mut self, next: Phase) -> Result<(), PurgeError> {
        let path = self.journal_path.clone();
        let journal = self.journal_mut();
        journal.phase = next;
        journal.write(&path)?;
        fault::point(&format!("purge:before-{}", next.name()));
        Ok(())
    }

    fn stop(phase: Phase, err: impl std::fmt::Display, removal: &Removal) -> PurgeError {
        PurgeError::Stopped {
            phase,
            reason: removal.show(&err.to_string()),
            resume: removal.resume_command(),
        }
    }

    /// Backup and rewrite: nothing any reader of the repository sees changes here.
    fn rewrite(&mut self, progress: &dyn Progress) -> Result<RewriteReport, PurgeError> {
        if self.journal.is_none() {
            let journal = Journal {
                version: Journal::VERSION,
                stamp: self.stamp.clone(),
                started: self.started.clone(),
                phase: Phase::Rewrite,
                secrets: self.removal.fingerprints(),
                replacement: self.removal.replacement(),
                delete_paths: self.removal.delete_paths().to_vec(),
                include_remotes: self.options.include_remotes,
                push: self.options.push.clone(),
                backup: None,
                pack: None,
                refs: Vec::new(),
                worktree_refs: Vec::new(),
                worktrees: Vec::new(),
                stash_before: Vec::new(),
                stash_after: Vec::new(),
                files_dropped: Vec::new(),
                first_changed: Vec::new(),
                counts: Counts::default(),
                remote_refs_skipped: 0,
                pushed: None,
            };
            aftercare::state_dir(&self.repo)?;
            journal.write(&self.journal_path)?;
            self.journal = Some(journal);
            fault::point("purge:before-rewrite");
        }
        aftercare::clear_temporaries(&self.repo)?;
        let records = Records::at(&self.repo, &self.stamp);
        records.remove();
        let tips = Tips::read(&self.repo, self.options.include_remotes)?;
        let options = self.removal.rewrite_options(self.options.include_remotes);
        let mut sink = ObjectSink::pack(&self.repo.commondir().join("objects"))?;
        let git_dir = self.repo.path().to_path_buf();
        let stamp = self.stamp.clone();
        let repo = &self.repo;
        let (backup, result) = std::thread::scope(|scope| {
            // Nothing to back up in a repository without refs (git refuses an empty bundle).
            let has_history = !tips.refs.is_empty()
                || !tips.stash.is_empty()
                || tips.heads.iter().any(|h| h.detached.is_some());
            let backup = has_history.then(|| {
                scope.spawn(|| {
                    let repo = git::open_at(&git_dir)?;
                    aftercare::backup_bundle(&repo, &tips, &stamp)
                })
            });
            let result = rewrite::rewrite(repo, &tips, &options, &mut sink, progress);
            let backup = backup.map(|handle| {
                handle
                    .join()
                    .unwrap_or(Err(GitError::WorkerFailed { what: "the backup" }))
            });
            (backup, result)
        });
        let failed = |this: &mut Self, err: PurgeError| {
            // Nothing has changed: no purge is left unfinished.
            let _ = Journal::remove(&this.journal_path);
            this.journal = None;
            this.done = true;
            err
        };
        let backup = match backup.transpose() {
            Ok(path) => path,
            Err(e) => {
                sink.abandon();
                return Err(failed(self, PurgeError::Backup(e)));
            }
        };
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                sink.abandon();
                return Err(failed(self, PurgeError::Rewrite(e)));
            }
        };
        let pack = match sink.finish() {
            Ok(pack) => pack,
            Err(e) => return Err(failed(self, PurgeError::Store(e))),
        };
        let removal = self.removal;
        let shown = |name: &str| removal.show(name);
        let records = aftercare::write_records(&self.repo, &result, &self.stamp, &shown)?;
        let worktrees = tips::worktrees(&self.repo)
            .into_iter()
            .map(|wt| JournalWorktree {
                head: head_commit(&wt.git_dir).map(Id),
                workdir: wt.workdir,
                git_dir: wt.git_dir,
            })
            .collect();
        let counts = Counts {
            commits_total: result.commits_total,
            commits_rewritten: result.commit_map.len(),
            blobs_total: result.blobs_total,
            blobs_scrubbed: result.blobs_scrubbed,
            files_scrubbed: result.files_scrubbed.len(),
            files_dropped: result.files_deleted.len(),
            files_renamed: result.files_renamed.len(),
            messages_scrubbed: result.messages_scrubbed,
            signatures_dropped: result.signatures_dropped,
            stash_changed: result.stash_changed,
        };
        let renamed: Vec<(String, String)> = result
            .ref_updates
            .iter()
            .filter_map(|u| {
                u.renamed
                    .as_ref()
                    .map(|n| (removal.show(&u.name), n.clone()))
            })
            .collect();
        let journal = self.journal_mut();
        journal.backup = backup.clone();
        journal.pack = pack;
        journal.refs = result
            .ref_updates
            .iter()
            .map(|u| {
                let secret_name = removal.holds_secret(&u.name);
                JournalRef {
                    name: removal.show(&u.name),
                    fingerprint: secret_name.then(|| crate::core::secret::fingerprint(&u.name)),
                    old: Id(u.old),
                    new: Id(u.new),
                    renamed: u.renamed.clone(),
                }
            })
            .collect();
        journal.worktree_refs = result
            .worktree_updates
            .iter()
            .map(|u| JournalWorktreeRef {
                git_dir: u.git_dir.clone(),
                name: u.name.clone(),
                old: Id(u.old),
                new: Id(u.new),
            })
            .collect();
        journal.worktrees = worktrees;
        journal.stash_before = tips
            .stash
            .iter()
            .map(|e| JournalStash {
                message: removal.show(&e.message),
                ..JournalStash::from_entry(e)
            })
            .collect();
        journal.stash_after = result
            .stash_reflog
            .iter()
            .map(JournalStash::from_entry)
            .collect();
        journal.files_dropped = if result.files_renamed.is_empty() {
            Vec::new()
        } else {
            result.files_deleted.iter().cloned().collect()
        };
        journal.first_changed = result.first_changed.iter().map(|o| Id(*o)).collect();
        journal.counts = counts.clone();
        journal.remote_refs_skipped = result.remote_refs_skipped.len();
        let changed = result.changed();
        self.checked_clean = Some(result.checked_clean);
        self.advance(if changed { Phase::Refs } else { Phase::Reflogs })?;
        Ok(RewriteReport {
            backup,
            records,
            counts,
            renamed,
            refs_changed: result.ref_updates.len() + result.worktree_updates.len(),
        })
    }

    fn move_refs(&mut self) -> Result<RefsReport, PurgeError> {
        let journal = self.journal.as_ref().expect("journaled");
        let report = refs::move_all(&self.repo, journal)
            .map_err(|e| Self::stop(Phase::Refs, e, self.removal))?;
        self.advance(Phase::Worktrees)?;
        Ok(report)
    }

    fn update_worktrees(&mut self) -> Result<WorktreesReport, PurgeError> {
        let journal = self.journal.as_ref().expect("journaled");
        let dropped: std::collections::BTreeSet<String> =
            journal.files_dropped.iter().cloned().collect();
        let renamed = self
            .removal
            .scrubber()
            .filter(|_| journal.counts.files_renamed > 0)
            .map(|scrubber| aftercare::Renamed {
                scrubber,
                dropped: &dropped,
            });
        let mut worktrees = Vec::new();
        for wt in tips::worktrees(&self.repo) {
            let before = journal
                .worktrees
                .iter()
                .find(|w| w.git_dir == wt.git_dir)
                .and_then(|w| w.head)
                .map(|id| id.0);
            let now = head_commit(&wt.git_dir);
            if before.is_some() && before == now {
                continue;
            }
            let update = aftercare::update_worktree(&wt, before, renamed)
                .map_err(|e| Self::stop(Phase::Worktrees, e, self.removal))?;
            worktrees.push((wt.workdir, update));
        }
        let message_files = match self.removal.scrubber() {
            Some(s) => aftercare::scrub_message_files(&self.repo, s),
            None => Vec::new(),
        };
        let foreign: Vec<PathBuf> = tips::foreign_worktrees(&self.repo)
            .into_iter()
            .map(|f| {
                // Only this repository's own (unused) copy of its index: the worktree on
                // disk is the original's.
                let _ = aftercare::reset_registration_index(&f.registration);
                f.workdir
            })
            .collect();
        let next = if self.options.push.is_some() {
            Phase::Push
        } else {
            Phase::Reflogs
        };
        self.advance(next)?;
        Ok(WorktreesReport {
            worktrees,
            message_files,
            foreign,
        })
    }

    fn push(&mut self) -> Result<PushReport, PurgeError> {
        let remote = self.options.push.clone().expect("a push was asked for");
        let summary = self.summary();
        let journal = self.journal.as_ref().expect("journaled");
        let report = refs::push(
            &self.repo,
            journal,
            &remote,
            &summary.push_dir,
            self.removal,
        )
        .map_err(|e| Self::stop(Phase::Push, e, self.removal))?;
        let pushed = report
            .refs
            .iter()
            .map(|(shown, outcome)| JournalPushed {
                shown: shown.clone(),
                problem: match outcome {
                    PushOutcome::Pushed => None,
                    PushOutcome::Rejected(why) => Some(format!("rejected: {why}")),
                    PushOutcome::NotAttempted => Some("not attempted".into()),
                },
            })
            .collect();
        self.journal_mut().pushed = Some(pushed);
        self.advance(Phase::Reflogs)?;
        Ok(report)
    }

    fn expire_reflogs(&mut self) -> Result<Step, PurgeError> {
        let journal = self.journal.as_ref().expect("journaled");
        // The stash list is in the journal since the rewrite: whatever happens from here,
        // it is put back from there.
        let stash: Vec<_> = journal
            .stash_after
            .iter()
            .map(JournalStash::to_entry)
            .collect();
        aftercare::restore_stash(&self.repo, &stash)
            .map_err(|e| Self::stop(Phase::Reflogs, e, self.removal))?;
        fault::point("reflogs:stash-rewritten");
        aftercare::expire_reflogs(&self.repo)
            .map_err(|e| Self::stop(Phase::Reflogs, e, self.removal))?;
        self.advance(Phase::Gc)?;
        Ok(Step::ReflogsExpired {
            stash_entries: stash.len(),
        })
    }

    fn gc(&mut self) -> Result<Step, PurgeError> {
        aftercare::clear_temporaries(&self.repo)?;
        aftercare::gc(&self.repo).map_err(|e| Self::stop(Phase::Gc, e, self.removal))?;
        self.advance(Phase::Verify)?;
        Ok(Step::Collected)
    }

    fn verify(&mut self) -> Result<VerifyReport, PurgeError> {
        let report = match self.removal.scrubber() {
            Some(scrubber) => {
                let clean = self.checked_clean.take().unwrap_or_default();
                let check = aftercare::verify_odb(&self.repo, scrubber, &clean)?;
                let mut leftovers = check.leftovers;
                for l in &mut leftovers {
                    l.location = l.location.as_deref().map(|w| self.removal.show(w));
                }
                let mut ref_names = Vec::new();
                if let Ok(references) = self.repo.references() {
                    for r in references.flatten() {
                        if let Some(name) = r.name().filter(|n| self.removal.holds_secret(n)) {
                            ref_names.push(self.removal.show(name));
                        }
                    }
                }
                VerifyReport {
                    checked: true,
                    objects: check.objects,
                    read_again: check.read_again,
                    leftovers,
                    ref_names,
                }
            }
            None => VerifyReport {
                checked: false,
                objects: 0,
                read_again: 0,
                leftovers: Vec::new(),
                ref_names: Vec::new(),
            },
        };
        fault::point("purge:before-done");
        Journal::remove(&self.journal_path)?;
        self.done = true;
        Ok(report)
    }
}

/// The main repository of `repo_dir` with its purge lock held, and its journal when a purge
/// is unfinished: where `begin`, `resume` and `abort` all start.
struct Locked {
    repo: Repository,
    lock: LockFile,
    journal_path: PathBuf,
    journal: Option<Journal>,
}

impl Locked {
    fn open(repo_dir: &Path) -> Result<Self, PurgeError> {
        let repo = tips::main_repository(git::open(repo_dir)?)?;
        let lock = take_lock(&repo)?;
        let journal_path = Journal::path(repo.commondir());
        let journal = Journal::read(&journal_path)?;
        Ok(Locked {
            repo,
            lock,
            journal_path,
            journal,
        })
    }

    /// The journal, for a resume or an abort, which need one.
    fn needed(repo: &Repository, journal: Option<Journal>) -> Result<Journal, PurgeError> {
        journal.ok_or_else(|| PurgeError::NothingUnfinished {
            root: git::root_dir(repo),
        })
    }
}

/// The purge lock, `.git/keywarden/purge.lock`: held for the whole run, so two purges (or
/// a purge and an abort) never work on one repository at once.
fn take_lock(repo: &Repository) -> Result<LockFile, PurgeError> {
    let path = aftercare::state_dir(repo)?.join("purge.lock");
    LockFile::try_acquire(&path)?.ok_or(PurgeError::Busy { lock: path })
}

/// A timestamp for file names, made unique if a purge already ran this second.
fn unique_stamp(repo: &Repository, clock: &Clock) -> String {
    let base = clock.stamp();
    let dir = repo.commondir().join("keywarden");
    let taken = |s: &str| {
        dir.join(format!("backup-{s}.bundle")).exists()
            || dir.join(format!("commit-map-{s}.txt")).exists()
    };
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|s| !taken(s))
        .expect("an unused name exists")
}

/// What undoing an unfinished purge did.
#[derive(Debug, Clone, Default)]
pub struct AbortReport {
    /// Where the purge had got to.
    pub phase: Option<Phase>,
    pub refs_restored: usize,
    pub stash_entries: usize,
    pub worktrees: Vec<(PathBuf, WorktreeUpdate)>,
    /// The backup, kept (it still holds the secret).
    pub backup: Option<PathBuf>,
}

/// Undoes the unfinished purge of the repository at `repo_dir`: every ref back to its value
/// in the backup (refs created under new names removed), the worktrees' own refs and the
/// stash list back, each worktree brought back to its old HEAD (files changed since left
/// alone), this run's records and temporary files removed. Needs no secret.
pub fn abort(repo_dir: &Path) -> Result<AbortReport, PurgeError> {
    let Locked {
        repo,
        lock: _lock,
        journal_path,
        journal,
    } = Locked::open(repo_dir)?;
    let journal = Locked::needed(&repo, journal)?;
    aftercare::clear_temporaries(&repo)?;
    let mut report = AbortReport {
        phase: Some(journal.phase),
        ..AbortReport::default()
    };
    let records = Records::at(&repo, &journal.stamp);
    if journal.phase == Phase::Rewrite {
        // Nothing anyone sees had changed: what the run wrote goes.
        records.remove();
        let _ = std::fs::remove_file(aftercare::backup_path(&repo, &journal.stamp));
        Journal::remove(&journal_path)?;
        return Ok(report);
    }
    let bundle = journal
        .backup
        .clone()
        .unwrap_or_else(|| aftercare::backup_path(&repo, &journal.stamp));
    // Each worktree's HEAD commit now, before the refs go back: what it is brought back from.
    let heads_now: Vec<(tips::Worktree, Option<Oid>)> = tips::worktrees(&repo)
        .into_iter()
        .map(|wt| {
            let head = head_commit(&wt.git_dir);
            (wt, head)
        })
        .collect();
    report.refs_restored = refs::restore_all(&repo, &journal, &bundle)?;
    let stash: Vec<_> = journal
        .stash_before
        .iter()
        .map(JournalStash::to_entry)
        .collect();
    aftercare::restore_stash(&repo, &stash)?;
    report.stash_entries = stash.len();
    for (wt, now) in heads_now {
        let then = head_commit(&wt.git_dir);
        if now.is_some() && now == then {
            continue;
        }
        if journal.phase >= Phase::Worktrees || now != then {
            let update = aftercare::update_worktree(&wt, now, None)?;
            report.worktrees.push((wt.workdir, update));
        }
    }
    records.remove();
    report.backup = bundle.exists().then_some(bundle);
    Journal::remove(&journal_path)?;
    Ok(report)
}

/// The commit checked out in the worktree whose git dir is `git_dir`.
fn head_commit(git_dir: &Path) -> Option<Oid> {
    let repo = git::open_at(git_dir).ok()?;
    let head = repo.head().ok()?;
    let commit = head.peel_to_commit().ok()?;
    Some(commit.id())
}

/// Whether `oid` names an object this repository has (after gc, the old history is gone
/// until the backup is read back in).
fn has_object(repo: &Repository, oid: Oid) -> bool {
    repo.odb()
        .map(|odb| {
            odb.read_header(oid)
                .is_ok_and(|(_, kind)| kind != ObjectType::Any)
        })
        .unwrap_or(false)
}
