//! The shell ecosystem: completion scripts that the shells accept, manual pages that
//! render, and `--help` that starts a newcomer off and shows examples.

use crate::support::Sandbox;
use std::process::Command;

/// Whether `program` can be run here.
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    let sb = Sandbox::empty();
    let bash = sb.run(["completions", "bash"]).success().stdout();
    assert!(bash.contains("complete -F _keywarden"), "{bash}");
    assert!(bash.contains("--history") && bash.contains("completions"));
    let script = sb.root().join("keywarden.bash");
    std::fs::write(&script, &bash).expect("write");
    let checked = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // Sourcing it defines the completion function.
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p keywarden",
            script.display()
        ))
        .output()
        .expect("bash runs");
    assert!(
        String::from_utf8_lossy(&sourced.stdout).contains("_keywarden"),
        "{}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    for (shell, marker, checker) in [
        ("zsh", "#compdef keywarden", Some(("zsh", "-n"))),
        (
            "fish",
            "complete -c keywarden",
            Some(("fish", "--no-execute")),
        ),
        ("powershell", "Register-ArgumentCompleter", None),
        ("elvish", "edit:completion:arg-completer[keywarden]", None),
    ] {
        let text = sb.run(["completions", shell]).success().stdout();
        assert!(text.contains(marker), "{shell}: {text}");
        if let Some((program, flag)) = checker {
            if !installed(program) {
                eprintln!("skipped: {program} is not installed, its script is only checked for {marker:?}");
                continue;
            }
            let path = sb.root().join(format!("keywarden.{shell}"));
            std::fs::write(&path, &text).expect("write");
            let out = Command::new(program)
                .arg(flag)
                .arg(&path)
                .output()
                .expect("run");
            assert!(out.status.success(), "{program} {flag}: {out:?}");
        }
    }
    sb.run(["completions", "tcsh"])
        .code(2)
        .stderr_has("invalid value 'tcsh'");
}

#[test]
fn the_man_page_renders() {
    let sb = Sandbox::empty();
    let page = sb.run(["man"]).success().stdout();
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH keywarden 1"),
        "{page}"
    );
    assert!(page.contains(".TH keywarden 1"), "no title header");
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"));
    let dir = sb.root().join("man1");
    sb.run(["man", "--output", dir.to_str().expect("utf-8")])
        .success()
        .stderr_has("wrote the manual pages to");
    for name in [
        "keywarden.1",
        "keywarden-scan.1",
        "keywarden-keys-add.1",
        "keywarden-completions.1",
    ] {
        assert!(dir.join(name).is_file(), "{name} missing");
    }
    let main = sb.root().join("keywarden.1");
    std::fs::write(&main, &page).expect("write");
    if !installed("man") {
        eprintln!("skipped: man is not installed; the roff headers were checked");
        return;
    }
    for (path, expected) in [
        (main, "Start here:"),
        (
            dir.join("keywarden-scan.1"),
            "keywarden scan --history ~/my-app",
        ),
    ] {
        let out = Command::new("man")
            .args(["-P", "cat", "-l"])
            .arg(&path)
            .env("MANWIDTH", "100")
            .output()
            .expect("man runs");
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "man -l {}: {out:?}", path.display());
        assert!(shown.contains(expected), "{}:\n{shown}", path.display());
    }
}

#[test]
fn help_starts_a_newcomer_off_and_every_command_has_examples() {
    let sb = Sandbox::empty();
    sb.run(["--help"])
        .success()
        .stdout_has("Start here:")
        .stdout_has("keywarden -C ~/my-app install")
        .stdout_has("completions");
    sb.run(["scan", "--help"])
        .success()
        .stdout_has("Examples:")
        .stdout_has("keywarden scan --ci --format sarif -o keywarden.sarif")
        .stdout_has("gitlab");
    for command in [
        "install",
        "uninstall",
        "status",
        "purge",
        "keys",
        "run",
        "man",
    ] {
        sb.run([command, "--help"]).success().stdout_has("Examples");
    }
}
