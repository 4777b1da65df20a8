//! `ProviderId`: which vendor a key belongs to, as one closed set instead of strings compared
//! in several places. It reads and writes as the ids rules and the registry have always used
//! (`openai`, `private-key`…), so `registry.json` and rule files keep working.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A provider id that keywarden does not know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown provider `{0}` (known: {known})", known = ProviderId::known_list())]
pub struct UnknownProvider(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderId {
    OpenAi,
    Anthropic,
    GitHub,
    GitLab,
    Aws,
    Stripe,
    Slack,
    Google,
    HuggingFace,
    PrivateKey,
    Generic,
}

/// The `<PROVIDER>` of `KEYWARDEN_<PROVIDER>_BASE_URL` for a provider id as rules write it,
/// a client's (`openai`) or an issuer's (`terraform-cloud` → `TERRAFORM_CLOUD`).
pub fn env_name(provider: &str) -> String {
    provider.to_ascii_uppercase().replace('-', "_")
}

impl ProviderId {
    /// Every provider, in the order they are listed to people.
    pub const ALL: [ProviderId; 11] = [
        ProviderId::OpenAi,
        ProviderId::Anthropic,
        ProviderId::GitHub,
        ProviderId::GitLab,
        ProviderId::Aws,
        ProviderId::Stripe,
        ProviderId::Slack,
        ProviderId::Google,
        ProviderId::HuggingFace,
        ProviderId::PrivateKey,
        ProviderId::Generic,
    ];

    /// The id as rules, the registry and `--provider` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::OpenAi => "openai",
            ProviderId::Anthropic => "anthropic",
            ProviderId::GitHub => "github",
            ProviderId::GitLab => "gitlab",
            ProviderId::Aws => "aws",
            ProviderId::Stripe => "stripe",
            ProviderId::Slack => "slack",
            ProviderId::Google => "google",
            ProviderId::HuggingFace => "huggingface",
            ProviderId::PrivateKey => "private-key",
            ProviderId::Generic => "generic",
        }
    }

    /// The vendor's name for people.
    pub fn name(self) -> &'static str {
        match self {
            ProviderId::OpenAi => "OpenAI",
            ProviderId::Anthropic => "Anthropic",
            ProviderId::GitHub => "GitHub",
            ProviderId::GitLab => "GitLab",
            ProviderId::Aws => "AWS",
            ProviderId::Stripe => "Stripe",
            ProviderId::Slack => "Slack",
            ProviderId::Google => "Google Cloud",
            ProviderId::HuggingFace => "Hugging Face",
            ProviderId::PrivateKey => "private key",
            ProviderId::Generic => "generic",
        }
    }

    /// The `<PROVIDER>` of `KEYWARDEN_<PROVIDER>_BASE_URL` (`OPENAI`, `PRIVATE_KEY`).
    pub fn env_name(self) -> String {
        env_name(self.as_str())
    }

    /// Whether a key of this provider has a vendor behind it at all (generic secrets and
    /// private keys do not: their variable is derived from the key's name).
    pub fn has_vendor(self) -> bool {
        !matches!(self, ProviderId::Generic | ProviderId::PrivateKey)
    }

    /// The variable an admin key for this provider's admin API is kept in, where there is one.
    pub fn admin_key_var(self) -> Option<&'static str> {
        match self {
            ProviderId::OpenAi => Some("OPENAI_ADMIN_KEY"),
            _ => None,
        }
    }

    fn known_list() -> String {
        ProviderId::ALL.map(ProviderId::as_str).join(", ")
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderId {
    type Err = UnknownProvider;

    /// Ids are matched without regard to case (`--provider OpenAI` works).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase();
        ProviderId::ALL
            .into_iter()
            .find(|id| id.as_str() == wanted)
            .ok_or_else(|| UnknownProvider(text.to_string()))
    }
}

impl Serialize for ProviderId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ProviderId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_as_the_strings_rules_and_the_registry_use() {
        for id in ProviderId::ALL {
            assert_eq!(id.as_str().parse::<ProviderId>(), Ok(id));
            assert_eq!(id.to_string(), id.as_str());
            let json = serde_json::to_string(&id).expect("serializes");
            assert_eq!(json, format!("\"{}\"", id.as_str()));
            assert_eq!(
                serde_json::from_str::<ProviderId>(&json).expect("parses"),
                id
            );
        }
        assert_eq!("OpenAI".parse::<ProviderId>(), Ok(ProviderId::OpenAi));
        assert_eq!(ProviderId::PrivateKey.env_name(), "PRIVATE_KEY");
        let err = "myspace".parse::<ProviderId>().expect_err("unknown");
        assert!(err.to_string().contains("myspace") && err.to_string().contains("openai"));
        assert!(serde_json::from_str::<ProviderId>("\"myspace\"").is_err());
    }
}
