//! What every command shares: `-C DIR`, the global `--yes`, and settings from the
//! environment that are malformed.

use crate::support::Sandbox;

#[test]
fn dash_c_runs_the_command_in_that_directory() {
    let sb = Sandbox::new();
    sb.write("README.md", "hello\n");
    sb.commit_all("first");
    let repo = sb.repo().to_string_lossy().into_owned();
    // From outside the repository, as `git -C` would.
    sb.run(["-C", &repo, "status"])
        .current_dir(sb.root())
        .success()
        .stdout_has("hooks:");
    sb.run(["status"])
        .current_dir(sb.root())
        .code(2)
        .one_line_error("not a git repository");
}

#[test]
fn dash_c_to_a_missing_directory_is_a_one_line_error() {
    let sb = Sandbox::new();
    sb.run(["-C", "no/such/dir", "scan"])
        .code(2)
        .one_line_error("-C no/such/dir: cannot change to it");
}

#[test]
fn yes_is_accepted_before_and_after_the_subcommand() {
    let sb = Sandbox::new();
    sb.run(["--yes", "install"]).success();
    sb.run(["install", "-y"])
        .success()
        .stdout_has("already installed");
}

#[test]
fn a_malformed_clock_or_timeout_is_named_not_ignored() {
    let sb = Sandbox::new();
    sb.run(["scan"])
        .env("KEYWARDEN_NOW", "tomorrow")
        .code(2)
        .one_line_error("KEYWARDEN_NOW is not an RFC 3339 time");
    sb.run(["keys", "add", "k", "--provider", "github"])
        .env("KEYWARDEN_HTTP_TIMEOUT_MS", "soon")
        .stdin("x")
        .code(2)
        .one_line_error("KEYWARDEN_HTTP_TIMEOUT_MS must be a whole number");
}
