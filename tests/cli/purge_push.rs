//! `purge --push` against local bare remotes, told truthfully per ref: a relative remote URL,
//! a rejected push (non-zero exit, the exact retry command, no "pushed"/"clean" claim), a
//! branch only the remote has (`--include-remotes`), two remotes. Then the leak sweep: keys
//! in a branch name, a tag name and a remote URL's credentials never appear in any output or
//! in any file purge writes; and purging a finding by its fingerprint.

use crate::purge::{all_objects, contains};
use crate::support::githooks::run_printed;
use crate::support::{keys, Sandbox};
use std::path::{Path, PathBuf};

fn bare(sb: &Sandbox, name: &str) -> PathBuf {
    let path = sb.root().join(name);
    sb.git_in(
        sb.root(),
        &["init", "-q", "--bare", &path.to_string_lossy()],
    );
    path
}

fn leaked(sb: &Sandbox, secret: &str) {
    sb.write("k.txt", format!("{secret}\n"));
    sb.commit_all("leak");
    sb.write("other.txt", "x\n");
    sb.commit_all("more");
}

#[test]
fn a_relative_remote_url_is_pushed_from_the_work_tree() {
    let sb = Sandbox::new();
    let secret = keys::openai_legacy();
    leaked(&sb, &secret);
    let remote = bare(&sb, "r.git");
    sb.git(&["remote", "add", "origin", "../r.git"]);
    sb.git(&["push", "-q", "origin", "main"]);
    sb.run(["purge", "--secret-stdin", "--yes", "--push", "origin"])
        .stdin(format!("{secret}\n"))
        .success()
        .stdout_has("pushed refs/heads/main")
        .stdout_has("origin (../r.git): pushed")
        .stdout_has("This repository is clean")
        .no_secret(&secret);
    assert_eq!(
        sb.git_in(&remote, &["rev-parse", "main"]),
        sb.git(&["rev-parse", "main"])
    );
}

#[test]
fn a_rejected_push_is_reported_per_ref_and_exits_non_zero_with_the_retry_command() {
    let sb = Sandbox::new();
    let secret = keys::openai_legacy();
    leaked(&sb, &secret);
    sb.git(&["tag", "v1"]);
    let remote = bare(&sb, "r.git");
    sb.git(&["remote", "add", "origin", &remote.to_string_lossy()]);
    sb.git(&["push", "-q", "origin", "main", "v1"]);
    // The remote refuses every update of main, and takes the tag.
    let hook = remote.join("hooks/update");
    std::fs::write(
        &hook,
        "#!/bin/sh\n[ \"$1\" = refs/heads/main ] && { echo 'main is protected' >&2; exit 1; }\nexit 0\n",
    )
    .expect("hook");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let old_main = sb.git_in(&remote, &["rev-parse", "main"]);
    let ran = sb
        .run(["purge", "--secret-stdin", "--yes", "--push", "origin"])
        .stdin(format!("{secret}\n"))
        .code(2)
        .stdout_has("rejected refs/heads/main: remote rejected: hook declined")
        .stdout_has("pushed refs/tags/v1")
        .stdout_has("the push did not complete")
        .stderr_has("the push to origin did not complete")
        .no_secret(&secret);
    let stderr = ran.stderr();
    assert!(!ran.stdout().contains(": pushed"), "{}", ran.stdout());
    // The local branches are rewritten; origin/main still has the old history (the remote
    // refused it), which the final check says. The retry command works as printed.
    assert_ne!(sb.git(&["rev-parse", "main"]), old_main);
    assert!(
        stderr.contains("reachable from refs/remotes/origin/main"),
        "{stderr}"
    );
    assert_eq!(sb.git_in(&remote, &["rev-parse", "main"]), old_main);
    let retry = stderr
        .split("Push again with: ")
        .nth(1)
        .expect("a retry command")
        .trim()
        .to_string();
    assert!(retry.starts_with("git -C "), "{retry}");
    std::fs::remove_file(&hook).expect("unprotect");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(&retry)
        .envs(crate::support::sealed_env(sb.root()))
        .current_dir(sb.root())
        .status()
        .expect("run the retry command");
    assert!(status.success(), "{retry}");
    assert_eq!(
        sb.git_in(&remote, &["rev-parse", "main"]),
        sb.git(&["rev-parse", "main"])
    );
}

#[test]
fn a_branch_only_the_remote_has_is_pushed_under_its_own_name() {
    let sb = Sandbox::new();
    let secret = keys::openai_legacy();
    leaked(&sb, &secret);
    let remote = bare(&sb, "r.git");
    sb.git(&["remote", "add", "origin", &remote.to_string_lossy()]);
    sb.git(&[
        "push",
        "-q",
        "origin",
        "main",
        "main:refs/heads/remote-only",
    ]);
    sb.git(&["fetch", "-q", "origin"]);
    sb.run([
        "purge",
        "--secret-stdin",
        "--yes",
        "--include-remotes",
        "--push",
        "origin",
    ])
    .stdin(format!("{secret}\n"))
    .success()
    .stdout_has("pushed refs/remotes/origin/remote-only as refs/heads/remote-only")
    .no_secret(&secret);
    assert_eq!(
        sb.git_in(&remote, &["rev-parse", "remote-only"]),
        sb.git(&["rev-parse", "main"])
    );
    assert!(sb.git(&["branch", "--list", "remote-only"]).is_empty());
}

#[test]
fn with_two_remotes_the_one_not_pushed_gets_its_command() {
    let sb = Sandbox::new();
    let secret = keys::openai_legacy();
    leaked(&sb, &secret);
    let first = bare(&sb, "a.git");
    let second = bare(&sb, "b.git");
    sb.git(&["remote", "add", "a", &first.to_string_lossy()]);
    sb.git(&["remote", "add", "b", &second.to_string_lossy()]);
    sb.git(&["push", "-q", "a", "main"]);
    sb.git(&["push", "-q", "b", "main"]);
    let ran = sb
        .run([
            "purge",
            "--secret-stdin",
            "--yes",
            "--include-remotes",
            "--push",
            "a",
        ])
        .stdin(format!("{secret}\n"))
        .success()
        .stdout_has(": pushed")
        .stdout_has("push --force b refs/heads/main:refs/heads/main");
    assert!(
        !ran.stdout().contains("push --force a "),
        "{}",
        ran.stdout()
    );
    assert_eq!(
        sb.git_in(&first, &["rev-parse", "main"]),
        sb.git(&["rev-parse", "main"])
    );
    assert_ne!(
        sb.git_in(&second, &["rev-parse", "main"]),
        sb.git(&["rev-parse", "main"])
    );
    // The command printed for the other remote works as printed, from anywhere.
    let printed = ran
        .stdout()
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("git ") && l.contains(" push --force b "))
        .unwrap_or_else(|| panic!("no push command for b in {}", ran.stdout()))
        .to_string();
    run_printed(&sb, sb.root(), &printed);
    assert_eq!(
        sb.git_in(&second, &["rev-parse", "main"]),
        sb.git(&["rev-parse", "main"])
    );
}

/// Every file under `dir` (recursively) whose path or content holds `needle`, but the backup
/// bundles (which hold the original history on purpose).
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("list").flatten() {
            let path = entry.path();
            if path.to_string_lossy().contains(needle) {
                found.push(path.clone());
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|e| e != "bundle")
                && std::fs::read(&path).is_ok_and(|data| contains(&data, needle))
            {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn keys_in_ref_names_tag_names_and_remote_urls_never_appear_in_output_or_files() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    let token = keys::github_pat();
    leaked(&sb, &secret);
    let remote = bare(&sb, "r.git");
    sb.git(&[
        "remote",
        "add",
        "origin",
        &format!("file://user:{token}@localhost{}", remote.display()),
    ]);
    let branch = format!("fix-{secret}");
    sb.git(&["branch", &branch]);
    sb.git(&["config", &format!("branch.{branch}.remote"), "origin"]);
    sb.git(&["tag", "-a", &format!("v1-{secret}"), "-m", "release"]);
    sb.git(&["checkout", "-q", &branch]);
    sb.run(["purge", "--secret-stdin", "--dry-run"])
        .stdin(format!("{secret}\n"))
        .success()
        .stdout_has("renamed to refs/heads/fix-REMOVED")
        .no_secret(&secret)
        .no_secret(&token);
    sb.run(["purge", "--secret-stdin", "--yes"])
        .stdin(format!("{secret}\n"))
        .success()
        .stdout_has("renamed to refs/heads/fix-REMOVED")
        .stdout_has("This repository is clean")
        .no_secret(&secret)
        .no_secret(&token);
    // Renamed, with the branch's settings and the checked-out HEAD following.
    assert_eq!(
        sb.git(&["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/fix-REMOVED"
    );
    assert_eq!(
        sb.git(&["config", "branch.fix-REMOVED.remote"]).trim(),
        "origin"
    );
    assert_eq!(sb.git(&["cat-file", "-t", "v1-REMOVED"]).trim(), "tag");
    let tag = sb.git(&["cat-file", "tag", "v1-REMOVED"]);
    assert!(tag.contains("tag v1-REMOVED\n"), "{tag}");
    // No file in the repository's git dir names or holds the key, but the backup.
    let holding = files_holding(&sb.path(".git"), &secret);
    assert!(holding.is_empty(), "{holding:?}");
    let records = files_holding(&sb.path(".git/keywarden"), &token);
    assert!(records.is_empty(), "{records:?}");
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn a_finding_is_purged_by_its_fingerprint_without_typing_the_key() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    leaked(&sb, &secret);
    let scan = sb.run(["scan", "--history", "--format", "jsonl"]).code(1);
    let fingerprint = crate::support::jsonl(&scan.output.stdout)
        .first()
        .and_then(|f| f["fingerprint"].as_str().map(str::to_string))
        .expect("a finding with a fingerprint");
    // Without a terminal, --from-scan cannot ask and says what to pass instead.
    sb.run(["purge", "--from-scan"])
        .code(2)
        .one_line_error("--finding FINGERPRINT");
    sb.run(["purge", "--yes", "--finding", &fingerprint])
        .success()
        .stdout_has("none holds a secret")
        .no_secret(&secret);
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn from_scan_lets_the_person_choose_the_key_at_the_terminal() {
    let sb = Sandbox::new();
    let (first, second) = (keys::github_pat(), keys::anthropic());
    sb.write("a.txt", format!("{first}\n"));
    sb.write("b.txt", format!("{second}\n"));
    sb.commit_all("two keys");
    let Some(shown) = sb.on_terminal(
        "purge --from-scan",
        &[("Number (1-3", "3"), ("Rewrite the history", "y")],
    ) else {
        return;
    };
    assert!(shown.contains("all 2 of them"), "{shown}");
    assert!(
        !shown.contains(&first) && !shown.contains(&second),
        "{shown}"
    );
    assert_eq!(sb.read("a.txt"), "***REMOVED***\n");
    assert_eq!(sb.read("b.txt"), "***REMOVED***\n");
}
