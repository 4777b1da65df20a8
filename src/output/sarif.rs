//! SARIF 2.1.0, as GitHub code scanning accepts it: one run, the rules that ran, one
//! result per finding with a redacted message, a physical location GitHub can place (a
//! file and region; for a key in a commit message or a ref name the synthetic path
//! `commit/<id>` or `ref/<name>`), and partial fingerprints (`primaryLocationLineHash`,
//! the one GitHub uses, plus keywarden's own).

use super::{end_of, place_outside_files, Report};
use crate::core::scan::{Confidence, Finding};
use crate::core::secret::fingerprint_parts;
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
        .map(|finding| result(report, finding))
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

fn result(report: &Report<'_>, finding: &Finding) -> Value {
    let rule_index = report.rules.iter().position(|r| *r.id == *finding.rule_id);
    let key = if report.show_secrets {
        finding.secret.expose().to_string()
    } else {
        finding.redacted()
    };
    let (end_line, end_column) = end_of(finding);
    let region = json!({
        "startLine": finding.line,
        "startColumn": finding.column,
        "endLine": end_line,
        "endColumn": end_column,
    });
    let (location, place) = match (&finding.path, place_outside_files(finding)) {
        (Some(path), _) => (
            json!({
                "physicalLocation": {
                    "artifactLocation": {"uri": uri_path(path), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }),
            path.clone(),
        ),
        (None, place) => {
            let place = place.unwrap_or_default();
            let (what, kind) = match (&finding.ref_name, &finding.commit) {
                (Some(name), _) => (format!("the name of ref {name}"), "member"),
                (None, commit) => (
                    format!(
                        "the message of commit or tag {}",
                        commit.as_deref().unwrap_or("(unknown)")
                    ),
                    "object",
                ),
            };
            (
                json!({
                    // Not a file of the repository: GitHub shows the path and region with
                    // the alert, and the logical location says what it stands for.
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": uri_path(&place),
                            "description": {"text": what},
                        },
                        "region": region,
                    },
                    "logicalLocations": [{"name": what, "kind": kind}],
                }),
                place,
            )
        }
    };
    let where_found = match (&finding.path, &finding.ref_name) {
        (Some(_), _) => String::new(),
        (None, Some(_)) => " in a ref name".to_string(),
        (None, None) => " in a commit message".to_string(),
    };
    // Identity without the line, so an alert survives the key moving within its file.
    let line_hash = fingerprint_parts(&[&finding.rule_id, &place, finding.secret.expose()]);
    let line_hash = line_hash.trim_start_matches("sha256:");
    let mut result = json!({
        "ruleId": &*finding.rule_id,
        "level": match finding.confidence {
            Confidence::High => "error",
            Confidence::Low => "warning",
        },
        "message": {"text": format!("{} found{where_found}: {key}", finding.description)},
        "locations": [location],
        "partialFingerprints": {
            "primaryLocationLineHash": format!("{}:1", &line_hash[..16]),
            "keywarden/v1": finding.fingerprint(),
        },
    });
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    if let Some(commit) = &finding.commit {
        result["properties"] = json!({"commit": commit});
    }
    result
}

/// A relative path as a URI reference: every byte outside RFC 3986's unreserved set and
/// `/` percent-encoded (a redacted key has an `…`, paths can have spaces).
fn uri_path(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::uri_path;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri_path("src/app.py"), "src/app.py");
        assert_eq!(uri_path("my dir/a#b.txt"), "my%20dir/a%23b.txt");
        assert_eq!(uri_path("ref/x-ab…cd"), "ref/x-ab%E2%80%A6cd");
    }
}
