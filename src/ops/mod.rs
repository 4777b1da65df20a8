//! The workflows: what a command does, without clap and without printing. Each operation
//! takes options and the person's side of the conversation as the small traits below, and
//! returns a typed report that `output/` renders. `ops` never imports `cli`, `commands` or
//! `output` (cargo's `ops`, gitoxide-core's operations).

pub mod due;
pub mod edits;
pub mod exposure;
pub mod hook;
pub mod incident;
pub mod install;
pub mod inventory;
pub mod key_source;
pub mod keys;
pub mod purge;
pub mod remedy;
pub mod replace;
pub mod revoke;
pub mod rotate;
pub mod run;
pub mod scan;
pub mod status;
pub mod swap;
pub mod uninstall;
pub mod vault;
pub mod verify;

use crate::core::secret::Secret;
use thiserror::Error;

/// Why a question could not be put to the person.
#[derive(Debug, Error)]
pub enum PromptError {
    /// No terminal to ask on (a script, CI, a pipe): the caller says which flag answers it.
    #[error("no terminal to ask on")]
    NoTerminal,
    #[error("cannot read the answer from the terminal")]
    Io(#[source] std::io::Error),
}

/// Questions to the person at the terminal. `--yes` answers every confirmation.
pub trait Prompter {
    /// Whether `--yes` was given.
    fn assume_yes(&self) -> bool;

    /// Whether a person can be asked at all.
    fn can_ask(&self) -> bool;

    /// A yes/no question for something the command needs before it goes on. `--yes`
    /// answers yes without asking; with nobody to ask it is `PromptError::NoTerminal`.
    fn confirm(&self, question: &str) -> Result<bool, PromptError>;

    /// An optional offer (open a page, write a template): asked only on a terminal and
    /// without `--yes`; otherwise the answer is no.
    fn offer(&self, question: &str) -> Result<bool, PromptError> {
        if self.assume_yes() || !self.can_ask() {
            return Ok(false);
        }
        self.confirm(question)
    }

    /// One of `options` (by index), or `None` when the person picks none.
    fn choose(&self, question: &str, options: &[String]) -> Result<Option<usize>, PromptError>;

    /// A secret typed at a hidden prompt.
    fn secret(&self, prompt: &str) -> Result<Secret, PromptError>;
}

/// One-line messages to the person while an operation runs (the `keywarden:` lines on
/// stderr). Results are not messages: they come back in the operation's report.
pub trait Reporter: Sync {
    fn status(&self, message: &str);
    fn warn(&self, message: &str);
    fn note(&self, message: &str);
}

/// A prompter that can never ask (tests, and operations run without a person).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unattended {
    pub yes: bool,
}

impl Prompter for Unattended {
    fn assume_yes(&self) -> bool {
        self.yes
    }

    fn can_ask(&self) -> bool {
        false
    }

    fn confirm(&self, _question: &str) -> Result<bool, PromptError> {
        if self.yes {
            Ok(true)
        } else {
            Err(PromptError::NoTerminal)
        }
    }

    fn choose(&self, _question: &str, _options: &[String]) -> Result<Option<usize>, PromptError> {
        Err(PromptError::NoTerminal)
    }

    fn secret(&self, _prompt: &str) -> Result<Secret, PromptError> {
        Err(PromptError::NoTerminal)
    }
}

/// A reporter that keeps quiet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Reporter for Quiet {
    fn status(&self, _message: &str) {}
    fn warn(&self, _message: &str) {}
    fn note(&self, _message: &str) {}
}
