//! AWS access keys: an access key id alone cannot be checked (that needs its secret and a
//! signed request), so liveness is unknown; revocation is the IAM console or the exact
//! `aws iam` commands. The key id is never printed: the commands use a shell variable.

use super::{ManualSteps, Provider, Verification};
use crate::core::secret::Secret;

pub const CONSOLE_PAGE: &str = "https://console.aws.amazon.com/iam/home#/security_credentials";

pub struct Aws;

impl Provider for Aws {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::Aws
    }

    fn default_env_var(&self) -> &'static str {
        "AWS_ACCESS_KEY_ID"
    }

    fn can_verify(&self, _key: &Secret) -> bool {
        false
    }

    fn verify(&self, _key: &Secret) -> Verification {
        Verification::unknown(
            "AWS keys are not checked (it needs the secret key and a signed request); run `aws sts get-caller-identity` with them",
        )
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        ManualSteps {
            page: Some(CONSOLE_PAGE.to_string()),
            steps: vec![
                format!("Put the leaked access key id ({}) in a shell variable: read -rs KEY_ID", key.redacted()),
                "Find its account: aws sts get-access-key-info --access-key-id \"$KEY_ID\"".to_string(),
                "Find its user (with credentials for that account): aws iam list-users --query 'Users[].UserName' --output text | tr '\\t' '\\n' | while read -r u; do aws iam list-access-keys --user-name \"$u\" --query \"AccessKeyMetadata[?AccessKeyId=='$KEY_ID'].UserName\" --output text; done".to_string(),
                "Disable it at once: aws iam update-access-key --user-name USER --access-key-id \"$KEY_ID\" --status Inactive".to_string(),
                "Create the replacement: aws iam create-access-key --user-name USER (store it with `keywarden keys add NAME --provider aws`)".to_string(),
                "Once nothing uses the old key: aws iam delete-access-key --user-name USER --access-key-id \"$KEY_ID\"".to_string(),
                format!("Review CloudTrail for what the key did while exposed, or use the console: {CONSOLE_PAGE}"),
            ],
        }
    }
}
