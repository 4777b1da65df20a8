//! `keywarden purge` from the outside: what is rewritten (every ref, every kind of object),
//! what is kept (structure, metadata, modes, untracked files), the backup, the refusals, and
//! the check that nothing in the object database still holds the secret.

use crate::support::{keys, stderr, stdout, text, Sandbox};
use std::path::{Path, PathBuf};

/// Every object in the object database, raw, as one byte string.
pub(crate) fn all_objects(sb: &Sandbox, dir: &Path) -> Vec<u8> {
    let out = sb
        .git_cmd_in(dir)
        .args(["cat-file", "--batch-all-objects", "--batch"])
        .output()
        .expect("run git cat-file");
    assert!(out.status.success());
    out.stdout
}

pub(crate) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

pub(crate) fn assert_fsck_clean(sb: &Sandbox, dir: &Path) {
    let out = sb
        .git_cmd_in(dir)
        .args(["fsck", "--strict", "--no-progress"])
        .output()
        .expect("run git fsck");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "fsck failed: {text}");
    assert!(
        !text.contains("error") && !text.contains("missing") && !text.contains("broken"),
        "{text}"
    );
}

fn purge(sb: &Sandbox, secret: &str, extra: &[&str]) -> std::process::Output {
    sb.keywarden()
        .args(["purge", "--secret-stdin", "--yes"])
        .args(extra)
        .write_stdin(format!("{secret}\n"))
        .output()
        .expect("run keywarden")
}

pub(crate) fn backups(sb: &Sandbox) -> Vec<PathBuf> {
    let dir = sb.path(".git/keywarden");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "bundle"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// A repository with the secret everywhere a secret can hide.
struct Fixture {
    sb: Sandbox,
    secret: String,
    worktree: PathBuf,
    /// The commit that introduced the secret.
    leak: String,
}

fn rich_repo() -> Fixture {
    let sb = Sandbox::new();
    let secret = keys::openai_project();
    sb.write("README.md", "# demo\n");
    sb.write("run.sh", "#!/bin/sh\necho run\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(sb.path("run.sh"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    sb.commit_all("init");
    #[cfg(unix)]
    std::os::unix::fs::symlink("README.md", sb.path("link")).expect("symlink");
    sb.write("config/app.env", format!("OPENAI_API_KEY={secret}\n"));
    sb.write(
        "windows.ini",
        format!("[keys]\r\nopenai={secret}\r\nother=1\r\n"),
    );
    let mut binary = vec![0u8, 159, 146, 150, 0, 1, 2];
    binary.extend_from_slice(secret.as_bytes());
    binary.extend_from_slice(&[0, 255, 254]);
    sb.write("data.bin", &binary);
    let mut large = String::with_capacity(3 << 20);
    let mut i = 0;
    while large.len() < (3 << 20) {
        large.push_str(&format!("line {i} of a generated file with some text\n"));
        if i == 40_000 {
            large.push_str(&format!("token = \"{secret}\"\n"));
        }
        i += 1;
    }
    sb.write("big.txt", &large);
    let leak = sb.commit_all(&format!("add config\n\nthe key is {secret}\n"));
    // A submodule gitlink, pointing at some commit of another repository.
    let head = sb.git(&["rev-parse", "HEAD"]).trim().to_string();
    sb.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{head},vendor/sub"),
    ]);
    sb.git(&["commit", "-q", "-m", "add submodule"]);
    // An unpopulated submodule is an empty directory; `git add -A` keeps the gitlink.
    std::fs::create_dir_all(sb.path("vendor/sub")).expect("mkdir");
    sb.git(&["commit", "-q", "--allow-empty", "-m", "empty commit"]);
    sb.git(&["tag", "light"]);
    sb.git(&["tag", "-a", "v1", "-m", &format!("release 1, {secret}")]);
    sb.git(&["checkout", "-q", "-b", "feature"]);
    sb.write("feature.txt", "feature work\n");
    sb.commit_all("feature");
    sb.git(&["checkout", "-q", "main"]);
    sb.write("main.txt", "main work\n");
    sb.commit_all("main work");
    sb.git(&["merge", "-q", "--no-ff", "-m", "merge feature", "feature"]);
    // Two stashes: the older one holds the secret too.
    sb.write("README.md", format!("# demo\n{secret}\n"));
    sb.git(&["stash", "-q"]);
    sb.write("README.md", "# demo, edited\n");
    sb.git(&["stash", "-q"]);
    // A second worktree, on its own branch.
    let worktree = sb.add_worktree("wt2", "side", Some("feature"));
    // Untracked files in both worktrees.
    sb.write(".env", format!("OPENAI_API_KEY={secret}\n"));
    std::fs::write(worktree.join("notes.txt"), "untracked\n").expect("write");
    Fixture {
        sb,
        secret,
        worktree,
        leak,
    }
}

#[test]
fn purge_removes_the_secret_from_every_object_and_keeps_everything_else() {
    let Fixture {
        sb,
        secret,
        worktree,
        leak,
    } = rich_repo();
    let log_format = "--format=%an|%ae|%ad|%cn|%ce|%cd|%P";
    let before_log = sb.git(&["log", "--all", "--date=raw", log_format]);
    let before_count = sb.git(&["rev-list", "--all", "--count"]);
    let before_merges = sb.git(&["rev-list", "--all", "--merges", "--count"]);
    assert!(contains(&all_objects(&sb, &sb.repo()), &secret));

    let out = purge(&sb, &secret, &[]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        !output.contains(&secret),
        "the secret must never be printed"
    );
    assert!(output.contains("none holds a secret"), "{output}");
    assert!(output.contains("GitHub Support"), "{output}");

    // Nothing in the object database holds the secret, and git agrees the repo is sound.
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
    assert_fsck_clean(&sb, &sb.repo());

    // Same shape: commit count (the empty commit too), merges, authors, dates.
    assert_eq!(sb.git(&["rev-list", "--all", "--count"]), before_count);
    assert_eq!(
        sb.git(&["rev-list", "--all", "--merges", "--count"]),
        before_merges
    );
    let after_log = sb.git(&["log", "--all", "--date=raw", log_format]);
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.rsplit_once('|').map_or(l, |(meta, _)| meta).to_string())
            .collect()
    };
    assert_eq!(strip(&after_log), strip(&before_log));
    assert!(sb
        .git(&["log", "--format=%s", "main"])
        .contains("empty commit"));

    // Modes: exec bit, symlink and gitlink survive.
    let tree = sb.git(&["ls-tree", "-r", "main"]);
    assert!(
        tree.contains("100755 blob") && tree.contains("run.sh"),
        "{tree}"
    );
    assert!(
        tree.contains("120000 blob") && tree.contains("link"),
        "{tree}"
    );
    assert!(
        tree.contains("160000 commit") && tree.contains("vendor/sub"),
        "{tree}"
    );

    // Content: replaced in place, CRLF and binary bytes intact.
    let ini = sb.git(&["show", "main:windows.ini"]);
    assert_eq!(ini, "[keys]\r\nopenai=***REMOVED***\r\nother=1\r\n");
    let bin = sb
        .git_cmd_in(&sb.repo())
        .args(["cat-file", "blob", "main:data.bin"])
        .output()
        .expect("cat-file");
    let mut expected = vec![0u8, 159, 146, 150, 0, 1, 2];
    expected.extend_from_slice(b"***REMOVED***");
    expected.extend_from_slice(&[0, 255, 254]);
    assert_eq!(bin.stdout, expected);
    assert!(sb
        .git(&["show", "main:big.txt"])
        .contains("token = \"***REMOVED***\""));

    // Messages: commits and annotated tags; the tag is still annotated.
    assert!(sb
        .git(&["log", "--all", "--format=%B"])
        .contains("the key is ***REMOVED***"));
    assert_eq!(sb.git(&["cat-file", "-t", "v1"]).trim(), "tag");
    assert!(sb
        .git(&["tag", "-l", "--format=%(contents)", "v1"])
        .contains("release 1, ***REMOVED***"));
    assert_eq!(
        sb.git(&["rev-parse", "light^{commit}"]),
        sb.git(&["rev-parse", "v1^{commit}"])
    );

    // The stash: both entries kept, both rewritten.
    let stashes = sb.git(&["stash", "list"]);
    assert_eq!(stashes.lines().count(), 2, "{stashes}");
    assert!(sb
        .git(&["show", "stash@{1}:README.md"])
        .contains("***REMOVED***"));

    // Worktrees: both at their new HEAD, clean, untracked files untouched.
    assert_eq!(
        sb.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    assert_eq!(
        sb.git_in(
            &worktree,
            &["status", "--porcelain", "--untracked-files=no"]
        ),
        ""
    );
    assert_eq!(
        sb.git_in(&worktree, &["rev-parse", "HEAD"]),
        sb.git(&["rev-parse", "side"])
    );
    assert!(sb.read("windows.ini").contains("***REMOVED***"));
    assert_eq!(sb.read(".env"), format!("OPENAI_API_KEY={secret}\n"));
    assert_eq!(
        std::fs::read_to_string(worktree.join("notes.txt")).expect("read"),
        "untracked\n"
    );

    // The records for the outside world.
    let dir = sb.path(".git/keywarden");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("state dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("commit-map-")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("first-changed-")),
        "{names:?}"
    );
    let first = names
        .iter()
        .find(|n| n.starts_with("first-changed-"))
        .expect("first-changed file");
    let first = std::fs::read_to_string(dir.join(first)).expect("read");
    assert_eq!(first.trim(), leak, "the commit that introduced the secret");
    assert!(output.contains(&leak), "{output}");
}

#[test]
fn backup_bundle_restores_the_original_exactly() {
    for gc_first in [false, true] {
        let Fixture { sb, secret, .. } = rich_repo();
        if gc_first {
            // All objects in one pack: the bundle is written from that pack directly.
            sb.git(&["gc", "-q"]);
        }
        let refs_before = sb.git(&["for-each-ref", "--format=%(objectname) %(refname)"]);
        let older_stash = sb.git(&["rev-parse", "stash@{1}"]);
        let out = purge(&sb, &secret, &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("still holds the secret"));
        let bundle = backups(&sb).pop().expect("a backup bundle");
        let restored = sb.root().join(format!("restored-{gc_first}.git"));
        sb.git_in(
            sb.root(),
            &[
                "clone",
                "-q",
                "--mirror",
                &bundle.to_string_lossy(),
                &restored.to_string_lossy(),
            ],
        );
        let refs_after = sb.git_in(
            &restored,
            &[
                "for-each-ref",
                "--format=%(objectname) %(refname)",
                "refs/heads",
                "refs/tags",
                "refs/stash",
            ],
        );
        assert_eq!(refs_after, refs_before, "gc_first={gc_first}");
        assert_eq!(
            sb.git_in(&restored, &["rev-parse", "refs/keywarden-backup/stash/1"]),
            older_stash
        );
        assert!(contains(&all_objects(&sb, &restored), &secret));
        assert_fsck_clean(&sb, &restored);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&bundle)
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the backup holds the secret: owner only");
        }
    }
}

#[test]
fn dirty_tree_is_refused_and_nothing_changes() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    sb.write("app.cfg", format!("token={secret}\n"));
    sb.commit_all("add");
    sb.write("app.cfg", "token=changed\n");
    let refs = sb.git(&["for-each-ref"]);
    let out = purge(&sb, &secret, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr(&out);
    assert!(stderr.contains("uncommitted changes"), "{stderr}");
    assert!(stderr.contains("app.cfg"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(sb.git(&["for-each-ref"]), refs);
    assert_eq!(sb.read("app.cfg"), "token=changed\n");
    assert!(backups(&sb).is_empty());
    assert!(contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn merge_in_progress_is_refused() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    sb.write("f.txt", "base\n");
    sb.commit_all("base");
    sb.git(&["checkout", "-q", "-b", "other"]);
    sb.write("f.txt", format!("other {secret}\n"));
    sb.commit_all("other");
    sb.git(&["checkout", "-q", "main"]);
    sb.write("f.txt", "main\n");
    sb.commit_all("main");
    let merge = sb.git_output(&["merge", "other"]);
    assert!(!merge.status.success(), "the merge must conflict");
    // Resolve the file but leave the merge unconcluded.
    sb.write("f.txt", "resolved\n");
    sb.git(&["add", "f.txt"]);
    let out = purge(&sb, &secret, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr(&out);
    assert!(stderr.contains("a merge is in progress"), "{stderr}");
    assert!(backups(&sb).is_empty());
}

#[test]
fn dry_run_shows_the_changes_and_writes_nothing() {
    let Fixture { sb, secret, .. } = rich_repo();
    let refs = sb.git(&["for-each-ref"]);
    let objects = all_objects(&sb, &sb.repo());
    let out = sb
        .keywarden()
        .args(["purge", "--secret-stdin", "--dry-run"])
        .write_stdin(secret.clone())
        .output()
        .expect("run");
    let stdout = stdout(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout.contains("dry run: nothing was written"), "{stdout}");
    assert!(stdout.contains("ref refs/heads/main"), "{stdout}");
    assert!(stdout.contains("ref refs/tags/v1"), "{stdout}");
    assert!(
        stdout.contains("file with a secret: windows.ini"),
        "{stdout}"
    );
    assert!(
        stdout.contains("file with a secret: config/app.env"),
        "{stdout}"
    );
    assert!(stdout.contains("stash"), "{stdout}");
    assert!(!stdout.contains(&secret));
    assert_eq!(sb.git(&["for-each-ref"]), refs);
    assert_eq!(all_objects(&sb, &sb.repo()), objects);
    assert!(!sb.path(".git/keywarden").exists());
}

#[test]
fn delete_path_drops_files_from_history_but_not_from_disk() {
    let sb = Sandbox::new();
    let secret = keys::anthropic();
    sb.write("src/main.py", "print('hi')\n");
    sb.write(".env", format!("ANTHROPIC_API_KEY={secret}\n"));
    sb.write("sub/.env", "OTHER=1\n");
    sb.commit_all("initial, with .env files");
    sb.write("src/main.py", "print('hello')\n");
    sb.commit_all("edit");
    let out = sb
        .keywarden()
        .args(["purge", "--yes", "--delete-path", "**/.env"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        sb.git(&["log", "--all", "--format=%H", "--", ".env", "sub/.env"]),
        ""
    );
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
    assert_eq!(sb.read(".env"), format!("ANTHROPIC_API_KEY={secret}\n"));
    assert_eq!(sb.read("sub/.env"), "OTHER=1\n");
    assert_eq!(sb.git(&["rev-list", "--count", "main"]).trim(), "2");
    let status = sb.git(&["status", "--porcelain"]);
    assert!(status.contains("?? .env"), "{status}");
    assert_fsck_clean(&sb, &sb.repo());
}

#[test]
fn regex_lines_and_a_secrets_file_work() {
    let sb = Sandbox::new();
    let key = keys::stripe_live();
    sb.write("pay.cfg", format!("stripe={key}\n"));
    sb.commit_all("pay");
    let file = sb.root().join("secrets.txt");
    std::fs::write(&file, "# stripe keys\nregex:sk_live_[0-9A-Za-z]{24}\n").expect("write");
    let out = sb
        .keywarden()
        .args([
            "purge",
            "--yes",
            "--replacement",
            "[gone]",
            "--secrets-file",
        ])
        .arg(&file)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sb.git(&["show", "HEAD:pay.cfg"]), "stripe=[gone]\n");
    assert!(!contains(&all_objects(&sb, &sb.repo()), &key));
}

#[test]
fn signatures_that_no_longer_match_are_dropped_and_said() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    sb.write("a.txt", format!("{secret}\n"));
    sb.commit_all("add");
    let tree = sb.git(&["rev-parse", "HEAD^{tree}"]).trim().to_string();
    let raw = format!(
        "tree {tree}\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned commit\n"
    );
    let mut cmd = sb.git_cmd_in(&sb.repo());
    cmd.args(["hash-object", "-t", "commit", "-w", "--stdin"]);
    let signed = {
        use std::io::Write;
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(raw.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        stdout(&out).trim().to_string()
    };
    sb.git(&["update-ref", "refs/heads/signed", &signed]);
    let out = purge(&sb, &secret, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("dropped 1 signature"), "{}", text(&out));
    let rewritten = sb.git(&["cat-file", "commit", "signed"]);
    assert!(!rewritten.contains("gpgsig"), "{rewritten}");
    assert!(rewritten.contains("author A <a@example.com> 1700000000 +0000"));
}

#[test]
fn notes_are_scrubbed_and_follow_their_commits() {
    let sb = Sandbox::new();
    let secret = keys::huggingface();
    sb.write("model.cfg", format!("hf={secret}\n"));
    sb.commit_all("model");
    sb.git(&[
        "notes",
        "add",
        "-m",
        &format!("deployed with {secret}"),
        "HEAD",
    ]);
    let out = purge(&sb, &secret, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let note = sb.git(&["notes", "show", "HEAD"]);
    assert_eq!(note.trim(), "deployed with ***REMOVED***");
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn push_force_pushes_and_remote_tracking_refs_follow() {
    let sb = Sandbox::new();
    let secret = keys::openai_legacy();
    sb.write("k.txt", format!("{secret}\n"));
    sb.commit_all("leak");
    sb.write("other.txt", "x\n");
    sb.commit_all("more");
    let remote = sb.root().join("remote.git");
    sb.git_in(
        sb.root(),
        &["init", "-q", "--bare", &remote.to_string_lossy()],
    );
    sb.git(&["remote", "add", "origin", &remote.to_string_lossy()]);
    sb.git(&["push", "-q", "origin", "main"]);
    sb.git(&["fetch", "-q", "origin"]);

    // Without --push the remote-tracking ref keeps the secret alive: said, exit 2.
    let dry = sb
        .keywarden()
        .args(["purge", "--secret-stdin", "--dry-run"])
        .write_stdin(secret.clone())
        .output()
        .expect("run");
    assert!(text(&dry).contains("remote-tracking ref left alone"));

    let out = purge(&sb, &secret, &["--push", "origin"]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(output.contains("origin"), "{output}");
    assert_eq!(
        sb.git_in(&remote, &["rev-parse", "main"]),
        sb.git(&["rev-parse", "main"])
    );
    assert_eq!(
        sb.git(&["rev-parse", "origin/main"]),
        sb.git(&["rev-parse", "main"])
    );
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn a_remote_tracking_ref_holding_the_secret_fails_verification() {
    let sb = Sandbox::new();
    let secret = keys::openai_legacy();
    sb.write("k.txt", format!("{secret}\n"));
    sb.commit_all("leak");
    let remote = sb.root().join("remote.git");
    sb.git_in(
        sb.root(),
        &["init", "-q", "--bare", &remote.to_string_lossy()],
    );
    sb.git(&["remote", "add", "origin", &remote.to_string_lossy()]);
    sb.git(&["push", "-q", "origin", "main"]);
    sb.git(&["fetch", "-q", "origin"]);
    let out = purge(&sb, &secret, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = stderr(&out);
    assert!(stderr.contains("refs/remotes/origin/main"), "{stderr}");
    assert!(stderr.contains("--include-remotes"), "{stderr}");
    assert!(!stderr.contains(&secret));

    let out = purge(&sb, &secret, &["--include-remotes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let sb = Sandbox::new();
    sb.write("a.txt", "a\n");
    sb.commit_all("a");
    let check = |args: &[&str], stdin: &str, needle: &str, dir: Option<&Path>| {
        let mut cmd = sb.keywarden();
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        let out = cmd.args(args).write_stdin(stdin).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = stderr(&out);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    };
    check(&["purge", "--yes"], "", "no secrets given", None);
    check(
        &["purge", "--yes", "--secret-stdin"],
        "\n\n",
        "no secrets given",
        None,
    );
    check(
        &[
            "purge",
            "--yes",
            "--secrets-file",
            "/nonexistent/secrets.txt",
        ],
        "",
        "cannot read the secrets file",
        None,
    );
    check(
        &["purge", "--yes", "--secret-stdin"],
        "short\n",
        "too short",
        None,
    );
    let elsewhere = sb.root().join("home");
    check(
        &["purge", "--yes", "--secret-stdin"],
        &format!("{}\n", keys::github_pat()),
        "not a git repository",
        Some(&elsewhere),
    );
    // Without --yes and without a terminal there is nobody to ask: refuse.
    let out = sb
        .keywarden()
        .args(["purge", "--secret-stdin"])
        .write_stdin(format!("{}\n", keys::github_pat()))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(backups(&sb).is_empty());
}

#[test]
fn a_bare_repository_is_purged_too() {
    let sb = Sandbox::new();
    let secret = keys::aws_access_key_id();
    sb.write("deploy.cfg", format!("aws_access_key_id = {secret}0000\n"));
    sb.commit_all("deploy");
    let bare = sb.root().join("bare.git");
    sb.git_in(
        sb.root(),
        &[
            "clone",
            "-q",
            "--bare",
            &sb.repo().to_string_lossy(),
            &bare.to_string_lossy(),
        ],
    );
    let out = sb
        .keywarden()
        .current_dir(&bare)
        .args(["purge", "--secret-stdin", "--yes"])
        .write_stdin(format!("{secret}\n"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        sb.git_in(&bare, &["show", "main:deploy.cfg"]),
        "aws_access_key_id = ***REMOVED***0000\n"
    );
    assert!(!contains(&all_objects(&sb, &bare), &secret));
    assert_fsck_clean(&sb, &bare);
}

#[test]
fn a_second_purge_finds_nothing_to_rewrite() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    sb.write("a.txt", format!("{secret}\n"));
    sb.commit_all("leak");
    let first = purge(&sb, &secret, &[]);
    assert!(first.status.success(), "{}", text(&first));
    let head = sb.git(&["rev-parse", "HEAD"]);
    let second = purge(&sb, &secret, &[]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("rewrote 0 of 1 commits"),
        "{}",
        text(&second)
    );
    assert!(
        text(&second).contains("no commit held the secret"),
        "{}",
        text(&second)
    );
    assert_eq!(sb.git(&["rev-parse", "HEAD"]), head);
    // Two backups, with distinct names even within the same second.
    assert_eq!(backups(&sb).len(), 2);
}

#[test]
fn purge_run_from_a_linked_worktree_updates_every_worktree() {
    let sb = Sandbox::new();
    let secret = keys::openai_admin();
    sb.write("settings.py", format!("KEY = '{secret}'\n"));
    sb.commit_all("settings");
    let wt = sb.add_worktree("linked", "other", None);
    let out = sb
        .keywarden()
        .current_dir(&wt)
        .args(["purge", "--secret-stdin", "--yes"])
        .write_stdin(format!("{secret}\n"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    for dir in [sb.repo(), wt.clone()] {
        let content = std::fs::read_to_string(dir.join("settings.py")).expect("read");
        assert_eq!(content, "KEY = '***REMOVED***'\n", "{}", dir.display());
        assert_eq!(
            sb.git_in(&dir, &["status", "--porcelain"]),
            "",
            "{}",
            dir.display()
        );
    }
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn a_closed_stdout_does_not_stop_the_purge_half_way() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    sb.write("a.txt", format!("{secret}\n"));
    sb.commit_all("leak");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("keywarden"));
    for var in crate::support::LEAKY_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(crate::support::sealed_env(sb.root()))
        .current_dir(sb.repo())
        .args(["purge", "--secrets-file"])
        .arg(sb.root().join("secrets.txt"))
        .arg("--yes")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    std::fs::write(sb.root().join("secrets.txt"), format!("{secret}\n")).expect("write");
    let mut child = cmd.spawn().expect("spawn");
    // Like `keywarden purge … | head -1` once head has exited.
    drop(child.stdout.take());
    let status = child.wait().expect("wait");
    assert!(status.success());
    assert_eq!(sb.git(&["show", "HEAD:a.txt"]), "***REMOVED***\n");
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn an_empty_repository_is_not_an_error() {
    let sb = Sandbox::new();
    let out = purge(&sb, &keys::github_pat(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("rewrote 0 of 0 commits"),
        "{}",
        text(&out)
    );
    assert!(backups(&sb).is_empty());
}

#[test]
fn secrets_typed_at_a_terminal_are_read_from_hidden_prompts() {
    let sb = Sandbox::new();
    let (first, second) = (keys::github_pat(), keys::anthropic());
    sb.write("a.txt", format!("{first}\n{second}\n"));
    sb.commit_all("leak");
    let typed = [
        ("secret 1: ", &first[..]),
        ("secret 2: ", &second),
        ("secret 3: ", ""),
    ];
    let Some(shown) = sb.on_terminal("purge --secret-stdin --yes", &typed) else {
        return;
    };
    assert!(shown.contains("it is not shown"), "{shown}");
    assert!(
        !shown.contains(&first) && !shown.contains(&second),
        "{shown}"
    );
    assert_eq!(sb.read("a.txt"), "***REMOVED***\n***REMOVED***\n");
    let objects = all_objects(&sb, &sb.repo());
    assert!(!contains(&objects, &first) && !contains(&objects, &second));
}

#[test]
fn secrets_in_file_and_directory_names_are_replaced_and_the_worktree_follows() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    sb.write("README.md", "docs\n");
    sb.write(&format!("tokens/{secret}.txt"), "a token file\n");
    sb.write(
        &format!("cache-{secret}/data.json"),
        format!("{{\"key\": \"{secret}\"}}\n"),
    );
    sb.commit_all("named after the key");
    sb.write("README.md", "docs, later\n");
    sb.commit_all("later");
    let out = purge(&sb, &secret, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(!shown.contains(&secret), "{shown}");
    assert!(shown.contains("2 renamed"), "{shown}");
    assert!(
        shown.contains("whose name held a secret removed"),
        "{shown}"
    );
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
    assert_fsck_clean(&sb, &sb.repo());
    let files = sb.git(&["ls-files"]);
    assert_eq!(
        files,
        "README.md\ncache-***REMOVED***/data.json\ntokens/***REMOVED***.txt\n"
    );
    assert_eq!(
        sb.read("cache-***REMOVED***/data.json"),
        "{\"key\": \"***REMOVED***\"}\n"
    );
    assert!(!sb.path(&format!("tokens/{secret}.txt")).exists());
    assert!(!sb.path(&format!("cache-{secret}")).exists());
    assert_eq!(sb.git(&["status", "--porcelain"]), "");
    // Both versions of history kept the file under its new name.
    assert_eq!(
        sb.git(&["show", "HEAD~1:tokens/***REMOVED***.txt"]),
        "a token file\n"
    );
}

#[test]
fn names_that_differ_only_in_their_secrets_stay_distinct() {
    let sb = Sandbox::new();
    let (first, second) = (keys::github_pat(), keys::anthropic());
    sb.write(&format!("{first}.txt"), "one\n");
    sb.write(&format!("{second}.txt"), "two\n");
    sb.commit_all("two key files");
    let out = sb
        .keywarden()
        .args(["purge", "--secret-stdin", "--yes"])
        .write_stdin(format!("{first}\n{second}\n"))
        .output()
        .expect("run keywarden");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        sb.git(&["ls-files"]),
        "***REMOVED***.txt\n***REMOVED***.txt~2\n"
    );
    assert_fsck_clean(&sb, &sb.repo());
}

/// Runs git with `input` on stdin; returns stdout, trimmed.
fn git_with_input(sb: &Sandbox, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = sb
        .git_cmd_in(&sb.repo())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run git");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for git");
    assert!(out.status.success(), "git {args:?} failed");
    stdout(&out).trim().to_string()
}

#[test]
fn notes_in_fan_out_directories_move_to_their_new_commits() {
    let sb = Sandbox::new();
    let secret = keys::openai_project();
    sb.write("app.env.sample", format!("KEY={secret}\n"));
    sb.commit_all("leak");
    let head = sb.git(&["rev-parse", "HEAD"]).trim().to_string();
    // A notes tree as git lays out large ones: `ab/cdef…` (written by hand, since git only
    // fans out past a few hundred notes).
    let note = git_with_input(
        &sb,
        &["hash-object", "-w", "--stdin"],
        &format!("deployed with {secret}\n"),
    );
    let readme = git_with_input(&sb, &["hash-object", "-w", "--stdin"], "not a note\n");
    let fan = git_with_input(
        &sb,
        &["mktree"],
        &format!("100644 blob {note}\t{}\n", &head[2..]),
    );
    let root = git_with_input(
        &sb,
        &["mktree"],
        &format!(
            "040000 tree {fan}\t{}\n100644 blob {readme}\tREADME\n",
            &head[..2]
        ),
    );
    let notes = git_with_input(&sb, &["commit-tree", &root, "-m", "Notes added"], "");
    sb.git(&["update-ref", "refs/notes/commits", &notes]);
    assert_eq!(
        sb.git(&["notes", "show", "HEAD"]),
        format!("deployed with {secret}\n")
    );

    let out = purge(&sb, &secret, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let new_head = sb.git(&["rev-parse", "HEAD"]).trim().to_string();
    assert_ne!(new_head, head);
    assert_eq!(
        sb.git(&["notes", "show", "HEAD"]),
        "deployed with ***REMOVED***\n"
    );
    let paths = sb.git(&["ls-tree", "-r", "--name-only", "refs/notes/commits"]);
    let mut paths: Vec<&str> = paths.lines().collect();
    paths.sort();
    let moved = format!("{}/{}", &new_head[..2], &new_head[2..]);
    let mut expected = vec!["README", moved.as_str()];
    expected.sort();
    assert_eq!(paths, expected);
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
    assert_fsck_clean(&sb, &sb.repo());
}

#[test]
fn per_worktree_refs_of_linked_worktrees_are_rewritten_and_backed_up() {
    let sb = Sandbox::new();
    let secret = keys::stripe_live();
    sb.write("billing.py", format!("STRIPE = '{secret}'\n"));
    sb.commit_all("billing");
    let wt = sb.add_worktree("linked", "other", None);
    // A ref only the linked worktree sees, pointing at the only copy of a commit.
    std::fs::write(wt.join("scratch.txt"), format!("again {secret}\n")).expect("write");
    sb.git_in(&wt, &["add", "scratch.txt"]);
    sb.git_in(&wt, &["commit", "-q", "-m", "scratch"]);
    sb.git_in(&wt, &["update-ref", "refs/worktree/keep", "HEAD"]);
    sb.git_in(&wt, &["reset", "-q", "--hard", "HEAD~1"]);
    assert!(sb.git(&["for-each-ref", "refs/worktree/"]).is_empty());

    let out = purge(&sb, &secret, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let kept = sb.git_in(&wt, &["show", "refs/worktree/keep:scratch.txt"]);
    assert_eq!(kept, "again ***REMOVED***\n");
    // git gc alone would have dropped what only that ref points at; the refs that held it
    // during gc are gone.
    assert!(sb
        .git(&["for-each-ref", "refs/keywarden-gc-hold/"])
        .is_empty());
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
    assert_fsck_clean(&sb, &sb.repo());
    // The backup holds the old value of the worktree's ref too.
    let bundle = backups(&sb).pop().expect("a backup");
    let heads = sb.git(&["bundle", "list-heads", &bundle.to_string_lossy()]);
    assert!(
        heads.contains("refs/keywarden-backup/worktree/1/worktree/keep"),
        "{heads}"
    );
}

#[test]
fn a_dropped_file_whose_name_held_a_secret_stays_on_disk() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    sb.write("README.md", "docs\n");
    sb.write(&format!("keys/{secret}.env"), "TOKEN=x\n");
    sb.write(&format!("keys/{secret}.txt"), "a note\n");
    sb.commit_all("keys");
    let out = purge(&sb, &secret, &["--delete-path", "**/*.env"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sb.git(&["ls-files"]), "README.md\nkeys/***REMOVED***.txt\n");
    // Dropped from history, kept on disk (now untracked), as every dropped file is.
    assert!(sb.path(&format!("keys/{secret}.env")).is_file());
    assert!(!sb.path(&format!("keys/{secret}.txt")).exists());
    assert!(!contains(&all_objects(&sb, &sb.repo()), &secret));
}

#[test]
fn delete_path_patterns_match_by_full_path_with_or_without_a_name_check() {
    // `config/*.pem` alone lets the rewrite skip trees by name; with `vendor/**` it cannot.
    for patterns in [&["config/*.pem"][..], &["config/*.pem", "vendor/**"]] {
        let sb = Sandbox::new();
        for path in [
            "config/server.pem",
            "config/sub/server.pem",
            "docs/server.pem",
            "vendor/lib/a.js",
            "vendor.txt",
        ] {
            sb.write(path, "x\n");
        }
        sb.commit_all("initial");
        sb.write("vendor.txt", "edited\n");
        sb.commit_all("edit");
        let mut args = vec!["purge", "--yes"];
        for pattern in patterns {
            args.extend(["--delete-path", pattern]);
        }
        let out = sb.keywarden().args(&args).output().expect("run");
        assert!(out.status.success(), "{}", text(&out));
        let mut expected = vec!["config/sub/server.pem", "docs/server.pem"];
        if patterns.len() == 1 {
            expected.push("vendor/lib/a.js");
        }
        expected.push("vendor.txt");
        expected.sort();
        let files = sb.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
        assert_eq!(files.lines().collect::<Vec<_>>(), expected, "{patterns:?}");
        assert_fsck_clean(&sb, &sb.repo());
    }
}

#[test]
fn a_packed_history_is_searched_in_pack_order_and_loose_blobs_by_id() {
    let sb = Sandbox::new();
    let secret = keys::github_pat();
    // Long delta chains in a pack, the secret in a middle version of a file and in a
    // binary; then a loose commit on top with it again.
    let mut text_file = String::from("# notes\n");
    for version in 0..30 {
        text_file.push_str(&format!("line {version}\n"));
        let body = if version == 11 {
            format!("{text_file}token = {secret}\n")
        } else {
            text_file.clone()
        };
        sb.write("notes.txt", body);
        let mut binary = [0u8, 1, 2, 3].repeat(300 + version);
        if version == 20 {
            binary.extend_from_slice(secret.as_bytes());
        }
        sb.write("data.bin", binary);
        sb.commit_all(&format!("version {version}"));
    }
    sb.repack_deltified();
    sb.write("late.txt", format!("again {secret}\n"));
    sb.commit_all("loose");
    let head_before = sb.git(&["rev-parse", "HEAD:notes.txt"]);
    let out = purge(&sb, &secret, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(", 3 of 61 blobs (3 files scrubbed"),
        "{}",
        text(&out)
    );
    assert!(
        !contains(&all_objects(&sb, &sb.repo()), &secret),
        "a copy is left"
    );
    // What never held it is untouched.
    assert_eq!(sb.git(&["rev-parse", "HEAD:notes.txt"]), head_before);
    assert_fsck_clean(&sb, &sb.repo());
}
