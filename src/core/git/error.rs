//! What can go wrong in `core::git`, typed so that a caller can decide what to do next
//! ([`GitError::kind`]: ask the person, run again, or stop) and with each cause kept as the
//! error's `source()`. A variant's message never repeats its source: `{err:#}` (anyhow's
//! one-line chain, as `keywarden: error:` prints it) and [`GitError::one_line`] append it.

use git2::{ErrorCode, Oid};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What a caller should do about an error: the three answers a resumable workflow needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nothing was changed and running again as is will not help: the person has to act
    /// first (commit or stash, finish a merge, trust the repository, fix an argument).
    Refused,
    /// Something else held a lock or moved a ref meanwhile: running again as is can succeed.
    Retry,
    /// The repository, the system or keywarden itself is broken in a way that neither the
    /// person's answer nor another run will fix: stop.
    Fatal,
}

/// An operation git leaves half-done in a worktree until it is finished or aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Merge,
    Revert,
    CherryPick,
    Bisect,
    Rebase,
    ApplyMailbox,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Merge => "a merge",
            Operation::Revert => "a revert",
            Operation::CherryPick => "a cherry-pick",
            Operation::Bisect => "a bisect",
            Operation::Rebase => "a rebase",
            Operation::ApplyMailbox => "a `git am`",
        })
    }
}

/// A libgit2 error, shown by its message alone: `git2::Error`'s own `Display` appends
/// `; class=…; code=…`, which would clutter the one-line message. The error itself, with
/// its code and class, is kept for callers that branch on them.
#[derive(Debug)]
pub struct Libgit2Error(pub git2::Error);

impl Libgit2Error {
    pub fn code(&self) -> ErrorCode {
        self.0.code()
    }

    pub fn inner(&self) -> &git2::Error {
        &self.0
    }
}

impl fmt::Display for Libgit2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.message())
    }
}

impl std::error::Error for Libgit2Error {}

impl From<git2::Error> for Libgit2Error {
    fn from(err: git2::Error) -> Self {
        Libgit2Error(err)
    }
}

/// Why an object cannot be used.
#[derive(Debug, Error)]
pub enum Damage {
    /// libgit2 could not read it (missing, truncated, unreadable pack).
    #[error(transparent)]
    Unreadable(Libgit2Error),
    /// It was read, but its bytes are not a valid object of that type.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

#[derive(Debug, Error)]
pub enum GitError {
    #[error("{path}: not a git repository (or any parent up to the filesystem root)")]
    NotARepo { path: PathBuf },
    /// libgit2's `Owner` error, which git reports as "dubious ownership".
    #[error(
        "detected dubious ownership in repository at {path} (it belongs to another user); if \
         you trust it, run `git config --global --add safe.directory {}`",
        crate::core::shell::path(safe_directory)
    )]
    DubiousOwnership {
        path: PathBuf,
        /// What `safe.directory` must name: the work tree, or the git dir of a bare
        /// repository.
        safe_directory: PathBuf,
    },
    #[error("invalid revision range `{spec}`")]
    BadRange {
        spec: String,
        #[source]
        source: Libgit2Error,
    },
    #[error("invalid revision range `{spec}`: empty range")]
    EmptyRange { spec: String },
    #[error("cannot {action} the index {path}")]
    Index {
        /// "read" or "update".
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Libgit2Error,
    },
    #[error("git object {oid} is corrupt or missing")]
    Corrupt {
        oid: Oid,
        #[source]
        source: Damage,
    },
    /// A ref (or the stash, or HEAD) points to an object that cannot be read: the history
    /// behind it cannot be read either. `name` may hold a key: callers redact it.
    #[error("{name} points to {oid}, which is corrupt or missing")]
    MissingTip {
        name: String,
        oid: Oid,
        #[source]
        source: Libgit2Error,
    },
    #[error(
        "uncommitted changes in {} ({first}{}): commit or stash them first; nothing was changed",
        path.display(),
        and_more(*more)
    )]
    DirtyWorktree {
        path: PathBuf,
        /// The first changed file.
        first: String,
        /// How many other files changed.
        more: usize,
    },
    #[error("{op} is in progress in {}: finish or abort it first; nothing was changed", path.display())]
    OperationInProgress { path: PathBuf, op: Operation },
    #[error("{name} moved during the rewrite: nothing was changed; run purge again")]
    RefMoved { name: String },
    /// A ref is neither where the purge found it nor where it moves it: someone updated it
    /// while a purge was unfinished.
    #[error("{name} was changed while the purge was unfinished (it is at neither its old nor its new commit); it was left alone")]
    RefChanged { name: String },
    #[error("another git process is updating {name} (its .lock file exists); no ref was changed: run again once it is done")]
    RefLocked { name: String },
    #[error("cannot run {what}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// `git` ran and failed; `stderr` is what it said (its first line when it says more).
    #[error("{what}: {stderr}")]
    Subprocess { what: String, stderr: String },
    #[error(
        "git push --force {remote}: the push failed (see git's message above); the local \
         rewrite is done"
    )]
    PushFailed { remote: String },
    #[error("unexpected pre-push input: {line}")]
    BadPushLine { line: String },
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done to `path`: "cannot create", "cannot write"…
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}")]
    Libgit2 {
        context: String,
        #[source]
        source: Libgit2Error,
    },
    #[error("cannot write object {oid}: not a storable object type")]
    Unstorable { oid: Oid },
    #[error("{what}: a worker thread failed")]
    WorkerFailed { what: &'static str },
}

impl GitError {
    /// A libgit2 call failed while doing `context` ("cannot list refs").
    pub fn libgit2(context: impl Into<String>, err: git2::Error) -> Self {
        GitError::Libgit2 {
            context: context.into(),
            source: Libgit2Error(err),
        }
    }

    /// The tip `name` points to `oid`, which could not be read.
    pub fn missing_tip(name: &str, oid: Oid, err: git2::Error) -> Self {
        GitError::MissingTip {
            name: name.to_string(),
            oid,
            source: Libgit2Error(err),
        }
    }

    /// Object `oid` could not be read.
    pub fn corrupt(oid: Oid, err: git2::Error) -> Self {
        GitError::Corrupt {
            oid,
            source: Damage::Unreadable(Libgit2Error(err)),
        }
    }

    /// Object `oid` was read but is not a valid `what` ("tree", "commit", "tag").
    pub fn malformed(oid: Oid, what: &'static str) -> Self {
        GitError::Corrupt {
            oid,
            source: Damage::Malformed(what),
        }
    }

    /// A file-system call on `path` failed while doing `action` ("cannot create").
    pub fn io(action: &'static str, path: &Path, err: std::io::Error) -> Self {
        GitError::Io {
            action,
            path: path.to_path_buf(),
            source: err,
        }
    }

    /// Opening the repository at `path` failed: libgit2's `Owner` code becomes git's
    /// "dubious ownership" explanation, anything else `context`.
    pub(crate) fn opening(path: &Path, err: git2::Error) -> Self {
        if err.code() == ErrorCode::Owner {
            return GitError::DubiousOwnership {
                path: path.to_path_buf(),
                safe_directory: safe_directory_for(path),
            };
        }
        GitError::libgit2(format!("cannot open {}", path.display()), err)
    }

    /// Whether to ask the person, run again, or stop.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GitError::NotARepo { .. }
            | GitError::DubiousOwnership { .. }
            | GitError::BadRange { .. }
            | GitError::EmptyRange { .. }
            | GitError::DirtyWorktree { .. }
            | GitError::OperationInProgress { .. } => ErrorKind::Refused,
            GitError::RefMoved { .. }
            | GitError::RefLocked { .. }
            | GitError::PushFailed { .. } => ErrorKind::Retry,
            GitError::RefChanged { .. } => ErrorKind::Refused,
            GitError::Libgit2 { source, .. } | GitError::Index { source, .. } => {
                libgit2_kind(source.code())
            }
            GitError::Corrupt { .. }
            | GitError::MissingTip { .. }
            | GitError::Spawn { .. }
            | GitError::Subprocess { .. }
            | GitError::BadPushLine { .. }
            | GitError::Io { .. }
            | GitError::Unstorable { .. }
            | GitError::WorkerFailed { .. } => ErrorKind::Fatal,
        }
    }

    /// The message and every cause, on one line, as `keywarden: error:` shows them:
    /// `git object … is corrupt or missing: object not found`.
    pub fn one_line(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            text.push_str(": ");
            text.push_str(&err.to_string());
            cause = err.source();
        }
        text
    }
}

/// A lock held by another process, or a ref that no longer has the value it was read with,
/// clears up by itself; the repository's owner needs the person; the rest is for good.
fn libgit2_kind(code: ErrorCode) -> ErrorKind {
    match code {
        ErrorCode::Locked | ErrorCode::Modified => ErrorKind::Retry,
        ErrorCode::Owner => ErrorKind::Refused,
        _ => ErrorKind::Fatal,
    }
}

/// The directory git's `safe.directory` must name for a repository found from `start`:
/// the work tree (for a linked worktree, the directory holding its `.git` file), or the git
/// dir of a bare repository. libgit2's discovery does not check ownership, so this works
/// where opening failed; `start` itself when even discovery fails.
fn safe_directory_for(start: &Path) -> PathBuf {
    let ceilings: Vec<PathBuf> = Vec::new();
    let Ok(git_dir) = git2::Repository::discover_path(start, ceilings) else {
        return start.to_path_buf();
    };
    let git_dir = git_dir.canonicalize().unwrap_or(git_dir);
    if git_dir.file_name().is_some_and(|n| n == ".git") {
        return git_dir.parent().map_or(git_dir.clone(), Path::to_path_buf);
    }
    // A linked worktree's git dir names its `.git` file in `gitdir`.
    if let Ok(text) = std::fs::read_to_string(git_dir.join("gitdir")) {
        let dot_git = PathBuf::from(text.trim_end());
        if let Some(workdir) = dot_git.parent() {
            return workdir.to_path_buf();
        }
    }
    git_dir
}

fn and_more(more: usize) -> String {
    if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    }
}

/// The first error that worker threads collected, if any.
pub(crate) fn first_failure(failures: std::sync::Mutex<Vec<GitError>>) -> Result<(), GitError> {
    match failures
        .into_inner()
        .expect("a worker panicked while holding the failures lock")
        .into_iter()
        .next()
    {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;
    use git2::ErrorClass;

    fn libgit2(code: ErrorCode, message: &str) -> git2::Error {
        git2::Error::new(code, ErrorClass::Reference, message)
    }

    #[test]
    fn refusals_retries_and_fatal_errors_are_told_apart() {
        let refused = [
            GitError::NotARepo { path: "/r".into() },
            GitError::DirtyWorktree {
                path: "/r".into(),
                first: "a".into(),
                more: 0,
            },
            GitError::OperationInProgress {
                path: "/r".into(),
                op: Operation::Rebase,
            },
            GitError::EmptyRange {
                spec: "a..a".into(),
            },
            GitError::DubiousOwnership {
                path: "/r".into(),
                safe_directory: "/r".into(),
            },
        ];
        for err in &refused {
            assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
        }
        let retry = [
            GitError::RefMoved {
                name: "refs/heads/main".into(),
            },
            GitError::libgit2(
                "cannot lock refs/heads/main",
                libgit2(ErrorCode::Locked, "x"),
            ),
            GitError::libgit2("cannot move HEAD", libgit2(ErrorCode::Modified, "x")),
            GitError::Index {
                action: "update",
                path: "/r/.git/index".into(),
                source: libgit2(ErrorCode::Locked, "index.lock exists").into(),
            },
            GitError::PushFailed {
                remote: "origin".into(),
            },
        ];
        for err in &retry {
            assert_eq!(err.kind(), ErrorKind::Retry, "{err}");
        }
        let fatal = [
            GitError::corrupt(
                Oid::zero(),
                libgit2(ErrorCode::NotFound, "object not found"),
            ),
            GitError::malformed(Oid::zero(), "tree"),
            GitError::io(
                "cannot create",
                Path::new("/x"),
                std::io::Error::other("full"),
            ),
            GitError::libgit2("cannot list refs", libgit2(ErrorCode::GenericError, "x")),
            GitError::Subprocess {
                what: "git gc --prune=now".into(),
                stderr: "fatal: out of memory".into(),
            },
            GitError::WorkerFailed {
                what: "reading history",
            },
        ];
        for err in &fatal {
            assert_eq!(err.kind(), ErrorKind::Fatal, "{err}");
        }
    }

    #[test]
    fn messages_read_as_one_line_without_repeating_their_cause() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let shown = io.to_string();
        let err = GitError::io("cannot create", Path::new("/x/y"), io);
        assert_eq!(err.to_string(), "cannot create /x/y");
        assert_eq!(err.one_line(), format!("cannot create /x/y: {shown}"));
        assert_eq!(err.one_line().matches(&shown).count(), 1);

        let err = GitError::corrupt(
            Oid::zero(),
            libgit2(ErrorCode::NotFound, "object not found - no match for id"),
        );
        assert_eq!(
            err.one_line(),
            format!(
                "git object {} is corrupt or missing: object not found - no match for id",
                Oid::zero()
            )
        );
        assert!(!err.one_line().contains("class="), "{}", err.one_line());
        assert_eq!(
            GitError::malformed(Oid::zero(), "tree").one_line(),
            format!(
                "git object {} is corrupt or missing: malformed tree",
                Oid::zero()
            )
        );

        let dirty = GitError::DirtyWorktree {
            path: "/r".into(),
            first: "app.cfg".into(),
            more: 2,
        };
        assert_eq!(
            dirty.to_string(),
            "uncommitted changes in /r (app.cfg and 2 more): commit or stash them first; \
             nothing was changed"
        );
        let merge = GitError::OperationInProgress {
            path: "/r".into(),
            op: Operation::Merge,
        };
        assert_eq!(
            merge.to_string(),
            "a merge is in progress in /r: finish or abort it first; nothing was changed"
        );
    }

    #[test]
    fn another_users_repository_gets_gits_safe_directory_advice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().join("my repo");
        git2::Repository::init(&work).expect("init");
        std::fs::create_dir(work.join("sub")).expect("mkdir");
        let owner = git2::Error::new(
            ErrorCode::Owner,
            ErrorClass::Config,
            "repository path is not owned by current user",
        );
        let err = GitError::opening(&work.join("sub"), owner);
        let GitError::DubiousOwnership { safe_directory, .. } = &err else {
            panic!("expected DubiousOwnership, got {err:?}");
        };
        assert_eq!(
            safe_directory,
            &work.canonicalize().expect("canonical"),
            "the work tree, as git names it"
        );
        let text = err.to_string();
        assert!(text.contains("dubious ownership"), "{text}");
        assert!(
            text.contains(&format!(
                "`git config --global --add safe.directory '{}'`",
                safe_directory.display()
            )),
            "a path with a space is quoted: {text}"
        );
        assert!(!text.contains("not a git repository"), "{text}");
        assert_eq!(err.kind(), ErrorKind::Refused);

        // Anything else that stops an open is reported as it is.
        let other = GitError::opening(&work, libgit2(ErrorCode::GenericError, "broken"));
        assert_eq!(
            other.one_line(),
            format!("cannot open {}: broken", work.display())
        );
    }

    #[test]
    fn safe_directory_is_the_worktree_or_the_bare_git_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().canonicalize().expect("canonical");
        let bare = base.join("b.git");
        git2::Repository::init_bare(&bare).expect("init");
        assert_eq!(safe_directory_for(&bare), bare);

        let t = TestRepo::new();
        let main = t.root.clone();
        t.commit_all("first");
        let linked = t.base().join("linked");
        t.repo.worktree("linked", &linked, None).expect("worktree");
        assert_eq!(safe_directory_for(&linked), linked);
        assert_eq!(safe_directory_for(&main), main);
    }
}
