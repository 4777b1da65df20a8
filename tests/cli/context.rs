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

/// Asserts that `text` suggests some keywarden command and that each carries `-C dir`.
fn assert_every_suggestion_carries(text: &str, dir: &str) {
    let advice = suggested_keywarden_commands(text);
    assert!(!advice.is_empty(), "no suggested command in: {text}");
    for command in advice {
        assert!(
            command.starts_with(&format!("keywarden -C {dir} ")),
            "{command}"
        );
    }
}

/// Every `keywarden …` in backquotes in `text`.
fn suggested_keywarden_commands(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|command| command.starts_with("keywarden "))
        .map(str::to_string)
        .collect()
}

#[test]
fn advice_after_dash_c_carries_dash_c_and_works_as_printed_from_where_it_was_typed() {
    use crate::support::githooks::run_printed;
    let sb = Sandbox::empty();
    // A name the shell would split: the printed `-C` must be quoted.
    let repo = sb.root().join("my app");
    std::fs::create_dir_all(&repo).expect("create the repository directory");
    sb.git_in(&repo, &["init", "-q", "-b", "main"]);
    let dir = repo.to_string_lossy().into_owned();
    let quoted = format!("'{dir}'");

    // Without a terminal, install leaves .gitignore alone and says how to fix it.
    let ran = sb
        .run(["-C", dir.as_str(), "install"])
        .current_dir(sb.root())
        .success();
    let advice = suggested_keywarden_commands(&ran.text());
    let fix = advice
        .iter()
        .find(|command| command.contains("--gitignore-only"))
        .unwrap_or_else(|| panic!("no .gitignore advice in: {}", ran.text()));
    assert_eq!(
        fix,
        &format!("keywarden -C {quoted} install --gitignore-only --yes")
    );
    assert!(!repo.join(".gitignore").exists());
    run_printed(&sb, sb.root(), fix);
    let gitignore =
        std::fs::read_to_string(repo.join(".gitignore")).expect("written by the advice");
    assert!(gitignore.contains(".env"), "{gitignore}");

    // Errors name their way out with `-C` too, on stderr and stdout alike.
    let ran = sb
        .run([
            "-C",
            dir.as_str(),
            "keys",
            "check",
            "--finding",
            "sha256:beef",
        ])
        .current_dir(sb.root())
        .code(2);
    assert_every_suggestion_carries(&ran.text(), &quoted);
    let ran = sb
        .run(["-C", dir.as_str(), "keys", "list"])
        .current_dir(sb.root())
        .success();
    assert_every_suggestion_carries(&ran.stdout(), &quoted);

    // Without -C, the same advice is written as before.
    let ran = sb.run(["keys", "list"]).current_dir(&repo).success();
    assert!(
        suggested_keywarden_commands(&ran.stdout())
            .iter()
            .all(|c| !c.contains(" -C ")),
        "{}",
        ran.stdout()
    );
}

#[test]
fn advice_of_a_scan_pointed_at_a_repository_carries_that_repository() {
    let sb = Sandbox::new();
    sb.write(
        "app.env",
        format!("GITHUB_TOKEN={}\n", crate::support::keys::github_pat()),
    );
    sb.commit_all("a key");
    let repo = sb.repo().to_string_lossy().into_owned();
    let ran = sb
        .run(["scan", "--history", repo.as_str()])
        .current_dir(sb.root())
        .code(1);
    assert_every_suggestion_carries(&ran.stdout(), &repo);
}
