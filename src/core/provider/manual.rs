//! Providers without a client of their own: private keys, and generic secrets — whose
//! revocation is the owner's job, with the steps to do it, and whose liveness is unknown
//! unless the built-in rule of their issuer has a harmless check (`probe`).

use super::{ManualSteps, Provider, Providers, Verification};
use crate::core::secret::Secret;

pub struct PrivateKey;

impl Provider for PrivateKey {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::PrivateKey
    }

    fn default_env_var(&self) -> &'static str {
        "PRIVATE_KEY"
    }

    fn can_verify(&self, _key: &Secret) -> bool {
        false
    }

    fn verify(&self, _key: &Secret) -> Verification {
        Verification::unknown("a private key has no provider to ask")
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        ManualSteps {
            page: None,
            steps: vec![
                format!("Treat the key ({}) as compromised: generate a new key pair (e.g. ssh-keygen -t ed25519, or a new certificate request).", key.redacted()),
                "Remove the old public key everywhere it is trusted: ~/.ssh/authorized_keys on servers, GitHub/GitLab SSH and deploy keys, cloud key pairs; revoke its certificate if it had one.".to_string(),
                "Deploy the new key where the old one was used, then delete every copy of the old private key.".to_string(),
            ],
        }
    }
}

/// A secret of an issuer keywarden has no client for: its built-in rule (found from the
/// key's shape) gives the revoke page and, where the issuer has one, a harmless check.
pub struct Generic {
    providers: Providers,
}

impl Generic {
    pub fn new(providers: Providers) -> Self {
        Generic { providers }
    }

    /// One that can reach nothing but the defaults (unit tests that never verify).
    #[cfg(test)]
    pub(crate) fn with_defaults() -> Self {
        let http = super::Http::new(super::HttpConfig::default()).expect("an HTTP client");
        Generic::new(Providers::new(
            http,
            &crate::core::environment::Environment::default(),
        ))
    }
}

impl Provider for Generic {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::Generic
    }

    fn default_env_var(&self) -> &'static str {
        "SECRET"
    }

    fn can_verify(&self, key: &Secret) -> bool {
        crate::core::scan::builtin_rule_for(key).is_some_and(|rule| rule.issuer_check().is_some())
    }

    fn verify(&self, key: &Secret) -> Verification {
        crate::core::scan::builtin_rule_for(key)
            .and_then(|rule| self.providers.check_with_probe(&rule, key))
            .unwrap_or_else(|| {
                Verification::unknown("the issuer of this secret cannot be asked about it")
            })
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        if let Some(rule) = crate::core::scan::builtin_rule_for(key) {
            let page = rule.revoke_page.clone();
            let at = page
                .as_deref()
                .map(|page| format!(" at {page}"))
                .unwrap_or_else(|| " in the issuer's console".to_string());
            return ManualSteps {
                page,
                steps: vec![
                    format!("Revoke the {} ({}){at} and create a new one there.", rule.description, key.redacted()),
                    "Update every place that uses it, then check the issuer's audit or access log for use while it was exposed.".to_string(),
                ],
            };
        }
        ManualSteps {
            page: None,
            steps: vec![
                format!("Find who issued the secret ({}): the variable name next to it usually says (e.g. DATABASE_PASSWORD, SENTRY_TOKEN).", key.redacted()),
                "Rotate it there: change the password or revoke the token and issue a new one.".to_string(),
                "Update every place that uses it, then check the service's access logs for use while it was exposed.".to_string(),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::provider::Provider;
    use crate::core::rules::template::{expand, KeyRng};

    #[test]
    fn a_key_of_a_known_issuer_gets_its_description_and_revoke_page() {
        let key = expand("npm_{alnum:36}", &mut KeyRng::new(1))
            .expect("valid")
            .text;
        let steps = Generic::with_defaults().manual_steps(&Secret::new(key));
        assert_eq!(
            steps.page.as_deref(),
            Some("https://docs.npmjs.com/revoking-access-tokens")
        );
        assert!(
            steps.steps[0].starts_with("Revoke the npm access token (npm_"),
            "{:?}",
            steps.steps
        );
        let unknown =
            Generic::with_defaults().manual_steps(&Secret::new("q8Zr3LmX0aTf7KpW2".to_string()));
        assert!(unknown.page.is_none());
        assert!(unknown.steps[0].starts_with("Find who issued"));
    }
}
