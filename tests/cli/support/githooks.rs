//! Helpers for tests that drive the real `git commit` and `git push` through installed
//! hooks: a PATH that finds the keywarden under test (and no other), commits and pushes
//! with it, a local bare remote, and running a command line a hook printed, exactly as
//! printed, through `sh`.

use super::{stderr, stdout, Sandbox};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The directory of the keywarden binary under test.
pub fn bin_dir() -> PathBuf {
    assert_cmd::cargo::cargo_bin("keywarden")
        .parent()
        .expect("the binary has a directory")
        .to_path_buf()
}

/// PATH without any directory that holds some other `keywarden`.
pub fn path_without_keywarden() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("keywarden").exists())
        .collect();
    std::env::join_paths(dirs)
        .expect("PATH entries join")
        .to_string_lossy()
        .into_owned()
}

/// PATH that finds the keywarden under test first.
pub fn hooked_path() -> String {
    format!("{}:{}", bin_dir().display(), path_without_keywarden())
}

/// An editor for git that writes `message`: for commands that open one.
pub const EDITOR_WRITING_A_MESSAGE: &str = "sh -c 'echo \"a message\" > \"$1\"' editor";

/// A sealed git command in `dir` whose PATH finds the keywarden under test first.
pub fn hooked_git(sb: &Sandbox, dir: &Path, args: &[&str]) -> Output {
    sb.git_cmd_in(dir)
        .env("PATH", hooked_path())
        .args(args)
        .output()
        .expect("run git")
}

/// `git commit -q -m change ARGS` with the hooks.
pub fn commit(sb: &Sandbox, args: &[&str]) -> Output {
    let mut all = vec!["commit", "-q", "-m", "change"];
    all.extend_from_slice(args);
    hooked_git(sb, &sb.repo(), &all)
}

/// `git push -q ARGS` with the hooks.
pub fn push(sb: &Sandbox, args: &[&str]) -> Output {
    let mut all = vec!["push", "-q"];
    all.extend_from_slice(args);
    hooked_git(sb, &sb.repo(), &all)
}

/// Runs `line` — a command line as a hook printed it — with `sh -c` in `dir`, sealed, with
/// the keywarden under test on PATH and an editor that writes a message.
pub fn run_printed(sb: &Sandbox, dir: &Path, line: &str) -> Output {
    run_printed_with(sb, dir, line, &[])
}

/// `run_printed` with more environment (e.g. `GIT_SEQUENCE_EDITOR` for a rebase).
pub fn run_printed_with(sb: &Sandbox, dir: &Path, line: &str, env: &[(&str, &str)]) -> Output {
    let out = sb
        .command_in("sh", dir)
        .env("PATH", hooked_path())
        .env("GIT_EDITOR", EDITOR_WRITING_A_MESSAGE)
        .envs(env.iter().copied())
        .args(["-c", line])
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{line}` as printed failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The command printed on the line after the first line containing `after`.
pub fn printed_command(message: &str, after: &str) -> String {
    let mut lines = message.lines();
    lines
        .by_ref()
        .find(|l| l.contains(after))
        .unwrap_or_else(|| panic!("no line with {after:?} in:\n{message}"));
    lines
        .next()
        .unwrap_or_else(|| panic!("nothing after {after:?} in:\n{message}"))
        .trim()
        .to_string()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// `keywarden install --yes`, which must succeed; returns its stdout.
pub fn install(sb: &Sandbox) -> String {
    let out = sb
        .keywarden()
        .args(["install", "--yes"])
        .output()
        .expect("run install");
    assert_eq!(code(&out), 0, "install failed: {}", stderr(&out));
    stdout(&out)
}

/// How many commits HEAD has (0 before the first).
pub fn head_count(sb: &Sandbox) -> usize {
    let out = sb.git_output(&["rev-list", "--count", "HEAD"]);
    stdout(&out).trim().parse().unwrap_or(0)
}

/// A bare repository `remote.git` beside the repository, added as `origin`.
pub fn with_remote(sb: &Sandbox) -> PathBuf {
    let remote = sb.root().join("remote.git");
    sb.git_in(sb.root(), &["init", "-q", "--bare", "remote.git"]);
    sb.git(&["remote", "add", "origin", &remote.to_string_lossy()]);
    remote
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
