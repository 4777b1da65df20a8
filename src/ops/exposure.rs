//! Where a leaked key is: every blob and message in history that holds it, the commits that
//! hold it (first and last, with dates and authors), whether it is at HEAD, in a stash, a
//! reflog, a tag; which refs reach it, which remote-tracking refs reach it (so whether, and
//! since when, it is public); and which files on disk hold it. The first step of an
//! incident, and what it must print within seconds.
//!
//! A commit "holds" the key when its message does, or its tree has a blob holding the key at
//! a path where such a blob was found. Reachability is computed in one walk over every
//! commit, parents first, carrying for each commit the earliest holding commit among itself
//! and its ancestors.

use super::scan::stream_history;
use crate::core::git::{self, BlobRead, BlobRef};
use crate::core::progress::Progress;
use crate::core::secret::Secret;
use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use git2::{ObjectType, Oid, Repository, Sort};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A commit, described for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub oid: Oid,
    /// The committer date.
    pub date: DateTime<Utc>,
    /// `Name <email>` of the author.
    pub author: String,
    /// The first line of the message (it may hold the key: callers redact with the key).
    pub summary: String,
}

/// A path in history where a blob holding the key was first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introduction {
    pub path: String,
    pub blob: Oid,
    pub commit: Option<CommitInfo>,
}

/// A remote-tracking ref that reaches a commit holding the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteReach {
    pub name: String,
    pub remote: String,
    /// The remote's URL with any user name and password removed.
    pub url: Option<String>,
    /// The earliest holding commit this ref reaches.
    pub since: DateTime<Utc>,
}

/// A file on disk that holds the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHolding {
    pub path: PathBuf,
    /// 1-based line numbers.
    pub lines: Vec<usize>,
}

/// Everything `exposure` found. It never holds the key itself.
#[derive(Debug, Clone, Default)]
pub struct Exposure {
    pub fingerprint: String,
    pub redacted: String,
    /// Blobs (file contents) that hold the key.
    pub blobs: usize,
    pub introductions: Vec<Introduction>,
    /// Commits whose message holds the key.
    pub commit_messages: Vec<Oid>,
    /// Annotated tags whose message holds the key.
    pub tag_messages: Vec<Oid>,
    /// How many commits hold the key, and the first and last of them by date.
    pub commits_holding: usize,
    pub first: Option<CommitInfo>,
    pub last: Option<CommitInfo>,
    /// Paths in HEAD's tree that hold the key.
    pub at_head: Vec<String>,
    /// Local refs (branches, tags, notes…) whose history holds the key.
    pub refs: Vec<String>,
    /// Tags among them, and tags whose own message holds it.
    pub tags: Vec<String>,
    pub remote_refs: Vec<RemoteReach>,
    /// Stash entries (`stash@{n}`, newest is 0) that hold the key themselves.
    pub stash: Vec<usize>,
    /// Refs whose reflog keeps a commit holding the key that the ref itself no longer reaches.
    pub reflogs: Vec<String>,
    pub files: Vec<FileHolding>,
}

impl Exposure {
    /// Whether the key is anywhere in history.
    pub fn in_history(&self) -> bool {
        self.blobs > 0 || !self.commit_messages.is_empty() || !self.tag_messages.is_empty()
    }

    /// The earliest date a remote-tracking ref shows the key: when it became public, as far
    /// as this clone can tell (`None`: not pushed — local only).
    pub fn public_since(&self) -> Option<DateTime<Utc>> {
        self.remote_refs.iter().map(|r| r.since).min()
    }
}

/// Finds `key` in the repository of `repo` (every worktree's refs, the stash, reflogs) and
/// in `files` (env files on disk, registered locations).
pub fn exposure(
    repo: &Repository,
    key: &Secret,
    files: &[PathBuf],
    progress: &dyn Progress,
) -> anyhow::Result<Exposure> {
    let needle = key.expose().as_bytes();
    let mut found = Exposure {
        fingerprint: key.fingerprint(),
        redacted: key.redacted(),
        ..Exposure::default()
    };
    git::tune_for_bulk_reads();
    progress.phase("searching history", 0);
    let holding_blobs: Mutex<Vec<BlobRef>> = Mutex::new(Vec::new());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Every object, so that a commit only a reflog keeps is searched too.
    let examine = |read: BlobRead<'_>| match read {
        BlobRead::Data(data) => Ok(memchr::memmem::find(data, needle).is_some()),
        BlobRead::TooLarge(_) => Ok(false),
        BlobRead::Failed(err) => Err(err.to_string()),
    };
    let attribute = |blob: &BlobRef, holds: Result<bool, String>| match holds {
        Ok(true) => holding_blobs
            .lock()
            .expect("no reader panics holding the list")
            .push(blob.clone()),
        Ok(false) => {}
        Err(err) => failures
            .lock()
            .expect("no reader panics holding the list")
            .push(err),
    };
    let inventory = stream_history(repo, true, u64::MAX, progress, &examine, &attribute)
        // A ref name can hold the key itself; the message must not.
        .map_err(|err| anyhow::anyhow!(err.to_string().replace(key.expose(), &key.redacted())))?;
    let failures = failures.into_inner().expect("readers are done");
    if let Some(first) = failures.first() {
        anyhow::bail!(
            "{} object(s) could not be read, so where the key is cannot be told ({first}); run `git fsck`",
            failures.len()
        );
    }
    let mut holding_blobs = holding_blobs.into_inner().expect("readers are done");
    attribute_unreachable(repo, &mut holding_blobs);
    for message in &inventory.messages {
        if memchr::memmem::find(&message.message, needle).is_some() {
            match repo
                .find_object(message.object, None)
                .ok()
                .and_then(|o| o.kind())
            {
                Some(ObjectType::Tag) => found.tag_messages.push(message.object),
                _ => found.commit_messages.push(message.object),
            }
        }
    }
    found.blobs = holding_blobs.len();
    let blob_set: HashSet<Oid> = holding_blobs.iter().map(|b| b.oid).collect();
    let paths: BTreeSet<String> = holding_blobs
        .iter()
        .filter_map(|b| b.path.clone())
        .collect();
    let message_set: HashSet<Oid> = found.commit_messages.iter().copied().collect();
    for blob in &holding_blobs {
        found.introductions.push(Introduction {
            path: blob.path.clone().unwrap_or_default(),
            blob: blob.oid,
            commit: blob.commit.and_then(|c| commit_info(repo, c)),
        });
    }
    found.introductions.sort_by(|a, b| {
        (a.commit.as_ref().map(|c| c.date), &a.path)
            .cmp(&(b.commit.as_ref().map(|c| c.date), &b.path))
    });

    if found.in_history() {
        progress.phase("following refs", 0);
        let holds = |commit: &git2::Commit<'_>| {
            message_set.contains(&commit.id()) || tree_holds(commit, &paths, &blob_set)
        };
        reachability(repo, &mut found, &holds)?;
        found.at_head = head_paths(repo, &paths, &blob_set);
        found.stash = stash_entries(repo, &holds);
    }
    found.files = files_holding(files, needle);
    Ok(found)
}

/// Blobs no ref reaches come without a commit and path. Those a reflog still reaches get
/// theirs from a walk of the reflogs' commits that no ref reaches (usually few).
fn attribute_unreachable(repo: &Repository, blobs: &mut [BlobRef]) {
    let wanted: HashSet<Oid> = blobs
        .iter()
        .filter(|b| b.commit.is_none())
        .map(|b| b.oid)
        .collect();
    if wanted.is_empty() {
        return;
    }
    let Ok(mut walk) = repo.revwalk() else {
        return;
    };
    let _ = walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE);
    let mut names: Vec<String> = vec!["HEAD".to_string()];
    if let Ok(references) = repo.references() {
        for reference in references.flatten() {
            if let Some(name) = reference.name() {
                names.push(name.to_string());
            }
            if let Ok(commit) = reference.peel_to_commit() {
                let _ = walk.hide(commit.id());
            }
        }
    }
    for name in &names {
        if let Ok(reflog) = repo.reflog(name) {
            for entry in reflog.iter() {
                let _ = walk.push(entry.id_new());
            }
        }
    }
    let mut found: HashMap<Oid, (Oid, String)> = HashMap::new();
    for oid in walk.flatten() {
        let Some(tree) = repo.find_commit(oid).ok().and_then(|c| c.tree().ok()) else {
            continue;
        };
        let _ = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if wanted.contains(&entry.id()) && !found.contains_key(&entry.id()) {
                let name = String::from_utf8_lossy(entry.name_bytes());
                found.insert(entry.id(), (oid, format!("{dir}{name}")));
            }
            git2::TreeWalkResult::Ok
        });
        if found.len() == wanted.len() {
            break;
        }
    }
    for blob in blobs.iter_mut().filter(|b| b.commit.is_none()) {
        if let Some((commit, path)) = found.get(&blob.oid) {
            blob.commit = Some(*commit);
            blob.path = Some(path.clone());
        }
    }
}

/// Whether the commit's tree has a blob holding the key at one of `paths`.
fn tree_holds(commit: &git2::Commit<'_>, paths: &BTreeSet<String>, blobs: &HashSet<Oid>) -> bool {
    let Ok(tree) = commit.tree() else {
        return false;
    };
    let holds = tree_paths(&tree, paths, blobs).next().is_some();
    holds
}

fn tree_paths<'a>(
    tree: &'a git2::Tree<'_>,
    paths: &'a BTreeSet<String>,
    blobs: &'a HashSet<Oid>,
) -> impl Iterator<Item = &'a String> + 'a {
    paths.iter().filter(move |path| {
        tree.get_path(Path::new(path.as_str()))
            .is_ok_and(|entry| blobs.contains(&entry.id()))
    })
}

fn head_paths(repo: &Repository, paths: &BTreeSet<String>, blobs: &HashSet<Oid>) -> Vec<String> {
    let Some(tree) = repo.head().ok().and_then(|h| h.peel_to_tree().ok()) else {
        return Vec::new();
    };
    let held = tree_paths(&tree, paths, blobs).cloned().collect();
    held
}

/// One walk over every commit reachable from a ref, the stash or a reflog, parents first:
/// for each commit the earliest holding commit among itself and its ancestors. Refs and
/// reflog entries are then read off that table.
fn reachability(
    repo: &Repository,
    found: &mut Exposure,
    holds: &dyn Fn(&git2::Commit<'_>) -> bool,
) -> anyhow::Result<()> {
    let mut refs: Vec<(String, Oid)> = Vec::new();
    for reference in repo.references().context("cannot list refs")?.flatten() {
        let Some(name) = reference.name().map(str::to_string) else {
            continue;
        };
        if let Ok(commit) = reference.peel_to_commit() {
            refs.push((name, commit.id()));
        }
    }
    let mut reflog_entries: Vec<(String, Oid)> = Vec::new();
    for (name, _) in &refs {
        if let Ok(reflog) = repo.reflog(name) {
            reflog_entries.extend(reflog.iter().map(|e| (name.clone(), e.id_new())));
        }
    }
    if let Ok(reflog) = repo.reflog("HEAD") {
        reflog_entries.extend(reflog.iter().map(|e| ("HEAD".to_string(), e.id_new())));
    }

    let mut walk = repo.revwalk().context("cannot walk history")?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .context("cannot walk history")?;
    for (_, tip) in refs.iter().chain(reflog_entries.iter()) {
        // A reflog may name a commit that is gone; it cannot hold anything then.
        let _ = walk.push(*tip);
    }
    if let Ok(Some(head)) = repo.head().map(|h| h.target()) {
        let _ = walk.push(head);
    }
    // Per commit: the earliest holding commit among itself and its ancestors (time, id).
    let mut earliest: HashMap<Oid, Option<(i64, Oid)>> = HashMap::new();
    let mut holding: Vec<Oid> = Vec::new();
    for oid in walk {
        let oid = oid.context("cannot walk history")?;
        let commit = repo
            .find_commit(oid)
            .with_context(|| format!("cannot read commit {oid}"))?;
        let mut best = commit
            .parent_ids()
            .filter_map(|p| earliest.get(&p).copied().flatten())
            .min();
        if holds(&commit) {
            holding.push(oid);
            let own = (commit.time().seconds(), oid);
            best = Some(best.map_or(own, |b| b.min(own)));
        }
        earliest.insert(oid, best);
    }
    found.commits_holding = holding.len();
    let infos: Vec<CommitInfo> = holding
        .iter()
        .filter_map(|c| commit_info(repo, *c))
        .collect();
    found.first = infos.iter().min_by_key(|c| (c.date, c.oid)).cloned();
    found.last = infos.iter().max_by_key(|c| (c.date, c.oid)).cloned();

    let remotes = remote_urls(repo);
    let reached = |tip: &Oid| earliest.get(tip).copied().flatten();
    for (name, tip) in &refs {
        let Some((since, _)) = reached(tip) else {
            continue;
        };
        if let Some(rest) = name.strip_prefix("refs/remotes/") {
            let remote = rest.split('/').next().unwrap_or(rest).to_string();
            found.remote_refs.push(RemoteReach {
                name: name.clone(),
                url: remotes.get(&remote).cloned(),
                remote,
                since: Utc.timestamp_opt(since, 0).single().unwrap_or_default(),
            });
        } else if name == "refs/stash" {
            // Reported entry by entry (`stash_entries`).
        } else {
            if name.starts_with("refs/tags/") {
                found.tags.push(name.clone());
            }
            found.refs.push(name.clone());
        }
    }
    for tag in &found.tag_messages {
        for (name, _) in refs.iter().filter(|(n, _)| n.starts_with("refs/tags/")) {
            let is_this_tag = repo
                .find_reference(name)
                .ok()
                .and_then(|r| r.target())
                .is_some_and(|t| t == *tag);
            if is_this_tag && !found.tags.contains(name) {
                found.tags.push(name.clone());
            }
        }
    }
    // A reflog counts when it keeps a holding commit that no ref reaches any more: walk
    // from the reflog entries with every ref hidden.
    let holding_set: HashSet<Oid> = holding.iter().copied().collect();
    let mut orphans: Vec<Oid> = Vec::new();
    if !reflog_entries.is_empty() {
        let mut walk = repo.revwalk().context("cannot walk history")?;
        for (_, entry) in &reflog_entries {
            let _ = walk.push(*entry);
        }
        for (_, tip) in &refs {
            let _ = walk.hide(*tip);
        }
        orphans = walk
            .flatten()
            .filter(|oid| holding_set.contains(oid))
            .collect();
    }
    let mut reflogs = BTreeSet::new();
    for (name, entry) in &reflog_entries {
        let keeps = orphans.iter().any(|orphan| {
            orphan == entry || repo.graph_descendant_of(*entry, *orphan).unwrap_or(false)
        });
        if keeps && name != "refs/stash" {
            reflogs.insert(name.clone());
        }
    }
    found.reflogs = reflogs.into_iter().collect();
    found.refs.sort();
    found.tags.sort();
    found.remote_refs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

/// Stash entries whose own commits (the worktree state, the index, untracked files) hold
/// the key, by `stash@{n}` number.
fn stash_entries(repo: &Repository, holds: &dyn Fn(&git2::Commit<'_>) -> bool) -> Vec<usize> {
    let Ok(reflog) = repo.reflog("refs/stash") else {
        return Vec::new();
    };
    let mut entries = Vec::new();
    for (n, entry) in reflog.iter().enumerate() {
        let Ok(commit) = repo.find_commit(entry.id_new()) else {
            continue;
        };
        // Parent 0 is the commit the stash was made on: its history is not the stash's.
        let own = std::iter::once(commit.clone()).chain(commit.parents().skip(1));
        if own.into_iter().any(|c| holds(&c)) {
            entries.push(n);
        }
    }
    entries
}

fn commit_info(repo: &Repository, oid: Oid) -> Option<CommitInfo> {
    let commit = repo.find_commit(oid).ok()?;
    let author = commit.author();
    Some(CommitInfo {
        oid,
        date: Utc.timestamp_opt(commit.time().seconds(), 0).single()?,
        author: format!(
            "{} <{}>",
            String::from_utf8_lossy(author.name_bytes()),
            String::from_utf8_lossy(author.email_bytes())
        ),
        summary: String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default()).into_owned(),
    })
}

/// Each remote's URL, without credentials.
fn remote_urls(repo: &Repository) -> BTreeMap<String, String> {
    git::tips::remotes(repo)
        .into_iter()
        .filter_map(|remote| Some((remote.name.clone(), remote.display_url()?)))
        .collect()
}

/// The files among `files` that hold `needle`, with line numbers. Missing and unreadable
/// files are passed over (a registered location may be gone).
fn files_holding(files: &[PathBuf], needle: &[u8]) -> Vec<FileHolding> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for path in files {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if !seen.insert(canonical) {
            continue;
        }
        let Ok(data) = std::fs::read(path) else {
            continue;
        };
        let lines: Vec<usize> = memchr::memmem::find_iter(&data, needle)
            .map(|at| 1 + memchr::memchr_iter(b'\n', &data[..at]).count())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !lines.is_empty() {
            out.push(FileHolding {
                path: path.clone(),
                lines,
            });
        }
    }
    out
}

#[cfg(test)]
mod repo_tests {
    use super::*;
    use crate::core::progress::Silent;
    use git2::{Signature, Time};

    /// A key-shaped value assembled at run time (the repository holds no literal key).
    fn key() -> Secret {
        let body: String = (0..36)
            .map(|i| (b"Zq3kQ9xPm2Lw7RtYbN4c"[(i * 7) % 20]) as char)
            .collect();
        Secret::new(format!("ghp_{body}"))
    }

    fn commit(
        repo: &Repository,
        files: &[(&str, &str)],
        parents: &[Oid],
        seconds: i64,
        message: &str,
    ) -> Oid {
        let mut builder = repo.treebuilder(None).expect("treebuilder");
        for (name, content) in files {
            let blob = repo.blob(content.as_bytes()).expect("blob");
            builder.insert(name, blob, 0o100644).expect("insert");
        }
        let tree = repo
            .find_tree(builder.write().expect("tree"))
            .expect("find tree");
        let who = Signature::new("Ada", "ada@example.com", &Time::new(seconds, 0)).expect("sig");
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| repo.find_commit(*p).expect("parent"))
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(None, &who, &who, message, &tree, &parents)
            .expect("commit")
    }

    #[test]
    fn a_pushed_and_later_removed_key_is_found_everywhere_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(dir.path()).expect("init");
        let key = key();
        let env = format!("A=1\nGITHUB_TOKEN={}\n", key.expose());
        let first = commit(&repo, &[("README", "hi\n")], &[], 1_000_000, "first");
        let leak = commit(
            &repo,
            &[("README", "hi\n"), (".env", &env)],
            &[first],
            2_000_000,
            "add config",
        );
        let removed = commit(
            &repo,
            &[("README", "hi\n")],
            &[leak],
            3_000_000,
            "remove it",
        );
        repo.reference("refs/heads/main", removed, true, "t")
            .expect("main");
        repo.reference("refs/heads/feature", leak, true, "t")
            .expect("feature");
        repo.reference("refs/tags/v1", leak, true, "t")
            .expect("tag");
        repo.reference("refs/remotes/origin/main", removed, true, "t")
            .expect("remote ref");
        repo.remote("origin", "https://someone:hunter2@example.com/o/r.git")
            .expect("remote");
        repo.set_head("refs/heads/main").expect("head");
        let on_disk = dir.path().join("other.env");
        std::fs::write(&on_disk, format!("# x\nTOKEN={}\n", key.expose())).expect("write");

        let found = exposure(
            &repo,
            &key,
            &[on_disk.clone(), dir.path().join("gone")],
            &Silent,
        )
        .expect("exposure");
        assert!(found.in_history());
        assert_eq!(found.blobs, 1);
        assert_eq!(found.introductions.len(), 1);
        assert_eq!(found.introductions[0].path, ".env");
        assert_eq!(
            found.introductions[0].commit.as_ref().map(|c| c.oid),
            Some(leak)
        );
        assert_eq!(found.commits_holding, 1);
        assert_eq!(found.first.as_ref().map(|c| c.oid), Some(leak));
        assert_eq!(
            found.last.as_ref().map(|c| c.author.as_str()),
            Some("Ada <ada@example.com>")
        );
        assert!(found.at_head.is_empty(), "removed at HEAD");
        assert_eq!(
            found.refs,
            vec!["refs/heads/feature", "refs/heads/main", "refs/tags/v1"]
        );
        assert_eq!(found.tags, vec!["refs/tags/v1"]);
        assert_eq!(found.remote_refs.len(), 1);
        assert_eq!(
            found.remote_refs[0].url.as_deref(),
            Some("https://example.com/o/r.git")
        );
        assert_eq!(found.public_since().map(|t| t.timestamp()), Some(2_000_000));
        assert_eq!(found.files.len(), 1);
        assert_eq!(found.files[0].lines, vec![2]);
        assert!(found.stash.is_empty() && found.reflogs.is_empty());
        assert_ne!(found.redacted, key.expose());
    }

    #[test]
    fn a_key_only_in_a_message_and_never_pushed_is_local_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(dir.path()).expect("init");
        let key = key();
        let message = format!("oops {}", key.expose());
        let c = commit(&repo, &[("README", "hi\n")], &[], 1_000_000, &message);
        repo.reference("refs/heads/main", c, true, "t")
            .expect("main");
        repo.set_head("refs/heads/main").expect("head");
        let found = exposure(&repo, &key, &[], &Silent).expect("exposure");
        assert_eq!(found.commit_messages, vec![c]);
        assert_eq!(found.blobs, 0);
        assert_eq!(found.commits_holding, 1);
        assert_eq!(found.refs, vec!["refs/heads/main"]);
        assert_eq!(found.public_since(), None);

        let other = Secret::new("not-in-this-repository-at-all-0000");
        let none = exposure(&repo, &other, &[], &Silent).expect("exposure");
        assert!(!none.in_history());
        assert_eq!(none.commits_holding, 0);
    }

    #[test]
    fn a_key_only_a_reflog_still_keeps_is_reported_as_such() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init(dir.path()).expect("init");
        let key = key();
        let env = format!("TOKEN={}\n", key.expose());
        let first = commit(&repo, &[("README", "hi\n")], &[], 1_000_000, "first");
        let leak = commit(&repo, &[(".env", &env)], &[first], 2_000_000, "leak");
        let clean = commit(&repo, &[("README", "hi!\n")], &[first], 3_000_000, "clean");
        repo.set_head("refs/heads/main").expect("head");
        repo.reference("refs/heads/main", leak, true, "commit")
            .expect("main");
        repo.reference("refs/heads/main", clean, true, "reset")
            .expect("reset");
        let found = exposure(&repo, &key, &[], &Silent).expect("exposure");
        assert!(found.refs.is_empty(), "{:?}", found.refs);
        assert!(
            found.reflogs.contains(&"refs/heads/main".to_string()),
            "{:?}",
            found.reflogs
        );
        assert_eq!(found.commits_holding, 1);
    }
}
