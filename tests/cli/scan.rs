//! `keywarden scan` from the outside: sources, formats, exit codes, allowlists, baselines.

use crate::support::{jsonl, keys, sealed_env, stderr, stdout, text, Sandbox};
use predicates::prelude::*;

#[test]
fn working_tree_scan_reports_redacted_key_and_exits_1() {
    let sb = Sandbox::new();
    let key = keys::openai_project();
    sb.write(
        ".env",
        format!("# local\nexport OPENAI_API_KEY=\"{key}\"\n"),
    );
    sb.write("app.py", "import os\nkey = os.environ['OPENAI_API_KEY']\n");
    let out = sb
        .keywarden()
        .arg("scan")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = stdout(&out);
    assert!(stdout.contains(".env"), "{stdout}");
    assert!(stdout.contains("2:24"), "{stdout}");
    assert!(stdout.contains("openai-project-key"), "{stdout}");
    assert!(
        stdout.contains(&format!("{}…{}", &key[..10], &key[key.len() - 4..])),
        "{stdout}"
    );
    assert!(!stdout.contains(&key), "the full key must never be printed");
    assert!(stdout.contains("1 key found"), "{stdout}");
}

#[test]
fn clean_tree_exits_0() {
    let sb = Sandbox::new();
    sb.write("README.md", "Set OPENAI_API_KEY=sk-... in your .env\n");
    sb.keywarden()
        .arg("scan")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no keys found"));
}

#[test]
fn jsonl_follows_the_documented_schema() {
    let sb = Sandbox::new();
    let key = keys::github_pat();
    sb.write(
        "src/deploy.sh",
        format!("#!/bin/sh\n\ncurl -H \"Authorization: token {key}\" x\n"),
    );
    let out = sb
        .keywarden()
        .args(["scan", "--format", "jsonl"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let keys_in_order: Vec<&str> = row
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys_in_order,
        [
            "rule_id",
            "provider",
            "path",
            "line",
            "column",
            "commit",
            "redacted",
            "fingerprint",
            "confidence"
        ]
    );
    assert_eq!(row["rule_id"], "github-pat");
    assert_eq!(row["provider"], "github");
    assert_eq!(row["confidence"], "high");
    assert_eq!(row["path"], "src/deploy.sh");
    assert_eq!(row["line"], 3);
    assert_eq!(row["column"], 31);
    assert!(row["commit"].is_null());
    assert!(row["fingerprint"]
        .as_str()
        .expect("string")
        .starts_with("sha256:"));
    assert!(!stdout(&out).contains(&key));
}

#[test]
fn show_secrets_is_the_only_way_to_print_the_key() {
    let sb = Sandbox::new();
    let key = keys::anthropic();
    sb.write("config.yaml", format!("anthropic:\n  api_key: {key}\n"));
    let out = sb
        .keywarden()
        .args(["scan", "--format", "jsonl", "--show-secrets"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(jsonl(&out.stdout)[0]["secret"], key.as_str());
}

#[test]
fn gitignored_files_are_skipped_unless_no_ignore() {
    let sb = Sandbox::new();
    sb.write(".gitignore", "secrets/\n");
    sb.write(
        "secrets/prod.env",
        format!("TOKEN={}\n", keys::github_pat()),
    );
    sb.keywarden().arg("scan").assert().code(0);
    sb.keywarden()
        .args(["scan", "--no-ignore"])
        .assert()
        .code(1);
}

#[test]
fn binary_and_oversized_files_are_skipped_with_a_note() {
    let sb = Sandbox::new();
    let mut binary = b"\x89PNG\0\0".to_vec();
    binary.extend_from_slice(keys::github_pat().as_bytes());
    sb.write("logo.png", binary);
    sb.write(
        "big.txt",
        format!("{}\n{}", "a".repeat(2000), keys::github_pat()),
    );
    let out = sb
        .keywarden()
        .args(["scan", "--max-file-size", "1000"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = stdout(&out);
    assert!(stdout.contains("skipped"), "{stdout}");
    assert!(stdout.contains("big.txt"), "{stdout}");
    assert!(stdout.contains("binary"), "{stdout}");
}

#[test]
fn history_finds_deleted_keys_and_names_the_introducing_commit() {
    let sb = Sandbox::new();
    sb.write("README.md", "hello\n");
    sb.commit_all("first");
    let key = keys::openai_legacy();
    sb.write("settings.py", format!("OPENAI_KEY = \"{key}\"\n"));
    let introducing = sb.commit_all("add settings");
    std::fs::remove_file(sb.path("settings.py")).expect("remove");
    sb.commit_all("remove settings");
    sb.keywarden().arg("scan").assert().code(0);
    let out = sb
        .keywarden()
        .args(["scan", "--history", "--format", "jsonl"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["path"], "settings.py");
    assert_eq!(rows[0]["commit"], introducing.as_str());
    assert_eq!(rows[0]["rule_id"], "openai-legacy-key");
}

#[test]
fn history_scans_commit_messages_and_all_refs() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    sb.commit_all("base");
    sb.git(&["checkout", "-q", "-b", "feature"]);
    let in_message = keys::huggingface();
    sb.write("b.txt", "b\n");
    let commit = sb.commit_all(&format!("debug token {in_message}"));
    sb.git(&["checkout", "-q", "main"]);
    let out = sb
        .keywarden()
        .args(["scan", "--history", "--format", "jsonl"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0]["path"].is_null());
    assert_eq!(rows[0]["commit"], commit.as_str());
    assert_eq!(rows[0]["line"], 1);
}

#[test]
fn all_objects_finds_dangling_blobs() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    sb.commit_all("base");
    let key = keys::stripe_live();
    sb.write("lost.txt", format!("stripe = {key}\n"));
    sb.git(&["add", "lost.txt"]);
    sb.git(&["reset", "-q", "lost.txt"]);
    std::fs::remove_file(sb.path("lost.txt")).expect("remove");
    sb.keywarden().args(["scan", "--history"]).assert().code(0);
    let out = sb
        .keywarden()
        .args(["scan", "--all-objects", "--format", "jsonl"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["commit"].is_null());
}

#[test]
fn range_reports_only_what_the_commits_introduced() {
    let sb = Sandbox::new();
    let old_key = keys::github_pat();
    sb.write("config.env.sample", format!("OLD={old_key}\n"));
    let base = sb.commit_all("base with an old key");
    let new_key = keys::aws_access_key_id();
    sb.write(
        "config.env.sample",
        format!("# moved\nOLD={old_key}\nAWS_ACCESS_KEY_ID={new_key}\n"),
    );
    let second = sb.commit_all("add aws");
    let out = sb
        .keywarden()
        .args([
            "scan",
            "--range",
            &format!("{base}..HEAD"),
            "--format",
            "jsonl",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["rule_id"], "aws-access-key-id");
    assert_eq!(rows[0]["commit"], second.as_str());
    assert_eq!(rows[0]["line"], 3);
}

#[test]
fn staged_scan_reads_the_index_named_by_git_index_file() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    sb.commit_all("base");
    sb.write("token.txt", format!("t={}\n", keys::github_pat()));
    // Not staged in the default index: clean.
    sb.keywarden().args(["scan", "--staged"]).assert().code(0);
    // Staged into another index file, as `git commit -a` does.
    let alt = sb.root().join("alt-index");
    std::fs::copy(sb.repo().join(".git/index"), &alt).expect("copy index");
    let out = sb
        .git_cmd_in(&sb.repo())
        .env("GIT_INDEX_FILE", &alt)
        .args(["add", "token.txt"])
        .output()
        .expect("git add");
    assert!(out.status.success());
    sb.keywarden()
        .args(["scan", "--staged"])
        .env("GIT_INDEX_FILE", &alt)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("token.txt"));
}

#[test]
fn staged_scan_works_before_the_first_commit() {
    let sb = Sandbox::new();
    sb.write(
        ".env",
        format!("OPENAI_API_KEY={}\n", keys::openai_project()),
    );
    sb.git(&["add", ".env"]);
    sb.keywarden().args(["scan", "--staged"]).assert().code(1);
}

#[test]
fn baseline_suppresses_known_findings_even_when_lines_move() {
    let sb = Sandbox::new();
    let known = keys::github_pat();
    sb.write("fixtures.txt", format!("a\n{known}\n"));
    let baseline = sb.root().join("baseline.json");
    sb.keywarden()
        .args(["scan", "--write-baseline"])
        .arg(&baseline)
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&baseline).expect("baseline written");
    assert!(!text.contains(&known), "a baseline never holds the secret");
    sb.write("fixtures.txt", format!("a\nb\nc\n{known}\n"));
    sb.keywarden()
        .args(["scan", "--baseline"])
        .arg(&baseline)
        .assert()
        .code(0);
    sb.write(
        "fixtures.txt",
        format!("a\n{known}\n{}\n", keys::github_pat()),
    );
    sb.keywarden()
        .args(["scan", "--baseline"])
        .arg(&baseline)
        .assert()
        .code(1);
}

#[test]
fn inline_allow_comment_and_path_allowlist() {
    let sb = Sandbox::new();
    sb.write(
        "a.py",
        format!("TOKEN = '{}'  # keywarden:allow\n", keys::github_pat()),
    );
    sb.write("tests/fixtures/b.txt", keys::github_pat());
    sb.write(
        ".keywarden.toml",
        "[allowlist]\npaths = [\"tests/fixtures/**\"]\n",
    );
    sb.keywarden().arg("scan").assert().code(0);
}

#[test]
fn user_rules_extend_and_disable_the_builtins() {
    let sb = Sandbox::new();
    let custom = keys::fake("acme_{lowernum:32}");
    sb.write("a.txt", format!("x={custom}\ny={}\n", keys::github_pat()));
    sb.write(
        ".keywarden.toml",
        "disable = [\"github-pat\"]\n\n[[rule]]\nid = \"acme-token\"\nprovider = \"acme\"\ndescription = \"ACME token\"\nregex = 'acme_[a-z0-9]{32}'\nkeywords = [\"acme_\"]\n",
    );
    let out = sb
        .keywarden()
        .args(["scan", "--format", "jsonl"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["rule_id"], "acme-token");
}

#[test]
fn invalid_config_is_one_line_naming_file_and_line() {
    let sb = Sandbox::new();
    sb.write(
        ".keywarden.toml",
        "[allowlist]\npaths = [\"ok\"]\nbogus = 1\n",
    );
    let out = sb
        .keywarden()
        .arg("scan")
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = stderr(&out);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(".keywarden.toml:3"), "{stderr}");
}

#[test]
fn unknown_rule_id_is_an_error() {
    let sb = Sandbox::new();
    sb.keywarden()
        .args(["scan", "--rule", "no-such-rule"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-rule"));
}

#[test]
fn history_outside_a_repository_is_an_error() {
    let sb = Sandbox::empty();
    sb.keywarden()
        .args(["scan", "--history"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a git repository"));
}

#[test]
fn missing_path_is_an_error_naming_it() {
    let sb = Sandbox::new();
    sb.keywarden()
        .args(["scan", "no/such/dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/dir"));
}

#[test]
fn sarif_output_is_valid_2_1_0_with_redacted_messages() {
    let sb = Sandbox::new();
    let key = keys::openai_admin();
    sb.write("ops/admin.env", format!("OPENAI_ADMIN_KEY={key}\n"));
    let report = sb.root().join("report.sarif");
    sb.keywarden()
        .args(["scan", "--format", "sarif", "--output"])
        .arg(&report)
        .assert()
        .code(1);
    let text = std::fs::read_to_string(&report).expect("report written");
    assert!(!text.contains(&key));
    let sarif: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "keywarden");
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "openai-admin-key");
    let index = result["ruleIndex"].as_u64().expect("rule index") as usize;
    assert_eq!(
        run["tool"]["driver"]["rules"][index]["id"],
        "openai-admin-key"
    );
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "ops/admin.env");
    assert_eq!(location["region"]["startLine"], 1);
}

#[test]
fn json_document_lists_findings_and_skips() {
    let sb = Sandbox::new();
    sb.write("k.txt", keys::github_pat());
    sb.write("b.bin", b"\0\0\0");
    let out = sb
        .keywarden()
        .args(["scan", "--format", "json"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(doc["findings"].as_array().expect("array").len(), 1);
    assert_eq!(doc["skipped"][0]["path"], "b.bin");
    assert_eq!(doc["summary"]["findings"], 1);
}

#[test]
fn non_utf8_and_crlf_files_are_scanned() {
    let sb = Sandbox::new();
    let key = keys::github_pat();
    let mut data = b"caf\xe9 latin-1\r\n".to_vec();
    data.extend_from_slice(format!("GITHUB_TOKEN={key}\r\n").as_bytes());
    sb.write("legacy.ini", data);
    let out = sb
        .keywarden()
        .args(["scan", "--format", "jsonl"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows[0]["line"], 2);
    assert_eq!(rows[0]["column"], 14);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let sb = Sandbox::new();
    for i in 0..200 {
        sb.write(&format!("f{i}.txt"), keys::github_pat());
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keywarden"))
        .args(["scan", "--format", "jsonl"])
        .current_dir(sb.repo())
        .envs(crate::support::sealed_env(sb.root()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert_ne!(out.status.code(), Some(2));
}

#[test]
fn a_repository_of_another_user_gets_gits_safe_directory_advice() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    sb.commit_all("a");
    // Only root can give a directory to another user; elsewhere there is nothing to set up.
    let given_away = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(sb.repo())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !given_away {
        eprintln!("skipped: cannot chown the repository (this test needs root)");
        return;
    }
    let out = sb
        .keywarden()
        .args(["scan", "--staged"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("dubious ownership"), "{err}");
    assert!(!err.contains("not a git repository"), "{err}");
    // The advice works when typed as printed. git's global config is the sandbox's
    // `~/.gitconfig` here, the file libgit2 reads too.
    let advice = err
        .split('`')
        .nth(1)
        .expect("the advice is quoted in backticks");
    assert!(
        advice.starts_with("git config --global --add safe.directory "),
        "{err}"
    );
    let typed = std::process::Command::new("sh")
        .args(["-c", advice])
        .envs(sealed_env(sb.root()))
        .env_remove("GIT_CONFIG_GLOBAL")
        .current_dir(sb.root())
        .status()
        .expect("sh runs");
    assert!(typed.success());
    sb.keywarden().args(["scan", "--staged"]).assert().success();
}

#[test]
fn history_range_staged_and_all_objects_take_the_repository_path() {
    let sb = Sandbox::new();
    sb.write("README.md", "hello\n");
    let base = sb.commit_all("first");
    let key = keys::github_pat();
    sb.write("deploy.sh", format!("TOKEN={key}\n"));
    sb.commit_all("add deploy");
    let outside = sb.root().join("elsewhere");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let repo = sb.repo();
    let repo = repo.to_str().expect("utf-8 path");
    for args in [
        vec!["scan", "--history", repo],
        vec!["scan", "--all-objects", repo],
        vec!["scan", "--range", &format!("{base}..HEAD"), repo],
    ] {
        sb.run(&args)
            .current_dir(&outside)
            .code(1)
            .stdout_has("deploy.sh")
            .no_secret(&key);
    }
    sb.write("staged.txt", format!("t={}\n", keys::github_pat()));
    sb.git(&["add", "staged.txt"]);
    sb.run(["scan", "--staged", repo])
        .current_dir(&outside)
        .code(1)
        .stdout_has("staged.txt");
    // A plain `scan PATH` is still a scan of those files.
    sb.run(["scan", "README.md"])
        .success()
        .stdout_has("1 file scanned");
    sb.run(["scan", "--history", "a", "b"])
        .code(2)
        .one_line_error("--history scans one repository: give one PATH");
    sb.run(["scan", "--history", outside.to_str().expect("utf-8")])
        .code(2)
        .one_line_error("not a git repository");
}

/// Deletes the loose object `oid` (git writes objects read-only).
fn delete_loose_object(sb: &Sandbox, oid: &str) {
    let path = sb
        .repo()
        .join(".git/objects")
        .join(&oid[..2])
        .join(&oid[2..]);
    std::fs::remove_file(&path).expect("the object is loose");
}

#[test]
fn history_with_a_missing_tip_commit_is_an_error_not_clean() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    sb.commit_all("base");
    // The ref's name holds a key: the error names the ref, redacted.
    let in_name = keys::github_pat();
    let branch = format!("feature-{in_name}");
    sb.git(&["checkout", "-q", "-b", &branch]);
    sb.write("b.txt", format!("b={}\n", keys::github_pat()));
    let tip = sb.commit_all("feature work");
    sb.git(&["checkout", "-q", "main"]);
    delete_loose_object(&sb, &tip);
    for flag in ["--history", "--all-objects"] {
        sb.run(["scan", flag])
            .code(2)
            .one_line_error("the history cannot be read completely")
            .stderr_has("refs/heads/feature-ghp_")
            .stderr_has(&format!("points to {tip}"))
            .stderr_has("git fsck")
            .hides("no keys found")
            .no_secret(&in_name);
    }
}

#[test]
fn history_in_a_truncated_pack_is_an_error_not_clean() {
    let sb = Sandbox::new();
    for i in 0..5 {
        sb.write(&format!("f{i}.txt"), format!("content {i}\n").repeat(50));
        sb.commit_all(&format!("commit {i}"));
    }
    sb.git(&["repack", "-a", "-d", "-q"]);
    sb.git(&["prune-packed"]);
    let pack_dir = sb.repo().join(".git/objects/pack");
    let pack = std::fs::read_dir(&pack_dir)
        .expect("pack dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .expect("a pack");
    // A copy cut short, as an interrupted transfer leaves it.
    let bytes = std::fs::read(&pack).expect("read pack");
    std::fs::remove_file(&pack).expect("remove pack");
    std::fs::write(&pack, &bytes[..bytes.len() / 2]).expect("write truncated copy");
    for flag in ["--history", "--all-objects"] {
        sb.run(["scan", flag])
            .code(2)
            .stderr_has("keywarden: error:")
            .stderr_has("git fsck")
            .hides("no keys found");
    }
}

#[test]
fn keys_in_ref_and_tag_names_are_findings_redacted_everywhere() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    let commit = sb.commit_all("base");
    let in_branch = keys::github_pat();
    let in_tag = keys::huggingface();
    sb.git(&["branch", &format!("feature-{in_branch}")]);
    sb.git(&["tag", "-a", &format!("v1-{in_tag}"), "-m", "release"]);
    let tag_object = sb
        .git(&["rev-parse", &format!("v1-{in_tag}")])
        .trim()
        .to_string();

    let human = sb
        .run(["scan", "--history"])
        .code(1)
        .stdout_has("ref name refs/heads/feature-ghp_")
        .stdout_has("ref name refs/tags/v1-hf_")
        .stdout_has("A key in a ref's name: revoke it, then rename the branch")
        .no_secret(&in_branch)
        .no_secret(&in_tag);
    assert!(
        human.stdout().contains("2 keys found"),
        "{}",
        human.stdout()
    );

    let out = sb.run(["scan", "--history", "--format", "jsonl"]).code(1);
    let rows = jsonl(&out.output.stdout);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let branch = rows
        .iter()
        .find(|r| r["rule_id"] == "github-pat")
        .expect("the branch's key");
    assert!(branch["path"].is_null());
    assert_eq!(branch["location"], "ref name");
    assert_eq!(branch["commit"], commit.as_str());
    let shown = branch["ref"].as_str().expect("ref name");
    assert!(
        shown.starts_with("refs/heads/feature-ghp_") && shown.contains('…'),
        "{shown}"
    );
    let tag = rows
        .iter()
        .find(|r| r["rule_id"] != "github-pat")
        .expect("the tag's key");
    assert_eq!(tag["commit"], tag_object.as_str());
    for format in ["json", "jsonl", "sarif", "gitlab"] {
        sb.run(["scan", "--history", "--format", format])
            .code(1)
            .no_secret(&in_branch)
            .no_secret(&in_tag);
    }
    let sarif: serde_json::Value = serde_json::from_str(
        &sb.run(["scan", "--history", "--format", "sarif"])
            .code(1)
            .stdout(),
    )
    .expect("SARIF is JSON");
    for result in sarif["runs"][0]["results"].as_array().expect("results") {
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .expect("a physical location");
        assert!(uri.starts_with("ref/refs/"), "{uri}");
    }
    // `--show-secrets` is still the only way to see the key.
    let shown = sb
        .run(["scan", "--history", "--format", "jsonl", "--show-secrets"])
        .code(1)
        .stdout();
    assert!(shown.contains(&in_branch));
}

#[test]
fn a_baseline_scan_says_how_many_findings_it_hid() {
    let sb = Sandbox::new();
    sb.write(
        "fixtures.txt",
        format!("{}\n{}\n", keys::github_pat(), keys::stripe_live()),
    );
    let baseline = sb.root().join("baseline.json");
    let baseline = baseline.to_str().expect("utf-8");
    sb.run(["scan", "--write-baseline", baseline])
        .success()
        .stderr_has("wrote 2 baseline entries");
    sb.run(["scan", "--baseline", baseline])
        .success()
        .stdout_has("no keys found (1 file scanned, 2 hidden by the baseline)");
    let doc: serde_json::Value = serde_json::from_str(
        &sb.run(["scan", "--baseline", baseline, "--format", "json"])
            .success()
            .stdout(),
    )
    .expect("JSON");
    assert_eq!(doc["summary"]["hidden_by_baseline"], 2);
    sb.write("one.txt", keys::github_pat());
    std::fs::remove_file(sb.path("fixtures.txt")).expect("remove");
    let one = sb.root().join("one.json");
    sb.run(["scan", "--write-baseline", one.to_str().expect("utf-8")])
        .success()
        .stderr_has("wrote 1 baseline entry to");
}

#[test]
fn counts_are_singular_for_one() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    sb.commit_all("one blob");
    sb.run(["scan", "--history"])
        .success()
        .stdout_has("(1 blob scanned)");
    sb.run(["scan"]).success().stdout_has("(1 file scanned)");
}

/// The findings of `scan ARGS` as (rule, path, commit, fingerprint), sorted.
fn history_rows(sb: &Sandbox, flag: &str) -> Vec<(String, String, String, String)> {
    let out = sb.run(["scan", flag, "--format", "jsonl"]).code(1);
    let mut rows: Vec<_> = jsonl(&out.output.stdout)
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (
                text("rule_id"),
                text("path"),
                text("commit"),
                text("fingerprint"),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn history_read_from_packs_in_pack_order_finds_what_loose_objects_give() {
    let sb = Sandbox::new();
    let early = keys::github_pat();
    let late = keys::anthropic();
    let unreachable = keys::huggingface();
    // Long delta chains: one file edited in every commit, a key in one version only.
    let mut config = String::from("# settings\n");
    for version in 0..40 {
        config.push_str(&format!("option_{version} = {}\n", version * 7));
        let body = if version == 12 {
            format!("{config}token = \"{early}\"\n")
        } else {
            config.clone()
        };
        sb.write("config.py", body);
        sb.write("data.bin", [version as u8, 0, 1, 2].repeat(500));
        sb.commit_all(&format!("version {version}"));
    }
    let loose = history_rows(&sb, "--history");
    assert_eq!(loose.len(), 1, "{loose:?}");

    // The same history in one deltified pack: the same findings, commit and path.
    sb.repack_deltified();
    assert_eq!(history_rows(&sb, "--history"), loose);

    // A new commit stays loose beside the pack; a second pack holds a branch that is then
    // deleted, so its blob is in a pack but reachable from no ref.
    sb.write("later.env", format!("ANTHROPIC_API_KEY={late}\n"));
    sb.commit_all("later");
    sb.git(&["checkout", "-q", "-b", "scratch"]);
    sb.write("scratch.txt", format!("HF_TOKEN={unreachable}\n"));
    sb.commit_all("scratch");
    sb.git(&["checkout", "-q", "main"]);
    sb.git(&["repack", "-d", "-q"]);
    sb.git(&["branch", "-q", "-D", "scratch"]);
    sb.git(&["reflog", "expire", "--expire=now", "--all"]);
    sb.write("newest.txt", "no key\n");
    sb.commit_all("newest");
    let history = history_rows(&sb, "--history");
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history.iter().any(|r| r.1 == "later.env"), "{history:?}");
    assert!(history.iter().all(|r| r.1 != "scratch.txt"), "{history:?}");
    let all = history_rows(&sb, "--all-objects");
    assert_eq!(all.len(), 3, "{all:?}");
}

#[test]
fn history_scan_in_shallow_borrowing_and_partial_clones() {
    use crate::support::githooks::run_printed;
    let sb = Sandbox::new();
    let deleted = keys::github_pat();
    let current = keys::huggingface();
    sb.write("readme.txt", "hello\n");
    sb.commit_all("one");
    sb.write("old.env", format!("GITHUB_TOKEN={deleted}\n"));
    sb.commit_all("two");
    std::fs::remove_file(sb.path("old.env")).expect("remove");
    sb.write("app.env", format!("HF_TOKEN={current}\n"));
    sb.commit_all("three");
    sb.git(&["config", "uploadpack.allowFilter", "true"]);
    sb.git(&["repack", "-a", "-d", "-q"]);
    let origin = format!("file://{}", sb.repo().display());
    let clone = |name: &str, args: &[&str]| {
        let mut all = vec!["clone", "-q"];
        all.extend_from_slice(args);
        let dest = sb.root().join(name);
        let dest_arg = dest.to_string_lossy().into_owned();
        all.extend_from_slice(&[origin.as_str(), dest_arg.as_str()]);
        sb.git_in(sb.root(), &all);
        dest
    };
    let keys_in = |dir: &std::path::Path| -> Vec<String> {
        let dir = dir.to_string_lossy().into_owned();
        let out = sb
            .run(["scan", "--history", "--format", "jsonl", dir.as_str()])
            .code(1);
        let mut paths: Vec<String> = jsonl(&out.output.stdout)
            .iter()
            .map(|r| r["path"].as_str().unwrap_or("").to_string())
            .collect();
        paths.sort();
        paths
    };
    // A shallow clone has only what its depth reaches.
    assert_eq!(keys_in(&clone("shallow", &["--depth=1"])), ["app.env"]);
    // A clone that borrows the objects of another (alternates) sees all of history.
    assert_eq!(
        keys_in(&clone("borrowing", &["--shared"])),
        ["app.env", "old.env"]
    );
    // A partial clone lacks the old blob: the scan says it is incomplete and how to fetch
    // what is missing; the advice, run as printed, makes the scan whole.
    let partial = clone("partial", &["--filter=blob:none"]);
    let dir = partial.to_string_lossy().into_owned();
    // What it could read is reported (exit 1), with the warning; with nothing found, the same
    // words are the error (exit 2).
    let ran = sb
        .run(["scan", "--history", dir.as_str()])
        .current_dir(sb.root())
        .code(1)
        .stderr_has("keywarden: warning: 1 object could not be read, so the scan is incomplete: this is a partial clone");
    sb.run(["scan", "--history", "--rule", "github-pat", dir.as_str()])
        .current_dir(sb.root())
        .code(2)
        .stderr_has("keywarden: error: 1 object could not be read, so the scan is incomplete: this is a partial clone");
    let warning = ran.stderr();
    let advice = warning
        .lines()
        .find(|l| l.contains("partial clone"))
        .expect("the warning")
        .split('`')
        .nth(1)
        .expect("a command in backquotes")
        .to_string();
    assert!(advice.starts_with("git -C "), "{advice}");
    run_printed(&sb, sb.root(), &advice);
    assert_eq!(keys_in(&partial), ["app.env", "old.env"]);
}
