//! An expectation builder for one `keywarden` run (after just's `Test`): set up the command,
//! run it once with the exit code it must end with, then check what it printed.
//!
//! ```ignore
//! sb.run(["scan", "--history"]).stdin(key).code(1).stdout_has("ghp_").no_secret(&key);
//! ```

use super::Sandbox;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

/// A command that has not run yet.
#[must_use = "a Run does nothing until .code(N) runs it"]
pub struct Run {
    cmd: assert_cmd::Command,
    shown: String,
}

/// A command that ran and ended with the expected exit code.
pub struct Ran {
    pub output: Output,
    shown: String,
}

impl Sandbox {
    /// `keywarden ARGS` in the repository, sealed.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let shown = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = self.keywarden();
        cmd.args(&args);
        Run {
            cmd,
            shown: format!("keywarden {shown}"),
        }
    }
}

impl Run {
    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown.push_str(&arg.as_ref().to_string_lossy());
        self.cmd.arg(arg);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(key);
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.cmd.write_stdin(input.into());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Runs the command; it must exit with `code`.
    pub fn code(mut self, code: i32) -> Ran {
        let output = self.cmd.output().expect("run keywarden");
        let ran = Ran {
            output,
            shown: self.shown,
        };
        assert_eq!(
            ran.output.status.code(),
            Some(code),
            "`{}` exited with {:?}, not {code}\n{}",
            ran.shown,
            ran.output.status.code(),
            ran.text()
        );
        ran
    }

    pub fn success(self) -> Ran {
        self.code(0)
    }
}

impl Ran {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// stdout then stderr.
    pub fn text(&self) -> String {
        self.stdout() + &self.stderr()
    }

    pub fn stdout_has(self, needle: &str) -> Self {
        let out = self.stdout();
        assert!(
            out.contains(needle),
            "`{}`: stdout lacks {needle:?}:\n{out}",
            self.shown
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Self {
        let err = self.stderr();
        assert!(
            err.contains(needle),
            "`{}`: stderr lacks {needle:?}:\n{err}",
            self.shown
        );
        self
    }

    /// Somewhere in stdout or stderr.
    pub fn shows(self, needle: &str) -> Self {
        let text = self.text();
        assert!(
            text.contains(needle),
            "`{}`: output lacks {needle:?}:\n{text}",
            self.shown
        );
        self
    }

    pub fn hides(self, needle: &str) -> Self {
        let text = self.text();
        assert!(
            !text.contains(needle),
            "`{}`: output shows {needle:?}:\n{text}",
            self.shown
        );
        self
    }

    /// The key appears in neither stdout nor stderr.
    pub fn no_secret(self, key: &str) -> Self {
        assert!(!key.is_empty());
        assert!(
            !self.text().contains(key),
            "`{}` printed the key in full",
            self.shown
        );
        self
    }

    /// Exactly one line on stderr, `keywarden: error: …`, containing `needle`.
    pub fn one_line_error(self, needle: &str) -> Self {
        let err = self.stderr();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "`{}`: not one line:\n{err}", self.shown);
        assert!(
            lines[0].starts_with("keywarden: error: "),
            "`{}`: {err}",
            self.shown
        );
        assert!(
            lines[0].contains(needle),
            "`{}`: the error lacks {needle:?}: {err}",
            self.shown
        );
        self
    }
}
