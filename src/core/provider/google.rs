//! Google API keys: liveness by calling the Generative Language API with the key in the
//! `x-goog-api-key` header (never in the URL); an invalid key is `API_KEY_INVALID`, a valid
//! key for a project without that API is still live. Revocation by hand in the Cloud console.

use super::{ManualSteps, Provider, Verification};
use crate::core::secret::Secret;

pub const DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com/v1beta";
pub const CREDENTIALS_PAGE: &str = "https://console.cloud.google.com/apis/credentials";

super::http::api_provider!(Google);

impl Provider for Google {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::Google
    }

    fn default_env_var(&self) -> &'static str {
        "GOOGLE_API_KEY"
    }

    fn verify(&self, key: &Secret) -> Verification {
        let url = self.api.url("/models?pageSize=1");
        match self
            .api
            .http
            .send(key, |c| c.get(&url).header("x-goog-api-key", key.expose()))
        {
            Ok(r) if r.is_success() => Verification::accepted(&r),
            Ok(r) if r.body.contains("API_KEY_INVALID") => {
                Verification::dead("API_KEY_INVALID: the key is not valid")
            }
            // The key was recognised but this API is off or blocked for it: it still works elsewhere.
            Ok(r) if r.status == 403 => Verification::restricted(format!(
                "accepted, but this API is not enabled or allowed: {}",
                r.summary()
            )),
            Ok(r) => Verification::unexpected(&r),
            Err(err) => Verification::from_error(&err),
        }
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        ManualSteps {
            page: Some(CREDENTIALS_PAGE.to_string()),
            steps: vec![
                format!("Open {CREDENTIALS_PAGE} and select the project that owns the key (try each if unsure)."),
                format!("Under \"API Keys\", find the key {} (\"Show key\" reveals it to compare).", key.redacted()),
                "Either \"Regenerate key\" (the old value stops working) or delete it; then restrict the new key to the APIs and apps it needs.".to_string(),
            ],
        }
    }
}
