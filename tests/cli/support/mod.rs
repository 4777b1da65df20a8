//! Test support: sealed temporary repositories and fake keys assembled at run time.
//!
//! Every command runs with `HOME`, `XDG_CONFIG_HOME` and `KEYWARDEN_HOME` inside the
//! sandbox, no system or global git config, fixed dates, and a file-backed keyring, so
//! nothing leaks in from (or out to) the developer's machine.

#![allow(dead_code)]

pub mod githooks;
pub mod keys;
pub mod mock_server;
pub mod openai;
pub mod run;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

pub struct Sandbox {
    dir: TempDir,
}

/// The environment every process in a test runs with.
pub fn sealed_env(root: &Path) -> Vec<(String, String)> {
    let home = root.join("home");
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    let fixed: Vec<(String, String)> = vec![
        ("HOME".into(), s(home.clone())),
        ("XDG_CONFIG_HOME".into(), s(home.join(".config"))),
        ("XDG_DATA_HOME".into(), s(home.join(".local/share"))),
        ("XDG_CACHE_HOME".into(), s(home.join(".cache"))),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
        ("GIT_AUTHOR_NAME".into(), "Test Author".into()),
        ("GIT_AUTHOR_EMAIL".into(), "author@example.com".into()),
        ("GIT_AUTHOR_DATE".into(), "2026-01-02T03:04:05Z".into()),
        ("GIT_COMMITTER_NAME".into(), "Test Committer".into()),
        ("GIT_COMMITTER_EMAIL".into(), "committer@example.com".into()),
        ("GIT_COMMITTER_DATE".into(), "2026-01-02T03:04:05Z".into()),
        ("GIT_TERMINAL_PROMPT".into(), "0".into()),
        ("KEYWARDEN_HOME".into(), s(home.join(".keywarden"))),
        (
            "KEYWARDEN_KEYRING".into(),
            format!("file:{}", s(home.join("keyring.ron"))),
        ),
        ("NO_COLOR".into(), "1".into()),
    ];
    fixed.into_iter().chain(unreachable_providers()).collect()
}

/// `KEYWARDEN_<PROVIDER>_BASE_URL` of every provider keywarden can ask — its own clients'
/// and the issuers its built-in rules check — pointed at a closed port on 127.0.0.1, so
/// that no test reaches the internet; a test that talks to a provider points it at its mock.
fn unreachable_providers() -> Vec<(String, String)> {
    static ALL: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    ALL.get_or_init(closed_provider_ports).clone()
}

fn closed_provider_ports() -> Vec<(String, String)> {
    let rules = keywarden::core::rules::RuleSet::builtin().expect("built-in rules");
    let issuers = rules
        .rules()
        .iter()
        .filter(|rule| rule.verify.is_some())
        .map(|rule| keywarden::core::provider::id::env_name(&rule.provider));
    keywarden::core::provider::ProviderId::ALL
        .into_iter()
        .map(|id| id.env_name())
        .chain(issuers)
        .map(|provider| {
            (
                format!("KEYWARDEN_{provider}_BASE_URL"),
                "http://127.0.0.1:9".to_string(),
            )
        })
        .collect()
}

/// Variables that would point a child process at some other repository or index.
pub const LEAKY_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_COMMON_DIR",
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    // A test run inside a CI job must not look like that job to `scan --ci` (with the
    // text variables in `CI_TEXT_VARS`).
    "GITHUB_EVENT_PATH",
];

impl Sandbox {
    /// An empty sandbox with a git repository in `repo/`.
    pub fn new() -> Self {
        let sandbox = Self::empty();
        std::fs::create_dir_all(sandbox.repo()).expect("create repo dir");
        sandbox.git(&["init", "-q", "-b", "main"]);
        sandbox
    }

    /// A sandbox with an empty `repo/` directory that is not a git repository.
    pub fn empty() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("keywarden-test")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).expect("create home");
        std::fs::create_dir_all(dir.path().join("repo")).expect("create repo dir");
        Sandbox { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.repo().join(rel)
    }

    fn seal(&self, cmd: &mut std::process::Command) {
        for var in LEAKY_VARS
            .iter()
            .chain(keywarden::core::environment::CI_TEXT_VARS)
        {
            cmd.env_remove(var);
        }
        cmd.envs(sealed_env(self.root()));
    }

    /// A `keywarden` command in the repository, sealed.
    pub fn keywarden(&self) -> Command {
        let mut std_cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("keywarden"));
        self.seal(&mut std_cmd);
        std_cmd.current_dir(self.repo());
        Command::from_std(std_cmd)
    }

    /// Runs `keywarden ARGS` on a pseudo-terminal (util-linux `script`); for each
    /// `(prompt, line)` waits until the prompt has been shown, then types the line. Returns
    /// everything the terminal showed, or `None` where `script` is not installed.
    pub fn on_terminal(&self, args: &str, typed: &[(&str, &str)]) -> Option<String> {
        self.on_terminal_with(args, &[], typed)
    }

    /// `on_terminal` with these extra environment variables.
    pub fn on_terminal_with(
        &self,
        args: &str,
        env: &[(&str, &str)],
        typed: &[(&str, &str)],
    ) -> Option<String> {
        use std::io::{Read, Write};
        use std::sync::{Arc, Mutex};
        let command = format!(
            "{} {args}",
            assert_cmd::cargo::cargo_bin("keywarden").display()
        );
        let mut cmd = std::process::Command::new("script");
        self.seal(&mut cmd);
        cmd.envs(env.iter().copied());
        let spawned = cmd
            .current_dir(self.repo())
            .args(["-qec", &command, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(mut child) = spawned else {
            eprintln!("skipped: `script` (util-linux) is not installed");
            return None;
        };
        let shown = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().expect("piped stdout");
        let reader = {
            let shown = Arc::clone(&shown);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    shown.lock().expect("lock").extend_from_slice(&buf[..n]);
                }
            })
        };
        // stdin stays open until the program is done: `script` ends the session at EOF.
        let mut stdin = child.stdin.take().expect("piped stdin");
        for (prompt, line) in typed {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !String::from_utf8_lossy(&shown.lock().expect("lock")).contains(prompt) {
                assert!(std::time::Instant::now() < deadline, "no prompt `{prompt}`");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            stdin
                .write_all(format!("{line}\r").as_bytes())
                .expect("type");
            stdin.flush().expect("flush");
        }
        child.wait().expect("wait for script");
        drop(stdin);
        reader.join().expect("reader");
        let shown = String::from_utf8_lossy(&shown.lock().expect("lock")).into_owned();
        Some(shown)
    }

    /// Adds a linked worktree at `<sandbox>/<name>` on a new `branch` (from `start`, or
    /// HEAD); returns its path.
    pub fn add_worktree(&self, name: &str, branch: &str, start: Option<&str>) -> PathBuf {
        let path = self.root().join(name);
        let path_arg = path.to_string_lossy().into_owned();
        let mut args = vec!["worktree", "add", "-q", "-b", branch, &path_arg];
        args.extend(start);
        self.git(&args);
        path
    }

    /// A sealed `git` command in `dir`.
    pub fn git_cmd_in(&self, dir: &Path) -> std::process::Command {
        self.command_in("git", dir)
    }

    /// A sealed `program` command in `dir`.
    pub fn command_in(&self, program: &str, dir: &Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        self.seal(&mut cmd);
        cmd.current_dir(dir);
        cmd
    }

    /// Puts the whole history into one pack with long delta chains (`git repack -a -d -f
    /// --depth=50`) and drops the loose copies.
    pub fn repack_deltified(&self) {
        self.git(&[
            "repack",
            "-a",
            "-d",
            "-f",
            "-q",
            "--depth=50",
            "--window=50",
        ]);
        self.git(&["prune-packed"]);
    }

    /// Runs git in the repository and insists that it succeeds; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.repo(), args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_cmd_in(dir).args(args).output().expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs git and returns the whole output, success or not.
    pub fn git_output(&self, args: &[&str]) -> Output {
        self.git_cmd_in(&self.repo())
            .args(args)
            .output()
            .expect("run git")
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dirs");
        }
        std::fs::write(path, content).expect("write file");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read file")
    }

    /// `git add -A && git commit -m MESSAGE`; returns the new commit id.
    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }
}

/// Parses JSON lines output.
/// A finished command's stdout, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A finished command's stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stdout then stderr, for assertion messages and for checks on everything shown.
pub fn text(out: &Output) -> String {
    stdout(out) + &stderr(out)
}

pub fn jsonl(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}
