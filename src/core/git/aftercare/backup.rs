//! The backup written before anything changes: a bundle of every ref, every stash entry
//! and every detached or per-worktree tip, in `.git/keywarden/backup-<stamp>.bundle`.

use super::{private_file, state_dir};
use crate::core::git::command::GitCommand;
use crate::core::git::tips::Tips;
use crate::core::git::GitError;
use git2::{Oid, Repository};
use std::io::Write;
use std::path::PathBuf;

/// The refs a backup must hold beyond the ordinary ones: older stash entries and detached
/// worktree HEADs, which are not refs and would otherwise be lost.
fn extra_backup_refs(tips: &Tips) -> Vec<(String, Oid)> {
    let mut extra = Vec::new();
    let n = tips.stash.len();
    for (i, entry) in tips.stash.iter().enumerate() {
        // stash@{0} is refs/stash itself.
        let age = n - 1 - i;
        if age > 0 {
            extra.push((format!("refs/keywarden-backup/stash/{age}"), entry.oid));
        }
    }
    for (i, head) in tips.heads.iter().enumerate() {
        for (name, oid) in head.tips() {
            let name = match name.strip_prefix("refs/") {
                Some(own) => format!("refs/keywarden-backup/worktree/{i}/{own}"),
                None => format!("refs/keywarden-backup/head/{i}"),
            };
            extra.push((name, oid));
        }
    }
    extra
}

/// Writes a bundle of every ref (and every stash entry and detached HEAD, under
/// `refs/keywarden-backup/`) to `.git/keywarden/backup-<stamp>.bundle`.
///
/// When all objects sit in a single pack (a freshly cloned or gc'd repository) the bundle is
/// that pack behind a bundle header, which is valid because the pack holds every reachable
/// object, and takes a file copy instead of a full `git pack-objects`. Otherwise
/// `git bundle create --all` writes it.
pub fn backup_bundle(repo: &Repository, tips: &Tips, stamp: &str) -> Result<PathBuf, GitError> {
    let dir = state_dir(repo)?;
    let path = dir.join(format!("backup-{stamp}.bundle"));
    let mut refs: Vec<(String, Oid)> = Vec::new();
    let references = repo
        .references()
        .map_err(|e| GitError::libgit2("cannot list refs", e))?;
    for reference in references.flatten() {
        if let (Some(name), Some(oid)) = (reference.name(), reference.target()) {
            refs.push((name.to_string(), oid));
        }
    }
    refs.sort();
    let extra = extra_backup_refs(tips);
    if let Some(pack) = single_pack(repo) {
        let mut file = private_file(&path)?;
        let mut header = String::from("# v2 git bundle\n");
        for (name, oid) in refs.iter().chain(extra.iter()) {
            header.push_str(&format!("{oid} {name}\n"));
        }
        if let Ok(head) = repo.head() {
            if let Some(oid) = head.target() {
                header.push_str(&format!("{oid} HEAD\n"));
            }
        }
        header.push('\n');
        let result = file.write_all(header.as_bytes()).and_then(|_| {
            let mut src = std::fs::File::open(&pack)?;
            std::io::copy(&mut src, &mut file)?;
            file.sync_all()
        });
        if let Err(e) = result {
            let _ = std::fs::remove_file(&path);
            return Err(GitError::io("cannot write the backup", &path, e));
        }
        return Ok(path);
    }
    // Temporary refs so `--all` includes the extra tips; removed whatever happens.
    let mut created = Vec::new();
    for (name, oid) in &extra {
        if repo
            .reference(name, *oid, true, "keywarden purge backup")
            .is_ok()
        {
            created.push(name.clone());
        }
    }
    // Create the file first, private, so the bundle is never readable by others.
    drop(private_file(&path)?);
    let result = GitCommand::in_dir(repo.commondir())
        .args(["bundle", "create", "--quiet"])
        .arg(&path)
        .arg("--all")
        .run("git bundle create");
    for name in created {
        if let Ok(mut r) = repo.find_reference(&name) {
            let _ = r.delete();
        }
    }
    if let Err(e) = result {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    // git wrote a new file in place of ours (through a lock file), with default permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| GitError::io("cannot restrict", &path, e))?;
    }
    Ok(path)
}

/// The repository's only pack, when it holds every object (no loose objects, no
/// alternates, no other packs).
fn single_pack(repo: &Repository) -> Option<PathBuf> {
    let objects = repo.commondir().join("objects");
    if objects.join("info/alternates").exists() {
        return None;
    }
    let mut packs = Vec::new();
    for entry in std::fs::read_dir(objects.join("pack")).ok()?.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with("tmp_") {
            // A pack still being written (ours, by this purge), not part of the repository.
            continue;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("pack") => packs.push(path),
            // A promisor pack means objects live elsewhere.
            Some("promisor") => return None,
            _ => {}
        }
    }
    if packs.len() != 1 || !packs[0].with_extension("idx").exists() {
        return None;
    }
    for entry in std::fs::read_dir(&objects).ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let fanout = name.len() == 2 && name.chars().all(|c| c.is_ascii_hexdigit());
        if fanout && std::fs::read_dir(entry.path()).ok()?.next().is_some() {
            return None;
        }
    }
    packs.pop()
}
