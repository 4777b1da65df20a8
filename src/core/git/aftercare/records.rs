//! The record of what a rewrite changed, kept in `.git/keywarden/`: the old→new commit
//! map, the first changed commits (what a hosting provider needs to purge its caches) and
//! the refs that moved.

use super::{private_file, state_dir};
use crate::core::git::error::GitError;
use crate::core::git::rewrite::Rewrite;
use git2::{Oid, Repository};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `write_records` wrote.
#[derive(Debug, Clone)]
pub struct Records {
    pub commit_map: PathBuf,
    pub first_changed: PathBuf,
    pub ref_map: PathBuf,
}

impl Records {
    /// Where the records of the purge stamped `stamp` are (or will be).
    pub fn at(repo: &Repository, stamp: &str) -> Records {
        let dir = repo.commondir().join("keywarden");
        let path = |name: &str| dir.join(format!("{name}-{stamp}.txt"));
        Records {
            commit_map: path("commit-map"),
            first_changed: path("first-changed"),
            ref_map: path("ref-map"),
        }
    }

    fn paths(&self) -> [&PathBuf; 3] {
        [&self.commit_map, &self.first_changed, &self.ref_map]
    }

    /// Removes these records (an interrupted purge writing them again, or one undone).
    pub fn remove(&self) {
        for path in self.paths() {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(temporary(path));
        }
    }
}

/// Records the old→new commit map (every rewritten commit, unchanged ones too, as
/// `git filter-repo` does), the first changed commits and the moved refs. Each file appears
/// whole or not at all (written aside, then linked into place), and one already there is
/// never overwritten. `shown` gives the name of a ref as it may be written: a ref whose
/// name held a secret is listed under its new name, with its old one redacted.
///
/// Formats (one record per line, ids in full hex):
/// - `commit-map-<stamp>.txt`: the header `old new`, then `<old id> <new id>` for every
///   commit of the history (unchanged ones map to themselves), parents before children;
/// - `first-changed-<stamp>.txt`: `<old id>` of each changed commit none of whose parents
///   changed;
/// - `ref-map-<stamp>.txt`: `<old id> <new id> <ref name>`, and for a renamed ref
///   `<old id> <new id> <new name> (renamed from <old name, redacted>)`.
pub fn write_records(
    repo: &Repository,
    rewrite: &Rewrite,
    stamp: &str,
    shown: &dyn Fn(&str) -> String,
) -> Result<Records, GitError> {
    state_dir(repo)?;
    let records = Records::at(repo, stamp);
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
        .map(|u| match &u.renamed {
            None => format!("{} {} {}\n", u.old, u.new, u.name),
            Some(new_name) => format!(
                "{} {} {new_name} (renamed from {})\n",
                u.old,
                u.new,
                shown(&u.name)
            ),
        })
        .collect();
    publish(&records.commit_map, &map)?;
    publish(&records.first_changed, &first)?;
    publish(&records.ref_map, &refs)?;
    Ok(records)
}

/// Every commit a purge of this repository replaced, old id → new id, read from each
/// `commit-map-<stamp>.txt` in `.git/keywarden/` (commits a purge kept as they were are left
/// out). What the pre-push hook refuses to send: a commit of the old history coming back.
pub fn replaced_commits(repo: &Repository) -> Result<HashMap<Oid, Oid>, GitError> {
    let dir = repo.commondir().join("keywarden");
    let mut replaced = HashMap::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(replaced),
        Err(e) => return Err(GitError::io("cannot read", &dir, e)),
    };
    for entry in entries {
        let path = entry
            .map_err(|e| GitError::io("cannot read", &dir, e))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("commit-map-") && name.ends_with(".txt")) {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| GitError::io("cannot read", &path, e))?;
        for line in text.lines().skip(1) {
            let mut ids = line.split(' ').map(Oid::from_str);
            if let (Some(Ok(old)), Some(Ok(new))) = (ids.next(), ids.next()) {
                if old != new {
                    replaced.insert(old, new);
                }
            }
        }
    }
    Ok(replaced)
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Writes `text` beside `path`, then links it into place, which fails if `path` exists.
fn publish(path: &Path, text: &str) -> Result<(), GitError> {
    let tmp = temporary(path);
    let _ = std::fs::remove_file(&tmp);
    let mut file = private_file(&tmp)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| GitError::io("cannot write", &tmp, e))
        .and_then(|_| {
            std::fs::hard_link(&tmp, path).map_err(|e| GitError::io("cannot create", path, e))
        });
    let _ = std::fs::remove_file(&tmp);
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::rewrite::RefUpdate;
    use crate::core::git::test_repo::TestRepo;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    #[test]
    fn replaced_commits_are_read_from_every_commit_map_and_unchanged_ones_left_out() {
        let t = TestRepo::new();
        assert!(replaced_commits(&t.repo)
            .expect("no records yet")
            .is_empty());
        let mut first = Rewrite {
            commit_order: vec![oid(1), oid(2)],
            ..Rewrite::default()
        };
        first.commit_map.insert(oid(2), oid(12));
        write_records(&t.repo, &first, "a", &|n| n.to_string()).expect("records");
        let mut second = Rewrite {
            commit_order: vec![oid(12)],
            ..Rewrite::default()
        };
        second.commit_map.insert(oid(12), oid(22));
        write_records(&t.repo, &second, "b", &|n| n.to_string()).expect("records");
        let replaced = replaced_commits(&t.repo).expect("readable");
        assert_eq!(replaced.len(), 2);
        assert_eq!(replaced.get(&oid(2)), Some(&oid(12)));
        assert_eq!(replaced.get(&oid(12)), Some(&oid(22)));
        assert!(!replaced.contains_key(&oid(1)));
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
            renamed: None,
        });
        rewrite.ref_updates.push(RefUpdate {
            name: "refs/heads/fix-hunter2hunter2".into(),
            old: oid(3),
            new: oid(13),
            renamed: Some("refs/heads/fix-REMOVED".into()),
        });
        let shown = |name: &str| name.replace("hunter2hunter2", "hu…r2");
        let records =
            write_records(&t.repo, &rewrite, "20260102T030405Z", &shown).expect("written");
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
            format!(
                "{} {} refs/heads/main\n{} {} refs/heads/fix-REMOVED (renamed from refs/heads/fix-hu…r2)\n",
                oid(3),
                oid(13),
                oid(3),
                oid(13)
            )
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
        let again = write_records(&t.repo, &rewrite, "20260102T030405Z", &shown);
        assert!(matches!(again, Err(GitError::Io { .. })), "{again:?}");
        assert_eq!(read(&records.ref_map), "kept\n");
        // Removed on purpose (an interrupted purge writing them again), they are written anew.
        records.remove();
        write_records(&t.repo, &rewrite, "20260102T030405Z", &shown).expect("again");
        assert!(read(&records.ref_map).starts_with(&oid(3).to_string()));
        let names: Vec<String> = std::fs::read_dir(&dir)
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
    }
}
