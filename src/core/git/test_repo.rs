//! Repositories for the unit tests of `core::git`, made with libgit2 in a temporary
//! directory: no hooks run and nothing of the machine's git configuration is written.

use git2::{Oid, Repository, Signature};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

pub(crate) struct TestRepo {
    /// Kept for its lifetime: the repository is removed with it.
    _dir: TempDir,
    pub(crate) root: PathBuf,
    pub(crate) repo: Repository,
}

impl TestRepo {
    /// A repository with a work tree at `<tmp>/repo`, paths canonical.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical").join("repo");
        let repo = Repository::init(&root).expect("init");
        TestRepo {
            _dir: dir,
            root,
            repo,
        }
    }

    /// The temporary directory that holds the repository, for siblings of it.
    pub(crate) fn base(&self) -> &Path {
        self.root
            .parent()
            .expect("the repository is in the tempdir")
    }

    pub(crate) fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, content).expect("write");
    }

    /// Stages every file of the work tree and commits on HEAD.
    pub(crate) fn commit_all(&self, message: &str) -> Oid {
        let mut index = self.repo.index().expect("index");
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        index.write().expect("write index");
        let tree = index.write_tree().expect("tree");
        let parents: Vec<Oid> = self
            .repo
            .head()
            .ok()
            .and_then(|h| h.target())
            .into_iter()
            .collect();
        self.commit(Some("HEAD"), tree, &parents, message)
    }

    /// A commit of `files` (path, content) with `parents`, written without touching the
    /// index or the work tree, as a rewrite writes one; moves `update_ref` to it, whatever
    /// it pointed at, if given.
    pub(crate) fn commit_files(
        &self,
        update_ref: Option<&str>,
        files: &[(&str, &str)],
        parents: &[Oid],
        message: &str,
    ) -> Oid {
        let mut index = git2::Index::new().expect("in-memory index");
        for (path, content) in files {
            let blob = self.repo.blob(content.as_bytes()).expect("blob");
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: content.len() as u32,
                id: blob,
                flags: 0,
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            };
            index.add(&entry).expect("add entry");
        }
        let tree = index.write_tree_to(&self.repo).expect("tree");
        let new = self.commit(None, tree, parents, message);
        if let Some(name) = update_ref {
            self.repo
                .reference(name, new, true, "test: rewritten")
                .expect("move the ref");
        }
        new
    }

    /// What a rewrite leaves: HEAD's branch moved to a new commit of `files` with the same
    /// parents, the index and the work tree as they were.
    pub(crate) fn rewrite_head(&self, files: &[(&str, &str)]) -> Oid {
        let head = self.repo.head().expect("head");
        let branch = head.name().expect("a branch").to_string();
        let old = head.peel_to_commit().expect("a commit");
        let parents: Vec<Oid> = old.parent_ids().collect();
        self.commit_files(Some(&branch), files, &parents, "rewritten")
    }

    fn commit(&self, update_ref: Option<&str>, tree: Oid, parents: &[Oid], message: &str) -> Oid {
        let sig = Signature::new(
            "Test",
            "test@example.com",
            &git2::Time::new(1_700_000_000, 0),
        )
        .expect("signature");
        let tree = self.repo.find_tree(tree).expect("tree");
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p).expect("parent"))
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(update_ref, &sig, &sig, message, &tree, &parents)
            .expect("commit")
    }
}
