//! `keywarden install`, `uninstall`, `status` and the hooks, driven through the real
//! `git commit` and `git push` in sealed repositories.

use crate::support::githooks::{
    bin_dir, code, commit, head_count, hooked_git, install, make_executable,
    path_without_keywarden, push, with_remote,
};
use crate::support::{keys, stderr, stdout, Sandbox};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Replaces the random parts of a blocked-commit message so it can be snapshotted.
fn normalize(message: &str, key: &str) -> String {
    message.replace(&keywarden::core::secret::redact(key), "<REDACTED KEY>")
}

#[test]
fn first_commit_with_a_key_is_blocked_with_an_actionable_message() {
    let sb = Sandbox::new();
    install(&sb);
    let key = keys::openai_project();
    sb.write(
        "src/app.py",
        format!("import os\n\nclient = OpenAI(api_key=\"{key}\")\n"),
    );
    sb.write("README.md", "hello\n");
    sb.git(&["add", "-A"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(head_count(&sb), 0, "nothing was committed");
    let message = stderr(&out);
    assert!(!message.contains(&key), "the key is never printed in full");
    assert!(!message.contains('\x1b'), "no colour when NO_COLOR is set");
    insta::assert_snapshot!("blocked_commit", normalize(&message, &key));
}

#[test]
fn blocked_message_for_env_file_and_key() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    install(&sb);
    let key = keys::github_pat();
    sb.write(".env", format!("GITHUB_TOKEN={}\n", keys::github_pat()));
    sb.write("deploy.sh", format!("curl -H \"token {key}\" x\n"));
    sb.git(&["add", "-f", ".env", "deploy.sh"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 1);
    insta::assert_snapshot!("blocked_env_file_and_key", normalize(&stderr(&out), &key));
}

#[test]
fn colour_only_when_asked_for() {
    let sb = Sandbox::new();
    sb.write("a.txt", format!("k = \"{}\"\n", keys::anthropic()));
    sb.git(&["add", "a.txt"]);
    // Not a terminal: plain, even without NO_COLOR.
    let out = sb
        .keywarden()
        .env_remove("NO_COLOR")
        .args(["hook", "pre-commit"])
        .output()
        .expect("run hook");
    assert_eq!(code(&out), 1);
    assert!(!stderr(&out).contains('\x1b'));
    assert!(stderr(&out).contains("a.txt:1:6"), "{}", stderr(&out));
}

#[test]
fn env_files_are_blocked_by_name_but_templates_and_deletions_pass() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    install(&sb);
    for name in [".env", ".env.local", "config/prod.env"] {
        sb.write(name, "DEBUG=1\n");
        sb.git(&["add", "-f", name]);
        let out = commit(&sb, &[]);
        assert_eq!(code(&out), 1, "{name} must be blocked");
        assert!(stderr(&out).contains(name), "{}", stderr(&out));
        sb.git(&["reset", "-q"]);
        std::fs::remove_file(sb.path(name)).expect("remove");
    }
    sb.write(".env.example", "OPENAI_API_KEY=\n");
    sb.write("src/environment.ts", "export const env = 1;\n");
    sb.git(&["add", "-A"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // An env file committed before keywarden: deleting it is allowed.
    let sb = Sandbox::new();
    sb.write(".env", "DEBUG=1\n");
    sb.commit_all("oops");
    install(&sb);
    sb.git(&["rm", "-q", "--cached", ".env"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn env_file_policy_is_configurable() {
    let sb = Sandbox::new();
    sb.write(
        ".keywarden.toml",
        "[hooks]\nenv_files = [\"*.secrets\"]\nallowed_env_files = []\n",
    );
    sb.commit_all("config");
    install(&sb);
    sb.write(".env", "DEBUG=1\n");
    sb.git(&["add", "-f", ".env"]);
    assert_eq!(code(&commit(&sb, &[])), 0);
    sb.write("prod.secrets", "DEBUG=1\n");
    sb.git(&["add", "prod.secrets"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("prod.secrets"));
}

#[test]
fn commit_all_and_commit_path_check_what_is_really_committed() {
    let sb = Sandbox::new();
    sb.write("app.py", "x = 1\n");
    sb.write("other.py", "y = 1\n");
    sb.commit_all("initial");
    install(&sb);
    // Unstaged key: plain `git commit` of other content passes...
    sb.write("app.py", format!("key = \"{}\"\n", keys::openai_project()));
    sb.write("other.py", "y = 2\n");
    sb.git(&["add", "other.py"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // ...but `git commit -a` (a temporary index in GIT_INDEX_FILE) is blocked,
    let out = commit(&sb, &["-a"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("app.py:1:8"), "{}", stderr(&out));
    // and so is `git commit app.py`.
    let out = commit(&sb, &["app.py"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(head_count(&sb), 2);
}

#[test]
fn partially_staged_changes_are_judged_by_the_index() {
    let sb = Sandbox::new();
    sb.write("app.py", "x = 1\n");
    sb.commit_all("initial");
    install(&sb);
    // Staged with the key, then the key removed from the working tree only: blocked.
    sb.write("app.py", format!("key = \"{}\"\n", keys::huggingface()));
    sb.git(&["add", "app.py"]);
    sb.write("app.py", "x = 2\n");
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    // Staged clean, key only in the working tree: passes.
    sb.git(&["add", "app.py"]);
    sb.write("app.py", format!("key = \"{}\"\n", keys::huggingface()));
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn amend_that_adds_a_key_is_blocked() {
    let sb = Sandbox::new();
    sb.write("app.py", "x = 1\n");
    sb.commit_all("initial");
    install(&sb);
    sb.write(
        "app.py",
        format!("x = 1\nk = \"{}\"\n", keys::stripe_live()),
    );
    sb.git(&["add", "app.py"]);
    let out = hooked_git(&sb, &sb.repo(), &["commit", "-q", "--amend", "--no-edit"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("app.py:2:6"), "{}", stderr(&out));
}

#[test]
fn already_committed_key_warns_by_default_and_blocks_when_configured() {
    let sb = Sandbox::new();
    let key = keys::openai_legacy();
    sb.write("config.py", format!("KEY = \"{key}\"\n"));
    sb.commit_all("leaked before keywarden");
    install(&sb);
    sb.write("config.py", format!("KEY = \"{key}\"\nDEBUG = True\n"));
    sb.git(&["add", "config.py"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("already in an earlier commit"),
        "{message}"
    );
    assert!(message.contains("config.py:1:8"), "{message}");
    assert!(message.contains("keywarden incident"), "{message}");
    assert!(!message.contains(&key));

    sb.write(
        ".keywarden.toml",
        "[hooks]\nalready_committed = \"block\"\n",
    );
    sb.write("config.py", format!("KEY = \"{key}\"\nDEBUG = False\n"));
    sb.git(&["add", "config.py", ".keywarden.toml"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

#[test]
fn allow_comment_and_baseline_let_a_commit_through() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    install(&sb);
    sb.write(
        "fixture.py",
        format!("k = \"{}\"  # keywarden:allow\n", keys::github_pat()),
    );
    sb.git(&["add", "fixture.py"]);
    assert_eq!(code(&commit(&sb, &[])), 0);

    sb.write("fixture2.py", format!("k = \"{}\"\n", keys::github_pat()));
    sb.git(&["add", "fixture2.py"]);
    assert_eq!(code(&commit(&sb, &[])), 1);
    sb.keywarden()
        .args([
            "scan",
            "--staged",
            "--write-baseline",
            ".keywarden-baseline.json",
        ])
        .assert()
        .code(0);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn merge_bringing_in_an_already_committed_key_warns_instead_of_blocking() {
    let sb = Sandbox::new();
    sb.write("shared.txt", "base\n");
    sb.commit_all("base");
    sb.git(&["checkout", "-q", "-b", "feature"]);
    let key = keys::anthropic();
    sb.write("feature.py", format!("k = \"{key}\"\n"));
    sb.write("shared.txt", "feature\n");
    sb.commit_all("feature with key");
    sb.git(&["checkout", "-q", "main"]);
    sb.write("shared.txt", "main\n");
    sb.commit_all("main");
    install(&sb);
    let out = hooked_git(&sb, &sb.repo(), &["merge", "-q", "feature"]);
    assert_ne!(code(&out), 0, "the merge conflicts");
    sb.write("shared.txt", "resolved\n");
    sb.git(&["add", "shared.txt"]);
    let out = hooked_git(&sb, &sb.repo(), &["commit", "-q", "--no-edit"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("feature.py"), "{}", stderr(&out));
    assert!(stderr(&out).contains("already in an earlier commit"));
}

#[test]
fn chained_hook_still_runs_and_its_failure_counts() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    let hook = sb.repo().join(".git/hooks/pre-commit");
    let original = "#!/bin/sh\necho chained ran >> \"$(git rev-parse --git-dir)/chained.log\"\nexit ${CHAINED_EXIT:-0}\n";
    std::fs::write(&hook, original).expect("write hook");
    make_executable(&hook);
    let first = install(&sb);
    assert!(first.contains("existing hook still runs"), "{first}");
    // Idempotent: a second install changes nothing.
    let second = install(&sb);
    assert!(second.contains("pre-commit: already installed"), "{second}");
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(".git/hooks/pre-commit.keywarden-chained"))
            .expect("chained kept"),
        original
    );

    sb.write("a.txt", "a\n");
    sb.git(&["add", "a.txt"]);
    assert_eq!(code(&commit(&sb, &[])), 0);
    let log = std::fs::read_to_string(sb.repo().join(".git/chained.log")).expect("log");
    assert_eq!(log, "chained ran\n");

    sb.write("b.txt", "b\n");
    sb.git(&["add", "b.txt"]);
    let out = sb
        .git_cmd_in(&sb.repo())
        .env(
            "PATH",
            format!("{}:{}", bin_dir().display(), path_without_keywarden()),
        )
        .env("CHAINED_EXIT", "3")
        .args(["commit", "-q", "-m", "x"])
        .output()
        .expect("git");
    assert_ne!(code(&out), 0, "the chained hook's failure blocks");

    // A key blocks before the chained hook runs.
    sb.write("c.txt", format!("{}\n", keys::github_pat()));
    sb.git(&["add", "c.txt"]);
    assert_eq!(code(&commit(&sb, &[])), 1);
    let log = std::fs::read_to_string(sb.repo().join(".git/chained.log")).expect("log");
    assert_eq!(log.lines().count(), 2);

    // Uninstall puts the original hook back, byte for byte.
    let out = sb.keywarden().arg("uninstall").output().expect("uninstall");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&hook).expect("hook"), original);
    assert!(!sb
        .repo()
        .join(".git/hooks/pre-commit.keywarden-chained")
        .exists());
    assert!(!sb.repo().join(".git/hooks/pre-push").exists());
    // And the key now goes through: nothing of keywarden is left.
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

fn git_path_hooks(sb: &Sandbox, dir: &Path) -> PathBuf {
    let out = sb.git_in(dir, &["rev-parse", "--git-path", "hooks"]);
    let p = PathBuf::from(out.trim());
    let p = if p.is_absolute() { p } else { dir.join(p) };
    std::fs::canonicalize(p).expect("hooks dir exists")
}

#[test]
fn relative_and_absolute_core_hooks_path_are_honoured() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    sb.git(&["config", "core.hooksPath", "tools/hooks"]);
    install(&sb);
    assert!(sb.path("tools/hooks/pre-commit").is_file());
    assert_eq!(
        git_path_hooks(&sb, &sb.repo()),
        std::fs::canonicalize(sb.path("tools/hooks")).expect("dir")
    );
    sb.write("k.txt", keys::aws_access_key_id());
    sb.git(&["add", "k.txt"]);
    assert_eq!(code(&commit(&sb, &[])), 1);
    sb.git(&["reset", "-q"]);

    let abs = sb.root().join("abs-hooks");
    sb.git(&["config", "core.hooksPath", &abs.to_string_lossy()]);
    install(&sb);
    assert!(abs.join("pre-push").is_file());
    sb.git(&["add", "k.txt"]);
    assert_eq!(code(&commit(&sb, &[])), 1);
}

/// Husky v9's generated `.husky/_` directory (what `husky` writes on `npm install`).
fn husky_runner(sb: &Sandbox) {
    sb.write(
        ".husky/_/h",
        "#!/usr/bin/env sh\nn=$(basename \"$0\")\ns=$(dirname \"$(dirname \"$0\")\")/$n\n[ ! -f \"$s\" ] && exit 0\nsh -e \"$s\" \"$@\"\nc=$?\nexit $c\n",
    );
    for hook in ["pre-commit", "pre-push"] {
        let path = format!(".husky/_/{hook}");
        sb.write(&path, "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"\n");
        make_executable(&sb.path(&path));
    }
}

#[test]
fn husky_scripts_get_a_block_not_a_shim() {
    let sb = Sandbox::new();
    husky_runner(&sb);
    let team = "echo lint ran >> husky.log\n";
    sb.write(".husky/pre-commit", team);
    sb.write(".gitignore", "husky.log\n");
    sb.commit_all("husky");
    sb.git(&["config", "core.hooksPath", ".husky/_"]);
    let out = install(&sb);
    assert!(out.contains("Husky"), "{out}");
    let script = sb.read(".husky/pre-commit");
    assert!(
        script.starts_with("# >>> keywarden pre-commit >>>"),
        "{script}"
    );
    assert!(script.ends_with(team));
    assert!(sb.path(".husky/pre-push").is_file());
    assert!(
        !sb.path(".husky/post-merge").exists(),
        "no no-op hooks in the team's scripts"
    );
    assert!(
        !sb.read(".husky/_/pre-commit").contains("keywarden"),
        "husky's own directory is never touched"
    );

    sb.write("a.txt", "a\n");
    sb.git(&["add", "a.txt"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sb.read("husky.log"), "lint ran\n");
    sb.write("k.txt", keys::openai_admin());
    sb.git(&["add", "k.txt"]);
    let out = commit(&sb, &[]);
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("commit blocked"), "{}", stderr(&out));

    let out = sb.keywarden().arg("uninstall").output().expect("uninstall");
    assert_eq!(code(&out), 0);
    assert_eq!(sb.read(".husky/pre-commit"), team);
    assert!(!sb.path(".husky/pre-push").exists());
}

#[test]
fn linked_worktree_uses_the_common_hooks_dir() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    let wt = sb.add_worktree("wt", "side", None);
    let out = sb
        .keywarden()
        .current_dir(&wt)
        .args(["install", "--yes"])
        .output()
        .expect("install");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(sb.repo().join(".git/hooks/pre-commit").is_file());
    assert_eq!(
        git_path_hooks(&sb, &wt),
        std::fs::canonicalize(sb.repo().join(".git/hooks")).expect("dir")
    );
    std::fs::write(wt.join("k.txt"), keys::github_pat()).expect("write");
    sb.git_in(&wt, &["add", "k.txt"]);
    let out = hooked_git(&sb, &wt, &["commit", "-q", "-m", "x"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("k.txt:1:1"), "{}", stderr(&out));
}

#[test]
fn bare_repository_and_submodule_hooks_dirs_match_git() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    let bare = sb.root().join("bare.git");
    sb.git(&["clone", "-q", "--bare", ".", &bare.to_string_lossy()]);
    let out = sb
        .keywarden()
        .current_dir(&bare)
        .args(["install", "--yes"])
        .output()
        .expect("install");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(bare.join("hooks/pre-push").is_file());
    assert_eq!(
        git_path_hooks(&sb, &bare),
        std::fs::canonicalize(bare.join("hooks")).expect("dir")
    );

    let sub_src = sb.root().join("subsrc");
    std::fs::create_dir_all(&sub_src).expect("mkdir");
    sb.git_in(&sub_src, &["init", "-q", "-b", "main"]);
    sb.git_in(&sub_src, &["commit", "-q", "--allow-empty", "-m", "sub"]);
    sb.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &sub_src.to_string_lossy(),
        "sub",
    ]);
    let sub = sb.path("sub");
    let out = sb
        .keywarden()
        .current_dir(&sub)
        .args(["install", "--yes"])
        .output()
        .expect("install");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let hooks = git_path_hooks(&sb, &sub);
    assert!(
        hooks.ends_with(".git/modules/sub/hooks"),
        "{}",
        hooks.display()
    );
    assert!(hooks.join("pre-commit").is_file());
    std::fs::write(sub.join("k.txt"), keys::github_pat()).expect("write");
    sb.git_in(&sub, &["add", "k.txt"]);
    let out = hooked_git(&sb, &sub, &["commit", "-q", "-m", "x"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

#[test]
fn shim_fails_closed_without_the_binary_and_uses_the_recorded_path() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    let copy_dir = sb.root().join("bin");
    std::fs::create_dir_all(&copy_dir).expect("mkdir");
    let copy = copy_dir.join("keywarden");
    std::fs::copy(assert_cmd::cargo::cargo_bin("keywarden"), &copy).expect("copy binary");
    let out = sb
        .git_cmd_in(&sb.repo())
        .args(["status"])
        .output()
        .expect("git");
    assert!(out.status.success());
    let out = Command::new(&copy)
        .current_dir(sb.repo())
        .envs(crate::support::sealed_env(sb.root()))
        .args(["install", "--yes"])
        .output()
        .expect("install with the copy");
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Not on PATH: the recorded absolute path is used.
    sb.write("k.txt", keys::github_pat());
    sb.git(&["add", "k.txt"]);
    let no_kw = path_without_keywarden();
    let run = |path: &str| {
        sb.git_cmd_in(&sb.repo())
            .env("PATH", path)
            .args(["commit", "-q", "-m", "x"])
            .output()
            .expect("git")
    };
    let out = run(&no_kw);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("commit blocked"), "{}", stderr(&out));

    // Neither: fail closed, saying how to fix it and how to bypass.
    std::fs::remove_file(&copy).expect("remove the copy");
    sb.git(&["reset", "-q"]);
    sb.write("clean.txt", "fine\n");
    sb.git(&["add", "clean.txt"]);
    let out = run(&no_kw);
    assert_eq!(code(&out), 1, "fails closed");
    let message = stderr(&out);
    assert!(
        message.contains("keywarden is neither on PATH"),
        "{message}"
    );
    // The crate is not published: the hint names what works.
    assert!(
        message.contains("cargo install --locked --path . in a checkout of keywarden")
            || message.contains("(in a checkout of keywarden: cargo install --locked --path .)"),
        "{message}"
    );
    assert!(!message.contains("cargo install keywarden"), "{message}");
    assert!(message.contains("--no-verify"), "{message}");
    assert_eq!(head_count(&sb), 1);
}

#[test]
fn pre_push_blocks_commits_with_keys_and_scans_only_what_is_pushed() {
    let sb = Sandbox::new();
    let remote = with_remote(&sb);
    sb.write("a.txt", "a\n");
    sb.commit_all("initial");
    install(&sb);
    assert_eq!(code(&push(&sb, &["-u", "origin", "main"])), 0);

    // A key committed with --no-verify is caught at push time.
    let key = keys::openai_project();
    sb.write("settings.py", format!("KEY = \"{key}\"\n"));
    sb.git(&["add", "settings.py"]);
    let out = hooked_git(
        &sb,
        &sb.repo(),
        &["commit", "-q", "--no-verify", "-m", "oops"],
    );
    assert_eq!(code(&out), 0);
    let out = push(&sb, &["origin", "main"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("push blocked"), "{message}");
    assert!(message.contains("settings.py:1:8 (commit "), "{message}");
    assert!(message.contains("git push --no-verify"), "{message}");
    assert!(!message.contains(&key));
    let remote_head = sb.git_in(&remote, &["rev-parse", "main"]);
    assert_ne!(remote_head.trim(), sb.git(&["rev-parse", "HEAD"]).trim());

    // Fix it in a new commit: the key is still in the pushed commits, so still blocked.
    sb.write(
        "settings.py",
        "import os\nKEY = os.environ[\"OPENAI_API_KEY\"]\n",
    );
    sb.commit_all("fix");
    assert_eq!(code(&push(&sb, &["origin", "main"])), 1);
    // Rewrite the unpushed history: now the push goes through.
    sb.git(&["reset", "-q", "--soft", "origin/main"]);
    sb.commit_all("settings from the environment");
    let out = push(&sb, &["origin", "main"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn pre_push_of_a_new_branch_skips_commits_the_remote_has_and_deletions_pass() {
    let sb = Sandbox::new();
    with_remote(&sb);
    sb.commit_all("initial");
    // A key pushed before keywarden was installed: already on the remote.
    sb.write("old.py", format!("K = \"{}\"\n", keys::github_pat()));
    sb.commit_all("old leak");
    assert_eq!(code(&push(&sb, &["-u", "origin", "main"])), 0);
    install(&sb);

    sb.git(&["checkout", "-q", "-b", "topic"]);
    sb.write("new.py", "print('clean')\n");
    sb.commit_all("clean work");
    let out = push(&sb, &["-u", "origin", "topic"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    sb.git(&["checkout", "-q", "-b", "topic2"]);
    sb.write(".env.production", "DEBUG=0\n");
    sb.git(&["add", "-f", ".env.production"]);
    sb.git(&["commit", "-q", "--no-verify", "-m", "env"]);
    let out = push(&sb, &["origin", "topic2"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(".env.production (commit "),
        "{}",
        stderr(&out)
    );

    let out = push(&sb, &["origin", "--delete", "topic"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // An annotated tag of an already pushed commit adds nothing to check.
    sb.git(&["tag", "-a", "-m", "release", "v1", "main"]);
    let out = push(&sb, &["origin", "v1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn pre_push_chains_an_existing_hook_with_its_input() {
    let sb = Sandbox::new();
    with_remote(&sb);
    sb.commit_all("initial");
    let hook = sb.repo().join(".git/hooks/pre-push");
    std::fs::write(
        &hook,
        "#!/bin/sh\ncat > \"$(git rev-parse --git-dir)/push-input.log\"\necho \"$1\" >> \"$(git rev-parse --git-dir)/push-input.log\"\n",
    )
    .expect("write");
    make_executable(&hook);
    install(&sb);
    let out = push(&sb, &["origin", "main"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = std::fs::read_to_string(sb.repo().join(".git/push-input.log")).expect("log");
    assert!(log.starts_with("refs/heads/main "), "{log}");
    assert!(log.ends_with("origin\n"), "{log}");
}

#[test]
fn post_checkout_and_post_merge_do_nothing_and_succeed() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    install(&sb);
    for hook in ["post-checkout", "post-merge"] {
        let out = sb
            .keywarden()
            .args(["hook", hook, "0000", "1111", "1"])
            .output()
            .expect("hook");
        assert_eq!(code(&out), 0);
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
    }
    let out = hooked_git(&sb, &sb.repo(), &["checkout", "-q", "-b", "other"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Harmless even where nothing makes sense.
    let out = Sandbox::empty()
        .keywarden()
        .args(["hook", "post-merge", "0"])
        .output()
        .expect("hook");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn global_install_protects_new_repos_and_keeps_their_own_hooks() {
    let sb = Sandbox::new();
    let gitconfig = sb.root().join("home/.gitconfig");
    std::fs::write(&gitconfig, "").expect("write");
    let global = |cmd: &mut std::process::Command| {
        cmd.env("GIT_CONFIG_GLOBAL", &gitconfig);
    };
    let mut kw = sb.keywarden();
    kw.env("GIT_CONFIG_GLOBAL", &gitconfig);
    let out = kw.args(["install", "--global"]).output().expect("install");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let dir = sb.root().join("home/.config/keywarden/hooks");
    assert!(dir.join("pre-commit").is_file());
    assert!(std::fs::read_to_string(&gitconfig)
        .expect("config")
        .contains("hooksPath"));

    // The repository's own hook still runs.
    let own = sb.repo().join(".git/hooks/pre-commit");
    std::fs::write(
        &own,
        "#!/bin/sh\necho own >> \"$(git rev-parse --git-dir)/own.log\"\n",
    )
    .expect("write");
    make_executable(&own);
    sb.write("a.txt", "a\n");
    sb.git(&["add", "a.txt"]);
    let path = format!("{}:{}", bin_dir().display(), path_without_keywarden());
    let mut git = sb.git_cmd_in(&sb.repo());
    global(&mut git);
    let out = git
        .env("PATH", &path)
        .args(["commit", "-q", "-m", "a"])
        .output()
        .expect("git");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(sb.repo().join(".git/own.log")).expect("own hook ran"),
        "own\n"
    );
    sb.write("k.txt", keys::github_pat());
    sb.git(&["add", "k.txt"]);
    let mut git = sb.git_cmd_in(&sb.repo());
    global(&mut git);
    let out = git
        .env("PATH", &path)
        .args(["commit", "-q", "-m", "k"])
        .output()
        .expect("git");
    assert_eq!(code(&out), 1, "{}", stderr(&out));

    let mut kw = sb.keywarden();
    kw.env("GIT_CONFIG_GLOBAL", &gitconfig);
    let out = kw
        .args(["uninstall", "--global"])
        .output()
        .expect("uninstall");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!std::fs::read_to_string(&gitconfig)
        .expect("config")
        .contains("hooksPath"));
    assert!(!dir.exists());
}

#[test]
fn gitignore_gets_only_missing_patterns_and_keeps_line_endings() {
    let sb = Sandbox::new();
    sb.write(".gitignore", "node_modules/\r\n.env\r\n");
    sb.write(".env", "A=1\n");
    sb.commit_all("initial");
    install(&sb);
    let text = sb.read(".gitignore");
    assert!(
        text.starts_with("node_modules/\r\n.env\r\n\r\n# >>> keywarden >>>"),
        "{text}"
    );
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "CRLF kept: {text:?}"
    );
    let block: Vec<&str> = text.split("\r\n").skip(4).collect();
    assert_eq!(block[0], ".env.*", "`.env` was already ignored: {text:?}");
    assert!(block.contains(&"!.env.example"));
    // Effective, asked of git itself.
    sb.write(".env.local", "A=1\n");
    sb.write(".env.example", "A=\n");
    let status = sb.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains(".env.local"), "{status}");
    assert!(status.contains(".env.example"), "{status}");
}

#[test]
fn gitignore_that_already_covers_env_files_is_left_alone() {
    let sb = Sandbox::new();
    sb.write(".gitignore", "*.env\n.env*\n");
    sb.commit_all("initial");
    let out = install(&sb);
    assert!(out.contains(".gitignore already covers env files"), "{out}");
    assert_eq!(sb.read(".gitignore"), "*.env\n.env*\n");
}

#[test]
fn without_yes_and_without_a_terminal_gitignore_is_not_changed() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    let out = sb
        .keywarden()
        .args(["install", "--gitignore-only"])
        .output()
        .expect("install");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("--gitignore-only --yes"),
        "{}",
        stdout(&out)
    );
    assert!(!sb.path(".gitignore").exists());
    assert!(
        !sb.repo().join(".git/hooks/pre-commit").exists(),
        "--gitignore-only installs no hooks"
    );
    sb.keywarden()
        .args(["install", "--gitignore-only", "--yes"])
        .assert()
        .code(0);
    assert!(sb.read(".gitignore").contains(".env.*"));
    assert!(!sb.repo().join(".git/hooks/pre-commit").exists());
}

#[test]
fn env_example_is_written_from_env_with_values_removed() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    let key = keys::openai_project();
    sb.write(
        ".env",
        format!("# OpenAI\nOPENAI_API_KEY={key}\n\nexport DEBUG=1 # local\n"),
    );
    install(&sb);
    let example = sb.read(".env.example");
    assert!(
        example.ends_with("# OpenAI\nOPENAI_API_KEY=\n\nexport DEBUG= # local\n"),
        "{example}"
    );
    assert!(!example.contains(&key));
    // An existing .env.example is never overwritten.
    sb.write(".env.example", "MINE=\n");
    install(&sb);
    assert_eq!(sb.read(".env.example"), "MINE=\n");
    // --no-env-example: not offered.
    let sb = Sandbox::new();
    sb.write(".env", "A=1\n");
    sb.keywarden()
        .args(["install", "--yes", "--no-env-example"])
        .assert()
        .code(0);
    assert!(!sb.path(".env.example").exists());
}

#[test]
fn tracked_env_files_are_reported_and_untracked_on_request() {
    let sb = Sandbox::new();
    sb.write(".env", "A=1\n");
    sb.write("app/.env.local", "B=1\n");
    sb.write(".env.example", "A=\n");
    sb.commit_all("oops");
    let out = install(&sb);
    assert!(
        out.contains("git tracks env files: .env, app/.env.local"),
        "{out}"
    );
    assert!(out.contains("keywarden incident"), "{out}");
    let out = sb
        .keywarden()
        .args(["install", "--yes", "--untrack"])
        .output()
        .expect("install");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("still in history"),
        "{}",
        stdout(&out)
    );
    assert!(sb.path(".env").is_file(), "the file stays on disk");
    let tracked = sb.git(&["ls-files"]);
    assert!(
        !tracked.contains(".env\n") && !tracked.contains(".env.local"),
        "{tracked}"
    );
    assert!(tracked.contains(".env.example"));
    // The staged deletion commits through the hook.
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn status_reports_hooks_gitignore_and_tracked_env_files() {
    let sb = Sandbox::new();
    sb.write(".env", "A=1\n");
    sb.commit_all("initial");
    let out = sb.keywarden().arg("status").output().expect("status");
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.contains("pre-commit: not installed"), "{text}");
    assert!(
        text.contains(".gitignore: ✗ not in effect: .env .env.* *.env"),
        "{text}"
    );
    assert!(text.contains("tracked env files: ✗ .env"), "{text}");

    let hook = sb.repo().join(".git/hooks/pre-push");
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").expect("write");
    make_executable(&hook);
    sb.keywarden()
        .args(["install", "--yes", "--untrack"])
        .assert()
        .code(0);
    let text = stdout(&sb.keywarden().arg("status").output().expect("status"));
    assert!(text.contains("pre-commit: installed"), "{text}");
    assert!(text.contains("pre-push: installed, chains "), "{text}");
    assert!(text.contains("pre-push.keywarden-chained"), "{text}");
    assert!(text.contains(".gitignore: ✓ covers env files"), "{text}");
    assert!(text.contains("tracked env files: ✓ none"), "{text}");
}

fn assert_one_line_error(out: &Output, needle: &str) {
    assert_eq!(code(out), 2, "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err}");
}

#[test]
fn bad_input_is_one_line_and_exit_2_with_nothing_half_installed() {
    let sb = Sandbox::empty();
    let out = sb.keywarden().arg("install").output().expect("run");
    assert_one_line_error(&out, "not a git repository");

    let sb = Sandbox::new();
    sb.commit_all("initial");
    let out = sb
        .keywarden()
        .args(["hook", "pre-rebase"])
        .output()
        .expect("run");
    assert_one_line_error(&out, "unknown hook `pre-rebase`");

    sb.write(
        ".keywarden.toml",
        "[hooks]\nalready_committed = \"sometimes\"\n",
    );
    let out = sb
        .keywarden()
        .args(["install", "--yes"])
        .output()
        .expect("run");
    assert_one_line_error(&out, ".keywarden.toml:2:");
    assert!(!sb.repo().join(".git/hooks/pre-commit").exists());
    assert!(!sb.path(".gitignore").exists());
    // The hook fails closed on it too.
    sb.write("a.txt", "a\n");
    sb.git(&["add", "a.txt"]);
    let out = sb
        .keywarden()
        .args(["hook", "pre-commit"])
        .output()
        .expect("run");
    assert_one_line_error(&out, ".keywarden.toml:2:");
    sb.git(&["reset", "-q"]);
    std::fs::remove_file(sb.path(".keywarden.toml")).expect("rm");

    // A hooks path that cannot be a directory: nothing is written, not even .gitignore.
    sb.write("blocker", "a file where the hooks dir should be\n");
    sb.git(&["config", "core.hooksPath", "blocker/hooks"]);
    let out = sb
        .keywarden()
        .args(["install", "--yes"])
        .output()
        .expect("run");
    assert_one_line_error(&out, "nothing was installed");
    assert!(!sb.path(".gitignore").exists());

    // A chained hook that fails half-way: the hooks written before it are rolled back.
    sb.git(&["config", "core.hooksPath", "h"]);
    sb.write("h/post-merge", "#!/bin/sh\n");
    sb.write("h/post-merge.keywarden-chained", "#!/bin/sh\n");
    let out = sb
        .keywarden()
        .args(["install", "--yes"])
        .output()
        .expect("run");
    assert_one_line_error(&out, "post-merge.keywarden-chained already exists");
    assert!(!sb.path("h/pre-commit").exists(), "rolled back");
    assert!(!sb.path(".gitignore").exists());
    assert_eq!(sb.read("h/post-merge"), "#!/bin/sh\n");
}

#[test]
fn pre_commit_framework_manifest_runs_the_hooks() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .expect("manifest");
    assert!(manifest.contains("entry: keywarden hook pre-commit"));
    assert!(manifest.contains("entry: keywarden hook pre-push"));
    assert!(manifest.contains("pass_filenames: false"));
}

#[test]
fn fast_staged_changes_match_libgit2s_diff() {
    use keywarden::core::git::{self, staged_changes_fast};
    let sb = Sandbox::new();
    let summary = |changes: Vec<git::Change>| {
        let mut rows: Vec<String> = changes
            .into_iter()
            .map(|c| format!("{} {:?} {:?} {:?}", c.path, c.kind, c.old, c.new))
            .collect();
        rows.sort();
        rows
    };
    let compare = |sb: &Sandbox| {
        let repo = git::open(&sb.repo()).expect("open");
        let slow = summary(git::staged_changes(&repo).expect("staged"));
        let fast = summary(staged_changes_fast(&repo).expect("fast"));
        assert_eq!(fast, slow);
        fast
    };
    // Before the first commit.
    sb.write("a/b/c.txt", "c\n");
    sb.write("a/keep.txt", "k\n");
    sb.write("f.txt", "f\n");
    sb.write("g", "file\n");
    sb.write("i.sh", "echo\n");
    sb.write("z/deep/x.txt", "x\n");
    sb.git(&["add", "-A"]);
    assert_eq!(compare(&sb).len(), 6);
    sb.git(&["commit", "-q", "-m", "base"]);
    assert!(compare(&sb).is_empty());
    sb.write("a/b/c.txt", "changed\n");
    sb.write("d/e.txt", "new\n");
    std::fs::remove_file(sb.path("f.txt")).expect("rm");
    std::fs::remove_file(sb.path("g")).expect("rm");
    sb.write("g/h.txt", "now a dir\n");
    make_executable(&sb.path("i.sh"));
    std::fs::remove_dir_all(sb.path("z")).expect("rm");
    sb.git(&["add", "-A"]);
    let rows = compare(&sb);
    assert_eq!(rows.len(), 7, "{rows:#?}");

    // With the cache-tree completed, as `git commit` leaves it for the hook: read from the
    // index file directly, in index versions 2 and 4.
    for version in ["2", "4"] {
        sb.git(&["update-index", "--index-version", version]);
        let tree = sb.git(&["write-tree"]);
        let cached = git::cache_tree::root_tree(&sb.repo().join(".git/index"));
        assert_eq!(cached.map(|o| o.to_string()), Some(tree.trim().to_string()));
        assert_eq!(compare(&sb), rows);
    }
    // Version 3: a skip-worktree entry has extended flags.
    sb.git(&["update-index", "--skip-worktree", "a/keep.txt"]);
    let tree = sb.git(&["write-tree"]);
    let cached = git::cache_tree::root_tree(&sb.repo().join(".git/index"));
    assert_eq!(cached.map(|o| o.to_string()), Some(tree.trim().to_string()));
    assert_eq!(compare(&sb), rows);
    // An intent-to-add entry leaves the root invalid: the index is loaded instead.
    sb.write("ita.txt", "later\n");
    sb.git(&["add", "-N", "ita.txt"]);
    sb.git(&["write-tree"]);
    assert_eq!(
        git::cache_tree::root_tree(&sb.repo().join(".git/index")),
        None
    );
    sb.git(&["rm", "-q", "--cached", "ita.txt"]);
    std::fs::remove_file(sb.path("ita.txt")).expect("rm");
    // An index change invalidates it.
    sb.write("late.txt", "late\n");
    sb.git(&["add", "late.txt"]);
    assert_eq!(
        git::cache_tree::root_tree(&sb.repo().join(".git/index")),
        None
    );
    assert_eq!(compare(&sb).len(), 8);
}

#[test]
fn blocked_push_message() {
    let sb = Sandbox::new();
    with_remote(&sb);
    sb.commit_all("initial");
    install(&sb);
    assert_eq!(code(&push(&sb, &["-u", "origin", "main"])), 0);
    let key = keys::anthropic();
    sb.write("llm/client.py", format!("\nANTHROPIC_KEY = \"{key}\"\n"));
    sb.write("config/.env.staging", "DEBUG=0\n");
    sb.git(&["add", "-f", "llm/client.py", "config/.env.staging"]);
    let out = hooked_git(
        &sb,
        &sb.repo(),
        &["commit", "-q", "--no-verify", "-m", "wip"],
    );
    assert_eq!(code(&out), 0);
    let commit = sb.git(&["rev-parse", "HEAD"]);
    let short = sb.git(&["rev-parse", "--short", "HEAD"]);
    let parent = sb.git(&["rev-parse", "--short", "HEAD~"]);
    let out = push(&sb, &["origin", "main"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    // git's own closing line names the temporary remote.
    let ours: String = stderr(&out)
        .lines()
        .filter(|l| !l.starts_with("error: failed to push some refs"))
        .map(|l| format!("{l}\n"))
        .collect();
    let message = normalize(&ours, &key)
        .replace(&commit.trim()[..10], "<COMMIT>")
        .replace(short.trim(), "<COMMIT>")
        .replace(parent.trim(), "<PARENT>");
    insta::assert_snapshot!("blocked_push", message);
}

#[test]
fn pre_push_under_the_pre_commit_framework_reads_its_range_variables() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    let base = sb.git(&["rev-parse", "HEAD"]);
    sb.write("k.py", format!("K = \"{}\"\n", keys::github_pat()));
    sb.commit_all("key");
    let out = sb
        .keywarden()
        .args(["hook", "pre-push", "origin", "/tmp/remote"])
        .env("PRE_COMMIT_FROM_REF", base.trim())
        .env("PRE_COMMIT_TO_REF", "HEAD")
        .env("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main")
        .write_stdin("")
        .output()
        .expect("hook");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("k.py:1:6"), "{}", stderr(&out));
    let out = sb
        .keywarden()
        .args(["hook", "pre-push", "origin", "/tmp/remote"])
        .env("PRE_COMMIT_FROM_REF", "HEAD")
        .env("PRE_COMMIT_TO_REF", "HEAD")
        .write_stdin("")
        .output()
        .expect("hook");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn add_patch_stages_one_hunk_and_the_hook_judges_only_that() {
    let sb = Sandbox::new();
    let middle: String = (1..=20).map(|i| format!("line {i}\n")).collect();
    sb.write("app.py", format!("top = 1\n{middle}bottom = 1\n"));
    sb.commit_all("initial");
    install(&sb);
    let key = keys::openai_project();
    sb.write("app.py", format!("top = \"{key}\"\n{middle}bottom = 2\n"));
    let add_p = |answers: &str| {
        let mut child = sb
            .git_cmd_in(&sb.repo())
            .args(["add", "-p", "app.py"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git add -p");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(answers.as_bytes())
            .expect("answer");
        assert!(child.wait().expect("wait").success());
    };
    // Skip the hunk with the key, stage the other one: the commit goes through.
    add_p("n\ny\n");
    let staged = sb.git(&["diff", "--cached"]);
    assert!(staged.contains("+bottom = 2") && !staged.contains(&key[..12]));
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Now stage the key's hunk: blocked.
    add_p("y\n");
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("app.py:1:8"), "{}", stderr(&out));
}

#[test]
fn on_a_terminal_install_shows_the_gitignore_diff_and_asks() {
    const QUESTION: &str = "Apply this change to .gitignore? [y/N]";
    let sb = Sandbox::new();
    sb.write(".gitignore", "target/\n");
    sb.commit_all("initial");
    let Some(shown) = sb.on_terminal("install --no-env-example", &[(QUESTION, "n")]) else {
        return;
    };
    assert!(shown.contains("+.env.*"), "{shown}");
    assert!(shown.contains(QUESTION), "{shown}");
    assert_eq!(sb.read(".gitignore"), "target/\n", "answered no");
    assert!(sb.repo().join(".git/hooks/pre-commit").is_file());
    let Some(shown) = sb.on_terminal("install --no-env-example", &[(QUESTION, "y")]) else {
        return;
    };
    assert!(shown.contains("✓ .gitignore: added"), "{shown}");
    assert!(sb.read(".gitignore").contains("!.env.example"));
}

#[test]
fn shared_husky_block_names_no_machine_path_and_lets_a_teammate_without_keywarden_commit() {
    let sb = Sandbox::new();
    husky_runner(&sb);
    sb.write(".husky/pre-commit", "echo lint ran >> husky.log\n");
    sb.write(".gitignore", "husky.log\n");
    sb.commit_all("husky");
    sb.git(&["config", "core.hooksPath", ".husky/_"]);
    install(&sb);
    let script = sb.read(".husky/pre-commit");
    let root = sb.root().to_string_lossy().into_owned();
    let binary = bin_dir().to_string_lossy().into_owned();
    assert!(
        !script.contains(&root) && !script.contains(&binary),
        "a committed file names no path on this machine: {script}"
    );
    let out = hooked_git(&sb, &sb.repo(), &["add", ".husky"]);
    assert_eq!(code(&out), 0);
    assert_eq!(code(&commit(&sb, &[])), 0, "the team commits the hook");

    // A teammate's clone: keywarden is not on their PATH and was never installed there.
    let mate = sb.root().join("mate");
    sb.git_in(
        sb.root(),
        &["clone", "-q", &sb.repo().to_string_lossy(), "mate"],
    );
    sb.git_in(&mate, &["config", "core.hooksPath", ".husky/_"]);
    std::fs::write(mate.join("a.txt"), "a\n").expect("write");
    sb.git_in(&mate, &["add", "a.txt"]);
    let out = sb
        .git_cmd_in(&mate)
        .env("PATH", path_without_keywarden())
        .args(["commit", "-q", "-m", "teammate"])
        .output()
        .expect("git");
    assert_eq!(code(&out), 0, "let through: {}", stderr(&out));
    let told = stderr(&out);
    assert_eq!(told.lines().count(), 1, "one line: {told}");
    assert!(
        told.contains("keywarden: not installed")
            && told.contains("cargo install --locked --path . in a checkout of keywarden"),
        "{told}"
    );
    assert_eq!(
        std::fs::read_to_string(mate.join("husky.log")).expect("the team's lint ran"),
        "lint ran\n"
    );
    // With keywarden on PATH, the teammate's commits are checked.
    std::fs::write(mate.join("k.txt"), keys::github_pat()).expect("write");
    sb.git_in(&mate, &["add", "k.txt"]);
    let out = hooked_git(&sb, &mate, &["commit", "-q", "-m", "key"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));

    // The person who installed keeps failing closed when the recorded binary is gone.
    let record = sb.repo().join(".git/keywarden/hook-binary");
    assert!(record.is_file());
    std::fs::write(
        &record,
        sb.root()
            .join("gone/keywarden")
            .to_string_lossy()
            .as_bytes(),
    )
    .expect("write");
    sb.write("b.txt", "b\n");
    sb.git(&["add", "b.txt"]);
    let out = sb
        .git_cmd_in(&sb.repo())
        .env("PATH", path_without_keywarden())
        .args(["commit", "-q", "-m", "x"])
        .output()
        .expect("git");
    assert_eq!(code(&out), 1, "fails closed: {}", stderr(&out));
    assert!(
        stderr(&out).contains("keywarden is neither on PATH nor at"),
        "{}",
        stderr(&out)
    );
    // Uninstall takes the record away too.
    sb.run(["uninstall"]).success();
    assert!(!record.exists());
}

#[test]
fn hooks_dir_inside_the_work_tree_gets_a_shim_without_machine_path() {
    let sb = Sandbox::new();
    // The team's own committed hook, in a committed hooks directory.
    sb.write(
        ".githooks/pre-commit",
        "#!/bin/sh\necho team check >> team.log\nexit ${TEAM_EXIT:-0}\n",
    );
    make_executable(&sb.path(".githooks/pre-commit"));
    sb.write(".gitignore", "team.log\n");
    sb.commit_all("team hooks");
    sb.git(&["config", "core.hooksPath", ".githooks"]);
    install(&sb);
    let shim = sb.read(".githooks/pre-commit");
    assert!(
        !shim.contains(&*sb.root().to_string_lossy()),
        "no machine path: {shim}"
    );
    assert_eq!(code(&commit(&sb, &[])), 1, "nothing staged: git refuses");
    sb.git(&["add", ".githooks"]);
    assert_eq!(code(&commit(&sb, &[])), 0);

    let mate = sb.root().join("mate");
    sb.git_in(
        sb.root(),
        &["clone", "-q", &sb.repo().to_string_lossy(), "mate"],
    );
    sb.git_in(&mate, &["config", "core.hooksPath", ".githooks"]);
    std::fs::write(mate.join("a.txt"), "a\n").expect("write");
    sb.git_in(&mate, &["add", "a.txt"]);
    let teammate = |exit: &str| {
        sb.git_cmd_in(&mate)
            .env("PATH", path_without_keywarden())
            .env("TEAM_EXIT", exit)
            .args(["commit", "-q", "-m", "teammate"])
            .output()
            .expect("git")
    };
    // Without keywarden the team's hook still runs, and its failure still counts.
    let out = teammate("1");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("keywarden: not installed"));
    let out = teammate("0");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(mate.join("team.log")).expect("log"),
        "team check\nteam check\n"
    );
}

#[test]
fn status_tells_a_staged_env_file_from_a_committed_one() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    sb.write(".env", "A=1\n");
    sb.git(&["add", "-f", ".env"]);
    let text = sb.run(["status"]).success().stdout();
    assert!(
        text.contains(
            "staged env files: ✗ .env (staged, not committed: `git rm --cached .env` keeps it out)"
        ),
        "{text}"
    );
    assert!(!text.contains("in history"), "{text}");
    assert!(!text.contains("tracked env files"), "{text}");
    let command = text
        .split("staged, not committed: `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("a command in backticks")
        .to_string();
    crate::support::githooks::run_printed(&sb, &sb.repo(), &command);
    let text = sb.run(["status"]).success().stdout();
    assert!(text.contains("tracked env files: ✓ none"), "{text}");
    assert!(sb.path(".env").is_file());

    // install says the same.
    sb.git(&["add", "-f", ".env"]);
    let out = install(&sb);
    assert!(
        out.contains("env files are staged, not committed: .env"),
        "{out}"
    );
    assert!(
        out.contains("`git rm --cached .env` keeps them out"),
        "{out}"
    );
    assert!(!out.contains("already in history"), "{out}");
}

#[test]
fn status_lists_the_registrys_keys_with_their_ages() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    sb.run(["status"]).success().stdout_has("registry: no keys");
    sb.run(["keys", "add", "gh", "--provider", "github", "--no-verify"])
        .stdin(keys::github_pat())
        .env("KEYWARDEN_NOW", "2026-01-01T00:00:00Z")
        .success();
    sb.run(["status"])
        .env("KEYWARDEN_NOW", "2026-03-02T00:00:00Z")
        .success()
        .stdout_has("registry: 1 key\n")
        .stdout_has("  gh  GitHub  ")
        .stdout_has("60 days old (since 2026-01-01)");
}

#[test]
fn pre_commit_checks_files_that_look_binary_and_files_over_the_scan_limit() {
    let sb = Sandbox::new();
    sb.commit_all("initial");
    install(&sb);
    let key = keys::github_pat();
    // A text file with one stray NUL byte looks binary to git.
    sb.write("notes.txt", format!("intro\0\nGITHUB_TOKEN={key}\n"));
    sb.git(&["add", "notes.txt"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("notes.txt:2:14"), "{}", stderr(&out));
    sb.git(&["rm", "-q", "--cached", "notes.txt"]);

    // Over scan.max_file_size (10 MiB by default): the hooks read it all the same.
    let mut big = "x".repeat(11 * 1024 * 1024);
    big.push_str(&format!("\nGITHUB_TOKEN={key}\n"));
    sb.write("big.txt", &big);
    sb.git(&["add", "big.txt"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("big.txt:2:14"), "{}", stderr(&out));
    sb.git(&["rm", "-q", "--cached", "big.txt"]);

    // Over the hooks' own limit (100 MiB, the most GitHub accepts): named, not silent.
    sb.write("huge.bin", vec![0u8; 101 * 1024 * 1024]);
    sb.git(&["add", "huge.bin"]);
    let out = commit(&sb, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "! keywarden: not checked for keys: huge.bin (101.0 MiB over the 100.0 MiB limit)"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn install_and_uninstall_never_leave_a_commit_without_its_checks() {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const COMMITS: usize = 60;
    let sb = Sandbox::new();
    sb.commit_all("initial");
    let hook = sb.repo().join(".git/hooks/pre-commit");
    // The team's own check, which rejects every commit of this test.
    std::fs::write(&hook, "#!/bin/sh\nexit 1\n").expect("write");
    make_executable(&hook);
    let done = AtomicBool::new(false);
    let tries = AtomicUsize::new(0);
    let (gaps, passed) = std::thread::scope(|scope| {
        // At every moment git must find an executable pre-commit.
        let watcher = scope.spawn(|| {
            let mut gaps = 0;
            while !done.load(Ordering::Relaxed) {
                let ok = std::fs::metadata(&hook)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
                if !ok {
                    gaps += 1;
                }
                std::thread::yield_now();
            }
            gaps
        });
        // Commits, alternately with a staged key and without: none may pass.
        let committer = scope.spawn(|| {
            let mut passed = 0;
            while !done.load(Ordering::Relaxed) {
                let n = tries.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(2) {
                    sb.write("k.txt", keys::github_pat());
                } else {
                    sb.write("k.txt", format!("clean {n}\n"));
                }
                sb.git(&["add", "k.txt"]);
                if code(&commit(&sb, &[])) == 0 {
                    passed += 1;
                }
            }
            passed
        });
        while tries.load(Ordering::Relaxed) < COMMITS {
            sb.run(["install", "--yes", "--no-env-example"]).success();
            sb.run(["uninstall"]).success();
        }
        done.store(true, Ordering::Relaxed);
        (
            watcher.join().expect("watcher"),
            committer.join().expect("committer"),
        )
    });
    assert_eq!(gaps, 0, "moments without a pre-commit hook");
    assert_eq!(passed, 0, "commits that went through without their checks");
    assert_eq!(
        std::fs::read_to_string(&hook).expect("hook"),
        "#!/bin/sh\nexit 1\n"
    );
}
