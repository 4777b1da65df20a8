//! Making the old objects go: every reflog expired (the stash's put back, rewritten), then
//! `git gc --prune=now`, with per-worktree refs held so gc keeps what only they reach.

use crate::core::git::command::GitCommand;
use crate::core::git::error::GitError;
use crate::core::git::rewrite::Rewrite;
use crate::core::git::tips::{StashEntry, Tips};
use git2::{Repository, Signature, Time};

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
        expire_reflogs(&t.repo, &before).expect("expired");
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
        gc(&t.repo, &tips, &Rewrite::default()).expect("gc");
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
