//! Making the old objects go: every reflog expired (the stash's put back, rewritten), then
//! `git gc --prune=now`, with per-worktree refs held so gc keeps what only they reach.

use crate::core::git::command::GitCommand;
use crate::core::git::error::GitError;
use crate::core::git::tips::{StashEntry, Tips};
use git2::{Repository, Signature, Time};

/// Drops every reflog entry (they still point at the old commits) except the stash's,
/// which is the list of stashes: the caller makes that list the rewritten one first (with
/// [`restore_stash`]), so at no moment is a stash entry missing from it.
pub fn expire_reflogs(repo: &Repository) -> Result<(), GitError> {
    GitCommand::in_dir(repo.commondir())
        .args([
            "-c",
            "gc.reflogExpire=now",
            "-c",
            "gc.reflogExpireUnreachable=now",
            "-c",
            "gc.refs/stash.reflogExpire=never",
            "-c",
            "gc.refs/stash.reflogExpireUnreachable=never",
            "reflog",
            "expire",
            "--all",
        ])
        .run("git reflog expire")?;
    Ok(())
}

/// Makes the stash's reflog exactly `stash` (oldest first), whatever it holds now: written
/// whole through a lock file, so an interrupted run leaves the old list or the new one, and
/// running it again gives the same list (never an entry lost, never one doubled).
pub fn restore_stash(repo: &Repository, stash: &[StashEntry]) -> Result<(), GitError> {
    if stash.is_empty() {
        return Ok(());
    }
    let failed = |e| GitError::libgit2("cannot rewrite the stash reflog (refs/stash)", e);
    let newest = stash.last().expect("not empty");
    if repo.refname_to_id("refs/stash").ok() != Some(newest.oid) {
        // Moving the ref appends to its log, which is rewritten whole just below.
        repo.reference("refs/stash", newest.oid, true, &newest.message)
            .map_err(failed)?;
    }
    let mut reflog = repo.reflog("refs/stash").map_err(failed)?;
    while !reflog.is_empty() {
        reflog.remove(0, false).map_err(failed)?;
    }
    for entry in stash {
        let committer = Signature::new(
            &entry.name,
            &entry.email,
            &Time::new(entry.time, entry.offset_minutes),
        )
        .map_err(failed)?;
        reflog
            .append(entry.oid, &committer, Some(&entry.message))
            .map_err(failed)?;
    }
    reflog.write().map_err(failed)
}

/// `git gc --prune=now`: repacks what is reachable and deletes everything else.
///
/// git's gc does not count the per-worktree refs of linked worktrees (`refs/worktree/*`…)
/// as reachable and would delete what only they point at, so those targets are held by
/// temporary refs while it runs.
pub fn gc(repo: &Repository) -> Result<(), GitError> {
    let tips = Tips::read(repo, true)?;
    let mut held = Vec::new();
    let mut result = Ok(Vec::new());
    'hold: for (i, head) in tips.heads.iter().enumerate() {
        for (name, now) in head.own_refs.iter() {
            let hold = format!("refs/keywarden-gc-hold/{i}/{}", held.len());
            if let Err(e) = repo.reference(&hold, *now, true, "keywarden purge: held during gc") {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;

    #[test]
    fn reflogs_expire_but_the_stash_keeps_its_entries_in_order() {
        let mut t = TestRepo::new();
        t.write("a.txt", "a\n");
        t.commit_all("a");
        let sig =
            Signature::new("T", "t@example.com", &Time::new(1_700_000_000, 60)).expect("signature");
        for n in 1..=2 {
            t.write("a.txt", format!("change {n}\n"));
            t.repo
                .stash_save(&sig, &format!("WIP {n}"), None)
                .expect("stash");
        }
        let before = Tips::read(&t.repo, false).expect("tips").stash;
        assert_eq!(before.len(), 2);
        restore_stash(&t.repo, &before).expect("restored");
        // Again, as a resumed run does: the same list, not a doubled one.
        restore_stash(&t.repo, &before).expect("restored again");
        expire_reflogs(&t.repo).expect("expired");
        assert!(
            t.repo.reflog("HEAD").expect("reflog").is_empty(),
            "HEAD's reflog is gone"
        );
        let after = Tips::read(&t.repo, false).expect("tips").stash;
        let shown = |s: &[StashEntry]| -> Vec<(git2::Oid, String, i64, i32)> {
            s.iter()
                .map(|e| (e.oid, e.message.clone(), e.time, e.offset_minutes))
                .collect()
        };
        assert_eq!(shown(&after), shown(&before));
    }

    #[test]
    fn gc_keeps_what_only_a_linked_worktrees_own_ref_reaches() {
        let t = TestRepo::new();
        t.write("a.txt", "a\n");
        let base = t.commit_all("a");
        let linked_dir = t.base().join("linked");
        t.repo
            .worktree("linked", &linked_dir, None)
            .expect("worktree");
        let linked = Repository::open(&linked_dir).expect("open");
        let only_here = t.commit_files(
            None,
            &[("b.txt", "kept by refs/worktree/x\n")],
            &[base],
            "b",
        );
        linked
            .reference("refs/worktree/x", only_here, true, "test")
            .expect("ref");
        let tips = Tips::read(&t.repo, false).expect("tips");
        drop(tips);
        gc(&t.repo).expect("gc");
        let fresh = Repository::open(&t.root).expect("reopen");
        assert!(
            fresh.find_commit(only_here).is_ok(),
            "kept through the hold"
        );
        assert!(
            fresh
                .references_glob("refs/keywarden-gc-hold/*")
                .expect("glob")
                .next()
                .is_none(),
            "no hold is left behind"
        );
    }
}
