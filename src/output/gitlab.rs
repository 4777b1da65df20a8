//! GitLab's secret-detection report (`gl-secret-detection-report.json`, the
//! security-report-schemas format, version `SCHEMA_VERSION`), which GitLab shows in
//! merge-request widgets and the vulnerability report. Keys appear only redacted — never
//! in `raw_source_code_extract`, which GitLab shows to everyone who can read the pipeline.

use super::{end_of, place_outside_files, Report};
use crate::core::scan::Finding;
use crate::core::secret::fingerprint_parts;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::io::Write;

/// The schema version the report declares; GitLab validates the report against it.
pub const SCHEMA_VERSION: &str = "15.2.1";

/// What GitLab's own analyzer records when a finding has no commit.
const NO_COMMIT: &str = "0000000";

pub fn render(report: &Report<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let tool = json!({
        "id": "keywarden",
        "name": "keywarden",
        "version": env!("CARGO_PKG_VERSION"),
        "vendor": {"name": "keywarden"},
    });
    let vulnerabilities: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| vulnerability(report, finding))
        .collect();
    let messages: Vec<Value> = report
        .failures
        .iter()
        .map(|failure| json!({"level": "warn", "value": failure}))
        .collect();
    let mut scan = json!({
        "analyzer": tool,
        "scanner": tool,
        "type": "secret_detection",
        "status": if report.failures.is_empty() { "success" } else { "failure" },
        "start_time": gitlab_time(report.started),
        "end_time": gitlab_time(report.finished),
    });
    if !messages.is_empty() {
        scan["messages"] = json!(messages);
    }
    let document = json!({
        "version": SCHEMA_VERSION,
        "schema": format!("https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v{SCHEMA_VERSION}/dist/secret-detection-report-format.json"),
        "scan": scan,
        "vulnerabilities": vulnerabilities,
    });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}

fn vulnerability(report: &Report<'_>, finding: &Finding) -> Value {
    let file = finding
        .path
        .clone()
        .or_else(|| place_outside_files(finding))
        .unwrap_or_default();
    let commit = finding
        .commit
        .clone()
        .or_else(|| report.head.clone())
        .unwrap_or_else(|| NO_COMMIT.to_string());
    let key = if report.show_secrets {
        finding.secret.expose().to_string()
    } else {
        finding.redacted()
    };
    let where_found = match (&finding.path, &finding.ref_name) {
        (Some(path), _) => format!("{path}, line {}", finding.line),
        (None, Some(name)) => format!("the name of the ref {name}"),
        (None, None) => format!("the message of commit {commit}"),
    };
    let (end_line, _) = end_of(finding);
    let id = fingerprint_parts(&[
        &finding.rule_id,
        &file,
        &commit,
        &finding.line.to_string(),
        &finding.column.to_string(),
        finding.secret.expose(),
    ]);
    json!({
        "id": uuid_shaped(&id),
        "category": "secret_detection",
        "name": &*finding.description,
        "description": format!(
            "{} (provider: {}) found in {where_found}: {key}. Anyone who can read the repository can use it: revoke it at the provider, then remove it from the code and from the history (`keywarden purge`).",
            finding.description, finding.provider
        ),
        "severity": "Critical",
        "location": {
            "file": file,
            "commit": {"sha": commit},
            "start_line": finding.line,
            "end_line": end_line,
        },
        "identifiers": [{
            "type": "keywarden_rule_id",
            "name": format!("keywarden rule {}", finding.rule_id),
            "value": &*finding.rule_id,
        }],
    })
}

/// GitLab's time format: UTC, to the second, no zone (`2020-01-28T03:26:02`).
fn gitlab_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A stable id in the UUID layout GitLab recommends, from a `sha256:` fingerprint.
fn uuid_shaped(fingerprint: &str) -> String {
    let hex = fingerprint.trim_start_matches("sha256:");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_gitlab_s_format() {
        let time = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(gitlab_time(time), "2026-01-02T03:04:05");
    }

    #[test]
    fn ids_look_like_uuids() {
        let id = uuid_shaped(&fingerprint_parts(&["a", "b"]));
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
    }
}
