//! The backup written before anything changes: a bundle of every ref, every stash entry
//! and every detached or per-worktree tip, in `.git/keywarden/backup-<stamp>.bundle`.

use super::{private_file, state_dir};
use crate::core::git::command::GitCommand;
use crate::core::git::error::GitError;
use crate::core::git::tips::Tips;
use git2::{Oid, Repository};
use sha1::{Digest, Sha1};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

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
/// The bundle is written under a temporary name (`….bundle.partial`), checked complete (its
/// pack's trailing checksum matches its content, so a truncated file is never taken for a
/// backup) and only then renamed: a file under the final name is always a whole backup. One
/// that is already there (an interrupted purge run again) is checked and kept.
///
/// When all objects sit in a single pack (a freshly cloned or gc'd repository) the bundle is
/// that pack behind a bundle header, which is valid because the pack holds every reachable
/// object, and takes a file copy instead of a full `git pack-objects`. Otherwise
/// `git bundle create --all` writes it.
pub fn backup_bundle(repo: &Repository, tips: &Tips, stamp: &str) -> Result<PathBuf, GitError> {
    let dir = state_dir(repo)?;
    let path = backup_path(repo, stamp);
    let partial = dir.join(format!("backup-{stamp}.bundle.partial"));
    if path.exists() {
        check_bundle(&path)?;
        return Ok(path);
    }
    let _ = std::fs::remove_file(&partial);
    let mut refs: Vec<(String, Oid)> = Vec::new();
    let references = repo
        .references()
        .map_err(|e| GitError::libgit2("cannot list refs", e))?;
    for reference in references.flatten() {
        if let (Some(name), Some(oid)) = (reference.name(), reference.target()) {
            if !is_temporary_ref(name) {
                refs.push((name.to_string(), oid));
            }
        }
    }
    refs.sort();
    let extra = extra_backup_refs(tips);
    if let Some(pack) = single_pack(repo) {
        let mut file = private_file(&partial)?;
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
            let _ = std::fs::remove_file(&partial);
            return Err(GitError::io("cannot write the backup", &partial, e));
        }
    } else {
        // Temporary refs so `--all` includes the extra tips; removed whatever happens (and
        // by the next run, after a kill).
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
        drop(private_file(&partial)?);
        let result = GitCommand::in_dir(repo.commondir())
            .args(["bundle", "create", "--quiet"])
            .arg(&partial)
            .arg("--all")
            .run("git bundle create");
        for name in created {
            if let Ok(mut r) = repo.find_reference(&name) {
                let _ = r.delete();
            }
        }
        if let Err(e) = result {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        // git wrote a new file in place of ours (through a lock file), with default
        // permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| GitError::io("cannot restrict", &partial, e))?;
        }
    }
    crate::core::fault::point("backup:written");
    if let Err(e) = check_bundle(&partial) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &path).map_err(|e| GitError::io("cannot rename", &partial, e))?;
    // The bundle is checked before anything relies on it; a lost rename is found then.
    let _ = crate::core::fs::sync_dir(&dir);
    Ok(path)
}

/// Where the backup of the purge stamped `stamp` is (or will be).
pub fn backup_path(repo: &Repository, stamp: &str) -> PathBuf {
    repo.commondir()
        .join("keywarden")
        .join(format!("backup-{stamp}.bundle"))
}

/// Whether `name` is one of the refs a purge creates for a moment (for the backup, or to
/// hold objects during gc), which never belong in a backup and are removed by every run.
pub fn is_temporary_ref(name: &str) -> bool {
    name.starts_with("refs/keywarden-backup/") || name.starts_with("refs/keywarden-gc-hold/")
}

/// Removes what an earlier, killed purge may have left that is no use to anyone: its
/// temporary refs, a backup still being written, a pack still being written. Only called
/// with the purge lock held, so no other purge is writing them.
pub fn clear_temporaries(repo: &Repository) -> Result<(), GitError> {
    if let Ok(references) = repo.references() {
        let names: Vec<String> = references
            .flatten()
            .filter_map(|r| r.name().map(str::to_string))
            .filter(|n| is_temporary_ref(n))
            .collect();
        for name in names {
            if let Ok(mut r) = repo.find_reference(&name) {
                r.delete()
                    .map_err(|e| GitError::libgit2(format!("cannot delete {name}"), e))?;
            }
        }
    }
    let remove_matching = |dir: &Path, wanted: &dyn Fn(&str) -> bool| {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if wanted(&entry.file_name().to_string_lossy()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    };
    remove_matching(&repo.commondir().join("keywarden"), &|n| {
        n.starts_with("backup-") && n.ends_with(".bundle.partial")
    });
    remove_matching(&repo.commondir().join("objects/pack"), &|n| {
        n.starts_with("tmp_keywarden_")
    });
    Ok(())
}

/// The refs a bundle holds (`<id> <name>` lines of its header), without `HEAD` and the
/// backup's own extra refs.
pub fn bundle_refs(bundle: &Path) -> Result<Vec<(String, Oid)>, GitError> {
    use std::io::BufRead;
    let file = std::fs::File::open(bundle).map_err(|e| GitError::io("cannot read", bundle, e))?;
    let mut refs = Vec::new();
    for (i, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(|e| GitError::io("cannot read", bundle, e))?;
        if i == 0 {
            continue;
        }
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(&line);
        let Some((hex, name)) = line.split_once(' ') else {
            continue;
        };
        let Ok(oid) = Oid::from_str(hex) else {
            continue;
        };
        if name == "HEAD" || is_temporary_ref(name) {
            continue;
        }
        refs.push((name.to_string(), oid));
    }
    Ok(refs)
}

/// Checks that the bundle at `path` is whole: a bundle header, then a pack whose trailing
/// SHA-1 matches everything before it (a truncated or half-written pack does not).
pub fn check_bundle(path: &Path) -> Result<(), GitError> {
    let incomplete = |why: &str| {
        GitError::io(
            "the backup is incomplete",
            path,
            std::io::Error::other(why.to_string()),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| GitError::io("cannot read", path, e))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| GitError::io("cannot read", path, e))?;
        if n == 0 {
            return Err(incomplete("it ends inside its header"));
        }
        if first && !line.starts_with(b"# v2 git bundle") && !line.starts_with(b"# v3 git bundle") {
            return Err(incomplete("it is not a git bundle"));
        }
        first = false;
        if line == b"\n" {
            break;
        }
    }
    let mut hasher = Sha1::new();
    // The last 20 bytes read are the candidate checksum; everything before them is hashed.
    let mut tail: Vec<u8> = Vec::with_capacity(40);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut magic = [0u8; 4];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| GitError::io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        if total < 4 {
            let take = (4 - total as usize).min(n);
            magic[total as usize..total as usize + take].copy_from_slice(&buf[..take]);
        }
        total += n as u64;
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 20 {
            let hashed = tail.len() - 20;
            hasher.update(&tail[..hashed]);
            tail.drain(..hashed);
        }
    }
    if total < 32 || &magic != b"PACK" {
        return Err(incomplete("its pack is missing or cut short"));
    }
    let digest: [u8; 20] = hasher.finalize().into();
    if digest[..] != tail[..] {
        return Err(incomplete(
            "its pack is cut short or damaged (checksum mismatch)",
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;
    use crate::core::git::tips::{StashEntry, WorktreeHead};

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).expect("20 bytes")
    }

    fn stash(n: u8) -> StashEntry {
        StashEntry {
            oid: oid(n),
            name: "T".into(),
            email: "t@example.com".into(),
            time: 0,
            offset_minutes: 0,
            message: format!("WIP {n}"),
        }
    }

    #[test]
    fn backup_refs_name_older_stash_entries_and_every_worktree_tip() {
        let tips = Tips {
            refs: vec![("refs/heads/main".into(), oid(9))],
            remote_refs: Vec::new(),
            heads: vec![
                WorktreeHead {
                    git_dir: "/r/.git".into(),
                    detached: Some(oid(4)),
                    own_refs: Vec::new(),
                },
                WorktreeHead {
                    git_dir: "/r/.git/worktrees/w".into(),
                    detached: None,
                    own_refs: vec![("refs/bisect/bad".into(), oid(5))],
                },
            ],
            // Oldest first: stash@{2}, stash@{1}, stash@{0}.
            stash: vec![stash(1), stash(2), stash(3)],
        };
        assert_eq!(
            extra_backup_refs(&tips),
            [
                ("refs/keywarden-backup/stash/2".to_string(), oid(1)),
                ("refs/keywarden-backup/stash/1".to_string(), oid(2)),
                ("refs/keywarden-backup/head/0".to_string(), oid(4)),
                (
                    "refs/keywarden-backup/worktree/1/bisect/bad".to_string(),
                    oid(5)
                ),
            ]
        );
    }

    fn gc(t: &TestRepo) {
        GitCommand::in_dir(&t.root)
            .args(["gc", "--quiet"])
            .run("git gc")
            .expect("gc");
    }

    #[test]
    fn a_single_pack_is_found_only_when_it_holds_every_object() {
        let t = TestRepo::new();
        t.write("a.txt", "a\n");
        t.commit_all("a");
        assert_eq!(single_pack(&t.repo), None, "loose objects");
        gc(&t);
        let objects = t.root.join(".git/objects");
        let pack = single_pack(&t.repo).expect("one pack after gc");
        assert_eq!(pack.extension().and_then(|e| e.to_str()), Some("pack"));
        // A pack being written (by this purge) is not part of the repository.
        std::fs::write(objects.join("pack/tmp_keywarden_1.pack"), b"PACK").expect("write");
        assert_eq!(single_pack(&t.repo), Some(pack.clone()));
        // Objects elsewhere: a loose one, a promisor pack, alternates.
        t.write("b.txt", "b\n");
        t.commit_all("b");
        assert_eq!(single_pack(&t.repo), None, "a loose object");
        gc(&t);
        let pack = single_pack(&t.repo).expect("one pack again");
        std::fs::write(pack.with_extension("promisor"), b"").expect("write");
        assert_eq!(single_pack(&t.repo), None, "a promisor pack");
        std::fs::remove_file(pack.with_extension("promisor")).expect("remove");
        std::fs::write(objects.join("info/alternates"), "/elsewhere/objects\n").expect("write");
        assert_eq!(single_pack(&t.repo), None, "alternates");
    }

    #[test]
    fn a_cut_short_bundle_is_never_taken_for_a_backup() {
        let t = TestRepo::new();
        t.write("a.txt", "a\n");
        t.commit_all("a");
        let tips = Tips::read(&t.repo, false).expect("tips");
        let bundle = backup_bundle(&t.repo, &tips, "s").expect("backup");
        check_bundle(&bundle).expect("whole");
        let data = std::fs::read(&bundle).expect("read");
        let cut = t.base().join("cut.bundle");
        for keep in [data.len() - 1, data.len() - 21, data.len() / 2, 10] {
            std::fs::write(&cut, &data[..keep]).expect("write");
            assert!(check_bundle(&cut).is_err(), "kept {keep} of {}", data.len());
        }
        // A stale partial file and temporary refs from a killed run never block the next.
        let partial = t.root.join(".git/keywarden/backup-s2.bundle.partial");
        std::fs::write(&partial, &data[..10]).expect("write");
        let head = t.repo.head().expect("head").target().expect("oid");
        t.repo
            .reference("refs/keywarden-backup/stash/1", head, true, "stale")
            .expect("ref");
        clear_temporaries(&t.repo).expect("cleared");
        assert!(!partial.exists());
        assert!(t
            .repo
            .find_reference("refs/keywarden-backup/stash/1")
            .is_err());
        let again = backup_bundle(&t.repo, &tips, "s2").expect("backup");
        check_bundle(&again).expect("whole");
        // An existing, whole backup of the same stamp is kept as it is.
        assert_eq!(backup_bundle(&t.repo, &tips, "s2").expect("kept"), again);
    }

    #[test]
    fn the_backup_restores_every_ref_with_or_without_a_single_pack() {
        for packed in [false, true] {
            let t = TestRepo::new();
            t.write("a.txt", "a\n");
            let first = t.commit_all("a");
            t.write("a.txt", "b\n");
            let second = t.commit_all("b");
            t.repo
                .reference("refs/tags/v1", first, false, "test")
                .expect("tag");
            if packed {
                gc(&t);
                assert!(single_pack(&t.repo).is_some());
            }
            let tips = Tips::read(&t.repo, false).expect("tips");
            let bundle = backup_bundle(&t.repo, &tips, "s").expect("backup");
            assert_eq!(bundle, t.root.join(".git/keywarden/backup-s.bundle"));
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&bundle)
                    .expect("stat")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "the backup is the user's alone");
            }
            let listed = GitCommand::in_dir(&t.root)
                .args(["bundle", "list-heads"])
                .arg(&bundle)
                .run("git bundle list-heads")
                .expect("a valid bundle");
            let listed = String::from_utf8_lossy(&listed);
            assert!(
                listed.contains(&format!("{second} refs/heads/")),
                "{listed}"
            );
            assert!(
                listed.contains(&format!("{first} refs/tags/v1")),
                "{listed}"
            );
            let restored = t.base().join(format!("restored-{packed}"));
            GitCommand::in_dir(t.base())
                .args(["clone", "--quiet", "--mirror"])
                .arg(&bundle)
                .arg(&restored)
                .run("git clone")
                .expect("the bundle clones");
            let restored = Repository::open(&restored).expect("open");
            assert_eq!(
                restored.refname_to_id("refs/tags/v1").expect("tag"),
                first,
                "packed: {packed}"
            );
            // No temporary ref is left behind.
            assert!(t
                .repo
                .references_glob("refs/keywarden-backup/*")
                .expect("glob")
                .next()
                .is_none());
        }
    }
}
