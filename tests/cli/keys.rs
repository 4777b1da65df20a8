//! `keywarden keys` and `keywarden run`, from the outside: keys in through stdin only,
//! the file-backed keyring (never the real one), the registry without the key, bad input
//! refused with one line and exit 2, and revocation against a mock provider.

use crate::support::mock_server::{MockServer, Reply, Request};
use crate::support::{keys, stderr, stdout, Sandbox};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn keyring_path(sb: &Sandbox) -> std::path::PathBuf {
    sb.root().join("home/keyring.ron")
}

fn registry_path(sb: &Sandbox) -> std::path::PathBuf {
    sb.root().join("home/.keywarden/registry.json")
}

fn bearer(req: &Request) -> Option<String> {
    req.header("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string)
}

/// A mock OpenAI that accepts exactly `live` on /v1/models.
fn openai_accepting(live: &str) -> MockServer {
    let live = live.to_string();
    MockServer::start(move |req| {
        if req.path() == "/v1/models" && bearer(req).as_deref() == Some(live.as_str()) {
            Reply::json(200, json!({"object": "list", "data": []}))
        } else {
            Reply::json(
                401,
                json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}),
            )
        }
    })
}

fn add(sb: &Sandbox, server: &MockServer, name: &str, provider: &str, key: &str) {
    sb.keywarden()
        .args(["keys", "add", name, "--provider", provider])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .write_stdin(format!("{key}\n"))
        .assert()
        .code(0);
}

/// Asserts a failure is exit 2 with one `keywarden: error:` line that does not hold `secret`.
/// A `$BROWSER` that writes the URL it is given to the returned file: (script, file).
fn fake_browser(sb: &Sandbox) -> (std::path::PathBuf, std::path::PathBuf) {
    let opened = sb.root().join("opened-url");
    let browser = sb.root().join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display()),
    )
    .expect("write browser script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    (browser, opened)
}

fn assert_one_line_error(out: &std::process::Output, secret: Option<&str>) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = stderr(out);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("keywarden: error: "), "{stderr}");
    if let Some(secret) = secret {
        assert!(!stderr.contains(secret), "the key leaked into stderr");
    }
    stderr
}

#[test]
fn add_verifies_stores_in_the_keyring_and_records_without_the_key() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = openai_accepting(&key);
    let out = sb
        .keywarden()
        .args([
            "keys",
            "add",
            "openai-prod",
            "--provider",
            "openai",
            "--used-in",
            ".env",
        ])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .write_stdin(format!("{key}\n"))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = stdout(&out);
    assert!(
        stdout.contains("openai-prod") && stdout.contains("live"),
        "{stdout}"
    );
    assert!(stdout.contains("OPENAI_API_KEY"), "{stdout}");
    assert!(!stdout.contains(&key));
    assert!(stderr(&out).contains("contacts the provider"));
    assert_eq!(server.count("GET", "/v1/models"), 1);

    let keyring = std::fs::read_to_string(keyring_path(&sb)).expect("keyring file");
    assert!(keyring.contains(&key), "the keyring holds the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keyring_path(&sb))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let registry = std::fs::read_to_string(registry_path(&sb)).expect("registry");
    assert!(!registry.contains(&key), "the registry never holds the key");
    let registry: serde_json::Value = serde_json::from_str(&registry).expect("json");
    let record = &registry["keys"][0];
    assert_eq!(record["name"], "openai-prod");
    assert_eq!(record["provider"], "openai");
    assert_eq!(record["env_var"], "OPENAI_API_KEY");
    // A location is the file's absolute path, the variable, and (outside a repository) no repo.
    assert_eq!(
        record["locations"][0]["path"],
        sb.repo().join(".env").to_string_lossy().as_ref()
    );
    assert_eq!(record["locations"][0]["var"], "OPENAI_API_KEY");
    assert!(record["fingerprint"]
        .as_str()
        .is_some_and(|f| f.starts_with("sha256:")));
}

#[test]
fn list_shows_redacted_keys_ages_and_places() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = openai_accepting(&key);
    sb.keywarden()
        .args([
            "keys",
            "add",
            "openai-prod",
            "--provider",
            "openai",
            "--used-in",
            "api/.env",
        ])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("KEYWARDEN_NOW", "2026-01-01T00:00:00Z")
        .write_stdin(key.clone())
        .assert()
        .code(0);
    let out = sb
        .keywarden()
        .args(["keys", "list"])
        .env("KEYWARDEN_NOW", "2026-01-31T12:00:00Z")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = stdout(&out);
    assert!(
        stdout.contains("NAME") && stdout.contains("USED IN"),
        "{stdout}"
    );
    assert!(stdout.contains("openai-prod"), "{stdout}");
    assert!(stdout.contains("30 days"), "{stdout}");
    assert!(stdout.contains("api/.env"), "{stdout}");
    assert!(
        stdout.contains(&keywarden::core::secret::redact(&key)),
        "{stdout}"
    );
    assert!(!stdout.contains(&key));

    let out = sb
        .keywarden()
        .args(["keys", "list", "--format", "json"])
        .env("KEYWARDEN_NOW", "2026-01-31T12:00:00Z")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows[0]["age_days"], 30);
    assert!(!crate::support::stdout(&out).contains(&key));
}

#[test]
fn list_without_keys_says_so() {
    let sb = Sandbox::empty();
    sb.keywarden()
        .args(["keys", "list"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("no keys registered"));
}

#[test]
fn a_dead_key_is_not_stored() {
    let sb = Sandbox::empty();
    let server = openai_accepting(&keys::openai_project());
    let dead = keys::openai_project();
    let out = sb
        .keywarden()
        .args(["keys", "add", "old", "--provider", "openai"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .write_stdin(dead.clone())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr(&out);
    assert!(stderr.contains("dead"), "{stderr}");
    assert!(!stderr.contains(&dead));
    assert!(!keyring_path(&sb).exists());
    assert!(!registry_path(&sb).exists());
}

#[test]
fn no_verify_stores_without_contacting_anyone() {
    let sb = Sandbox::empty();
    let server = MockServer::start(|_| Reply::not_found());
    sb.keywarden()
        .args([
            "keys",
            "add",
            "db-password",
            "--provider",
            "generic",
            "--no-verify",
        ])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .write_stdin("correct-horse-battery-staple-42")
        .assert()
        .code(0)
        .stdout(predicates::str::contains("DB_PASSWORD"));
    assert!(server.requests().is_empty());
}

#[test]
fn an_unknown_provider_is_exit_2_with_one_line() {
    let sb = Sandbox::empty();
    let out = sb
        .keywarden()
        .args(["keys", "add", "x", "--provider", "myspace"])
        .write_stdin(keys::openai_project())
        .output()
        .expect("run");
    let stderr = assert_one_line_error(&out, None);
    assert!(stderr.contains("unknown provider `myspace`"), "{stderr}");
}

#[test]
fn an_empty_key_is_exit_2_with_one_line() {
    let sb = Sandbox::empty();
    let out = sb
        .keywarden()
        .args(["keys", "add", "x", "--provider", "openai"])
        .write_stdin("  \n")
        .output()
        .expect("run");
    let stderr = assert_one_line_error(&out, None);
    assert!(stderr.contains("empty key"), "{stderr}");
    assert!(!registry_path(&sb).exists());
}

#[test]
fn a_key_on_the_command_line_is_refused_without_being_repeated() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    for args in [
        vec!["keys", "add", "x", "--provider", "openai", key.as_str()],
        vec!["keys", "add", key.as_str(), "--provider", "openai"],
        vec!["keys", "add", "x", "--provider", key.as_str()],
        vec![
            "keys",
            "add",
            "x",
            "--provider",
            "openai",
            "--used-in",
            key.as_str(),
        ],
        vec!["keys", "forget", key.as_str()],
        vec!["keys", "revoke", key.as_str()],
        vec!["run", "--only", key.as_str(), "--", "true"],
    ] {
        let out = sb
            .keywarden()
            .args(&args)
            .write_stdin("")
            .output()
            .expect("run");
        let stderr = assert_one_line_error(&out, Some(&key));
        assert!(stderr.contains("stdin"), "{stderr}");
    }
    assert!(!keyring_path(&sb).exists());
}

#[test]
fn a_taken_name_needs_replace() {
    let sb = Sandbox::empty();
    let first = keys::github_pat();
    let second = keys::github_pat();
    let server = MockServer::start(|_| Reply::json(200, json!({"login": "octocat"})));
    add(&sb, &server, "gh", "github", &first);
    let out = sb
        .keywarden()
        .args(["keys", "add", "gh", "--provider", "github"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .write_stdin(second.clone())
        .output()
        .expect("run");
    let stderr = assert_one_line_error(&out, Some(&second));
    assert!(stderr.contains("--replace"), "{stderr}");
    sb.keywarden()
        .args(["keys", "add", "gh", "--provider", "github", "--replace"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .write_stdin(second.clone())
        .assert()
        .code(0);
    let keyring = std::fs::read_to_string(keyring_path(&sb)).expect("keyring");
    assert!(keyring.contains(&second) && !keyring.contains(&first));
}

#[test]
fn forget_removes_the_key_from_keyring_and_registry() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = openai_accepting(&key);
    add(&sb, &server, "openai-prod", "openai", &key);
    sb.keywarden()
        .args(["keys", "forget", "openai-prod"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("forgot openai-prod"));
    let keyring = std::fs::read_to_string(keyring_path(&sb)).expect("keyring");
    assert!(!keyring.contains(&key));
    let registry = std::fs::read_to_string(registry_path(&sb)).expect("registry");
    assert!(!registry.contains("openai-prod"));
    let out = sb
        .keywarden()
        .args(["keys", "forget", "openai-prod"])
        .output()
        .expect("run");
    assert_one_line_error(&out, None);
}

#[test]
fn run_puts_keys_in_the_environment_and_passes_the_exit_code() {
    let sb = Sandbox::empty();
    let openai = keys::openai_project();
    let github = keys::github_pat();
    let server = openai_accepting(&openai);
    add(&sb, &server, "openai-prod", "openai", &openai);
    sb.keywarden()
        .args(["keys", "add", "gh", "--provider", "github", "--no-verify"])
        .write_stdin(github.clone())
        .assert()
        .code(0);

    // The child compares against values the test hands it, so no key is ever printed.
    sb.keywarden()
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "test \"$OPENAI_API_KEY\" = \"$WANT_OPENAI\" && test \"$GITHUB_TOKEN\" = \"$WANT_GH\"",
        ])
        .env("WANT_OPENAI", &openai)
        .env("WANT_GH", &github)
        .assert()
        .code(0);
    sb.keywarden()
        .args([
            "run",
            "--only",
            "gh",
            "--",
            "sh",
            "-c",
            "test -z \"$OPENAI_API_KEY\" && test \"$GITHUB_TOKEN\" = \"$WANT_GH\"",
        ])
        .env("WANT_GH", &github)
        .assert()
        .code(0);
    sb.keywarden()
        .args(["run", "--", "sh", "-c", "exit 7"])
        .assert()
        .code(7);
}

#[test]
fn run_with_an_unknown_name_or_without_a_command_is_exit_2() {
    let sb = Sandbox::empty();
    let out = sb
        .keywarden()
        .args(["run", "--only", "nope", "--", "true"])
        .output()
        .expect("run");
    let stderr = assert_one_line_error(&out, None);
    assert!(stderr.contains("nope"), "{stderr}");
    let out = sb.keywarden().args(["run"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn revoke_without_admin_key_prints_steps_opens_the_page_and_waits_until_dead() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let revoked = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (flag, counter, live) = (Arc::clone(&revoked), Arc::clone(&checks), key.clone());
    // Live for the add and the first check after the steps, dead from then on: as if the
    // user revoked it on the page meanwhile.
    let server = MockServer::start(move |req| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if n >= 2 {
            flag.store(true, Ordering::SeqCst);
        }
        if req.path() == "/v1/models"
            && bearer(req).as_deref() == Some(live.as_str())
            && !flag.load(Ordering::SeqCst)
        {
            Reply::json(200, json!({"data": []}))
        } else {
            Reply::json(
                401,
                json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}),
            )
        }
    });
    add(&sb, &server, "openai-prod", "openai", &key);
    let (browser, opened) = fake_browser(&sb);
    let out = sb
        .keywarden()
        .args([
            "keys",
            "revoke",
            "openai-prod",
            "--open",
            "--max-checks",
            "10",
        ])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .env("BROWSER", &browser)
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = stdout(&out);
    assert!(
        stdout.contains("https://platform.openai.com/api-keys"),
        "{stdout}"
    );
    assert!(stdout.contains("Revoke key"), "{stdout}");
    assert!(stdout.contains("openai-prod is dead"), "{stdout}");
    assert!(!stdout.contains(&key));
    assert_eq!(
        std::fs::read_to_string(&opened).expect("browser was called"),
        "https://platform.openai.com/api-keys"
    );
    assert!(checks.load(Ordering::SeqCst) >= 3);
}

#[test]
fn revoke_gives_up_after_the_check_budget_with_exit_1() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = openai_accepting(&key);
    add(&sb, &server, "openai-prod", "openai", &key);
    let out = sb
        .keywarden()
        .args(["keys", "revoke", "openai-prod", "--max-checks", "2"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = stdout(&out);
    assert!(stdout.contains("still live"), "{stdout}");
    // One check at add, two while waiting.
    assert_eq!(server.count("GET", "/v1/models"), 3);
}

#[test]
fn revoke_github_through_the_api() {
    let sb = Sandbox::empty();
    let token = keys::github_pat();
    let revoked = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&revoked);
    let server = MockServer::start(move |req| match (req.method.as_str(), req.path()) {
        ("POST", "/credentials/revoke") => {
            flag.store(true, Ordering::SeqCst);
            Reply::json(202, json!({}))
        }
        ("GET", "/user") if !flag.load(Ordering::SeqCst) => {
            Reply::json(200, json!({"login": "octocat"}))
        }
        ("GET", "/user") => Reply::json(401, json!({"message": "Bad credentials"})),
        _ => Reply::not_found(),
    });
    add(&sb, &server, "gh", "github", &token);
    let out = sb
        .keywarden()
        .args(["keys", "revoke", "gh"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = stdout(&out);
    assert!(stdout.contains("accepted the revocation"), "{stdout}");
    assert!(stdout.contains("gh is dead"), "{stdout}");
    assert!(!stdout.contains(&token));
    assert_eq!(server.count("POST", "/credentials/revoke"), 1);
}

/// A mock OpenAI organization: one project holding the `leaked` key (a user's), which dies
/// once deleted; creating a service account hands out `replacement`.
fn admin_org(admin: &str, leaked: &str, replacement: &str) -> MockServer {
    let deleted = Arc::new(AtomicBool::new(false));
    let (flag, admin_m, leaked_m, new_m) = (
        deleted,
        admin.to_string(),
        leaked.to_string(),
        replacement.to_string(),
    );
    MockServer::start(move |req| {
        let auth = bearer(req).unwrap_or_default();
        let list = |data: serde_json::Value| {
            Reply::json(
                200,
                json!({"object": "list", "data": data, "has_more": false}),
            )
        };
        match (req.method.as_str(), req.path()) {
            ("GET", "/v1/models") if auth == leaked_m && !flag.load(Ordering::SeqCst) => {
                Reply::json(200, json!({"data": []}))
            }
            ("GET", "/v1/models") => Reply::json(
                401,
                json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}),
            ),
            _ if auth != admin_m => Reply::json(401, json!({"error": {"code": "invalid_api_key"}})),
            ("GET", "/v1/organization/projects") => list(json!([{"id": "proj_1", "name": "Web"}])),
            ("GET", "/v1/organization/projects/proj_1/api_keys") => list(json!([{
                "id": "key_1",
                "name": "laptop",
                "redacted_value": format!("{}...{}", &leaked_m[..8], &leaked_m[leaked_m.len() - 4..]),
                "created_at": 1_711_471_533,
                "last_used_at": null,
                "owner": {"type": "user", "user": {"id": "user_1", "name": "Ada Lovelace", "email": "ada@example.com"}}
            }])),
            ("DELETE", "/v1/organization/projects/proj_1/api_keys/key_1") => {
                flag.store(true, Ordering::SeqCst);
                Reply::json(200, json!({"id": "key_1", "deleted": true}))
            }
            ("POST", "/v1/organization/projects/proj_1/service_accounts") => Reply::json(
                200,
                json!({"id": "svc_acct_new", "name": "x", "api_key": {"id": "key_2", "value": new_m}}),
            ),
            _ => Reply::not_found(),
        }
    })
}

#[test]
fn revoke_with_admin_key_deletes_and_stores_a_replacement() {
    let sb = Sandbox::empty();
    let admin = keys::openai_admin();
    let leaked = keys::openai_project();
    let replacement = keys::openai_project();
    let server = admin_org(&admin, &leaked, &replacement);
    add(&sb, &server, "openai-prod", "openai", &leaked);
    let out = sb
        .keywarden()
        .args(["keys", "revoke", "openai-prod", "--yes", "--replace"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("OPENAI_ADMIN_KEY", &admin)
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = stdout(&out);
    for expected in [
        "\"laptop\"",
        "Ada Lovelace <ada@example.com>",
        "2024-03-26",
        "last used: never",
        "deleted key key_1",
        "openai-prod is dead",
        "svc_acct_new",
    ] {
        assert!(stdout.contains(expected), "missing {expected}: {stdout}");
    }
    for secret in [&admin, &leaked, &replacement] {
        assert!(!stdout.contains(secret.as_str()));
        assert!(!stderr(&out).contains(secret.as_str()));
    }
    // The replacement is what `run` now hands out.
    sb.keywarden()
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "test \"$OPENAI_API_KEY\" = \"$WANT\"",
        ])
        .env("WANT", &replacement)
        .assert()
        .code(0);
}

#[test]
fn the_admin_key_can_live_in_the_keyring_and_deleting_needs_yes_without_a_terminal() {
    let sb = Sandbox::empty();
    let admin = keys::openai_admin();
    let leaked = keys::openai_project();
    let server = admin_org(&admin, &leaked, &keys::openai_project());
    add(&sb, &server, "openai-prod", "openai", &leaked);
    // Verified against the Admin API (an admin key cannot list models).
    sb.keywarden()
        .args([
            "keys",
            "add",
            "openai-admin",
            "--provider",
            "openai",
            "--env-var",
            "OPENAI_ADMIN_KEY",
        ])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .write_stdin(admin.clone())
        .assert()
        .code(0)
        .stdout(predicates::str::contains("(live)"));

    // An admin key is handed to a command only when asked for by name.
    sb.keywarden()
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "test -z \"$OPENAI_ADMIN_KEY\" && test -n \"$OPENAI_API_KEY\"",
        ])
        .assert()
        .code(0);
    sb.keywarden()
        .args([
            "run",
            "--only",
            "openai-admin",
            "--",
            "sh",
            "-c",
            "test \"$OPENAI_ADMIN_KEY\" = \"$WANT\"",
        ])
        .env("WANT", &admin)
        .assert()
        .code(0);

    let out = sb
        .keywarden()
        .args(["keys", "revoke", "openai-prod"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr(&out);
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(
        server.count("DELETE", "/v1/organization/projects/proj_1/api_keys/key_1"),
        0
    );

    sb.keywarden()
        .args(["keys", "revoke", "openai-prod", "--yes"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .assert()
        .code(0)
        .stdout(predicates::str::contains("openai-prod is dead"));
    assert_eq!(
        server.count("DELETE", "/v1/organization/projects/proj_1/api_keys/key_1"),
        1
    );
}

#[test]
fn revoke_with_a_refused_admin_key_is_a_clear_error() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = openai_accepting(&key);
    add(&sb, &server, "openai-prod", "openai", &key);
    let out = sb
        .keywarden()
        .args(["keys", "revoke", "openai-prod"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("OPENAI_ADMIN_KEY", keys::openai_admin())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr(&out);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("keywarden: error: ") && last.contains("admin key was refused"),
        "{stderr}"
    );
    assert!(!stderr.contains(&key));
}

#[test]
fn a_key_that_cannot_be_checked_is_stored_with_a_warning() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = MockServer::start(|_| Reply::text(500, "upstream exploded"));
    let out = sb
        .keywarden()
        .args(["keys", "add", "openai-prod", "--provider", "openai"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .write_stdin(key.clone())
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = stderr(&out);
    assert!(
        stderr.contains("could not verify") && stderr.contains("500"),
        "{stderr}"
    );
    assert!(stdout(&out).contains("unverified"));
    assert!(std::fs::read_to_string(keyring_path(&sb))
        .expect("keyring")
        .contains(&key));
}

#[test]
fn an_unknown_keyring_selector_is_exit_2_with_one_line() {
    let sb = Sandbox::empty();
    let out = sb
        .keywarden()
        .args(["keys", "add", "x", "--provider", "generic", "--no-verify"])
        .env("KEYWARDEN_KEYRING", "vault:somewhere")
        .write_stdin("some-value-that-is-long-enough")
        .output()
        .expect("run");
    let stderr = assert_one_line_error(&out, None);
    assert!(stderr.contains("KEYWARDEN_KEYRING"), "{stderr}");
}

#[test]
fn a_key_the_admin_key_cannot_find_falls_back_to_the_manual_steps() {
    let sb = Sandbox::empty();
    let admin = keys::openai_admin();
    let server = admin_org(&admin, &keys::openai_project(), &keys::openai_project());
    let elsewhere = keys::openai_project();
    sb.keywarden()
        .args([
            "keys",
            "add",
            "other-org",
            "--provider",
            "openai",
            "--no-verify",
        ])
        .write_stdin(elsewhere.clone())
        .assert()
        .code(0);
    let out = sb
        .keywarden()
        .args(["keys", "revoke", "other-org", "--yes", "--max-checks", "1"])
        .env("KEYWARDEN_OPENAI_BASE_URL", format!("{}/v1", server.url()))
        .env("OPENAI_ADMIN_KEY", &admin)
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = stderr(&out);
    let stdout = stdout(&out);
    assert!(stderr.contains("no project key"), "{stderr}");
    assert!(
        stdout.contains("https://platform.openai.com/api-keys"),
        "{stdout}"
    );
    assert!(stdout.contains("other-org is dead"), "{stdout}");
    assert_eq!(
        server.count("DELETE", "/v1/organization/projects/proj_1/api_keys/key_1"),
        0
    );
    assert!(!stdout.contains(&elsewhere) && !stderr.contains(&elsewhere));
}

#[test]
fn a_key_of_an_issuer_without_a_client_is_revoked_by_hand_at_its_page() {
    let sb = Sandbox::empty();
    let token = keys::fake("npm_{alnum:36}");
    let (browser, opened) = fake_browser(&sb);
    // npm answers its whoami check: the token is revoked once the person has done it.
    let npm = MockServer::start(|req| {
        if req.is("GET", "/-/whoami") {
            Reply::json(401, serde_json::json!({"error": "Unauthorized"}))
        } else {
            Reply::not_found()
        }
    });
    let out = sb
        .keywarden()
        .args(["keys", "revoke", "--secret-stdin"])
        .write_stdin(format!("{token}\n"))
        .env("KEYWARDEN_NPM_BASE_URL", npm.url())
        .assert()
        .code(0)
        .get_output()
        .clone();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("Revoke the npm access token (npm_"), "{text}");
    // Its rule's check asks npm, which no longer accepts it.
    assert!(text.contains("check 1/60: dead"), "{text}");
    assert!(npm.requests().iter().all(|r| r.is("GET", "/-/whoami")));
    assert!(
        text.contains("https://docs.npmjs.com/revoking-access-tokens"),
        "{text}"
    );
    assert!(!text.contains(&token), "{text}");
    // The advice it gives, followed as printed.
    assert!(text.contains("pass --open to open"), "{text}");
    sb.keywarden()
        .args(["keys", "revoke", "--secret-stdin", "--open"])
        .write_stdin(format!("{token}\n"))
        .env("BROWSER", &browser)
        .env("KEYWARDEN_NPM_BASE_URL", npm.url())
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(&opened).expect("browser was called"),
        "https://docs.npmjs.com/revoking-access-tokens"
    );
}

#[test]
fn a_key_its_issuer_refuses_is_not_added_without_no_verify() {
    let sb = Sandbox::empty();
    let token = keys::fake("npm_{alnum:36}");
    let npm = MockServer::start(|req| {
        if req.is("GET", "/-/whoami") {
            Reply::json(401, json!({"error": "Unauthorized"}))
        } else {
            Reply::not_found()
        }
    });
    sb.run(["keys", "add", "npm-ci"])
        .stdin(format!("{token}\n"))
        .env("KEYWARDEN_NPM_BASE_URL", npm.url())
        .code(2)
        .stderr_has("is dead (rejected as invalid (HTTP 401)")
        .stderr_has("not stored (pass --no-verify to store it anyway)")
        .no_secret(&token);
    assert_eq!(npm.requests().len(), 1);
    // As the message says: --no-verify stores it without asking.
    sb.run(["keys", "add", "npm-ci", "--no-verify"])
        .stdin(format!("{token}\n"))
        .env("KEYWARDEN_NPM_BASE_URL", npm.url())
        .success();
    assert_eq!(npm.requests().len(), 1);
}
