//! The one place that runs `git` itself, for what libgit2 cannot do (gc, reflog expiry,
//! bundles, resetting a worktree, pushing, the global configuration). The environment is
//! sanitised — `GIT_DIR`, `GIT_WORK_TREE` and `GIT_INDEX_FILE` are removed, so the
//! directory given (from our own repository handle) decides which repository git works on,
//! not variables inherited from a hook — stdin is closed unless input is given, and what git
//! says on stderr ends up in the error.

use super::error::GitError;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Variables that would point git at another repository, work tree or index than the one
/// we name.
const REPOSITORY_VARS: [&str; 3] = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"];

/// A `git` invocation being put together.
pub struct GitCommand {
    cmd: Command,
    input: Option<Vec<u8>>,
    stderr_shown: bool,
}

impl GitCommand {
    /// `git` run in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        let mut command = Self::anywhere();
        command.cmd.current_dir(dir);
        command
    }

    /// `git` run in the current directory, for what needs no repository (`--global`).
    pub fn anywhere() -> Self {
        GitCommand {
            cmd: Command::new("git"),
            input: None,
            stderr_shown: false,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable for git: for what must not be on a command line, which
    /// other users can read (a refspec naming a ref whose name holds a secret goes in as
    /// `GIT_CONFIG_*` configuration).
    pub fn env(
        mut self,
        key: impl AsRef<std::ffi::OsStr>,
        value: impl AsRef<std::ffi::OsStr>,
    ) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Sends `input` to git's stdin (closed otherwise).
    pub fn input(mut self, input: Vec<u8>) -> Self {
        self.input = Some(input);
        self
    }

    /// Lets git's own messages and progress through to our stderr (a push, where git may
    /// report per ref and ask for credentials on the terminal) instead of capturing them.
    pub fn show_stderr(mut self) -> Self {
        self.stderr_shown = true;
        self
    }

    /// Runs git, which must succeed; returns its stdout. `what` names it in errors
    /// ("git gc --prune=now").
    pub fn run(self, what: &str) -> Result<Vec<u8>, GitError> {
        let output = self.output(what)?;
        if !output.status.success() {
            return Err(GitError::Subprocess {
                what: what.to_string(),
                stderr: first_line(&output.stderr),
            });
        }
        Ok(output.stdout)
    }

    /// Runs git and returns how it ended, success or not, for callers that read its exit
    /// code; only failing to run it at all is an error.
    pub fn output(mut self, what: &str) -> Result<Output, GitError> {
        let spawn_failed = |source| GitError::Spawn {
            what: what.to_string(),
            source,
        };
        for var in REPOSITORY_VARS {
            self.cmd.env_remove(var);
        }
        // Unit tests run git in temporary repositories: never with the configuration (or
        // the hooks it names) of whoever runs them.
        #[cfg(test)]
        self.cmd
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
        let stdin = if self.input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let stderr = if self.stderr_shown {
            Stdio::inherit()
        } else {
            Stdio::piped()
        };
        let mut child = self
            .cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(spawn_failed)?;
        let Some(input) = self.input.take() else {
            return child.wait_with_output().map_err(spawn_failed);
        };
        let mut pipe = child.stdin.take().expect("stdin was piped above");
        // Written from another thread while this one collects the output: git may fill its
        // stdout or stderr pipe before it has read all of its input.
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || pipe.write_all(&input));
            let output = child.wait_with_output().map_err(spawn_failed)?;
            let written = writer.join().unwrap_or_else(|_| {
                Err(std::io::Error::other(
                    "the thread writing git's input panicked",
                ))
            });
            match written {
                // git stopped reading because it failed: its exit status says why.
                Err(_) if !output.status.success() => Ok(output),
                Err(source) => Err(spawn_failed(source)),
                Ok(()) => Ok(output),
            }
        })
    }
}

/// The first line git wrote, or "failed" when it wrote nothing.
fn first_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("failed")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_given_decides_the_repository_not_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let here = dir.path().join("here");
        let elsewhere = dir.path().join("elsewhere");
        git2::Repository::init(&here).expect("init");
        git2::Repository::init(&elsewhere).expect("init");
        let mut command = GitCommand::in_dir(&here).args(["rev-parse", "--absolute-git-dir"]);
        command.cmd.env("GIT_DIR", elsewhere.join(".git"));
        command.cmd.env("GIT_INDEX_FILE", elsewhere.join("index"));
        let out = command.run("git rev-parse").expect("git runs");
        let shown = String::from_utf8_lossy(&out).trim().to_string();
        assert_eq!(
            Path::new(&shown).canonicalize().expect("exists"),
            here.join(".git").canonicalize().expect("exists")
        );
    }

    #[test]
    fn input_is_sent_and_stdin_is_closed_otherwise() {
        let dir = tempfile::tempdir().expect("tempdir");
        git2::Repository::init(dir.path()).expect("init");
        // Large enough to fill a pipe: the output is read while the input is written.
        let input = "hello\n".repeat(100_000).into_bytes();
        let out = GitCommand::in_dir(dir.path())
            .args(["hash-object", "--stdin"])
            .input(input.clone())
            .run("git hash-object")
            .expect("git runs");
        let expected = crate::core::git::pack::object_id(git2::ObjectType::Blob, &input);
        assert_eq!(String::from_utf8_lossy(&out).trim(), expected.to_string());
        // Without input, stdin is closed: git reads an empty blob instead of waiting.
        let out = GitCommand::in_dir(dir.path())
            .args(["hash-object", "--stdin"])
            .run("git hash-object")
            .expect("git runs");
        let empty = crate::core::git::pack::object_id(git2::ObjectType::Blob, b"");
        assert_eq!(String::from_utf8_lossy(&out).trim(), empty.to_string());
    }

    #[test]
    fn a_failure_carries_what_git_said() {
        let dir = tempfile::tempdir().expect("tempdir");
        git2::Repository::init(dir.path()).expect("init");
        let err = GitCommand::in_dir(dir.path())
            .args(["rev-parse", "--verify", "no-such-ref"])
            .run("git rev-parse")
            .expect_err("no such ref");
        let GitError::Subprocess { what, stderr } = &err else {
            panic!("expected Subprocess, got {err:?}");
        };
        assert_eq!(what, "git rev-parse");
        assert!(stderr.contains("fatal"), "{stderr}");
        assert!(!stderr.contains('\n'), "{stderr}");
        // What git says when it reads input and fails is the error, not the broken pipe.
        let err = GitCommand::in_dir(dir.path())
            .args(["no-such-command"])
            .input(vec![b'x'; 1 << 20])
            .run("git no-such-command")
            .expect_err("no such command");
        assert!(
            matches!(err, GitError::Subprocess { .. }),
            "expected Subprocess, got {err:?}"
        );
        assert_eq!(first_line(b""), "failed");
        assert_eq!(first_line(b"\n  error: x\nfatal: y\n"), "error: x");
    }
}
