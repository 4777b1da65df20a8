//! The writers' lock: an `flock`ed file beside the data it guards. Whoever changes the
//! registry (or the keyring file) holds it from reading to writing, so two keywarden
//! processes never both read the old state and each write back their own half. The lock
//! goes with the process: a killed writer never leaves it held.

use std::fs::File;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("cannot lock {path}")]
pub struct LockError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// An exclusive lock, held until dropped.
#[derive(Debug)]
pub struct LockFile {
    file: File,
    path: PathBuf,
}

impl LockFile {
    /// Waits for and takes the exclusive lock on `path` (created with mode 0600 when
    /// missing, with its directory).
    pub fn acquire(path: &Path) -> Result<Self, LockError> {
        let file = Self::open(path)?;
        // Called through the trait: std's own `File::lock` is newer than our minimum Rust.
        fs4::FileExt::lock(&file).map_err(|source| LockError {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(LockFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Takes the exclusive lock on `path` if nobody holds it; `None` when another process
    /// does (for work that must not wait, such as a second purge of one repository).
    pub fn try_acquire(path: &Path) -> Result<Option<Self>, LockError> {
        let file = Self::open(path)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(Some(LockFile {
                file,
                path: path.to_path_buf(),
            })),
            Err(fs4::TryLockError::WouldBlock) => Ok(None),
            Err(fs4::TryLockError::Error(source)) => Err(LockError {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn open(path: &Path) -> Result<File, LockError> {
        let fail = |source| LockError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(path).map_err(fail)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Closing the file releases the lock as well; unlocking first just makes it prompt.
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/x.lock");
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let (path, inside, most) = (&path, Arc::clone(&inside), Arc::clone(&most));
                scope.spawn(move || {
                    let _lock = LockFile::acquire(path).expect("lock");
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }
}
