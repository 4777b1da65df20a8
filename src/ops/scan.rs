//! Scanning: the engine set up from configuration and flags (`ScanSetup`), the sources
//! (working tree, staged index, commit range, history, every object) read in parallel, and
//! the split the hooks need between keys a change introduces and keys that were already
//! committed, and keys in ref names. Returns findings; never prints.

use crate::core::ci::CommitsToScan;
use crate::core::config::Config;
use crate::core::git::{self, BlobRead, BlobRef, Change, MessageRef};
use crate::core::progress::Progress;
use crate::core::scan::baseline::Baseline;
use crate::core::scan::{is_binary, Finding, Scanner, SkipReason, Skipped};
use crate::core::secret::Secret;
use crate::core::walk;
use anyhow::{bail, Context as _};
use globset::GlobSet;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use thiserror::Error;

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
    pub fn unit(&self) -> Unit {
        match self {
            Source::Worktree { .. } | Source::Staged => Unit::Files,
            Source::Range(_) | Source::History { .. } => Unit::Blobs,
        }
    }
}

/// What a scan counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Files,
    Blobs,
}

impl Unit {
    pub fn one(self) -> &'static str {
        match self {
            Unit::Files => "file",
            Unit::Blobs => "blob",
        }
    }

    pub fn many(self) -> &'static str {
        match self {
            Unit::Files => "files",
            Unit::Blobs => "blobs",
        }
    }
}

/// The history could not be read completely (a ref whose commit is gone, a truncated
/// pack). The text went through the scanner, so a key in a ref name in it is redacted —
/// which is also why git's error is not kept as the source: its text would print the key.
#[derive(Debug, Error)]
#[error("the history cannot be read completely, so it was not scanned: {shown}; run `git fsck`")]
pub struct UnreadableHistory {
    shown: String,
}

/// Why `stream_history` stopped. A `Git` error may name a ref, and a ref name may hold a
/// key: show it through `ScanSetup::redact_keys`.
#[derive(Debug, Error)]
pub enum HistoryError {
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error("a blob reader thread panicked")]
    Panicked,
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
            let mut results = scan_history(repo, setup, *all_objects, progress)?;
            for keyed in refs_holding_keys(repo, setup)? {
                results.findings.extend(keyed.findings);
            }
            results
        }
    };
    results
        .findings
        .retain(|f| f.path.as_deref().is_none_or(|p| !setup.path_allowed(p)));
    // A path can hold a key too (`secrets/ghp_….txt`).
    for failure in &mut results.failures {
        *failure = setup.redact_keys(failure);
    }
    Ok(results)
}

/// The source that scans what a CI run brings (`None`: nothing, the push deleted a ref).
/// Every commit named must be in the clone: a shallow clone has to say so, not scan less.
pub fn ci_source(
    repo: &git2::Repository,
    commits: &CommitsToScan,
) -> anyhow::Result<Option<Source>> {
    let present = |id: &str| -> anyhow::Result<()> {
        let oid = git2::Oid::from_str(id).with_context(|| format!("`{id}` is not a commit id"))?;
        if repo.find_commit(oid).is_err() {
            bail!(
                "commit {id} is not in this clone, so the commits cannot be scanned: fetch the whole history (actions/checkout with `fetch-depth: 0`; GitLab CI with `GIT_DEPTH: 0`)"
            );
        }
        Ok(())
    };
    Ok(match commits {
        CommitsToScan::Range { base, head } => {
            present(base)?;
            present(head)?;
            Some(Source::Range(format!("{base}..{head}")))
        }
        CommitsToScan::Everything { head } => {
            present(head)?;
            Some(Source::Range(head.clone()))
        }
        CommitsToScan::Nothing => None,
    })
}

/// A ref whose name holds a key. The name is as secret as the key: show `shown`.
pub struct KeyedRef {
    pub name: Secret,
    /// The name with every key in it redacted.
    pub shown: String,
    /// What the ref points to (`None` for a symbolic ref to nothing).
    pub target: Option<git2::Oid>,
    /// One finding per key in the name: no path, `commit` the ref's target, `ref_name` the
    /// redacted name, line 1 and the column within the name.
    pub findings: Vec<Finding>,
}

/// Every ref whose name holds a key (a branch `fix-ghp_…`, a tag, a remote-tracking ref).
pub fn refs_holding_keys(
    repo: &git2::Repository,
    setup: &ScanSetup,
) -> anyhow::Result<Vec<KeyedRef>> {
    let tips = git::ref_tips(repo).map_err(|e| UnreadableHistory {
        shown: setup.redact_keys(&e.to_string()),
    })?;
    let mut keyed = Vec::new();
    for tip in tips {
        let mut findings = setup.scanner.scan(tip.name.as_bytes());
        if findings.is_empty() {
            continue;
        }
        let shown = setup.redact_keys(&tip.name);
        for finding in &mut findings {
            finding.commit = tip.target.map(|t| t.to_string());
            finding.ref_name = Some(shown.clone());
        }
        keyed.push(KeyedRef {
            name: Secret::new(tip.name),
            shown,
            target: tip.target,
            findings,
        });
    }
    Ok(keyed)
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
        let found = self.findings_in(data);
        if found.is_none() {
            collector.skip(what.to_string(), SkipReason::Binary);
        }
        found
    }

    /// The findings in `data`; `None` when it is binary and binary content is skipped.
    fn findings_in(&self, data: &[u8]) -> Option<Vec<Finding>> {
        if !self.scan_binary && is_binary(data) {
            return None;
        }
        Some(self.scanner.scan(data))
    }

    pub fn path_allowed(&self, path: &str) -> bool {
        self.allowed_paths.is_match(path)
    }

    /// `text` with every key the rules find in it replaced by its redacted form: for text
    /// that is shown and may hold a key (a ref name, a path, an error naming either).
    pub fn redact_keys(&self, text: &str) -> String {
        let mut findings = self.scanner.scan(text.as_bytes());
        findings.sort_by_key(|f| f.span);
        let mut shown = String::with_capacity(text.len());
        let mut copied = 0;
        for finding in findings {
            let (start, end) = finding.span;
            if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                continue;
            }
            // Two rules can match overlapping text: nothing of the second is shown either.
            if start < copied {
                if end > copied {
                    shown.push('…');
                    copied = end;
                }
                continue;
            }
            shown.push_str(&text[copied..start]);
            shown.push_str(&finding.redacted());
            copied = end;
        }
        shown.push_str(&text[copied..]);
        shown
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
        &|read| examine_blob(setup, read),
        &|blob, examined| attribute_blob(setup, &collector, blob, examined),
    )
    .map_err(|err| match err {
        HistoryError::Git(err) => anyhow::Error::from(UnreadableHistory {
            shown: setup.redact_keys(&err.to_string()),
        }),
        other => other.into(),
    })?;
    let mut results = collector.into_results();
    results
        .findings
        .extend(scan_messages(setup, &inventory.messages));
    Ok(results)
}

/// Every blob reachable from every ref (with `all_objects`, every blob in the odb), each
/// `examine`d once and then handed to `attribute` with the commit and path it was first seen
/// at. The blobs of the pack files are decoded in pack order on the worker threads while the
/// history walk goes on beside them (`git::packed`), so no delta chain is resolved twice; a
/// blob the walk finds that no pack produced (a loose object, one behind an alternate, one
/// that could not be decoded) is then read by id. A packed blob no ref reaches is examined
/// but never attributed. Returns the walk's inventory (messages, counts). Blobs over
/// `max_size` come as `TooLarge`; an unreadable blob is an error.
pub fn stream_history<R: Send>(
    repo: &git2::Repository,
    all_objects: bool,
    max_size: u64,
    progress: &dyn Progress,
    examine: &(dyn Fn(BlobRead<'_>) -> R + Sync),
    attribute: &(dyn Fn(&BlobRef, R) + Sync),
) -> Result<git::Inventory, HistoryError> {
    let packs = git::packed::Packs::of(repo);
    let examined: Mutex<HashMap<git2::Oid, R>> = Mutex::new(HashMap::new());
    let (inventory, waiting, decoded) = std::thread::scope(|scope| {
        let decoder = scope.spawn(|| {
            packs.decode_blobs(max_size, &|oid, read| {
                let outcome = examine(read);
                examined
                    .lock()
                    .expect("no examiner panics holding the map")
                    .insert(oid, outcome);
            });
        });
        // Blobs the decoder has already examined are attributed as the walk reaches them;
        // the others wait for it.
        let mut waiting: Vec<BlobRef> = Vec::new();
        let inventory = git::history_inventory(repo, all_objects, &mut |batch| {
            let ready: Vec<(BlobRef, R)> = {
                let mut examined = examined.lock().expect("no examiner panics holding the map");
                batch
                    .into_iter()
                    .filter_map(|blob| match examined.remove(&blob.oid) {
                        Some(outcome) => Some((blob, outcome)),
                        None => {
                            waiting.push(blob);
                            None
                        }
                    })
                    .collect()
            };
            for (blob, outcome) in ready {
                progress.inc(1);
                attribute(&blob, outcome);
            }
        });
        (inventory, waiting, decoder.join())
    });
    if decoded.is_err() {
        return Err(HistoryError::Panicked);
    }
    let inventory = inventory?;
    let mut examined = examined
        .into_inner()
        .expect("no examiner panics holding the map");
    let mut unread = Vec::new();
    for blob in waiting {
        match examined.remove(&blob.oid) {
            Some(outcome) => {
                progress.inc(1);
                attribute(&blob, outcome);
            }
            None => unread.push(blob),
        }
    }
    drop(examined);
    git::read_blobs_parallel(
        repo.path(),
        &unread,
        |b| b.oid,
        max_size,
        |blob, read| {
            progress.inc(1);
            attribute(blob, examine(read));
        },
    )?;
    Ok(inventory)
}

/// What one blob's content holds, before it is known where the blob is: kept for every blob
/// of the packs until the walk says where each is, so it is kept small.
enum Examined {
    Findings(Vec<Finding>),
    Binary,
    TooLarge(u64),
    Failed(Box<git::GitError>),
}

fn examine_blob(setup: &ScanSetup, read: BlobRead<'_>) -> Examined {
    match read {
        BlobRead::Data(data) => match setup.findings_in(data) {
            Some(found) => Examined::Findings(found),
            None => Examined::Binary,
        },
        BlobRead::TooLarge(size) => Examined::TooLarge(size),
        BlobRead::Failed(err) => Examined::Failed(Box::new(err)),
    }
}

fn attribute_blob(setup: &ScanSetup, collector: &Collector, blob: &BlobRef, examined: Examined) {
    let shown = blob
        .path
        .clone()
        .unwrap_or_else(|| format!("blob {}", blob.oid));
    if blob.path.as_deref().is_some_and(|p| setup.path_allowed(p)) {
        return;
    }
    match examined {
        Examined::Findings(mut found) => {
            collector.scanned.fetch_add(1, Ordering::Relaxed);
            for finding in &mut found {
                finding.path = Some(shown.clone());
                finding.commit = blob.commit.map(|c| c.to_string());
            }
            collector.add_findings(found);
        }
        Examined::Binary => {
            collector.scanned.fetch_add(1, Ordering::Relaxed);
            collector.skip(shown, SkipReason::Binary);
        }
        Examined::TooLarge(size) => collector.skip(
            shown,
            SkipReason::TooLarge {
                size,
                limit: setup.max_file_size,
            },
        ),
        Examined::Failed(err) => collector.fail(format!("{shown}: {}", err.one_line())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rules::template::{expand, KeyRng};

    #[test]
    fn redact_keys_hides_every_key_and_keeps_the_rest() {
        let setup = ScanSetup::new(&Config::default(), &[], &[], None).expect("built-in rules");
        let mut rng = KeyRng::new(7);
        let key = expand("ghp_{alnum:36}", &mut rng).expect("template").text;
        let other = expand("hf_{letters:34}", &mut rng).expect("template").text;
        let text = format!("refs/heads/fix-{key}/and-{other}");
        let shown = setup.redact_keys(&text);
        assert!(!shown.contains(&key) && !shown.contains(&other), "{shown}");
        assert!(shown.starts_with("refs/heads/fix-ghp_"), "{shown}");
        assert!(shown.contains("/and-hf_"), "{shown}");
        assert_eq!(setup.redact_keys("refs/heads/main"), "refs/heads/main");
    }
}
