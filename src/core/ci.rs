//! Which commits a CI run brings, from what GitHub Actions and GitLab CI put in the
//! environment (through `Environment`) and, on GitHub, the event payload it names: the
//! pushed commits, a pull or merge request's commits, or all history of a new branch.

use crate::core::environment::{is_commit_id, Environment, EnvironmentError, GithubActions};
use serde_json::Value;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CiError {
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
    #[error("cannot read the GitHub event payload {path} (GITHUB_EVENT_PATH)")]
    ReadEvent {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the GitHub event payload {path} is not JSON")]
    ParseEvent {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the GitHub event payload {path} of a `{event}` event has no commit id at `{field}`")]
    MissingCommit {
        path: PathBuf,
        event: String,
        field: &'static str,
    },
}

/// The CI systems keywarden knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiSystem {
    GithubActions,
    GitlabCi,
}

impl CiSystem {
    pub fn name(self) -> &'static str {
        match self {
            CiSystem::GithubActions => "GitHub Actions",
            CiSystem::GitlabCi => "GitLab CI",
        }
    }
}

/// The commits to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitsToScan {
    /// What `head` adds to `base`: `base..head`.
    Range { base: String, head: String },
    /// All history of `head`: the first push of a branch has no "before".
    Everything { head: String },
    /// Nothing: the push deleted a branch or tag.
    Nothing,
}

/// A CI run and what it brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiRun {
    pub system: CiSystem,
    /// The event or pipeline source: `push`, `pull_request`, `merge_request_event`, …
    pub event: String,
    pub commits: CommitsToScan,
}

/// The CI run this process is part of, or `None` outside a known CI.
pub fn detect(env: &Environment) -> Result<Option<CiRun>, CiError> {
    if let Some(github) = env.github_actions()? {
        return github_run(&github).map(Some);
    }
    if let Some(gitlab) = env.gitlab_ci()? {
        let (event, commits) = match (&gitlab.merge_request_diff_base_sha, &gitlab.before_sha) {
            (Some(base), _) => (
                "merge_request_event",
                CommitsToScan::Range {
                    base: base.clone(),
                    head: gitlab.commit_sha.clone(),
                },
            ),
            (None, Some(before)) if !is_zero(before) => (
                "push",
                CommitsToScan::Range {
                    base: before.clone(),
                    head: gitlab.commit_sha.clone(),
                },
            ),
            (None, _) => (
                "push",
                CommitsToScan::Everything {
                    head: gitlab.commit_sha.clone(),
                },
            ),
        };
        return Ok(Some(CiRun {
            system: CiSystem::GitlabCi,
            event: gitlab
                .pipeline_source
                .clone()
                .unwrap_or_else(|| event.to_string()),
            commits,
        }));
    }
    Ok(None)
}

fn github_run(github: &GithubActions) -> Result<CiRun, CiError> {
    let path = &github.event_path;
    let text = std::fs::read_to_string(path).map_err(|source| CiError::ReadEvent {
        path: path.clone(),
        source,
    })?;
    let payload: Value = serde_json::from_str(&text).map_err(|source| CiError::ParseEvent {
        path: path.clone(),
        source,
    })?;
    let commit = |pointer: &'static str| {
        payload
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|id| is_commit_id(id))
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| CiError::MissingCommit {
                path: path.clone(),
                event: github.event_name.clone(),
                field: pointer,
            })
    };
    let commits = match github.event_name.as_str() {
        "push" => {
            let (before, after) = (commit("/before")?, commit("/after")?);
            if is_zero(&after) {
                CommitsToScan::Nothing
            } else if is_zero(&before) {
                CommitsToScan::Everything { head: after }
            } else {
                CommitsToScan::Range {
                    base: before,
                    head: after,
                }
            }
        }
        "pull_request" | "pull_request_target" => CommitsToScan::Range {
            base: commit("/pull_request/base/sha")?,
            head: commit("/pull_request/head/sha")?,
        },
        "merge_group" => CommitsToScan::Range {
            base: commit("/merge_group/base_sha")?,
            head: commit("/merge_group/head_sha")?,
        },
        // A schedule, a manual run, a release…: everything the commit carries.
        _ => CommitsToScan::Everything {
            head: github.sha.clone(),
        },
    };
    Ok(CiRun {
        system: CiSystem::GithubActions,
        event: github.event_name.clone(),
        commits,
    })
}

/// git's "no commit": the before of a new branch, the after of a deleted one.
fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(c: char) -> String {
        c.to_string().repeat(40)
    }

    fn github(event: &str, payload: &str) -> Result<Option<CiRun>, CiError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("event.json");
        std::fs::write(&path, payload).expect("write payload");
        let path_text = path.to_string_lossy().into_owned();
        let head = sha('f');
        let env = Environment::from_pairs(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", event),
            ("GITHUB_EVENT_PATH", &path_text),
            ("GITHUB_SHA", &head),
        ]);
        detect(&env)
    }

    #[test]
    fn github_push_pull_request_and_first_push() {
        let push = format!(r#"{{"before":"{}","after":"{}"}}"#, sha('a'), sha('b'));
        assert_eq!(
            github("push", &push)
                .expect("valid")
                .expect("detected")
                .commits,
            CommitsToScan::Range {
                base: sha('a'),
                head: sha('b')
            }
        );
        let first = format!(r#"{{"before":"{}","after":"{}"}}"#, sha('0'), sha('b'));
        assert_eq!(
            github("push", &first)
                .expect("valid")
                .expect("detected")
                .commits,
            CommitsToScan::Everything { head: sha('b') }
        );
        let deleted = format!(r#"{{"before":"{}","after":"{}"}}"#, sha('a'), sha('0'));
        assert_eq!(
            github("push", &deleted)
                .expect("valid")
                .expect("detected")
                .commits,
            CommitsToScan::Nothing
        );
        let pr = format!(
            r#"{{"pull_request":{{"base":{{"sha":"{}"}},"head":{{"sha":"{}"}}}}}}"#,
            sha('c'),
            sha('d')
        );
        let run = github("pull_request", &pr)
            .expect("valid")
            .expect("detected");
        assert_eq!(run.system, CiSystem::GithubActions);
        assert_eq!(
            run.commits,
            CommitsToScan::Range {
                base: sha('c'),
                head: sha('d')
            }
        );
        assert_eq!(
            github("schedule", "{}")
                .expect("valid")
                .expect("detected")
                .commits,
            CommitsToScan::Everything { head: sha('f') }
        );
    }

    #[test]
    fn a_broken_github_payload_is_an_error_naming_it() {
        let err = github("push", "not json").expect_err("not JSON");
        assert!(err.to_string().contains("event.json is not JSON"), "{err}");
        let err = github("pull_request", "{}").expect_err("no commits");
        assert!(
            err.to_string()
                .contains("`pull_request` event has no commit id at `/pull_request/base/sha`"),
            "{err}"
        );
    }

    #[test]
    fn gitlab_merge_request_push_and_new_branch() {
        let (base, head, before) = (sha('a'), sha('b'), sha('c'));
        let env = Environment::from_pairs(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", &head),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", &base),
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ]);
        let run = detect(&env).expect("valid").expect("detected");
        assert_eq!(run.system, CiSystem::GitlabCi);
        assert_eq!(run.event, "merge_request_event");
        assert_eq!(
            run.commits,
            CommitsToScan::Range {
                base: base.clone(),
                head: head.clone()
            }
        );
        let env = Environment::from_pairs(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", &head),
            ("CI_COMMIT_BEFORE_SHA", &before),
        ]);
        assert_eq!(
            detect(&env).expect("valid").expect("detected").commits,
            CommitsToScan::Range {
                base: before,
                head: head.clone()
            }
        );
        let zeros = sha('0');
        let env = Environment::from_pairs(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", &head),
            ("CI_COMMIT_BEFORE_SHA", &zeros),
        ]);
        assert_eq!(
            detect(&env).expect("valid").expect("detected").commits,
            CommitsToScan::Everything { head }
        );
        assert_eq!(detect(&Environment::default()).expect("valid"), None);
    }
}
