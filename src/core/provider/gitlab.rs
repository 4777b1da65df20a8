//! GitLab: liveness through `GET /personal_access_tokens/self` (`PRIVATE-TOKEN`);
//! revocation by hand on the access-token page.

use super::{ManualSteps, Provider, Verification};
use crate::core::secret::Secret;

pub const DEFAULT_BASE: &str = "https://gitlab.com/api/v4";
pub const TOKENS_PAGE: &str = "https://gitlab.com/-/user_settings/personal_access_tokens";

super::http::api_provider!(GitLab);

impl Provider for GitLab {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::GitLab
    }

    fn default_env_var(&self) -> &'static str {
        "GITLAB_TOKEN"
    }

    fn verify(&self, key: &Secret) -> Verification {
        let url = self.api.url("/personal_access_tokens/self");
        super::verify_by_status(
            &self.api.http,
            key,
            |c| c.get(&url).header("PRIVATE-TOKEN", key.expose()),
            &[401],
        )
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        ManualSteps {
            page: Some(TOKENS_PAGE.to_string()),
            steps: vec![
                format!("Open {TOKENS_PAGE} (self-managed GitLab: the same path on your instance)."),
                format!("Find the token {} under \"Active personal access tokens\" and click \"Revoke\".", key.redacted()),
                "A project or group access token lives under that project's or group's Settings → Access tokens.".to_string(),
            ],
        }
    }
}
