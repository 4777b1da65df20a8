//! `keywarden rotate`, `keys import`, the rotation policy, the reminder hooks and `status`,
//! from the outside: an OpenAI organization on a mock Admin API (a service account's key
//! and a user's), keys typed on a terminal or piped in, a crash between two file writes
//! and the run that finishes it, the once-a-day reminder, bad input that changes nothing,
//! and one key used in three repositories.

use crate::support::mock_server::MockServer;
use crate::support::openai::{base, new_service_account_key, openai, org_with, Org};
use crate::support::run::Ran;
use crate::support::{keys, Sandbox};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const DAY0: &str = "2026-01-01T09:00:00Z";
/// 130 days after DAY0: every key added on DAY0 is due (the default is 90 days).
const LATER: &str = "2026-05-11T09:00:00Z";
const NEXT_DAY: &str = "2026-05-12T10:00:00Z";

fn registry(sb: &Sandbox) -> serde_json::Value {
    let text =
        std::fs::read_to_string(sb.root().join("home/.keywarden/registry.json")).expect("registry");
    serde_json::from_str(&text).expect("json")
}

fn keyring(sb: &Sandbox) -> serde_json::Value {
    let text = std::fs::read_to_string(sb.root().join("home/keyring.ron")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(json!({"keys": {}}))
}

fn rotations_dir(sb: &Sandbox) -> PathBuf {
    sb.root().join("home/.keywarden/rotations")
}

/// Nothing a rotation keeps while it runs is left: no journal, no pending keyring entry.
fn assert_no_rotation_leftovers(sb: &Sandbox, name: &str) {
    let journals: Vec<_> = std::fs::read_dir(rotations_dir(sb))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(journals.is_empty(), "{journals:?}");
    assert!(keyring(sb)["keys"].get(format!("{name}#pending")).is_none());
}

/// `keywarden run` hands out `want` as OPENAI_API_KEY.
fn assert_run_supplies(sb: &Sandbox, want: &str) {
    sb.run([
        "run",
        "--",
        "sh",
        "-c",
        "test \"$OPENAI_API_KEY\" = \"$WANT\"",
    ])
    .env("WANT", want)
    .success();
}

/// Registers `key` as `openai-prod` on DAY0, verified against `server`.
fn add_openai(sb: &Sandbox, server: &MockServer, key: &str, admin: Option<&str>) {
    let mut run = sb
        .run(["keys", "add", "openai-prod", "--provider", "openai"])
        .env("KEYWARDEN_OPENAI_BASE_URL", base(server))
        .env("KEYWARDEN_NOW", DAY0)
        .stdin(key);
    if let Some(admin) = admin {
        run = run.env("OPENAI_ADMIN_KEY", admin);
    }
    run.success().no_secret(key);
}

/// One error line on stderr (after whatever progress lines came before), containing
/// `needle`.
fn error_has(ran: &Ran, needle: &str) {
    let err = ran.stderr();
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("keywarden: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(needle), "lacks {needle:?}: {err}");
    assert_eq!(err.lines().last(), Some(errors[0]), "{err}");
}

/// Replaces the random and machine-specific parts of output for a snapshot.
fn normalize(text: &str, sb: &Sandbox, keys: &[(&str, &str)]) -> String {
    let mut out = text.replace(&sb.root().display().to_string(), "<SANDBOX>");
    for (key, label) in keys {
        out = out.replace(&keywarden::core::secret::redact(key), label);
    }
    out
}

// ---- the end-to-end rotations on the Admin API ----------------------------------------------

#[test]
fn a_service_accounts_key_is_rotated_through_the_admin_api_everywhere_it_is_used() {
    let sb = Sandbox::new();
    let admin = keys::openai_admin();
    let old = new_service_account_key();
    let org = org_with(&old, Some("svc_deploy"));
    let server = openai(Some(&admin), Arc::clone(&org));
    sb.write(
        ".env",
        format!("# OpenAI\nexport OPENAI_API_KEY=\"{old}\" # prod\nDEBUG=1\n"),
    );
    sb.write("api/.env.local", format!("OPENAI_API_KEY={old}\n"));
    add_openai(&sb, &server, &old, Some(&admin));
    // `keys add` found both files and recorded them.
    let locations = registry(&sb)["keys"][0]["locations"].clone();
    assert_eq!(locations.as_array().map(Vec::len), Some(2), "{locations}");

    let ran = sb
        .run(["rotate", "openai-prod", "--yes"])
        .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
        .env("OPENAI_ADMIN_KEY", &admin)
        .env("KEYWARDEN_NOW", LATER)
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .success()
        .stdout_has("rotated openai-prod")
        .stdout_has("2 files")
        .stdout_has("for service account deploy-bot")
        .stdout_has("the old key")
        .stdout_has("is revoked")
        .no_secret(&old)
        .no_secret(&admin);
    // Another key for the same service account, not a new account.
    assert_eq!(
        server.count(
            "POST",
            "/v1/organization/projects/proj_1/service_accounts/svc_deploy/api_keys"
        ),
        1
    );
    assert_eq!(
        server.count("POST", "/v1/organization/projects/proj_1/service_accounts"),
        0
    );
    let new = {
        let org = org.lock().expect("lock");
        assert!(!org.live.contains(&old), "the old key is deleted");
        org.keys[0].value.clone()
    };
    ran.no_secret(&new);
    // Both files, formatting kept.
    assert_eq!(
        sb.read(".env"),
        format!("# OpenAI\nexport OPENAI_API_KEY=\"{new}\" # prod\nDEBUG=1\n")
    );
    assert_eq!(sb.read("api/.env.local"), format!("OPENAI_API_KEY={new}\n"));
    assert_run_supplies(&sb, &new);
    let record = &registry(&sb)["keys"][0];
    assert_eq!(record["last_rotated"], "2026-05-11T09:00:00Z");
    assert_eq!(
        record["fingerprint"],
        keywarden::core::secret::fingerprint(&new)
    );
    assert_eq!(record["retired"][0]["revoked"]["how"], "api");
    assert!(record.get("pending_revocation").is_none(), "{record}");
    assert_no_rotation_leftovers(&sb, "openai-prod");
    assert!(keyring(&sb)["keys"].get("openai-prod#old").is_none());
    // Nothing is due any more.
    sb.run(["rotate", "--check"])
        .env("KEYWARDEN_NOW", LATER)
        .success()
        .stdout_has("no key is due");
}

#[test]
fn a_users_key_gets_a_new_service_account_in_its_project_and_is_then_deleted() {
    let sb = Sandbox::new();
    let admin = keys::openai_admin();
    let old = keys::openai_project();
    let org = org_with(&old, None);
    let server = openai(Some(&admin), Arc::clone(&org));
    sb.write(".env", format!("OPENAI_API_KEY='{old}'\n"));
    add_openai(&sb, &server, &old, Some(&admin));
    sb.run(["rotate", "openai-prod", "--yes"])
        .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
        .env("OPENAI_ADMIN_KEY", &admin)
        .env("KEYWARDEN_NOW", LATER)
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .success()
        .stdout_has("new service account keywarden-openai-prod-20260511")
        .stdout_has("in project Web")
        .stdout_has("deleted key key_old")
        .no_secret(&old)
        .no_secret(&admin);
    assert_eq!(
        server.count("POST", "/v1/organization/projects/proj_1/service_accounts"),
        1
    );
    let new = org.lock().expect("lock").keys[0].value.clone();
    assert_eq!(sb.read(".env"), format!("OPENAI_API_KEY='{new}'\n"));
    assert_run_supplies(&sb, &new);
    assert_no_rotation_leftovers(&sb, "openai-prod");
}

#[test]
fn on_a_terminal_the_new_service_account_is_offered_and_each_step_asked() {
    let sb = Sandbox::new();
    let admin = keys::openai_admin();
    let old = keys::openai_project();
    let org = org_with(&old, None);
    let server = openai(Some(&admin), Arc::clone(&org));
    sb.write(".env", format!("OPENAI_API_KEY={old}\n"));
    add_openai(&sb, &server, &old, Some(&admin));
    let url = base(&server);
    let Some(shown) = sb.on_terminal_with(
        "rotate openai-prod",
        &[
            ("KEYWARDEN_OPENAI_BASE_URL", url.as_str()),
            ("OPENAI_ADMIN_KEY", admin.as_str()),
            ("KEYWARDEN_NOW", LATER),
            ("KEYWARDEN_POLL_INTERVAL_MS", "10"),
        ],
        &[
            ("to hold its successor?", "y"),
            ("make this change?", "y"),
            ("Delete this key now?", "y"),
        ],
    ) else {
        return;
    };
    assert!(
        shown.contains("belongs to user Ada Lovelace <ada@example.com>"),
        "{shown}"
    );
    assert!(shown.contains("+OPENAI_API_KEY=<new key>"), "{shown}");
    assert!(shown.contains("rotated openai-prod"), "{shown}");
    assert!(shown.contains("is revoked"), "{shown}");
    assert!(!shown.contains(&old) && !shown.contains(&admin));
    let new = org.lock().expect("lock").keys[0].value.clone();
    assert!(!shown.contains(&new));
    assert_eq!(sb.read(".env"), format!("OPENAI_API_KEY={new}\n"));
}

#[test]
fn a_dry_run_shows_one_redacted_diff_and_changes_nothing() {
    let sb = Sandbox::new();
    let admin = keys::openai_admin();
    let old = keys::openai_project();
    let org = org_with(&old, None);
    let server = openai(Some(&admin), Arc::clone(&org));
    let env = format!("# OpenAI\nOPENAI_API_KEY={old}\nOTHER_SECRET=hunter2hunter2hunter2\n");
    sb.write(".env", &env);
    sb.write(
        "web/.env.production",
        format!("export OPENAI_API_KEY=\"{old}\"\n"),
    );
    add_openai(&sb, &server, &old, Some(&admin));
    let before = (registry(&sb), keyring(&sb));
    let ran = sb
        .run(["rotate", "openai-prod", "--dry-run"])
        .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
        .env("OPENAI_ADMIN_KEY", &admin)
        .env("KEYWARDEN_NOW", LATER)
        .success()
        .no_secret(&old)
        .hides("hunter2");
    insta::assert_snapshot!(
        "dry_run_plan",
        normalize(&ran.stdout(), &sb, &[(&old, "<OLD KEY>")])
    );
    assert_eq!(sb.read(".env"), env);
    assert_eq!((registry(&sb), keyring(&sb)), before);
    assert_eq!(
        server.count("POST", "/v1/organization/projects/proj_1/service_accounts"),
        0,
        "a dry run makes no key"
    );
    assert!(org.lock().expect("lock").live.contains(&old));
    assert_no_rotation_leftovers(&sb, "openai-prod");
}

// ---- keys from stdin, grace periods, --finish ----------------------------------------------

/// A mock OpenAI without an admin key where `keys` work.
fn plain_openai(keys: &[&str]) -> (MockServer, Arc<Mutex<Org>>) {
    let mut org = Org::default();
    org.live.extend(keys.iter().map(|k| k.to_string()));
    let org = Arc::new(Mutex::new(org));
    (openai(None, Arc::clone(&org)), org)
}

#[test]
fn a_grace_period_keeps_the_old_key_until_finish_revokes_it_and_check_and_hooks_remind() {
    let sb = Sandbox::new();
    let old = keys::openai_project();
    let new = keys::openai_project();
    let (server, org) = plain_openai(&[&old, &new]);
    sb.write(".env", format!("OPENAI_API_KEY={old}\n"));
    add_openai(&sb, &server, &old, None);
    sb.run([
        "rotate",
        "openai-prod",
        "--new-key-stdin",
        "--yes",
        "--grace",
        "2h",
    ])
    .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
    .env("KEYWARDEN_NOW", LATER)
    .stdin(new.clone())
    .success()
    .stdout_has("keeps working until 2026-05-11 11:00 UTC")
    .stdout_has("`keywarden rotate --finish openai-prod`")
    .no_secret(&old)
    .no_secret(&new);
    assert_eq!(sb.read(".env"), format!("OPENAI_API_KEY={new}\n"));
    let pending = registry(&sb)["keys"][0]["pending_revocation"].clone();
    assert_eq!(pending["not_before"], "2026-05-11T11:00:00Z", "{pending}");
    // Within the grace period: listed, not due.
    sb.run(["rotate", "--check"])
        .env("KEYWARDEN_NOW", "2026-05-11T10:00:00Z")
        .success()
        .stdout_has("grace period until 2026-05-11 11:00 UTC (not due yet)");
    // After it: due, in JSON too.
    let ran = sb
        .run(["rotate", "--check", "--format", "json"])
        .env("KEYWARDEN_NOW", "2026-05-11T12:00:00Z")
        .code(1);
    let report: serde_json::Value = serde_json::from_str(&ran.stdout()).expect("json");
    assert_eq!(report["revocations"][0]["overdue"], true, "{report}");
    assert_eq!(
        report["revocations"][0]["command"],
        "keywarden rotate --finish openai-prod"
    );
    assert_eq!(report["due"].as_array().map(Vec::len), Some(0));
    // The hook reminds of it.
    sb.write("README.md", "hi\n");
    sb.git(&["add", "README.md"]);
    sb.git(&["commit", "-q", "-m", "initial"]);
    install(&sb);
    let out = hooked_git(
        &sb,
        &["checkout", "-q", "-b", "feature"],
        "2026-05-11T12:00:00Z",
    );
    assert!(
        out.contains("the old key of openai-prod")
            && out.contains(": keywarden rotate --finish openai-prod"),
        "{out}"
    );
    // The advice, as printed: revoked by hand at the provider, found dead by the check.
    org.lock().expect("lock").kill(&old);
    let advice: Vec<&str> = out
        .rsplit(": keywarden ")
        .next()
        .expect("advice")
        .split_whitespace()
        .collect();
    sb.run(&advice)
        .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
        .env("KEYWARDEN_NOW", "2026-05-11T12:00:00Z")
        .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
        .success()
        .stdout_has("is revoked");
    let record = &registry(&sb)["keys"][0];
    assert!(record.get("pending_revocation").is_none(), "{record}");
    assert_eq!(record["retired"][0]["revoked"]["how"], "manual");
    assert!(keyring(&sb)["keys"].get("openai-prod#old").is_none());
    sb.run(["rotate", "--check"])
        .env("KEYWARDEN_NOW", "2026-05-11T12:00:00Z")
        .success();
}

// ---- crashes --------------------------------------------------------------------------------

#[test]
fn a_crash_between_two_file_writes_is_finished_by_running_rotate_again() {
    let sb = Sandbox::new();
    let old = keys::openai_project();
    let new = keys::openai_project();
    let (server, _org) = plain_openai(&[&old, &new]);
    let first = format!("OPENAI_API_KEY={old}\n");
    let second = format!("KEY=\"{old}\"\n");
    sb.write(".env", &first);
    sb.write("svc/.env", &second);
    add_openai(&sb, &server, &old, None);
    let rotate = |extra: &[&str]| {
        let mut args = vec!["rotate", "openai-prod", "--yes", "--grace", "1d"];
        args.extend_from_slice(extra);
        sb.run(args)
            .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
            .env("KEYWARDEN_NOW", LATER)
    };
    rotate(&["--new-key-stdin"])
        .env("KEYWARDEN_FAULT", "edits:renamed:1")
        .stdin(new.clone())
        .code(86);
    // One file is new, the other still old; neither is half-written.
    let contents = [sb.read(".env"), sb.read("svc/.env")];
    let renewed = contents.iter().filter(|c| c.contains(&new)).count();
    let kept = contents.iter().filter(|c| c.contains(&old)).count();
    assert_eq!((renewed, kept), (1, 1), "{contents:?}");
    // The new key was kept before any file changed; `run` still hands out the old one.
    assert!(keyring(&sb)["keys"].get("openai-prod#pending").is_some());
    assert_run_supplies(&sb, &old);
    // Running it again (no key needed: the rotation holds it) finishes the job.
    rotate(&[])
        .success()
        .stderr_has("an earlier rotation of openai-prod stopped (editing the files)")
        .stdout_has("rotated openai-prod")
        .no_secret(&new);
    assert_eq!(sb.read(".env"), format!("OPENAI_API_KEY={new}\n"));
    assert_eq!(sb.read("svc/.env"), format!("KEY=\"{new}\"\n"));
    assert_run_supplies(&sb, &new);
    assert_no_rotation_leftovers(&sb, "openai-prod");
    // The grace period chosen by the first run holds.
    assert_eq!(
        registry(&sb)["keys"][0]["pending_revocation"]["not_before"],
        "2026-05-12T09:00:00Z"
    );
}

#[test]
fn a_crash_at_every_step_of_a_rotation_is_finished_by_running_it_again() {
    for point in [
        "rotate:kept",
        "rotate:files",
        "edits:journaled",
        "edits:staged",
        "edits:renamed:2",
        "rotate:files-done",
        "rotate:keyring",
    ] {
        let sb = Sandbox::new();
        let old = keys::openai_project();
        let new = keys::openai_project();
        let (server, _org) = plain_openai(&[&old, &new]);
        sb.write(".env", format!("OPENAI_API_KEY={old}\n"));
        sb.write("svc/.env", format!("KEY='{old}'\n"));
        add_openai(&sb, &server, &old, None);
        let rotate = || {
            sb.run(["rotate", "openai-prod", "--yes", "--grace", "1h"])
                .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
                .env("KEYWARDEN_NOW", LATER)
        };
        rotate()
            .arg("--new-key-stdin")
            .env("KEYWARDEN_FAULT", point)
            .stdin(new.clone())
            .code(86);
        for file in [".env", "svc/.env"] {
            let text = sb.read(file);
            assert!(
                text.contains(&old) != text.contains(&new),
                "{point}: {file} is neither old nor new: {text}"
            );
        }
        rotate().success().stdout_has("rotated openai-prod");
        assert_eq!(
            sb.read(".env"),
            format!("OPENAI_API_KEY={new}\n"),
            "{point}"
        );
        assert_eq!(sb.read("svc/.env"), format!("KEY='{new}'\n"), "{point}");
        assert_run_supplies(&sb, &new);
        assert_no_rotation_leftovers(&sb, "openai-prod");
        let record = &registry(&sb)["keys"][0];
        assert_eq!(
            record["fingerprint"],
            keywarden::core::secret::fingerprint(&new),
            "{point}"
        );
        assert_eq!(
            record["pending_revocation"]["fingerprint"],
            keywarden::core::secret::fingerprint(&old),
            "{point}"
        );
        assert!(
            keyring(&sb)["keys"].get("openai-prod#old").is_some(),
            "{point}"
        );
    }
}

#[test]
fn a_key_the_api_made_is_never_lost_to_a_crash_and_abort_puts_everything_back() {
    let sb = Sandbox::new();
    let admin = keys::openai_admin();
    let old = keys::openai_project();
    let org = org_with(&old, Some("svc_deploy"));
    let server = openai(Some(&admin), Arc::clone(&org));
    let env = format!("OPENAI_API_KEY={old}\n");
    sb.write(".env", &env);
    add_openai(&sb, &server, &old, Some(&admin));
    let rotate = |args: &[&str]| {
        sb.run(args)
            .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
            .env("OPENAI_ADMIN_KEY", &admin)
            .env("KEYWARDEN_NOW", LATER)
            .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
    };
    let made = "/v1/organization/projects/proj_1/service_accounts/svc_deploy/api_keys";
    // Killed the moment the API's key is in the keyring, before the journal says so.
    rotate(&["rotate", "openai-prod", "--yes"])
        .env("KEYWARDEN_FAULT", "rotate:kept")
        .code(86);
    assert_eq!(server.count("POST", made), 1);
    assert_eq!(sb.read(".env"), env);
    // Killed again after the files, before the keyring took the key under its name.
    rotate(&["rotate", "openai-prod", "--yes"])
        .env("KEYWARDEN_FAULT", "rotate:files-done")
        .code(86);
    assert_eq!(
        server.count("POST", made),
        1,
        "the kept key was used, none made again"
    );
    let new = org.lock().expect("lock").keys[1].value.clone();
    assert_eq!(sb.read(".env"), format!("OPENAI_API_KEY={new}\n"));
    // And once more: finished, the old key deleted.
    rotate(&["rotate", "openai-prod", "--yes"])
        .success()
        .stdout_has("rotated openai-prod")
        .stdout_has("is revoked")
        .no_secret(&new);
    assert_eq!(server.count("POST", made), 1);
    assert_run_supplies(&sb, &new);
    assert_no_rotation_leftovers(&sb, "openai-prod");

    // The next rotation killed after its files: --abort puts the file back, drops the
    // pending key, and names the key the API made so it can be deleted.
    let current = format!("OPENAI_API_KEY={new}\n");
    rotate(&["rotate", "openai-prod", "--yes"])
        .env("KEYWARDEN_FAULT", "rotate:files-done")
        .code(86);
    assert_ne!(sb.read(".env"), current);
    let newer = org.lock().expect("lock").keys[1].value.clone();
    rotate(&["rotate", "openai-prod", "--abort"])
        .success()
        .stdout_has("the rotation of openai-prod is undone (.env put back)")
        .stdout_has("OpenAI made a key for it that still works: key_new_2")
        .no_secret(&newer);
    assert_eq!(sb.read(".env"), current);
    assert_no_rotation_leftovers(&sb, "openai-prod");
    assert_run_supplies(&sb, &new);
    sb.run(["rotate", "openai-prod", "--abort"])
        .code(2)
        .one_line_error("no unfinished rotation of openai-prod and no revocation waiting");
}

// ---- bad input: one line, exit 2, nothing half-written ---------------------------------------

#[test]
fn bad_input_is_one_line_exit_2_and_changes_nothing() {
    let sb = Sandbox::new();
    let old = keys::openai_project();
    let new = keys::openai_project();
    let dead = keys::openai_project();
    let (server, _org) = plain_openai(&[&old, &new]);
    let env = format!("OPENAI_API_KEY={old}\n");
    sb.write(".env", &env);
    add_openai(&sb, &server, &old, None);
    let rotate = |stdin: &str, extra: &[&str]| {
        let mut args = vec!["rotate", "openai-prod", "--new-key-stdin", "--yes"];
        args.extend_from_slice(extra);
        sb.run(args)
            .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
            .env("KEYWARDEN_NOW", LATER)
            .stdin(stdin.to_string())
    };
    let unchanged = |sb: &Sandbox| {
        assert_eq!(sb.read(".env"), env);
        assert_no_rotation_leftovers(sb, "openai-prod");
        assert_run_supplies(sb, &old);
    };

    // A new key that is dead.
    let ran = rotate(&dead, &[]).code(2).no_secret(&dead);
    error_has(&ran, "says the new key");
    error_has(
        &ran,
        "is dead (invalid_api_key: revoked or never valid); nothing was changed",
    );
    unchanged(&sb);

    // A new key with a character the line's quoting cannot hold.
    let dollar = format!("{}$X{}", &new[..40], &new[40..]);
    let ran = rotate(&dollar, &[]).code(2).one_line_error("re-quoting");
    assert!(!ran.text().contains(&dollar[..30]), "{}", ran.text());
    insta::assert_snapshot!("needs_requoting", normalize(&ran.stderr(), &sb, &[]));
    unchanged(&sb);

    // A read-only .env (refused even for root, who could write it).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(sb.path(".env"), std::fs::Permissions::from_mode(0o400))
            .expect("chmod");
        rotate(&new, &[]).code(2).one_line_error("is not writable");
        let mode = std::fs::metadata(sb.path(".env"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
        std::fs::set_permissions(sb.path(".env"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        unchanged(&sb);
    }

    // Without a terminal or --yes nothing starts; a bad --grace names itself.
    sb.run(["rotate", "openai-prod", "--new-key-stdin"])
        .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
        .stdin(new.clone())
        .code(2)
        .one_line_error("pass --yes");
    sb.run(["rotate", "openai-prod", "--yes", "--grace", "soon"])
        .code(2)
        .one_line_error("--grace: `soon` is not a duration");
    sb.run(["rotate", "nope", "--yes"])
        .code(2)
        .one_line_error("no key named `nope`");
    unchanged(&sb);

    // A registered location that no longer exists: refused, then left out on request.
    sb.run([
        "keys",
        "add",
        "openai-prod",
        "--provider",
        "openai",
        "--replace",
        "--used-in",
        "gone/.env",
    ])
    .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
    .env("KEYWARDEN_NOW", DAY0)
    .stdin(old.clone())
    .success();
    rotate(&new, &[])
        .code(2)
        .one_line_error("gone/.env no longer exists (pass --skip-missing");
    unchanged(&sb);
    rotate(&new, &["--skip-missing", "--grace", "1h"])
        .success()
        .stdout_has("rotated openai-prod");
    assert_eq!(sb.read(".env"), format!("OPENAI_API_KEY={new}\n"));
    let locations = registry(&sb)["keys"][0]["locations"].to_string();
    assert!(!locations.contains("gone"), "{locations}");

    // A new key while the old one waits for its revocation: that comes first.
    sb.run(["rotate", "openai-prod", "--yes", "--new-key-stdin"])
        .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
        .stdin(dead.clone())
        .code(2)
        .one_line_error("is still to be revoked: `keywarden rotate --finish openai-prod` first");
    sb.run(["rotate", "openai-prod", "--abort"])
        .success()
        .stdout_has("the revocation of the old key");
    // No admin key, no terminal, no stdin: where the new key comes from is said.
    sb.run(["rotate", "openai-prod", "--yes", "--grace", "1h"])
        .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
        .code(2)
        .one_line_error(
            "create one at https://platform.openai.com/api-keys and give it with --new-key-stdin",
        );
}

// ---- one key in three repositories -----------------------------------------------------------

#[test]
fn one_key_used_in_three_repositories_is_one_record_and_is_rotated_in_all_three() {
    let sb = Sandbox::new();
    let old = keys::openai_project();
    let new = keys::openai_project();
    let (server, _org) = plain_openai(&[&old, &new]);
    let repos: Vec<PathBuf> = ["repo", "billing", "frontend"]
        .iter()
        .map(|name| sb.root().join(name))
        .collect();
    let contents = [
        format!("OPENAI_API_KEY={old}\n"),
        format!("# billing\r\nexport OPENAI_API_KEY='{old}'\r\n"),
        format!("\u{feff}VITE_OPENAI_KEY=\"{old}\" # build time\n"),
    ];
    for (dir, content) in repos.iter().zip(&contents) {
        if !dir.join(".git").exists() {
            std::fs::create_dir_all(dir).expect("mkdir");
            sb.git_in(dir, &["init", "-q", "-b", "main"]);
        }
        std::fs::write(dir.join(".env"), content).expect("write");
        sb.run(["keys", "import"])
            .current_dir(dir)
            .env("KEYWARDEN_NOW", DAY0)
            .success()
            .no_secret(&old);
    }
    let record = &registry(&sb)["keys"];
    assert_eq!(record.as_array().map(Vec::len), Some(1), "{record}");
    assert_eq!(record[0]["name"], "repo-openai");
    assert_eq!(record[0]["locations"].as_array().map(Vec::len), Some(3));
    assert_eq!(record[0]["in_keyring"], false, "tracked, not moved");

    sb.run([
        "rotate",
        "repo-openai",
        "--new-key-stdin",
        "--yes",
        "--grace",
        "1d",
    ])
    .current_dir(&repos[1])
    .env("KEYWARDEN_OPENAI_BASE_URL", base(&server))
    .env("KEYWARDEN_NOW", LATER)
    .stdin(new.clone())
    .success()
    .stdout_has("3 files")
    .no_secret(&new);
    for (dir, content) in repos.iter().zip(&contents) {
        let now = std::fs::read_to_string(dir.join(".env")).expect("read");
        assert_eq!(now, content.replace(&old, &new), "{}", dir.display());
    }
    // Rotated keys live in the keyring: `run` supplies the new one.
    assert_run_supplies(&sb, &new);
}

// ---- keys import ------------------------------------------------------------------------------

#[test]
fn import_move_puts_keys_in_the_keyring_and_empties_the_file_so_run_supplies_them() {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    let token = keys::github_pat();
    let url = format!("postgres://app:{}@db/app", keys::fake("{alnum:24}"));
    let env = format!(
        "# app\nOPENAI_API_KEY={key}\nexport GITHUB_TOKEN=\"{token}\" # ci\nDATABASE_URL={url}\nDEBUG=1\n"
    );
    sb.write(".env", &env);
    sb.run(["keys", "import", ".env", "--move"])
        .code(2)
        .one_line_error("pass --yes");
    assert_eq!(sb.read(".env"), env);
    let ran = sb
        .run(["keys", "import", ".env", "--move", "--yes"])
        .env("KEYWARDEN_NOW", DAY0)
        .success()
        .stdout_has("registered repo-openai: OpenAI key")
        .stdout_has("registered repo-github: GitHub key")
        .stdout_has("moved into the keyring")
        .stdout_has("left in place: DATABASE_URL in .env holds the key inside a longer value")
        .stdout_has("-OPENAI_API_KEY=sk-p")
        .stdout_has("+OPENAI_API_KEY=")
        .no_secret(&key)
        .no_secret(&token);
    assert!(
        ran.stdout().contains("emptied the values in .env"),
        "{}",
        ran.stdout()
    );
    assert_eq!(
        sb.read(".env"),
        format!(
            "# app\nOPENAI_API_KEY=\nexport GITHUB_TOKEN=\"\" # ci\nDATABASE_URL={url}\nDEBUG=1\n"
        )
    );
    assert_run_supplies(&sb, &key);
    sb.run([
        "run",
        "--",
        "sh",
        "-c",
        "test \"$GITHUB_TOKEN\" = \"$WANT\"",
    ])
    .env("WANT", &token)
    .success();
    // Again: nothing new, nothing to move; the database password stays where it is, inside
    // its URL (it is registered, so its age is tracked).
    let again = sb
        .run(["keys", "import", "--move", "--yes"])
        .success()
        .stdout_has("known repo-database-url")
        .stdout_has("left in place: DATABASE_URL in .env holds the key inside a longer value");
    assert!(!again.stdout().contains("registered"), "{}", again.stdout());
    // The inventory shows them with their files.
    sb.run(["keys", "list"])
        .success()
        .stdout_has("repo-openai")
        .stdout_has(&sb.path(".env").display().to_string());
}

// ---- policy, check, schedule, status ----------------------------------------------------------

#[test]
fn the_policy_comes_from_the_repository_and_the_user_and_bad_values_name_file_and_key() {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    sb.write(".env", format!("OPENAI_API_KEY={key}\n"));
    sb.run(["keys", "import"])
        .env("KEYWARDEN_NOW", DAY0)
        .success();
    let check = |now: &str| sb.run(["rotate", "--check"]).env("KEYWARDEN_NOW", now);
    // 20 days old: not due by default.
    check("2026-01-21T09:00:00Z").success();
    // The user says 14 days for OpenAI keys.
    let user_config = sb.root().join("home/.config/keywarden/config.toml");
    std::fs::create_dir_all(user_config.parent().expect("dir")).expect("mkdir");
    std::fs::write(&user_config, "[rotation.providers]\nopenai = 14\n").expect("write");
    let ran = check("2026-01-21T09:00:00Z")
        .code(1)
        .stdout_has("repo-openai (OPENAI_API_KEY, sk-p")
        .stdout_has(
            "20 days old, due since 2026-01-15 (max 14 days): `keywarden rotate repo-openai`",
        );
    insta::assert_snapshot!(
        "check_due",
        normalize(&ran.stdout(), &sb, &[(&key, "<KEY>")])
    );
    // The repository says 30 for this key, and wins.
    sb.write(".keywarden.toml", "[rotation.keys]\nrepo-openai = 30\n");
    check("2026-01-21T09:00:00Z").success();
    // Bad values: file, line and setting, exit 2.
    sb.write(".keywarden.toml", "[rotation]\nmax_age_days = \"ninety\"\n");
    check(DAY0)
        .code(2)
        .one_line_error(".keywarden.toml:2: rotation.max_age_days: must be a whole number of days from 1 to 36500, not `\"ninety\"`");
    std::fs::remove_file(sb.path(".keywarden.toml")).expect("rm");
    std::fs::write(&user_config, "[rotation.providers]\nopnai = 14\n").expect("write");
    check(DAY0)
        .code(2)
        .one_line_error("config.toml:2: rotation.providers.opnai: unknown provider");
}

#[test]
fn schedule_prints_cron_and_systemd_entries_that_run_the_check_with_the_absolute_binary() {
    let sb = Sandbox::empty();
    let binary = std::fs::canonicalize(assert_cmd::cargo::cargo_bin("keywarden")).expect("bin");
    let ran = sb.run(["rotate", "--schedule"]).success();
    let text = ran.stdout();
    let home = sb.root().join("home");
    let line = format!(
        "0 9 * * * KEYWARDEN_HOME={} XDG_CONFIG_HOME={} {} rotate --check",
        home.join(".keywarden").display(),
        home.join(".config").display(),
        binary.display()
    );
    assert!(text.contains(&line), "{text}");
    assert!(text.contains(&format!("ExecStart={} rotate --check", binary.display())));
    assert!(text.contains(
        &home
            .join(".config/systemd/user/keywarden-rotate-check.timer")
            .display()
            .to_string()
    ));
    assert!(text.contains("OnCalendar=*-*-* 09:00:00"));
    // The crontab line works as printed (here: nothing registered, nothing due).
    let out = std::process::Command::new("sh")
        .args(["-c", line.split_once("* * * ").expect("command").1])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no key is due"));
}

#[test]
fn status_lists_the_keys_used_here_with_age_last_rotation_and_due_date() {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    install(&sb);
    sb.write(".env", format!("OPENAI_API_KEY={key}\n"));
    sb.run(["status"])
        .env("KEYWARDEN_NOW", LATER)
        .success()
        .stdout_has("keys used here: none registered");
    sb.run(["keys", "import"])
        .env("KEYWARDEN_NOW", DAY0)
        .success();
    sb.run(["status"])
        .env("KEYWARDEN_NOW", "2026-01-31T09:00:00Z")
        .success()
        .stdout_has(
            "repo-openai (OPENAI_API_KEY): 30 days old, never rotated, due in 60 days (2026-04-01)",
        );
    sb.run(["status"])
        .env("KEYWARDEN_NOW", LATER)
        .success()
        .stdout_has(
            "130 days old, never rotated, due since 2026-04-01: `keywarden rotate repo-openai`",
        )
        .no_secret(&key);
}

#[test]
fn install_registers_the_keys_in_env_files_for_rotation() {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    sb.write(".env", format!("OPENAI_API_KEY={key}\n"));
    sb.write(
        "config/.env.local",
        format!("TOKEN={}\n", keys::github_pat()),
    );
    let out = install(&sb);
    assert!(out.contains("tracked for rotation as repo-openai"), "{out}");
    assert!(out.contains("tracked for rotation as repo-token"), "{out}");
    assert!(!out.contains(&key));
    assert_eq!(registry(&sb)["keys"].as_array().map(Vec::len), Some(2));
    // Nothing was put in the keyring, and install again says nothing new.
    assert!(keyring(&sb)["keys"]
        .as_object()
        .is_none_or(|k| k.is_empty()));
    let again = install(&sb);
    assert!(!again.contains("tracked for rotation"), "{again}");
}

// ---- the reminder hooks -------------------------------------------------------------------------

fn install(sb: &Sandbox) -> String {
    sb.run(["install", "--yes"]).success().stdout()
}

/// Runs git in the repository with the hooks installed and `now` as keywarden's clock;
/// returns everything it printed.
fn hooked_git(sb: &Sandbox, args: &[&str], now: &str) -> String {
    let out = sb
        .git_cmd_in(&sb.repo())
        .env("KEYWARDEN_NOW", now)
        .args(args)
        .output()
        .expect("git");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_reminder_comes_once_a_day_per_repository_and_its_advice_works_as_printed() {
    let sb = Sandbox::new();
    let old = keys::openai_project();
    let new = keys::openai_project();
    let (server, _org) = plain_openai(&[&old, &new]);
    sb.write("README.md", "hi\n");
    sb.commit_all("initial");
    install(&sb);
    sb.write(".env", format!("OPENAI_API_KEY={old}\n"));
    sb.run(["keys", "import"])
        .env("KEYWARDEN_NOW", DAY0)
        .success();
    // Not due: nothing.
    let out = hooked_git(
        &sb,
        &["checkout", "-q", "-b", "one"],
        "2026-02-01T09:00:00Z",
    );
    assert_eq!(out, "");
    // Due: one line, on the first checkout of the day only.
    let first = hooked_git(&sb, &["checkout", "-q", "-b", "two"], LATER);
    assert_eq!(
        first,
        "keywarden: OPENAI_API_KEY (repo-openai) is 130 days old: keywarden rotate repo-openai\n"
    );
    assert_eq!(hooked_git(&sb, &["checkout", "-q", "main"], LATER), "");
    sb.run(["hook", "post-merge", "0"])
        .env("KEYWARDEN_NOW", LATER)
        .success()
        .hides("keywarden:");
    // A linked worktree belongs to the same repository: already reminded today.
    let wt = sb.root().join("wt").display().to_string();
    let out = hooked_git(&sb, &["worktree", "add", "-q", &wt, "-b", "three"], LATER);
    assert!(!out.contains("keywarden:"), "{out}");
    // The next day: again.
    let next = hooked_git(&sb, &["checkout", "-q", "one"], NEXT_DAY);
    assert_eq!(
        next,
        "keywarden: OPENAI_API_KEY (repo-openai) is 131 days old: keywarden rotate repo-openai\n"
    );
    // The advice exactly as printed, on a terminal: the new key pasted, the change
    // confirmed, the old key revoked by hand (the page not opened, the wait stopped).
    let advice = next
        .trim_end()
        .rsplit(": keywarden ")
        .next()
        .expect("advice");
    let url = base(&server);
    let Some(shown) = sb.on_terminal_with(
        advice,
        &[
            ("KEYWARDEN_OPENAI_BASE_URL", url.as_str()),
            ("KEYWARDEN_NOW", NEXT_DAY),
            ("KEYWARDEN_POLL_INTERVAL_MS", "10"),
        ],
        &[
            ("The new key for repo-openai (input hidden): ", new.as_str()),
            ("make this change?", "y"),
            ("in your browser?", "n"),
            ("press Enter to stop", ""),
        ],
    ) else {
        return;
    };
    assert!(
        shown.contains("create a new OpenAI key at https://platform.openai.com/api-keys"),
        "{shown}"
    );
    assert!(shown.contains("rotated repo-openai"), "{shown}");
    assert!(shown.contains("OpenAI keys are revoked by hand"), "{shown}");
    assert!(
        shown.contains("`keywarden rotate --finish repo-openai` checks again"),
        "{shown}"
    );
    assert!(!shown.contains(&new) && !shown.contains(&old));
    assert_eq!(sb.read(".env"), format!("OPENAI_API_KEY={new}\n"));
}

#[test]
fn the_reminder_never_fails_a_checkout() {
    let sb = Sandbox::new();
    sb.write("README.md", "hi\n");
    sb.commit_all("initial");
    install(&sb);
    sb.write(
        ".env",
        format!("OPENAI_API_KEY={}\n", keys::openai_project()),
    );
    sb.run(["keys", "import"])
        .env("KEYWARDEN_NOW", DAY0)
        .success();
    let registry = sb.root().join("home/.keywarden/registry.json");
    let good = std::fs::read(&registry).expect("registry");
    // A registry that cannot be read: no reminder, no failure.
    std::fs::write(&registry, "{not json").expect("write");
    assert_eq!(hooked_git(&sb, &["checkout", "-q", "-b", "x"], LATER), "");
    // A configuration that cannot be read: the default policy reminds.
    std::fs::write(&registry, good).expect("write");
    sb.write(".keywarden.toml", "[rotation]\nmax_age_days = 0\n");
    let out = hooked_git(&sb, &["checkout", "-q", "main"], LATER);
    assert!(out.contains("is 130 days old"), "{out}");
    // A stamp that cannot be written: no reminder rather than one on every checkout.
    std::fs::remove_file(sb.repo().join(".git/keywarden/reminded")).expect("rm");
    std::fs::create_dir_all(sb.repo().join(".git/keywarden/reminded")).expect("mkdir");
    assert_eq!(hooked_git(&sb, &["checkout", "-q", "x"], NEXT_DAY), "");
}
