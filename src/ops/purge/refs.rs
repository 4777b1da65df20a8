//! The purge's ref work from the journal: moving the refs (forwards, and back for an abort
//! from the backup's list of refs), and the push. A ref whose name held a secret is in the
//! journal by its redacted name and a fingerprint of its full name; its full name is found
//! again among the refs that exist (or in the backup), never read from the journal.

use super::journal::{Journal, JournalRef};
use super::{PushReport, RefsReport, Removal};
use crate::core::git::aftercare::{self, PushOutcome, PushSpec};
use crate::core::git::command::GitCommand;
use crate::core::git::error::GitError;
use crate::core::git::rewrite::{self, RefMove, WorktreeRefUpdate};
use crate::core::git::tips;
use crate::core::secret::fingerprint;
use crate::core::shell;
use git2::{Oid, Repository};
use std::path::Path;

/// Every ref name in `repo`.
fn ref_names(repo: &Repository) -> Result<Vec<String>, GitError> {
    let references = repo
        .references()
        .map_err(|e| GitError::libgit2("cannot list refs", e))?;
    Ok(references
        .flatten()
        .filter_map(|r| r.name().map(str::to_string))
        .collect())
}

/// The full name of the journal's ref `jr` among `names` (for one whose name held a secret,
/// by fingerprint).
fn full_name<'n>(jr: &JournalRef, names: &'n [String]) -> Option<&'n str> {
    match &jr.fingerprint {
        None => names.iter().find(|n| **n == jr.name).map(String::as_str),
        Some(fp) => names
            .iter()
            .find(|n| fingerprint(n) == *fp)
            .map(String::as_str),
    }
}

/// Where the ref `name` points now (never named in an error: it may be a secret's name).
fn current(repo: &Repository, name: &str) -> Result<Option<Oid>, GitError> {
    rewrite::ref_target(repo, name, "a ref")
}

/// Moves every ref the journal lists, renames the refs whose name held a secret (their
/// branch settings too), moves each worktree's own refs and points HEADs at renamed
/// branches. Finishes an interrupted run of itself.
pub(super) fn move_all(repo: &Repository, journal: &Journal) -> Result<RefsReport, GitError> {
    let names = if journal.refs.iter().any(|r| r.fingerprint.is_some()) {
        ref_names(repo)?
    } else {
        Vec::new()
    };
    let mut moves = Vec::new();
    let mut renames = Vec::new();
    for jr in &journal.refs {
        match (&jr.renamed, &jr.fingerprint) {
            (Some(renamed), fp) => {
                moves.push(RefMove {
                    name: renamed.clone(),
                    shown: renamed.clone(),
                    old: None,
                    new: Some(jr.new.0),
                });
                let old_name = match fp {
                    Some(_) => full_name(jr, &names).map(str::to_string),
                    None => Some(jr.name.clone()),
                };
                // Gone already: an interrupted run deleted it.
                if let Some(old_name) = old_name {
                    renames.push((old_name.clone(), renamed.clone()));
                    moves.push(RefMove {
                        name: old_name,
                        shown: jr.name.clone(),
                        old: Some(jr.old.0),
                        new: None,
                    });
                }
            }
            (None, _) => moves.push(RefMove {
                name: jr.name.clone(),
                shown: jr.name.clone(),
                old: Some(jr.old.0),
                new: Some(jr.new.0),
            }),
        }
    }
    let moved = rewrite::move_refs(repo, &moves)?;
    for (old, new) in &renames {
        rename_branch_settings(repo, old, new)?;
    }
    let worktree_refs: Vec<WorktreeRefUpdate> =
        journal.worktree_refs.iter().map(|u| u.forward()).collect();
    let worktree_moved = rewrite::move_worktree_refs(&worktree_refs)?;
    let heads = rewrite::repoint_heads(repo, |target| {
        let fp = fingerprint(target);
        journal
            .refs
            .iter()
            .find(|r| r.fingerprint.as_deref() == Some(fp.as_str()))
            .and_then(|r| r.renamed.clone())
    })?;
    Ok(RefsReport {
        moved: moved.moved,
        already: moved.already,
        worktree_refs: worktree_moved,
        heads_repointed: heads,
    })
}

/// `branch.<old>.*` settings (upstream, merge…) moved to `branch.<new>.*`: the section's name
/// held the secret too.
fn rename_branch_settings(repo: &Repository, old: &str, new: &str) -> Result<(), GitError> {
    let (Some(old), Some(new)) = (
        old.strip_prefix("refs/heads/"),
        new.strip_prefix("refs/heads/"),
    ) else {
        return Ok(());
    };
    let path = repo.commondir().join("config");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    // A section header names the branch quoted: `[branch "NAME"]`. Renaming it in the text
    // keeps every setting, comment and the layout as git would (`git branch -m`).
    let from = format!("[branch \"{old}\"]");
    if !text.contains(&from) {
        return Ok(());
    }
    let to = format!("[branch \"{new}\"]");
    let renamed = text.replace(&from, &to);
    crate::core::fs::write_atomic(
        &path,
        renamed.as_bytes(),
        crate::core::fs::Mode::KeepOr(0o644),
    )
    .map_err(|e| GitError::io("cannot write", &path, std::io::Error::other(e.to_string())))
}

/// Pushes the rewritten branches, tags and notes to `remote` (with `--include-remotes`, also
/// every rewritten branch of that remote under its own name), from `dir`.
pub(super) fn push(
    repo: &Repository,
    journal: &Journal,
    remote: &str,
    dir: &Path,
    removal: &Removal,
) -> Result<PushReport, GitError> {
    let mut specs: Vec<PushSpec> = Vec::new();
    let mut renamed_on_remote = Vec::new();
    for jr in &journal.refs {
        let name = jr.final_name();
        if aftercare::is_pushable(name) {
            specs.push(PushSpec {
                source: name.to_string(),
                destination: name.to_string(),
                shown: name.to_string(),
            });
            if jr.renamed.is_some() {
                renamed_on_remote.push((jr.name.clone(), name.to_string()));
            }
        }
    }
    if journal.include_remotes {
        let prefix = format!("refs/remotes/{remote}/");
        for jr in &journal.refs {
            let name = jr.final_name();
            let Some(branch) = name.strip_prefix(&prefix).filter(|b| *b != "HEAD") else {
                continue;
            };
            let destination = format!("refs/heads/{branch}");
            if specs.iter().any(|s| s.destination == destination) {
                continue;
            }
            specs.push(PushSpec {
                source: name.to_string(),
                destination: destination.clone(),
                shown: format!("{name} as {destination}"),
            });
            if jr.renamed.is_some() {
                let old = jr.name.strip_prefix(&prefix).unwrap_or(&jr.name);
                renamed_on_remote.push((format!("refs/heads/{old}"), destination));
            }
        }
    }
    let raw_url = tips::remotes(repo)
        .into_iter()
        .find(|r| r.name == remote)
        .and_then(|r| r.url);
    let url = raw_url.as_deref().map(tips::display_url);
    let result = aftercare::force_push(repo, dir, remote, &specs)?;
    let failure = result.failure.as_deref().map(|text| {
        let text = match (&raw_url, &url) {
            (Some(raw), Some(shown)) if !raw.is_empty() => text.replace(raw.as_str(), shown),
            _ => text.to_string(),
        };
        removal.show(&text)
    });
    Ok(PushReport {
        remote: remote.to_string(),
        url,
        refs: result
            .refs
            .into_iter()
            .map(|(spec, outcome)| {
                let outcome = match outcome {
                    PushOutcome::Rejected(why) => PushOutcome::Rejected(removal.show(&why)),
                    other => other,
                };
                (spec.shown, outcome)
            })
            .collect(),
        failure,
        renamed_on_remote,
    })
}

/// `git -C DIR push --force REMOTE SPEC…`, each word quoted for a shell where needed.
pub(super) fn push_command(dir: &Path, remote: &str, specs: &[String]) -> String {
    let mut command = format!(
        "git -C {} push --force {}",
        shell::path(dir),
        shell::word(remote)
    );
    for spec in specs {
        command.push(' ');
        command.push_str(&shell::word(spec));
    }
    command
}

/// Puts every shared ref back to its value in the backup `bundle` (reading the bundle's
/// objects in first when gc has removed the old history), removes the refs the purge
/// created under new names, and moves each worktree's own refs and HEAD back. Returns how
/// many refs changed.
pub(super) fn restore_all(
    repo: &Repository,
    journal: &Journal,
    bundle: &Path,
) -> Result<usize, GitError> {
    let ours: std::collections::HashSet<Oid> = journal.refs.iter().map(|r| r.new.0).collect();
    rewrite::remove_stale_locks(repo, &ours);
    let original: Vec<(String, Oid)> = if bundle.exists() {
        aftercare::bundle_refs(bundle)?
    } else {
        journal
            .refs
            .iter()
            .filter(|r| r.fingerprint.is_none())
            .map(|r| (r.name.clone(), r.old.0))
            .collect()
    };
    if bundle.exists()
        && original
            .iter()
            .any(|(_, oid)| !super::has_object(repo, *oid))
    {
        GitCommand::in_dir(repo.commondir())
            .arg("bundle")
            .arg("unbundle")
            .arg(bundle)
            .run("git bundle unbundle")?;
    }
    let shown = |name: &str| -> String {
        let fp = fingerprint(name);
        journal
            .refs
            .iter()
            .find(|r| r.fingerprint.as_deref() == Some(fp.as_str()))
            .map_or_else(|| name.to_string(), |r| r.name.clone())
    };
    let mut moves = Vec::new();
    for (name, oid) in &original {
        let now = current(repo, name)?;
        if now != Some(*oid) {
            moves.push(RefMove {
                name: name.clone(),
                shown: shown(name),
                old: now,
                new: Some(*oid),
            });
        }
    }
    let mut renames_back = Vec::new();
    for jr in &journal.refs {
        let Some(renamed) = &jr.renamed else {
            continue;
        };
        if original.iter().any(|(n, _)| n == renamed) {
            continue;
        }
        if let Some(old_name) = original.iter().map(|(n, _)| n).find(|n| {
            jr.fingerprint
                .as_deref()
                .is_some_and(|fp| fingerprint(n) == fp)
        }) {
            renames_back.push((renamed.clone(), old_name.clone()));
        }
        if let Some(now) = current(repo, renamed)? {
            moves.push(RefMove {
                name: renamed.clone(),
                shown: renamed.clone(),
                old: Some(now),
                new: None,
            });
        }
    }
    let moved = rewrite::move_refs(repo, &moves)?;
    for (new, old) in &renames_back {
        rename_branch_settings(repo, new, old)?;
    }
    let back: Vec<WorktreeRefUpdate> = journal.worktree_refs.iter().map(|u| u.back()).collect();
    let worktree_moved = rewrite::move_worktree_refs(&back)?;
    rewrite::repoint_heads(repo, |target| {
        renames_back
            .iter()
            .find(|(new, _)| new == target)
            .map(|(_, old)| old.clone())
    })?;
    Ok(moved.moved + worktree_moved)
}
