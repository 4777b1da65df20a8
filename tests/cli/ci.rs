//! `scan --ci` in fake GitHub Actions and GitLab CI environments (variables and event
//! payloads written by the test), and the reports those systems read: SARIF for GitHub code
//! scanning, GitLab's secret-detection report.

use crate::support::{keys, Sandbox};
use serde_json::Value;

const ZEROS: &str = "0000000000000000000000000000000000000000";

/// A repository whose first commit holds one key and whose second commit adds another:
/// returns (base commit, head commit, key of the base, key added by head).
fn two_commits(sb: &Sandbox) -> (String, String, String, String) {
    let old = keys::github_pat();
    sb.write("old.env.sample", format!("TOKEN={old}\n"));
    let base = sb.commit_all("base");
    let new = keys::stripe_live();
    sb.write("billing.py", format!("STRIPE = '{new}'\n"));
    let head = sb.commit_all("add billing");
    (base, head, old, new)
}

/// The environment of a GitHub Actions job for `event` whose payload is `payload`.
fn github_env(sb: &Sandbox, event: &str, payload: &Value, sha: &str) -> Vec<(String, String)> {
    let path = sb.root().join("event.json");
    std::fs::write(&path, payload.to_string()).expect("write the event payload");
    vec![
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_EVENT_NAME".into(), event.into()),
        (
            "GITHUB_EVENT_PATH".into(),
            path.to_string_lossy().into_owned(),
        ),
        ("GITHUB_SHA".into(), sha.into()),
    ]
}

fn run_with(sb: &Sandbox, args: &[&str], env: &[(String, String)]) -> crate::support::run::Run {
    let mut run = sb.run(args);
    for (key, value) in env {
        run = run.env(key, value);
    }
    run
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written"))
        .expect("the report is JSON")
}

#[test]
fn github_push_scans_exactly_the_pushed_commits_and_writes_sarif() {
    let sb = Sandbox::new();
    let (base, head, old, new) = two_commits(&sb);
    let env = github_env(
        &sb,
        "push",
        &serde_json::json!({"before": base, "after": head}),
        &head,
    );
    let ran = run_with(
        &sb,
        &[
            "scan",
            "--ci",
            "--format",
            "sarif",
            "--output",
            "keywarden.sarif",
        ],
        &env,
    )
    .code(1)
    .stderr_has(&format!(
        "GitHub Actions push: scanning the commits {}..{}",
        &base[..10],
        &head[..10]
    ))
    // The job log shows the findings too.
    .stdout_has("billing.py")
    .hides("old.env.sample")
    .no_secret(&new);
    drop(ran);
    let sarif = read_json(&sb.path("keywarden.sarif"));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["ruleId"], "stripe-secret-key");
    assert_eq!(results[0]["properties"]["commit"], head.as_str());
    assert!(!sarif.to_string().contains(&new) && !sarif.to_string().contains(&old));
}

#[test]
fn github_first_push_scans_the_whole_history() {
    let sb = Sandbox::new();
    let (_, head, _, _) = two_commits(&sb);
    let env = github_env(
        &sb,
        "push",
        &serde_json::json!({"before": ZEROS, "after": head}),
        &head,
    );
    run_with(&sb, &["scan", "--ci"], &env)
        .code(1)
        .stderr_has("scanning all history of")
        .stdout_has("old.env.sample")
        .stdout_has("billing.py");
}

#[test]
fn github_pull_request_scans_base_to_head() {
    let sb = Sandbox::new();
    let (base, head, _, _) = two_commits(&sb);
    let env = github_env(
        &sb,
        "pull_request",
        &serde_json::json!({"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}),
        &head,
    );
    run_with(&sb, &["scan", "--ci", "--format", "jsonl"], &env)
        .code(1)
        .stdout_has("\"path\":\"billing.py\"")
        .hides("old.env.sample");
    // A pull request that adds nothing secret passes.
    let env = github_env(
        &sb,
        "pull_request",
        &serde_json::json!({"pull_request": {"base": {"sha": head}, "head": {"sha": head}}}),
        &head,
    );
    run_with(&sb, &["scan", "--ci"], &env)
        .success()
        .stdout_has("no keys found");
}

#[test]
fn github_push_deleting_a_branch_scans_nothing_and_passes() {
    let sb = Sandbox::new();
    let (base, head, _, _) = two_commits(&sb);
    let env = github_env(
        &sb,
        "push",
        &serde_json::json!({"before": base, "after": ZEROS}),
        &head,
    );
    run_with(&sb, &["scan", "--ci"], &env)
        .success()
        .stderr_has("scanning nothing (the push deleted a ref)");
}

#[test]
fn commits_missing_from_a_shallow_clone_are_an_error() {
    let sb = Sandbox::new();
    let (_, head, _, _) = two_commits(&sb);
    let unknown = "1234567890".repeat(4);
    let env = github_env(
        &sb,
        "push",
        &serde_json::json!({"before": unknown, "after": head}),
        &head,
    );
    run_with(&sb, &["scan", "--ci"], &env)
        .code(2)
        .stderr_has(&format!("commit {unknown} is not in this clone"))
        .stderr_has("fetch-depth: 0");
}

#[test]
fn a_broken_event_payload_is_a_one_line_error() {
    let sb = Sandbox::new();
    let (_, head, _, _) = two_commits(&sb);
    let mut env = github_env(&sb, "push", &serde_json::json!({}), &head);
    std::fs::write(sb.root().join("event.json"), "{ not json").expect("write");
    run_with(&sb, &["scan", "--ci"], &env)
        .code(2)
        .one_line_error("event.json is not JSON");
    env.retain(|(k, _)| k != "GITHUB_EVENT_PATH");
    run_with(&sb, &["scan", "--ci"], &env)
        .code(2)
        .one_line_error("GITHUB_EVENT_PATH is not set");
}

#[test]
fn gitlab_merge_request_writes_the_secret_detection_report() {
    let sb = Sandbox::new();
    let (base, head, old, new) = two_commits(&sb);
    let env: Vec<(String, String)> = vec![
        ("GITLAB_CI".into(), "true".into()),
        ("CI_PIPELINE_SOURCE".into(), "merge_request_event".into()),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA".into(), base.clone()),
        ("CI_COMMIT_SHA".into(), head.clone()),
        ("CI_COMMIT_BEFORE_SHA".into(), ZEROS.into()),
    ];
    run_with(
        &sb,
        &[
            "scan",
            "--ci",
            "--format",
            "gitlab",
            "--output",
            "gl-secret-detection-report.json",
        ],
        &env,
    )
    .env("KEYWARDEN_NOW", "2026-03-04T05:06:07Z")
    .code(1)
    .stderr_has("GitLab CI merge_request_event: scanning the commits")
    .stdout_has("billing.py")
    .no_secret(&new);
    let report = read_json(&sb.path("gl-secret-detection-report.json"));
    assert_valid_gitlab_report(&report);
    let vulnerabilities = report["vulnerabilities"].as_array().expect("array");
    assert_eq!(vulnerabilities.len(), 1, "{vulnerabilities:?}");
    let v = &vulnerabilities[0];
    assert_eq!(v["location"]["file"], "billing.py");
    assert_eq!(v["location"]["commit"]["sha"], head.as_str());
    assert_eq!(v["location"]["start_line"], 1);
    assert_eq!(v["identifiers"][0]["value"], "stripe-secret-key");
    assert_eq!(report["scan"]["start_time"], "2026-03-04T05:06:07");
    let text = report.to_string();
    assert!(!text.contains(&new) && !text.contains(&old));
}

#[test]
fn gitlab_push_scans_before_to_commit() {
    let sb = Sandbox::new();
    let (base, head, _, _) = two_commits(&sb);
    sb.run(["scan", "--ci", "--format", "jsonl"])
        .env("GITLAB_CI", "true")
        .env("CI_COMMIT_SHA", &head)
        .env("CI_COMMIT_BEFORE_SHA", &base)
        .code(1)
        .stderr_has("GitLab CI push: scanning the commits")
        .stdout_has("billing.py")
        .hides("old.env.sample");
}

#[test]
fn outside_a_known_ci_ci_needs_a_range() {
    let sb = Sandbox::new();
    let (base, head, _, _) = two_commits(&sb);
    sb.run(["scan", "--ci"])
        .code(2)
        .one_line_error("--ci: no known CI found (neither GITHUB_ACTIONS nor GITLAB_CI is `true`): give the commits to scan with `--range A..B`");
    sb.run(["scan", "--ci", "--range", &format!("{base}..{head}")])
        .code(1)
        .stdout_has("billing.py")
        .hides("old.env.sample");
}

#[test]
fn a_clean_working_tree_scan_is_a_valid_empty_gitlab_report() {
    let sb = Sandbox::new();
    sb.write("README.md", "nothing secret\n");
    let head = sb.commit_all("readme");
    let out = sb.run(["scan", "--format", "gitlab"]).success();
    let report: Value = serde_json::from_str(&out.stdout()).expect("JSON");
    assert_valid_gitlab_report(&report);
    assert_eq!(report["scan"]["status"], "success");
    assert_eq!(report["vulnerabilities"], serde_json::json!([]));
    // A working-tree finding is reported against HEAD.
    let key = keys::github_pat();
    sb.write("token.txt", &key);
    let out = sb
        .run(["scan", "--format", "gitlab"])
        .code(1)
        .no_secret(&key);
    let report: Value = serde_json::from_str(&out.stdout()).expect("JSON");
    assert_valid_gitlab_report(&report);
    assert_eq!(
        report["vulnerabilities"][0]["location"]["commit"]["sha"],
        head.as_str()
    );
}

#[test]
fn sarif_places_keys_in_commit_messages_at_a_physical_location() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    let key = keys::huggingface();
    let commit = sb.commit_all(&format!("debug\n\ntoken {key}"));
    let out = sb
        .run(["scan", "--history", "--format", "sarif"])
        .code(1)
        .no_secret(&key);
    let sarif: Value = serde_json::from_str(&out.stdout()).expect("JSON");
    assert_valid_sarif_for_github(&sarif);
    let result = &sarif["runs"][0]["results"][0];
    let physical = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        physical["artifactLocation"]["uri"],
        format!("commit/{commit}")
    );
    assert_eq!(physical["region"]["startLine"], 3);
    assert_eq!(physical["region"]["startColumn"], 7);
    assert_eq!(
        physical["region"]["endColumn"].as_u64(),
        Some(7 + key.len() as u64)
    );
    assert!(result["message"]["text"]
        .as_str()
        .expect("text")
        .contains("in a commit message"));
}

#[test]
fn sarif_file_results_meet_github_s_required_properties() {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    sb.write("my app/.env", format!("OPENAI_API_KEY={key}\n"));
    let out = sb.run(["scan", "--format", "sarif"]).code(1);
    let sarif: Value = serde_json::from_str(&out.stdout()).expect("JSON");
    assert_valid_sarif_for_github(&sarif);
    let result = &sarif["runs"][0]["results"][0];
    let physical = &result["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], "my%20app/.env");
    assert_eq!(physical["region"]["endLine"], 1);
    // The same key in the same place keeps its fingerprint when its line moves.
    let hash = result["partialFingerprints"]["primaryLocationLineHash"].clone();
    sb.write("my app/.env", format!("# moved\n\nOPENAI_API_KEY={key}\n"));
    let out = sb.run(["scan", "--format", "sarif"]).code(1);
    let moved: Value = serde_json::from_str(&out.stdout()).expect("JSON");
    assert_eq!(
        moved["runs"][0]["results"][0]["partialFingerprints"]["primaryLocationLineHash"],
        hash
    );
}

/// The properties GitHub's "SARIF support for code scanning" marks as required, and the
/// shapes SARIF 2.1.0 gives them.
fn assert_valid_sarif_for_github(sarif: &Value) {
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"]
        .as_str()
        .is_some_and(|s| s.contains("sarif-2.1.0")));
    let run = &sarif["runs"][0];
    assert!(run["tool"]["driver"]["name"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    for rule in rules {
        assert!(rule["id"].as_str().is_some_and(|v| !v.is_empty()), "{rule}");
        for field in ["shortDescription", "fullDescription"] {
            assert!(
                rule[field]["text"].as_str().is_some_and(|v| !v.is_empty()),
                "{rule}"
            );
        }
    }
    for result in run["results"].as_array().expect("results") {
        assert!(result["ruleId"].as_str().is_some_and(|v| !v.is_empty()));
        assert!(result["message"]["text"]
            .as_str()
            .is_some_and(|v| !v.is_empty()));
        let locations = result["locations"].as_array().expect("locations");
        assert!((1..=10).contains(&locations.len()));
        let physical = &locations[0]["physicalLocation"];
        let uri = physical["artifactLocation"]["uri"].as_str().expect("uri");
        assert!(!uri.is_empty());
        assert!(
            uri.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)),
            "not a URI reference: {uri}"
        );
        let region = &physical["region"];
        for field in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(region[field].as_u64().is_some_and(|n| n >= 1), "{region}");
        }
        assert!(result["partialFingerprints"]["primaryLocationLineHash"]
            .as_str()
            .is_some_and(|v| !v.is_empty()));
        if let Some(index) = result["ruleIndex"].as_u64() {
            assert_eq!(rules[index as usize]["id"], result["ruleId"]);
        }
    }
}

/// The required fields and formats of GitLab's secret-detection report schema
/// (security-report-schemas, `dist/secret-detection-report-format.json`).
fn assert_valid_gitlab_report(report: &Value) {
    let version = report["version"].as_str().expect("version");
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "{version}"
    );
    let scan = &report["scan"];
    for tool in ["analyzer", "scanner"] {
        for field in ["id", "name", "version"] {
            assert!(
                scan[tool][field].as_str().is_some_and(|v| !v.is_empty()),
                "{scan}"
            );
        }
        assert!(scan[tool]["vendor"]["name"]
            .as_str()
            .is_some_and(|v| !v.is_empty()));
    }
    assert_eq!(scan["type"], "secret_detection");
    assert!(matches!(
        scan["status"].as_str(),
        Some("success" | "failure")
    ));
    for time in ["start_time", "end_time"] {
        let text = scan[time].as_str().expect("time");
        assert!(
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").is_ok()
                && text.len() == 19,
            "{time} = {text}"
        );
    }
    for v in report["vulnerabilities"]
        .as_array()
        .expect("vulnerabilities")
    {
        assert!(v["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(v["category"], "secret_detection");
        assert!(v["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty() && n.len() <= 255));
        assert!(v["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(matches!(
            v["severity"].as_str(),
            Some("Info" | "Unknown" | "Low" | "Medium" | "High" | "Critical")
        ));
        assert!(v["location"]["file"]
            .as_str()
            .is_some_and(|f| !f.is_empty()));
        assert!(v["location"]["commit"]["sha"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        assert!(v["location"]["start_line"].as_u64().is_some());
        let identifiers = v["identifiers"].as_array().expect("identifiers");
        assert!(!identifiers.is_empty());
        for identifier in identifiers {
            for field in ["type", "name", "value"] {
                assert!(identifier[field].as_str().is_some_and(|s| !s.is_empty()));
            }
        }
    }
}
