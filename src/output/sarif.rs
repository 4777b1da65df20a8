//! SARIF 2.1.0, as GitHub code scanning accepts it: one run, the rules that ran, one
//! result per finding with a redacted message and a stable partial fingerprint.

use super::Report;
use serde_json::{json, Value};
use std::io::Write;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn render(report: &Report<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "name": rule.id,
                "shortDescription": {"text": rule.description},
                "fullDescription": {"text": format!("{} ({} credential committed to the repository)", rule.description, rule.provider)},
                "defaultConfiguration": {"level": "error"},
                "help": {
                    "text": "Remove the key from the repository, load it from the environment or a secret store, and revoke it if it was ever pushed.",
                },
                "properties": {"tags": ["security", "secret", rule.provider], "security-severity": "9.0"},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let rule_index = report.rules.iter().position(|r| *r.id == *finding.rule_id);
            let key = if report.show_secrets { finding.secret.expose().to_string() } else { finding.redacted() };
            let location = match &finding.path {
                Some(path) => json!({
                    "physicalLocation": {
                        "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
                        "region": {
                            "startLine": finding.line,
                            "startColumn": finding.column,
                        },
                    }
                }),
                None => json!({
                    "logicalLocations": [{
                        "name": format!("message of {}", finding.commit.as_deref().unwrap_or("an unknown object")),
                        "kind": "object",
                    }]
                }),
            };
            let mut result = json!({
                "ruleId": &*finding.rule_id,
                "level": "error",
                "message": {"text": format!("{} found: {}", finding.description, key)},
                "locations": [location],
                "partialFingerprints": {"keywarden/v1": finding.fingerprint()},
            });
            if let Some(index) = rule_index {
                result["ruleIndex"] = json!(index);
            }
            if let Some(commit) = &finding.commit {
                result["properties"] = json!({"commit": commit});
            }
            result
        })
        .collect();
    let document = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "keywarden",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The scanned root"}}},
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}
