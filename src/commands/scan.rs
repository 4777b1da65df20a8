//! `keywarden scan`: turns the flags into a scan source and settings, runs `ops::scan`,
//! applies the baseline, verifies on request, and renders the report.

use super::{Context, Outcome};
use crate::cli::{Format, ScanArgs};
use crate::core::git;
use crate::core::scan::baseline::Baseline;
use crate::ops::scan::{ScanSetup, Source};
use crate::ops::{self, Reporter};
use crate::output::progress::Bars;
use crate::output::text::plural;
use crate::output::{self, Report, ReportFormat};
use anyhow::{bail, Context as _};
use std::io::Write;
use std::path::Path;

impl From<Format> for ReportFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Human => ReportFormat::Human,
            Format::Json => ReportFormat::Json,
            Format::Jsonl => ReportFormat::Jsonl,
            Format::Sarif => ReportFormat::Sarif,
        }
    }
}

pub fn run(ctx: &Context, args: ScanArgs) -> anyhow::Result<Outcome> {
    let cwd = &ctx.cwd;
    let source = if args.history || args.all_objects {
        Source::History {
            all_objects: args.all_objects,
        }
    } else if let Some(spec) = &args.range {
        Source::Range(spec.clone())
    } else if args.staged {
        Source::Staged
    } else {
        Source::Worktree {
            // Absolute, so that every path is shown relative to the repository root.
            paths: if args.paths.is_empty() {
                vec![cwd.clone()]
            } else {
                args.paths.iter().map(|p| cwd.join(p)).collect()
            },
            respect_ignore: !args.no_ignore,
        }
    };
    let repo = match git::open(cwd) {
        Ok(repo) => Some(repo),
        Err(err) if source.needs_repository() => return Err(err.into()),
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

    let bars = Bars::new(ctx.ui.stderr_is_terminal(), false);
    let mut results = ops::scan::scan(repo.as_ref(), &root, &source, &setup, &bars)?;
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
    if let Some(path) = &args.baseline {
        results.apply_baseline(&Baseline::load(path)?);
    }
    // Off by default because it sends each key to its provider.
    if args.verify {
        ops::verify::verify_findings(&mut results.findings, &ctx.providers()?, &ctx.ui);
    }
    results.sort();

    let report = Report {
        findings: &results.findings,
        skipped: &results.skipped,
        scanned: results.scanned,
        unit: source.unit(),
        rules: setup.rules.rules(),
        show_secrets: args.show_secrets,
        verbose: args.verbose,
    };
    write_report(ctx, &report, args.format.into(), args.output.as_deref())?;

    if !results.failures.is_empty() {
        for failure in results.failures.iter().take(5) {
            ctx.ui.warn(failure);
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
            let stdout = std::io::stdout();
            let color = ctx.ui.out_style().enabled();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            output::render(report, format, &mut lock, color)?;
            lock.flush()?;
        }
    }
    Ok(())
}
