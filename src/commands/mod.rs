//! The command layer: one module per subcommand, turning parsed arguments into core calls
//! and an `Outcome`. Errors get their context here and become one line and exit code 2.

pub mod completions;
pub mod hook;
pub mod incident;
pub mod install;
pub mod keys;
pub mod man;
pub mod purge;
pub mod rotate;
pub mod run;
pub mod scan;
pub mod status;
pub mod uninstall;

use crate::cli::{Cli, Command};
pub use crate::context::Context;
use crate::ops::Reporter as _;
use clap::FromArgMatches;
use std::process::ExitCode;

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing found, or the work is done: exit 0.
    Clean,
    /// Findings (a hook blocks), or a key still live: exit 1.
    Findings,
    /// The question could not be answered (a provider that said nothing about a key): exit 2.
    Undecided,
    /// A child's own exit code, passed through (`run`).
    Exit(u8),
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
            Outcome::Undecided => ExitCode::from(2),
            Outcome::Exit(code) => ExitCode::from(code),
        }
    }
}

/// A failure that ends with its own exit code instead of 2 (a command `run` cannot start:
/// 127 or 126, as shells do). Its message is printed as any error's.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

/// The exit for a purge error (`keywarden purge`, or a purge inside `keywarden incident`):
/// 130 for an interrupt (as shells do), else the usual 2.
pub(crate) fn purge_failed(err: crate::ops::purge::PurgeError) -> anyhow::Error {
    if err.is_interrupt() {
        return Failure {
            code: 130,
            message: err.to_string(),
        }
        .into();
    }
    err.into()
}

/// What a finished purge left undone, one clause each; the details are warned about first.
pub(crate) fn purge_problems(
    ctx: &Context,
    summary: &crate::ops::purge::Summary,
    verified: Option<&crate::ops::purge::VerifyReport>,
) -> Vec<String> {
    let (warnings, problems) = crate::output::purge::problems(summary, verified);
    for line in warnings {
        ctx.ui.warn(&line);
    }
    problems
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let ctx = Context::for_cli(&cli)?;
    match cli.command {
        Command::Scan(args) => scan::run(&ctx, args),
        Command::Install(args) => install::run(&ctx, args),
        Command::Uninstall(args) => uninstall::run(&ctx, args),
        Command::Status => status::run(&ctx),
        Command::Hook(args) => hook::run(&ctx, args),
        Command::Purge(args) => purge::run(&ctx, args),
        Command::Keys(args) => keys::run(&ctx, args),
        Command::Run(args) => run::run(&ctx, args),
        Command::Rotate(args) => rotate::run(&ctx, args),
        Command::Incident(args) => incident::run(&ctx, args),
        Command::Completions(args) => completions::run(&ctx, args),
        Command::Man(args) => man::run(&ctx, args),
    }
}

/// The binary's entry point: parse, run, map to an exit code. A closed stdout (`| head`) is
/// not an error.
pub fn main_entry() -> ExitCode {
    // Parsed from `help::command()`, which adds the examples to the derived commands.
    let cli = Cli::from_arg_matches(&crate::help::command().get_matches())
        .unwrap_or_else(|err| err.exit());
    match run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let message = one_line(&err);
            eprintln!(
                "keywarden: error: {}",
                crate::core::shell::localize(&message)
            );
            let code = err.downcast_ref::<Failure>().map_or(2, |f| f.code);
            ExitCode::from(code)
        }
    }
}

/// The error and its causes on one line, each cause once: an error whose message already
/// ends with its cause's text (`{path}: {source}`) does not get it twice.
fn one_line(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || message.ends_with(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message.replace(['\n', '\r'], " ")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: {source}")]
    struct Quoting {
        path: String,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let err = anyhow::Error::new(Quoting {
            path: "a.toml".into(),
            source: io,
        })
        .context("cannot load the configuration");
        assert_eq!(
            one_line(&err),
            "cannot load the configuration: a.toml: No such file or directory"
        );
        let err = anyhow::anyhow!("outer").context("top");
        assert_eq!(one_line(&err), "top: outer");
    }
}
