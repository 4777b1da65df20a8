//! The key workflows from the outside, as a new user meets them: `keys check` and its exit
//! codes, advice that works as printed, revocations recorded in the registry, `keys add`
//! given a whole `.env` line or no `--provider`, keys that are not registered (stdin, a
//! scan finding's fingerprint), concurrent writers, `run` with a missing command, and error
//! lines that say each thing once.

use crate::support::mock_server::{MockServer, Reply, Request};
use crate::support::{keys, sealed_env, Sandbox, LEAKY_VARS};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

fn bearer(req: &Request) -> Option<String> {
    req.header("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string)
}

fn invalid_api_key() -> Reply {
    Reply::json(
        401,
        json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}),
    )
}

/// A mock OpenAI that accepts `live` on /v1/models until `dead` is set.
fn openai(live: &str, dead: Arc<AtomicBool>) -> MockServer {
    let live = live.to_string();
    MockServer::start(move |req| {
        if req.path() == "/v1/models"
            && bearer(req).as_deref() == Some(live.as_str())
            && !dead.load(Ordering::SeqCst)
        {
            Reply::json(200, json!({"object": "list", "data": []}))
        } else {
            invalid_api_key()
        }
    })
}

/// A mock GitHub: `/user` accepts the token until it is revoked through
/// `/credentials/revoke`.
fn github(token: &str) -> MockServer {
    let token = token.to_string();
    let revoked = Arc::new(AtomicBool::new(false));
    MockServer::start(move |req| match (req.method.as_str(), req.path()) {
        ("POST", "/credentials/revoke") => {
            revoked.store(true, Ordering::SeqCst);
            Reply::json(202, json!({}))
        }
        ("GET", "/user")
            if bearer(req).as_deref() == Some(token.as_str())
                && !revoked.load(Ordering::SeqCst) =>
        {
            Reply::json(200, json!({"login": "octocat"}))
        }
        ("GET", "/user") => Reply::json(401, json!({"message": "Bad credentials"})),
        _ => Reply::not_found(),
    })
}

fn openai_url(server: &MockServer) -> String {
    format!("{}/v1", server.url())
}

fn registry(sb: &Sandbox) -> serde_json::Value {
    let text =
        std::fs::read_to_string(sb.root().join("home/.keywarden/registry.json")).expect("registry");
    serde_json::from_str(&text).expect("json")
}

fn keyring(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.root().join("home/keyring.ron")).expect("keyring")
}

fn add_openai(sb: &Sandbox, server: &MockServer, name: &str, key: &str) {
    sb.run(["keys", "add", name, "--provider", "openai"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(server))
        .stdin(key)
        .success()
        .no_secret(key);
}

/// The command between the backticks after `check again with`, as its arguments.
fn advised_command(stdout: &str) -> Vec<String> {
    let after = stdout
        .split_once("check again with `")
        .unwrap_or_else(|| panic!("no advice in: {stdout}"))
        .1;
    let command = after.split_once('`').expect("closing backtick").0;
    let words: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    assert_eq!(words[0], "keywarden", "{command}");
    words[1..].to_vec()
}

// ---- keys check ---------------------------------------------------------------------------

#[test]
fn check_exits_1_live_0_dead_2_unknown_and_records_a_dead_key_as_revoked() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let dead = Arc::new(AtomicBool::new(false));
    let server = openai(&key, Arc::clone(&dead));
    add_openai(&sb, &server, "openai-prod", &key);

    sb.run(["keys", "check", "openai-prod"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .code(1)
        .stdout_has("openai-prod is live")
        .no_secret(&key);
    assert!(registry(&sb)["keys"][0].get("revoked").is_none());

    dead.store(true, Ordering::SeqCst);
    sb.run(["keys", "check", "openai-prod"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .env("KEYWARDEN_NOW", "2026-02-03T04:05:06Z")
        .code(0)
        .stdout_has("openai-prod is dead")
        .stdout_has("recorded as revoked");
    let revoked = &registry(&sb)["keys"][0]["revoked"];
    assert_eq!(revoked["how"], "checked", "{revoked}");
    assert_eq!(revoked["at"], "2026-02-03T04:05:06Z");

    let broken = MockServer::start(|_| Reply::text(500, "upstream exploded"));
    sb.run(["keys", "check", "openai-prod"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&broken))
        .code(2)
        .stdout_has("openai-prod is unknown")
        .stdout_has("500");
}

#[test]
fn check_without_a_key_or_with_a_bad_timeout_is_a_one_line_error() {
    let sb = Sandbox::empty();
    sb.run(["keys", "check"])
        .code(2)
        .one_line_error("`keywarden keys check NAME`");
    sb.run(["keys", "check", "nope"])
        .code(2)
        .one_line_error("no key named `nope`");
    let key = keys::github_pat();
    sb.run(["keys", "check", "--secret-stdin"])
        .env("KEYWARDEN_HTTP_TIMEOUT_MS", "fast")
        .stdin(key.clone())
        .code(2)
        .one_line_error("KEYWARDEN_HTTP_TIMEOUT_MS must be a whole number")
        .no_secret(&key);
}

// ---- keys revoke: advice, records ----------------------------------------------------------

#[test]
fn revoke_points_to_keys_check_and_that_advice_works_as_printed() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let dead = Arc::new(AtomicBool::new(false));
    let server = openai(&key, Arc::clone(&dead));
    add_openai(&sb, &server, "openai-prod", &key);
    let ran = sb
        .run(["keys", "revoke", "openai-prod", "--max-checks", "1"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .code(1)
        .stdout_has("openai-prod is still live")
        .hides("--no-wait")
        .no_secret(&key);
    let advice = advised_command(&ran.stdout());
    assert_eq!(advice, ["keys", "check", "openai-prod"]);
    // Manual steps handed out are not a revocation yet.
    assert!(registry(&sb)["keys"][0].get("revoked").is_none());

    sb.run(&advice)
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .code(1)
        .stdout_has("is live");
    dead.store(true, Ordering::SeqCst);
    sb.run(&advice)
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .code(0)
        .stdout_has("is dead");
}

#[test]
fn no_wait_says_it_did_not_check_and_how_to() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = openai(&key, Arc::new(AtomicBool::new(false)));
    add_openai(&sb, &server, "openai-prod", &key);
    sb.run(["keys", "revoke", "openai-prod", "--no-wait"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .code(0)
        .stdout_has("was not checked; check it with `keywarden keys check openai-prod`");
}

#[test]
fn an_api_revocation_and_a_manual_one_checked_dead_are_recorded() {
    let sb = Sandbox::empty();
    let token = keys::github_pat();
    let server = github(&token);
    sb.run(["keys", "add", "gh"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .stdin(token.clone())
        .success();
    sb.run(["keys", "revoke", "gh"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .env("KEYWARDEN_NOW", "2026-03-01T00:00:00Z")
        .success()
        .stdout_has("gh is dead");
    let record = &registry(&sb)["keys"][0];
    assert_eq!(record["revoked"]["how"], "api", "{record}");
    assert_eq!(record["revoked"]["at"], "2026-03-01T00:00:00Z");
    sb.run(["keys", "list"])
        .success()
        .stdout_has("revoked 2026-03-01");

    let key = keys::openai_project();
    let dead = Arc::new(AtomicBool::new(true));
    let openai = openai(&key, Arc::clone(&dead));
    sb.run(["keys", "add", "old", "--no-verify"])
        .stdin(key.clone())
        .success();
    sb.run(["keys", "revoke", "old", "--max-checks", "1"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&openai))
        .success()
        .stdout_has("old is dead");
    let keys = registry(&sb)["keys"].clone();
    let old = keys
        .as_array()
        .expect("list")
        .iter()
        .find(|k| k["name"] == "old")
        .expect("old")
        .clone();
    assert_eq!(old["revoked"]["how"], "manual", "{old}");
}

// ---- keys add ------------------------------------------------------------------------------

#[test]
fn add_replace_says_replaced_and_records_the_rotation() {
    let sb = Sandbox::empty();
    let first = keys::github_pat();
    let second = keys::github_pat();
    sb.run(["keys", "add", "gh", "--no-verify"])
        .stdin(first.clone())
        .success()
        .stdout_has("added gh");
    sb.run(["keys", "add", "gh", "--no-verify", "--replace"])
        .env("KEYWARDEN_NOW", "2026-04-01T00:00:00Z")
        .stdin(second.clone())
        .success()
        .stdout_has("replaced gh")
        .hides("added gh");
    let record = &registry(&sb)["keys"][0];
    assert_eq!(record["last_rotated"], "2026-04-01T00:00:00Z", "{record}");
    assert!(keyring(&sb).contains(&second) && !keyring(&sb).contains(&first));
}

#[test]
fn add_records_each_place_with_its_path_variable_and_repository() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("api")).expect("mkdir");
    sb.run([
        "keys",
        "add",
        "db",
        "--provider",
        "generic",
        "--no-verify",
        "--env-var",
        "DATABASE_PASSWORD",
        "--used-in",
        "api/.env",
    ])
    .current_dir(sb.path("api"))
    .stdin("correct-horse-battery-staple-42")
    .success();
    let location = &registry(&sb)["keys"][0]["locations"][0];
    let repo = sb.repo().to_string_lossy().into_owned();
    assert_eq!(
        location["path"],
        sb.path("api/api/.env").to_string_lossy().as_ref(),
        "{location}"
    );
    assert_eq!(location["var"], "DATABASE_PASSWORD");
    assert_eq!(location["repo"], repo.as_str());
    sb.run(["keys", "list"])
        .success()
        .stdout_has("api/api/.env");
}

#[test]
fn add_takes_the_value_of_a_whole_env_line_and_never_sends_the_line() {
    let key = keys::openai_project();
    for line in [
        format!("OPENAI_API_KEY={key}\n"),
        format!("export OPENAI_API_KEY=\"{key}\"\n"),
        format!("OPENAI_API_KEY='{key}' # laptop\n"),
    ] {
        let sb = Sandbox::empty();
        let server = openai(&key, Arc::new(AtomicBool::new(false)));
        // `grep OPENAI .env | keywarden keys add leaked`: no --provider, no --env-var.
        sb.run(["keys", "add", "leaked"])
            .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
            .stdin(line.clone())
            .success()
            .stdout_has("OpenAI key")
            .stdout_has("(live)")
            .no_secret(&key);
        let sent: Vec<String> = server.requests().iter().filter_map(bearer).collect();
        assert_eq!(sent, std::slice::from_ref(&key), "{line}");
        let record = &registry(&sb)["keys"][0];
        assert_eq!(record["provider"], "openai");
        assert_eq!(record["env_var"], "OPENAI_API_KEY");
        let stored = keyring(&sb);
        assert!(stored.contains(&key) && !stored.contains("OPENAI_API_KEY="));
    }
}

#[test]
fn add_infers_the_provider_and_refuses_a_contradicting_one() {
    let sb = Sandbox::empty();
    let token = keys::github_pat();
    let server = github(&token);
    sb.run(["keys", "add", "gh"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .stdin(token.clone())
        .success()
        .stdout_has("GitHub key")
        .stdout_has("GITHUB_TOKEN");
    assert_eq!(server.count("GET", "/user"), 1);

    let other = keys::github_pat();
    let openai = MockServer::start(|_| invalid_api_key());
    sb.run(["keys", "add", "gh2", "--provider", "openai"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&openai))
        .stdin(other.clone())
        .code(2)
        .one_line_error("looks like GitHub key, not openai; pass --provider github")
        .no_secret(&other);
    assert!(openai.requests().is_empty(), "refused locally");

    sb.run(["keys", "add", "mystery"])
        .stdin("correct-horse-battery-staple-42")
        .code(2)
        .one_line_error("pass --provider");
    sb.run(["keys", "add", "empty"])
        .stdin("OPENAI_API_KEY=\n")
        .code(2)
        .one_line_error("assigns it no value");
}

// ---- keys that are not registered ----------------------------------------------------------

#[test]
fn check_and_revoke_a_key_from_stdin() {
    let sb = Sandbox::empty();
    let token = keys::github_pat();
    let server = github(&token);
    sb.run(["keys", "check", "--secret-stdin"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .stdin(token.clone())
        .code(1)
        .stdout_has("is live")
        .no_secret(&token);
    sb.run(["keys", "revoke", "--secret-stdin"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .stdin(format!("GITHUB_TOKEN={token}\n"))
        .success()
        .stdout_has("accepted the revocation")
        .stdout_has("is dead")
        .no_secret(&token);
    assert_eq!(server.count("POST", "/credentials/revoke"), 1);
}

#[test]
fn the_advice_for_a_key_from_stdin_works_as_printed() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = openai(&key, Arc::new(AtomicBool::new(false)));
    let ran = sb
        .run(["keys", "revoke", "--secret-stdin", "--max-checks", "1"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .stdin(key.clone())
        .code(1)
        .no_secret(&key);
    let advice = advised_command(&ran.stdout());
    assert_eq!(
        advice,
        ["keys", "check", "--secret-stdin", "--provider", "openai"]
    );
    assert!(ran.stdout().contains("(with the key on stdin)"));
    sb.run(&advice)
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .stdin(key.clone())
        .code(1)
        .stdout_has("is live");
}

#[test]
fn check_and_revoke_a_finding_by_the_fingerprint_scan_printed() {
    let sb = Sandbox::new();
    let token = keys::github_pat();
    sb.write("config.py", format!("TOKEN = \"{token}\"\n"));
    sb.commit_all("add config");
    sb.write("config.py", "TOKEN = None\n");
    sb.commit_all("remove it");
    let scanned = sb.run(["scan", "--history", "--format", "jsonl"]).code(1);
    let rows = crate::support::jsonl(&scanned.output.stdout);
    let fingerprint = rows[0]["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_string();

    let server = github(&token);
    let ran = sb
        .run(["keys", "revoke", "--finding", &fingerprint, "--no-wait"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .success()
        .stdout_has("accepted the revocation")
        .no_secret(&token);
    assert!(
        ran.stdout()
            .contains(&format!("`keywarden keys check --finding {fingerprint}`")),
        "{}",
        ran.stdout()
    );
    sb.run(["keys", "check", "--finding", &fingerprint])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .code(0)
        .stdout_has("is dead")
        .no_secret(&token);

    let missing = format!("sha256:{}", "0".repeat(64));
    sb.run(["keys", "check", "--finding", &missing])
        .code(2)
        .one_line_error("no finding with fingerprint");
    sb.run(["keys", "check", "--finding", "sha256:xyz"])
        .code(2)
        .one_line_error("is not a fingerprint");
}

// ---- the writers' lock ---------------------------------------------------------------------

#[test]
fn four_concurrent_adds_all_end_up_in_the_registry_and_the_keyring() {
    let sb = Sandbox::empty();
    let tokens: Vec<String> = (0..4).map(|_| keys::github_pat()).collect();
    // Every check is answered only once all four have asked, so that the four processes
    // go on to write at the same moment.
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    let server = MockServer::start(move |_| {
        let (count, ready) = &*arrived;
        let mut n = count.lock().expect("lock");
        *n += 1;
        ready.notify_all();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while *n < 4 && std::time::Instant::now() < deadline {
            n = ready
                .wait_timeout(n, Duration::from_millis(50))
                .expect("wait")
                .0;
        }
        Reply::json(200, json!({"login": "octocat"}))
    });
    let children: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("keywarden"));
            for var in LEAKY_VARS {
                cmd.env_remove(var);
            }
            cmd.envs(sealed_env(sb.root()))
                .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
                .current_dir(sb.repo())
                .args(["keys", "add", &format!("gh{i}")])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().expect("spawn");
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(token.as_bytes())
                .expect("write the key");
            child
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", crate::support::text(&out));
    }
    let names: Vec<String> = registry(&sb)["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(names, ["gh0", "gh1", "gh2", "gh3"]);
    let stored = keyring(&sb);
    for token in &tokens {
        assert!(
            stored.contains(token.as_str()),
            "a key is missing from the keyring"
        );
    }
}

// ---- run -----------------------------------------------------------------------------------

#[test]
fn run_exits_127_for_a_missing_command_and_126_for_one_it_cannot_execute() {
    let sb = Sandbox::empty();
    sb.run(["keys", "add", "db", "--provider", "generic", "--no-verify"])
        .stdin("correct-horse-battery-staple-42")
        .success();
    sb.run(["run", "--", "no-such-command-kw"])
        .code(127)
        .one_line_error("no-such-command-kw: command not found");
    let script = sb.root().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write");
    let script = script.to_string_lossy().into_owned();
    sb.run(["run", "--", &script])
        .code(126)
        .one_line_error("permission denied");
}

// ---- error text ----------------------------------------------------------------------------

#[test]
fn error_lines_say_each_cause_once() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.root().join("home/.keywarden/registry.json"))
        .expect("a directory where the registry should be");
    let ran = sb
        .run(["keys", "list"])
        .code(2)
        .one_line_error("registry.json");
    let line = ran.stderr();
    assert_eq!(line.matches("os error").count(), 1, "{line}");

    sb.write(".keywarden.toml", "disable = [\"no-such-rule\"]\n");
    let ran = sb.run(["scan"]).code(2).one_line_error("no-such-rule");
    let line = ran.stderr();
    assert_eq!(line.matches("unknown rule id").count(), 1, "{line}");
}

// ---- replacement and the provider's records ------------------------------------------------

/// A mock OpenAI organization whose one project holds `key` (a user's), created
/// 2024-03-26 and last used 2024-03-27; deleting it kills it.
fn openai_org(admin: &str, key: &str) -> MockServer {
    let (admin, key) = (admin.to_string(), key.to_string());
    let deleted = Arc::new(AtomicBool::new(false));
    MockServer::start(move |req| {
        let list = |data: serde_json::Value| {
            Reply::json(
                200,
                json!({"object": "list", "data": data, "has_more": false}),
            )
        };
        match (req.method.as_str(), req.path()) {
            ("GET", "/v1/models")
                if bearer(req).as_deref() == Some(key.as_str())
                    && !deleted.load(Ordering::SeqCst) =>
            {
                Reply::json(200, json!({"data": []}))
            }
            _ if bearer(req).as_deref() != Some(admin.as_str()) => invalid_api_key(),
            ("DELETE", "/v1/organization/projects/proj_1/api_keys/key_1") => {
                deleted.store(true, Ordering::SeqCst);
                Reply::json(200, json!({"id": "key_1", "deleted": true}))
            }
            ("GET", "/v1/organization/projects") => list(json!([{"id": "proj_1", "name": "Web"}])),
            ("GET", "/v1/organization/projects/proj_1/api_keys") => list(json!([{
                "id": "key_1",
                "name": "laptop",
                "redacted_value": format!("{}...{}", &key[..8], &key[key.len() - 4..]),
                "created_at": 1_711_471_533,
                "last_used_at": 1_711_557_933,
                "owner": {"type": "user", "user": {"id": "user_1", "name": "Ada Lovelace", "email": "ada@example.com"}}
            }])),
            _ => Reply::not_found(),
        }
    })
}

#[test]
fn add_with_an_admin_key_records_the_providers_dates_and_id() {
    let sb = Sandbox::empty();
    let admin = keys::openai_admin();
    let key = keys::openai_project();
    let server = openai_org(&admin, &key);
    sb.run(["keys", "add", "openai-prod"])
        .env("KEYWARDEN_OPENAI_BASE_URL", openai_url(&server))
        .env("OPENAI_ADMIN_KEY", &admin)
        .env("KEYWARDEN_NOW", "2026-01-01T00:00:00Z")
        .stdin(key.clone())
        .success()
        .stdout_has("OpenAI key \"laptop\" (key_1) in project \"Web\"")
        .no_secret(&key)
        .no_secret(&admin);
    let record = &registry(&sb)["keys"][0];
    assert_eq!(record["created"], "2024-03-26T16:45:33Z", "{record}");
    assert_eq!(record["last_used"], "2024-03-27T16:45:33Z");
    assert_eq!(record["remote_id"], "key_1");
    assert_eq!(record["added"], "2026-01-01T00:00:00Z");
    // The age counts from the provider's date.
    sb.run(["keys", "list", "--format", "json"])
        .env("KEYWARDEN_NOW", "2026-01-01T00:00:00Z")
        .success()
        .stdout_has("\"age_days\": 645");
}

#[test]
fn revoke_replace_takes_a_new_key_from_stdin_and_refuses_a_dead_one() {
    let sb = Sandbox::empty();
    let old = keys::github_pat();
    let new = keys::github_pat();
    let dead = keys::github_pat();
    let (old_m, new_m) = (old.clone(), new.clone());
    let revoked = Arc::new(AtomicBool::new(false));
    let server = MockServer::start(move |req| match (req.method.as_str(), req.path()) {
        ("POST", "/credentials/revoke") => {
            revoked.store(true, Ordering::SeqCst);
            Reply::json(202, json!({}))
        }
        ("GET", "/user") => {
            let token = bearer(req).unwrap_or_default();
            if token == new_m || (token == old_m && !revoked.load(Ordering::SeqCst)) {
                Reply::json(200, json!({"login": "octocat"}))
            } else {
                Reply::json(401, json!({"message": "Bad credentials"}))
            }
        }
        _ => Reply::not_found(),
    });
    sb.run(["keys", "add", "gh"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .stdin(old.clone())
        .success();

    // A dead new key: refused, and nothing happens to the old one.
    sb.run(["keys", "revoke", "gh", "--replace", "--new-key-stdin"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .stdin(dead.clone())
        .code(2)
        .stderr_has("keywarden: error: GitHub says the new key")
        .stderr_has("is dead (rejected (HTTP 401): Bad credentials); nothing was changed")
        .no_secret(&dead);
    assert_eq!(server.count("POST", "/credentials/revoke"), 0);
    assert!(keyring(&sb).contains(&old));

    sb.run(["keys", "revoke", "gh", "--replace", "--new-key-stdin"])
        .env("KEYWARDEN_GITHUB_BASE_URL", server.url())
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .env("KEYWARDEN_NOW", "2026-05-01T00:00:00Z")
        .stdin(new.clone())
        .success()
        .stdout_has("replaced gh with ghp_")
        .stdout_has("gh is dead")
        .no_secret(&new)
        .no_secret(&old);
    assert_eq!(server.count("POST", "/credentials/revoke"), 1);
    let record = &registry(&sb)["keys"][0];
    assert_eq!(record["last_rotated"], "2026-05-01T00:00:00Z", "{record}");
    assert!(
        record.get("revoked").is_none(),
        "the record is the new key's"
    );
    sb.run([
        "run",
        "--",
        "sh",
        "-c",
        "test \"$GITHUB_TOKEN\" = \"$WANT\"",
    ])
    .env("WANT", &new)
    .success();
}

// ---- on a terminal -------------------------------------------------------------------------

#[test]
fn on_a_terminal_the_deletion_is_asked_and_enter_stops_the_wait() {
    let sb = Sandbox::empty();
    let key = keys::openai_project();
    let server = openai(&key, Arc::new(AtomicBool::new(false)));
    add_openai(&sb, &server, "openai-prod", &key);
    let url = openai_url(&server);
    // Live throughout: Enter ends the wait, and the last line says how to check again.
    let Some(shown) = sb.on_terminal_with(
        "keys revoke openai-prod",
        &[
            ("KEYWARDEN_OPENAI_BASE_URL", &url),
            ("KEYWARDEN_POLL_INTERVAL_MS", "200"),
        ],
        &[
            (
                "Open https://platform.openai.com/api-keys in your browser?",
                "n",
            ),
            ("press Enter to stop", ""),
        ],
    ) else {
        return;
    };
    assert!(shown.contains("still live"), "{shown}");
    assert!(
        shown.contains("check again with `keywarden keys check openai-prod`"),
        "{shown}"
    );
    assert!(!shown.contains(&key));

    let admin = keys::openai_admin();
    let org = openai_org(&admin, &key);
    let url = openai_url(&org);
    let shown = sb
        .on_terminal_with(
            "keys revoke openai-prod",
            &[
                ("KEYWARDEN_OPENAI_BASE_URL", &url),
                ("OPENAI_ADMIN_KEY", &admin),
                ("KEYWARDEN_POLL_INTERVAL_MS", "10"),
            ],
            &[("Delete this key now?", "y")],
        )
        .expect("script is there");
    assert!(shown.contains("OpenAI key \"laptop\" (key_1)"), "{shown}");
    assert!(shown.contains("openai-prod is dead"), "{shown}");
    assert_eq!(
        org.count("DELETE", "/v1/organization/projects/proj_1/api_keys/key_1"),
        1
    );
    assert!(!shown.contains(&key) && !shown.contains(&admin));
}
