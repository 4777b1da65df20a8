//! The git hooks keywarden installs: which hooks exist, where git looks for them in every
//! repository layout (plain, `core.hooksPath` absolute or relative, linked worktrees, bare
//! repositories, submodules, Husky v9), the shim text, and installing or removing shims
//! without ever clobbering a hook that was there first (it is chained and put back).

mod global;
mod shims;

pub use global::{global_hooks_dir, GlobalSetup};
pub use shims::{
    chained_path, inspect, install_hook, is_keywarden_shim, uninstall_hook, HookState,
    InstallAction, UninstallAction,
};

use crate::core::txn::{Txn, TxnError};
use git2::Repository;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HooksError {
    #[error("cannot read the git configuration: {0}")]
    Config(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Write(#[from] TxnError),
    #[error("{path} already exists and is not a keywarden shim; move it away and re-run")]
    ChainSlotTaken { path: PathBuf },
    #[error("`git {args}` failed: {message}")]
    GitCommand { args: String, message: String },
    #[error("unknown hook `{0}` (expected pre-commit, pre-push, post-checkout or post-merge)")]
    UnknownHook(String),
}

impl HooksError {
    pub(crate) fn io(path: &Path, err: std::io::Error) -> Self {
        HooksError::Io {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}

/// The hooks keywarden installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookName {
    PreCommit,
    PrePush,
    /// Reminds of keys due for rotation (once a day), then runs a chained hook.
    PostCheckout,
    PostMerge,
}

impl HookName {
    pub const ALL: [HookName; 4] = [
        HookName::PreCommit,
        HookName::PrePush,
        HookName::PostCheckout,
        HookName::PostMerge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookName::PreCommit => "pre-commit",
            HookName::PrePush => "pre-push",
            HookName::PostCheckout => "post-checkout",
            HookName::PostMerge => "post-merge",
        }
    }

    pub fn parse(name: &str) -> Result<Self, HooksError> {
        Self::ALL
            .into_iter()
            .find(|h| h.as_str() == name)
            .ok_or_else(|| HooksError::UnknownHook(name.to_string()))
    }

    /// Hooks that guard something. Husky's hook files are committed and shared by the
    /// team, so only these are added there; the others would be noise.
    pub fn guards(self) -> bool {
        matches!(self, HookName::PreCommit | HookName::PrePush)
    }
}

/// How the hooks directory was chosen, which decides how a hook is added to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// `<common git dir>/hooks`.
    Default,
    /// `core.hooksPath`, as configured.
    HooksPath(String),
    /// Husky v9: `core.hooksPath` is `.husky/_`, whose files husky regenerates; hooks go
    /// into the user's `.husky/<name>` scripts instead.
    Husky { husky_dir: PathBuf },
}

#[derive(Debug, Clone)]
pub struct HooksLocation {
    /// The directory git runs hooks from (`git rev-parse --git-path hooks`).
    pub dir: PathBuf,
    pub layout: Layout,
}

impl HooksLocation {
    /// The file keywarden adds `hook` to.
    pub fn target(&self, hook: HookName) -> PathBuf {
        match &self.layout {
            Layout::Husky { husky_dir } => husky_dir.join(hook.as_str()),
            _ => self.dir.join(hook.as_str()),
        }
    }

    pub fn is_husky(&self) -> bool {
        matches!(self.layout, Layout::Husky { .. })
    }

    /// The hooks this location receives.
    pub fn hooks(&self) -> Vec<HookName> {
        HookName::ALL
            .into_iter()
            .filter(|h| !self.is_husky() || h.guards())
            .collect()
    }
}

/// Where git runs `repo`'s hooks from: `core.hooksPath` (relative to the root of the
/// working tree, or to the git dir when bare; `~` expanded), else `<common dir>/hooks`, so
/// that linked worktrees and submodules find the hooks of the repository they belong to.
pub fn resolve(repo: &Repository) -> Result<HooksLocation, HooksError> {
    let config = repo
        .config()
        .map_err(|e| HooksError::Config(e.message().to_string()))?;
    let configured = match config.get_string("core.hooksPath") {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ => None,
    };
    let Some(value) = configured else {
        return Ok(HooksLocation {
            dir: repo.commondir().join("hooks"),
            layout: Layout::Default,
        });
    };
    let dir = expand_hooks_path(repo, &value);
    let layout = if dir.file_name().is_some_and(|n| n == "_")
        && dir
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == ".husky")
    {
        Layout::Husky {
            husky_dir: dir.parent().map(Path::to_path_buf).unwrap_or_default(),
        }
    } else {
        Layout::HooksPath(value)
    };
    Ok(HooksLocation { dir, layout })
}

fn expand_hooks_path(repo: &Repository, value: &str) -> PathBuf {
    let expanded = match value.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(rest))
            .unwrap_or_else(|| PathBuf::from(value)),
        None => PathBuf::from(value),
    };
    if expanded.is_absolute() {
        return expanded;
    }
    let base = repo.workdir().unwrap_or_else(|| repo.path());
    normalize(&base.join(expanded))
}

/// Removes `.` and `..` components without touching the filesystem (the directory may not
/// exist yet).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The hooks directory git uses for `repo` when no `core.hooksPath` applies: the one the
/// repository's own hooks live in, which a global shim still runs.
pub fn own_hooks_dir(repo: &Repository) -> PathBuf {
    repo.commondir().join("hooks")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_names_round_trip() {
        for hook in HookName::ALL {
            assert_eq!(HookName::parse(hook.as_str()).ok(), Some(hook));
        }
        assert!(HookName::parse("pre-rebase").is_err());
    }

    #[test]
    fn normalize_drops_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/./../c/d")),
            PathBuf::from("/a/c/d")
        );
    }
}
