//! The final check: every object left in the object database is searched for the secrets
//! (except those the rewrite already searched, by id), and any that still holds one is
//! located — the commit, path and refs it is reachable from.

use crate::core::git::error::{first_failure, GitError};
use crate::core::git::oid::OidSet;
use crate::core::git::repo::open_at;
use crate::core::git::sources::all_object_ids;
use crate::core::git::sources::{history_inventory, read_blobs_parallel, BlobRead, BlobRef};
use crate::core::scrub::Scrubber;
use git2::{ObjectType, Oid, Repository};
use std::sync::Mutex;

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

/// What the final check found.
#[derive(Debug)]
pub struct OdbCheck {
    /// Every object in the object database.
    pub objects: usize,
    /// How many of them were read again (the rest were searched during the rewrite).
    pub read_again: usize,
    /// The objects that still hold a secret, by id.
    pub leftovers: Vec<Leftover>,
}

/// Lists every object in the object database and searches each one not already known to be
/// clean (`checked_clean`: objects whose exact content, by id, was searched during the
/// rewrite).
pub fn verify_odb(
    repo: &Repository,
    scrubber: &Scrubber,
    checked_clean: &OidSet,
) -> Result<OdbCheck, GitError> {
    // A fresh handle: the old one may still list packs that gc has just deleted.
    let fresh = open_at(repo.path())?;
    let repo = &fresh;
    let odb = repo
        .odb()
        .map_err(|e| GitError::libgit2("cannot open the object database", e))?;
    let all = all_object_ids(&odb)?;
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
    first_failure(failures)?;
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
    Ok(OdbCheck {
        objects: total,
        read_again: to_read.len(),
        leftovers: found,
    })
}

/// Says where leftovers are reachable from: the commit and path that hold a blob, the refs
/// that reach that commit.
fn locate(repo: &Repository, leftovers: &mut [Leftover]) {
    let wanted: std::collections::HashSet<Oid> = leftovers.iter().map(|l| l.oid).collect();
    let mut blobs: Vec<BlobRef> = Vec::new();
    let Ok(inventory) = history_inventory(repo, false, &mut |batch| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;

    const SECRET: &str = "hunter2hunter2";

    #[test]
    fn a_leftover_is_found_and_located_and_checked_objects_are_not_read_again() {
        let t = TestRepo::new();
        t.write("clean.txt", "nothing\n");
        t.write("app.cfg", format!("token={SECRET}\n"));
        let commit = t.commit_all("add");
        let scrubber = Scrubber::from_lines(SECRET, "***REMOVED***").expect("scrubber");
        let check = verify_odb(&t.repo, &scrubber, &OidSet::default()).expect("checked");
        assert_eq!(check.objects, 4, "two blobs, a tree, a commit");
        assert_eq!(check.read_again, 4);
        assert_eq!(check.leftovers.len(), 1);
        let leftover = &check.leftovers[0];
        assert_eq!(leftover.kind, ObjectType::Blob);
        assert_eq!(leftover.offset, "token=".len());
        assert!(!leftover.redacted.contains(SECRET), "{}", leftover.redacted);
        let location = leftover.location.as_deref().expect("located");
        assert!(
            location.starts_with(&format!(
                "app.cfg in commit {commit}, reachable from refs/heads/"
            )),
            "{location}"
        );
        // Objects the rewrite already searched are counted but not read again.
        let mut clean: OidSet = all_object_ids(&t.repo.odb().expect("odb"))
            .expect("ids")
            .into_iter()
            .collect();
        clean.remove(&leftover.oid);
        let check = verify_odb(&t.repo, &scrubber, &clean).expect("checked");
        assert_eq!((check.objects, check.read_again), (4, 1));
        clean.insert(leftover.oid);
        let check = verify_odb(&t.repo, &scrubber, &clean).expect("checked");
        assert_eq!(check.read_again, 0);
        assert!(check.leftovers.is_empty());
    }
}
