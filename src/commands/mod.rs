//! The command layer: one module per subcommand, turning parsed arguments into core calls
//! and an `Outcome`. Errors get their context here and become one line and exit code 2.

pub mod completions;
pub mod hook;
pub mod install;
pub mod keys;
pub mod man;
pub mod purge;
pub mod run;
pub mod scan;
pub mod status;
pub mod uninstall;

use crate::cli::{Cli, Command};
pub use crate::context::Context;
use clap::FromArgMatches;
use std::process::ExitCode;

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing found, or the work is done: exit 0.
    Clean,
    /// Findings (a hook blocks): exit 1.
    Findings,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
        }
    }
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
            let message = format!("{err:#}").replace(['\n', '\r'], " ");
            eprintln!("keywarden: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
