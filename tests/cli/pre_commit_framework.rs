//! keywarden under the real pre-commit framework (https://pre-commit.com): a repository
//! whose `.pre-commit-config.yaml` uses this checkout's `.pre-commit-hooks.yaml` blocks a
//! commit and a push that carry a key, and lets clean ones through.
//!
//! pre-commit comes from `KEYWARDEN_PRE_COMMIT` (a path), or is installed from PyPI into a
//! virtualenv under cargo's test temp dir (kept for the next run). Where neither works the
//! test says "skipped: …" and passes — unless `KEYWARDEN_REQUIRE_PRE_COMMIT` is set, as
//! `.ci/run` does, so CI cannot pass without running it.

use crate::support::{keys, Sandbox};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pre-commit executable, or why there is none.
fn pre_commit() -> Result<PathBuf, String> {
    static TOOL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TOOL.get_or_init(|| {
        if let Some(path) = std::env::var_os("KEYWARDEN_PRE_COMMIT").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-venv");
        let tool = venv.join("bin/pre-commit");
        if runs(&tool) {
            return Ok(tool);
        }
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        if !made.status.success() {
            return Err(format!(
                "python3 -m venv failed: {}",
                String::from_utf8_lossy(&made.stderr)
            ));
        }
        let installed = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "pre-commit",
            ])
            .output()
            .map_err(|e| format!("cannot run pip: {e}"))?;
        if !installed.status.success() || !runs(&tool) {
            return Err(format!(
                "pip install pre-commit failed: {}",
                String::from_utf8_lossy(&installed.stderr)
            ));
        }
        Ok(tool)
    })
    .clone()
}

fn runs(tool: &Path) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// pre-commit, or `None` after saying why the test is skipped (a failure where CI
/// requires the tool).
fn pre_commit_or_skip() -> Option<PathBuf> {
    match pre_commit() {
        Ok(tool) => Some(tool),
        Err(why) => {
            let required =
                std::env::var_os("KEYWARDEN_REQUIRE_PRE_COMMIT").is_some_and(|v| !v.is_empty());
            assert!(
                !required,
                "KEYWARDEN_REQUIRE_PRE_COMMIT is set but pre-commit is unavailable: {why}"
            );
            eprintln!("skipped: pre-commit is unavailable ({why})");
            None
        }
    }
}

/// `PATH` with keywarden's and pre-commit's directories first.
fn path_with(tool: &Path) -> std::ffi::OsString {
    let keywarden = assert_cmd::cargo::cargo_bin("keywarden");
    let mut dirs = vec![
        keywarden.parent().expect("bin dir").to_path_buf(),
        tool.parent().expect("tool dir").to_path_buf(),
    ];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).expect("PATH")
}

/// A repository holding only this checkout's `.pre-commit-hooks.yaml`, committed; returns
/// its path and commit.
fn hooks_repository(sb: &Sandbox) -> (PathBuf, String) {
    let dir = sb.root().join("keywarden-hooks");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
        dir.join(".pre-commit-hooks.yaml"),
    )
    .expect("copy .pre-commit-hooks.yaml");
    sb.git_in(&dir, &["init", "-q", "-b", "main"]);
    sb.git_in(&dir, &["add", "-A"]);
    sb.git_in(&dir, &["commit", "-q", "-m", "hooks"]);
    let rev = sb.git_in(&dir, &["rev-parse", "HEAD"]).trim().to_string();
    (dir, rev)
}

fn git_with(sb: &Sandbox, path: &std::ffi::OsStr, args: &[&str]) -> std::process::Output {
    sb.git_cmd_in(&sb.repo())
        .env("PATH", path)
        .args(args)
        .output()
        .expect("run git")
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_system_hooks_block_a_key_and_pass_a_clean_commit_and_push() {
    let Some(tool) = pre_commit_or_skip() else {
        return;
    };
    let sb = Sandbox::new();
    let path = path_with(&tool);
    let (hooks, rev) = hooks_repository(&sb);
    sb.write(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: keywarden-system\n      - id: keywarden-pre-push-system\n",
            hooks.display()
        ),
    );
    let installed = Command::new(&tool)
        .args([
            "install",
            "--hook-type",
            "pre-commit",
            "--hook-type",
            "pre-push",
        ])
        .current_dir(sb.repo())
        .envs(crate::support::sealed_env(sb.root()))
        .env("PATH", &path)
        .output()
        .expect("run pre-commit install");
    assert!(installed.status.success(), "{}", text(&installed));

    // A clean first commit passes (the config must be staged for pre-commit to run).
    sb.write("README.md", "hello\n");
    sb.git(&["add", "-A"]);
    let clean = git_with(&sb, &path, &["commit", "-q", "-m", "clean"]);
    assert!(clean.status.success(), "{}", text(&clean));
    assert!(
        text(&clean).contains("keywarden"),
        "the hook did not run: {}",
        text(&clean)
    );

    // A key is blocked, and never printed in full.
    let key = keys::openai_project();
    sb.write("settings.py", format!("OPENAI_API_KEY = \"{key}\"\n"));
    sb.git(&["add", "settings.py"]);
    let blocked = git_with(&sb, &path, &["commit", "-q", "-m", "add settings"]);
    assert!(
        !blocked.status.success(),
        "the key was committed: {}",
        text(&blocked)
    );
    assert!(text(&blocked).contains("settings.py"), "{}", text(&blocked));
    assert!(!text(&blocked).contains(&key), "the key was printed");
    assert_eq!(sb.git(&["rev-list", "--count", "HEAD"]).trim(), "1");

    // An env file is blocked too; a clean change passes.
    sb.git(&["reset", "-q", "settings.py"]);
    std::fs::remove_file(sb.path("settings.py")).expect("remove");
    sb.write("app.py", "import os\nkey = os.environ['OPENAI_API_KEY']\n");
    sb.git(&["add", "app.py"]);
    let second = git_with(&sb, &path, &["commit", "-q", "-m", "app"]);
    assert!(second.status.success(), "{}", text(&second));

    // pre-push: a clean push passes; a key committed past the hook is stopped at the push.
    let remote = sb.root().join("remote.git");
    sb.git(&["init", "-q", "--bare", remote.to_str().expect("utf-8")]);
    sb.git(&["remote", "add", "origin", remote.to_str().expect("utf-8")]);
    let pushed = git_with(&sb, &path, &["push", "-q", "origin", "main"]);
    assert!(pushed.status.success(), "{}", text(&pushed));
    let pushed_key = keys::github_pat();
    sb.write("deploy.sh", format!("TOKEN={pushed_key}\n"));
    sb.git(&["add", "deploy.sh"]);
    sb.git(&["commit", "-q", "--no-verify", "-m", "deploy"]);
    let refused = git_with(&sb, &path, &["push", "-q", "origin", "main"]);
    assert!(
        !refused.status.success(),
        "the key was pushed: {}",
        text(&refused)
    );
    assert!(text(&refused).contains("deploy.sh"), "{}", text(&refused));
    assert!(!text(&refused).contains(&pushed_key), "the key was printed");
    let remote_head = sb.git(&[
        "--git-dir",
        remote.to_str().expect("utf-8"),
        "rev-parse",
        "main",
    ]);
    assert_eq!(remote_head.trim(), sb.git(&["rev-parse", "HEAD~1"]).trim());
}

/// The sealed HOME has no toolchain: point cargo and rustup at the developer's, so the
/// hook's build uses the crates already downloaded.
fn with_toolchain(cmd: &mut Command, path: &std::ffi::OsStr) {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    for (var, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let value = std::env::var_os(var).unwrap_or_else(|| home.join(default).into_os_string());
        cmd.env(var, value);
    }
    cmd.env("PATH", path);
}

/// The `rust` hooks make pre-commit build keywarden from the hook repository with `cargo
/// install` — a full release build, minutes on two cores. So it runs only when asked: `KEYWARDEN_TEST_PRE_COMMIT_RUST=1`. It
/// builds this checkout's last commit (pre-commit clones the repository).
#[test]
fn the_rust_hook_builds_keywarden_from_the_repository() {
    if std::env::var_os("KEYWARDEN_TEST_PRE_COMMIT_RUST").is_none_or(|v| v.is_empty()) {
        eprintln!("skipped: set KEYWARDEN_TEST_PRE_COMMIT_RUST=1 to build keywarden through pre-commit's rust hook");
        return;
    }
    let Some(tool) = pre_commit_or_skip() else {
        return;
    };
    let sb = Sandbox::new();
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rev = sb
        .git_in(checkout, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    sb.write(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: keywarden\n",
            checkout.display()
        ),
    );
    // Only keywarden's own directory, not the test binary's: the hook must bring its own.
    let cargo_dir = Command::new("sh")
        .args(["-c", "dirname \"$(command -v cargo)\""])
        .output()
        .expect("find cargo");
    let cargo_dir = String::from_utf8_lossy(&cargo_dir.stdout)
        .trim()
        .to_string();
    let path = std::env::join_paths(
        [
            PathBuf::from(&cargo_dir),
            tool.parent().expect("dir").to_path_buf(),
        ]
        .into_iter()
        .chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .expect("PATH");
    let mut install = Command::new(&tool);
    install
        .args(["install"])
        .current_dir(sb.repo())
        .envs(crate::support::sealed_env(sb.root()));
    with_toolchain(&mut install, &path);
    let out = install.output().expect("pre-commit install");
    assert!(out.status.success(), "{}", text(&out));
    sb.write("README.md", "hello\n");
    sb.git(&["add", "-A"]);
    let key = keys::github_pat();
    sb.write("t.txt", format!("t={key}\n"));
    sb.git(&["add", "t.txt"]);
    let mut commit = sb.git_cmd_in(&sb.repo());
    commit.args(["commit", "-q", "-m", "x"]);
    with_toolchain(&mut commit, &path);
    let out = commit.output().expect("git commit");
    assert!(
        !out.status.success(),
        "the key was committed: {}",
        text(&out)
    );
    assert!(text(&out).contains("t.txt"), "{}", text(&out));
    assert!(!text(&out).contains(&key));
}
