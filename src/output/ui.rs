//! The person's side of the terminal: `keywarden:` status, warning and note lines on
//! stderr, colour decided once per stream, and the questions `ops` asks through
//! `Prompter` — on the terminal itself, even when stdin carries a secret or a pipe.

use crate::core::secret::Secret;
use crate::ops::{PromptError, Prompter, Reporter};
use crate::output::style::Style;
use std::io::{BufRead, IsTerminal, Write};

/// Built once per process (`Context`), from `--no-color`/`NO_COLOR`, `--yes` and which
/// streams are terminals.
#[derive(Debug, Clone)]
pub struct Ui {
    no_color: bool,
    yes: bool,
    stdin_tty: bool,
    stdout_tty: bool,
    stderr_tty: bool,
}

/// Where a question is asked and answered.
enum Channel {
    /// stdin is the terminal: the question goes to stderr, the answer comes on stdin.
    Stdio,
    /// stdin is a pipe (it may carry a secret) but a person watches stderr: ask on the
    /// controlling terminal.
    Tty(std::fs::File),
}

impl Ui {
    pub fn new(no_color: bool, yes: bool) -> Self {
        Ui {
            no_color,
            yes,
            stdin_tty: std::io::stdin().is_terminal(),
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn stdin_is_terminal(&self) -> bool {
        self.stdin_tty
    }

    pub fn stdout_is_terminal(&self) -> bool {
        self.stdout_tty
    }

    pub fn stderr_is_terminal(&self) -> bool {
        self.stderr_tty
    }

    /// Colour for stdout: only on a terminal, never with `--no-color` or `NO_COLOR`.
    pub fn out_style(&self) -> Style {
        Style::new(!self.no_color && self.stdout_tty)
    }

    /// Colour for stderr, by the same rule.
    pub fn err_style(&self) -> Style {
        Style::new(!self.no_color && self.stderr_tty)
    }

    /// Whether colour is allowed at all (a report written to a terminal decides per stream).
    pub fn color_allowed(&self) -> bool {
        !self.no_color
    }

    fn line(&self, label: Option<String>, message: &str) {
        let label = label.map(|l| format!("{l}: ")).unwrap_or_default();
        // A closed stderr must not stop an operation half-way.
        let message = crate::core::shell::localize(message);
        let _ = writeln!(std::io::stderr(), "keywarden: {label}{message}");
    }

    fn channel(&self) -> Option<Channel> {
        if self.stdin_tty {
            return Some(Channel::Stdio);
        }
        if !self.stderr_tty {
            return None;
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()
            .map(Channel::Tty)
    }

    /// Puts `text` to the person and reads one line back.
    fn ask_line(&self, text: &str) -> Result<String, PromptError> {
        let mut answer = String::new();
        match self.channel().ok_or(PromptError::NoTerminal)? {
            Channel::Stdio => {
                let mut err = std::io::stderr();
                write!(err, "{text}")
                    .and_then(|_| err.flush())
                    .map_err(PromptError::Io)?;
                std::io::stdin()
                    .lock()
                    .read_line(&mut answer)
                    .map_err(PromptError::Io)?;
            }
            Channel::Tty(tty) => {
                let mut writer = &tty;
                write!(writer, "{text}")
                    .and_then(|_| writer.flush())
                    .map_err(PromptError::Io)?;
                std::io::BufReader::new(&tty)
                    .read_line(&mut answer)
                    .map_err(PromptError::Io)?;
            }
        }
        Ok(answer)
    }
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES")
}

impl Prompter for Ui {
    fn assume_yes(&self) -> bool {
        self.yes
    }

    fn can_ask(&self) -> bool {
        self.stdin_tty || self.stderr_tty
    }

    fn confirm(&self, question: &str) -> Result<bool, PromptError> {
        if self.yes {
            return Ok(true);
        }
        Ok(is_yes(&self.ask_line(&format!("{question} [y/N] "))?))
    }

    fn choose(&self, question: &str, options: &[String]) -> Result<Option<usize>, PromptError> {
        let mut text = format!("{question}\n");
        for (i, option) in options.iter().enumerate() {
            text.push_str(&format!("  {}. {option}\n", i + 1));
        }
        let mut prompt = format!("{text}Number (1-{}, empty for none): ", options.len());
        // A mistyped answer is asked again, a few times.
        for _ in 0..3 {
            let answer = self.ask_line(&prompt)?;
            let answer = answer.trim();
            if answer.is_empty() {
                return Ok(None);
            }
            match answer.parse::<usize>() {
                Ok(n) if (1..=options.len()).contains(&n) => return Ok(Some(n - 1)),
                _ => prompt = format!("Please type a number from 1 to {}: ", options.len()),
            }
        }
        Ok(None)
    }

    fn secret(&self, prompt: &str) -> Result<Secret, PromptError> {
        if !self.can_ask() {
            return Err(PromptError::NoTerminal);
        }
        // rpassword reads from the controlling terminal with echo off.
        let typed = rpassword::prompt_password(prompt).map_err(PromptError::Io)?;
        let secret = Secret::new(typed.trim_end_matches(['\r', '\n']));
        drop(typed);
        Ok(secret)
    }
}

impl Reporter for Ui {
    fn status(&self, message: &str) {
        self.line(None, message);
    }

    fn warn(&self, message: &str) {
        self.line(Some(self.err_style().yellow("warning")), message);
    }

    fn note(&self, message: &str) {
        self.line(Some("note".to_string()), message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clear_yes_is_yes() {
        for yes in ["y", "Y", "yes\n", " Yes "] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "n", "no", "yess", "1"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn yes_answers_every_confirmation_without_a_terminal() {
        let ui = Ui {
            no_color: true,
            yes: true,
            stdin_tty: false,
            stdout_tty: false,
            stderr_tty: false,
        };
        assert!(ui.confirm("go?").expect("answered by --yes"));
        assert!(!ui.offer("open the page?").expect("offers are declined"));
        let ui = Ui { yes: false, ..ui };
        assert!(matches!(ui.confirm("go?"), Err(PromptError::NoTerminal)));
        assert!(matches!(ui.secret("key: "), Err(PromptError::NoTerminal)));
    }
}
