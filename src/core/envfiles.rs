//! Which file names are environment files (`.env`, `.env.local`, `prod.env` …) that must
//! never be committed, and which are templates that may (`.env.example` …). The policy
//! matches globs against the file *name* only — never a substring test on "env", which
//! would flag `environment.ts` or `envoy.yaml`.

use crate::core::envfile::{Document, LineKind};
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
    /// The blocked patterns as written.
    blocked_patterns: Vec<String>,
}

/// direnv's file: shell syntax, but it holds keys as `export KEY=value` lines.
pub const ENVRC: &str = ".envrc";

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
            blocked_patterns: blocked.to_vec(),
        })
    }

    /// The name patterns of files that may hold keys: the blocked ones (templates such as
    /// `.env.example` included: a real key in one is still a key) and `.envrc`.
    pub fn key_file_patterns(&self) -> Vec<String> {
        let mut patterns = self.blocked_patterns.clone();
        if !patterns.iter().any(|p| p == ENVRC) {
            patterns.push(ENVRC.to_string());
        }
        patterns
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
/// line of `env` in order with each value emptied (`KEY=`, `export KEY=`, `KEY: `). Comments,
/// blank lines, inline comments after a value and the file's line endings are kept; the lines
/// of a multi-line quoted value are dropped with it. A line the `.env` reader cannot read
/// keeps only what stands before its first `=` (an unterminated quote takes the rest of the
/// file with it), so no value leaks into the template. A BOM is not copied.
pub fn example_from_env(env: &str) -> String {
    let newline = if env.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out: Vec<u8> = EXAMPLE_HEADER
        .lines()
        .flat_map(|l| [l, newline])
        .flat_map(str::bytes)
        .collect();
    let doc = Document::parse(env.as_bytes());
    for line in doc.lines() {
        let text = doc.bytes(&line.span);
        let ending = line.ending.as_bytes();
        match &line.kind {
            LineKind::Comment | LineKind::Blank => out.extend_from_slice(text),
            LineKind::Assignment(a) => {
                out.extend_from_slice(doc.bytes(&(line.span.start..a.prefix_end)));
                let trailer = doc.bytes(&a.trailer);
                if trailer.contains(&b'#') {
                    out.extend_from_slice(trailer);
                }
                out.extend_from_slice(ending);
            }
            LineKind::Opaque => match memchr::memchr(b'=', text) {
                Some(eq) => {
                    out.extend_from_slice(&text[..=eq]);
                    out.extend_from_slice(ending);
                }
                None => out.extend_from_slice(text),
            },
        }
    }
    if !out.ends_with(b"\n") {
        out.extend_from_slice(newline.as_bytes());
    }
    String::from_utf8_lossy(&out).into_owned()
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

    #[test]
    fn example_leaks_no_value_from_any_kind_of_line() {
        let env =
            "\u{feff}A: colon-value # c\nB=\"glued\"tail\nexport C='x' \nD=\"open\nsecret-line\n";
        let example = example_from_env(env);
        for value in ["colon-value", "glued", "tail", "x'", "open", "secret-line"] {
            assert!(!example.contains(value), "{value}: {example}");
        }
        let body: Vec<&str> = example.lines().skip(2).collect();
        assert_eq!(body, ["A:  # c", "B=", "export C=", "D="]);
        assert!(!example.contains('\u{feff}'));
        assert!(example.ends_with('\n'));
    }
}
