//! Providers: asking a vendor whether a key still works, killing it, and making a new one.
//!
//! `Provider` is the interface (verify, revoke, create a replacement, manual steps); there
//! is one file per vendor, and every rule's provider has at least the manual steps. All
//! network access goes through `http::Http`; every base URL can be replaced with
//! `KEYWARDEN_<PROVIDER>_BASE_URL` (tests point it at a mock on 127.0.0.1).
//!
//! Liveness is decided from what the provider says, never from the absence of an answer:
//! a timeout, a 5xx or an unreadable body is `Unknown`, not `Dead`.

pub mod anthropic;
pub mod aws;
pub mod github;
pub mod gitlab;
pub mod google;
pub mod http;
pub mod huggingface;
pub mod manual;
pub mod openai;
pub mod openai_usage;
pub mod slack;
pub mod stripe;

use crate::core::secret::{Liveness, Secret};
use std::collections::HashMap;
use thiserror::Error;

pub use http::{Http, HttpConfig, Response};

#[derive(Debug, Error)]
pub enum ProviderError {
    #[error("unknown provider `{0}` (known: {known})", known = PROVIDER_IDS.join(", "))]
    UnknownProvider(String),
    #[error("the request timed out")]
    Timeout,
    #[error("network error: {0}")]
    Network(String),
    #[error("{provider} answered HTTP {status}: {message}")]
    Status {
        provider: &'static str,
        status: u16,
        message: String,
    },
    #[error("{provider} sent a response that could not be read: {message}")]
    Malformed {
        provider: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unsupported(String),
}

impl ProviderError {
    pub(crate) fn status(provider: &'static str, response: &Response) -> Self {
        ProviderError::Status {
            provider,
            status: response.status,
            message: response.summary(),
        }
    }

    pub(crate) fn malformed(provider: &'static str, message: impl Into<String>) -> Self {
        ProviderError::Malformed {
            provider,
            message: message.into(),
        }
    }
}

/// What a provider said about a key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub liveness: Liveness,
    /// One line for people: "accepted", "invalid_api_key", "timed out"…
    pub reason: String,
    /// A live key whose permissions are limited (it still works, so it is still live).
    pub restricted: bool,
}

impl Verification {
    pub fn live(reason: impl Into<String>) -> Self {
        Verification {
            liveness: Liveness::Live,
            reason: reason.into(),
            restricted: false,
        }
    }

    pub fn restricted(reason: impl Into<String>) -> Self {
        Verification {
            liveness: Liveness::Live,
            reason: reason.into(),
            restricted: true,
        }
    }

    pub fn dead(reason: impl Into<String>) -> Self {
        Verification {
            liveness: Liveness::Dead,
            reason: reason.into(),
            restricted: false,
        }
    }

    pub fn unknown(reason: impl Into<String>) -> Self {
        Verification {
            liveness: Liveness::Unknown,
            reason: reason.into(),
            restricted: false,
        }
    }

    /// The common reading of an answer that did not classify the key: transport trouble,
    /// rate limits and server errors are all "unknown", with the reason.
    pub fn from_error(err: &ProviderError) -> Self {
        Verification::unknown(err.to_string())
    }

    /// The same answer with `key` redacted out of the reason: some providers quote the
    /// credential they were sent in their error messages.
    pub fn scrubbed(mut self, key: &Secret) -> Self {
        self.reason = scrub(&self.reason, &[key]);
        self
    }

    /// Unknown because of an HTTP status that says nothing about the key.
    pub fn unexpected(response: &Response) -> Self {
        let reason = match response.status {
            429 => format!("rate limited (HTTP 429): {}", response.summary()),
            500..=599 => format!("provider error (HTTP {})", response.status),
            status => format!("unexpected answer (HTTP {status}): {}", response.summary()),
        };
        Verification::unknown(reason)
    }
}

/// How to revoke a key by hand: the page to open and the exact steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualSteps {
    pub page: Option<String>,
    pub steps: Vec<String>,
}

/// The result of asking for a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The provider confirmed it through its API.
    Revoked { detail: String },
    /// Only a person can do it; these are the steps.
    Manual(ManualSteps),
}

/// A new key made by a provider's API, to replace a leaked one.
#[derive(Debug, Clone)]
pub struct Replacement {
    pub key: Secret,
    /// Provider ids of what was created (key id, service account id…), for the record.
    pub id: String,
    pub name: String,
    pub detail: String,
}

/// Credentials beyond the key itself that some operations need (an OpenAI admin key).
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub openai_admin: Option<Secret>,
}

/// One vendor.
pub trait Provider: Send + Sync {
    /// The id used by rules and the registry (`openai`, `github`…).
    fn id(&self) -> &'static str;

    /// The vendor's name for people.
    fn name(&self) -> &'static str;

    /// The environment variable a key of this provider conventionally lives in.
    fn default_env_var(&self) -> &'static str;

    /// Whether the key still works. Never fails: trouble is `Unknown` with the reason.
    fn verify(&self, key: &Secret) -> Verification;

    /// Whether `verify` can ever say more than "unknown" for this key (so waiting for it
    /// to die makes sense).
    fn can_verify(&self, _key: &Secret) -> bool {
        true
    }

    /// The steps to revoke the key by hand (every provider has them).
    fn manual_steps(&self, key: &Secret) -> ManualSteps;

    /// Revokes the key through the API when the provider allows it, else returns the
    /// manual steps.
    fn revoke(&self, key: &Secret, _creds: &Credentials) -> Result<Revocation, ProviderError> {
        Ok(Revocation::Manual(self.manual_steps(key)))
    }

    /// Creates a key to replace `old`, when the provider's API can.
    fn create_replacement(
        &self,
        _old: &Secret,
        _name: &str,
        _creds: &Credentials,
    ) -> Result<Replacement, ProviderError> {
        Err(ProviderError::Unsupported(format!(
            "{} keys cannot be created through the API; create one at the provider's page",
            self.name()
        )))
    }
}

/// `text` with every occurrence of the given keys replaced by their redacted form.
pub fn scrub(text: &str, keys: &[&Secret]) -> String {
    let mut out = text.to_string();
    for key in keys {
        if !key.is_empty() && out.contains(key.expose()) {
            out = out.replace(key.expose(), &key.redacted());
        }
    }
    out
}

/// Every provider a rule can name.
pub const PROVIDER_IDS: &[&str] = &[
    "openai",
    "anthropic",
    "github",
    "gitlab",
    "aws",
    "stripe",
    "slack",
    "google",
    "huggingface",
    "private-key",
    "generic",
];

/// The provider for `id`, with its base URL from the environment (or the default).
pub fn provider(id: &str, http: &Http) -> Result<Box<dyn Provider>, ProviderError> {
    let http = http.clone();
    Ok(match id {
        "openai" => Box::new(openai::OpenAi::from_env(http)),
        "anthropic" => Box::new(anthropic::Anthropic::from_env(http)),
        "github" => Box::new(github::GitHub::from_env(http)),
        "gitlab" => Box::new(gitlab::GitLab::from_env(http)),
        "aws" => Box::new(aws::Aws),
        "stripe" => Box::new(stripe::Stripe::from_env(http)),
        "slack" => Box::new(slack::Slack::from_env(http)),
        "google" => Box::new(google::Google::from_env(http)),
        "huggingface" => Box::new(huggingface::HuggingFace::from_env(http)),
        "private-key" => Box::new(manual::PrivateKey),
        "generic" => Box::new(manual::Generic),
        other => return Err(ProviderError::UnknownProvider(other.to_string())),
    })
}

/// Checks every distinct (provider, key) pair once, `concurrency` at a time, and returns
/// the answers keyed by `(provider id, fingerprint)`.
pub fn verify_many(
    http: &Http,
    keys: &[(String, Secret)],
    concurrency: usize,
) -> HashMap<(String, String), Verification> {
    let mut unique: Vec<(String, Secret)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (provider_id, key) in keys {
        if seen.insert((provider_id.clone(), key.fingerprint())) {
            unique.push((provider_id.clone(), key.clone()));
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(HashMap::new());
    let workers = concurrency.clamp(1, 16).min(unique.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((provider_id, key)) = unique.get(index) else {
                    break;
                };
                let verification = match provider(provider_id, http) {
                    Ok(p) => p.verify(key).scrubbed(key),
                    Err(err) => Verification::from_error(&err),
                };
                results
                    .lock()
                    .expect("verification results lock")
                    .insert((provider_id.clone(), key.fingerprint()), verification);
            });
        }
    });
    results.into_inner().expect("verification results lock")
}

/// Verifies `key` every `interval` until it is dead or `keep_going` (called with each
/// answer) returns false. Returns the last answer. Used after a manual revocation: the
/// page says "revoked" before every edge of the provider agrees.
pub fn poll_until_dead(
    provider: &dyn Provider,
    key: &Secret,
    interval: std::time::Duration,
    mut keep_going: impl FnMut(&Verification) -> bool,
) -> Verification {
    loop {
        let answer = provider.verify(key).scrubbed(key);
        if answer.liveness == Liveness::Dead || !keep_going(&answer) {
            return answer;
        }
        std::thread::sleep(interval);
    }
}

/// A common shape: `GET url` with the key in a header; 2xx live, the given statuses dead,
/// anything else unknown.
pub(crate) fn verify_by_status(
    http: &Http,
    request: impl Fn(&reqwest::blocking::Client) -> reqwest::blocking::RequestBuilder,
    dead_statuses: &[u16],
) -> Verification {
    match http.send(request) {
        Ok(r) if r.is_success() => Verification::live(format!("accepted (HTTP {})", r.status)),
        Ok(r) if dead_statuses.contains(&r.status) => Verification::dead(format!(
            "rejected as invalid (HTTP {}): {}",
            r.status,
            r.summary()
        )),
        Ok(r) => Verification::unexpected(&r),
        Err(err) => Verification::from_error(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_provider_is_known_and_has_manual_steps() {
        let http = Http::new(HttpConfig::default()).expect("client");
        let rules = crate::core::rules::RuleSet::builtin().expect("built-in rules");
        for rule in rules.rules() {
            let p = provider(&rule.provider, &http)
                .unwrap_or_else(|e| panic!("rule {} names {}: {e}", rule.id, rule.provider));
            let steps = p.manual_steps(&Secret::new("x".repeat(40)));
            assert!(!steps.steps.is_empty(), "{} has no manual steps", p.id());
            assert!(!p.default_env_var().is_empty());
        }
        for id in PROVIDER_IDS {
            assert_eq!(provider(id, &http).expect("known").id(), *id);
        }
        assert!(matches!(
            provider("nope", &http),
            Err(ProviderError::UnknownProvider(_))
        ));
    }
}
