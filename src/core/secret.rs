//! The `Secret` type and the two safe views of it: `redact` (for people) and `fingerprint`
//! (for machines). A `Secret` has no `Display` and a redacting `Debug`, so it cannot end up
//! in a log line or an error message by accident; `expose` is the one deliberate way out.

use sha2::{Digest, Sha256};
use std::fmt;

/// A key or password. Cloning is allowed (findings carry one); printing is not.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The full value. Callers must only send it to the file it already lives in, the
    /// keyring, a provider's API, or stdout under `--show-secrets`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn redacted(&self) -> String {
        redact(&self.0)
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort: overwrite the buffer in place so a freed key does not linger in
        // memory (clear keeps the capacity, so the refill reuses the same allocation).
        let len = self.0.len();
        self.0.clear();
        self.0.extend(std::iter::repeat_n('\0', len));
        std::hint::black_box(&self.0);
    }
}

/// What a provider says about a key: `Live` still works, `Dead` is revoked or invalid,
/// `Unknown` could not be decided (network trouble is never "dead").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    Live,
    Dead,
    Unknown,
}

impl Liveness {
    pub fn as_str(self) -> &'static str {
        match self {
            Liveness::Live => "live",
            Liveness::Dead => "dead",
            Liveness::Unknown => "unknown",
        }
    }
}

/// The longest prefix that is shown in full: the type marker of a key (`sk-proj-`,
/// `sk-ant-api03-`, `github_pat_`), which tells a person which key it is without revealing it.
const MAX_MARKER_LEN: usize = 15;

/// Type markers of more than one part. Any other marker is one lowercase word and its
/// separator (`ghp_`, `hf_`, `xoxb-`, `glpat-`): a marker found by looking for the last
/// separator would reach into the random part of keys whose body holds `-` or `_`.
const COMPOUND_MARKERS: &[&str] = &[
    "sk-proj-",
    "sk-svcacct-",
    "sk-admin-",
    "sk-ant-api03-",
    "sk-ant-admin01-",
    "github_pat_",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
];

/// How many leading characters of a key name its type.
fn marker_len(chars: &[char]) -> usize {
    let start: String = chars.iter().take(MAX_MARKER_LEN).collect();
    if let Some(len) = COMPOUND_MARKERS
        .iter()
        .filter(|m| start.starts_with(*m))
        .map(|m| m.len())
        .max()
    {
        return len;
    }
    let word = chars.iter().take_while(|c| c.is_ascii_lowercase()).count();
    match chars.get(word) {
        Some('-' | '_') if (2..=6).contains(&word) => word + 1,
        _ => 0,
    }
}

/// `sk-proj-Ab…Yz9Q`: the type marker and two characters, an ellipsis, the last four.
/// Short values reveal proportionally less; a PEM block shows only its first line.
pub fn redact(secret: &str) -> String {
    if let Some(first_line) = secret.strip_prefix("-----BEGIN ") {
        let header = first_line.split(['\n', '\r', '\\']).next().unwrap_or("");
        return format!("-----BEGIN {header}…");
    }
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    if n < 8 {
        return "…".to_string();
    }
    let marker = marker_len(&chars);
    let tail = if n >= 24 { 4 } else { 2 };
    // Never show more than about a third of what follows the marker.
    let budget = (n - marker) / 3;
    let head_extra = 2.min(budget.saturating_sub(tail));
    let head = if marker == 0 && n >= 20 {
        4.min(budget)
    } else {
        marker + head_extra
    };
    let tail = tail.min(budget.saturating_sub(head.saturating_sub(marker)).max(1));
    let head_str: String = chars[..head].iter().collect();
    let tail_str: String = chars[n - tail..].iter().collect();
    format!("{head_str}…{tail_str}")
}

/// `sha256:<hex>` of the value: stable, comparable across runs and machines, and useless for
/// recovering a high-entropy key.
pub fn fingerprint(secret: &str) -> String {
    fingerprint_parts(&[secret])
}

/// Fingerprint of several fields joined unambiguously (a NUL cannot occur in any of them).
pub fn fingerprint_parts(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(prefix: &str, body_len: usize) -> String {
        let body: String = (0..body_len)
            .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
            .collect();
        format!("{prefix}{body}Yz9Q")
    }

    #[test]
    fn redaction_keeps_marker_two_chars_and_last_four() {
        let k = key(&format!("sk-{}-", "proj"), 150);
        let r = redact(&k);
        assert!(r.starts_with("sk-proj-ah…"), "{r}");
        assert!(r.ends_with("…Yz9Q"), "{r}");
        assert!(r.chars().count() < 20);
    }

    #[test]
    fn the_marker_never_reaches_into_the_random_part() {
        for (prefix, shown) in [
            ("sk-proj-", "sk-proj-9L"),
            ("sk-", "sk-9L"),
            ("ghp_", "ghp_9L"),
            ("github_pat_", "github_pat_9L"),
            ("AKIA", "AKIA"),
        ] {
            let k = format!("{prefix}9L1T_xf-Qq_{}Yz9Q", "a".repeat(40));
            let r = redact(&k);
            assert!(r.starts_with(&format!("{shown}…")), "{prefix}: {r}");
        }
    }

    #[test]
    fn redaction_of_short_values_reveals_little() {
        assert_eq!(redact("abc"), "…");
        let r = redact("hunter2hunter2");
        let shown = r.chars().filter(|c| *c != '…').count();
        assert!(shown * 3 <= 14, "{r}");
    }

    #[test]
    fn redaction_of_pem_shows_header_only() {
        let pem = format!("-----BEGIN RSA {}-----\nMIIEow\n", "PRIVATE KEY");
        assert_eq!(redact(&pem), "-----BEGIN RSA PRIVATE KEY-----…");
    }

    #[test]
    fn debug_never_shows_the_value() {
        let k = key("ghp_", 40);
        let s = Secret::new(k.clone());
        assert!(!format!("{s:?}").contains(&k));
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_ne!(
            fingerprint_parts(&["ab", "c"]),
            fingerprint_parts(&["a", "bc"])
        );
        assert!(fingerprint("a").starts_with("sha256:"));
        assert_eq!(fingerprint("a").len(), 7 + 64);
    }
}
