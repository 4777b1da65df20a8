//! Anthropic: liveness through `GET /models` (`x-api-key`); an admin key (`sk-ant-admin…`)
//! is checked against the Admin API instead. Revocation is manual: the API cannot revoke.

use super::{ManualSteps, Provider, Verification};
use crate::core::secret::Secret;

pub const DEFAULT_BASE: &str = "https://api.anthropic.com/v1";
pub const KEYS_PAGE: &str = "https://console.anthropic.com/settings/keys";
const API_VERSION: &str = "2023-06-01";

super::http::api_provider!(Anthropic);

impl Provider for Anthropic {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::Anthropic
    }

    fn default_env_var(&self) -> &'static str {
        "ANTHROPIC_API_KEY"
    }

    fn verify(&self, key: &Secret) -> Verification {
        let path = if key.expose().starts_with("sk-ant-admin") {
            "/organizations/users?limit=1"
        } else {
            "/models?limit=1"
        };
        let url = self.api.url(path);
        match self.api.http.send(key, |c| {
            c.get(&url)
                .header("x-api-key", key.expose())
                .header("anthropic-version", API_VERSION)
        }) {
            Ok(r) if r.is_success() => Verification::accepted(&r),
            Ok(r)
                if r.status == 401
                    && r.error_field("type").as_deref() == Some("authentication_error") =>
            {
                Verification::dead(format!("authentication_error: {}", r.summary()))
            }
            Ok(r)
                if r.status == 403
                    && r.error_field("type").as_deref() == Some("permission_error") =>
            {
                Verification::restricted("accepted, but not allowed to list models")
            }
            Ok(r) => Verification::unexpected(&r),
            Err(err) => Verification::from_error(&err),
        }
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        ManualSteps {
            page: Some(KEYS_PAGE.to_string()),
            steps: vec![
                format!("Open {KEYS_PAGE} and sign in to the organization that owns the key."),
                format!("Find the key that ends like {} (the list shows its start and end).", key.redacted()),
                "Open its ⋯ menu and choose \"Delete API key\" (an admin key: Settings → Admin keys).".to_string(),
                "Create a new key with \"Create Key\" and store it with `keywarden keys add NAME --provider anthropic`.".to_string(),
            ],
        }
    }
}
