//! Harmless checks written as data: a built-in rule may say how its issuer tells a working
//! key from a dead one with one read-only request — `verify = { url, headers, dead }` in
//! `templates/rules/` — for issuers keywarden has no client of its own for (SendGrid, npm,
//! DigitalOcean…). The request is a `GET` of an endpoint that only reads (the account, the
//! key's scopes, a list of models), with the key in a header, never in the URL.
//!
//! Only built-in rules carry checks: a repository's own rule file could otherwise send every
//! key a scan finds to a server of its choosing. `KEYWARDEN_<PROVIDER>_BASE_URL` replaces the
//! scheme and host of the URL (tests point it at a mock on 127.0.0.1).

use super::{verify_by_status, Http, Verification};
use crate::core::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What stands for the key in a header value.
pub const SECRET_PLACEHOLDER: &str = "{secret}";

/// One issuer's check: `GET url` with `headers` (`{secret}` replaced by the key). A success
/// with a JSON body is live, a status in `dead` is dead, anything else is unknown — so a
/// check only says "dead" where the issuer's documentation says that status means a key it
/// does not accept.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub dead: Vec<u16>,
}

/// Why a rule's check cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeProblem {
    #[error("its url must start with https:// (it is {0})")]
    NotHttps(String),
    #[error("the key must not be in the url (keys travel only in headers)")]
    SecretInUrl,
    #[error("no header carries the key ({SECRET_PLACEHOLDER})")]
    SecretInNoHeader,
    #[error("`dead` must list 4xx statuses only (it has {0})")]
    DeadNotClientError(u16),
    #[error("`dead` is empty: the check could never tell a dead key")]
    NoDeadStatus,
}

impl Probe {
    /// The check's problems, when it is not one keywarden may run.
    pub fn problems(&self) -> Vec<ProbeProblem> {
        let mut problems = Vec::new();
        if !self.url.starts_with("https://") {
            problems.push(ProbeProblem::NotHttps(self.url.clone()));
        }
        if self.url.contains(SECRET_PLACEHOLDER) {
            problems.push(ProbeProblem::SecretInUrl);
        }
        if !self
            .headers
            .values()
            .any(|value| value.contains(SECRET_PLACEHOLDER))
        {
            problems.push(ProbeProblem::SecretInNoHeader);
        }
        if self.dead.is_empty() {
            problems.push(ProbeProblem::NoDeadStatus);
        }
        problems.extend(
            self.dead
                .iter()
                .filter(|status| !(400..500).contains(*status))
                .map(|status| ProbeProblem::DeadNotClientError(*status)),
        );
        problems
    }

    /// The URL asked: as written, or with `base` (scheme, host and any path prefix) in place
    /// of its scheme and host.
    pub fn url(&self, base: Option<&str>) -> String {
        match base {
            None => self.url.clone(),
            Some(base) => {
                let after_scheme = self.url.strip_prefix("https://").unwrap_or(&self.url);
                let path = after_scheme
                    .find('/')
                    .map_or("", |slash| &after_scheme[slash..]);
                format!("{}{path}", base.trim_end_matches('/'))
            }
        }
    }

    /// Asks the issuer about `key`. Never fails: trouble is `Unknown` with the reason.
    pub fn check(&self, http: &Http, base: Option<&str>, key: &Secret) -> Verification {
        let url = self.url(base);
        verify_by_status(
            http,
            key,
            |client| {
                self.headers
                    .iter()
                    .fold(client.get(&url), |request, (name, value)| {
                        request.header(name, value.replace(SECRET_PLACEHOLDER, key.expose()))
                    })
            },
            &self.dead,
        )
        .scrubbed(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(url: &str, header: &str, dead: &[u16]) -> Probe {
        Probe {
            url: url.to_string(),
            headers: BTreeMap::from([("Authorization".to_string(), header.to_string())]),
            dead: dead.to_vec(),
        }
    }

    #[test]
    fn a_base_url_replaces_scheme_and_host_and_keeps_the_path() {
        let p = probe(
            "https://api.example.com/v3/scopes",
            "Bearer {secret}",
            &[401],
        );
        assert_eq!(p.url(None), "https://api.example.com/v3/scopes");
        assert_eq!(
            p.url(Some("http://127.0.0.1:9/")),
            "http://127.0.0.1:9/v3/scopes"
        );
        assert_eq!(
            probe("https://api.example.com", "Bearer {secret}", &[401]).url(Some("http://h")),
            "http://h"
        );
    }

    #[test]
    fn checks_that_could_leak_or_misjudge_a_key_are_refused() {
        assert!(probe("https://a.example/me", "Bearer {secret}", &[401])
            .problems()
            .is_empty());
        assert_eq!(
            probe("http://a.example/me", "Bearer {secret}", &[401]).problems(),
            [ProbeProblem::NotHttps("http://a.example/me".into())]
        );
        assert_eq!(
            probe(
                "https://a.example/bot{secret}/me",
                "Bearer {secret}",
                &[401]
            )
            .problems(),
            [ProbeProblem::SecretInUrl]
        );
        assert_eq!(
            probe("https://a.example/me", "Bearer", &[401]).problems(),
            [ProbeProblem::SecretInNoHeader]
        );
        assert_eq!(
            probe("https://a.example/me", "Bearer {secret}", &[]).problems(),
            [ProbeProblem::NoDeadStatus]
        );
        assert_eq!(
            probe("https://a.example/me", "Bearer {secret}", &[401, 500]).problems(),
            [ProbeProblem::DeadNotClientError(500)]
        );
    }
}
