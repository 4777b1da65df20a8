//! `keywarden scan`: picks the source (working tree, index, range, history, every object),
//! feeds its bytes to the engine in parallel, applies allowlists and the baseline, and
//! renders the report.

use super::{Context, Outcome};
use crate::cli::{Format, ScanArgs};
use crate::core::config::Config;
use crate::core::git::{self, BlobRead, BlobRef, Change, MessageRef};
use crate::core::scan::baseline::Baseline;
use crate::core::scan::{is_binary, Finding, Scanner, SkipReason, Skipped};
use crate::core::walk;
use crate::output::{self, Report, ReportFormat};
use anyhow::{bail, Context as _};
use globset::GlobSet;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
        })
    }

    /// Scans one piece of content, recording a skip instead when it is binary.
    fn scan_content(&self, data: &[u8], what: &str, collector: &Collector) -> Option<Vec<Finding>> {
        collector.scanned.fetch_add(1, Ordering::Relaxed);
        if is_binary(data) {
            collector.skip(what.to_string(), SkipReason::Binary);
            return None;
        }
        Some(self.scanner.scan(data))
    }

    fn path_allowed(&self, path: &str) -> bool {
        self.allowed_paths.is_match(path)
    }
}

pub fn run(ctx: &Context, args: ScanArgs) -> anyhow::Result<Outcome> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let wants_git = args.staged || args.range.is_some() || args.history || args.all_objects;
    let repo = match git::open(&cwd) {
        Ok(repo) => Some(repo),
        Err(err) if wants_git => return Err(err.into()),
        Err(_) => None,
    };
    let root = repo
        .as_ref()
        .map(git::root_dir)
        .unwrap_or_else(|| cwd.clone());
    let config = ctx.load_config(&root)?;
    let setup = ScanSetup::new(
        &config,
        &args.rules,
        &args.disabled_rules,
        args.max_file_size,
    )?;
    let show_progress = std::io::stderr().is_terminal();

    let (mut results, unit) = if let Some(repo) = &repo.filter(|_| wants_git) {
        let git_dir = repo.path().to_path_buf();
        if args.history || args.all_objects {
            git::tune_for_bulk_reads();
            (
                scan_history(repo, &git_dir, &setup, args.all_objects, show_progress)?,
                "blobs",
            )
        } else if let Some(spec) = &args.range {
            let git::RangeChanges { changes, messages } = git::range_changes(repo, spec)?;
            let mut results = scan_changes(&git_dir, &setup, &changes)?.into_introduced();
            results.findings.extend(scan_messages(&setup, &messages));
            (results, "blobs")
        } else {
            let changes = git::staged_changes_fast(repo)?;
            (
                scan_changes(&git_dir, &setup, &changes)?.into_all(),
                "files",
            )
        }
    } else {
        // Absolute, so that every path is shown relative to the repository root.
        let paths = if args.paths.is_empty() {
            vec![cwd.clone()]
        } else {
            args.paths.iter().map(|p| cwd.join(p)).collect()
        };
        (
            scan_worktree(&paths, &root, &setup, !args.no_ignore)?,
            "files",
        )
    };

    results
        .findings
        .retain(|f| f.path.as_deref().is_none_or(|p| !setup.path_allowed(p)));
    if let Some(path) = &args.write_baseline {
        let baseline = Baseline::from_findings(&results.findings);
        std::fs::write(path, baseline.to_json())
            .with_context(|| format!("cannot write baseline {}", path.display()))?;
        eprintln!(
            "keywarden: wrote {} baseline entries to {}",
            baseline.entries.len(),
            path.display()
        );
        return Ok(Outcome::Clean);
    }
    if let Some(path) = &args.baseline {
        let baseline = Baseline::load(path)?;
        results.findings.retain(|f| !baseline.contains(f));
    }
    // --verify (issue 5): off by default because it sends each key to its provider.
    if args.verify {
        super::verify::verify_findings(&mut results.findings)?;
    }
    sort_findings(&mut results.findings);
    results.skipped.sort_by(|a, b| a.what.cmp(&b.what));

    let report = Report {
        findings: &results.findings,
        skipped: &results.skipped,
        scanned: results.scanned,
        unit,
        rules: setup.rules.rules(),
        show_secrets: args.show_secrets,
        verbose: args.verbose,
    };
    let format = match args.format {
        Format::Human => ReportFormat::Human,
        Format::Json => ReportFormat::Json,
        Format::Jsonl => ReportFormat::Jsonl,
        Format::Sarif => ReportFormat::Sarif,
    };
    write_report(ctx, &report, format, args.output.as_deref())?;

    if !results.failures.is_empty() {
        for failure in results.failures.iter().take(5) {
            eprintln!("keywarden: warning: {failure}");
        }
        if results.findings.is_empty() {
            bail!(
                "{} object(s) could not be read, so the scan is incomplete (run `git fsck`)",
                results.failures.len()
            );
        }
    }
    Ok(if results.findings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// Writes the report to `--output FILE` or stdout (colour only on a terminal).
pub fn write_report(
    ctx: &Context,
    report: &Report<'_>,
    format: ReportFormat,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            let mut buffer = Vec::new();
            output::render(report, format, &mut buffer, false)?;
            std::fs::write(path, buffer)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let color = ctx.color_for(stdout.is_terminal());
            let mut lock = std::io::BufWriter::new(stdout.lock());
            output::render(report, format, &mut lock, color)?;
            lock.flush()?;
        }
    }
    Ok(())
}

fn sort_findings(findings: &mut [Finding]) {
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

fn progress_bar(visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} scanning history: {pos} blobs ({per_sec}) {elapsed}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn scan_history(
    repo: &git2::Repository,
    git_dir: &Path,
    setup: &ScanSetup,
    all_objects: bool,
    show_progress: bool,
) -> anyhow::Result<ScanResults> {
    let bar = progress_bar(show_progress);
    let collector = Collector::default();
    let read_failure: Mutex<Option<git::GitError>> = Mutex::new(None);
    // The walk (one thread) streams batches of blobs to the scanners (the rayon pool), so
    // listing history and scanning it overlap instead of adding up.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<BlobRef>>(64);
    let inventory = std::thread::scope(|scope| {
        let scanners = scope.spawn(|| {
            receiver.into_iter().par_bridge().for_each(|batch| {
                let visit = |blob: &BlobRef, read: BlobRead<'_>| {
                    bar.inc(1);
                    scan_blob(setup, &collector, blob, read);
                };
                if let Err(err) = git::read_blobs(
                    git_dir,
                    &batch,
                    |b: &BlobRef| b.oid,
                    setup.max_file_size,
                    &visit,
                ) {
                    read_failure
                        .lock()
                        .expect("failure lock")
                        .get_or_insert(err);
                }
            });
        });
        let inventory = git::history_inventory(repo, all_objects, &mut |batch| {
            // The receiver only stops early if a scanner panicked; the join reports that.
            let _ = sender.send(batch);
        });
        drop(sender);
        let joined = scanners.join();
        (inventory, joined)
    });
    let (inventory, joined) = inventory;
    if joined.is_err() {
        bail!("a scanner thread panicked");
    }
    let inventory = inventory?;
    if let Some(err) = read_failure.into_inner().expect("failure lock") {
        return Err(err.into());
    }
    bar.finish_and_clear();
    let mut results = collector.into_results();
    results
        .findings
        .extend(scan_messages(setup, &inventory.messages));
    Ok(results)
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

fn scan_messages(setup: &ScanSetup, messages: &[MessageRef]) -> Vec<Finding> {
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
