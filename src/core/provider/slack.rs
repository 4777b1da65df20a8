//! Slack: liveness through `auth.test` and revocation through `auth.revoke`, both with the
//! token alone. Slack answers HTTP 200 either way: the verdict is in `ok` and `error`.
//! Incoming-webhook URLs are not called (that could post to the channel).

use super::{
    Credentials, ManualSteps, Provider, ProviderError, RemoteKey, Revocation, Verification,
};
use crate::core::secret::Secret;
use serde_json::Value;

pub const DEFAULT_BASE: &str = "https://slack.com/api";
pub const APPS_PAGE: &str = "https://api.slack.com/apps";
/// `error` values that mean the token itself is finished.
const DEAD_ERRORS: &[&str] = &[
    "invalid_auth",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_authed",
];

super::http::api_provider!(Slack);

impl Slack {
    fn call(&self, method: &str, key: &Secret) -> Result<Value, ProviderError> {
        let url = self.api.url(&format!("/{method}"));
        let response = self
            .api
            .http
            .send(key, |c| c.post(&url).bearer_auth(key.expose()))?;
        if !response.is_success() {
            return Err(ProviderError::status("Slack", &response));
        }
        serde_json::from_str(&response.body)
            .map_err(|e| ProviderError::malformed("Slack", format!("{method}: {e}")))
    }
}

fn is_webhook(key: &Secret) -> bool {
    key.expose().contains("hooks.slack.com")
}

impl Provider for Slack {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::Slack
    }

    fn default_env_var(&self) -> &'static str {
        "SLACK_BOT_TOKEN"
    }

    fn can_verify(&self, key: &Secret) -> bool {
        !is_webhook(key)
    }

    fn verify(&self, key: &Secret) -> Verification {
        if is_webhook(key) {
            return Verification::unknown(
                "webhook URLs are not checked (a call could post to the channel)",
            );
        }
        match self.call("auth.test", key) {
            Ok(json) if json.get("ok").and_then(Value::as_bool) == Some(true) => {
                Verification::live("auth.test: ok")
            }
            Ok(json) => {
                let error = json
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no error given");
                if DEAD_ERRORS.contains(&error) {
                    Verification::dead(format!("auth.test: {error}"))
                } else if error == "missing_scope" {
                    Verification::restricted("auth.test: missing_scope")
                } else {
                    Verification::unknown(format!("auth.test: {error}"))
                }
            }
            Err(err) => Verification::from_error(&err),
        }
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        let mut steps = vec![format!(
            "Open {APPS_PAGE} and pick the app the token ({}) belongs to.",
            key.redacted()
        )];
        if is_webhook(key) {
            steps.push(
                "Under \"Incoming Webhooks\", remove the webhook URL and add a new one."
                    .to_string(),
            );
        } else {
            steps.push("Under \"OAuth & Permissions\", click \"Revoke All OAuth Tokens\" (or \"Rotate\" with token rotation on), then reinstall the app to get a new token.".to_string());
            steps.push(
                "`keywarden` can also revoke a bot or user token for you through auth.revoke."
                    .to_string(),
            );
        }
        ManualSteps {
            page: Some(APPS_PAGE.to_string()),
            steps,
        }
    }

    fn revoke(
        &self,
        key: &Secret,
        _located: Option<&RemoteKey>,
        _creds: &Credentials,
    ) -> Result<Revocation, ProviderError> {
        if is_webhook(key) {
            return Ok(Revocation::Manual(self.manual_steps(key)));
        }
        let json = self.call("auth.revoke", key)?;
        if json.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(Revocation::Revoked {
                detail: "auth.revoke: the token is revoked".to_string(),
            });
        }
        let error = json
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error given");
        if DEAD_ERRORS.contains(&error) {
            return Ok(Revocation::Revoked {
                detail: format!("the token was already unusable ({error})"),
            });
        }
        Err(ProviderError::Status {
            provider: "Slack",
            status: 200,
            message: format!("auth.revoke: {error}"),
        })
    }
}
