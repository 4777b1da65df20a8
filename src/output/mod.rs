//! Rendering: the human report, JSON and JSON lines, SARIF 2.1.0, GitLab's secret-detection
//! report, diffs, colour, and where the report goes. Secrets leave here redacted unless the
//! report says `show_secrets`.

pub mod diff;
pub mod gitlab;
pub mod hook;
pub mod human;
pub mod incident;
pub mod install;
pub mod json;
pub mod keys;
pub mod progress;
pub mod purge;
pub mod rotate;
pub mod sarif;
pub mod status;
pub mod style;
pub mod text;
pub mod ui;

use crate::core::rules::Rule;
use crate::core::scan::{Finding, Skipped};
use crate::ops::scan::Unit;
use chrono::{DateTime, Utc};
use std::io::Write;

/// Standard output for what a person reads: after `keywarden -C DIR …` every command it
/// suggests carries `-C DIR` too (`core::shell::localize`). Machine formats (JSON, SARIF)
/// are written as they are.
pub fn stdout() -> crate::core::shell::Localized<std::io::StdoutLock<'static>> {
    crate::core::shell::Localized::new(std::io::stdout().lock())
}

/// `println!` for what a person reads, by the rule of `stdout()`.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", $crate::core::shell::localize(&format!($($arg)*)))
    };
}
pub(crate) use say;

/// `print!` by the same rule.
macro_rules! say_partly {
    ($($arg:tt)*) => {
        print!("{}", $crate::core::shell::localize(&format!($($arg)*)))
    };
}
pub(crate) use say_partly;

/// A writer that never fails: once refs start moving a purge must run to the end, whatever
/// happens to whoever reads its report (a closed stdout, `| head`).
pub struct Lenient<W: Write>(pub W);

impl<W: Write> Write for Lenient<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// Everything a scan report shows.
pub struct Report<'a> {
    pub findings: &'a [Finding],
    pub skipped: &'a [Skipped],
    /// How many files or blobs were scanned, and which of the two.
    pub scanned: usize,
    pub unit: Unit,
    /// The rules that ran (SARIF lists them).
    pub rules: &'a [Rule],
    pub show_secrets: bool,
    /// List every skipped file in the human report, not just the counts.
    pub verbose: bool,
    /// How many findings the baseline hid.
    pub hidden_by_baseline: usize,
    /// Objects that could not be read (the scan is incomplete), redacted.
    pub failures: &'a [String],
    /// The commit a finding without one is reported against (GitLab's report needs one):
    /// the repository's `HEAD`, when there is one.
    pub head: Option<String>,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Human,
    Json,
    Jsonl,
    Sarif,
    Gitlab,
}

pub fn render(
    report: &Report<'_>,
    format: ReportFormat,
    out: &mut dyn Write,
    color: bool,
) -> std::io::Result<()> {
    match format {
        ReportFormat::Human => human::render(report, out, &style::Style::new(color)),
        ReportFormat::Json => json::render_json(report, out),
        ReportFormat::Jsonl => json::render_jsonl(report, out),
        ReportFormat::Sarif => sarif::render(report, out),
        ReportFormat::Gitlab => gitlab::render(report, out),
    }
}

/// Where a finding that is not in a file lives, as the path-like name SARIF and GitLab's
/// report need: `commit/<id>` for a commit or tag message, `ref/<name>` (redacted) for a
/// ref's name. `None` for a finding in a file.
pub fn place_outside_files(finding: &Finding) -> Option<String> {
    if finding.path.is_some() {
        return None;
    }
    Some(match (&finding.ref_name, &finding.commit) {
        (Some(name), _) => format!("ref/{name}"),
        (None, Some(commit)) => format!("commit/{commit}"),
        (None, None) => "unknown".to_string(),
    })
}

/// The line and column just past the key (1-based; a private key spans lines).
pub fn end_of(finding: &Finding) -> (usize, usize) {
    let secret = finding.secret.expose();
    match secret.rfind('\n') {
        Some(last) => (
            finding.line + secret.matches('\n').count(),
            secret[last + 1..].chars().count() + 1,
        ),
        None => (finding.line, finding.column + secret.chars().count()),
    }
}
