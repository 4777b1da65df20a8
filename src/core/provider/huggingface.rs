//! Hugging Face: liveness through `GET /whoami-v2`. The Hub has no documented endpoint that
//! revokes a token given the token, so revocation is by hand on the tokens page.

use super::{ManualSteps, Provider, Verification};
use crate::core::secret::Secret;

pub const DEFAULT_BASE: &str = "https://huggingface.co/api";
pub const TOKENS_PAGE: &str = "https://huggingface.co/settings/tokens";

super::http::api_provider!(HuggingFace);

impl Provider for HuggingFace {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::HuggingFace
    }

    fn default_env_var(&self) -> &'static str {
        "HF_TOKEN"
    }

    fn verify(&self, key: &Secret) -> Verification {
        let url = self.api.url("/whoami-v2");
        super::verify_by_status(
            &self.api.http,
            key,
            |c| c.get(&url).bearer_auth(key.expose()),
            &[401],
        )
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        ManualSteps {
            page: Some(TOKENS_PAGE.to_string()),
            steps: vec![
                format!("Open {TOKENS_PAGE} signed in as the token's owner (an org token: the organization's settings)."),
                format!("Find the token {} and choose \"Invalidate and refresh\" (or delete it).", key.redacted()),
                "Store the new value with `keywarden keys add NAME --provider huggingface`.".to_string(),
            ],
        }
    }
}
