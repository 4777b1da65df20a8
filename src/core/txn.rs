//! All-or-nothing file changes: every file an install touches is written to a temporary
//! file and renamed into place, and its previous state is remembered, so that a failure
//! half-way (an unwritable directory, a full disk) puts every file back as it was.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("{}", path.display())]
pub struct TxnError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl TxnError {
    fn new(path: &Path, source: std::io::Error) -> Self {
        TxnError {
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
                    .map_err(|e| TxnError::new(path, e))?
                    .permissions()
                    .mode();
                Some((bytes, mode))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(TxnError::new(path, e)),
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
            return Err(TxnError::new(
                dir,
                std::io::Error::other("exists and is not a directory"),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| TxnError::new(dir, e))?;
        missing.reverse();
        self.created_dirs.extend(missing);
        Ok(())
    }

    /// Replaces `path` with `content` (mode `mode`): a temporary file in the same directory,
    /// then a rename, so that git never runs a half-written hook.
    pub fn write(&mut self, path: &Path, content: &[u8], mode: u32) -> Result<(), TxnError> {
        self.remember(path)?;
        write_atomic(path, content, mode)
    }

    /// Makes `to` (which must not exist) a second name of `from`: a hard link, or a copy
    /// with the same mode where links are not possible. `from` stays where it is, so
    /// whoever looks for it meanwhile still finds it.
    pub fn keep_copy(&mut self, from: &Path, to: &Path) -> Result<(), TxnError> {
        self.remember(to)?;
        link_or_copy(from, to)
    }

    /// Replaces `to` with a copy of `from` in one rename (`to` is never missing, and
    /// `from` stays in place until the caller removes it).
    pub fn replace_with_copy(&mut self, from: &Path, to: &Path) -> Result<(), TxnError> {
        self.remember(to)?;
        let tmp = temp_sibling(to);
        let _ = std::fs::remove_file(&tmp);
        let result = link_or_copy(from, &tmp)
            .and_then(|()| std::fs::rename(&tmp, to).map_err(|e| TxnError::new(to, e)));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    pub fn remove(&mut self, path: &Path) -> Result<(), TxnError> {
        self.remember(path)?;
        std::fs::remove_file(path).map_err(|e| TxnError::new(path, e))
    }

    /// Puts every touched file back, newest change first. Best effort: a rollback that
    /// fails cannot be rolled back either, so it reports nothing.
    pub fn rollback(self) {
        for before in self.undo.into_iter().rev() {
            match before.previous {
                Some((bytes, mode)) => {
                    let _ = write_atomic(&before.path, &bytes, mode);
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
        .map_err(|e| TxnError::new(to, e))
}

fn temp_sibling(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.keywarden-{}.tmp", std::process::id()))
}

/// Writes `content` to a temporary sibling of `path` and renames it into place.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<(), TxnError> {
    let tmp = temp_sibling(path);
    let result = (|| {
        std::fs::write(&tmp, content)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode & 0o7777))?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(TxnError::new(path, e));
    }
    Ok(())
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
