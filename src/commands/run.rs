//! `keywarden run [--only NAME…] -- CMD ARGS…`: starts CMD with the registered keys taken
//! from the keyring and put in its environment under their variable names, so a project
//! needs no plaintext `.env`. Exits with the child's exit code (127 when CMD is not found,
//! 126 when it cannot be executed, as shells do). Admin keys are passed only when asked
//! for by name.

use super::{Context, Failure, Outcome};
use crate::cli::RunArgs;
use crate::core::registry::Registry;
use crate::ops::keys::validate_name;
use crate::ops::run;
use crate::ops::Reporter;
use anyhow::bail;

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<Outcome> {
    for name in &args.only {
        validate_name(name)?;
    }
    let registry = Registry::load(&ctx.data_home()?)?;
    // Where several keys set one variable, the one this repository uses wins.
    let here = crate::core::git::open(&ctx.cwd)
        .map(|repo| crate::ops::inventory::work_trees(&repo))
        .unwrap_or_default();
    let records = run::select(&registry, &args.only, &here)?;
    let Some((program, program_args)) = args.command.split_first() else {
        bail!("no command given: `keywarden run -- CMD ARGS…`");
    };
    let env = if records.is_empty() {
        ctx.ui
            .warn("no keys registered; running the command without any");
        Vec::new()
    } else {
        run::environment(&records, &*ctx.key_store()?)?
    };
    match run::run(program, program_args, env) {
        // `Outcome::Exit` holds what a process can exit with; other codes (Windows) are 1.
        Ok(code) => Ok(Outcome::Exit(u8::try_from(code).unwrap_or(1))),
        Err(err) => match err.shell_code() {
            Some(code) => Err(Failure {
                code,
                message: err.to_string(),
            }
            .into()),
            None => Err(err.into()),
        },
    }
}
