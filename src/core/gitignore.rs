//! Making `.gitignore` cover local env files: a marked block from
//! `templates/gitignore-block`, holding only the patterns that are not already effective —
//! libgit2 is asked whether a path is ignored, so `.env*`, `**/.env` or a rule in
//! `.git/info/exclude` count as much as the exact line. The file keeps its line endings.

use git2::Repository;
use std::path::PathBuf;
use thiserror::Error;

const BLOCK: &str = include_str!("../../templates/gitignore-block");
const PROBE: &str = "keywarden-probe";

#[derive(Debug, Error)]
pub enum GitignoreError {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot ask git whether {path} is ignored")]
    Query {
        path: String,
        #[source]
        source: git2::Error,
    },
}

/// A proposed change to `.gitignore`.
#[derive(Debug, Clone)]
pub struct GitignorePlan {
    pub path: PathBuf,
    pub before: String,
    pub after: String,
    /// The pattern lines added.
    pub added: Vec<String>,
}

/// One pattern of the template and whether the repository already behaves as it asks.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub pattern: String,
    /// The path checked (`.env.keywarden-probe` for `.env.*`).
    pub probe: String,
    pub effective: bool,
}

fn template_patterns() -> Vec<String> {
    BLOCK
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn probe_for(pattern: &str) -> (String, bool) {
    let (body, negated) = match pattern.strip_prefix('!') {
        Some(rest) => (rest, true),
        None => (pattern, false),
    };
    (body.replace('*', PROBE), negated)
}

fn is_ignored(repo: &Repository, path: &str) -> Result<bool, GitignoreError> {
    repo.is_path_ignored(path)
        .map_err(|source| GitignoreError::Query {
            path: path.to_string(),
            source,
        })
}

/// How well the repository's ignore rules cover the env files the template ignores
/// (its exceptions are a repository's own choice, so they are not judged).
pub fn coverage(repo: &Repository) -> Result<Vec<Coverage>, GitignoreError> {
    template_patterns()
        .into_iter()
        .filter(|pattern| !pattern.starts_with('!'))
        .map(|pattern| {
            let (probe, negated) = probe_for(&pattern);
            let ignored = is_ignored(repo, &probe)?;
            Ok(Coverage {
                effective: ignored != negated,
                probe,
                pattern,
            })
        })
        .collect()
}

/// The change `.gitignore` needs, or `None` when every pattern is already effective (or
/// the repository is bare). A negation (`!.env.example`) is only added when the added
/// patterns would otherwise start ignoring that template: a template the repository
/// already ignores on purpose stays ignored.
pub fn plan(repo: &Repository) -> Result<Option<GitignorePlan>, GitignoreError> {
    let Some(workdir) = repo.workdir() else {
        return Ok(None);
    };
    let mut needed = Vec::new();
    let mut negations = Vec::new();
    for pattern in template_patterns() {
        let (probe, negated) = probe_for(&pattern);
        let ignored = is_ignored(repo, &probe)?;
        if negated {
            if !ignored {
                negations.push((pattern, probe));
            }
        } else if !ignored {
            needed.push(pattern);
        }
    }
    if !needed.is_empty() && !negations.is_empty() {
        // A scratch handle: in-memory rules must not leak into the caller's repository.
        let scratch = Repository::open(repo.path()).map_err(|source| GitignoreError::Query {
            path: ".gitignore".into(),
            source,
        })?;
        scratch
            .add_ignore_rule(&needed.join("\n"))
            .map_err(|source| GitignoreError::Query {
                path: ".gitignore".into(),
                source,
            })?;
        for (pattern, probe) in negations {
            if is_ignored(&scratch, &probe)? {
                needed.push(pattern);
            }
        }
    }
    if needed.is_empty() {
        return Ok(None);
    }
    let path = workdir.join(".gitignore");
    let before = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(GitignoreError::Io { path, source: e }),
    };
    let after = with_block(&before, &needed);
    Ok(Some(GitignorePlan {
        path,
        before,
        after,
        added: needed,
    }))
}

/// `text` with a keywarden block holding `patterns` (merged into an existing block).
fn with_block(text: &str, patterns: &[String]) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines = BLOCK.lines();
    let start = lines.next().unwrap_or("# >>> keywarden >>>");
    let end = BLOCK.lines().last().unwrap_or("# <<< keywarden <<<");
    let start_marker = "# >>> keywarden >>>";
    if let Some(at) = text.find(start_marker) {
        // Add the missing lines just before the existing block's end marker.
        if let Some(end_at) = text[at..].find(end).map(|i| at + i) {
            let mut out = text[..end_at].to_string();
            for pattern in patterns {
                out.push_str(pattern);
                out.push_str(newline);
            }
            out.push_str(&text[end_at..]);
            return out;
        }
    }
    let mut out = text.to_string();
    if !out.is_empty() {
        if !out.ends_with('\n') {
            out.push_str(newline);
        }
        out.push_str(newline);
    }
    out.push_str(start);
    out.push_str(newline);
    for pattern in patterns {
        out.push_str(pattern);
        out.push_str(newline);
    }
    out.push_str(end);
    out.push_str(newline);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_replace_wildcards() {
        assert_eq!(probe_for(".env.*"), (".env.keywarden-probe".into(), false));
        assert_eq!(probe_for("!.env.example"), (".env.example".into(), true));
    }

    #[test]
    fn block_keeps_crlf_and_adds_a_separator() {
        let out = with_block("node_modules\r\n", &[".env".into()]);
        assert!(out.starts_with("node_modules\r\n\r\n# >>> keywarden >>>"));
        assert!(out.ends_with(".env\r\n# <<< keywarden <<<\r\n"));
        assert!(!out.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn missing_lines_join_an_existing_block() {
        let first = with_block("", &[".env".into()]);
        let second = with_block(&first, &["*.env".into()]);
        assert_eq!(second.matches("# >>> keywarden >>>").count(), 1);
        assert!(second.contains(".env\n*.env\n# <<< keywarden <<<"));
    }
}
