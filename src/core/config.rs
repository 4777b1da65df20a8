//! `.keywarden.toml`: a repository's scan settings (path and value allowlists, size limit),
//! its own rules and the built-ins it disables, what the hooks block, and the rotation
//! policy (`[rotation]`). The user's own configuration (`config.toml` in
//! `$XDG_CONFIG_HOME/keywarden`) holds settings that are the person's rather than the
//! repository's: today the rotation policy. Unknown keys are errors, so a typo cannot
//! silently switch protection off; errors name the file and the line.

use crate::core::envfiles::{self, EnvFilePolicy, EnvPolicyError};
use crate::core::registry::policy::RotationSettings;
use crate::core::rules::{Rule, RuleError, RuleSet};
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const CONFIG_FILE_NAME: &str = ".keywarden.toml";
/// The user's configuration file, in keywarden's directory of the user's configuration.
pub const USER_CONFIG_FILE_NAME: &str = "config.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {source}")]
    Rules { path: PathBuf, source: RuleError },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub scan: ScanSettings,
    #[serde(default)]
    pub allowlist: Allowlist,
    /// Ids of built-in rules to switch off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// The repository's own rules (same schema as the built-in rule files); a rule with a
    /// built-in's id replaces it.
    #[serde(default)]
    pub rule: Vec<Rule>,
    /// What the git hooks block: env-file names, already committed keys, the baseline.
    #[serde(default)]
    pub hooks: HookSettings,
    /// `[rotation]` as written; checked into `rotation` when the file is parsed.
    #[serde(default, rename = "rotation")]
    rotation_table: toml::Table,
    /// How old keys may get (`[rotation]`).
    #[serde(skip)]
    pub rotation: RotationSettings,
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// The user's configuration: `config.toml` in `$XDG_CONFIG_HOME/keywarden`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    #[serde(default, rename = "rotation")]
    rotation_table: toml::Table,
    /// How old keys may get (`[rotation]`), where the repository says nothing.
    #[serde(skip)]
    pub rotation: RotationSettings,
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl UserConfig {
    /// Reads `path`; a missing file is the default configuration.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(UserConfig::default())
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: UserConfig = from_toml(text, path)?;
        config.source = Some(path.to_path_buf());
        config.rotation = rotation(&config.rotation_table, text, path)?;
        Ok(config)
    }
}

/// Deserializes a configuration file; a syntax or type error names the file and the line.
fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: e.span().map(|span| line_of(text, span.start)).unwrap_or(1),
        message: e.message().trim().to_string(),
    })
}

/// The 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// Checks a `[rotation]` table; an error names the file, the line and the setting.
fn rotation(table: &toml::Table, text: &str, path: &Path) -> Result<RotationSettings, ConfigError> {
    RotationSettings::from_toml(table).map_err(|e| {
        // The setting's line: the first mention of its name after the `[rotation` header.
        let start = text.find("[rotation").unwrap_or(0);
        let at = text[start..]
            .find(e.needle.as_str())
            .map_or(start, |i| start + i);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, at),
            message: e.to_string(),
        }
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSettings {
    /// Files larger than this many bytes are skipped (with a note). Default 10 MiB.
    pub max_file_size: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// Globs of paths (relative to the repository root) that are never reported.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Regexes: a secret matching one is never reported.
    #[serde(default)]
    pub regexes: Vec<String>,
}

/// `[hooks]`: the pre-commit and pre-push policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookSettings {
    /// Globs on file names that must never be committed (default `.env`, `.env.*`,
    /// `*.env`). Replaces the default list when given.
    pub env_files: Option<Vec<String>>,
    /// Globs on file names that are allowed even when `env_files` matches (default
    /// `*.example`, `*.sample`, `*.template`, `*.dist`, …). Replaces the default list.
    pub allowed_env_files: Option<Vec<String>>,
    /// A key that an earlier commit already holds: `warn` (default) or `block`.
    #[serde(default)]
    pub already_committed: AlreadyCommitted,
    /// Findings recorded here do not block (default `.keywarden-baseline.json` at the
    /// repository root, when it exists).
    pub baseline: Option<PathBuf>,
}

/// What a hook does about a key that was committed before this change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlreadyCommitted {
    /// Report it with a pointer to `keywarden incident`, and let the commit through.
    #[default]
    Warn,
    /// Block the commit like a new key.
    Block,
}

impl Config {
    /// Reads `path`. Errors carry the path and line.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Reads `.keywarden.toml` in `dir` if there is one; the default configuration if not.
    pub fn load_from_dir(dir: &Path) -> Result<Self, ConfigError> {
        let path = dir.join(CONFIG_FILE_NAME);
        if path.is_file() {
            Self::load(&path)
        } else {
            Ok(Config::default())
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Config = from_toml(text, path)?;
        config.source = Some(path.to_path_buf());
        config.rotation = rotation(&config.rotation_table, text, path)?;
        config.path_allowlist()?;
        if let Err(e) = config.env_file_policy() {
            let needle = if e.to_string().contains("allowed_env_files") {
                "allowed_env_files"
            } else {
                "env_files"
            };
            return Err(config.invalid(text, needle, e.to_string()));
        }
        for (i, re) in config.allowlist.regexes.iter().enumerate() {
            if let Err(e) = regex::bytes::Regex::new(re) {
                return Err(config.invalid(
                    text,
                    re,
                    format!(
                        "allowlist.regexes[{i}] is not a valid regex: {}",
                        last_line(&e.to_string())
                    ),
                ));
            }
        }
        Ok(config)
    }

    fn invalid(&self, text: &str, needle: &str, message: String) -> ConfigError {
        let line = text.find(needle).map_or(1, |at| line_of(text, at));
        ConfigError::Invalid {
            path: self.source.clone().unwrap_or_default(),
            line,
            message,
        }
    }

    fn source_path(&self) -> PathBuf {
        self.source
            .clone()
            .unwrap_or_else(|| PathBuf::from(CONFIG_FILE_NAME))
    }

    /// The built-in rules with this configuration's rules added and disabled rules removed.
    pub fn rule_set(&self) -> Result<RuleSet, ConfigError> {
        let wrap = |source| ConfigError::Rules {
            path: self.source_path(),
            source,
        };
        let mut set = RuleSet::builtin().map_err(wrap)?;
        set.extend(self.rule.clone()).map_err(wrap)?;
        set.disable(&self.disable).map_err(wrap)?;
        Ok(set)
    }

    pub fn path_allowlist(&self) -> Result<GlobSet, ConfigError> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &self.allowlist.paths {
            let glob = Glob::new(pattern).map_err(|e| ConfigError::Invalid {
                path: self.source_path(),
                line: 1,
                message: format!("allowlist.paths: {e}"),
            })?;
            builder.add(glob);
        }
        builder.build().map_err(|e| ConfigError::Invalid {
            path: self.source_path(),
            line: 1,
            message: format!("allowlist.paths: {e}"),
        })
    }

    pub fn allowed_secret_regexes(&self) -> Vec<regex::bytes::Regex> {
        self.allowlist
            .regexes
            .iter()
            .filter_map(|re| regex::bytes::Regex::new(re).ok())
            .collect()
    }

    /// The env-file name policy: the defaults, or the lists `[hooks]` gives.
    pub fn env_file_policy(&self) -> Result<EnvFilePolicy, EnvPolicyError> {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let blocked = self
            .hooks
            .env_files
            .clone()
            .unwrap_or_else(|| owned(envfiles::DEFAULT_BLOCKED));
        let allowed = self
            .hooks
            .allowed_env_files
            .clone()
            .unwrap_or_else(|| owned(envfiles::DEFAULT_ALLOWED));
        EnvFilePolicy::new(&blocked, &allowed)
    }

    pub fn max_file_size(&self) -> u64 {
        self.scan
            .max_file_size
            .unwrap_or(crate::core::scan::DEFAULT_MAX_FILE_SIZE)
    }
}

fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_file_and_line() {
        let err = Config::parse(
            "[scan]\nmax_file_size = 1\nbogus = 2\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("x.toml:3:"), "{err}");
    }

    #[test]
    fn bad_allowlist_regex_names_its_line() {
        let err = Config::parse(
            "[allowlist]\nregexes = [\n  '(oops',\n]\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("c.toml:3:"), "{err}");
    }

    #[test]
    fn hooks_section_parses_and_rejects_unknown_keys() {
        let config = Config::parse(
            "[hooks]\nenv_files = [\"*.secret\"]\nalready_committed = \"block\"\n",
            Path::new("c.toml"),
        )
        .expect("parses");
        assert_eq!(config.hooks.already_committed, AlreadyCommitted::Block);
        let policy = config.env_file_policy().expect("valid");
        assert!(policy.is_blocked("x.secret"));
        assert!(!policy.is_blocked(".env"));
        let err = Config::parse("[hooks]\nbogus = 1\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:2:"), "{err}");
        let err = Config::parse("[hooks]\n\nenv_files = [\"[\"]\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:3:"), "{err}");
    }

    #[test]
    fn rotation_settings_are_read_and_bad_ones_name_file_line_and_setting() {
        let config = Config::parse(
            "[rotation]\nmax_age_days = 60\n\n[rotation.providers]\nopenai = 30\n",
            Path::new("c.toml"),
        )
        .expect("parses");
        assert_eq!(config.rotation.max_age_days, Some(60));
        let err = Config::parse(
            "# max_age_days in days\n[rotation]\nmax_age_days = 90\n[rotation.providers]\nopnai = 30\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err.split(" (one of").next(),
            Some("c.toml:5: rotation.providers.opnai: unknown provider"),
            "{err}"
        );
        let err = UserConfig::parse("[rotation]\nmax_age_days = -3\n", Path::new("u.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "u.toml:2: rotation.max_age_days: must be a whole number of days from 1 to 36500, not `-3`"
        );
        let err = UserConfig::parse("[scan]\nmax_file_size = 1\n", Path::new("u.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("u.toml:1:"), "{err}");
        let missing = UserConfig::load(Path::new("/nonexistent/keywarden/config.toml"))
            .expect("a missing file is the default");
        assert_eq!(missing.rotation, RotationSettings::default());
    }

    #[test]
    fn unknown_disabled_rule_is_an_error() {
        let config = Config::parse("disable = [\"nope\"]\n", Path::new("c.toml")).expect("parses");
        let err = config.rule_set().unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
