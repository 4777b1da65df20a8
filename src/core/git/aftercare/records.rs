//! The record of what a rewrite changed, kept in `.git/keywarden/`: the old→new commit
//! map, the first changed commits (what a hosting provider needs to purge its caches) and
//! the refs that moved.

use super::{private_file, state_dir};
use crate::core::git::error::GitError;
use crate::core::git::rewrite::Rewrite;
use git2::Repository;
use std::io::Write;
use std::path::PathBuf;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::rewrite::RefUpdate;
    use crate::core::git::test_repo::TestRepo;
    use git2::Oid;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    #[test]
    fn records_list_every_commit_the_first_changed_and_the_moved_refs() {
        let t = TestRepo::new();
        let mut rewrite = Rewrite {
            commit_order: vec![oid(1), oid(2), oid(3)],
            first_changed: vec![oid(2)],
            ..Rewrite::default()
        };
        rewrite.commit_map.insert(oid(2), oid(12));
        rewrite.commit_map.insert(oid(3), oid(13));
        rewrite.ref_updates.push(RefUpdate {
            name: "refs/heads/main".into(),
            old: oid(3),
            new: oid(13),
        });
        let records = write_records(&t.repo, &rewrite, "20260102T030405Z").expect("written");
        let dir = t.root.join(".git/keywarden");
        assert_eq!(
            records.commit_map,
            dir.join("commit-map-20260102T030405Z.txt")
        );
        assert_eq!(
            records.first_changed,
            dir.join("first-changed-20260102T030405Z.txt")
        );
        assert_eq!(records.ref_map, dir.join("ref-map-20260102T030405Z.txt"));
        let read = |p: &PathBuf| std::fs::read_to_string(p).expect("read");
        // Unchanged commits map to themselves, as `git filter-repo` writes them.
        assert_eq!(
            read(&records.commit_map),
            format!(
                "old new\n{} {}\n{} {}\n{} {}\n",
                oid(1),
                oid(1),
                oid(2),
                oid(12),
                oid(3),
                oid(13)
            )
        );
        assert_eq!(read(&records.first_changed), format!("{}\n", oid(2)));
        assert_eq!(
            read(&records.ref_map),
            format!("{} {} refs/heads/main\n", oid(3), oid(13))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &std::path::Path| {
                std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
            };
            assert_eq!(mode(&records.commit_map), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
        // A stamp already used is never overwritten.
        std::fs::write(&records.ref_map, "kept\n").expect("write");
        let again = write_records(&t.repo, &rewrite, "20260102T030405Z");
        assert!(matches!(again, Err(GitError::Io { .. })), "{again:?}");
        assert_eq!(read(&records.ref_map), "kept\n");
    }
}
