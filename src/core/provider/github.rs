//! GitHub: liveness through `GET /user`; revocation through the credential-revocation
//! endpoint (`POST /credentials/revoke`), which needs nothing but the token itself.

use super::{
    Credentials, ManualSteps, Provider, ProviderError, RemoteKey, Revocation, Verification,
};
use crate::core::secret::Secret;

pub const DEFAULT_BASE: &str = "https://api.github.com";
pub const TOKENS_PAGE: &str = "https://github.com/settings/tokens";

super::http::api_provider!(GitHub);

impl Provider for GitHub {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::GitHub
    }

    fn default_env_var(&self) -> &'static str {
        "GITHUB_TOKEN"
    }

    fn can_verify(&self, key: &Secret) -> bool {
        !key.expose().starts_with("ghr_")
    }

    fn verify(&self, key: &Secret) -> Verification {
        // A refresh token is not a bearer token: /user would refuse even a valid one.
        if key.expose().starts_with("ghr_") {
            return Verification::unknown("a refresh token cannot be checked without its app");
        }
        let url = self.api.url("/user");
        match self.api.http.send(key, |c| {
            c.get(&url)
                .bearer_auth(key.expose())
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
        }) {
            Ok(r) if r.is_success() => Verification::accepted(&r),
            Ok(r) if r.status == 401 => {
                Verification::dead(format!("rejected (HTTP 401): {}", r.summary()))
            }
            // 403 is a rate limit or a policy block (SSO, IP allow list): the token exists.
            Ok(r) if r.status == 403 && r.summary().contains("rate limit") => {
                Verification::unexpected(&r)
            }
            Ok(r) if r.status == 403 => {
                Verification::restricted(format!("accepted, but blocked: {}", r.summary()))
            }
            Ok(r) => Verification::unexpected(&r),
            Err(err) => Verification::from_error(&err),
        }
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        ManualSteps {
            page: Some(TOKENS_PAGE.to_string()),
            steps: vec![
                format!("Open {TOKENS_PAGE} (fine-grained tokens: {TOKENS_PAGE}?type=beta) signed in as the token's owner."),
                format!("Find the token {} by its name and last-used date and click \"Delete\".", key.redacted()),
                "For an OAuth or GitHub App token, revoke the app's authorization under Settings → Applications.".to_string(),
                "`keywarden` can also revoke it for you: GitHub accepts revocation from anyone holding the token.".to_string(),
            ],
        }
    }

    fn revoke(
        &self,
        key: &Secret,
        _located: Option<&RemoteKey>,
        _creds: &Credentials,
    ) -> Result<Revocation, ProviderError> {
        let url = self.api.url("/credentials/revoke");
        let body = serde_json::json!({ "credentials": [key.expose()] });
        let response = self.api.http.send(key, |c| {
            c.post(&url)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .json(&body)
        })?;
        if response.is_success() {
            Ok(Revocation::Revoked {
                detail: format!(
                    "GitHub accepted the revocation request (HTTP {}); the token stops working within minutes and its owner is notified",
                    response.status
                ),
            })
        } else {
            Err(ProviderError::status("GitHub", &response))
        }
    }
}
