//! Scanning: the engine set up from configuration and flags (`ScanSetup`), the sources
//! (working tree, staged index, commit range, history, every object) read in parallel, and
//! the split the hooks need between keys a change introduces and keys that were already
//! committed. Returns findings; never prints.

use crate::core::config::Config;
use crate::core::git::{self, BlobRead, BlobRef, Change, MessageRef};
use crate::core::progress::Progress;
use crate::core::scan::baseline::Baseline;
use crate::core::scan::{is_binary, Finding, Scanner, SkipReason, Skipped};
use crate::core::walk;
use anyhow::{bail, Context as _};
use globset::GlobSet;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What to scan.
#[derive(Debug, Clone)]
pub enum Source {
    /// Files on disk under `paths` (absolute), shown relative to the scan root.
    Worktree {
        paths: Vec<PathBuf>,
        respect_ignore: bool,
    },
    /// What the next commit would record (the index git names in `GIT_INDEX_FILE`).
    Staged,
    /// What the commits of `A..B` (or `A...B`, or all of `REV`) introduced.
    Range(String),
    /// Every blob reachable from every ref and every commit and tag message; with
    /// `all_objects` every other object in the object database too.
    History { all_objects: bool },
}

impl Source {
    pub fn needs_repository(&self) -> bool {
        !matches!(self, Source::Worktree { .. })
    }

    /// What the report counts: files or blobs.
    pub fn unit(&self) -> &'static str {
        match self {
            Source::Worktree { .. } | Source::Staged => "files",
            Source::Range(_) | Source::History { .. } => "blobs",
        }
    }
}

/// Scans `source` with `setup`: findings in allowlisted paths are dropped. `repo` is needed
/// for every source but the working tree; `root` is what paths are shown relative to.
pub fn scan(
    repo: Option<&git2::Repository>,
    root: &Path,
    source: &Source,
    setup: &ScanSetup,
    progress: &dyn Progress,
) -> anyhow::Result<ScanResults> {
    let repository = || repo.context("this scan needs a git repository");
    let mut results = match source {
        Source::Worktree {
            paths,
            respect_ignore,
        } => scan_worktree(paths, root, setup, *respect_ignore)?,
        Source::Staged => {
            let repo = repository()?;
            let changes = git::staged_changes_fast(repo)?;
            scan_changes(repo.path(), setup, &changes)?.into_all()
        }
        Source::Range(spec) => {
            let repo = repository()?;
            let git::RangeChanges { changes, messages } = git::range_changes(repo, spec)?;
            let mut results = scan_changes(repo.path(), setup, &changes)?.into_introduced();
            results.findings.extend(scan_messages(setup, &messages));
            results
        }
        Source::History { all_objects } => {
            let repo = repository()?;
            git::tune_for_bulk_reads();
            scan_history(repo, setup, *all_objects, progress)?
        }
    };
    results
        .findings
        .retain(|f| f.path.as_deref().is_none_or(|p| !setup.path_allowed(p)));
    Ok(results)
}

impl ScanResults {
    /// Drops the findings `baseline` records; returns how many it hid.
    pub fn apply_baseline(&mut self, baseline: &Baseline) -> usize {
        let before = self.findings.len();
        self.findings.retain(|f| !baseline.contains(f));
        before - self.findings.len()
    }

    /// Findings in a stable order (by path, commit, line, column, rule), skips by name.
    pub fn sort(&mut self) {
        sort_findings(&mut self.findings);
        self.skipped.sort_by(|a, b| a.what.cmp(&b.what));
    }
}

/// What a source produced: findings, what was skipped, how much was scanned.
#[derive(Default)]
pub struct ScanResults {
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub scanned: usize,
    /// Objects that could not be read: the scan is incomplete.
    pub failures: Vec<String>,
}

/// Collects results from parallel workers.
#[derive(Default)]
struct Collector {
    findings: Mutex<Vec<Finding>>,
    skipped: Mutex<Vec<Skipped>>,
    failures: Mutex<Vec<String>>,
    scanned: AtomicUsize,
}

impl Collector {
    fn add_findings(&self, mut found: Vec<Finding>) {
        if !found.is_empty() {
            self.findings
                .lock()
                .expect("collector lock")
                .append(&mut found);
        }
    }

    fn skip(&self, what: String, reason: SkipReason) {
        self.skipped
            .lock()
            .expect("collector lock")
            .push(Skipped { what, reason });
    }

    fn fail(&self, message: String) {
        self.failures.lock().expect("collector lock").push(message);
    }

    fn into_results(self) -> ScanResults {
        ScanResults {
            findings: self.findings.into_inner().expect("collector lock"),
            skipped: self.skipped.into_inner().expect("collector lock"),
            failures: self.failures.into_inner().expect("collector lock"),
            scanned: self.scanned.into_inner(),
        }
    }
}

/// The engine and settings a scan runs with, built from configuration and flags.
pub struct ScanSetup {
    pub scanner: Scanner,
    pub rules: crate::core::rules::RuleSet,
    pub allowed_paths: GlobSet,
    pub max_file_size: u64,
    /// Scan content that looks binary too, instead of skipping it. The rules match keys
    /// wherever they stand among other bytes, so a stray NUL cannot hide one.
    pub scan_binary: bool,
}

impl ScanSetup {
    pub fn new(
        config: &Config,
        only: &[String],
        disabled: &[String],
        max_file_size: Option<u64>,
    ) -> anyhow::Result<Self> {
        let mut rules = config.rule_set()?;
        rules.disable(disabled).context("--disable-rule")?;
        if !only.is_empty() {
            rules.only(only).context("--rule")?;
        }
        let scanner = Scanner::new(&rules, config.allowed_secret_regexes())?;
        Ok(ScanSetup {
            scanner,
            rules,
            allowed_paths: config.path_allowlist()?,
            max_file_size: max_file_size.unwrap_or_else(|| config.max_file_size()),
            scan_binary: false,
        })
    }

    /// Scans one piece of content, recording a skip instead when it is binary (unless
    /// `scan_binary`).
    fn scan_content(&self, data: &[u8], what: &str, collector: &Collector) -> Option<Vec<Finding>> {
        collector.scanned.fetch_add(1, Ordering::Relaxed);
        if !self.scan_binary && is_binary(data) {
            collector.skip(what.to_string(), SkipReason::Binary);
            return None;
        }
        Some(self.scanner.scan(data))
    }

    pub fn path_allowed(&self, path: &str) -> bool {
        self.allowed_paths.is_match(path)
    }
}

pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (
            a.path.is_none(),
            &a.path,
            &a.commit,
            a.line,
            a.column,
            &a.rule_id,
        )
            .cmp(&(
                b.path.is_none(),
                &b.path,
                &b.commit,
                b.line,
                b.column,
                &b.rule_id,
            ))
    });
}

fn scan_worktree(
    paths: &[PathBuf],
    root: &Path,
    setup: &ScanSetup,
    respect_ignore: bool,
) -> anyhow::Result<ScanResults> {
    let collector = Collector::default();
    walk::for_each_file(paths, respect_ignore, &|event| match event {
        walk::WalkEvent::File(path) => {
            let shown = walk::display_path(path, root);
            if setup.path_allowed(&shown) {
                return;
            }
            match walk::read_limited(path, setup.max_file_size) {
                Ok(walk::FileContent::Data(data)) => {
                    if let Some(mut found) = setup.scan_content(&data, &shown, &collector) {
                        for finding in &mut found {
                            finding.path = Some(shown.clone());
                        }
                        collector.add_findings(found);
                    }
                }
                Ok(walk::FileContent::TooLarge(size)) => collector.skip(
                    shown,
                    SkipReason::TooLarge {
                        size,
                        limit: setup.max_file_size,
                    },
                ),
                Err(err) => collector.skip(shown, SkipReason::Unreadable(err.to_string())),
            }
        }
        walk::WalkEvent::Unreadable(path, why) => {
            collector.skip(walk::display_path(&path, root), SkipReason::Unreadable(why))
        }
    })?;
    Ok(collector.into_results())
}

fn scan_history(
    repo: &git2::Repository,
    setup: &ScanSetup,
    all_objects: bool,
    bar: &dyn Progress,
) -> anyhow::Result<ScanResults> {
    bar.phase("scanning history", 0);
    let collector = Collector::default();
    let inventory = stream_history(
        repo,
        all_objects,
        setup.max_file_size,
        bar,
        &|blob, read| scan_blob(setup, &collector, blob, read),
    )?;
    let mut results = collector.into_results();
    results
        .findings
        .extend(scan_messages(setup, &inventory.messages));
    Ok(results)
}

/// Every blob reachable from every ref (with `all_objects`, every blob in the odb), read in
/// parallel while the history walk goes on, each handed to `visit` once with the commit and
/// path it was first seen at. Returns the walk's inventory (messages, counts). Blobs over
/// `max_size` come as `TooLarge`; an unreadable blob is an error.
pub fn stream_history(
    repo: &git2::Repository,
    all_objects: bool,
    max_size: u64,
    progress: &dyn Progress,
    visit: &(dyn Fn(&BlobRef, BlobRead<'_>) + Sync),
) -> anyhow::Result<git::Inventory> {
    let git_dir = repo.path();
    let read_failure: Mutex<Option<git::GitError>> = Mutex::new(None);
    // The walk (one thread) streams batches of blobs to the readers (the rayon pool), so
    // listing history and reading it overlap instead of adding up.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<BlobRef>>(64);
    let (inventory, joined) = std::thread::scope(|scope| {
        let readers = scope.spawn(|| {
            receiver.into_iter().par_bridge().for_each(|batch| {
                let counted = |blob: &BlobRef, read: BlobRead<'_>| {
                    progress.inc(1);
                    visit(blob, read);
                };
                if let Err(err) =
                    git::read_blobs(git_dir, &batch, |b: &BlobRef| b.oid, max_size, &counted)
                {
                    read_failure
                        .lock()
                        .expect("no reader panics holding the failure slot")
                        .get_or_insert(err);
                }
            });
        });
        let inventory = git::history_inventory(repo, all_objects, &mut |batch| {
            // The receiver only stops early if a reader panicked; the join reports that.
            let _ = sender.send(batch);
        });
        drop(sender);
        (inventory, readers.join())
    });
    if joined.is_err() {
        bail!("a blob reader thread panicked");
    }
    let inventory = inventory?;
    if let Some(err) = read_failure
        .into_inner()
        .expect("no reader panics holding the failure slot")
    {
        return Err(err.into());
    }
    Ok(inventory)
}

fn scan_blob(setup: &ScanSetup, collector: &Collector, blob: &BlobRef, read: BlobRead<'_>) {
    let shown = blob
        .path
        .clone()
        .unwrap_or_else(|| format!("blob {}", blob.oid));
    if blob.path.as_deref().is_some_and(|p| setup.path_allowed(p)) {
        return;
    }
    match read {
        BlobRead::Data(data) => {
            if let Some(mut found) = setup.scan_content(data, &shown, collector) {
                for finding in &mut found {
                    finding.path = Some(shown.clone());
                    finding.commit = blob.commit.map(|c| c.to_string());
                }
                collector.add_findings(found);
            }
        }
        BlobRead::TooLarge(size) => collector.skip(
            shown,
            SkipReason::TooLarge {
                size,
                limit: setup.max_file_size,
            },
        ),
        BlobRead::Failed(err) => collector.fail(format!("{shown}: {}", err.one_line())),
    }
}

pub fn scan_messages(setup: &ScanSetup, messages: &[MessageRef]) -> Vec<Finding> {
    messages
        .par_iter()
        .flat_map_iter(|message| {
            let mut found = setup.scanner.scan(&message.message);
            for finding in &mut found {
                finding.commit = Some(message.object.to_string());
            }
            found
        })
        .collect()
}

/// Findings in changed files, split into keys the change introduces and keys that were
/// already in the file it replaces (already committed, so already leaked).
pub struct ChangeScan {
    pub introduced: Vec<Finding>,
    pub preexisting: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub failures: Vec<String>,
    pub scanned: usize,
}

impl ChangeScan {
    fn into_introduced(self) -> ScanResults {
        ScanResults {
            findings: self.introduced,
            skipped: self.skipped,
            scanned: self.scanned,
            failures: self.failures,
        }
    }

    fn into_all(mut self) -> ScanResults {
        self.introduced.append(&mut self.preexisting);
        self.into_introduced()
    }
}

/// Scans the new side of each change; a key that the old side of the same path already
/// held is `preexisting`, not introduced (robust to the key moving within the file).
pub fn scan_changes(
    git_dir: &Path,
    setup: &ScanSetup,
    changes: &[Change],
) -> anyhow::Result<ChangeScan> {
    let olds: Vec<git2::Oid> = changes
        .iter()
        .filter_map(|c| c.old)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let old_keys: Mutex<HashMap<git2::Oid, HashSet<(String, String)>>> = Mutex::default();
    git::read_blobs_parallel(
        git_dir,
        &olds,
        |o: &git2::Oid| *o,
        setup.max_file_size,
        |oid, read| {
            if let BlobRead::Data(data) = read {
                let keys = setup
                    .scanner
                    .scan(data)
                    .into_iter()
                    .map(|f| (f.rule_id.to_string(), f.secret.expose().to_string()))
                    .collect();
                old_keys.lock().expect("old keys lock").insert(*oid, keys);
            }
        },
    )?;
    let old_keys = old_keys.into_inner().expect("old keys lock");
    let with_new: Vec<&Change> = changes.iter().filter(|c| c.new.is_some()).collect();
    let collector = Collector::default();
    let preexisting = Mutex::new(Vec::new());
    git::read_blobs_parallel(
        git_dir,
        &with_new,
        |c: &&Change| c.new.expect("filtered to changes with a new side"),
        setup.max_file_size,
        |change, read| {
            if setup.path_allowed(&change.path) {
                return;
            }
            match read {
                BlobRead::Data(data) => {
                    let Some(found) = setup.scan_content(data, &change.path, &collector) else {
                        return;
                    };
                    let before = change.old.and_then(|o| old_keys.get(&o));
                    let mut introduced = Vec::new();
                    for mut finding in found {
                        finding.path = Some(change.path.clone());
                        finding.commit = change.commit.map(|c| c.to_string());
                        let key = (
                            finding.rule_id.to_string(),
                            finding.secret.expose().to_string(),
                        );
                        if before.is_some_and(|keys| keys.contains(&key)) {
                            preexisting.lock().expect("preexisting lock").push(finding);
                        } else {
                            introduced.push(finding);
                        }
                    }
                    collector.add_findings(introduced);
                }
                BlobRead::TooLarge(size) => collector.skip(
                    change.path.clone(),
                    SkipReason::TooLarge {
                        size,
                        limit: setup.max_file_size,
                    },
                ),
                BlobRead::Failed(err) => {
                    collector.fail(format!("{}: {}", change.path, err.one_line()))
                }
            }
        },
    )?;
    let results = collector.into_results();
    Ok(ChangeScan {
        introduced: results.findings,
        preexisting: preexisting.into_inner().expect("preexisting lock"),
        skipped: results.skipped,
        failures: results.failures,
        scanned: results.scanned,
    })
}
