//! The one atomic file write, and the one exclusive create of a private file.
//!
//! `write_atomic` puts new content in place so that a reader — or a crash — sees either the
//! old file or the new one, never a mix: a temporary file is created exclusively
//! (`create_new`, an unpredictable name) in the target's own directory with the final
//! permissions, written, synced, renamed over the target, and the directory is synced so the
//! rename itself survives a power cut. A symbolic link is followed: the file it points to is
//! replaced and the link stays a link (a `.env` symlinked from a shared folder keeps working).

use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use thiserror::Error;

/// Permissions for files that hold secrets (`.env`, the keyring file, state with keys).
pub const SECRET_MODE: u32 = 0o600;

/// How many symbolic links are followed before giving up (Linux's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// How many temporary names are tried before giving up on a directory.
const MAX_TEMP_ATTEMPTS: u32 = 64;

#[derive(Debug, Error)]
pub enum FsError {
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: more than {MAX_SYMLINK_HOPS} symbolic links (a loop?)")]
    SymlinkLoop { path: PathBuf },
}

/// The permissions the written file ends up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the permissions of the file being replaced; a file that does not exist yet gets
    /// these (use [`SECRET_MODE`] for secrets).
    KeepOr(u32),
    /// Always these permissions, whatever the file had (an executable hook, a rollback putting
    /// a file back as it was, the keyring file that must stay private).
    Exact(u32),
}

/// Replaces the file at `path` (or the file a symbolic link at `path` points to) with `data`,
/// atomically. See the module header for the steps.
pub fn write_atomic(path: &Path, data: &[u8], mode: Mode) -> Result<(), FsError> {
    let target = resolve_symlinks(path)?;
    let write_err = |source| FsError::Write {
        path: target.clone(),
        source,
    };
    let permissions = match mode {
        Mode::Exact(bits) => bits,
        Mode::KeepOr(bits) => match std::fs::metadata(&target) {
            Ok(meta) => permission_bits(&meta).unwrap_or(bits),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => bits,
            Err(source) => {
                return Err(FsError::Read {
                    path: target.clone(),
                    source,
                })
            }
        },
    } & 0o7777;
    let dir = parent_dir(&target);
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let (temp, mut file) = create_temp(&dir, &file_name, permissions).map_err(write_err)?;
    let written = set_permissions(&file, permissions)
        .and_then(|()| file.write_all(data))
        .and_then(|()| file.sync_all());
    drop(file);
    let renamed = written.and_then(|()| std::fs::rename(temp.path(), &target));
    if let Err(err) = renamed {
        // `temp` removes the temporary file as it drops.
        return Err(write_err(err));
    }
    temp.disarm();
    sync_dir(&dir).map_err(write_err)
}

/// The bytes of `path`, or `None` when there is no such file (a journal or state file that
/// was never written, or is already removed).
pub fn read_if_present(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Removes the file `path`; one already gone is no error (a re-run removes it again).
pub fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Creates `path` exclusively (it must not exist, and a symbolic link there is not followed)
/// with permissions [`SECRET_MODE`], for state files and backups that may hold keys.
pub fn create_private(path: &Path) -> Result<File, FsError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(SECRET_MODE);
    }
    options.open(path).map_err(|source| FsError::Create {
        path: path.to_path_buf(),
        source,
    })
}

/// The file a chain of symbolic links at `path` ends at (or `path` itself when it is not a
/// link). A link to a file that does not exist yet resolves to that file's path. Only the
/// last component is followed: directories on the way may be links, the rename works in
/// whichever directory they lead to.
pub fn resolve_symlinks(path: &Path) -> Result<PathBuf, FsError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current).map_err(|source| FsError::Read {
                    path: current.clone(),
                    source,
                })?;
                current = if link.is_absolute() {
                    link
                } else {
                    parent_dir(&current).join(link)
                };
            }
            Ok(_) => return Ok(current),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(source) => {
                return Err(FsError::Read {
                    path: current,
                    source,
                })
            }
        }
    }
    Err(FsError::SymlinkLoop {
        path: path.to_path_buf(),
    })
}

/// A temporary file that is removed when dropped, unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A new, exclusively created file `.NAME.<random>.keywarden-tmp` in `dir`.
fn create_temp(dir: &Path, file_name: &str, permissions: u32) -> std::io::Result<(TempFile, File)> {
    let mut last_err = None;
    for _ in 0..MAX_TEMP_ATTEMPTS {
        let path = dir.join(temp_name(file_name));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Never more open than the final file (the umask may narrow it further;
            // `set_permissions` then puts exactly the final bits).
            options.mode(permissions & 0o777);
        }
        #[cfg(not(unix))]
        let _ = permissions;
        match options.open(&path) {
            Ok(file) => return Ok((TempFile { path, armed: true }, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
}

/// A temporary name nobody can guess: hashed with the process's random `RandomState` keys
/// (seeded from the OS), a counter and the clock.
fn temp_name(file_name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    format!(".{file_name}.{:016x}.keywarden-tmp", hasher.finish())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(unix)]
fn permission_bits(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode())
}

#[cfg(not(unix))]
fn permission_bits(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_permissions(file: &File, permissions: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(permissions))
}

#[cfg(not(unix))]
fn set_permissions(_file: &File, _permissions: u32) -> std::io::Result<()> {
    Ok(())
}

/// Makes the rename durable. Filesystems that cannot sync a directory say so with
/// `EINVAL`; the rename has happened there all the same.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("read dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".keywarden-tmp"))
            .collect()
    }

    #[test]
    fn replacing_a_file_keeps_its_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".env");
        std::fs::write(&path, "A=1\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomic(&path, b"A=2\n", Mode::KeepOr(SECRET_MODE)).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"A=2\n");
        assert_eq!(mode_of(&path), 0o640);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_new_file_gets_the_mode_asked_for_whatever_the_umask() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("new.env");
        write_atomic(&secret, b"A=1\n", Mode::KeepOr(SECRET_MODE)).expect("write");
        assert_eq!(mode_of(&secret), 0o600);
        let hook = dir.path().join("hook");
        write_atomic(&hook, b"#!/bin/sh\n", Mode::Exact(0o755)).expect("write");
        assert_eq!(mode_of(&hook), 0o755);
    }

    #[test]
    fn exact_mode_replaces_the_old_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keyring.json");
        std::fs::write(&path, "{}").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_atomic(&path, b"{ }", Mode::Exact(0o600)).expect("write");
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn a_symlinked_target_is_written_at_its_target_and_stays_a_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        let real = shared.join("real.env");
        std::fs::write(&real, "A=1\n").expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let link = dir.path().join(".env");
        std::os::unix::fs::symlink("shared/real.env", &link).expect("symlink");
        let second = dir.path().join(".env.link2");
        std::os::unix::fs::symlink(".env", &second).expect("symlink");

        write_atomic(&second, b"A=2\n", Mode::KeepOr(0o644)).expect("write");
        assert!(std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink());
        assert!(std::fs::symlink_metadata(&second)
            .expect("lstat")
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).expect("read"), b"A=2\n");
        assert_eq!(mode_of(&real), 0o600);
        assert!(leftovers(&shared).is_empty());
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_symlink_loop_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).expect("symlink");
        std::os::unix::fs::symlink(&a, &b).expect("symlink");
        assert!(matches!(
            write_atomic(&a, b"x", Mode::KeepOr(0o600)),
            Err(FsError::SymlinkLoop { .. })
        ));
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file_and_the_old_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The rename fails: the target is a non-empty directory.
        let target = dir.path().join("target");
        std::fs::create_dir(&target).expect("mkdir");
        std::fs::write(target.join("inside"), "x").expect("write");
        let err = write_atomic(&target, b"new", Mode::KeepOr(0o600)).expect_err("must fail");
        match &err {
            FsError::Write { path, source } => {
                assert_eq!(path, &target);
                assert!(std::error::Error::source(&err).is_some(), "{source}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(leftovers(dir.path()).is_empty());
        assert_eq!(std::fs::read(target.join("inside")).expect("read"), b"x");
    }

    #[test]
    fn an_unwritable_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("no/such/dir/.env");
        let err = write_atomic(&missing, b"x", Mode::KeepOr(0o600)).expect_err("must fail");
        assert!(err.to_string().contains(".env"), "{err}");
        assert!(matches!(err, FsError::Write { .. }));
    }

    #[test]
    fn temporary_names_are_unique_and_unpredictable() {
        let names: std::collections::HashSet<String> =
            (0..1000).map(|_| temp_name(".env")).collect();
        assert_eq!(names.len(), 1000);
        assert!(names.iter().all(|n| n.starts_with("..env.")));
        // Not the process id: that is what a predictable name would be built from.
        let pid = std::process::id().to_string();
        assert!(names.iter().all(|n| !n.contains(&format!(".{pid}."))));
    }

    #[test]
    fn an_existing_temporary_name_is_never_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, _file) = create_temp(dir.path(), "x", 0o600).expect("temp");
        let (second, _file2) = create_temp(dir.path(), "x", 0o600).expect("temp");
        assert_ne!(first.path(), second.path());
        let kept = first.path().to_path_buf();
        drop(first);
        assert!(!kept.exists(), "a temporary file is removed when dropped");
    }

    #[test]
    fn private_files_are_exclusive_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        drop(create_private(&path).expect("create"));
        assert_eq!(mode_of(&path), 0o600);
        assert!(matches!(create_private(&path), Err(FsError::Create { .. })));
    }
}

/// A journal or record as keywarden writes it: pretty JSON ending in a newline.
pub fn json_document<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(value).expect("keywarden's records serialize");
    text.push(b'\n');
    text
}
