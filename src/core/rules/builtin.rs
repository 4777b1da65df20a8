//! The list of built-in rule files (`templates/rules/*.toml`), embedded in the binary as the
//! JSON that `build.rs` made of them, most specific first: when two rules match the same
//! text, the earlier one wins, so the generic rule comes last.

macro_rules! rule_files {
    ($($file:literal),* $(,)?) => {
        &[$((
            concat!($file, ".toml"),
            include_str!(concat!(env!("OUT_DIR"), "/rules/", $file, ".json")),
        )),*]
    };
}

/// Each file's name and its rules as JSON.
pub const BUILTIN_RULE_FILES: &[(&str, &str)] = rule_files![
    "openai",
    "anthropic",
    "github",
    "gitlab",
    "aws",
    "stripe",
    "slack",
    "google",
    "huggingface",
    "ai",
    "package-registries",
    "devtools",
    "cloud",
    "messaging",
    "payments",
    "databases",
    "private-key",
    "generic",
];
