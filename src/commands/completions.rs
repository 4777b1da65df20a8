//! `keywarden completions SHELL`: the completion script for a shell, on stdout.

use super::{Context, Outcome};
use crate::cli::CompletionsArgs;
use std::io::Write;

pub fn run(_ctx: &Context, args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut command = crate::help::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "keywarden", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(Outcome::Clean)
}
