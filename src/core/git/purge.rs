//! The safety net and the aftercare around a history rewrite: refusing to start on a dirty
//! or mid-operation worktree, the backup bundle, the record of what changed
//! (`.git/keywarden/`), bringing every worktree to its new HEAD without touching untracked
//! files, expiring reflogs and collecting garbage (libgit2 has no gc, so git does it), and
//! the final check that no object left in the object database holds a secret.

use super::command::GitCommand;
use super::oid::OidSet;
use super::rewrite::Rewrite;
use super::tips::{worktrees, StashEntry, Tips, Worktree};
use super::{read_blobs_parallel, BlobRead, GitError, Operation};
use crate::core::scrub::Scrubber;
use git2::{ObjectType, Oid, Repository, RepositoryState, Signature, StatusOptions, Time};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Refuses when any worktree has uncommitted changes to tracked files or an operation in
/// progress: the rewrite would lose that work or leave the operation pointing at history
/// that no longer exists. Untracked files are fine (they are never touched).
pub fn preflight(repo: &Repository) -> Result<(), GitError> {
    for wt in worktrees(repo) {
        let r = super::open_at(&wt.git_dir)?;
        let operation = match r.state() {
            RepositoryState::Clean => None,
            RepositoryState::Merge => Some(Operation::Merge),
            RepositoryState::Revert | RepositoryState::RevertSequence => Some(Operation::Revert),
            RepositoryState::CherryPick | RepositoryState::CherryPickSequence => {
                Some(Operation::CherryPick)
            }
            RepositoryState::Bisect => Some(Operation::Bisect),
            RepositoryState::Rebase
            | RepositoryState::RebaseInteractive
            | RepositoryState::RebaseMerge => Some(Operation::Rebase),
            RepositoryState::ApplyMailbox | RepositoryState::ApplyMailboxOrRebase => {
                Some(Operation::ApplyMailbox)
            }
        };
        if let Some(op) = operation {
            return Err(GitError::OperationInProgress {
                path: wt.workdir.clone(),
                op,
            });
        }
        let mut opts = StatusOptions::new();
        // Writing back refreshed stat data (as `git status` does) changes no content and
        // spares git from hashing every file again when the worktree is reset afterwards.
        opts.include_untracked(false)
            .include_ignored(false)
            .exclude_submodules(true)
            .update_index(true);
        let statuses = r
            .statuses(Some(&mut opts))
            .map_err(|e| GitError::libgit2("cannot read the status", e))?;
        let dirty: Vec<String> = statuses
            .iter()
            .filter(|s| !s.status().is_empty() && !s.status().is_ignored())
            .map(|s| String::from_utf8_lossy(s.path_bytes()).into_owned())
            .collect();
        if let Some(first) = dirty.first() {
            return Err(GitError::DirtyWorktree {
                path: wt.workdir.clone(),
                first: first.clone(),
                more: dirty.len() - 1,
            });
        }
    }
    Ok(())
}

/// `.git/keywarden/` (in the common git dir, shared by all worktrees), private to the user.
pub fn state_dir(repo: &Repository) -> Result<PathBuf, GitError> {
    let dir = repo.commondir().join("keywarden");
    std::fs::create_dir_all(&dir).map_err(|e| GitError::io("cannot create", &dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(dir)
}

fn private_file(path: &Path) -> Result<std::fs::File, GitError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| GitError::io("cannot create", path, e))
}

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

/// What `write_records` wrote.
#[derive(Debug)]
pub struct Records {
    pub commit_map: PathBuf,
    pub first_changed: PathBuf,
    pub ref_map: PathBuf,
}

/// Records the old→new commit map (every rewritten commit, unchanged ones too, as
/// `git filter-repo` does), the first changed commits and the moved refs.
pub fn write_records(
    repo: &Repository,
    rewrite: &Rewrite,
    stamp: &str,
) -> Result<Records, GitError> {
    let dir = state_dir(repo)?;
    let write = |name: &str, text: String| -> Result<PathBuf, GitError> {
        let path = dir.join(format!("{name}-{stamp}.txt"));
        let mut file = private_file(&path)?;
        file.write_all(text.as_bytes())
            .map_err(|e| GitError::io("cannot write", &path, e))?;
        Ok(path)
    };
    let mut map = String::from("old new\n");
    for old in &rewrite.commit_order {
        let new = rewrite.commit_map.get(old).unwrap_or(old);
        map.push_str(&format!("{old} {new}\n"));
    }
    let first: String = rewrite
        .first_changed
        .iter()
        .map(|oid| format!("{oid}\n"))
        .collect();
    let refs: String = rewrite
        .ref_updates
        .iter()
        .map(|u| format!("{} {} {}\n", u.old, u.new, u.name))
        .collect();
    Ok(Records {
        commit_map: write("commit-map", map)?,
        first_changed: write("first-changed", first)?,
        ref_map: write("ref-map", refs)?,
    })
}

/// Brings a worktree to its (new) HEAD: the index is reset to HEAD's tree and only tracked
/// files whose content changed are rewritten. Untracked files, including files the purge
/// dropped from history (such as a `.env`), stay on disk as they are. Returns how many
/// files were rewritten.
///
/// With `renamed`, tracked files whose path holds a secret were renamed by the rewrite: the
/// file under its new name is checked out and the old one removed (it was tracked and
/// unmodified, since a purge refuses a dirty worktree) — unless the purge dropped it.
pub fn update_worktree(
    wt: &Worktree,
    renamed: Option<Renamed<'_>>,
) -> Result<WorktreeUpdate, GitError> {
    let tracked_paths = |dir: &Path| -> Result<Vec<Vec<u8>>, GitError> {
        let index = super::open_at(dir)?
            .index()
            .map_err(|e| GitError::libgit2("cannot read the index", e))?;
        Ok(index.iter().map(|entry| entry.path).collect())
    };
    let old_names: Vec<Vec<u8>> = match renamed {
        Some(Renamed { scrubber, dropped }) => tracked_paths(&wt.workdir)?
            .into_iter()
            .filter(|path| {
                scrubber
                    .replace(path)
                    .is_some_and(|new| !dropped.contains(String::from_utf8_lossy(&new).as_ref()))
            })
            .collect(),
        None => Vec::new(),
    };
    GitCommand::in_dir(&wt.workdir)
        .args(["reset", "--quiet"])
        .run("git reset")?;
    let changed = GitCommand::in_dir(&wt.workdir)
        .args([
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--ignore-submodules",
            // Modified, and missing: renamed files under their new names.
            "--diff-filter=MD",
        ])
        .run("git diff")?;
    let count = changed.split(|b| *b == 0).filter(|p| !p.is_empty()).count();
    if count > 0 {
        GitCommand::in_dir(&wt.workdir)
            .args(["checkout-index", "--force", "-z", "--stdin"])
            .input(changed)
            .run(&format!("git checkout-index in {}", wt.workdir.display()))?;
    }
    let mut removed = 0;
    if !old_names.is_empty() {
        let still_tracked: std::collections::HashSet<Vec<u8>> =
            tracked_paths(&wt.workdir)?.into_iter().collect();
        for old in old_names.iter().filter(|p| !still_tracked.contains(*p)) {
            let Some(path) = std::str::from_utf8(old).ok().map(|p| wt.workdir.join(p)) else {
                continue;
            };
            if std::fs::symlink_metadata(&path).is_ok() {
                std::fs::remove_file(&path)
                    .map_err(|e| GitError::io("cannot remove the old file", &wt.workdir, e))?;
                removed += 1;
                // Directories left empty go too, as git would remove them.
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| *d != wt.workdir && d.starts_with(&wt.workdir)) {
                    if std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
            }
        }
    }
    Ok(WorktreeUpdate {
        updated: count,
        old_names_removed: removed,
    })
}

/// How the rewrite renamed files: by replacing the secrets in their paths, except for the
/// files it dropped (by their new path), which stay on disk.
#[derive(Clone, Copy)]
pub struct Renamed<'a> {
    pub scrubber: &'a Scrubber,
    pub dropped: &'a std::collections::BTreeSet<String>,
}

/// What updating a worktree changed on disk.
pub struct WorktreeUpdate {
    /// Files written with their new content (or under their new name).
    pub updated: usize,
    /// Files removed because their old name held a secret.
    pub old_names_removed: usize,
}

/// Drops every reflog entry (they still point at the old commits), then puts back the
/// stash's reflog — which is the list of stashes — with the rewritten entries.
pub fn expire_reflogs(repo: &Repository, stash: &[StashEntry]) -> Result<(), GitError> {
    GitCommand::in_dir(repo.commondir())
        .args([
            "reflog",
            "expire",
            "--expire=now",
            "--expire-unreachable=now",
            "--all",
        ])
        .run("git reflog expire")?;
    if stash.is_empty() {
        return Ok(());
    }
    let mut reflog = repo
        .reflog("refs/stash")
        .map_err(|e| GitError::libgit2("cannot read the stash reflog", e))?;
    while !reflog.is_empty() {
        reflog
            .remove(0, false)
            .map_err(|e| GitError::libgit2("cannot rewrite the stash reflog", e))?;
    }
    for entry in stash {
        let committer = Signature::new(
            &entry.name,
            &entry.email,
            &Time::new(entry.time, entry.offset_minutes),
        )
        .map_err(|e| GitError::libgit2("cannot rewrite the stash reflog", e))?;
        reflog
            .append(entry.oid, &committer, Some(&entry.message))
            .map_err(|e| GitError::libgit2("cannot rewrite the stash reflog", e))?;
    }
    reflog
        .write()
        .map_err(|e| GitError::libgit2("cannot write the stash reflog", e))
}

/// `git gc --prune=now`: repacks what is reachable and deletes everything else.
///
/// git's gc does not count the per-worktree refs of linked worktrees (`refs/worktree/*`…)
/// as reachable and would delete what only they point at, so those targets are held by
/// temporary refs while it runs.
pub fn gc(repo: &Repository, tips: &Tips, rewrite: &Rewrite) -> Result<(), GitError> {
    let mut held = Vec::new();
    let mut result = Ok(Vec::new());
    'hold: for (i, head) in tips.heads.iter().enumerate() {
        for (name, old) in head.own_refs.iter() {
            let now = rewrite
                .worktree_updates
                .iter()
                .find(|u| u.git_dir == head.git_dir && u.name == *name)
                .map_or(*old, |u| u.new);
            let hold = format!("refs/keywarden-gc-hold/{i}/{}", held.len());
            if let Err(e) = repo.reference(&hold, now, true, "keywarden purge: held during gc") {
                result = Err(GitError::libgit2(
                    format!("cannot protect {name} during gc"),
                    e,
                ));
                break 'hold;
            }
            held.push(hold);
        }
    }
    if result.is_ok() {
        result = GitCommand::in_dir(repo.commondir())
            .args(["gc", "--prune=now", "--quiet"])
            .run("git gc --prune=now");
    }
    for hold in held {
        if let Ok(mut r) = repo.find_reference(&hold) {
            let _ = r.delete();
        }
    }
    result.map(|_| ())
}

/// Replaces secrets in the files git keeps a last commit message in (`COMMIT_EDITMSG` and
/// friends), which are not objects but would still show the secret.
pub fn scrub_message_files(repo: &Repository, scrubber: &Scrubber) -> Vec<PathBuf> {
    let mut dirs = vec![repo.commondir().to_path_buf()];
    dirs.extend(worktrees(repo).into_iter().map(|w| w.git_dir));
    dirs.sort();
    dirs.dedup();
    let mut scrubbed = Vec::new();
    for dir in dirs {
        for name in ["COMMIT_EDITMSG", "MERGE_MSG", "SQUASH_MSG", "TAG_EDITMSG"] {
            let path = dir.join(name);
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            if let Some(new) = scrubber.replace(&data) {
                if std::fs::write(&path, new).is_ok() {
                    scrubbed.push(path);
                }
            }
        }
    }
    scrubbed
}

/// An object that still holds a secret after the purge.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub oid: Oid,
    pub kind: ObjectType,
    pub offset: usize,
    pub redacted: String,
    /// Where it is reachable from, when that could be found.
    pub location: Option<String>,
}

/// Lists every object in the object database and searches each one not already known to be
/// clean (`checked_clean`: objects whose exact content, by id, was searched during the
/// rewrite). Returns how many objects exist and which still hold a secret.
pub fn verify_odb(
    repo: &Repository,
    scrubber: &Scrubber,
    checked_clean: &OidSet,
) -> Result<(usize, usize, Vec<Leftover>), GitError> {
    // A fresh handle: the old one may still list packs that gc has just deleted.
    let fresh = super::open_at(repo.path())?;
    let repo = &fresh;
    let odb = repo
        .odb()
        .map_err(|e| GitError::libgit2("cannot open the object database", e))?;
    let all = super::sources::all_object_ids(&odb)?;
    let total = all.len();
    let to_read: Vec<Oid> = all
        .into_iter()
        .filter(|oid| !checked_clean.contains(oid))
        .collect();
    let found: Mutex<Vec<Leftover>> = Mutex::new(Vec::new());
    let failures: Mutex<Vec<GitError>> = Mutex::new(Vec::new());
    read_blobs_parallel(
        repo.path(),
        &to_read,
        |o| *o,
        u64::MAX,
        |oid, read| match read {
            BlobRead::Data(data) => {
                if let Some((offset, redacted)) = scrubber.first_match(data) {
                    found.lock().expect("found lock").push(Leftover {
                        oid: *oid,
                        kind: ObjectType::Any,
                        offset,
                        redacted,
                        location: None,
                    });
                }
            }
            BlobRead::TooLarge(_) => {}
            BlobRead::Failed(err) => failures.lock().expect("failures lock").push(err),
        },
    )?;
    super::first_failure(failures)?;
    let mut found = found.into_inner().expect("found lock");
    for leftover in &mut found {
        if let Ok((_, kind)) = odb.read_header(leftover.oid) {
            leftover.kind = kind;
        }
    }
    if !found.is_empty() {
        locate(repo, &mut found);
    }
    found.sort_by_key(|l| l.oid);
    Ok((total, to_read.len(), found))
}

/// Says where leftovers are reachable from: the commit and path that hold a blob, the refs
/// that reach that commit.
fn locate(repo: &Repository, leftovers: &mut [Leftover]) {
    let wanted: std::collections::HashSet<Oid> = leftovers.iter().map(|l| l.oid).collect();
    let mut blobs: Vec<super::BlobRef> = Vec::new();
    let Ok(inventory) = super::history_inventory(repo, false, &mut |batch| {
        blobs.extend(batch.into_iter().filter(|b| wanted.contains(&b.oid)));
    }) else {
        return;
    };
    let mut refs: Vec<(String, Oid)> = Vec::new();
    if let Ok(references) = repo.references() {
        for r in references.flatten() {
            if let (Some(name), Ok(commit)) = (r.name(), r.peel_to_commit()) {
                refs.push((name.to_string(), commit.id()));
            }
        }
    }
    let reaching = |commit: Oid| -> Vec<String> {
        refs.iter()
            .filter(|(_, tip)| {
                *tip == commit || repo.graph_descendant_of(*tip, commit).unwrap_or(false)
            })
            .map(|(name, _)| name.clone())
            .collect()
    };
    for leftover in leftovers.iter_mut() {
        let (commit, path) = if let Some(blob) = blobs.iter().find(|b| b.oid == leftover.oid) {
            (blob.commit, blob.path.clone())
        } else if inventory.messages.iter().any(|m| m.object == leftover.oid) {
            (Some(leftover.oid), None)
        } else {
            (None, None)
        };
        leftover.location = match commit {
            Some(commit) => {
                let refs = reaching(commit);
                let mut text = match &path {
                    Some(path) => format!("{path} in commit {commit}"),
                    None => format!("commit {commit}"),
                };
                if !refs.is_empty() {
                    text.push_str(&format!(", reachable from {}", refs.join(", ")));
                }
                Some(text)
            }
            None if path.is_some() => path,
            None => Some("not reachable from any ref (kept by a reflog or a .keep pack?)".into()),
        };
    }
}

/// The refs a remote needs force-pushed: rewritten branches, tags and notes.
pub fn refs_to_push(rewrite: &Rewrite) -> Vec<String> {
    rewrite
        .ref_updates
        .iter()
        .map(|u| u.name.clone())
        .filter(|n| {
            n.starts_with("refs/heads/")
                || n.starts_with("refs/tags/")
                || n.starts_with("refs/notes/")
        })
        .collect()
}

/// `git push --force REMOTE ref:ref…` for the rewritten refs. git's messages go to our
/// stderr, where its own progress and credential prompts belong.
pub fn force_push(repo: &Repository, remote: &str, refs: &[String]) -> Result<(), GitError> {
    if refs.is_empty() {
        return Ok(());
    }
    let output = GitCommand::in_dir(repo.commondir())
        .args(["push", "--force", "--porcelain", remote])
        .args(refs.iter().map(|name| format!("{name}:{name}")))
        .show_stderr()
        .output("git push")?;
    if !output.status.success() {
        return Err(GitError::PushFailed {
            remote: remote.to_string(),
        });
    }
    Ok(())
}
