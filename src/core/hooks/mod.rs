//! The git hooks keywarden installs: which hooks exist, where git looks for them in every
//! repository layout (plain, `core.hooksPath` absolute or relative, linked worktrees, bare
//! repositories, submodules, Husky v9), whether those files may be committed, the shim
//! text, installing or removing shims without ever clobbering a hook that was there first
//! (it is chained and put back), and what git tells a running hook (`invocation`).

mod global;
pub mod invocation;
mod shims;

pub use global::{global_hooks_dir, GlobalSetup};
pub use shims::{
    chained_path, inspect, install_hook, is_keywarden_shim, remove_binary_record, shim_of_chained,
    uninstall_hook, write_binary_record, HookState, InstallAction, UninstallAction,
};

use crate::core::git::GitError;
use crate::core::txn::{Txn, TxnError};
use git2::Repository;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HooksError {
    #[error("cannot read the git configuration")]
    Config(#[source] git2::Error),
    #[error("neither XDG_CONFIG_HOME nor HOME is set, so there is no place for the global hooks")]
    NoConfigHome,
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] TxnError),
    #[error("{} already exists and is not a keywarden shim; move it away and re-run", path.display())]
    ChainSlotTaken { path: PathBuf },
    /// git ran and refused; `message` is what it said.
    #[error("`git {args}` failed: {message}")]
    GitCommand { args: String, message: String },
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("unknown hook `{0}` (expected pre-commit, pre-push, post-checkout or post-merge)")]
    UnknownHook(String),
}

impl HooksError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        HooksError::Io {
            path: path.to_path_buf(),
            source,
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
    /// The hook files are inside the work tree (Husky's scripts, a `core.hooksPath` such
    /// as `.githooks`), so they may be committed and run on other people's machines: they
    /// must name no path on this one.
    pub shared: bool,
}

impl HooksLocation {
    /// The global hooks directory (`install --global`): the user's own.
    pub fn global(dir: PathBuf) -> Self {
        HooksLocation {
            layout: Layout::HooksPath(dir.to_string_lossy().into_owned()),
            dir,
            shared: false,
        }
    }

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
    let config = repo.config().map_err(HooksError::Config)?;
    let configured = match config.get_string("core.hooksPath") {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ => None,
    };
    let Some(value) = configured else {
        return Ok(HooksLocation {
            dir: repo.commondir().join("hooks"),
            layout: Layout::Default,
            shared: false,
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
    let shared = matches!(layout, Layout::Husky { .. }) || in_work_tree(repo, &dir);
    Ok(HooksLocation {
        dir,
        layout,
        shared,
    })
}

/// Whether `dir` lies inside `repo`'s work tree (and not inside its git dir).
fn in_work_tree(repo: &Repository, dir: &Path) -> bool {
    let Some(workdir) = repo.workdir() else {
        return false;
    };
    let workdir = normalize(workdir);
    let dir = normalize(dir);
    let under_git_dir = [repo.path(), repo.commondir()]
        .iter()
        .any(|git_dir| dir.starts_with(normalize(git_dir)));
    dir.starts_with(&workdir) && !under_git_dir
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
