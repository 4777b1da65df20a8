//! The report for people: findings grouped by file, redacted keys, a one-line summary,
//! and notes for anything that was skipped.

use super::style::Style;
use super::text::plural;
use super::Report;
use crate::core::scan::{Finding, SkipReason};
use std::collections::BTreeMap;
use std::io::Write;

/// Where a finding lives, as a group heading.
pub fn location_heading(finding: &Finding) -> String {
    match (&finding.path, &finding.ref_name, &finding.commit) {
        (Some(path), _, _) => path.clone(),
        (None, Some(name), _) => format!("ref name {name}"),
        (None, None, Some(commit)) => format!("message of {}", short(commit)),
        (None, None, None) => "(unknown location)".to_string(),
    }
}

/// One finding as a choice in a menu ("which key?"): the redacted key, its rule, where it
/// is and in which commit.
pub fn finding_choice(finding: &Finding) -> String {
    let place = match &finding.path {
        Some(path) => format!("{path}:{}", finding.line),
        None => location_heading(finding),
    };
    let commit = finding
        .commit
        .as_deref()
        .map(|c| format!(", commit {}", short(c)))
        .unwrap_or_default();
    format!(
        "{} ({}, {place}{commit})",
        finding.redacted(),
        finding.rule_id
    )
}

pub fn short(oid: &str) -> &str {
    &oid[..oid.len().min(10)]
}

/// The key as the report shows it.
pub fn shown_key(finding: &Finding, show_secrets: bool) -> String {
    if show_secrets {
        finding.secret.expose().to_string()
    } else {
        finding.redacted()
    }
}

pub fn render(report: &Report<'_>, out: &mut dyn Write, style: &Style) -> std::io::Result<()> {
    let mut groups: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for finding in report.findings {
        groups
            .entry(location_heading(finding))
            .or_default()
            .push(finding);
    }
    for (heading, findings) in &groups {
        writeln!(out, "{}", style.bold(heading))?;
        let id_width = findings.iter().map(|f| f.rule_id.len()).max().unwrap_or(0);
        for finding in findings {
            let position = format!("{}:{}", finding.line, finding.column);
            let mut line = format!(
                "  {:<9} {}  {}  {}",
                position,
                style.red(&format!("{:<id_width$}", finding.rule_id)),
                style.yellow(&shown_key(finding, report.show_secrets)),
                style.dim(&finding.description),
            );
            if let Some(commit) = &finding.commit {
                if finding.path.is_some() {
                    line.push_str(&style.dim(&format!("  (commit {})", short(commit))));
                } else if finding.ref_name.is_some() {
                    line.push_str(&style.dim(&format!("  (the ref points to {})", short(commit))));
                }
            }
            if let Some(verified) = finding.verified {
                line.push_str(&format!("  [{}]", verified.as_str()));
            }
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
    }
    let mut counts = plural(report.scanned, report.unit.one(), report.unit.many()) + " scanned";
    if report.hidden_by_baseline > 0 {
        counts.push_str(&format!(
            ", {} hidden by the baseline",
            report.hidden_by_baseline
        ));
    }
    if report.findings.is_empty() {
        writeln!(out, "{} no keys found ({counts})", style.green("✓"))?;
    } else {
        let n = report.findings.len();
        writeln!(
            out,
            "{} {} found in {} ({counts})",
            style.red("✗"),
            plural(n, "key", "keys"),
            plural(groups.len(), "place", "places"),
        )?;
        writeln!(
            out,
            "{}",
            style.dim("  Move each key out of the code (into an untracked .env or the keyring) and rotate any key that was pushed."),
        )?;
        writeln!(
            out,
            "{}",
            style.dim("  Not a secret? Add `keywarden:allow` in a comment on its line, or record it with `keywarden scan --write-baseline FILE`."),
        )?;
        if report.findings.iter().any(|f| f.ref_name.is_some()) {
            // The full name is never printed, so the commands name no ref.
            writeln!(
                out,
                "{}",
                style.dim("  A key in a ref's name: revoke it, then rename the branch (`git branch -m`) or re-create the tag under a clean name, and delete the old name on every remote (`git push REMOTE --delete`)."),
            )?;
        }
    }
    render_skipped(report, out, style)
}

fn render_skipped(report: &Report<'_>, out: &mut dyn Write, style: &Style) -> std::io::Result<()> {
    if report.skipped.is_empty() {
        return Ok(());
    }
    let binary = report
        .skipped
        .iter()
        .filter(|s| s.reason == SkipReason::Binary)
        .count();
    let other: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| s.reason != SkipReason::Binary)
        .collect();
    let mut parts = Vec::new();
    if binary > 0 {
        parts.push(format!("{} (binary)", plural(binary, "file", "files")));
    }
    if !other.is_empty() {
        parts.push(format!(
            "{} (too large or unreadable)",
            plural(other.len(), "file", "files")
        ));
    }
    writeln!(out, "{} skipped {}", style.cyan("note:"), parts.join(", "))?;
    for skipped in report.skipped {
        if report.verbose || skipped.reason != SkipReason::Binary {
            writeln!(out, "  {}: {}", skipped.what, skipped.reason.describe())?;
        }
    }
    Ok(())
}
