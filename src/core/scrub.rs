//! What a purge removes from content: the secrets to find (literal strings and `regex:`
//! patterns, read from lines the user supplied) and the replacement written in their place.
//! Works on bytes, so binary, CRLF and non-UTF-8 content is scrubbed like any other; knows
//! nothing of git (the purge twin of the scan engine: bytes in, replaced bytes out).

use crate::core::secret::Secret;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;
use thiserror::Error;

/// The default replacement, the same as `git filter-repo --replace-text`, so both tools
/// produce the same trees.
pub const DEFAULT_REPLACEMENT: &str = "***REMOVED***";

/// Shorter literals would match ordinary text and silently wreck a history.
pub const MIN_SECRET_LEN: usize = 8;

#[derive(Debug, Error)]
pub enum ScrubError {
    #[error(
        "no secrets given (one per line; blank lines and lines starting with `#` are ignored)"
    )]
    Empty,
    #[error("line {line}: a secret of {len} characters is too short to purge safely (at least {min}); use a `regex:` line if you really mean it")]
    TooShort { line: usize, len: usize, min: usize },
    #[error("line {line}: invalid pattern: {message}")]
    BadRegex { line: usize, message: String },
    #[error("line {line}: the pattern matches the empty string")]
    EmptyMatch { line: usize },
    #[error("the replacement contains a secret it is meant to replace")]
    ReplacementMatches,
    #[error("cannot build the matcher: {0}")]
    Build(String),
}

/// Finds and replaces the secrets in byte strings.
pub struct Scrubber {
    literals: Vec<Secret>,
    automaton: Option<AhoCorasick>,
    patterns: Vec<Regex>,
    replacement: Vec<u8>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("literals", &self.literals)
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl Scrubber {
    /// Parses secrets one per line: a literal, or `regex:PATTERN`. Trailing `\r` is
    /// dropped (a file saved on Windows); blank lines and `#` comments are skipped.
    pub fn from_lines(text: &str, replacement: &str) -> Result<Self, ScrubError> {
        let mut literals = Vec::new();
        let mut patterns = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(pattern) = line.strip_prefix("regex:") {
                let re = Regex::new(pattern).map_err(|e| ScrubError::BadRegex {
                    line: line_no,
                    // The regex error quotes the pattern, which may be the secret itself.
                    message: first_line_without(&e.to_string(), pattern),
                })?;
                if re.is_match(b"") {
                    return Err(ScrubError::EmptyMatch { line: line_no });
                }
                patterns.push(re);
            } else {
                if line.chars().count() < MIN_SECRET_LEN {
                    return Err(ScrubError::TooShort {
                        line: line_no,
                        len: line.chars().count(),
                        min: MIN_SECRET_LEN,
                    });
                }
                literals.push(Secret::new(line));
            }
        }
        Self::new(literals, patterns, replacement)
    }

    pub fn new(
        mut literals: Vec<Secret>,
        patterns: Vec<Regex>,
        replacement: &str,
    ) -> Result<Self, ScrubError> {
        literals.sort_by(|a, b| a.expose().cmp(b.expose()));
        literals.dedup();
        if literals.is_empty() && patterns.is_empty() {
            return Err(ScrubError::Empty);
        }
        let automaton = if literals.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    // The longest secret wins where two overlap, as a person would expect.
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(literals.iter().map(|s| s.expose().as_bytes()))
                    .map_err(|e| ScrubError::Build(e.to_string()))?,
            )
        };
        let scrubber = Scrubber {
            literals,
            automaton,
            patterns,
            replacement: replacement.as_bytes().to_vec(),
        };
        if scrubber.is_match(replacement.as_bytes()) {
            return Err(ScrubError::ReplacementMatches);
        }
        Ok(scrubber)
    }

    pub fn len(&self) -> usize {
        self.literals.len() + self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The literal secrets (for redacted reporting).
    pub fn literals(&self) -> &[Secret] {
        &self.literals
    }

    pub fn replacement(&self) -> &[u8] {
        &self.replacement
    }

    /// Whether `data` holds any secret.
    pub fn is_match(&self, data: &[u8]) -> bool {
        self.automaton.as_ref().is_some_and(|ac| ac.is_match(data))
            || self.patterns.iter().any(|re| re.is_match(data))
    }

    /// The first secret in `data`: its byte offset and a redacted view of it.
    pub fn first_match(&self, data: &[u8]) -> Option<(usize, String)> {
        let literal = self
            .automaton
            .as_ref()
            .and_then(|ac| ac.find(data))
            .map(|m| (m.start(), self.literals[m.pattern().as_usize()].redacted()));
        let pattern = self
            .patterns
            .iter()
            .filter_map(|re| re.find(data))
            .min_by_key(|m| m.start())
            .map(|m| {
                (
                    m.start(),
                    Secret::new(String::from_utf8_lossy(m.as_bytes())).redacted(),
                )
            });
        match (literal, pattern) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// `data` with every secret replaced, or `None` when it holds none. Literals go first,
    /// then each pattern in the order given (as `git filter-repo --replace-text` does).
    pub fn replace(&self, data: &[u8]) -> Option<Vec<u8>> {
        self.replace_with(data, |_| self.replacement.clone())
    }

    /// `data` with each secret replaced by what `with` makes of it, or `None` when it holds
    /// none: the replacement where a name must stay valid (a ref name), a redacted view
    /// where text is shown.
    pub fn replace_with(&self, data: &[u8], with: impl Fn(&[u8]) -> Vec<u8>) -> Option<Vec<u8>> {
        if !self.is_match(data) {
            return None;
        }
        let mut out = match &self.automaton {
            Some(ac) => {
                let mut out = Vec::with_capacity(data.len());
                ac.replace_all_with_bytes(data, &mut out, |_, matched, dst| {
                    dst.extend_from_slice(&with(matched));
                    true
                });
                out
            }
            None => data.to_vec(),
        };
        for re in &self.patterns {
            if re.is_match(&out) {
                out = re
                    .replace_all(&out, |caps: &regex::bytes::Captures<'_>| with(&caps[0]))
                    .into_owned();
            }
        }
        Some(out)
    }

    /// `text` as it may be shown: each secret in it replaced by its redacted view
    /// (`ghp_Ab…9Q`), for names and messages that may hold one (a branch named after a key).
    pub fn redact(&self, text: &str) -> String {
        match self.replace_with(text.as_bytes(), |found| {
            crate::core::secret::redact(&String::from_utf8_lossy(found)).into_bytes()
        }) {
            Some(shown) => String::from_utf8_lossy(&shown).into_owned(),
            None => text.to_string(),
        }
    }

    /// A fingerprint of each secret and pattern, sorted: what a resumed run checks it was
    /// given the same secrets again, without anything that could reveal them being stored.
    pub fn fingerprints(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .literals
            .iter()
            .map(Secret::fingerprint)
            .chain(
                self.patterns
                    .iter()
                    .map(|re| crate::core::secret::fingerprint(&format!("regex:{}", re.as_str()))),
            )
            .collect();
        all.sort();
        all
    }
}

fn first_line_without(message: &str, pattern: &str) -> String {
    let line = message
        .lines()
        .rfind(|l| l.starts_with("error:"))
        .unwrap_or("not a valid regular expression");
    if pattern.is_empty() {
        line.to_string()
    } else {
        line.replace(pattern, "…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(n: usize) -> String {
        (0..n)
            .map(|i| (b'a' + (i * 11 % 26) as u8) as char)
            .collect()
    }

    #[test]
    fn replaces_literals_in_binary_and_crlf_content() {
        let secret = fake(40);
        let s = Scrubber::from_lines(&format!("{secret}\r\n"), DEFAULT_REPLACEMENT).expect("ok");
        let data = [b"\x00\xffA=".as_slice(), secret.as_bytes(), b"\r\n"].concat();
        let out = s.replace(&data).expect("changed");
        assert_eq!(out, b"\x00\xffA=***REMOVED***\r\n");
        assert!(s.replace(b"nothing here").is_none());
    }

    #[test]
    fn longest_overlapping_literal_wins() {
        let long = fake(30);
        let short = long[..20].to_string();
        let s = Scrubber::from_lines(&format!("{short}\n{long}\n"), "X").expect("ok");
        assert_eq!(
            s.replace(format!("<{long}>").as_bytes()).expect("changed"),
            b"<X>"
        );
    }

    #[test]
    fn regex_lines_are_patterns() {
        let s = Scrubber::from_lines("regex:tok_[0-9]{6}\n", "R").expect("ok");
        assert_eq!(s.replace(b"a tok_123456 b").expect("changed"), b"a R b");
        assert!(s
            .first_match(b"xx tok_123456")
            .is_some_and(|(at, _)| at == 3));
    }

    #[test]
    fn secrets_can_be_replaced_by_other_text_and_shown_redacted() {
        let secret = fake(40);
        let s =
            Scrubber::from_lines(&format!("{secret}\nregex:tok_[0-9]{{6}}\n"), "X").expect("ok");
        let named = format!("refs/heads/fix-{secret}-tok_123456");
        let renamed = s
            .replace_with(named.as_bytes(), |_| b"R".to_vec())
            .expect("changed");
        assert_eq!(renamed, b"refs/heads/fix-R-R");
        let shown = s.redact(&named);
        assert!(!shown.contains(&secret), "{shown}");
        assert!(shown.starts_with("refs/heads/fix-"), "{shown}");
        assert_eq!(s.redact("nothing"), "nothing");
        let again =
            Scrubber::from_lines(&format!("regex:tok_[0-9]{{6}}\n{secret}\n"), "Y").expect("ok");
        assert_eq!(s.fingerprints(), again.fingerprints());
        assert_eq!(s.fingerprints().len(), 2);
        assert!(s.fingerprints().iter().all(|f| !f.contains(&secret)));
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(matches!(
            Scrubber::from_lines("\n# comment\n", "X"),
            Err(ScrubError::Empty)
        ));
        assert!(matches!(
            Scrubber::from_lines("short\n", "X"),
            Err(ScrubError::TooShort { line: 1, .. })
        ));
        assert!(matches!(
            Scrubber::from_lines("regex:a*\n", "X"),
            Err(ScrubError::EmptyMatch { line: 1 })
        ));
        assert!(matches!(
            Scrubber::from_lines("regex:(\n", "X"),
            Err(ScrubError::BadRegex { line: 1, .. })
        ));
        let secret = fake(12);
        assert!(matches!(
            Scrubber::from_lines(&secret, &format!("[{secret}]")),
            Err(ScrubError::ReplacementMatches)
        ));
    }
}
