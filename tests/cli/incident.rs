//! `keywarden incident` from the outside, in sealed repositories whose OpenAI key was
//! committed, pushed to a local bare remote and removed in a later commit, with a mock
//! OpenAI organization (admin, usage and costs APIs) on 127.0.0.1: the whole response with
//! no questions, the manual revocation that leaves the key live, an unpushed leak, a crash
//! between every two stages and the run that goes on, the pre-push refusal of the old
//! history, one run on a terminal, and bad input.

use crate::purge::{all_objects, contains};
use crate::support::mock_server::MockServer;
use crate::support::openai::{base, openai, org_with, Org};
use crate::support::run::{Ran, Run};
use crate::support::{keys, Sandbox};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Three days after the leaking commit (2026-01-02T03:04:05Z, the sandbox's commit date).
const NOW: &str = "2026-01-05T03:04:05Z";
/// Unix seconds of the leaking commit.
const LEAKED_AT: i64 = 1_767_323_045;

struct Leak {
    sb: Sandbox,
    key: String,
    admin: String,
    server: MockServer,
    org: Arc<Mutex<Org>>,
    remote: Option<PathBuf>,
}

const ENV_FILE: &str = "# local settings\nOPENAI_API_KEY={key}\nDEBUG=1\n";

/// A repository whose key was committed in config.py, removed in the next commit, kept in
/// an ignored .env, and (when `pushed`) pushed to `origin`, a bare repository beside it.
fn leak(pushed: bool) -> Leak {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    let admin = keys::openai_admin();
    sb.write(".gitignore", ".env\n");
    sb.write("config.py", format!("OPENAI_API_KEY = \"{key}\"\n"));
    sb.commit_all("add the config");
    sb.write(
        "config.py",
        "import os\nOPENAI_API_KEY = os.environ[\"OPENAI_API_KEY\"]\n",
    );
    sb.commit_all("read the key from the environment");
    sb.write(".env", ENV_FILE.replace("{key}", &key));
    let remote = pushed.then(|| {
        let path = sb.root().join("origin.git");
        sb.git_in(
            sb.root(),
            &["init", "-q", "--bare", &path.to_string_lossy()],
        );
        sb.git(&["remote", "add", "origin", &path.to_string_lossy()]);
        sb.git(&["push", "-q", "origin", "main"]);
        path
    });
    let org = org_with(&key, None);
    {
        let mut org = org.lock().expect("org");
        // A quiet key before the leak, busy after it.
        org.usage.push((LEAKED_AT - 7200, 10, 0.01));
        org.usage.push((LEAKED_AT + 3600, 1240, 3.75));
    }
    let server = openai(Some(&admin), Arc::clone(&org));
    Leak {
        sb,
        key,
        admin,
        server,
        org,
        remote,
    }
}

impl Leak {
    /// `keywarden incident ARGS` against the mock, at NOW, with the admin key.
    fn incident(&self, args: &[&str]) -> Run {
        let mut all = vec!["incident"];
        all.extend_from_slice(args);
        self.sb
            .run(all)
            .env("KEYWARDEN_OPENAI_BASE_URL", base(&self.server))
            .env("KEYWARDEN_NOW", NOW)
            .env("KEYWARDEN_POLL_INTERVAL_MS", "10")
            .env("OPENAI_ADMIN_KEY", &self.admin)
    }

    /// `incident` as for someone with no admin key: the revocation is manual.
    fn incident_by_hand(&self, args: &[&str]) -> Run {
        self.incident(args).env_remove("OPENAI_ADMIN_KEY")
    }

    fn live(&self, key: &str) -> bool {
        self.org.lock().expect("org").live.contains(key)
    }

    fn new_keys(&self) -> Vec<String> {
        let org = self.org.lock().expect("org");
        org.keys
            .iter()
            .filter(|k| k.value != self.key)
            .map(|k| k.value.clone())
            .collect()
    }
}

fn incident_dirs(sb: &Sandbox) -> Vec<PathBuf> {
    let dir = sb.path(".git/keywarden/incidents");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

fn state(sb: &Sandbox) -> serde_json::Value {
    let dir = incident_dirs(sb).pop().expect("an incident directory");
    let text = std::fs::read_to_string(dir.join("state.json")).expect("state.json");
    serde_json::from_str(&text).expect("state.json is JSON")
}

fn keyring(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.root().join("home/keyring.ron")).unwrap_or_default()
}

/// Every file under `dir`, read (what the incident left on disk).
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path, bytes));
        }
    }
    found
}

fn assert_no_object_holds(sb: &Sandbox, dir: &Path, key: &str) {
    assert!(
        !contains(&all_objects(sb, dir), key),
        "an object in {} still holds the key",
        dir.display()
    );
}

fn assert_report_has_no_secret(sb: &Sandbox, secrets: &[&str]) {
    let dir = incident_dirs(sb).pop().expect("an incident directory");
    let files = files_under(&dir);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("report.md")),
        "no report.md in {}",
        dir.display()
    );
    assert!(files.iter().any(|(p, _)| p.ends_with("report.json")));
    for (path, bytes) in files {
        for secret in secrets {
            assert!(
                !contains(&bytes, secret),
                "{} holds a secret in full",
                path.display()
            );
        }
    }
}

fn done(ran: &Ran, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !ran.text().contains(secret),
            "printed a secret:\n{}",
            ran.text()
        );
    }
}

// ---- the whole response ---------------------------------------------------------------------

#[test]
fn a_pushed_leak_is_revoked_replaced_purged_pushed_and_reported_with_no_questions() {
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let ran = leak
        .incident(&["--secret-stdin", "--yes", "--push", "origin"])
        .stdin(format!("{key}\n"))
        .success();
    let new = leak.new_keys();
    assert_eq!(new.len(), 1, "one new key made: {new:?}");
    let new = new[0].as_str();
    done(&ran, &[key, new, &leak.admin]);
    let out = ran.stdout();
    // The exposure, first.
    assert!(out.contains("config.py"), "{out}");
    assert!(out.contains("origin"), "{out}");
    assert!(out.contains("1240"), "the usage since the leak: {out}");
    // Contained, replaced, purged, pushed.
    assert!(!leak.live(key), "the old key still works at the mock");
    assert!(leak.live(new));
    assert!(out.contains("contain: the key is dead"), "{out}");
    assert!(out.contains("RESOLVED"), "{out}");
    assert_eq!(
        sb.read(".env"),
        ENV_FILE.replace("{key}", new),
        "the .env holds the new key, every other byte unchanged"
    );
    let ring = keyring(sb);
    assert!(ring.contains(new), "the keyring holds the new key");
    assert!(
        !ring.contains(key),
        "the keyring still holds the leaked key"
    );
    sb.git(&["gc", "-q", "--prune=now"]);
    assert_no_object_holds(sb, &sb.repo(), key);
    let remote = leak.remote.as_ref().expect("a remote");
    sb.git_in(remote, &["gc", "-q", "--prune=now"]);
    assert_no_object_holds(sb, remote, key);
    assert_eq!(
        sb.git_in(remote, &["rev-parse", "main"]),
        sb.git(&["rev-parse", "main"])
    );
    let state = state(sb);
    assert_eq!(state["closed"]["resolved"], true, "{state:#}");
    assert_eq!(state["contain"]["how"], "api");
    assert_report_has_no_secret(sb, &[key, new, &leak.admin]);
    let report =
        std::fs::read_to_string(incident_dirs(sb).pop().expect("incident").join("report.md"))
            .expect("report.md");
    assert!(report.contains("git cat-file -e"), "{report}");
    assert!(report.contains("RESOLVED"), "{report}");
    // Closed: the status says so, and a new run has nothing open to go on with.
    leak.incident(&["--status"])
        .success()
        .stdout_has("closed")
        .stdout_has("resolved");
}

// ---- revoked by hand ------------------------------------------------------------------------

#[test]
fn a_key_revoked_by_hand_that_stays_live_leaves_the_incident_open_until_it_dies() {
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let new = keys::openai_project();
    leak.org.lock().expect("org").live.insert(new.clone());
    let ran = leak
        .incident_by_hand(&[
            "--secret-stdin",
            "--new-key-stdin",
            "--yes",
            "--max-checks",
            "3",
            "--push",
            "origin",
        ])
        .stdin(format!("{key}\n{new}\n"))
        .code(1);
    done(&ran, &[key, &new]);
    let text = ran.text();
    assert!(text.contains("revoked by hand"), "{text}");
    assert!(
        text.contains("https://platform.openai.com/"),
        "the page: {text}"
    );
    assert!(
        text.contains("check 3/3: still live"),
        "the countdown: {text}"
    );
    assert!(text.contains("STILL LIVE"), "{text}");
    let last = ran.stdout().lines().last().unwrap_or_default().to_string();
    assert!(last.contains("NOT RESOLVED"), "{last}");
    // Everything else was done: the new key is in place, history is clean.
    assert_eq!(sb.read(".env"), ENV_FILE.replace("{key}", &new));
    let remote = leak.remote.as_ref().expect("remote");
    sb.git_in(remote, &["gc", "-q", "--prune=now"]);
    assert_no_object_holds(sb, remote, key);
    let state = state(sb);
    assert!(state["closed"].is_null(), "still open: {state:#}");
    assert_report_has_no_secret(sb, &[key, &new]);
    let report =
        std::fs::read_to_string(incident_dirs(sb).pop().expect("incident").join("report.md"))
            .expect("report.md");
    assert!(report.contains("NOT RESOLVED"), "{report}");
    leak.incident(&["--status"])
        .success()
        .stdout_has("OPEN")
        .stdout_has("the key still works");
    // Revoked at last: the next run checks it and closes the incident.
    leak.org.lock().expect("org").kill(key);
    let ran = leak.incident_by_hand(&["--yes"]).success();
    done(&ran, &[key, &new]);
    assert!(
        ran.stdout().contains("already refuses the key"),
        "{}",
        ran.stdout()
    );
    assert!(ran
        .stdout()
        .lines()
        .last()
        .unwrap_or_default()
        .contains("RESOLVED"));
    assert_eq!(state_of(sb)["closed"]["resolved"], true);
    assert!(
        !keyring(sb).contains(key),
        "the leaked key left the keyring"
    );
}

fn state_of(sb: &Sandbox) -> serde_json::Value {
    state(sb)
}

// ---- a leak that never left the machine -----------------------------------------------------

#[test]
fn an_unpushed_leak_says_local_only_and_needs_no_force_push() {
    let leak = leak(false);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let ran = leak
        .incident(&["--secret-stdin", "--yes"])
        .stdin(format!("{key}\n"))
        .success();
    let out = ran.stdout();
    assert!(out.contains("not pushed: local only"), "{out}");
    assert!(
        !out.contains("git push"),
        "no push advice for a local leak: {out}"
    );
    assert!(!out.contains("Tell everyone with a clone"), "{out}");
    assert!(!leak.live(key));
    sb.git(&["gc", "-q", "--prune=now"]);
    assert_no_object_holds(sb, &sb.repo(), key);
    assert_report_has_no_secret(sb, &[key, &leak.admin]);
}

// ---- killed anywhere ------------------------------------------------------------------------

#[test]
fn a_crash_between_any_two_steps_is_finished_by_running_incident_again() {
    for point in [
        "incident:begun",
        "incident:contain",
        "rotate:files",
        "incident:replace",
        "purge:before-refs",
        "purge:before-push",
        "purge:before-gc",
        "incident:purge",
    ] {
        let leak = leak(true);
        let (sb, key) = (&leak.sb, leak.key.as_str());
        let ran = leak
            .incident(&["--secret-stdin", "--yes", "--push", "origin"])
            .env("KEYWARDEN_FAULT", point)
            .stdin(format!("{key}\n"))
            .code(86);
        done(&ran, &[key]);
        leak.incident(&["--status"]).success().stdout_has("OPEN");
        // No key given again: the incident's keyring entry holds it.
        let ran = leak.incident(&["--yes"]).success();
        done(&ran, &[key]);
        assert!(
            ran.stderr().contains("going on with incident"),
            "{point}: {}",
            ran.stderr()
        );
        let new = leak.new_keys();
        assert_eq!(new.len(), 1, "{point}: one new key, not two: {new:?}");
        assert!(!leak.live(key), "{point}");
        assert_eq!(
            sb.read(".env"),
            ENV_FILE.replace("{key}", &new[0]),
            "{point}"
        );
        sb.git(&["gc", "-q", "--prune=now"]);
        assert_no_object_holds(sb, &sb.repo(), key);
        let remote = leak.remote.as_ref().expect("remote");
        sb.git_in(remote, &["gc", "-q", "--prune=now"]);
        assert_no_object_holds(sb, remote, key);
        assert_eq!(state(sb)["closed"]["resolved"], true, "{point}");
        assert_report_has_no_secret(sb, &[key, &new[0], &leak.admin]);
        assert!(
            !keyring(sb).contains(key),
            "{point}: the leaked key left the keyring"
        );
        assert!(!keyring(sb).contains("incident#"), "{point}");
    }
}

#[test]
fn abort_stops_an_open_incident_and_undoes_an_unfinished_purge() {
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let before = sb.git(&["rev-parse", "main"]);
    leak.incident(&["--secret-stdin", "--yes", "--skip-revoke"])
        .env("KEYWARDEN_FAULT", "purge:before-gc")
        .stdin(format!("{key}\n"))
        .code(86);
    assert_ne!(sb.git(&["rev-parse", "main"]), before, "the refs moved");
    let status = sb.keywarden().arg("status").output().expect("status");
    let shown = crate::support::text(&status);
    assert!(
        shown.contains("incident: ") && shown.contains("`keywarden incident` goes on"),
        "{shown}"
    );
    leak.incident(&["--abort"])
        .success()
        .stdout_has("is stopped");
    assert_eq!(
        sb.git(&["rev-parse", "main"]),
        before,
        "the purge was undone"
    );
    assert_eq!(state(sb)["closed"]["abandoned"], true);
    assert!(
        !keyring(sb).contains("incident#"),
        "the incident's keyring entry is gone"
    );
    leak.incident(&["--status"])
        .success()
        .stdout_has("abandoned");
    leak.incident(&["--abort"])
        .code(2)
        .one_line_error("no incident is open here");
}

// ---- the old history stays out --------------------------------------------------------------

#[test]
fn after_the_purge_the_pre_push_hook_refuses_the_old_history_and_its_rebase_advice_works() {
    use crate::support::githooks::{hooked_git, run_printed};
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let remote = leak.remote.clone().expect("remote");
    // A collaborator's clone from before the purge, with work of their own on top.
    let stale = sb.root().join("stale");
    sb.git_in(
        sb.root(),
        &[
            "clone",
            "-q",
            "-b",
            "main",
            &remote.to_string_lossy(),
            &stale.to_string_lossy(),
        ],
    );
    std::fs::write(stale.join("notes.txt"), "their work\n").expect("write");
    sb.git_in(&stale, &["add", "notes.txt"]);
    sb.git_in(&stale, &["commit", "-q", "-m", "their work"]);
    leak.incident(&["--secret-stdin", "--yes", "--push", "origin"])
        .stdin(format!("{key}\n"))
        .success();
    sb.run(["install"]).success();
    sb.git(&["fetch", "-q", &stale.to_string_lossy(), "main:stale-main"]);
    let refused = hooked_git(sb, &sb.repo(), &["push", "-q", "origin", "stale-main"]);
    assert!(!refused.status.success(), "the old history was pushed");
    let told = crate::support::text(&refused);
    assert!(!told.contains(key), "{told}");
    let printed = told
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("git rebase --onto "))
        .unwrap_or_else(|| panic!("no rebase advice: {told}"))
        .to_string();
    run_printed(sb, &sb.repo(), &printed);
    let pushed = hooked_git(sb, &sb.repo(), &["push", "-q", "origin", "stale-main"]);
    assert!(pushed.status.success(), "{}", crate::support::text(&pushed));
    assert_eq!(
        sb.git_in(&remote, &["show", "stale-main:notes.txt"]).trim(),
        "their work"
    );
    sb.git_in(&remote, &["gc", "-q", "--prune=now"]);
    assert_no_object_holds(sb, &remote, key);
}

// ---- bad input ------------------------------------------------------------------------------

#[test]
fn outside_a_repository_is_one_line_and_exit_2() {
    let sb = Sandbox::empty();
    sb.run(["incident", "--secret-stdin", "--yes"])
        .stdin(format!("{}\n", keys::openai_project()))
        .code(2)
        .one_line_error("not in a git repository");
}

#[test]
fn a_key_that_is_not_here_is_said_and_opens_nothing() {
    let leak = leak(true);
    let other = keys::openai_project();
    let ran = leak
        .incident(&["--secret-stdin", "--yes"])
        .stdin(format!("{other}\n"))
        .code(2);
    done(&ran, &[&other]);
    assert!(
        ran.stderr().contains("nothing to clean up here"),
        "{}",
        ran.stderr()
    );
    assert!(incident_dirs(&leak.sb).is_empty(), "an incident was opened");
    leak.incident(&["--secret-stdin", "--yes"])
        .stdin("\n")
        .code(2)
        .one_line_error("stdin");
    leak.incident(&["--yes"])
        .code(2)
        .one_line_error("--secret-stdin");
    let key = leak.key.as_str();
    leak.incident(&["--secret-stdin"])
        .stdin(format!("{key}\n"))
        .code(2)
        .one_line_error("pass --yes");
    assert!(incident_dirs(&leak.sb).is_empty(), "an incident was opened");
    assert!(leak.live(key));
}

#[test]
fn network_down_and_a_429_storm_leave_the_incident_resumable() {
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    // Nothing listens on the port of a server that was started and stopped.
    let dead = {
        let server = MockServer::start(|_| crate::support::mock_server::Reply::not_found());
        base(&server)
    };
    let ran = leak
        .incident(&["--secret-stdin", "--yes", "--push", "origin"])
        .env("KEYWARDEN_OPENAI_BASE_URL", &dead)
        .stdin(format!("{key}\n"))
        .code(2);
    done(&ran, &[key, &leak.admin]);
    let err = ran.stderr();
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("keywarden: error: contain:"), "{err}");
    assert!(
        last.contains("`keywarden incident` goes on from here"),
        "{err}"
    );
    leak.incident(&["--status"]).success().stdout_has("OPEN");
    // Then the provider answers only 429 Too Many Requests.
    leak.org.lock().expect("org").rate_limited = true;
    let ran = leak.incident(&["--yes"]).code(2);
    done(&ran, &[key, &leak.admin]);
    let err = ran.stderr();
    assert!(
        err.contains("429") || err.to_lowercase().contains("rate limit"),
        "{err}"
    );
    assert!(
        err.contains("`keywarden incident` goes on from here"),
        "{err}"
    );
    // Back to normal: the same command finishes.
    leak.org.lock().expect("org").rate_limited = false;
    leak.incident(&["--yes"]).success();
    assert!(!leak.live(key));
    assert_eq!(state(sb)["closed"]["resolved"], true);
}

// ---- on a terminal --------------------------------------------------------------------------

#[test]
fn on_a_terminal_the_key_is_asked_hidden_and_every_step_is_confirmed() {
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let url = base(&leak.server);
    let Some(shown) = sb.on_terminal_with(
        "incident --push origin",
        &[
            ("KEYWARDEN_OPENAI_BASE_URL", url.as_str()),
            ("OPENAI_ADMIN_KEY", leak.admin.as_str()),
            ("KEYWARDEN_NOW", NOW),
            ("KEYWARDEN_POLL_INTERVAL_MS", "10"),
        ],
        &[
            ("The leaked key (input hidden): ", key),
            ("Delete this key now?", "y"),
            ("make this change?", "y"),
            ("(a backup bundle is written first)?", "y"),
        ],
    ) else {
        return;
    };
    let new = leak.new_keys();
    assert_eq!(new.len(), 1, "{shown}");
    assert!(!shown.contains(key) && !shown.contains(&new[0]), "{shown}");
    assert!(shown.contains("PUSHED: public since"), "{shown}");
    assert!(shown.contains("RESOLVED"), "{shown}");
    assert!(!leak.live(key));
    assert_eq!(sb.read(".env"), ENV_FILE.replace("{key}", &new[0]));
    assert_eq!(state(sb)["closed"]["resolved"], true);
}

// ---- the other ways in ----------------------------------------------------------------------

#[test]
fn a_dry_run_shows_every_step_and_changes_nothing() {
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let head = sb.git(&["rev-parse", "main"]);
    let ran = leak
        .incident(&["--secret-stdin", "--dry-run", "--push", "origin"])
        .stdin(format!("{key}\n"))
        .success();
    done(&ran, &[key, &leak.admin]);
    let out = ran.stdout();
    assert!(out.contains("dry run: nothing is changed"), "{out}");
    assert!(out.contains("1. contain: revoke the key through"), "{out}");
    assert!(out.contains("+OPENAI_API_KEY=<new key>"), "{out}");
    assert!(
        out.contains("3. purge: rewrite history without the key"),
        "{out}"
    );
    assert!(
        out.contains("then force-push the new history to origin"),
        "{out}"
    );
    assert!(leak.live(key), "a dry run revoked the key");
    assert!(leak.new_keys().is_empty(), "a dry run made a key");
    assert_eq!(sb.read(".env"), ENV_FILE.replace("{key}", key));
    assert_eq!(sb.git(&["rev-parse", "main"]), head);
    assert!(incident_dirs(sb).is_empty(), "a dry run opened an incident");
    assert!(!keyring(sb).contains(key));
}

#[test]
fn a_finding_from_a_scan_is_taken_by_its_fingerprint_and_a_skipped_purge_says_how_to_do_it_later() {
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let scan = sb
        .run(["scan", "--history", "--format", "json"])
        .code(1)
        .stdout();
    let scanned: serde_json::Value = serde_json::from_str(&scan).expect("scan JSON");
    let fingerprint = scanned["findings"][0]["fingerprint"]
        .as_str()
        .expect("a fingerprint")
        .to_string();
    let ran = leak
        .incident(&["--finding", &fingerprint, "--yes", "--skip-purge"])
        .success();
    done(&ran, &[key]);
    assert!(!leak.live(key));
    assert!(
        ran.stdout().contains("purge: not purged (--skip-purge)"),
        "{}",
        ran.stdout()
    );
    let printed = ran
        .stdout()
        .lines()
        .find_map(|l| l.split("Purge it later with: ").nth(1).map(str::to_string))
        .unwrap_or_else(|| panic!("no purge advice: {}", ran.stdout()));
    assert!(contains(&all_objects(sb, &sb.repo()), key), "purged anyway");
    // The advice, typed as printed at a terminal.
    let args = printed
        .strip_prefix("`keywarden ")
        .and_then(|rest| rest.trim_end_matches('.').strip_suffix('`'))
        .expect("a keywarden command in backquotes");
    let Some(shown) = sb.on_terminal(args, &[("(a backup bundle is written first)?", "y")]) else {
        return;
    };
    assert!(shown.contains("This repository is clean"), "{shown}");
    sb.git(&["gc", "-q", "--prune=now"]);
    assert_no_object_holds(sb, &sb.repo(), key);
}

#[test]
fn ctrl_c_during_the_purge_exits_130_and_the_next_run_finishes() {
    let leak = leak(true);
    let (sb, key) = (&leak.sb, leak.key.as_str());
    let ran = leak
        .incident(&["--secret-stdin", "--yes", "--push", "origin"])
        .env("KEYWARDEN_FAULT", "sigint:purge:before-gc")
        .stdin(format!("{key}\n"))
        .code(130);
    done(&ran, &[key]);
    let err = ran.stderr();
    assert!(
        err.contains("`keywarden incident` goes on from here"),
        "{err}"
    );
    leak.incident(&["--yes"]).success().stdout_has("RESOLVED");
    sb.git(&["gc", "-q", "--prune=now"]);
    assert_no_object_holds(sb, &sb.repo(), key);
}

#[test]
fn a_key_of_an_issuer_without_a_client_is_checked_dead_and_its_new_key_live_through_its_rule() {
    use crate::support::mock_server::Reply;
    let sb = Sandbox::new();
    let (old, new) = (keys::fake("npm_{alnum:36}"), keys::fake("npm_{alnum:36}"));
    sb.write(
        ".npmrc",
        format!("//registry.npmjs.org/:_authToken={old}\n"),
    );
    sb.commit_all("publish settings");
    let accepted = new.clone();
    let npm = MockServer::start(move |req| {
        let bearer = req
            .header("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "));
        match (
            req.is("GET", "/-/whoami"),
            bearer == Some(accepted.as_str()),
        ) {
            (true, true) => Reply::json(200, serde_json::json!({"username": "ci"})),
            (true, false) => Reply::json(401, serde_json::json!({"error": "Unauthorized"})),
            _ => Reply::not_found(),
        }
    });
    let ran = sb
        .run([
            "incident",
            "--secret-stdin",
            "--new-key-stdin",
            "--yes",
            "--skip-purge",
        ])
        .stdin(format!("{old}\n{new}\n"))
        .env("KEYWARDEN_NPM_BASE_URL", npm.url())
        .success();
    let shown = ran.text();
    assert!(
        shown.contains("already refuses the key: it is dead"),
        "{shown}"
    );
    assert!(shown.contains("RESOLVED"), "{shown}");
    assert!(!shown.contains(&old) && !shown.contains(&new), "{shown}");
    assert!(npm.requests().iter().all(|r| r.is("GET", "/-/whoami")));
    assert!(
        npm.requests().len() >= 2,
        "the old key and the new one were checked"
    );
}
