//! Every command a blocking hook suggests, taken out of its message and run exactly as
//! printed, in the situation it was printed for: afterwards the same commit or push goes
//! through (or the state is what the message promised).

use crate::support::githooks::{
    code, commit, head_count, hooked_git, install, printed_command, push, run_printed,
    run_printed_with, with_remote,
};
use crate::support::{keys, stderr, Sandbox};

/// Marks the first commit of an interactive rebase `edit`, as a person would.
const EDIT_FIRST: (&str, &str) = ("GIT_SEQUENCE_EDITOR", "sed -i -e '1s/^pick/edit/'");

fn blocked(out: &std::process::Output) -> String {
    assert_eq!(code(out), 1, "must be blocked: {}", stderr(out));
    let message = stderr(out);
    assert!(
        !message.contains("<file>") && !message.contains("<upstream>"),
        "{message}"
    );
    message
}

/// A repository with `app.py` and `other.py` committed, and keywarden installed.
fn two_files_with_hooks() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("app.py", "x = 1\n");
    sb.write("other.py", "y = 1\n");
    sb.commit_all("initial");
    install(&sb);
    sb
}

/// The message with the key's redacted form replaced, for a snapshot.
fn redacted(message: &str, key: &str) -> String {
    message.replace(&keywarden::core::secret::redact(key), "<REDACTED KEY>")
}

fn passes(out: &std::process::Output) {
    assert_eq!(code(out), 0, "must pass now: {}", stderr(out));
}

/// Commits `files` past the pre-commit hook (`--no-verify`), for the pre-push hook to find.
fn commit_unchecked(sb: &Sandbox, files: &[(&str, String)], message: &str) {
    for (path, content) in files {
        sb.write(path, content);
        sb.git(&["add", "-f", path]);
    }
    passes(&hooked_git(
        sb,
        &sb.repo(),
        &["commit", "-q", "--no-verify", "-m", message],
    ));
}

#[test]
fn plain_commit_restore_staged_and_the_baseline_work() {
    let sb = two_files_with_hooks();
    sb.write("app.py", format!("key = \"{}\"\n", keys::openai_project()));
    sb.write("other.py", "y = 2\n");
    sb.git(&["add", "app.py", "other.py"]);
    let message = blocked(&commit(&sb, &[]));
    let take_out = printed_command(&message, "out of this commit");
    assert_eq!(take_out, "git restore --staged app.py");
    run_printed(&sb, &sb.repo(), &take_out);
    passes(&commit(&sb, &[]));
    assert_eq!(sb.git(&["show", "HEAD:app.py"]), "x = 1\n");
    assert_eq!(sb.git(&["show", "HEAD:other.py"]), "y = 2\n");

    // The key staged again: the baseline command lets that same commit through.
    sb.git(&["add", "app.py"]);
    let message = blocked(&commit(&sb, &[]));
    let baseline = printed_command(&message, "record it in the baseline");
    assert_eq!(
        baseline,
        "keywarden scan --staged --write-baseline .keywarden-baseline.json"
    );
    run_printed(&sb, &sb.repo(), &baseline);
    passes(&commit(&sb, &[]));
}

#[test]
fn first_commit_takes_the_file_out_with_git_rm_cached() {
    let sb = Sandbox::new();
    install(&sb);
    sb.write("README.md", "hello\n");
    sb.write("src/app.py", format!("k = \"{}\"\n", keys::github_pat()));
    sb.git(&["add", "-A"]);
    let message = blocked(&commit(&sb, &[]));
    assert!(
        !message.contains("git restore"),
        "no HEAD to restore from: {message}"
    );
    let take_out = printed_command(&message, "out of this commit");
    assert_eq!(take_out, "git rm --cached src/app.py");
    run_printed(&sb, &sb.repo(), &take_out);
    passes(&commit(&sb, &[]));
    let committed = sb.git(&["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(
        committed.contains("README.md") && !committed.contains("src/app.py"),
        "{committed}"
    );
    assert!(sb.path("src/app.py").is_file(), "the file stays on disk");

    // Staged with the key, then edited on disk: plain `git rm --cached` would refuse.
    let sb = Sandbox::new();
    install(&sb);
    sb.write("README.md", "hello\n");
    sb.write("app.py", format!("k = \"{}\"\n", keys::github_pat()));
    sb.git(&["add", "-A"]);
    sb.write("app.py", "k = os.environ[\"TOKEN\"]\n");
    let message = blocked(&commit(&sb, &[]));
    let take_out = printed_command(&message, "out of this commit");
    assert_eq!(take_out, "git rm --cached -f app.py");
    run_printed(&sb, &sb.repo(), &take_out);
    passes(&commit(&sb, &[]));
    assert_eq!(sb.read("app.py"), "k = os.environ[\"TOKEN\"]\n");
}

#[test]
fn commit_all_commits_the_rest_without_a_and_the_baseline_covers_it() {
    let sb = two_files_with_hooks();
    let key = keys::openai_project();
    sb.write("app.py", format!("key = \"{key}\"\n"));
    sb.write("other.py", "y = 2\n");
    let message = blocked(&commit(&sb, &["-a"]));
    assert!(!message.contains("git restore --staged"), "{message}");
    insta::assert_snapshot!("blocked_commit_all", redacted(&message, &key));
    let take_out = printed_command(&message, "without -a");
    assert_eq!(take_out, "git add other.py && git commit");
    run_printed(&sb, &sb.repo(), &take_out);
    assert_eq!(head_count(&sb), 2);
    assert_eq!(sb.git(&["show", "HEAD:other.py"]), "y = 2\n");
    assert_eq!(sb.git(&["show", "HEAD:app.py"]), "x = 1\n");

    // `commit -a` again: the baseline command records what `-a` commits.
    let message = blocked(&commit(&sb, &["-a"]));
    let baseline = printed_command(&message, "record it in the baseline");
    assert_eq!(
        baseline,
        "keywarden scan app.py --write-baseline .keywarden-baseline.json"
    );
    run_printed(&sb, &sb.repo(), &baseline);
    passes(&commit(&sb, &["-a"]));
}

#[test]
fn commit_of_paths_commits_the_other_paths_and_the_baseline_covers_it() {
    let sb = two_files_with_hooks();
    sb.write("app.py", format!("key = \"{}\"\n", keys::anthropic()));
    sb.write("other.py", "y = 2\n");
    let message = blocked(&commit(&sb, &["app.py", "other.py"]));
    let take_out = printed_command(&message, "out of the paths you commit");
    assert_eq!(take_out, "git commit other.py");
    run_printed(&sb, &sb.repo(), &take_out);
    assert_eq!(sb.git(&["show", "HEAD:other.py"]), "y = 2\n");
    assert_eq!(sb.git(&["show", "HEAD:app.py"]), "x = 1\n");

    let message = blocked(&commit(&sb, &["app.py"]));
    let baseline = printed_command(&message, "record it in the baseline");
    run_printed(&sb, &sb.repo(), &baseline);
    passes(&commit(&sb, &["app.py"]));
}

#[test]
fn commit_all_with_a_tracked_env_file_stops_tracking_it() {
    let sb = Sandbox::new();
    sb.write(".env", "DEBUG=1\n");
    sb.write("app.py", "x = 1\n");
    sb.commit_all("env committed before keywarden");
    install(&sb);
    sb.write(".env", "DEBUG=0\n");
    sb.write("app.py", "x = 2\n");
    let message = blocked(&commit(&sb, &["-a"]));
    let take_out = printed_command(&message, "out of this commit");
    assert_eq!(take_out, "git rm --cached .env");
    run_printed(&sb, &sb.repo(), &take_out);
    passes(&commit(&sb, &["-a"]));
    assert_eq!(sb.git(&["ls-tree", "--name-only", "HEAD"]), "app.py\n");
    assert_eq!(sb.read(".env"), "DEBUG=0\n", "the file stays on disk");
}

#[test]
fn dot_env_is_called_ignored_only_when_gitignore_covers_it() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    // Without --yes and without a terminal, install leaves .gitignore alone.
    sb.run(["install"]).success();
    sb.write("app.py", format!("key = \"{}\"\n", keys::openai_project()));
    sb.git(&["add", "app.py"]);
    let message = blocked(&commit(&sb, &[]));
    assert!(!message.contains("git ignores it"), "{message}");
    assert!(
        message.contains("move the value into .env and read it"),
        "{message}"
    );
    let ignore = printed_command(&message, "make git ignore .env");
    assert_eq!(ignore, "keywarden install --gitignore-only --yes");
    run_printed(&sb, &sb.repo(), &ignore);
    assert!(sb
        .git_output(&["check-ignore", "-q", ".env"])
        .status
        .success());
    let message = blocked(&commit(&sb, &[]));
    assert!(
        message.contains("move the value into .env (git ignores it)"),
        "{message}"
    );
    assert!(!message.contains("make git ignore"), "{message}");
}

#[test]
fn env_file_that_git_does_not_ignore_gets_the_gitignore_fix() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    sb.run(["install"]).success();
    sb.write("config/.env.staging", "DEBUG=0\n");
    sb.git(&["add", "config/.env.staging"]);
    let message = blocked(&commit(&sb, &[]));
    let take_out = printed_command(&message, "out of this commit");
    run_printed(&sb, &sb.repo(), &take_out);
    let ignore = printed_command(&message, "make git ignore config/.env.staging");
    run_printed(&sb, &sb.repo(), &ignore);
    assert!(sb
        .git_output(&["check-ignore", "-q", "config/.env.staging"])
        .status
        .success());
    // `git add -A` no longer picks it up.
    sb.git(&["add", "-A"]);
    passes(&commit(&sb, &[]));
    assert!(!sb
        .git(&["ls-tree", "-r", "--name-only", "HEAD"])
        .contains(".env.staging"));
}

#[test]
fn commands_work_from_a_subdirectory() {
    let sb = Sandbox::new();
    sb.write("sub/app.py", "x = 1\n");
    sb.commit_all("initial");
    install(&sb);
    let sub = sb.path("sub");
    sb.write("sub/app.py", format!("key = \"{}\"\n", keys::github_pat()));
    sb.git(&["add", "sub/app.py"]);
    let out = hooked_git(&sb, &sub, &["commit", "-q", "-m", "x"]);
    let message = blocked(&out);
    let baseline = printed_command(&message, "record it in the baseline");
    assert_eq!(
        baseline,
        "keywarden -C .. scan --staged --write-baseline .keywarden-baseline.json"
    );
    let take_out = printed_command(&message, "out of this commit");
    assert_eq!(take_out, "git -C .. restore --staged sub/app.py");
    run_printed(&sb, &sub, &take_out);
    assert_eq!(sb.git(&["diff", "--cached", "--name-only"]), "");
    sb.git(&["add", "sub/app.py"]);
    run_printed(&sb, &sub, &baseline);
    assert!(sb.path(".keywarden-baseline.json").is_file());
    passes(&hooked_git(&sb, &sub, &["commit", "-q", "-m", "x"]));
}

/// Takes `file`'s key out during the rebase stop, amends and continues.
fn fix_during_rebase(sb: &Sandbox, file: &str) {
    sb.write(file, "import os\nKEY = os.environ[\"KEY\"]\n");
    sb.git(&["add", file]);
    passes(&hooked_git(
        sb,
        &sb.repo(),
        &["commit", "-q", "--amend", "--no-edit"],
    ));
    let out = hooked_git(
        sb,
        &sb.repo(),
        &["-c", "core.editor=true", "rebase", "--continue"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn first_push_rebases_from_the_root_not_from_an_upstream() {
    let sb = Sandbox::new();
    with_remote(&sb);
    install(&sb);
    let key = keys::openai_project();
    commit_unchecked(
        &sb,
        &[("settings.py", format!("KEY = \"{key}\"\n"))],
        "first",
    );
    sb.write("other.py", "y = 1\n");
    sb.git(&["add", "other.py"]);
    passes(&commit(&sb, &[]));
    let message = blocked(&push(&sb, &["-u", "origin", "main"]));
    let first = sb.git(&["rev-list", "--max-parents=0", "HEAD"]);
    let first_short = sb.git(&["rev-parse", "--short", "HEAD~"]);
    let tip_short = sb.git(&["rev-parse", "--short", "HEAD"]);
    // git's own closing line names the temporary remote.
    let ours: String = message
        .lines()
        .filter(|l| !l.starts_with("error: failed to push some refs"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(
        "blocked_first_push",
        redacted(&ours, &key)
            .replace(&first.trim()[..10], "<FIRST>")
            .replace(first_short.trim(), "<FIRST>")
            .replace(tip_short.trim(), "<TIP>")
    );
    // The baseline covers the whole new history.
    let baseline = printed_command(&message, "record it in the baseline");
    assert_eq!(
        baseline,
        format!(
            "keywarden scan --range {} --write-baseline .keywarden-baseline.json",
            tip_short.trim()
        )
    );
    run_printed(&sb, &sb.repo(), &baseline);
    passes(&push(&sb, &["--dry-run", "-u", "origin", "main"]));
    std::fs::remove_file(sb.path(".keywarden-baseline.json")).expect("rm");
    // Or the commit rewritten from the root.
    let rebase = printed_command(&message, "when it stops there");
    assert_eq!(rebase, "git rebase -i --root");
    run_printed_with(&sb, &sb.repo(), &rebase, &[EDIT_FIRST]);
    fix_during_rebase(&sb, "settings.py");
    passes(&push(&sb, &["-u", "origin", "main"]));
}

#[test]
fn push_of_older_commits_rebases_from_the_parent_of_the_first_one() {
    let sb = Sandbox::new();
    with_remote(&sb);
    sb.commit_all("initial");
    install(&sb);
    passes(&push(&sb, &["-u", "origin", "main"]));
    let base = sb.git(&["rev-parse", "--short", "HEAD"]);
    commit_unchecked(
        &sb,
        &[(
            "settings.py",
            format!("KEY = \"{}\"\n", keys::stripe_live()),
        )],
        "leak",
    );
    sb.write("later.py", "z = 1\n");
    sb.git(&["add", "later.py"]);
    passes(&commit(&sb, &[]));
    let message = blocked(&push(&sb, &["origin", "main"]));
    let rebase = printed_command(&message, "when it stops there");
    assert_eq!(rebase, format!("git rebase -i {}", base.trim()));
    run_printed_with(&sb, &sb.repo(), &rebase, &[EDIT_FIRST]);
    fix_during_rebase(&sb, "settings.py");
    passes(&push(&sb, &["origin", "main"]));
    assert_eq!(head_count(&sb), 3, "the later commit is kept");
}

#[test]
fn env_file_in_the_last_pushed_commit_is_amended_out() {
    let sb = Sandbox::new();
    with_remote(&sb);
    sb.commit_all("initial");
    install(&sb);
    passes(&push(&sb, &["-u", "origin", "main"]));
    commit_unchecked(
        &sb,
        &[
            ("config/.env.staging", "DEBUG=0\n".into()),
            ("app.py", "x = 1\n".into()),
        ],
        "wip",
    );
    let message = blocked(&push(&sb, &["origin", "main"]));
    let fixes: Vec<&str> = message
        .lines()
        .skip_while(|l| *l != "How to fix:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(
        fixes.iter().all(|l| !l.trim_start().starts_with("- then")),
        "no dangling `then`: {message}"
    );
    assert!(
        fixes[0].starts_with("  - take it out of the last commit"),
        "{message}"
    );
    let amend = printed_command(&message, "out of the last commit");
    assert_eq!(
        amend,
        "git rm --cached config/.env.staging && git commit --amend --no-edit"
    );
    run_printed(&sb, &sb.repo(), &amend);
    passes(&push(&sb, &["origin", "main"]));
    assert_eq!(
        sb.git(&["ls-tree", "-r", "--name-only", "origin/main"]),
        "app.py\n"
    );
}

#[test]
fn key_in_the_last_pushed_commit_amend_and_baseline_work() {
    let sb = Sandbox::new();
    with_remote(&sb);
    sb.commit_all("initial");
    install(&sb);
    passes(&push(&sb, &["-u", "origin", "main"]));
    commit_unchecked(
        &sb,
        &[("client.py", format!("KEY = \"{}\"\n", keys::anthropic()))],
        "wip",
    );
    let message = blocked(&push(&sb, &["origin", "main"]));
    let amend = printed_command(&message, "after removing the key from client.py");
    assert_eq!(amend, "git add client.py && git commit --amend --no-edit");
    let baseline = printed_command(&message, "record it in the baseline");

    // The baseline: this push goes through as it is.
    run_printed(&sb, &sb.repo(), &baseline);
    passes(&push(&sb, &["--dry-run", "origin", "main"]));
    std::fs::remove_file(sb.path(".keywarden-baseline.json")).expect("rm");

    // Or the key taken out of the commit.
    sb.write(
        "client.py",
        "import os\nKEY = os.environ[\"ANTHROPIC_API_KEY\"]\n",
    );
    run_printed(&sb, &sb.repo(), &amend);
    passes(&push(&sb, &["origin", "main"]));
}

#[test]
fn commit_all_with_the_key_also_staged_unstages_it_first() {
    let sb = two_files_with_hooks();
    sb.write("app.py", format!("key = \"{}\"\n", keys::github_pat()));
    sb.git(&["add", "app.py"]);
    sb.write("other.py", "y = 2\n");
    let message = blocked(&commit(&sb, &["-a"]));
    let take_out = printed_command(&message, "without -a");
    assert_eq!(
        take_out,
        "git restore --staged app.py && git add other.py && git commit"
    );
    run_printed(&sb, &sb.repo(), &take_out);
    assert_eq!(sb.git(&["show", "HEAD:app.py"]), "x = 1\n");
    assert_eq!(sb.git(&["show", "HEAD:other.py"]), "y = 2\n");
}

#[test]
fn push_of_a_branch_that_is_not_checked_out_rebases_that_branch() {
    let sb = Sandbox::new();
    with_remote(&sb);
    sb.commit_all("initial");
    install(&sb);
    passes(&push(&sb, &["-u", "origin", "main"]));
    let base = sb.git(&["rev-parse", "--short", "HEAD"]);
    sb.git(&["checkout", "-q", "-b", "topic"]);
    commit_unchecked(
        &sb,
        &[("deploy.sh", format!("TOKEN={}\n", keys::github_pat()))],
        "deploy",
    );
    sb.git(&["checkout", "-q", "main"]);
    let message = blocked(&push(&sb, &["origin", "topic"]));
    let rebase = printed_command(&message, "when it stops there");
    assert_eq!(rebase, format!("git rebase -i {} topic", base.trim()));
    run_printed_with(&sb, &sb.repo(), &rebase, &[EDIT_FIRST]);
    fix_during_rebase(&sb, "deploy.sh");
    passes(&push(&sb, &["origin", "topic"]));
}

#[test]
fn key_in_the_last_commit_message_is_amended_in_the_editor() {
    let sb = Sandbox::new();
    with_remote(&sb);
    sb.commit_all("initial");
    install(&sb);
    passes(&push(&sb, &["-u", "origin", "main"]));
    sb.write("a.txt", "a\n");
    sb.git(&["add", "a.txt"]);
    let subject = format!("use token {}", keys::github_pat());
    passes(&hooked_git(
        &sb,
        &sb.repo(),
        &["commit", "-q", "--no-verify", "-m", &subject],
    ));
    let message = blocked(&push(&sb, &["origin", "main"]));
    assert!(
        message.contains("the editor opens on the commit message"),
        "{message}"
    );
    let amend = printed_command(&message, "out of the last commit");
    assert_eq!(amend, "git commit --amend");
    run_printed(&sb, &sb.repo(), &amend);
    passes(&push(&sb, &["origin", "main"]));
}
