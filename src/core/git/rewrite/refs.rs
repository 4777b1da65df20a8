//! Moving the refs after a rewrite. The shared refs move in one transaction done the way
//! git's files backend does it — every lock taken first (a `NAME.lock` holding the new
//! value), every old value checked under the locks, then each lock renamed over its ref —
//! so that a failure before the first rename changes nothing and leaves no `.lock` behind.
//! No file system can rename several files at once, so a process killed between two renames
//! leaves some refs moved: the caller journals the moves first, and running the same moves
//! again finishes them (a ref already at its new value is done, a stale lock holding exactly
//! our new value is ours and removed). Each worktree's detached HEAD and own refs follow.
//!
//! No reflog entry is written: the purge expires every reflog right after (they point at
//! the old history), and its journal and backup hold the old values.

use super::WorktreeRefUpdate;
use crate::core::fault;
use crate::core::git::error::GitError;
use crate::core::git::repo::open_at;
use crate::core::scrub::Scrubber;
use git2::{ErrorCode, Oid, Repository};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The fault point between taking every lock and the first rename.
pub const LOCK_FAULT: &str = "refs:locked";

/// One shared ref to change: from `old` to `new`; `None` is "absent" (a ref created under a
/// new name, or deleted from its old one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefMove {
    pub name: String,
    /// The name as it may be shown (redacted when it holds a secret).
    pub shown: String,
    pub old: Option<Oid>,
    pub new: Option<Oid>,
}

/// What `move_refs` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RefsMoved {
    /// Refs changed by this call.
    pub moved: usize,
    /// Refs that already had their new value (an earlier, interrupted run moved them).
    pub already: usize,
}

/// Moves every ref of `moves`, all or nothing unless killed (see the module header).
pub fn move_refs(repo: &Repository, moves: &[RefMove]) -> Result<RefsMoved, GitError> {
    let dir = repo.commondir();
    for m in moves {
        if !git2::Reference::is_valid_name(&m.name) {
            return Err(GitError::RefChanged {
                name: m.shown.clone(),
            });
        }
        remove_stale_lock(dir, m);
    }
    let mut report = RefsMoved::default();
    let mut todo = Vec::new();
    for m in moves {
        let current = current(repo, m)?;
        if current == m.new {
            report.already += 1;
        } else if current == m.old {
            todo.push(m);
        } else if report.already > 0 {
            return Err(GitError::RefChanged {
                name: m.shown.clone(),
            });
        } else {
            return Err(GitError::RefMoved {
                name: m.shown.clone(),
            });
        }
    }
    let mut locks = Locks {
        paths: Vec::with_capacity(todo.len()),
        released: 0,
    };
    for m in &todo {
        locks.take(dir, m)?;
    }
    // Someone may have moved a ref between the first look and its lock.
    for m in &todo {
        if current(repo, m)? != m.old {
            return Err(GitError::RefMoved {
                name: m.shown.clone(),
            });
        }
    }
    fault::point(LOCK_FAULT);
    let mut deleted_packed = Vec::new();
    for (i, m) in todo.iter().enumerate() {
        let lock = lock_path(dir, &m.name);
        let path = dir.join(&m.name);
        match m.new {
            Some(_) => std::fs::rename(&lock, &path)
                .map_err(|e| GitError::io("cannot move the ref", &path, e))?,
            None => {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(GitError::io("cannot delete the ref", &path, e)),
                }
                let _ = std::fs::remove_file(&lock);
                // Its reflog goes with it (the file is named after the ref).
                let _ = std::fs::remove_file(dir.join("logs").join(&m.name));
                deleted_packed.push(*m);
            }
        }
        locks.released += 1;
        report.moved += 1;
        if i == 0 {
            fault::point("refs:moving");
        }
    }
    // A deleted ref may live on in packed-refs, which libgit2 rewrites under its own lock.
    for m in deleted_packed {
        if current(repo, m)?.is_some() {
            let mut reference = repo
                .find_reference(&m.name)
                .map_err(|e| GitError::libgit2(format!("cannot delete {}", m.shown), e))?;
            reference
                .delete()
                .map_err(|e| GitError::libgit2(format!("cannot delete {}", m.shown), e))?;
        }
    }
    fault::point("refs:committed");
    Ok(report)
}

/// Where `name` points now (`None`: no such ref).
fn current(repo: &Repository, m: &RefMove) -> Result<Option<Oid>, GitError> {
    ref_target(repo, &m.name, &m.shown)
}

/// Where the ref `name` points now; `None` when there is no such ref. An error names it as
/// `shown` (a name that holds a secret is never put in a message).
pub fn ref_target(repo: &Repository, name: &str, shown: &str) -> Result<Option<Oid>, GitError> {
    match repo.refname_to_id(name) {
        Ok(oid) => Ok(Some(oid)),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(GitError::libgit2(format!("cannot read {shown}"), e)),
    }
}

fn lock_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.lock"))
}

/// What the lock of `m` holds: its new value, as git's own lock files do (and all zeros for
/// a deletion), which is also how a later run recognises a lock as its own.
fn lock_content(m: &RefMove) -> String {
    format!("{}\n", m.new.unwrap_or_else(Oid::zero))
}

/// A lock left by a killed run of the same moves holds exactly our new value; git never
/// writes that (it does not know the rewritten ids), so it is ours to remove.
fn remove_stale_lock(dir: &Path, m: &RefMove) {
    let lock = lock_path(dir, &m.name);
    if std::fs::read_to_string(&lock).is_ok_and(|text| text == lock_content(m)) {
        let _ = std::fs::remove_file(&lock);
    }
}

/// Removes the ref locks an interrupted [`move_refs`] left whose content is one of `values`
/// (the new values it was moving refs to, or the deletion mark): an undo, which moves refs
/// elsewhere, still has to clear them. Returns how many were removed.
pub fn remove_stale_locks(repo: &Repository, values: &HashSet<Oid>) -> usize {
    let wanted: HashSet<String> = values
        .iter()
        .chain(std::iter::once(&Oid::zero()))
        .map(|oid| format!("{oid}\n"))
        .collect();
    let mut removed = 0;
    let mut stack = vec![repo.commondir().join("refs")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "lock")
                && std::fs::read_to_string(&path).is_ok_and(|text| wanted.contains(&text))
                && std::fs::remove_file(&path).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// The locks taken so far; dropping it removes those not yet renamed over their refs.
struct Locks {
    paths: Vec<PathBuf>,
    /// How many (from the first) were renamed over their refs or removed on purpose.
    released: usize,
}

impl Locks {
    fn take(&mut self, dir: &Path, m: &RefMove) -> Result<(), GitError> {
        let lock = lock_path(dir, &m.name);
        if let Some(parent) = lock.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| GitError::io("cannot create", parent, e))?;
        }
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(GitError::RefLocked {
                    name: m.shown.clone(),
                })
            }
            Err(e) => return Err(GitError::io("cannot lock", &lock, e)),
        };
        self.paths.push(lock.clone());
        file.write_all(lock_content(m).as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| GitError::io("cannot write", &lock, e))
    }
}

impl Drop for Locks {
    fn drop(&mut self) {
        for lock in &self.paths[self.released..] {
            let _ = std::fs::remove_file(lock);
        }
    }
}

/// Moves each worktree's detached HEAD and own refs; each only if it still holds its old
/// value, and one already at its new value is done (so a second run finishes a first).
pub fn move_worktree_refs(updates: &[WorktreeRefUpdate]) -> Result<usize, GitError> {
    let mut moved = 0;
    for update in updates {
        let wt = open_at(&update.git_dir)?;
        let what = format!("{} of {}", update.name, update.git_dir.display());
        let current = wt
            .refname_to_id(&update.name)
            .map_err(|e| GitError::libgit2(format!("cannot read {what}"), e))?;
        if current == update.new {
            continue;
        }
        if current != update.old {
            return Err(GitError::RefChanged { name: what });
        }
        let result = if update.name == "HEAD" {
            wt.set_head_detached(update.new)
        } else {
            wt.reference_matching(
                &update.name,
                update.new,
                true,
                update.old,
                "keywarden purge",
            )
            .map(|_| ())
        };
        result.map_err(|e| GitError::libgit2(format!("cannot move {what}"), e))?;
        moved += 1;
    }
    Ok(moved)
}

/// The new name of a ref whose name holds a secret: each secret replaced by the
/// replacement with what a ref name cannot hold left out (`***REMOVED***` becomes
/// `REMOVED`), made unique against `taken`. `None` when the name holds no secret.
pub fn ref_safe_name(scrubber: &Scrubber, name: &str, taken: &HashSet<String>) -> Option<String> {
    let safe: String = String::from_utf8_lossy(scrubber.replacement())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-".contains(*c))
        .collect();
    let safe = if safe.is_empty() {
        "REMOVED".to_string()
    } else {
        safe
    };
    let renamed = scrubber.replace_with(name.as_bytes(), |_| safe.clone().into_bytes())?;
    let mut renamed = String::from_utf8_lossy(&renamed).into_owned();
    if !git2::Reference::is_valid_name(&renamed) {
        // What was around the secret made an invalid name (`a/.b`…): keep the namespace.
        let namespace = name.rsplit_once('/').map_or("refs/heads", |(ns, _)| ns);
        renamed = format!("{namespace}/{safe}");
        if !git2::Reference::is_valid_name(&renamed) {
            renamed = format!("refs/heads/{safe}");
        }
    }
    if !taken.contains(&renamed) {
        return Some(renamed);
    }
    (2..)
        .map(|n| format!("{renamed}-{n}"))
        .find(|candidate| !taken.contains(candidate))
}

/// Points every worktree HEAD that names a renamed branch at its new name. `renamed` maps
/// an old name to its new one. Returns how many HEADs were changed.
pub fn repoint_heads(
    repo: &Repository,
    renamed: impl Fn(&str) -> Option<String>,
) -> Result<usize, GitError> {
    let mut dirs = vec![repo.path().to_path_buf()];
    dirs.extend(
        crate::core::git::tips::worktrees(repo)
            .into_iter()
            .map(|w| w.git_dir),
    );
    dirs.sort();
    dirs.dedup();
    let mut changed = 0;
    for dir in dirs {
        let head = dir.join("HEAD");
        let Ok(text) = std::fs::read_to_string(&head) else {
            continue;
        };
        let Some(target) = text.strip_prefix("ref: ").map(str::trim_end) else {
            continue;
        };
        if let Some(new) = renamed(target) {
            let wt = open_at(&dir)?;
            wt.set_head(&new)
                .or_else(|_| {
                    // libgit2 refuses a HEAD to a ref that does not exist yet; write it as git does.
                    std::fs::write(&head, format!("ref: {new}\n"))
                        .map_err(|e| git2::Error::from_str(&e.to_string()))
                })
                .map_err(|e| {
                    GitError::libgit2(
                        format!("cannot point HEAD of {} at {new}", dir.display()),
                        e,
                    )
                })?;
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;

    fn branch(t: &TestRepo) -> String {
        t.repo
            .head()
            .expect("head")
            .name()
            .expect("a branch")
            .to_string()
    }

    fn moves(t: &TestRepo, new: Oid) -> Vec<RefMove> {
        let main = branch(t);
        let old = t.repo.refname_to_id(&main).expect("main");
        [main.as_str(), "refs/tags/v1"]
            .iter()
            .map(|name| RefMove {
                name: name.to_string(),
                shown: name.to_string(),
                old: Some(old),
                new: Some(new),
            })
            .collect()
    }

    fn setup() -> (TestRepo, Oid, Oid) {
        let t = TestRepo::new();
        t.write("a.txt", "a\n");
        let old = t.commit_all("a");
        t.repo
            .reference("refs/tags/v1", old, false, "t")
            .expect("tag");
        let new = t.commit_files(None, &[("a.txt", "b\n")], &[old], "b");
        (t, old, new)
    }

    fn locks_left(t: &TestRepo) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![t.root.join(".git/refs")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("list").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "lock") {
                    found.push(path);
                }
            }
        }
        found
    }

    #[test]
    fn every_ref_moves_and_a_second_run_finds_them_done() {
        let (t, _, new) = setup();
        let planned = moves(&t, new);
        let done = move_refs(&t.repo, &planned).expect("moved");
        assert_eq!((done.moved, done.already), (2, 0));
        for m in &planned {
            assert_eq!(t.repo.refname_to_id(&m.name).expect("ref"), new);
        }
        let again = move_refs(&t.repo, &planned).expect("again");
        assert_eq!((again.moved, again.already), (0, 2));
        assert!(locks_left(&t).is_empty());
    }

    #[test]
    fn a_lock_held_by_another_process_changes_nothing_and_leaves_no_lock_of_ours() {
        let (t, old, new) = setup();
        let foreign = t.root.join(".git/refs/tags/v1.lock");
        std::fs::write(&foreign, "someone else\n").expect("lock");
        let err = move_refs(&t.repo, &moves(&t, new)).expect_err("locked");
        assert!(matches!(err, GitError::RefLocked { .. }), "{err:?}");
        assert_eq!(t.repo.refname_to_id(&branch(&t)).expect("main"), old);
        assert_eq!(
            locks_left(&t),
            std::slice::from_ref(&foreign),
            "only the other process's lock"
        );
        assert_eq!(
            std::fs::read_to_string(&foreign).expect("kept"),
            "someone else\n"
        );
    }

    #[test]
    fn a_ref_moved_meanwhile_refuses_all_and_an_interrupted_run_is_finished() {
        let (t, old, new) = setup();
        let other = t.commit_files(None, &[("a.txt", "c\n")], &[old], "c");
        t.repo
            .reference("refs/tags/v1", other, true, "moved")
            .expect("move");
        let err = move_refs(&t.repo, &moves(&t, new)).expect_err("moved");
        assert!(matches!(err, GitError::RefMoved { .. }), "{err:?}");
        assert_eq!(t.repo.refname_to_id(&branch(&t)).expect("main"), old);
        assert!(locks_left(&t).is_empty());

        // As if killed after the first rename: main moved, v1's lock still there.
        t.repo
            .reference("refs/tags/v1", old, true, "back")
            .expect("back");
        let planned = moves(&t, new);
        t.repo
            .reference(&branch(&t), new, true, "half")
            .expect("half");
        std::fs::write(
            t.root.join(".git/refs/tags/v1.lock"),
            lock_content(&planned[1]),
        )
        .expect("stale lock");
        let done = move_refs(&t.repo, &planned).expect("finished");
        assert_eq!((done.moved, done.already), (1, 1));
        assert_eq!(t.repo.refname_to_id("refs/tags/v1").expect("v1"), new);
        assert!(locks_left(&t).is_empty());
    }

    #[test]
    fn a_renamed_ref_is_created_under_its_new_name_and_deleted_from_packed_refs() {
        let (t, old, new) = setup();
        let secret = "hunter2hunter2";
        let name = format!("refs/heads/fix-{secret}");
        t.repo.reference(&name, old, false, "t").expect("branch");
        crate::core::git::command::GitCommand::in_dir(&t.root)
            .args(["pack-refs", "--all"])
            .run("git pack-refs")
            .expect("packed");
        let scrubber = Scrubber::from_lines(secret, "***REMOVED***").expect("scrubber");
        let renamed = ref_safe_name(&scrubber, &name, &HashSet::new()).expect("renamed");
        assert_eq!(renamed, "refs/heads/fix-REMOVED");
        let taken: HashSet<String> = [renamed.clone()].into();
        assert_eq!(
            ref_safe_name(&scrubber, &name, &taken).as_deref(),
            Some("refs/heads/fix-REMOVED-2")
        );
        assert_eq!(ref_safe_name(&scrubber, "refs/heads/main", &taken), None);
        let planned = vec![
            RefMove {
                name: renamed.clone(),
                shown: renamed.clone(),
                old: None,
                new: Some(new),
            },
            RefMove {
                name: name.clone(),
                shown: scrubber.redact(&name),
                old: Some(old),
                new: None,
            },
        ];
        move_refs(&t.repo, &planned).expect("moved");
        assert_eq!(t.repo.refname_to_id(&renamed).expect("new name"), new);
        assert!(t.repo.refname_to_id(&name).is_err(), "the old name is gone");
        let packed = std::fs::read_to_string(t.root.join(".git/packed-refs")).expect("packed");
        assert!(!packed.contains(secret), "{packed}");
    }
}
