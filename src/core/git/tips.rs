//! Where a repository's history starts from and who looks at it: the refs, every
//! worktree's HEAD and per-worktree refs, the stash's entries, the checked-out worktrees,
//! and the configured remotes (with a URL safe to print). The one walk over linked
//! worktrees lives here.

use super::error::GitError;
use git2::{Oid, Repository};
use std::path::PathBuf;

/// The refs, worktree HEADs and stash entries a rewrite starts from.
pub struct Tips {
    /// Every direct ref (symbolic refs follow their target), sorted by name; without
    /// `refs/remotes/*` unless they were asked for.
    pub refs: Vec<(String, Oid)>,
    /// The remote-tracking refs left out of `refs`.
    pub remote_refs: Vec<String>,
    /// The main worktree's (or a bare repository's) first, then each linked worktree's.
    pub heads: Vec<WorktreeHead>,
    pub stash: Vec<StashEntry>,
}

impl Tips {
    /// Lists what a rewrite starts from: every direct ref, every worktree's detached HEAD
    /// and own refs, and every entry of the stash's reflog.
    pub fn read(repo: &Repository, include_remotes: bool) -> Result<Tips, GitError> {
        let mut refs = Vec::new();
        let mut remote_refs = Vec::new();
        let references = repo
            .references()
            .map_err(|e| GitError::libgit2("cannot list refs", e))?;
        for reference in references {
            let reference = reference.map_err(|e| GitError::libgit2("cannot read a ref", e))?;
            let (Some(name), Some(target)) = (reference.name(), reference.target()) else {
                continue;
            };
            if name.starts_with("refs/remotes/") && !include_remotes {
                remote_refs.push(name.to_string());
                continue;
            }
            refs.push((name.to_string(), target));
        }
        refs.sort();
        let linked = linked_worktrees(repo);
        let heads = std::iter::once((repo, false))
            .chain(linked.iter().map(|r| (r, true)))
            .map(|(r, is_linked)| WorktreeHead {
                git_dir: r.path().to_path_buf(),
                detached: if r.head_detached().unwrap_or(false) {
                    r.head().ok().and_then(|h| h.target())
                } else {
                    None
                },
                // The main worktree's own refs are among the repository's.
                own_refs: if is_linked {
                    per_worktree_refs(r)
                } else {
                    Vec::new()
                },
            })
            .collect();
        Ok(Tips {
            refs,
            remote_refs,
            heads,
            stash: stash_entries(repo),
        })
    }
}

/// One entry of the stash's reflog (`stash@{n}`), oldest first.
#[derive(Debug, Clone)]
pub struct StashEntry {
    pub oid: Oid,
    pub name: String,
    pub email: String,
    pub time: i64,
    pub offset_minutes: i32,
    pub message: String,
}

/// The stash's entries, oldest first (none without a stash).
fn stash_entries(repo: &Repository) -> Vec<StashEntry> {
    let Ok(reflog) = repo.reflog("refs/stash") else {
        return Vec::new();
    };
    let mut stash: Vec<StashEntry> = reflog
        .iter()
        .map(|entry| {
            let committer = entry.committer();
            StashEntry {
                oid: entry.id_new(),
                name: String::from_utf8_lossy(committer.name_bytes()).into_owned(),
                email: String::from_utf8_lossy(committer.email_bytes()).into_owned(),
                time: committer.when().seconds(),
                offset_minutes: committer.when().offset_minutes(),
                message: entry.message().unwrap_or_default().to_string(),
            }
        })
        .collect();
    // libgit2 lists the newest first.
    stash.reverse();
    stash
}

/// A worktree's HEAD as found before the rewrite.
#[derive(Debug, Clone)]
pub struct WorktreeHead {
    pub git_dir: PathBuf,
    pub detached: Option<Oid>,
    /// Refs only this worktree sees (`refs/bisect/*`, `refs/worktree/*`, `refs/rewritten/*`)
    /// of a linked worktree; the main worktree's are among the repository's refs.
    pub own_refs: Vec<(String, Oid)>,
}

impl WorktreeHead {
    /// What the rewrite must move in this worktree's own git dir: a detached `HEAD`, then
    /// its own refs.
    pub fn tips(&self) -> impl Iterator<Item = (&str, Oid)> {
        let head = self.detached.map(|oid| ("HEAD", oid));
        head.into_iter().chain(
            self.own_refs
                .iter()
                .map(|(name, oid)| (name.as_str(), *oid)),
        )
    }
}

/// The refs git keeps per worktree rather than shared by all of them, as `repo` (opened on
/// a linked worktree) sees them.
fn per_worktree_refs(repo: &Repository) -> Vec<(String, Oid)> {
    let Ok(references) = repo.references() else {
        return Vec::new();
    };
    let mut own = Vec::new();
    for reference in references.flatten() {
        if let (Some(name), Some(target)) = (reference.name(), reference.target()) {
            let per_worktree = ["refs/bisect/", "refs/worktree/", "refs/rewritten/"]
                .iter()
                .any(|prefix| name.starts_with(prefix));
            if per_worktree {
                own.push((name.to_string(), target));
            }
        }
    }
    own.sort();
    own
}

/// Every linked worktree that is valid (its directory is still there), opens, and belongs
/// to this repository, in the order git lists them.
fn linked_worktrees(repo: &Repository) -> Vec<Repository> {
    classified_worktrees(repo).0
}

/// The linked worktrees of `repo` that belong to it, and the directories of those that are
/// registered here but belong to another repository: in a `cp -a` copy, each
/// `.git/worktrees/*/gitdir` still names the original's worktree, whose `.git` file points
/// back at the original. Those are never read or written on this repository's behalf.
fn classified_worktrees(repo: &Repository) -> (Vec<Repository>, Vec<ForeignWorktree>) {
    let mut own = Vec::new();
    let mut foreign = Vec::new();
    let Ok(names) = repo.worktrees() else {
        return (own, foreign);
    };
    let common = canonical(repo.commondir());
    for name in names.iter().flatten() {
        let Ok(worktree) = repo.find_worktree(name) else {
            continue;
        };
        if worktree.validate().is_err() {
            continue;
        }
        let Ok(opened) = Repository::open_from_worktree(&worktree) else {
            continue;
        };
        if canonical(opened.commondir()) == common {
            own.push(opened);
        } else {
            foreign.push(ForeignWorktree {
                workdir: worktree.path().to_path_buf(),
                registration: repo.commondir().join("worktrees").join(name),
            });
        }
    }
    (own, foreign)
}

fn canonical(path: &std::path::Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// A worktree registered in this repository that belongs to another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignWorktree {
    /// The other repository's worktree (never touched).
    pub workdir: PathBuf,
    /// This repository's own record of it (`.git/worktrees/<name>`), which nothing uses.
    pub registration: PathBuf,
}

/// Worktrees registered in `repo` that belong to another repository (see
/// [`classified_worktrees`]): left alone, and worth saying so.
pub fn foreign_worktrees(repo: &Repository) -> Vec<ForeignWorktree> {
    classified_worktrees(repo).1
}

/// A checked-out worktree: the main one and every linked one.
#[derive(Debug, Clone)]
pub struct Worktree {
    pub workdir: PathBuf,
    pub git_dir: PathBuf,
}

/// Every worktree with files on disk, the main one first (none for a bare repository
/// without linked worktrees).
pub fn worktrees(repo: &Repository) -> Vec<Worktree> {
    let linked = linked_worktrees(repo);
    std::iter::once(repo)
        .chain(linked.iter())
        .filter_map(|r| {
            Some(Worktree {
                workdir: r.workdir()?.to_path_buf(),
                git_dir: r.path().to_path_buf(),
            })
        })
        .collect()
}

/// The main repository of `repo`: itself, or for a linked worktree the repository it belongs
/// to, so that every worktree (the main one included) is seen from the same place.
pub fn main_repository(repo: Repository) -> Result<Repository, GitError> {
    if !repo.is_worktree() {
        return Ok(repo);
    }
    super::repo::open_at(repo.commondir())
}

/// A configured remote.
#[derive(Debug, Clone)]
pub struct RemoteInfo {
    pub name: String,
    /// As configured: it may hold a user name and a password or token. Print
    /// [`RemoteInfo::display_url`] instead.
    pub url: Option<String>,
}

impl RemoteInfo {
    /// The URL without its credentials, safe to print.
    pub fn display_url(&self) -> Option<String> {
        self.url.as_deref().map(display_url)
    }
}

/// Every configured remote, in the order git lists them.
pub fn remotes(repo: &Repository) -> Vec<RemoteInfo> {
    let Ok(names) = repo.remotes() else {
        return Vec::new();
    };
    names
        .iter()
        .flatten()
        .map(|name| RemoteInfo {
            name: name.to_string(),
            url: repo
                .find_remote(name)
                .ok()
                .and_then(|r| r.url().map(str::to_string)),
        })
        .collect()
}

/// A remote URL without the credentials it may carry, for printing: a URL
/// (`scheme://user:token@host/x`) loses its whole user part — over HTTP a user name alone
/// is often a token — and an scp-like address (`user@host:path`) keeps its login name but
/// loses anything after a `:` in it. Local paths are returned as they are.
pub fn display_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://").filter(|&i| is_scheme(&url[..i])) {
        let authority_start = scheme_end + 3;
        let rest = &url[authority_start..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        return match authority.rfind('@') {
            Some(at) => format!("{}{}", &url[..authority_start], &rest[at + 1..]),
            None => url.to_string(),
        };
    }
    // scp-like `[user@]host:path`: the part before the first `/` holds a `:`.
    let head = &url[..url.find('/').unwrap_or(url.len())];
    if let Some(at) = head.rfind('@').filter(|_| head.contains(':')) {
        let userinfo = &url[..at];
        if let Some(colon) = userinfo.find(':') {
            return format!("{}{}", &userinfo[..colon], &url[at..]);
        }
    }
    url.to_string()
}

/// RFC 3986: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// A ref and the object it points to: `None` for a symbolic ref whose target does not
/// exist (git ignores those too). The name can hold anything, a key included: show it
/// only through a redaction.
#[derive(Debug, Clone)]
pub struct RefTip {
    pub name: String,
    pub target: Option<Oid>,
}

/// Every ref (branches, tags, remote-tracking refs, notes, the stash, anything else under
/// `refs/`), in git's order. An unreadable ref is an error, not a ref left out.
pub fn ref_tips(repo: &Repository) -> Result<Vec<RefTip>, GitError> {
    let refs = repo
        .references()
        .map_err(|e| GitError::libgit2("cannot list refs", e))?;
    let mut tips = Vec::new();
    for reference in refs {
        let reference = reference.map_err(|e| GitError::libgit2("cannot read a ref", e))?;
        let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
        let target = reference.resolve().ok().and_then(|r| r.target());
        tips.push(RefTip { name, target });
    }
    Ok(tips)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::git::test_repo::TestRepo;
    use std::path::Path;

    #[test]
    fn urls_lose_their_credentials_for_printing() {
        let cases = [
            (
                "https://user:tok3n@github.com/o/r.git",
                "https://github.com/o/r.git",
            ),
            (
                "https://tok3n@github.com/o/r.git",
                "https://github.com/o/r.git",
            ),
            ("https://u:p%40ss@host:8443/x", "https://host:8443/x"),
            ("https://u:p@ss@host/x", "https://host/x"),
            ("http://host/x", "http://host/x"),
            ("https://host/a@b", "https://host/a@b"),
            ("https://host?x=@y", "https://host?x=@y"),
            ("ssh://git@host:22/o/r.git", "ssh://host:22/o/r.git"),
            ("git+ssh://u:pw@host/r", "git+ssh://host/r"),
            ("file:///srv/r.git", "file:///srv/r.git"),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            ("git:tok3n@github.com:o/r.git", "git@github.com:o/r.git"),
            ("host:o/r.git", "host:o/r.git"),
            ("../r.git", "../r.git"),
            ("/srv/user@host/r.git", "/srv/user@host/r.git"),
            ("", ""),
        ];
        for (url, shown) in cases {
            assert_eq!(display_url(url), shown, "{url}");
        }
        let remote = RemoteInfo {
            name: "origin".into(),
            url: Some("https://x:y@host/r".into()),
        };
        assert_eq!(remote.display_url().as_deref(), Some("https://host/r"));
    }

    #[test]
    fn tips_name_refs_worktree_heads_and_remotes() {
        let t = TestRepo::new();
        let (repo, main) = (&t.repo, t.root.clone());
        let first = t.commit_all("first");
        let second = t.commit_all("second");
        repo.reference("refs/remotes/origin/main", first, true, "test")
            .expect("ref");
        repo.remote("origin", "https://me:s3cret@example.com/r.git")
            .expect("remote");
        // A linked worktree on a detached HEAD with a ref of its own.
        let linked_dir = t.base().join("linked");
        repo.worktree("linked", &linked_dir, None)
            .expect("worktree");
        let linked = Repository::open(&linked_dir).expect("open linked");
        linked.set_head_detached(first).expect("detach");
        linked
            .reference("refs/bisect/bad", second, true, "test")
            .expect("ref");

        let tips = Tips::read(repo, false).expect("tips");
        let names: Vec<&str> = tips.refs.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"refs/heads/linked"), "{names:?}");
        assert!(
            names.iter().all(|n| !n.starts_with("refs/remotes/")),
            "{names:?}"
        );
        assert_eq!(tips.remote_refs, ["refs/remotes/origin/main"]);
        assert_eq!(tips.heads.len(), 2);
        assert_eq!(tips.heads[0].detached, None, "main is on a branch");
        assert!(tips.heads[0].own_refs.is_empty());
        let linked_head = &tips.heads[1];
        let linked_tips: Vec<(&str, Oid)> = linked_head.tips().collect();
        assert_eq!(linked_tips, [("HEAD", first), ("refs/bisect/bad", second)]);
        assert!(tips.stash.is_empty());
        assert!(Tips::read(repo, true)
            .expect("tips")
            .refs
            .iter()
            .any(|(n, _)| n == "refs/remotes/origin/main"));

        let trees = worktrees(repo);
        let dirs: Vec<&Path> = trees.iter().map(|w| w.workdir.as_path()).collect();
        let canonical = |p: &Path| p.canonicalize().expect("exists");
        assert_eq!(dirs.len(), 2);
        assert_eq!(canonical(dirs[0]), main);
        assert_eq!(canonical(dirs[1]), linked_dir);
        // Seen from the linked worktree, the main repository is the same one.
        let from_linked = main_repository(linked).expect("main repository");
        assert_eq!(canonical(from_linked.path()), main.join(".git"));

        let remotes = remotes(repo);
        assert_eq!(remotes.len(), 1);
        assert_eq!(
            remotes[0].display_url().as_deref(),
            Some("https://example.com/r.git")
        );
        // A linked worktree whose directory is gone is left out, like git does.
        std::fs::remove_dir_all(&linked_dir).expect("remove");
        assert_eq!(worktrees(repo).len(), 1);
        assert_eq!(Tips::read(repo, false).expect("tips").heads.len(), 1);
    }

    #[test]
    fn a_bare_repository_has_a_head_but_no_worktree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init_bare(dir.path()).expect("init");
        assert!(worktrees(&repo).is_empty());
        let tips = Tips::read(&repo, false).expect("tips");
        assert_eq!(tips.heads.len(), 1);
        assert!(tips.refs.is_empty());
    }
}
