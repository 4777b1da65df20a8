//! Which file names are environment files (`.env`, `.env.local`, `prod.env` …) that must
//! never be committed, and which are templates that may (`.env.example` …). The policy
//! matches globs against the file *name* only — never a substring test on "env", which
//! would flag `environment.ts` or `envoy.yaml`.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use thiserror::Error;

/// Names that are blocked unless an allowed pattern also matches.
pub const DEFAULT_BLOCKED: &[&str] = &[".env", ".env.*", "*.env"];

/// Templates that document which variables exist, without values.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "*.example",
    "*.sample",
    "*.template",
    "*.dist",
    "*.tpl",
    "*.defaults",
];

#[derive(Debug, Error)]
pub enum EnvPolicyError {
    #[error("hooks.{field}: invalid pattern `{pattern}`: {message}")]
    BadPattern {
        field: &'static str,
        pattern: String,
        message: String,
    },
}

/// The compiled name policy.
#[derive(Debug, Clone)]
pub struct EnvFilePolicy {
    blocked: GlobSet,
    allowed: GlobSet,
}

impl Default for EnvFilePolicy {
    fn default() -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Self::new(&owned(DEFAULT_BLOCKED), &owned(DEFAULT_ALLOWED))
            .expect("the built-in env-file patterns are valid globs")
    }
}

impl EnvFilePolicy {
    pub fn new(blocked: &[String], allowed: &[String]) -> Result<Self, EnvPolicyError> {
        Ok(EnvFilePolicy {
            blocked: build("env_files", blocked)?,
            allowed: build("allowed_env_files", allowed)?,
        })
    }

    /// Whether the file at `path` (a repository path with `/` separators, or a bare name)
    /// is an environment file that must not be committed.
    pub fn is_blocked(&self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        self.blocked.is_match(name) && !self.allowed.is_match(name)
    }
}

fn build(field: &'static str, patterns: &[String]) -> Result<GlobSet, EnvPolicyError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| EnvPolicyError::BadPattern {
                field,
                pattern: pattern.clone(),
                message: e.kind().to_string(),
            })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| EnvPolicyError::BadPattern {
        field,
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

const EXAMPLE_HEADER: &str = include_str!("../../templates/env.example.header");

/// A `.env.example` for `env`: the header from `templates/env.example.header`, then every
/// line of `env` in order with each value emptied (`KEY=`, `export KEY=`). Comments, blank
/// lines, inline comments after a value and the file's line endings are kept; the lines of
/// a multi-line quoted value are dropped with it.
pub fn example_from_env(env: &str) -> String {
    let newline = if env.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out: String = EXAMPLE_HEADER
        .lines()
        .map(|l| format!("{l}{newline}"))
        .collect();
    let mut open_quote: Option<char> = None;
    for raw in env.split_inclusive('\n') {
        let line = raw.trim_end_matches(['\r', '\n']);
        let ending = &raw[line.len()..];
        if let Some(quote) = open_quote {
            if line.contains(quote) {
                open_quote = None;
            }
            continue;
        }
        let trimmed = line.trim_start();
        let Some(eq) = line.find('=').filter(|_| !trimmed.starts_with('#')) else {
            out.push_str(line);
            out.push_str(ending);
            continue;
        };
        let (name, value) = (&line[..eq], &line[eq + 1..]);
        let rest = value.trim_start();
        let comment = match rest.chars().next() {
            Some(q @ ('"' | '\'' | '`')) => match rest[1..].find(q) {
                Some(close) => comment_after(&rest[close + 2..]),
                None => {
                    open_quote = Some(q);
                    ""
                }
            },
            _ => comment_after(value),
        };
        out.push_str(name);
        out.push('=');
        out.push_str(comment);
        out.push_str(ending);
    }
    if !out.ends_with('\n') {
        out.push_str(newline);
    }
    out
}

/// An inline comment (` # …`, preceded by whitespace as dotenv requires) in `text`.
fn comment_after(text: &str) -> &str {
    let bytes = text.as_bytes();
    (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()))
        .map(|i| {
            let start = text[..i].trim_end().len();
            if start == 0 && i == 0 {
                &text[i..]
            } else {
                &text[start..]
            }
        })
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_blocked_by_name() {
        let policy = EnvFilePolicy::default();
        for name in [
            ".env",
            ".env.local",
            ".env.production",
            "config/.env",
            "prod.env",
            "deploy/staging.env",
        ] {
            assert!(policy.is_blocked(name), "{name} should be blocked");
        }
    }

    #[test]
    fn templates_and_lookalikes_are_allowed() {
        let policy = EnvFilePolicy::default();
        for name in [
            ".env.example",
            ".env.sample",
            ".env.template",
            ".env.dist",
            ".env.production.example",
            "environment.ts",
            "env.py",
            "src/env/config.rs",
            ".envrc.md",
            "dotenv.go",
            "my.environment",
        ] {
            assert!(!policy.is_blocked(name), "{name} should be allowed");
        }
    }

    #[test]
    fn policy_is_configurable() {
        let policy = EnvFilePolicy::new(&["secrets.*".into()], &["secrets.md".into()])
            .expect("valid patterns");
        assert!(policy.is_blocked("a/secrets.json"));
        assert!(!policy.is_blocked("secrets.md"));
        assert!(!policy.is_blocked(".env"));
    }

    #[test]
    fn bad_pattern_names_the_field() {
        let err = EnvFilePolicy::new(&["[".into()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("hooks.env_files:"), "{err}");
    }

    #[test]
    fn example_empties_values_and_keeps_the_rest() {
        let env = "# OpenAI\r\nexport OPENAI_API_KEY=\"abc def\" # prod\r\nURL=http://x/#frag\r\n\r\nPEM=\"line1\r\nline2\"\r\nDEBUG=1 # on\r\n";
        let example = example_from_env(env);
        let body: Vec<&str> = example.split("\r\n").skip(2).collect();
        assert_eq!(
            body,
            [
                "# OpenAI",
                "export OPENAI_API_KEY= # prod",
                "URL=",
                "",
                "PEM=",
                "DEBUG= # on",
                ""
            ]
        );
        assert!(example.starts_with("# Copy this file"));
    }
}
