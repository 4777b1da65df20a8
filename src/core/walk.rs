//! The working-tree walk: which files a `scan PATH…` looks at. Honours `.gitignore` (also
//! outside a repository) unless told not to, always skips `.git`, never follows symlinks,
//! and includes hidden files — `.env` is exactly what we are looking for. Files are handed
//! to the caller on the walker's own threads, so reading and scanning run during the walk.

use ignore::overrides::OverrideBuilder;
use ignore::WalkBuilder;
use std::io::Read;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WalkError {
    #[error("{path}: no such file or directory")]
    Missing { path: PathBuf },
    #[error("invalid file name pattern `{pattern}`: {message}")]
    Pattern { pattern: String, message: String },
}

/// Every file under `root` whose name matches one of `names` (gitignore-style globs such as
/// `.env.*`), also where `.gitignore` ignores it — env files usually are — but never inside
/// a directory that is ignored (`node_modules`, `target`) or `.git`. Sorted.
pub fn files_named(root: &Path, names: &[String]) -> Result<Vec<PathBuf>, WalkError> {
    if std::fs::symlink_metadata(root).is_err() {
        return Err(WalkError::Missing {
            path: root.to_path_buf(),
        });
    }
    let mut overrides = OverrideBuilder::new(root);
    for name in names {
        overrides.add(name).map_err(|e| WalkError::Pattern {
            pattern: name.clone(),
            message: e.to_string(),
        })?;
    }
    let overrides = overrides.build().map_err(|e| WalkError::Pattern {
        pattern: names.join(", "),
        message: e.to_string(),
    })?;
    // A whitelist override includes matching files whatever `.gitignore` says, and leaves
    // directories to `.gitignore`.
    let mut files: Vec<PathBuf> = WalkBuilder::new(root)
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        .overrides(overrides)
        .filter_entry(|entry| entry.file_name() != ".git")
        .build()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .map(ignore::DirEntry::into_path)
        .collect();
    files.sort();
    Ok(files)
}

/// What the walk reports for each entry it does not skip.
pub enum WalkEvent<'a> {
    File(&'a Path),
    /// A directory or file that could not be listed, and why.
    Unreadable(PathBuf, String),
}

/// Calls `visit` for every regular file under `roots`, in parallel and in no particular
/// order.
pub fn for_each_file(
    roots: &[PathBuf],
    respect_ignore: bool,
    visit: &(dyn Fn(WalkEvent<'_>) + Sync),
) -> Result<(), WalkError> {
    for root in roots {
        if std::fs::symlink_metadata(root).is_err() {
            return Err(WalkError::Missing { path: root.clone() });
        }
    }
    let Some((first, rest)) = roots.split_first() else {
        return Ok(());
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
    builder.build_parallel().run(|| {
        Box::new(move |entry| {
            match entry {
                Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                    visit(WalkEvent::File(entry.path()))
                }
                Ok(_) => {}
                Err(err) => {
                    let path = error_path(&err).unwrap_or_default();
                    visit(WalkEvent::Unreadable(path, err.to_string()));
                }
            }
            ignore::WalkState::Continue
        })
    });
    Ok(())
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

/// A file's content, or its size when that is over `limit` (read without a separate
/// `stat`: one open and one read for the small files that are nearly all of a tree).
pub enum FileContent {
    Data(Vec<u8>),
    TooLarge(u64),
}

const INITIAL_READ: usize = 64 * 1024;

pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<FileContent> {
    let mut file = std::fs::File::open(path)?;
    // Sized so that a typical source file arrives in one read (an empty Vec starts with
    // tiny probe reads: about seven system calls per file instead of two).
    let mut data = Vec::with_capacity(INITIAL_READ.min(limit.saturating_add(1) as usize));
    (&mut file)
        .take(limit.saturating_add(1))
        .read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        let size = file
            .metadata()
            .map(|m| m.len())
            .unwrap_or(data.len() as u64);
        return Ok(FileContent::TooLarge(size));
    }
    Ok(FileContent::Data(data))
}

/// `path` relative to `root` with `/` separators, or `path` as given when outside it.
pub fn display_path(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let rel = rel.strip_prefix(".").unwrap_or(rel);
    rel.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_found_where_gitignore_ignores_them_but_not_in_ignored_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let write = |rel: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "A=1\n").expect("write");
        };
        std::fs::write(root.join(".gitignore"), ".env*\nnode_modules/\n").expect("write");
        for rel in [
            ".env",
            "api/.env.local",
            "deploy/prod.env",
            "node_modules/pkg/.env",
            ".git/.env",
            "src/environment.ts",
        ] {
            write(rel);
        }
        let names = [".env", ".env.*", "*.env"].map(String::from);
        let found: Vec<String> = files_named(root, &names)
            .expect("walk")
            .iter()
            .map(|p| display_path(p, root))
            .collect();
        assert_eq!(found, [".env", "api/.env.local", "deploy/prod.env"]);
        assert!(matches!(
            files_named(&root.join("gone"), &names),
            Err(WalkError::Missing { .. })
        ));
    }
}
