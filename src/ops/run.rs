//! `run`: which registered keys go into a command's environment (every key but admin keys,
//! or those named), and starting the command with them. A command that cannot be found or
//! is not executable is told apart, so the caller can exit 127 or 126 as shells do.

use crate::core::registry::keyring::{KeyStore, KeyringError};
use crate::core::registry::{KeyRecord, Registry};
use crate::core::secret::Secret;
use std::path::PathBuf;
use std::process::Command;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("no key named `{0}` in the registry (see `keywarden keys list`)")]
    UnknownName(String),
    #[error("`{first}` and `{second}` both set {var}; pick one with --only")]
    SameVariable {
        first: String,
        second: String,
        var: String,
    },
    #[error("cannot read `{name}` from the keyring")]
    Keyring {
        name: String,
        #[source]
        source: KeyringError,
    },
    #[error("`{name}` is only tracked where it is used, not in the keyring: move it there with `keywarden keys import FILE --move`")]
    OnlyTracked { name: String },
    #[error("`{name}` is in the registry but not in {store}")]
    NotInKeyring { name: String, store: String },
    #[error("{program}: command not found")]
    NotFound { program: String },
    #[error("{program}: permission denied (not an executable file)")]
    NotExecutable { program: String },
    #[error("cannot start `{program}`")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    /// The exit code a shell would give: 127 for a command not found, 126 for one that
    /// cannot be executed; `None` for keywarden's own errors.
    pub fn shell_code(&self) -> Option<u8> {
        match self {
            RunError::NotFound { .. } => Some(127),
            RunError::NotExecutable { .. } => Some(126),
            _ => None,
        }
    }
}

/// Admin keys can delete and create other keys: they go to a child only when named, never
/// by default.
pub fn is_admin_key(record: &KeyRecord) -> bool {
    record.env_var == "OPENAI_ADMIN_KEY"
        || record.redacted.starts_with("sk-admin-")
        || record.redacted.starts_with("sk-ant-admin")
}

/// The records whose keys go into the environment: those named in `only`, else every key
/// in the keyring but admin keys. Keys only tracked where they are used stay out (those
/// files supply them). Where several keys set one variable and the repository the command
/// runs in (`here`: its work trees) uses exactly one of them, that one is taken.
pub fn select<'r>(
    registry: &'r Registry,
    only: &[String],
    here: &[PathBuf],
) -> Result<Vec<&'r KeyRecord>, RunError> {
    for name in only {
        match registry.get(name) {
            None => return Err(RunError::UnknownName(name.clone())),
            Some(record) if !record.in_keyring => {
                return Err(RunError::OnlyTracked { name: name.clone() })
            }
            Some(_) => {}
        }
    }
    let chosen: Vec<&KeyRecord> = registry
        .keys
        .iter()
        .filter(|k| k.in_keyring)
        .filter(|k| {
            if only.is_empty() {
                !is_admin_key(k)
            } else {
                only.contains(&k.name)
            }
        })
        .collect();
    let used_here = |var: &str| -> Vec<&str> {
        chosen
            .iter()
            .filter(|k| k.env_var == var && k.is_used_in(here))
            .map(|k| k.name.as_str())
            .collect()
    };
    Ok(chosen
        .iter()
        .copied()
        .filter(|k| {
            let here = used_here(&k.env_var);
            here.len() != 1 || here[0] == k.name
        })
        .collect())
}

/// Each record's variable and key, from the keyring. Two records for one variable are
/// refused (which one wins would be an accident).
pub fn environment(
    records: &[&KeyRecord],
    store: &dyn KeyStore,
) -> Result<Vec<(String, Secret)>, RunError> {
    let mut vars: Vec<(String, Secret)> = Vec::new();
    let mut owners: Vec<(&str, &str)> = Vec::new();
    for record in records {
        if let Some((_, first)) = owners.iter().find(|(var, _)| *var == record.env_var) {
            return Err(RunError::SameVariable {
                first: first.to_string(),
                second: record.name.clone(),
                var: record.env_var.clone(),
            });
        }
        owners.push((&record.env_var, &record.name));
        let key = store
            .get(&record.name)
            .map_err(|source| RunError::Keyring {
                name: record.name.clone(),
                source,
            })?
            .ok_or_else(|| RunError::NotInKeyring {
                name: record.name.clone(),
                store: store.kind().describe(),
            })?;
        vars.push((record.env_var.clone(), key));
    }
    Ok(vars)
}

/// Runs `program` with `args` and the keys in its environment; returns its exit code (a
/// child killed by a signal gives 128 + the signal, as shells report it).
pub fn run(program: &str, args: &[String], env: Vec<(String, Secret)>) -> Result<i32, RunError> {
    let mut command = Command::new(program);
    command.args(args);
    for (var, key) in &env {
        command.env(var, key.expose());
    }
    let status = command.status().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => RunError::NotFound {
            program: program.to_string(),
        },
        std::io::ErrorKind::PermissionDenied => RunError::NotExecutable {
            program: program.to_string(),
        },
        _ => RunError::Start {
            program: program.to_string(),
            source,
        },
    })?;
    // The child's environment (and so the keys) is released before returning.
    drop(command);
    drop(env);
    Ok(status.code().unwrap_or_else(|| signal_exit_code(&status)))
}

#[cfg(unix)]
fn signal_exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().map_or(1, |signal| 128 + signal)
}

#[cfg(not(unix))]
fn signal_exit_code(_status: &std::process::ExitStatus) -> i32 {
    1
}
