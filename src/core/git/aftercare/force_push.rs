//! Pushing the rewritten refs to a remote, which still has the old history until then, and
//! telling truthfully what happened to each ref: `git push --porcelain` reports one line per
//! ref, which is read back instead of trusting the exit code alone. git runs in the work
//! tree (where a relative remote URL such as `../r.git` is meant from), and the refspecs go
//! in through `GIT_CONFIG_*` variables rather than the command line, where other users could
//! read a ref name that holds a secret.

use crate::core::git::command::GitCommand;
use crate::core::git::error::GitError;
use crate::core::git::rewrite::Rewrite;
use git2::Repository;
use std::path::Path;

/// One ref to push: `source` (a local ref, or empty to delete) to `destination` on the
/// remote. `shown` is how the pair may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSpec {
    pub source: String,
    pub destination: String,
    pub shown: String,
}

impl PushSpec {
    fn refspec(&self) -> String {
        format!("+{}:{}", self.source, self.destination)
    }
}

/// What became of one ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote now has the new value (or had it already).
    Pushed,
    /// The remote refused it; git's reason.
    Rejected(String),
    /// git never got to it (the push failed before, or git said nothing of it).
    NotAttempted,
}

/// The outcome of each ref, in the order asked.
#[derive(Debug, Clone)]
pub struct PushResult {
    pub refs: Vec<(PushSpec, PushOutcome)>,
    /// What git said on stderr when the push failed as a whole (first lines), as git wrote
    /// it: the caller redacts it before showing it.
    pub failure: Option<String>,
}

impl PushResult {
    pub fn all_pushed(&self) -> bool {
        self.failure.is_none() && self.refs.iter().all(|(_, o)| *o == PushOutcome::Pushed)
    }
}

/// The refs a remote needs force-pushed: rewritten branches, tags and notes, under their
/// names after the purge.
pub fn refs_to_push(rewrite: &Rewrite) -> Vec<String> {
    rewrite
        .ref_updates
        .iter()
        .map(|u| u.final_name().to_string())
        .filter(|n| is_pushable(n))
        .collect()
}

/// Branches, tags and notes: the refs a remote has under the same name.
pub fn is_pushable(name: &str) -> bool {
    name.starts_with("refs/heads/")
        || name.starts_with("refs/tags/")
        || name.starts_with("refs/notes/")
}

/// `git push --force --porcelain REMOTE` with `specs`, run in `dir` (the work tree, or the
/// git dir of a bare repository). git's credential prompts still reach the terminal (git
/// opens it itself); its messages are captured and returned.
pub fn force_push(
    repo: &Repository,
    dir: &Path,
    remote: &str,
    specs: &[PushSpec],
) -> Result<PushResult, GitError> {
    if specs.is_empty() {
        return Ok(PushResult {
            refs: Vec::new(),
            failure: None,
        });
    }
    let key = format!("remote.{remote}.push");
    let has_own_push_config = repo
        .config()
        .ok()
        .and_then(|c| c.get_string(&key).ok())
        .is_some();
    let mut command = GitCommand::in_dir(dir).args(["push", "--porcelain", "--force", remote]);
    if has_own_push_config {
        // Refspecs on the command line replace the remote's configured ones.
        command = command.args(specs.iter().map(PushSpec::refspec));
    } else {
        command = command.env("GIT_CONFIG_COUNT", specs.len().to_string());
        for (i, spec) in specs.iter().enumerate() {
            command = command
                .env(format!("GIT_CONFIG_KEY_{i}"), &key)
                .env(format!("GIT_CONFIG_VALUE_{i}"), spec.refspec());
        }
    }
    let output = command.output("git push")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let refs = specs
        .iter()
        .map(|spec| (spec.clone(), outcome_of(&stdout, spec)))
        .collect();
    let failure = (!output.status.success()).then(|| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("remote: "))
            .take(3)
            .collect();
        if lines.is_empty() {
            "git push failed".to_string()
        } else {
            lines.join("; ")
        }
    });
    Ok(PushResult { refs, failure })
}

/// The porcelain line of `spec`: `<flag>\t<from>:<to>\t<summary> (<reason>)`.
fn outcome_of(porcelain: &str, spec: &PushSpec) -> PushOutcome {
    for line in porcelain.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(flag), Some(pair), summary) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some((_, to)) = pair.split_once(':') else {
            continue;
        };
        if to != spec.destination {
            continue;
        }
        return match flag {
            " " | "+" | "-" | "*" | "=" => PushOutcome::Pushed,
            _ => PushOutcome::Rejected(reason(summary.unwrap_or(""))),
        };
    }
    PushOutcome::NotAttempted
}

/// `[remote rejected] (pre-receive hook declined)` → `remote rejected: pre-receive hook
/// declined`.
fn reason(summary: &str) -> String {
    let summary = summary.trim();
    let (head, tail) = match summary.split_once(" (") {
        Some((head, tail)) => (head, Some(tail.trim_end_matches(')'))),
        None => (summary, None),
    };
    let head = head.trim_start_matches('[').trim_end_matches(']');
    match tail {
        Some(tail) => format!("{head}: {tail}"),
        None if head.is_empty() => "rejected".to_string(),
        None => head.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(to: &str) -> PushSpec {
        PushSpec {
            source: to.to_string(),
            destination: to.to_string(),
            shown: to.to_string(),
        }
    }

    #[test]
    fn each_ref_is_read_from_the_porcelain_report() {
        let porcelain = "To ../r.git\n+\trefs/heads/main:refs/heads/main\tabc...def (forced update)\n!\trefs/heads/x:refs/heads/x\t[remote rejected] (pre-receive hook declined)\n=\trefs/tags/v1:refs/tags/v1\t[up to date]\n!\trefs/heads/y:refs/heads/y\t[rejected] (stale info)\nDone\n";
        assert_eq!(
            outcome_of(porcelain, &spec("refs/heads/main")),
            PushOutcome::Pushed
        );
        assert_eq!(
            outcome_of(porcelain, &spec("refs/tags/v1")),
            PushOutcome::Pushed
        );
        assert_eq!(
            outcome_of(porcelain, &spec("refs/heads/x")),
            PushOutcome::Rejected("remote rejected: pre-receive hook declined".into())
        );
        assert_eq!(
            outcome_of(porcelain, &spec("refs/heads/y")),
            PushOutcome::Rejected("rejected: stale info".into())
        );
        assert_eq!(
            outcome_of(porcelain, &spec("refs/heads/z")),
            PushOutcome::NotAttempted
        );
    }
}
