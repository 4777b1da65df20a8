//! JSON (one document) and JSON lines (one finding per line, the schema in DESIGN.md).

use super::Report;
use crate::core::scan::Finding;
use serde_json::{json, Map, Value};
use std::io::Write;

/// A finding as the JSON formats show it.
pub fn finding_value(finding: &Finding, show_secrets: bool) -> Value {
    let mut object = Map::new();
    object.insert("rule_id".into(), json!(&*finding.rule_id));
    object.insert("provider".into(), json!(&*finding.provider));
    object.insert("path".into(), json!(finding.path));
    object.insert("line".into(), json!(finding.line));
    object.insert("column".into(), json!(finding.column));
    object.insert("commit".into(), json!(finding.commit));
    if let Some(name) = &finding.ref_name {
        object.insert("location".into(), json!("ref name"));
        object.insert("ref".into(), json!(name));
    }
    object.insert("redacted".into(), json!(finding.redacted()));
    object.insert("fingerprint".into(), json!(finding.fingerprint()));
    object.insert("confidence".into(), json!(finding.confidence.as_str()));
    if show_secrets {
        object.insert("secret".into(), json!(finding.secret.expose()));
    }
    if let Some(verified) = finding.verified {
        object.insert("verified".into(), json!(verified.as_str()));
    }
    Value::Object(object)
}

pub fn render_jsonl(report: &Report<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    for finding in report.findings {
        serde_json::to_writer(&mut *out, &finding_value(finding, report.show_secrets))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

pub fn render_json(report: &Report<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| finding_value(f, report.show_secrets))
        .collect();
    let skipped: Vec<Value> = report
        .skipped
        .iter()
        .map(|s| json!({"path": s.what, "reason": s.reason.describe()}))
        .collect();
    let document = json!({
        "findings": findings,
        "skipped": skipped,
        "summary": {
            "findings": report.findings.len(),
            "scanned": report.scanned,
            "unit": report.unit.many(),
            "hidden_by_baseline": report.hidden_by_baseline,
        },
    });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}
