//! Detection rules as data: the `Rule` schema, the built-in set embedded from
//! `templates/rules/*.toml`, and the `RuleSet` that user configuration extends or trims.

mod builtin;
pub mod template;

use crate::core::provider::id::ProviderId;
use crate::core::provider::probe::Probe;
use serde::Deserialize;
use std::collections::HashSet;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RuleError {
    #[error("built-in rule file {file} is invalid: {message}")]
    BuiltinInvalid { file: &'static str, message: String },
    #[error("unknown rule id `{0}`")]
    UnknownRule(String),
    #[error("rule `{0}` is defined twice")]
    Duplicate(String),
    #[error("rule `{0}`: `verify` is allowed only in keywarden's built-in rules (a repository's rules could otherwise send the keys a scan finds to any server)")]
    UserProbe(String),
}

/// Where a rule's regex runs once one of its keywords is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The whole content: for rules whose regex starts with a distinctive literal.
    #[default]
    File,
    /// Only the text around each keyword hit: for context rules (`API_KEY = …`) whose regex
    /// has no literal to search for and would be slow over a whole file.
    Line,
}

/// One detection rule, as written in a rule file or in `.keywarden.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub provider: String,
    pub description: String,
    /// Matched against raw bytes. The secret is the group named `secret`, or the whole match.
    pub regex: String,
    /// The regex only runs where one of these occurs (as written; see `keywords_any_case`).
    /// A rule without keywords runs on everything.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Also match the keywords in lower case, UPPER case and Title case (`key`, `KEY`,
    /// `Key` — which covers `api_key`, `API_KEY` and `apiKey`). Off for provider prefixes,
    /// which have one spelling; keeping the search case-sensitive is what lets it use the
    /// SIMD searcher.
    #[serde(default)]
    pub keywords_any_case: bool,
    /// Minimum Shannon entropy (bits per character) of the secret.
    #[serde(default)]
    pub entropy: Option<f64>,
    /// Require that the secret is not glued to a preceding letter or digit.
    #[serde(default = "default_true")]
    pub boundary: bool,
    #[serde(default)]
    pub scope: Scope,
    /// Words that, anywhere in the secret (ASCII case-insensitive), mark it as a
    /// placeholder or documentation value.
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// For values found by their name rather than their shape: require a letter and a
    /// digit, and reject references (`$VAR`, `process.env.X`, `f()`, paths).
    #[serde(default)]
    pub value_checks: bool,
    /// Shipped with keywarden (its regex is checked by the test suite, so the scanner may
    /// compile it lazily); user rules are compiled up front so errors surface at once.
    #[serde(skip)]
    pub builtin: bool,
    /// Texts that must produce exactly one finding of this rule. Written as templates (see
    /// [`template`]) so that no literal key is stored; `«…»` marks the expected secret.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts that must produce no finding of this rule (templates too).
    #[serde(default)]
    pub negatives: Vec<String>,
    /// Where the issuer publishes the format the regex follows (built-in rules have one).
    #[serde(default)]
    pub reference: Option<String>,
    /// The page where the key's owner revokes it, shown in the manual revocation steps of a
    /// provider keywarden has no API client for.
    #[serde(default)]
    pub revoke_page: Option<String>,
    /// How sure a match is to be a live credential of this provider.
    #[serde(default)]
    pub confidence: Confidence,
    /// The issuer's harmless check of a key (built-in rules only; see `core::provider::probe`).
    #[serde(default)]
    pub verify: Option<Probe>,
}

/// A rule's confidence: `low` for shapes that other things share (an old key format with no
/// checksum or marker), reported but marked so a reader can weigh them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    #[default]
    High,
    Low,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Low => "low",
        }
    }
}

impl Rule {
    /// The provider the rule names, when keywarden knows it (a custom rule may name any).
    pub fn provider_id(&self) -> Option<ProviderId> {
        self.provider.parse().ok()
    }

    /// The harmless check of the rule's issuer, when the rule is built in and has one.
    pub fn issuer_check(&self) -> Option<&Probe> {
        self.verify.as_ref().filter(|_| self.builtin)
    }
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

pub use builtin::BUILTIN_RULE_FILES;

/// Parses a rule file's text (`[[rule]]` tables).
pub fn parse_rule_file(text: &str) -> Result<Vec<Rule>, toml::de::Error> {
    toml::from_str::<RuleFile>(text).map(|f| f.rule)
}

/// An ordered set of rules with unique ids.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    pub fn builtin() -> Result<Self, RuleError> {
        let mut rules = Vec::new();
        for (file, text) in BUILTIN_RULE_FILES {
            let parsed: RuleFile =
                serde_json::from_str(text).map_err(|e| RuleError::BuiltinInvalid {
                    file,
                    message: e.to_string(),
                })?;
            rules.extend(parsed.rule.into_iter().map(|rule| Rule {
                builtin: true,
                ..rule
            }));
        }
        Self::from_rules(rules)
    }

    pub fn from_rules(rules: Vec<Rule>) -> Result<Self, RuleError> {
        let mut seen = HashSet::new();
        for rule in &rules {
            if !seen.insert(rule.id.as_str()) {
                return Err(RuleError::Duplicate(rule.id.clone()));
            }
        }
        Ok(RuleSet { rules })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Removes the rules with these ids; an id that names no rule is an error, because a
    /// typo here would silently leave a rule on.
    pub fn disable(&mut self, ids: &[String]) -> Result<(), RuleError> {
        for id in ids {
            if self.get(id).is_none() {
                return Err(RuleError::UnknownRule(id.clone()));
            }
        }
        self.rules.retain(|r| !ids.contains(&r.id));
        Ok(())
    }

    /// Keeps only the rules with these ids (same error for unknown ids).
    pub fn only(&mut self, ids: &[String]) -> Result<(), RuleError> {
        for id in ids {
            if self.get(id).is_none() {
                return Err(RuleError::UnknownRule(id.clone()));
            }
        }
        self.rules.retain(|r| ids.contains(&r.id));
        Ok(())
    }

    /// Adds user rules. A user rule with a built-in's id replaces it in place, which is how
    /// a built-in is tuned; a new id is inserted before the generic catch-all rules.
    pub fn extend(&mut self, user_rules: Vec<Rule>) -> Result<(), RuleError> {
        let mut seen = HashSet::new();
        for rule in user_rules {
            if !seen.insert(rule.id.clone()) {
                return Err(RuleError::Duplicate(rule.id));
            }
            if rule.verify.is_some() {
                return Err(RuleError::UserProbe(rule.id));
            }
            if let Some(existing) = self.rules.iter_mut().find(|r| r.id == rule.id) {
                *existing = rule;
            } else {
                let at = self
                    .rules
                    .iter()
                    .position(|r| r.provider_id() == Some(ProviderId::Generic))
                    .unwrap_or(self.rules.len());
                self.rules.insert(at, rule);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_parse_with_unique_ids() {
        let set = RuleSet::builtin().expect("built-in rules parse");
        assert!(set.rules().len() >= 20, "{}", set.rules().len());
        let providers: HashSet<&str> = set.rules().iter().map(|r| r.provider.as_str()).collect();
        assert!(providers.len() >= 60, "{} providers", providers.len());
        for rule in set.rules() {
            assert!(!rule.examples.is_empty(), "rule {} has no example", rule.id);
            assert!(
                !rule.negatives.is_empty(),
                "rule {} has no negative example",
                rule.id
            );
            assert!(!rule.description.is_empty());
            let reference = rule.reference.as_deref().unwrap_or("");
            assert!(
                reference.starts_with("https://"),
                "rule {} has no reference to its published format",
                rule.id
            );
            if let Some(page) = &rule.revoke_page {
                assert!(page.starts_with("https://"), "rule {}: {page}", rule.id);
            }
            if let Some(probe) = &rule.verify {
                assert_eq!(probe.problems(), [], "rule {}", rule.id);
                assert!(
                    rule.provider_id().is_none(),
                    "rule {}: {} has a client of its own",
                    rule.id,
                    rule.provider
                );
            }
        }
    }

    #[test]
    fn disable_rejects_unknown_ids() {
        let mut set = RuleSet::builtin().expect("built-in rules parse");
        let err = set.disable(&["no-such-rule".into()]).unwrap_err();
        assert!(err.to_string().contains("no-such-rule"));
    }

    #[test]
    fn user_rules_replace_or_insert_before_generic() {
        let mut set = RuleSet::builtin().expect("built-in rules parse");
        let user = parse_rule_file(
            r#"
[[rule]]
id = "acme-token"
provider = "acme"
description = "ACME token"
regex = 'acme_[a-z0-9]{32}'
keywords = ["acme_"]
examples = ["token = «acme_{lowernum:32}»"]
negatives = ["acme_short"]
"#,
        )
        .expect("valid user rule");
        set.extend(user).expect("no duplicates");
        let pos = set
            .rules()
            .iter()
            .position(|r| r.id == "acme-token")
            .expect("added");
        let generic = set
            .rules()
            .iter()
            .position(|r| r.provider_id() == Some(ProviderId::Generic))
            .expect("generic");
        assert!(pos < generic);
    }
}
