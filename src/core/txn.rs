//! All-or-nothing file changes: every file an install touches is written through the one
//! atomic write (`core::fs`), and its previous state is remembered, so that a failure
//! half-way (an unwritable directory, a full disk) puts every file back as it was.

use crate::core::fs::{self, FsError, Mode};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TxnError {
    #[error(transparent)]
    Write(#[from] FsError),
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} exists and is not a directory")]
    NotADirectory { path: PathBuf },
}

impl TxnError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        TxnError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A file as it was before the transaction touched it.
struct Before {
    path: PathBuf,
    previous: Option<(Vec<u8>, u32)>,
}

#[derive(Default)]
pub struct Txn {
    undo: Vec<Before>,
    created_dirs: Vec<PathBuf>,
}

impl Txn {
    pub fn new() -> Self {
        Txn::default()
    }

    fn remember(&mut self, path: &Path) -> Result<(), TxnError> {
        if self.undo.iter().any(|b| b.path == path) {
            return Ok(());
        }
        let previous = match std::fs::read(path) {
            Ok(bytes) => {
                let mode = std::fs::metadata(path)
                    .map_err(|e| TxnError::io("read", path, e))?
                    .permissions()
                    .mode();
                Some((bytes, mode))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(TxnError::io("read", path, e)),
        };
        self.undo.push(Before {
            path: path.to_path_buf(),
            previous,
        });
        Ok(())
    }

    /// Creates `dir` and its missing parents, remembering which ones to remove on rollback.
    pub fn create_dir_all(&mut self, dir: &Path) -> Result<(), TxnError> {
        let mut missing = Vec::new();
        let mut cursor = Some(dir);
        while let Some(d) = cursor {
            if d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            cursor = d.parent();
        }
        if dir.exists() && !dir.is_dir() {
            return Err(TxnError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| TxnError::io("create", dir, e))?;
        missing.reverse();
        self.created_dirs.extend(missing);
        Ok(())
    }

    /// Replaces `path` with `content`, with exactly the permissions `mode`, through the
    /// atomic write, so that git never runs a half-written hook.
    pub fn write(&mut self, path: &Path, content: &[u8], mode: u32) -> Result<(), TxnError> {
        self.remember(path)?;
        Ok(fs::write_atomic(path, content, Mode::Exact(mode))?)
    }

    /// Makes `to` (which must not exist) a second name of `from`: a hard link, or a copy
    /// with the same mode where links are not possible. `from` stays where it is, so
    /// whoever looks for it meanwhile still finds it.
    pub fn keep_copy(&mut self, from: &Path, to: &Path) -> Result<(), TxnError> {
        self.remember(to)?;
        link_or_copy(from, to)
    }

    /// Replaces `to` with a copy of `from` (its content and mode) through the atomic
    /// write: `to` is never missing, and `from` stays in place until the caller removes it.
    pub fn replace_with_copy(&mut self, from: &Path, to: &Path) -> Result<(), TxnError> {
        self.remember(to)?;
        let content = std::fs::read(from).map_err(|e| TxnError::io("read", from, e))?;
        let mode = std::fs::metadata(from)
            .map_err(|e| TxnError::io("read", from, e))?
            .permissions()
            .mode();
        Ok(fs::write_atomic(to, &content, Mode::Exact(mode & 0o7777))?)
    }

    pub fn remove(&mut self, path: &Path) -> Result<(), TxnError> {
        self.remember(path)?;
        std::fs::remove_file(path).map_err(|e| TxnError::io("remove", path, e))
    }

    /// Puts every touched file back, newest change first. Best effort: a rollback that
    /// fails cannot be rolled back either, so it reports nothing.
    pub fn rollback(self) {
        for before in self.undo.into_iter().rev() {
            match before.previous {
                Some((bytes, mode)) => {
                    let _ = fs::write_atomic(&before.path, &bytes, Mode::Exact(mode));
                }
                None => {
                    let _ = std::fs::remove_file(&before.path);
                }
            }
        }
        for dir in self.created_dirs.into_iter().rev() {
            let _ = std::fs::remove_dir(&dir);
        }
    }

    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.undo.is_empty() && self.created_dirs.is_empty()
    }
}

/// A hard link `to` → `from`, or a copy (with `from`'s mode) where the filesystem has none.
fn link_or_copy(from: &Path, to: &Path) -> Result<(), TxnError> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| TxnError::io("copy", to, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_files_and_removes_new_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("old");
        std::fs::write(&old, "before").expect("write");
        let mut txn = Txn::new();
        txn.create_dir_all(&dir.path().join("a/b")).expect("mkdir");
        txn.write(&old, b"after", 0o755).expect("write");
        txn.write(&dir.path().join("a/b/new"), b"x", 0o644)
            .expect("write");
        txn.rollback();
        assert_eq!(std::fs::read_to_string(&old).expect("read"), "before");
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn writes_are_atomic_with_the_exact_mode_and_rollback_restores_the_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hook = dir.path().join("pre-commit");
        std::fs::write(&hook, "old").expect("write");
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let mut txn = Txn::new();
        txn.write(&hook, b"new", 0o755).expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&hook), 0o755);
        txn.rollback();
        assert_eq!(std::fs::read(&hook).expect("read"), b"old");
        assert_eq!(mode(&hook), 0o700);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("pre-commit")]);
    }

    #[test]
    fn a_failed_write_is_a_typed_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut txn = Txn::new();
        let err = txn
            .write(&dir.path().join("missing/hook"), b"x", 0o755)
            .expect_err("no such directory");
        assert!(matches!(err, TxnError::Write(FsError::Write { .. })));
        assert!(err.to_string().contains("missing/hook"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn copies_keep_the_original_in_place_and_roll_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (hook, kept) = (dir.path().join("hook"), dir.path().join("hook.kept"));
        std::fs::write(&hook, "mine").expect("write");
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut txn = Txn::new();
        txn.keep_copy(&hook, &kept).expect("copy");
        txn.write(&hook, b"shim", 0o755).expect("write");
        assert_eq!(std::fs::read_to_string(&kept).expect("read"), "mine");
        txn.replace_with_copy(&kept, &hook).expect("copy back");
        assert_eq!(std::fs::read_to_string(&hook).expect("read"), "mine");
        assert!(kept.exists(), "the source stays until removed");
        let mode = std::fs::metadata(&hook).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        txn.rollback();
        assert_eq!(std::fs::read_to_string(&hook).expect("read"), "mine");
        assert!(!kept.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            1,
            "no temp file left"
        );
    }
}
