//! Rendering: the human report, JSON and JSON lines, SARIF 2.1.0, diffs, colour, and where the
//! report goes. Secrets leave here redacted unless the report says `show_secrets`.

pub mod diff;
pub mod hook;
pub mod human;
pub mod json;
pub mod keys;
pub mod progress;
pub mod rotate;
pub mod sarif;
pub mod style;
pub mod ui;

use crate::core::rules::Rule;
use crate::core::scan::{Finding, Skipped};
use std::io::Write;

/// Everything a scan report shows.
pub struct Report<'a> {
    pub findings: &'a [Finding],
    pub skipped: &'a [Skipped],
    /// How many files or blobs were scanned, and which of the two.
    pub scanned: usize,
    pub unit: &'a str,
    /// The rules that ran (SARIF lists them).
    pub rules: &'a [Rule],
    pub show_secrets: bool,
    /// List every skipped file in the human report, not just the counts.
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Human,
    Json,
    Jsonl,
    Sarif,
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
    }
}
