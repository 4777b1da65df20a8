//! Which paths a purge's `--delete-path` drops: the globs (matched against the path from
//! the repository root, `*` not crossing `/`), and a check on a single file name that lets
//! the rewrite leave alone every tree in which no name could match.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("{pattern}: {message}")]
pub struct BadPattern {
    pub pattern: String,
    pub message: String,
}

pub struct DeletePaths {
    full: GlobSet,
    /// The last component of every pattern, when each has one that matches a single name
    /// (no `**`, no braces that could hide a `/`): a path matches only if its file name
    /// matches one of these.
    names: Option<GlobSet>,
}

fn glob(pattern: &str) -> Result<Glob, BadPattern> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| BadPattern {
            pattern: pattern.to_string(),
            message: e.kind().to_string(),
        })
}

fn set(builder: GlobSetBuilder) -> Result<GlobSet, BadPattern> {
    builder.build().map_err(|e| BadPattern {
        pattern: String::new(),
        message: e.to_string(),
    })
}

impl DeletePaths {
    /// `None` when no pattern is given.
    pub fn new(patterns: &[String]) -> Result<Option<Self>, BadPattern> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let mut full = GlobSetBuilder::new();
        let mut names = Some(GlobSetBuilder::new());
        for pattern in patterns {
            let pattern = pattern.trim_start_matches('/');
            full.add(glob(pattern)?);
            let last = pattern.rsplit('/').next().unwrap_or(pattern);
            if last.contains("**") || pattern.contains('{') || last.is_empty() {
                names = None;
            }
            if let Some(names) = &mut names {
                names.add(glob(last)?);
            }
        }
        Ok(Some(DeletePaths {
            full: set(full)?,
            names: names.map(set).transpose()?,
        }))
    }

    pub fn is_match(&self, path: &str) -> bool {
        self.full.is_match(path)
    }

    /// Whether an entry called `name` might be dropped, wherever it is; always `true` when
    /// the patterns allow no such check.
    pub fn may_match_name(&self, name: &[u8]) -> bool {
        match &self.names {
            Some(names) => names.is_match(String::from_utf8_lossy(name).as_ref()),
            None => true,
        }
    }

    /// Whether [`DeletePaths::may_match_name`] ever says no, so that trees can be skipped.
    pub fn checks_names(&self) -> bool {
        self.names.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(patterns: &[&str]) -> DeletePaths {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        DeletePaths::new(&patterns).expect("valid").expect("some")
    }

    #[test]
    fn a_name_check_is_a_necessary_condition_for_a_match() {
        let d = paths(&["**/.env", "config/*.pem", "/secrets.txt"]);
        assert!(d.checks_names());
        for (path, matches) in [
            (".env", true),
            ("app/deep/.env", true),
            ("config/server.pem", true),
            ("config/sub/server.pem", false),
            ("secrets.txt", true),
            ("docs/secrets.txt", false),
            (".env.example", false),
        ] {
            assert_eq!(d.is_match(path), matches, "{path}");
            let name = path.rsplit('/').next().expect("a name");
            if matches {
                assert!(d.may_match_name(name.as_bytes()), "{path}");
            }
        }
        assert!(!d.may_match_name(b"main.rs"));
    }

    #[test]
    fn patterns_without_a_single_name_part_check_nothing() {
        for pattern in ["vendor/**", "{a,b/c}", "**"] {
            let d = paths(&[pattern]);
            assert!(!d.checks_names(), "{pattern}");
            assert!(d.may_match_name(b"anything"));
        }
    }
}
