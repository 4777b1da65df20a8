//! The list of built-in rule files (`templates/rules/*.toml`), embedded in the binary, most
//! specific first: when two rules match the same text, the earlier one wins, so the generic
//! rule comes last.

macro_rules! rule_files {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../../templates/rules/", $file)))),*]
    };
}

pub const BUILTIN_RULE_FILES: &[(&str, &str)] = rule_files![
    "openai.toml",
    "anthropic.toml",
    "github.toml",
    "gitlab.toml",
    "aws.toml",
    "stripe.toml",
    "slack.toml",
    "google.toml",
    "huggingface.toml",
    "ai.toml",
    "package-registries.toml",
    "devtools.toml",
    "cloud.toml",
    "messaging.toml",
    "payments.toml",
    "databases.toml",
    "private-key.toml",
    "generic.toml",
];
