//! Stripe: liveness through `GET /balance` (a restricted key without that permission is
//! still live); revocation ("roll" or delete) by hand in the dashboard.

use super::{ManualSteps, Provider, Verification};
use crate::core::secret::Secret;

pub const DEFAULT_BASE: &str = "https://api.stripe.com/v1";
pub const KEYS_PAGE: &str = "https://dashboard.stripe.com/apikeys";
pub const WEBHOOKS_PAGE: &str = "https://dashboard.stripe.com/webhooks";

/// A webhook signing secret (`whsec_`) signs events Stripe sends; the API does not take it,
/// so asking the API about it would only ever say "rejected".
fn is_webhook_secret(key: &Secret) -> bool {
    key.expose().starts_with("whsec_")
}

super::http::api_provider!(Stripe);

impl Provider for Stripe {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::Stripe
    }

    fn default_env_var(&self) -> &'static str {
        "STRIPE_SECRET_KEY"
    }

    fn can_verify(&self, key: &Secret) -> bool {
        !is_webhook_secret(key)
    }

    fn verify(&self, key: &Secret) -> Verification {
        if is_webhook_secret(key) {
            return Verification::unknown(
                "a webhook signing secret cannot be checked through the API",
            );
        }
        let url = self.api.url("/balance");
        match self
            .api
            .http
            .send(key, |c| c.get(&url).bearer_auth(key.expose()))
        {
            Ok(r) if r.is_success() => Verification::accepted(&r),
            Ok(r) if r.status == 401 => Verification::dead(format!("rejected: {}", r.summary())),
            Ok(r) if r.status == 403 => {
                Verification::restricted("restricted key: accepted, but may not read the balance")
            }
            Ok(r) => Verification::unexpected(&r),
            Err(err) => Verification::from_error(&err),
        }
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        if is_webhook_secret(key) {
            return ManualSteps {
                page: Some(WEBHOOKS_PAGE.to_string()),
                steps: vec![
                    format!("Open {WEBHOOKS_PAGE}, signed in to the account that owns the endpoint whose signing secret is {}.", key.redacted()),
                    "Open the endpoint, choose \"Roll secret\" and let the old secret expire now.".to_string(),
                    "Put the new signing secret where the endpoint's code reads it.".to_string(),
                ],
            };
        }
        ManualSteps {
            page: Some(KEYS_PAGE.to_string()),
            steps: vec![
                format!("Open {KEYS_PAGE} in live mode, signed in to the account that owns the key."),
                format!("Find the key {} (secret keys under \"Standard keys\", rk_ keys under \"Restricted keys\").", key.redacted()),
                "Open its ⋯ menu and choose \"Roll key…\" with expiry \"Now\" (or \"Delete\" for a restricted key).".to_string(),
                "Store the new key with `keywarden keys add NAME --provider stripe`.".to_string(),
            ],
        }
    }
}
