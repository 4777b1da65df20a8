//! Providers: asking a vendor whether a key still works, finding it in the vendor's records,
//! killing it, and making a new one.
//!
//! `Provider` is the interface (verify, locate, revoke, create a replacement, manual steps);
//! there is one file per vendor, and every rule's provider has at least the manual steps.
//! `locate` and `revoke` are separate so that whoever drives a revocation can show the
//! person what was found and ask before anything is deleted (`ops::revoke`). All network
//! access goes through `http::Http`; `Providers` builds each vendor with its base URL, which
//! `KEYWARDEN_<PROVIDER>_BASE_URL` can replace (tests point it at a mock on 127.0.0.1).
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
pub mod id;
pub mod manual;
pub mod openai;
pub mod openai_usage;
pub mod probe;
pub mod slack;
pub mod stripe;

use crate::core::environment::Environment;
use crate::core::rules::Rule;
use crate::core::secret::{Liveness, Secret};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

pub use http::{Http, HttpConfig, Response};
pub use id::{ProviderId, UnknownProvider};

#[derive(Debug, Error)]
pub enum ProviderError {
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
    /// The provider was asked and no single key of its records is this one (none, or
    /// several that the redacted form cannot tell apart).
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

    /// The error as one line with every given key redacted out of it.
    pub fn scrubbed(&self, keys: &[&Secret]) -> String {
        scrub(&self.to_string(), keys)
    }
}

/// What a provider said about a key, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

    /// A success status is only "live" when the body is the JSON the API sends: a proxy's
    /// or captive portal's page answers 200 too, and says nothing about the key.
    pub fn accepted(response: &Response) -> Self {
        if response.json().is_some() {
            Verification::live(format!("accepted (HTTP {})", response.status))
        } else {
            Verification::unknown(format!(
                "unreadable answer (HTTP {}): not the provider's JSON",
                response.status
            ))
        }
    }
}

/// How to revoke a key by hand: the page to open and the exact steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Who owns a key at its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeyOwner {
    User {
        id: String,
        name: String,
        email: Option<String>,
    },
    ServiceAccount {
        id: String,
        name: String,
    },
    Unknown,
}

impl KeyOwner {
    pub fn describe(&self) -> String {
        match self {
            KeyOwner::User { name, email, id } => match email {
                Some(email) => format!("user {name} <{email}>"),
                None => format!("user {name} ({id})"),
            },
            KeyOwner::ServiceAccount { id, name } => format!("service account {name} ({id})"),
            KeyOwner::Unknown => "unknown owner".to_string(),
        }
    }
}

/// A project (or workspace) at a provider that keys belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
}

/// A key as its provider's records describe it (never the key itself): what `locate` finds,
/// what is shown before deleting it, and what a revocation or replacement acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteKey {
    pub provider: ProviderId,
    /// The provider's id for the key (`key_…`).
    pub id: String,
    pub name: String,
    /// The provider's own redacted form (`sk-proj-abc...wxyz`).
    pub redacted: Option<String>,
    pub project: Option<Project>,
    pub owner: KeyOwner,
    pub created: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
}

impl RemoteKey {
    /// `OpenAI key "laptop" (key_1) in project "Web" (proj_1)`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} key \"{}\" ({})",
            self.provider.name(),
            self.name,
            self.id
        );
        if let Some(project) = &self.project {
            text.push_str(&format!(
                " in project \"{}\" ({})",
                project.name, project.id
            ));
        }
        text
    }
}

/// A new key made by a provider's API, to replace a leaked one.
#[derive(Debug, Clone)]
pub struct Replacement {
    pub key: Secret,
    /// Provider ids of what was created (key id, service account id…), for the record.
    pub id: String,
    pub name: String,
    pub detail: String,
    pub created: Option<DateTime<Utc>>,
}

/// Credentials beyond the key itself that some operations need, by provider: an OpenAI
/// admin key lets keywarden look keys up, delete them and make new ones.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    admin: BTreeMap<ProviderId, Secret>,
}

impl Credentials {
    /// These credentials plus an admin key for `provider`.
    pub fn with_admin(mut self, provider: ProviderId, key: Secret) -> Self {
        self.admin.insert(provider, key);
        self
    }

    /// The admin key for `provider`, when there is one.
    pub fn admin(&self, provider: ProviderId) -> Option<&Secret> {
        self.admin.get(&provider)
    }

    /// Every secret held, so messages can be scrubbed of them.
    pub fn secrets(&self) -> Vec<&Secret> {
        self.admin.values().collect()
    }
}

/// One vendor.
pub trait Provider: Send + Sync {
    /// The id used by rules and the registry.
    fn id(&self) -> ProviderId;

    /// The vendor's name for people.
    fn name(&self) -> &'static str {
        self.id().name()
    }

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

    /// What `locate` would ask, for a status line ("the OpenAI Admin API"), when it can
    /// look keys up with these credentials; `None` when it cannot.
    fn locator(&self, _creds: &Credentials) -> Option<&'static str> {
        None
    }

    /// Finds the key in the provider's records. `Ok(None)`: this provider cannot look keys
    /// up (with these credentials). `Err(NotFound)`: it looked, and no single key is this one.
    fn locate(
        &self,
        _key: &Secret,
        _creds: &Credentials,
    ) -> Result<Option<RemoteKey>, ProviderError> {
        Ok(None)
    }

    /// Revokes the key: `located` is what `locate` found (the provider then deletes exactly
    /// that), `None` when it found nothing or was not asked. Through the API where the
    /// provider allows it, else the manual steps.
    fn revoke(
        &self,
        key: &Secret,
        _located: Option<&RemoteKey>,
        _creds: &Credentials,
    ) -> Result<Revocation, ProviderError> {
        Ok(Revocation::Manual(self.manual_steps(key)))
    }

    /// Whether `create_replacement` can make a new key for `old` with these credentials.
    fn can_create_replacement(&self, _old: &RemoteKey, _creds: &Credentials) -> bool {
        false
    }

    /// How `old` (as `locate` found it) was used in `window` and in the same length of time
    /// before it, where the provider's usage records can tell (OpenAI's Usage and Costs
    /// APIs with an admin key); `None` when they cannot.
    fn usage(
        &self,
        _old: &RemoteKey,
        _creds: &Credentials,
        _window: openai_usage::Window,
    ) -> Option<Result<openai_usage::Comparison, ProviderError>> {
        None
    }

    /// Creates a key to replace `old` (as `locate` found it), when the provider's API can.
    fn create_replacement(
        &self,
        _old: &RemoteKey,
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

/// Builds providers: the shared HTTP client and each provider's base URL (the default, or
/// what `KEYWARDEN_<PROVIDER>_BASE_URL` says).
#[derive(Debug, Clone)]
pub struct Providers {
    http: Http,
    /// `KEYWARDEN_<PROVIDER>_BASE_URL`, by the variable part (`OPENAI`, `SENDGRID`).
    bases: BTreeMap<String, String>,
}

impl Providers {
    pub fn new(http: Http, env: &Environment) -> Self {
        Providers {
            http,
            bases: env.provider_base_urls(),
        }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    fn base(&self, id: ProviderId, default: &str) -> String {
        self.bases
            .get(&id.env_name())
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// Asks `rule`'s issuer about `key` with the rule's check; `None` when it has none.
    pub fn check_with_probe(&self, rule: &Rule, key: &Secret) -> Option<Verification> {
        let probe = rule.issuer_check()?;
        let base = self
            .bases
            .get(&id::env_name(&rule.provider))
            .map(String::as_str);
        Some(probe.check(&self.http, base, key))
    }

    /// The provider for `id`.
    pub fn get(&self, id: ProviderId) -> Box<dyn Provider> {
        let http = self.http.clone();
        match id {
            ProviderId::OpenAi => Box::new(openai::OpenAi::new(
                http,
                self.base(id, openai::DEFAULT_BASE),
            )),
            ProviderId::Anthropic => Box::new(anthropic::Anthropic::new(
                http,
                self.base(id, anthropic::DEFAULT_BASE),
            )),
            ProviderId::GitHub => Box::new(github::GitHub::new(
                http,
                self.base(id, github::DEFAULT_BASE),
            )),
            ProviderId::GitLab => Box::new(gitlab::GitLab::new(
                http,
                self.base(id, gitlab::DEFAULT_BASE),
            )),
            ProviderId::Aws => Box::new(aws::Aws),
            ProviderId::Stripe => Box::new(stripe::Stripe::new(
                http,
                self.base(id, stripe::DEFAULT_BASE),
            )),
            ProviderId::Slack => {
                Box::new(slack::Slack::new(http, self.base(id, slack::DEFAULT_BASE)))
            }
            ProviderId::Google => Box::new(google::Google::new(
                http,
                self.base(id, google::DEFAULT_BASE),
            )),
            ProviderId::HuggingFace => Box::new(huggingface::HuggingFace::new(
                http,
                self.base(id, huggingface::DEFAULT_BASE),
            )),
            ProviderId::PrivateKey => Box::new(manual::PrivateKey),
            ProviderId::Generic => Box::new(manual::Generic::new(self.clone())),
        }
    }
}

/// A common shape: `GET url` with the key in a header; 2xx with a JSON body live, the
/// given statuses dead, anything else unknown.
pub(crate) fn verify_by_status(
    http: &Http,
    key: &Secret,
    request: impl Fn(&reqwest::blocking::Client) -> reqwest::blocking::RequestBuilder,
    dead_statuses: &[u16],
) -> Verification {
    match http.send(key, request) {
        Ok(r) if r.is_success() => Verification::accepted(&r),
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
    fn every_rule_provider_has_manual_steps() {
        let http = Http::new(HttpConfig::default()).expect("client");
        let providers = Providers::new(http, &Environment::default());
        let rules = crate::core::rules::RuleSet::builtin().expect("built-in rules");
        for rule in rules.rules() {
            // An issuer without a client here (npm, SendGrid …) is revoked by hand, as a
            // generic secret is.
            let id = rule.provider_id().unwrap_or(ProviderId::Generic);
            let p = providers.get(id);
            let steps = p.manual_steps(&Secret::new("x".repeat(40)));
            assert!(!steps.steps.is_empty(), "{} has no manual steps", p.id());
            assert!(!p.default_env_var().is_empty());
        }
        for id in ProviderId::ALL {
            assert_eq!(providers.get(id).id(), id);
        }
    }

    #[test]
    fn base_urls_come_from_the_environment() {
        let http = Http::new(HttpConfig::default()).expect("client");
        let env =
            Environment::from_pairs(&[("KEYWARDEN_OPENAI_BASE_URL", "http://127.0.0.1:1/v1/")]);
        let providers = Providers::new(http, &env);
        assert_eq!(
            providers.base(ProviderId::OpenAi, openai::DEFAULT_BASE),
            "http://127.0.0.1:1/v1"
        );
        assert_eq!(
            providers.base(ProviderId::GitHub, github::DEFAULT_BASE),
            github::DEFAULT_BASE
        );
    }
}
