//! The working-tree walk: which files a `scan PATH…` looks at. Honours `.gitignore` (also
//! outside a repository) unless told not to, always skips `.git`, never follows symlinks,
//! and includes hidden files — `.env` is exactly what we are looking for.

use ignore::WalkBuilder;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WalkError {
    #[error("{path}: no such file or directory")]
    Missing { path: PathBuf },
}

#[derive(Debug, Clone)]
pub struct WalkedFile {
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Debug, Default)]
pub struct WalkResult {
    pub files: Vec<WalkedFile>,
    /// Paths that could not be listed, with the reason (reported as warnings).
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Lists the regular files under `roots`, in a stable order.
pub fn walk(roots: &[PathBuf], respect_ignore: bool) -> Result<WalkResult, WalkError> {
    for root in roots {
        if std::fs::symlink_metadata(root).is_err() {
            return Err(WalkError::Missing { path: root.clone() });
        }
    }
    let Some((first, rest)) = roots.split_first() else {
        return Ok(WalkResult::default());
    };
    let mut builder = WalkBuilder::new(first);
    for root in rest {
        builder.add(root);
    }
    builder
        .hidden(false)
        .follow_links(false)
        .git_ignore(respect_ignore)
        .git_exclude(respect_ignore)
        .git_global(respect_ignore)
        .ignore(respect_ignore)
        .parents(respect_ignore)
        .require_git(false)
        .filter_entry(|entry| entry.file_name() != ".git");
    let result = Mutex::new(WalkResult::default());
    builder.build_parallel().run(|| {
        let result = &result;
        Box::new(move |entry| {
            match entry {
                Ok(entry) => {
                    let is_file = entry.file_type().is_some_and(|t| t.is_file());
                    if is_file {
                        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                        let file = WalkedFile {
                            path: entry.into_path(),
                            size,
                        };
                        result
                            .lock()
                            .expect("walk lock is never poisoned")
                            .files
                            .push(file);
                    }
                }
                Err(err) => {
                    let path = error_path(&err).unwrap_or_default();
                    result
                        .lock()
                        .expect("walk lock is never poisoned")
                        .unreadable
                        .push((path, err.to_string()));
                }
            }
            ignore::WalkState::Continue
        })
    });
    let mut result = result.into_inner().expect("walk lock is never poisoned");
    result.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(result)
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// `path` relative to `root` with `/` separators, or `path` as given when outside it.
pub fn display_path(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let rel = rel.strip_prefix(".").unwrap_or(rel);
    rel.to_string_lossy().replace('\\', "/")
}
