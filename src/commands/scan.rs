//! `keywarden scan`: turns the flags into a scan source and settings (for `--ci`, the
//! commits the CI run brings), runs `ops::scan`, applies the baseline, verifies on
//! request, and renders the report.

use super::{Context, Outcome};
use crate::cli::{Format, ScanArgs};
use crate::core::ci::{self, CommitsToScan};
use crate::core::git;
use crate::core::scan::baseline::Baseline;
use crate::ops::scan::{ScanResults, ScanSetup, Source};
use crate::ops::{self, Reporter};
use crate::output::progress::Bars;
use crate::output::text::plural;
use crate::output::{self, Report, ReportFormat};
use anyhow::{bail, Context as _};
use std::io::Write;
use std::path::{Path, PathBuf};

impl From<Format> for ReportFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Human => ReportFormat::Human,
            Format::Json => ReportFormat::Json,
            Format::Jsonl => ReportFormat::Jsonl,
            Format::Sarif => ReportFormat::Sarif,
            Format::Gitlab => ReportFormat::Gitlab,
        }
    }
}

/// The flag that makes this a scan of a repository's git data rather than of files.
fn repository_flag(args: &ScanArgs) -> Option<&'static str> {
    if args.ci {
        Some("--ci")
    } else if args.all_objects {
        Some("--all-objects")
    } else if args.history {
        Some("--history")
    } else if args.range.is_some() {
        Some("--range")
    } else if args.staged {
        Some("--staged")
    } else {
        None
    }
}

pub fn run(ctx: &Context, args: ScanArgs) -> anyhow::Result<Outcome> {
    let started = ctx.clock.now();
    let cwd = &ctx.cwd;
    let flag = repository_flag(&args);
    // `scan --history PATH` names the repository (as `gitleaks git PATH` does); a plain
    // `scan PATH…` names the files to scan.
    let repo = match (flag, args.paths.as_slice()) {
        (Some(_), []) => Some(git::open(cwd)?),
        (Some(_), [path]) => Some(git::open(&cwd.join(path))?),
        (Some(flag), more) => bail!(
            "{flag} scans one repository: give one PATH (the repository), not {}",
            more.len()
        ),
        (None, _) => git::open(cwd).ok(),
    };
    let root = repo
        .as_ref()
        .map(git::root_dir)
        .unwrap_or_else(|| cwd.clone());
    if flag.is_some() && !args.paths.is_empty() {
        // What it suggests is for that repository, wherever it was typed.
        crate::core::shell::suggest_from(&root);
    }
    let config = ctx.load_config(&root)?;
    let setup = ScanSetup::new(
        &config,
        &args.rules,
        &args.disabled_rules,
        args.max_file_size,
    )?;
    let source = choose_source(ctx, &args, repo.as_ref())?;

    let bars = Bars::new(ctx.ui.stderr_is_terminal(), false);
    let mut results = match &source {
        Some(source) => ops::scan::scan(repo.as_ref(), &root, source, &setup, &bars)?,
        None => ScanResults::default(),
    };
    bars.end_phase();

    if let Some(path) = &args.write_baseline {
        let baseline = Baseline::from_findings(&results.findings);
        std::fs::write(path, baseline.to_json())
            .with_context(|| format!("cannot write baseline {}", path.display()))?;
        ctx.ui.status(&format!(
            "wrote {} to {}",
            plural(baseline.entries.len(), "baseline entry", "baseline entries"),
            path.display()
        ));
        return Ok(Outcome::Clean);
    }
    let hidden_by_baseline = match &args.baseline {
        Some(path) => results.apply_baseline(&Baseline::load(path)?),
        None => 0,
    };
    // Off by default because it sends each key to its provider.
    if args.verify {
        ops::verify::verify_findings(&mut results.findings, &ctx.providers()?, &ctx.ui);
    }
    results.sort();

    let unit = source.as_ref().map_or(ops::scan::Unit::Blobs, Source::unit);
    let report = Report {
        findings: &results.findings,
        skipped: &results.skipped,
        scanned: results.scanned,
        unit,
        rules: setup.rules.rules(),
        show_secrets: args.show_secrets,
        verbose: args.verbose,
        hidden_by_baseline,
        failures: &results.failures,
        head: repo
            .as_ref()
            .and_then(|r| r.head().ok()?.target())
            .map(|oid| oid.to_string()),
        started,
        finished: ctx.clock.now(),
    };
    let format = args.format.into();
    write_report(ctx, &report, format, args.output.as_deref())?;
    // In CI the job log should show the findings too, whatever file the report went to.
    if args.ci && args.output.is_some() && format != ReportFormat::Human {
        write_report(ctx, &report, ReportFormat::Human, None)?;
    }

    if !results.failures.is_empty() {
        for failure in results.failures.iter().take(5) {
            ctx.ui.warn(failure);
        }
        let incomplete = incomplete_scan(repo.as_ref(), results.failures.len());
        // Findings are reported with the warning; without any, "no keys" would not be true.
        if results.findings.is_empty() {
            bail!(incomplete);
        }
        ctx.ui.warn(&incomplete);
    }
    Ok(if results.findings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// Why a scan with `unread` unreadable objects is incomplete, and what to do about it.
fn incomplete_scan(repo: Option<&git2::Repository>, unread: usize) -> String {
    let unread = plural(unread, "object", "objects");
    // A partial clone lacks what it never fetched; fsck would find nothing wrong.
    match repo.and_then(|r| Some((r, git::promisor_remotes(r).into_iter().next()?))) {
        Some((repo, remote)) => format!(
            "{unread} could not be read, so the scan is incomplete: this is a partial clone, and {remote} still holds what was never fetched; fetch it with `git -C {} fetch --refetch --no-filter {}`, then scan again",
            crate::core::shell::path(&git::root_dir(repo)),
            crate::core::shell::word(&remote)
        ),
        None => format!("{unread} could not be read, so the scan is incomplete (run `git fsck`)"),
    }
}

/// What to scan; `None` when a CI run brings nothing (a push that deleted a branch).
fn choose_source(
    ctx: &Context,
    args: &ScanArgs,
    repo: Option<&git2::Repository>,
) -> anyhow::Result<Option<Source>> {
    if args.ci {
        let repo = repo.context("--ci needs a git repository")?;
        return ci_source(ctx, args, repo);
    }
    Ok(Some(if args.history || args.all_objects {
        Source::History {
            all_objects: args.all_objects,
        }
    } else if let Some(spec) = &args.range {
        Source::Range(spec.clone())
    } else if args.staged {
        Source::Staged
    } else {
        let cwd = &ctx.cwd;
        Source::Worktree {
            // Absolute, so that every path is shown relative to the repository root.
            paths: if args.paths.is_empty() {
                vec![cwd.clone()]
            } else {
                args.paths
                    .iter()
                    .map(|p| cwd.join(p))
                    .collect::<Vec<PathBuf>>()
            },
            respect_ignore: !args.no_ignore,
        }
    }))
}

/// `--ci`: the range given, else the commits the CI run brings.
fn ci_source(
    ctx: &Context,
    args: &ScanArgs,
    repo: &git2::Repository,
) -> anyhow::Result<Option<Source>> {
    if let Some(spec) = &args.range {
        return Ok(Some(Source::Range(spec.clone())));
    }
    let Some(run) = ci::detect(&ctx.env).context("--ci")? else {
        bail!(
            "--ci: no known CI found (neither GITHUB_ACTIONS nor GITLAB_CI is `true`): give the commits to scan with `--range A..B`"
        );
    };
    let short = |id: &str| id[..id.len().min(10)].to_string();
    let what = match &run.commits {
        CommitsToScan::Range { base, head } => {
            format!("the commits {}..{}", short(base), short(head))
        }
        CommitsToScan::Everything { head } => {
            format!("all history of {} (a first push)", short(head))
        }
        CommitsToScan::Nothing => "nothing (the push deleted a ref)".to_string(),
    };
    ctx.ui.status(&format!(
        "{} {}: scanning {what}",
        run.system.name(),
        run.event
    ));
    ops::scan::ci_source(repo, &run.commits)
}

/// Writes the report to `--output FILE` or stdout (colour only on a terminal).
fn write_report(
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
            let color = ctx.ui.out_style().enabled();
            // Suggested commands get `-C` for a person; machine formats stay as they are.
            let stdout: Box<dyn Write> = if format == ReportFormat::Human {
                Box::new(output::stdout())
            } else {
                Box::new(std::io::stdout().lock())
            };
            let mut out = std::io::BufWriter::new(stdout);
            output::render(report, format, &mut out, color)?;
            out.flush()?;
        }
    }
    Ok(())
}
