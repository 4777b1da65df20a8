//! A purge killed anywhere: the kill-point harness (`KEYWARDEN_FAULT=<point>` makes purge
//! exit abruptly there) checks for every phase boundary and inside the ref transaction that
//! git's state is sound, every ref is old or new, the stash keeps its entries in order, the
//! backup is whole or absent, and that `purge --resume` finishes with no secret left while
//! `purge --abort` restores the original exactly. Also: SIGINT, the whole-run lock, a resume
//! with other secrets, work done between the kill and the resume, and a `cp -a` copy whose
//! worktrees belong to the original.

use crate::purge::{all_objects, assert_fsck_clean, contains};
use crate::support::githooks::run_printed;
use crate::support::{keys, Sandbox};
use std::path::{Path, PathBuf};

/// A repository with branches, an annotated tag, a merge, two stash entries (the older
/// holding the key), a linked worktree and an untracked file; built the same way (same ids)
/// every time for the same key.
struct FaultRepo {
    sb: Sandbox,
    worktree: PathBuf,
}

fn fault_repo(secret: &str) -> FaultRepo {
    let sb = Sandbox::new();
    sb.write("README.md", "# demo\n");
    sb.commit_all("init");
    sb.write("config/app.env", format!("OPENAI_API_KEY={secret}\n"));
    sb.write("app.py", "print('app')\n");
    sb.commit_all("add config");
    sb.git(&["tag", "-a", "v1", "-m", "release 1"]);
    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("feature.txt", format!("feature {secret}\n"));
    sb.commit_all("feature");
    sb.git(&["checkout", "-q", "main"]);
    sb.write("main.txt", "main work\n");
    sb.commit_all("main work");
    sb.git(&["merge", "-q", "--no-ff", "-m", "merge feature", "feature"]);
    sb.write("README.md", format!("# demo\n{secret}\n"));
    sb.git(&["stash", "-q"]);
    sb.write("README.md", "# demo, edited\n");
    sb.git(&["stash", "-q"]);
    let worktree = sb.add_worktree("wt2", "side", Some("feature"));
    std::fs::write(worktree.join("notes.txt"), "untracked\n").expect("write");
    FaultRepo { sb, worktree }
}

/// Every ref and where it points, without the purge's own temporary refs.
fn refs(sb: &Sandbox) -> Vec<(String, String)> {
    sb.git(&["for-each-ref", "--format=%(refname) %(objectname)"])
        .lines()
        .filter(|l| !l.starts_with("refs/keywarden-"))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, o)| (n.to_string(), o.to_string()))
        .collect()
}

/// The stash entries, newest first: (id, subject).
fn stash(sb: &Sandbox) -> Vec<(String, String)> {
    sb.git(&["log", "-g", "--format=%H %gs", "refs/stash"])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(h, s)| (h.to_string(), s.to_string()))
        .collect()
}

fn purge(sb: &Sandbox, secret: &str, args: &[&str], fault: Option<&str>) -> std::process::Output {
    let mut cmd = sb.keywarden();
    cmd.args(["purge", "--secret-stdin", "--yes"]).args(args);
    if let Some(point) = fault {
        cmd.env("KEYWARDEN_FAULT", point);
    }
    cmd.write_stdin(format!("{secret}\n"))
        .output()
        .expect("run keywarden")
}

fn text(out: &std::process::Output) -> String {
    crate::support::text(out)
}

/// The state before any purge and after a complete one, for this key.
struct Expected {
    refs_before: Vec<(String, String)>,
    refs_after: Vec<(String, String)>,
    stash_before: Vec<(String, String)>,
    stash_after: Vec<(String, String)>,
}

fn expected(secret: &str) -> Expected {
    let FaultRepo { sb, .. } = fault_repo(secret);
    let refs_before = refs(&sb);
    let stash_before = stash(&sb);
    let out = purge(&sb, secret, &[], None);
    assert!(out.status.success(), "{}", text(&out));
    Expected {
        refs_before,
        refs_after: refs(&sb),
        stash_before,
        stash_after: stash(&sb),
    }
}

/// The backup, if there is one: it must restore the original refs exactly.
fn check_backup(sb: &Sandbox, want: &[(String, String)]) {
    let dir = sb.path(".git/keywarden");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "bundle") {
            continue;
        }
        let restored = sb.root().join(format!(
            "restored-{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::remove_dir_all(&restored);
        sb.git_in(
            sb.root(),
            &[
                "clone",
                "-q",
                "--mirror",
                &path.to_string_lossy(),
                &restored.to_string_lossy(),
            ],
        );
        let got: Vec<(String, String)> = sb
            .git_in(
                &restored,
                &["for-each-ref", "--format=%(refname) %(objectname)"],
            )
            .lines()
            .filter(|l| !l.starts_with("refs/keywarden-backup/"))
            .filter_map(|l| l.split_once(' '))
            .map(|(n, o)| (n.to_string(), o.to_string()))
            .collect();
        assert_eq!(
            got,
            want,
            "the backup {} restores the original",
            path.display()
        );
    }
}

/// Kills a purge at `point`, checks the state left, then resumes one copy and aborts another.
fn killed_at(point: &str) {
    let secret = keys::github_pat();
    let want = expected(&secret);
    for finish in ["--resume", "--abort"] {
        let FaultRepo { sb, worktree } = fault_repo(&secret);
        assert_eq!(refs(&sb), want.refs_before, "the fixture is deterministic");
        let out = purge(&sb, &secret, &[], Some(point));
        assert_eq!(out.status.code(), Some(86), "{point}: {}", text(&out));
        assert!(!text(&out).contains(&secret));

        // Whatever was killed, git's own state is sound.
        assert_fsck_clean(&sb, &sb.repo());
        let now = refs(&sb);
        if point == "refs:moving" {
            // Killed between two renames: each ref is old or new, never anything else.
            for (name, oid) in &now {
                let old = want.refs_before.iter().any(|(n, o)| n == name && o == oid);
                let new = want.refs_after.iter().any(|(n, o)| n == name && o == oid);
                assert!(old || new, "{point}: {name} at {oid}");
            }
        } else {
            assert!(
                now == want.refs_before || now == want.refs_after,
                "{point}: refs neither all old nor all new: {now:?}"
            );
        }
        let stash_now = stash(&sb);
        assert!(
            stash_now == want.stash_before || stash_now == want.stash_after,
            "{point}: the stash lost or doubled entries: {stash_now:?}"
        );
        check_backup(&sb, &want.refs_before);
        assert_eq!(
            std::fs::read_to_string(worktree.join("notes.txt")).expect("untracked"),
            "untracked\n"
        );
        // The lock went with the killed process; a plain purge points to --resume/--abort.
        let again = purge(&sb, &secret, &[], None);
        assert_eq!(again.status.code(), Some(2), "{point}: {}", text(&again));
        // The advice is the exact command, and `status` gives the same one.
        let advice = text(&again);
        let printed = printed_resume(&advice);
        assert_eq!(
            printed, "keywarden purge --resume --secret-stdin",
            "{advice}"
        );
        sb.run(["status"])
            .success()
            .stdout_has("purge: ")
            .stdout_has(&format!("`{printed}` finishes it"));

        let out = if finish == "--resume" {
            purge(&sb, &secret, &["--resume"], None)
        } else {
            sb.keywarden()
                .args(["purge", "--abort"])
                .output()
                .expect("run")
        };
        assert!(out.status.success(), "{point} {finish}: {}", text(&out));
        assert!(!text(&out).contains(&secret), "{point} {finish}");
        assert_fsck_clean(&sb, &sb.repo());
        assert!(!sb.path(".git/keywarden/purge-journal.json").exists());
        let main_clean = sb.git(&["status", "--porcelain", "--untracked-files=no"]);
        let side_clean = sb.git_in(
            &worktree,
            &["status", "--porcelain", "--untracked-files=no"],
        );
        assert_eq!(
            (main_clean.as_str(), side_clean.as_str()),
            ("", ""),
            "{point} {finish}"
        );
        if finish == "--resume" {
            assert_eq!(refs(&sb), want.refs_after, "{point}: resumed");
            assert_eq!(stash(&sb), want.stash_after, "{point}: resumed stash");
            assert!(!contains(&all_objects(&sb, &sb.repo()), &secret), "{point}");
            assert_eq!(
                std::fs::read_to_string(worktree.join("feature.txt")).expect("read"),
                "feature ***REMOVED***\n"
            );
        } else {
            assert_eq!(refs(&sb), want.refs_before, "{point}: aborted");
            assert_eq!(stash(&sb), want.stash_before, "{point}: aborted stash");
            assert_eq!(
                std::fs::read_to_string(worktree.join("feature.txt")).expect("read"),
                format!("feature {secret}\n")
            );
            assert!(sb
                .git(&["for-each-ref", "refs/keywarden-backup/"])
                .is_empty());
        }
        assert_no_lock_files(&sb.repo().join(".git"));
    }
}

fn assert_no_lock_files(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("list").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                assert!(
                    !name.ends_with(".lock") || name == "purge.lock",
                    "a lock file is left: {}",
                    path.display()
                );
            }
        }
    }
}

macro_rules! kill_points {
    ($($test:ident => $point:literal,)*) => {
        $(
            #[test]
            fn $test() {
                killed_at($point);
            }
        )*
    };
}

kill_points! {
    killed_after_the_journal_is_first_written => "purge:before-rewrite",
    killed_once_the_backup_is_written_but_not_checked => "backup:written",
    killed_before_the_refs_move => "purge:before-refs",
    killed_with_every_ref_locked => "refs:locked",
    killed_between_two_ref_renames => "refs:moving",
    killed_once_every_ref_moved => "refs:committed",
    killed_before_the_worktrees_are_updated => "purge:before-worktrees",
    killed_before_the_reflogs_expire => "purge:before-reflogs",
    killed_with_the_stash_list_rewritten_before_the_reflogs_expire => "reflogs:stash-rewritten",
    killed_before_gc => "purge:before-gc",
    killed_before_the_final_check => "purge:before-verify",
    killed_after_the_final_check => "purge:before-done",
}

/// The command between backticks that starts with `keywarden purge --resume`.
fn printed_resume(advice: &str) -> String {
    advice
        .split('`')
        .find(|part| part.starts_with("keywarden purge --resume"))
        .unwrap_or_else(|| panic!("no resume command in {advice}"))
        .to_string()
}

#[test]
fn a_purge_of_paths_only_is_finished_by_the_command_it_prints() {
    let secret = keys::github_pat();
    let FaultRepo { sb, .. } = fault_repo(&secret);
    let paths = ["--delete-path", "config/*.env", "--yes"];
    let run = |fault: Option<&str>| {
        let mut cmd = sb.keywarden();
        cmd.arg("purge").args(paths);
        if let Some(point) = fault {
            cmd.env("KEYWARDEN_FAULT", point);
        }
        cmd.output().expect("run keywarden")
    };
    let killed = run(Some("purge:before-worktrees"));
    assert_eq!(killed.status.code(), Some(86), "{}", text(&killed));
    let again = run(None);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    let printed = printed_resume(&text(&again));
    // No secret was given, so none is asked for; the pattern comes back quoted for sh.
    assert_eq!(
        printed,
        "keywarden purge --resume --delete-path 'config/*.env'"
    );
    sb.run(["status"])
        .success()
        .stdout_has(&format!("`{printed}` finishes it"));

    run_printed(&sb, &sb.repo(), &printed);
    assert!(!sb.path(".git/keywarden/purge-journal.json").exists());
    assert!(sb
        .git(&["ls-tree", "-r", "--name-only", "main"])
        .lines()
        .all(|p| p != "config/app.env"));
    assert_fsck_clean(&sb, &sb.repo());
}

#[test]
fn ctrl_c_finishes_the_step_stops_with_130_and_the_purge_resumes() {
    let secret = keys::github_pat();
    let FaultRepo { sb, .. } = fault_repo(&secret);
    let out = purge(&sb, &secret, &[], Some("sigint:purge:before-worktrees"));
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(text(&out).contains("interrupted"), "{}", text(&out));
    assert!(text(&out).contains("--resume"), "{}", text(&out));
    assert!(sb.path(".git/keywarden/purge-journal.json").exists());
    let out = purge(&sb, &secret, &["--resume"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn a_resume_needs_the_same_secrets_and_keeps_work_done_since_the_kill() {
    let secret = keys::github_pat();
    let FaultRepo { sb, worktree } = fault_repo(&secret);
    let out = purge(&sb, &secret, &[], Some("purge:before-worktrees"));
    assert_eq!(out.status.code(), Some(86), "{}", text(&out));
    // Other secrets are refused, nothing changes.
    let other = purge(&sb, &keys::github_pat(), &["--resume"], None);
    assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    assert!(text(&other).contains("not the secrets of the unfinished purge"));
    // The person edits a tracked file before resuming: the resume keeps it, says so, and
    // does not refuse with "uncommitted changes".
    std::fs::write(worktree.join("feature.txt"), "edited meanwhile\n").expect("write");
    let out = purge(&sb, &secret, &["--resume"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("kept your changes to feature.txt"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("feature.txt")).expect("read"),
        "edited meanwhile\n"
    );
    assert_eq!(sb.read("config/app.env"), "OPENAI_API_KEY=***REMOVED***\n");
    // Nothing is unfinished any more.
    let out = purge(&sb, &secret, &["--resume"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no unfinished purge"), "{}", text(&out));
}

#[test]
fn two_purges_at_once_are_refused_with_a_clear_message() {
    let secret = keys::github_pat();
    let FaultRepo { sb, .. } = fault_repo(&secret);
    let lock_path = sb.path(".git/keywarden/purge.lock");
    std::fs::create_dir_all(lock_path.parent().expect("dir")).expect("mkdir");
    let lock = std::fs::File::create(&lock_path).expect("create");
    fs4::FileExt::lock(&lock).expect("lock");
    let refs_before = refs(&sb);
    let out = purge(&sb, &secret, &[], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("another keywarden purge is running"),
        "{}",
        text(&out)
    );
    assert_eq!(refs(&sb), refs_before);
    drop(lock);
    let out = purge(&sb, &secret, &[], None);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_copy_leaves_the_worktrees_of_the_original_alone() {
    let secret = keys::github_pat();
    let FaultRepo { sb, worktree } = fault_repo(&secret);
    let copy = sb.root().join("copy");
    let status = std::process::Command::new("cp")
        .args(["-a"])
        .arg(sb.repo())
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success());
    let original_head = sb.git_in(&worktree, &["rev-parse", "HEAD"]);
    let out = sb
        .keywarden()
        .current_dir(&copy)
        .args(["purge", "--secret-stdin", "--yes"])
        .write_stdin(format!("{secret}\n"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("belongs to another repository"),
        "{}",
        text(&out)
    );
    // The original's worktree is untouched: same HEAD, old content, clean.
    assert_eq!(sb.git_in(&worktree, &["rev-parse", "HEAD"]), original_head);
    assert_eq!(
        std::fs::read_to_string(worktree.join("feature.txt")).expect("read"),
        format!("feature {secret}\n")
    );
    assert_eq!(
        sb.git_in(
            &worktree,
            &["status", "--porcelain", "--untracked-files=no"]
        ),
        ""
    );
    assert!(
        contains(&all_objects(&sb, &sb.repo()), &secret),
        "the original is untouched"
    );
}

#[test]
fn status_says_when_the_purge_journal_cannot_be_read_and_claims_no_step() {
    let sb = Sandbox::new();
    sb.write("README.md", "# demo\n");
    sb.commit_all("init");
    std::fs::create_dir_all(sb.path(".git/keywarden")).expect("mkdir");
    std::fs::write(sb.path(".git/keywarden/purge-journal.json"), "{ not json").expect("write");
    let out = sb.keywarden().arg("status").output().expect("run");
    let shown = text(&out);
    assert!(
        shown.contains("purge: ") && shown.contains("purge-journal.json is not readable JSON"),
        "{shown}"
    );
    assert!(!shown.contains("stopped before"), "{shown}");
}
