//! `install --global`: one hooks directory for every repository of the user, through the
//! global `core.hooksPath`. git, not libgit2, reads and writes the global configuration,
//! so that `GIT_CONFIG_GLOBAL` and XDG locations mean exactly what they mean to git.

use super::{HooksError, Txn};
use crate::core::git::command::GitCommand;
use std::path::{Path, PathBuf};

/// Left in the global hooks directory when keywarden set `core.hooksPath` itself, so that
/// uninstall unsets only what install set.
const SET_BY_KEYWARDEN: &str = ".keywarden-set-core-hooksPath";

/// The global hooks directory, and whether keywarden chose it.
#[derive(Debug, Clone)]
pub struct GlobalSetup {
    pub dir: PathBuf,
    pub set_by_keywarden: bool,
}

fn git_config(args: &[&str]) -> Result<Option<String>, HooksError> {
    let out = GitCommand::anywhere()
        .args(["config", "--global"])
        .args(args)
        .output(&format!("git config --global {}", args.join(" ")))?;
    match out.status.code() {
        Some(0) => Ok(Some(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )),
        // `--get` of a missing key, `--unset` of a missing key.
        Some(1) | Some(5) => Ok(None),
        _ => Err(HooksError::GitCommand {
            args: format!("config --global {}", args.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
    }
}

/// The global `core.hooksPath` if one is set (with `~` expanded).
pub fn global_hooks_dir() -> Result<Option<PathBuf>, HooksError> {
    Ok(git_config(&["--type=path", "--get", "core.hooksPath"])?
        .filter(|v| !v.is_empty())
        .map(PathBuf::from))
}

fn default_dir() -> Result<PathBuf, HooksError> {
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or(HooksError::NoConfigHome)?;
    Ok(config_home.join("keywarden").join("hooks"))
}

impl GlobalSetup {
    /// The directory to install into: the existing global `core.hooksPath`, or
    /// `~/.config/keywarden/hooks` (to be set by `apply`).
    pub fn plan() -> Result<Self, HooksError> {
        Ok(match global_hooks_dir()? {
            Some(dir) => GlobalSetup {
                set_by_keywarden: dir.join(SET_BY_KEYWARDEN).exists(),
                dir,
            },
            None => GlobalSetup {
                dir: default_dir()?,
                set_by_keywarden: true,
            },
        })
    }

    /// Points the global `core.hooksPath` at `dir` if keywarden chose it.
    pub fn apply(&self, txn: &mut Txn) -> Result<(), HooksError> {
        if !self.set_by_keywarden {
            return Ok(());
        }
        txn.write(&self.dir.join(SET_BY_KEYWARDEN), b"", 0o644)?;
        let dir = self.dir.to_string_lossy();
        git_config(&["core.hooksPath", &dir])?;
        Ok(())
    }

    /// Unsets the global `core.hooksPath` if keywarden set it.
    pub fn unset(&self, txn: &mut Txn) -> Result<bool, HooksError> {
        let marker = self.dir.join(SET_BY_KEYWARDEN);
        if !marker.exists() {
            return Ok(false);
        }
        git_config(&["--unset", "core.hooksPath"])?;
        txn.remove(&marker)?;
        remove_dir_if_empty(&self.dir);
        Ok(true)
    }
}

fn remove_dir_if_empty(dir: &Path) {
    // remove_dir refuses a non-empty directory, which is exactly the check we want.
    let _ = std::fs::remove_dir(dir);
}
