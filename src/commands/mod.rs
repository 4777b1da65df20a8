//! The command layer: one module per subcommand, turning parsed arguments into core calls
//! and an `Outcome`. Errors get their context here and become one line and exit code 2.

pub mod hook;
pub mod install;
pub mod purge;
pub mod scan;
pub mod status;
pub mod uninstall;

use crate::cli::{Cli, Command};
use crate::core::config::Config;
use clap::Parser;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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

/// Settings every command shares.
#[derive(Debug, Clone)]
pub struct Context {
    pub no_color: bool,
    pub config_path: Option<PathBuf>,
}

impl Context {
    /// Whether to colour a stream: never with `--no-color` or `NO_COLOR`, otherwise only
    /// on a terminal.
    pub fn color_for(&self, is_terminal: bool) -> bool {
        !self.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && is_terminal
    }

    pub fn stderr_color(&self) -> bool {
        self.color_for(std::io::stderr().is_terminal())
    }

    /// The configuration: `--config FILE`, else `.keywarden.toml` in `root`.
    pub fn load_config(&self, root: &Path) -> anyhow::Result<Config> {
        Ok(match &self.config_path {
            Some(path) => Config::load(path)?,
            None => Config::load_from_dir(root)?,
        })
    }
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let ctx = Context {
        no_color: cli.no_color,
        config_path: cli.config,
    };
    match cli.command {
        Command::Scan(args) => scan::run(&ctx, args),
        Command::Install(args) => install::run(&ctx, args),
        Command::Uninstall(args) => uninstall::run(&ctx, args),
        Command::Status => status::run(&ctx),
        Command::Hook(args) => hook::run(&ctx, args),
        Command::Purge(args) => purge::run(&ctx, args),
    }
}

/// The binary's entry point: parse, run, map to an exit code. A closed stdout (`| head`) is
/// not an error.
pub fn main_entry() -> ExitCode {
    let cli = Cli::parse();
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
