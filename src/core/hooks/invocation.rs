//! What git tells a hook about the operation it runs in. The index a commit records
//! (`GIT_INDEX_FILE`) says how the commit was asked for: the repository's own index for a
//! plain `git commit`; `index.lock` — the real index with every tracked change added — for
//! `git commit -a` (and `--include PATH`); a `next-index-<pid>.lock` built from `HEAD` and
//! the named paths for `git commit PATH` (`--only`). `GIT_PREFIX` is the directory the
//! command was typed in, relative to the top of the work tree (git runs hooks from the
//! top). The pre-commit framework runs a pre-push hook without git's stdin and names the
//! range in `PRE_COMMIT_FROM_REF` / `PRE_COMMIT_TO_REF` instead.

use std::path::{Component, Path, PathBuf};

/// How the commit being checked was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// `git commit`: what is staged in the repository's index.
    Index,
    /// `git commit -a` or `--include`: the index plus every change to a tracked file; the
    /// repository's index itself does not hold those changes.
    All,
    /// `git commit PATH…`: `HEAD` plus the named paths as they are on disk.
    Paths,
}

impl CommitMode {
    /// The mode the index file git names implies.
    pub fn from_index_file(index_file: Option<&Path>) -> Self {
        let Some(name) = index_file.and_then(Path::file_name) else {
            return CommitMode::Index;
        };
        let name = name.to_string_lossy();
        if name == "index.lock" {
            CommitMode::All
        } else if name.starts_with("next-index-") && name.ends_with(".lock") {
            CommitMode::Paths
        } else {
            CommitMode::Index
        }
    }
}

/// Where the person is, for commands suggested to them: `up` leads from the directory they
/// typed the git command in to the top of the work tree (`""` when they are at the top).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Here {
    pub up: String,
}

impl Here {
    /// From `GIT_PREFIX` (`"src/app/"` → `"../.."`).
    pub fn from_prefix(prefix: &str) -> Self {
        let depth = Path::new(prefix)
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count();
        Here {
            up: vec![".."; depth].join("/"),
        }
    }

    /// For a command run in `cwd` inside the work tree at `root`.
    pub fn from_dirs(cwd: &Path, root: &Path) -> Self {
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let (cwd, root) = (canonical(cwd), canonical(root));
        match cwd.strip_prefix(&root) {
            Ok(rel) => Self::from_prefix(&rel.to_string_lossy()),
            Err(_) => Here::default(),
        }
    }

    /// Whether commands need `-C <up>` to run from the top of the work tree.
    pub fn is_top(&self) -> bool {
        self.up.is_empty()
    }
}

/// What git (or the pre-commit framework) passed a hook in its environment.
#[derive(Debug, Clone, Default)]
pub struct HookInvocation {
    /// `GIT_INDEX_FILE`, made absolute against the hook's directory.
    pub index_file: Option<PathBuf>,
    pub here: Here,
    /// `PRE_COMMIT_FROM_REF`, `PRE_COMMIT_TO_REF`, `PRE_COMMIT_REMOTE_BRANCH`.
    pub framework_from: Option<String>,
    pub framework_to: Option<String>,
    pub framework_remote_branch: Option<String>,
}

impl HookInvocation {
    /// Reads git's and the framework's variables from this process's environment; a
    /// relative `GIT_INDEX_FILE` is taken from `cwd`, the hook's directory.
    pub fn from_env(cwd: &Path) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let index_file = std::env::var_os("GIT_INDEX_FILE")
            .filter(|v| !v.is_empty())
            .map(|path| cwd.join(path));
        HookInvocation {
            index_file,
            here: Here::from_prefix(&var("GIT_PREFIX").unwrap_or_default()),
            framework_from: var("PRE_COMMIT_FROM_REF"),
            framework_to: var("PRE_COMMIT_TO_REF"),
            framework_remote_branch: var("PRE_COMMIT_REMOTE_BRANCH"),
        }
    }

    pub fn commit_mode(&self) -> CommitMode {
        CommitMode::from_index_file(self.index_file.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_file_names_tell_the_commit_mode() {
        let mode = |p: Option<&str>| CommitMode::from_index_file(p.map(Path::new));
        assert_eq!(mode(None), CommitMode::Index);
        assert_eq!(mode(Some(".git/index")), CommitMode::Index);
        assert_eq!(mode(Some("/r/.git/index.lock")), CommitMode::All);
        assert_eq!(
            mode(Some("/r/.git/worktrees/w/index.lock")),
            CommitMode::All
        );
        assert_eq!(
            mode(Some("/r/.git/next-index-27259.lock")),
            CommitMode::Paths
        );
        assert_eq!(mode(Some("/tmp/my-index")), CommitMode::Index);
    }

    #[test]
    fn the_way_up_from_the_prefix() {
        assert_eq!(Here::from_prefix("").up, "");
        assert_eq!(Here::from_prefix("sub/").up, "..");
        assert_eq!(Here::from_prefix("src/app/").up, "../..");
        assert!(Here::from_prefix("").is_top());
    }
}
