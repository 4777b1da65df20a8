//! `keywarden run [--only NAME…] -- CMD ARGS…`: starts CMD with the registered keys taken
//! from the keyring and put in its environment under their variable names, so a project
//! needs no plaintext `.env`. Exits with the child's exit code. Admin keys are passed
//! only when asked for by name.

use super::{Context, Outcome};
use crate::cli::RunArgs;
use crate::core::registry::{KeyRecord, Registry};
use crate::ops::keys::validate_name;
use crate::ops::Reporter;
use anyhow::{bail, Context as _};

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<Outcome> {
    let reg = Registry::load(&ctx.data_home()?)?;
    for name in &args.only {
        validate_name(name)?;
        if reg.get(name).is_none() {
            bail!("no key named `{name}` in the registry (see `keywarden keys list`)");
        }
    }
    let records: Vec<_> = reg
        .keys
        .iter()
        .filter(|k| {
            if args.only.is_empty() {
                !is_admin_key(k)
            } else {
                args.only.contains(&k.name)
            }
        })
        .collect();
    let Some((program, program_args)) = args.command.split_first() else {
        bail!("no command given: `keywarden run -- CMD ARGS…`");
    };

    let mut command = std::process::Command::new(program);
    command.args(program_args);
    if !records.is_empty() {
        let store = ctx.key_store()?;
        let mut seen_vars = std::collections::HashMap::new();
        for record in &records {
            if let Some(previous) = seen_vars.insert(record.env_var.as_str(), record.name.as_str())
            {
                bail!(
                    "`{previous}` and `{}` both set {}; pick one with --only",
                    record.name,
                    record.env_var
                );
            }
            let key = store
                .get(&record.name)
                .with_context(|| format!("cannot read `{}` from the keyring", record.name))?
                .with_context(|| {
                    format!(
                        "`{}` is in the registry but not in {}",
                        record.name,
                        store.kind().describe()
                    )
                })?;
            command.env(&record.env_var, key.expose());
        }
    } else {
        ctx.ui
            .warn("no keys registered; running the command without any");
    }

    let status = command
        .status()
        .with_context(|| format!("cannot start `{program}`"))?;
    // The child's environment (and so the keys) is released before exiting.
    drop(command);
    let code = match status.code() {
        Some(code) => code,
        None => signal_exit_code(&status),
    };
    // `Outcome` only knows 0 and 1; the child's own code is passed through as is.
    std::process::exit(code)
}

/// Admin keys can delete and create other keys: they go to a child only when named with
/// `--only`, never by default.
fn is_admin_key(record: &KeyRecord) -> bool {
    record.env_var == "OPENAI_ADMIN_KEY"
        || record.redacted.starts_with("sk-admin-")
        || record.redacted.starts_with("sk-ant-admin")
}

#[cfg(unix)]
fn signal_exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    // The shell's convention for a child killed by a signal.
    status.signal().map_or(1, |signal| 128 + signal)
}

#[cfg(not(unix))]
fn signal_exit_code(_status: &std::process::ExitStatus) -> i32 {
    1
}
