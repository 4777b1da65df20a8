//! The process environment keywarden reads, taken once at start-up (`Environment::capture`)
//! and handed down explicitly: the clock (`KEYWARDEN_NOW`), the data directory
//! (`KEYWARDEN_HOME`), the keyring (`KEYWARDEN_KEYRING`), timeouts and poll intervals for
//! tests and slow gateways, provider credentials and base URLs
//! (`KEYWARDEN_<PROVIDER>_BASE_URL`), colour, the browser, and what GitHub Actions and
//! GitLab CI say about the run (`GITHUB_*`, `CI_*`). A value is checked
//! when it is used, so a malformed setting only stops the commands that need it — and then
//! with an error naming the variable, never by being ignored.
//!
//! git's own variables (`GIT_DIR`, `GIT_INDEX_FILE`, …) are not here: they belong to the
//! git protocol and are read where git would read them (`core::git`).

use crate::core::clock::{BadNow, Clock};
use crate::core::secret::Secret;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EnvironmentError {
    #[error(transparent)]
    BadNow(#[from] BadNow),
    #[error("{var} must be a whole number of milliseconds greater than 0, not `{value}`")]
    BadMilliseconds { var: &'static str, value: String },
    #[error("cannot find a home for keywarden's data: set KEYWARDEN_HOME")]
    NoHome,
    #[error("{var} must be a commit id (40 or 64 hexadecimal digits), not `{value}`")]
    BadCommitId { var: &'static str, value: String },
    #[error("{ci} is detected ({detected_by} is set) but {var} is not set")]
    MissingCiVar {
        ci: &'static str,
        detected_by: &'static str,
        var: &'static str,
    },
}

/// What GitHub Actions says about the run (`GITHUB_ACTIONS=true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubActions {
    /// `GITHUB_EVENT_NAME`: `push`, `pull_request`, `schedule`, …
    pub event_name: String,
    /// `GITHUB_EVENT_PATH`: the webhook payload of the event, as JSON.
    pub event_path: PathBuf,
    /// `GITHUB_SHA`: the commit the run is for.
    pub sha: String,
}

/// What GitLab CI says about the run (`GITLAB_CI=true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitlabCi {
    /// `CI_COMMIT_SHA`: the commit the pipeline is for.
    pub commit_sha: String,
    /// `CI_COMMIT_BEFORE_SHA`: the branch's previous tip on a push (all zeros on a new
    /// branch, a merge-request pipeline, a schedule…).
    pub before_sha: Option<String>,
    /// `CI_MERGE_REQUEST_DIFF_BASE_SHA`: in a merge-request pipeline, the base the merge
    /// request's diff is taken from.
    pub merge_request_diff_base_sha: Option<String>,
    /// `CI_PIPELINE_SOURCE`: `push`, `merge_request_event`, `schedule`, …
    pub pipeline_source: Option<String>,
}

/// The variables keywarden reads, with their values at start-up.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<&'static str, String>,
    os_vars: BTreeMap<&'static str, OsString>,
    /// `KEYWARDEN_<PROVIDER>_BASE_URL` values, by variable name.
    base_urls: BTreeMap<String, String>,
}

/// The variables that replace a provider's base URL: `KEYWARDEN_<PROVIDER>_BASE_URL`.
const BASE_URL_PREFIX: &str = "KEYWARDEN_";
const BASE_URL_SUFFIX: &str = "_BASE_URL";

fn is_base_url_var(var: &str) -> bool {
    var.len() > BASE_URL_PREFIX.len() + BASE_URL_SUFFIX.len()
        && var.starts_with(BASE_URL_PREFIX)
        && var.ends_with(BASE_URL_SUFFIX)
}

/// Variables read as text.
const TEXT_VARS: &[&str] = &[
    "KEYWARDEN_NOW",
    "KEYWARDEN_KEYRING",
    "KEYWARDEN_HTTP_TIMEOUT_MS",
    "KEYWARDEN_POLL_INTERVAL_MS",
    "OPENAI_ADMIN_KEY",
    "NO_COLOR",
    "KEYWARDEN_FAULT",
];

/// What GitHub Actions and GitLab CI say about the run, read as text. (Tests remove these,
/// with `GITHUB_EVENT_PATH`, so that a test run inside a CI job does not look like one.)
pub const CI_TEXT_VARS: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_NAME",
    "GITHUB_SHA",
    "GITLAB_CI",
    "CI_COMMIT_SHA",
    "CI_COMMIT_BEFORE_SHA",
    "CI_MERGE_REQUEST_DIFF_BASE_SHA",
    "CI_PIPELINE_SOURCE",
];

/// Variables that are paths or programs (any bytes).
const OS_VARS: &[&str] = &[
    "KEYWARDEN_HOME",
    "KEYWARDEN_SHIM",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "HOME",
    "APPDATA",
    "BROWSER",
    "GITHUB_EVENT_PATH",
];

impl Environment {
    /// Reads every variable keywarden uses from this process's environment.
    pub fn capture() -> Self {
        let mut env = Environment::default();
        for var in TEXT_VARS.iter().chain(CI_TEXT_VARS) {
            if let Ok(value) = std::env::var(var) {
                env.vars.insert(var, value);
            }
        }
        for var in OS_VARS {
            if let Some(value) = std::env::var_os(var) {
                env.os_vars.insert(var, value);
            }
        }
        for (var, value) in std::env::vars_os() {
            if let (Some(var), Some(value)) = (var.to_str(), value.to_str()) {
                if is_base_url_var(var) {
                    env.base_urls.insert(var.to_string(), value.to_string());
                }
            }
        }
        env
    }

    /// An environment with exactly these values (tests).
    pub fn from_pairs(pairs: &[(&'static str, &str)]) -> Self {
        let mut env = Environment::default();
        for (var, value) in pairs {
            if OS_VARS.contains(var) {
                env.os_vars.insert(var, OsString::from(value));
            } else if is_base_url_var(var) {
                env.base_urls.insert(var.to_string(), value.to_string());
            } else {
                env.vars.insert(var, value.to_string());
            }
        }
        env
    }

    fn text(&self, var: &str) -> Option<&str> {
        self.vars.get(var).map(String::as_str)
    }

    fn nonempty_os(&self, var: &str) -> Option<&OsString> {
        self.os_vars.get(var).filter(|v| !v.is_empty())
    }

    /// The clock: `KEYWARDEN_NOW` when set, else the system clock.
    pub fn clock(&self) -> Result<Clock, EnvironmentError> {
        Ok(Clock::from_setting(self.text("KEYWARDEN_NOW"))?)
    }

    /// keywarden's data directory: `KEYWARDEN_HOME`, else the platform data dir
    /// (`$XDG_DATA_HOME/keywarden`, `~/Library/Application Support/keywarden`,
    /// `%APPDATA%\keywarden`).
    pub fn data_home(&self) -> Result<PathBuf, EnvironmentError> {
        if let Some(home) = self.nonempty_os("KEYWARDEN_HOME") {
            return Ok(PathBuf::from(home));
        }
        let absolute = |var: &str| {
            self.nonempty_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let base = if cfg!(windows) {
            absolute("APPDATA")
        } else if cfg!(target_os = "macos") {
            absolute("HOME").map(|h| h.join("Library/Application Support"))
        } else {
            absolute("XDG_DATA_HOME").or_else(|| absolute("HOME").map(|h| h.join(".local/share")))
        };
        base.map(|b| b.join("keywarden"))
            .ok_or(EnvironmentError::NoHome)
    }

    /// The user's configuration directory for keywarden (`$XDG_CONFIG_HOME/keywarden`, else
    /// `~/.config/keywarden`), when one can be named.
    pub fn config_home(&self) -> Option<PathBuf> {
        let absolute = |var: &str| {
            self.nonempty_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        absolute("XDG_CONFIG_HOME")
            .or_else(|| absolute("HOME").map(|h| h.join(".config")))
            .map(|c| c.join("keywarden"))
    }

    /// The user's home directory (`HOME`), when it is set to an absolute path.
    pub fn home_dir(&self) -> Option<PathBuf> {
        self.nonempty_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    }

    /// Which keyring `KEYWARDEN_KEYRING` selects (empty: the best the OS has).
    pub fn keyring_selector(&self) -> &str {
        self.text("KEYWARDEN_KEYRING").map_or("", str::trim)
    }

    /// `KEYWARDEN_HTTP_TIMEOUT_MS`: the total time allowed for one provider request.
    pub fn http_timeout(&self) -> Result<Option<Duration>, EnvironmentError> {
        self.milliseconds("KEYWARDEN_HTTP_TIMEOUT_MS")
    }

    /// `KEYWARDEN_POLL_INTERVAL_MS`: the pause between two checks while waiting for a
    /// revoked key to die.
    pub fn poll_interval(&self) -> Result<Option<Duration>, EnvironmentError> {
        self.milliseconds("KEYWARDEN_POLL_INTERVAL_MS")
    }

    fn milliseconds(&self, var: &'static str) -> Result<Option<Duration>, EnvironmentError> {
        let Some(value) = self.text(var).map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        match value.parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms))),
            _ => Err(EnvironmentError::BadMilliseconds {
                var,
                value: value.to_string(),
            }),
        }
    }

    /// `OPENAI_ADMIN_KEY`, when set: an OpenAI admin key for the Admin, Usage and Costs APIs.
    pub fn openai_admin_key(&self) -> Option<Secret> {
        self.admin_key("OPENAI_ADMIN_KEY")
    }

    /// A provider's admin key from the variable `var` names (one of the captured
    /// variables, such as `OPENAI_ADMIN_KEY`), when set and not blank.
    pub fn admin_key(&self, var: &str) -> Option<Secret> {
        self.text(var)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(Secret::new)
    }

    /// `KEYWARDEN_<PROVIDER>_BASE_URL` for the provider whose variable part is `provider`
    /// (`OPENAI`, `PRIVATE_KEY`), when set and not blank; without a trailing slash. It
    /// replaces the provider's whole base, version path included.
    pub fn provider_base_url(&self, provider: &str) -> Option<&str> {
        self.base_urls
            .get(&format!("{BASE_URL_PREFIX}{provider}{BASE_URL_SUFFIX}"))
            .map(|v| v.trim().trim_end_matches('/'))
            .filter(|v| !v.is_empty())
    }

    /// Every `KEYWARDEN_<PROVIDER>_BASE_URL` that is set and not blank, by its variable part
    /// (`OPENAI`, `SENDGRID`), as `provider_base_url` reads each.
    pub fn provider_base_urls(&self) -> BTreeMap<String, String> {
        self.base_urls
            .keys()
            .filter_map(|var| {
                let provider = var
                    .strip_prefix(BASE_URL_PREFIX)?
                    .strip_suffix(BASE_URL_SUFFIX)?;
                let base = self.provider_base_url(provider)?;
                Some((provider.to_string(), base.to_string()))
            })
            .collect()
    }

    /// Whether `NO_COLOR` asks for no colour (set and not empty, as no-color.org says).
    pub fn no_color(&self) -> bool {
        self.text("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// The shim that started this hook (`KEYWARDEN_SHIM`, set by the installed shims).
    pub fn hook_shim(&self) -> Option<PathBuf> {
        self.nonempty_os("KEYWARDEN_SHIM").map(PathBuf::from)
    }

    /// `KEYWARDEN_FAULT`: the test-only fault point to stop at (see `core::fault`).
    pub fn fault_point(&self) -> Option<&str> {
        self.text("KEYWARDEN_FAULT")
    }

    /// The browser `$BROWSER` names, when set.
    pub fn browser(&self) -> Option<&OsString> {
        self.nonempty_os("BROWSER")
    }

    /// GitHub Actions' description of the run, when `GITHUB_ACTIONS` is `true`.
    pub fn github_actions(&self) -> Result<Option<GithubActions>, EnvironmentError> {
        if self.text("GITHUB_ACTIONS") != Some("true") {
            return Ok(None);
        }
        let missing = |var| EnvironmentError::MissingCiVar {
            ci: "GitHub Actions",
            detected_by: "GITHUB_ACTIONS",
            var,
        };
        let event_name = self
            .nonempty_text("GITHUB_EVENT_NAME")
            .ok_or_else(|| missing("GITHUB_EVENT_NAME"))?
            .to_string();
        let event_path = self
            .nonempty_os("GITHUB_EVENT_PATH")
            .map(PathBuf::from)
            .ok_or_else(|| missing("GITHUB_EVENT_PATH"))?;
        let sha = self
            .commit_id("GITHUB_SHA")?
            .ok_or_else(|| missing("GITHUB_SHA"))?;
        Ok(Some(GithubActions {
            event_name,
            event_path,
            sha,
        }))
    }

    /// GitLab CI's description of the pipeline, when `GITLAB_CI` is `true`.
    pub fn gitlab_ci(&self) -> Result<Option<GitlabCi>, EnvironmentError> {
        if self.text("GITLAB_CI") != Some("true") {
            return Ok(None);
        }
        let commit_sha =
            self.commit_id("CI_COMMIT_SHA")?
                .ok_or(EnvironmentError::MissingCiVar {
                    ci: "GitLab CI",
                    detected_by: "GITLAB_CI",
                    var: "CI_COMMIT_SHA",
                })?;
        Ok(Some(GitlabCi {
            commit_sha,
            before_sha: self.commit_id("CI_COMMIT_BEFORE_SHA")?,
            merge_request_diff_base_sha: self.commit_id("CI_MERGE_REQUEST_DIFF_BASE_SHA")?,
            pipeline_source: self.nonempty_text("CI_PIPELINE_SOURCE").map(str::to_string),
        }))
    }

    fn nonempty_text(&self, var: &str) -> Option<&str> {
        self.text(var).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A commit id variable: unset or empty is `None`, anything but hex digits an error.
    fn commit_id(&self, var: &'static str) -> Result<Option<String>, EnvironmentError> {
        let Some(value) = self.nonempty_text(var) else {
            return Ok(None);
        };
        if is_commit_id(value) {
            Ok(Some(value.to_ascii_lowercase()))
        } else {
            Err(EnvironmentError::BadCommitId {
                var,
                value: value.to_string(),
            })
        }
    }
}

/// A full SHA-1 or SHA-256 object id.
pub fn is_commit_id(value: &str) -> bool {
    matches!(value.len(), 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_numbers_are_errors_naming_the_variable() {
        let env = Environment::from_pairs(&[("KEYWARDEN_HTTP_TIMEOUT_MS", "fast")]);
        let err = env.http_timeout().expect_err("not a number");
        assert_eq!(
            err.to_string(),
            "KEYWARDEN_HTTP_TIMEOUT_MS must be a whole number of milliseconds greater than 0, not `fast`"
        );
        let env = Environment::from_pairs(&[("KEYWARDEN_POLL_INTERVAL_MS", "0")]);
        assert!(env.poll_interval().is_err());
        let env = Environment::from_pairs(&[("KEYWARDEN_POLL_INTERVAL_MS", " 250 ")]);
        assert_eq!(
            env.poll_interval().expect("valid"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(Environment::default().http_timeout().expect("unset"), None);
    }

    #[test]
    fn the_data_home_prefers_keywarden_home_then_the_platform_dir() {
        let env = Environment::from_pairs(&[("KEYWARDEN_HOME", "/k"), ("HOME", "/h")]);
        assert_eq!(env.data_home().expect("set"), PathBuf::from("/k"));
        if cfg!(target_os = "linux") {
            let env = Environment::from_pairs(&[("HOME", "/h")]);
            assert_eq!(
                env.data_home().expect("from HOME"),
                PathBuf::from("/h/.local/share/keywarden")
            );
            let env = Environment::from_pairs(&[("HOME", "relative")]);
            assert!(matches!(env.data_home(), Err(EnvironmentError::NoHome)));
            let env = Environment::from_pairs(&[("XDG_CONFIG_HOME", "/c")]);
            assert_eq!(env.config_home(), Some(PathBuf::from("/c/keywarden")));
        }
    }

    #[test]
    fn provider_base_urls_are_read_per_provider_without_a_trailing_slash() {
        let env = Environment::from_pairs(&[
            ("KEYWARDEN_OPENAI_BASE_URL", " http://127.0.0.1:9/v1/ "),
            ("KEYWARDEN_GITHUB_BASE_URL", "  "),
        ]);
        assert_eq!(
            env.provider_base_url("OPENAI"),
            Some("http://127.0.0.1:9/v1")
        );
        assert_eq!(env.provider_base_url("GITHUB"), None);
        assert_eq!(env.provider_base_url("SLACK"), None);
        assert_eq!(
            env.provider_base_urls(),
            BTreeMap::from([("OPENAI".to_string(), "http://127.0.0.1:9/v1".to_string())])
        );
    }

    #[test]
    fn ci_variables_are_read_only_inside_their_ci_and_checked() {
        let sha = "a".repeat(40);
        assert_eq!(Environment::default().github_actions().expect("ok"), None);
        assert_eq!(
            Environment::from_pairs(&[("GITHUB_ACTIONS", "false"), ("GITHUB_SHA", "x")])
                .github_actions()
                .expect("not in GitHub Actions"),
            None
        );
        let env = Environment::from_pairs(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", "/tmp/event.json"),
            ("GITHUB_SHA", &sha),
        ]);
        let github = env.github_actions().expect("valid").expect("detected");
        assert_eq!(github.event_path, PathBuf::from("/tmp/event.json"));
        assert_eq!(github.sha, sha);
        let env = Environment::from_pairs(&[("GITHUB_ACTIONS", "true")]);
        assert_eq!(
            env.github_actions().expect_err("incomplete").to_string(),
            "GitHub Actions is detected (GITHUB_ACTIONS is set) but GITHUB_EVENT_NAME is not set"
        );
        let env = Environment::from_pairs(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", &sha),
            ("CI_COMMIT_BEFORE_SHA", "main"),
        ]);
        assert_eq!(
            env.gitlab_ci().expect_err("not a commit id").to_string(),
            "CI_COMMIT_BEFORE_SHA must be a commit id (40 or 64 hexadecimal digits), not `main`"
        );
        let env = Environment::from_pairs(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", &sha.to_uppercase()),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", ""),
        ]);
        let gitlab = env.gitlab_ci().expect("valid").expect("detected");
        assert_eq!(gitlab.commit_sha, sha);
        assert_eq!(gitlab.merge_request_diff_base_sha, None);
    }

    #[test]
    fn no_color_counts_only_when_not_empty() {
        assert!(Environment::from_pairs(&[("NO_COLOR", "1")]).no_color());
        assert!(!Environment::from_pairs(&[("NO_COLOR", "")]).no_color());
        assert!(!Environment::default().no_color());
    }
}
