//! The scan engine: bytes in, findings out. A keyword prefilter (one Aho-Corasick pass for
//! all rules) decides which rules run at all; their regexes run over the whole content or
//! only around keyword hits; then boundary, entropy, placeholder and allow-comment filters
//! drop what is not a real key. It never reads files or git: callers hand it bytes.

pub mod baseline;
mod filters;
mod keywords;

pub use crate::core::rules::Confidence;
use crate::core::rules::{Rule, RuleSet, Scope};
use crate::core::secret::{Liveness, Secret};
use keywords::KeywordSearch;
use regex::bytes::Regex;
use std::sync::{Arc, OnceLock};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("rule `{rule}` has an invalid regex: {message}")]
    InvalidRegex { rule: String, message: String },
    #[error("rule `{rule}` has no capture group named `secret` and is not a plain pattern")]
    NoSecretGroup { rule: String },
    #[error("could not build the keyword prefilter: {0}")]
    Prefilter(String),
}

/// Content larger than this is not scanned unless configured otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// How far around a keyword hit a `line`-scoped rule looks (bounded so that minified
/// single-line files stay linear).
const LINE_WINDOW_BEFORE: usize = 256;
const LINE_WINDOW_AFTER: usize = 512;

/// Marks a line whose findings are deliberate (`# keywarden:allow`); the other two are the
/// spellings of gitleaks and detect-secrets, honoured so a repository need not mark twice.
const ALLOW_MARKERS: &[&[u8]] = &[
    b"keywarden:allow",
    b"gitleaks:allow",
    b"pragma: allowlist secret",
];

/// One key found in some content. `path` and `commit` are filled in by whoever knows them.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule_id: Arc<str>,
    pub provider: Arc<str>,
    pub description: Arc<str>,
    pub path: Option<String>,
    pub commit: Option<String>,
    /// For a key in a ref's name (`refs/heads/fix-ghp_…`): that name with every key in it
    /// redacted. The full name is as secret as the key, so it is never kept here.
    pub ref_name: Option<String>,
    /// 1-based line of the first character of the secret.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte range of the secret in the scanned content.
    pub span: (usize, usize),
    pub secret: Secret,
    pub verified: Option<Liveness>,
    pub confidence: Confidence,
}

impl Finding {
    pub fn fingerprint(&self) -> String {
        self.secret.fingerprint()
    }

    pub fn redacted(&self) -> String {
        self.secret.redacted()
    }
}

struct CompiledRule {
    rule_id: Arc<str>,
    provider: Arc<str>,
    description: Arc<str>,
    /// The pattern and, once compiled, its regex and secret group: built-in rules compile
    /// on their first keyword hit, which keeps a pre-commit hook's start-up short.
    pattern: String,
    regex: OnceLock<(Regex, usize)>,
    entropy: Option<f64>,
    boundary: bool,
    scope: Scope,
    stopwords: Vec<Vec<u8>>,
    value_checks: bool,
    confidence: Confidence,
}

/// Compiled rules and prefilter; cheap to share between threads (`&Scanner` is `Sync`).
pub struct Scanner {
    rules: Vec<CompiledRule>,
    prefilter: KeywordSearch,
    /// For each prefilter pattern, the whole-content rules it triggers.
    keyword_rules: Vec<Vec<usize>>,
    /// Line-scoped rules grouped by the keywords that trigger them: rules of a group share
    /// their windows, which are found once per scan for the whole group.
    line_groups: Vec<Vec<usize>>,
    /// For each prefilter pattern, the line groups it triggers.
    keyword_groups: Vec<Vec<usize>>,
    /// Rules without keywords: they run on every content.
    unconditional: Vec<usize>,
    allowed_secrets: Vec<Regex>,
}

impl Scanner {
    /// Compiles `rules`. `allowed_secrets` are user regexes: a secret matching one is not
    /// reported.
    pub fn new(rules: &RuleSet, allowed_secrets: Vec<Regex>) -> Result<Self, ScanError> {
        let mut compiled = Vec::with_capacity(rules.rules().len());
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut unconditional = Vec::new();
        for (index, rule) in rules.rules().iter().enumerate() {
            compiled.push(compile_rule(rule)?);
            if rule.keywords.is_empty() {
                unconditional.push(index);
            }
            for keyword in rule
                .keywords
                .iter()
                .flat_map(|k| keyword_spellings(k, rule.keywords_any_case))
            {
                match keywords.iter().position(|k| *k == keyword) {
                    Some(existing) => keyword_rules[existing].push(index),
                    None => {
                        keywords.push(keyword);
                        keyword_rules.push(vec![index]);
                    }
                }
            }
        }
        // A case-sensitive, non-overlapping leftmost-longest search can use the SIMD packed
        // searcher (Teddy); a case-insensitive or overlapping one cannot, and was most of
        // the scan time. The price of non-overlapping: a keyword inside a longer one
        // (`secret` in `aws_secret`) is not reported on its own, so a hit of the longer
        // keyword also triggers the rules of every keyword it contains.
        let keyword_rules: Vec<Vec<usize>> = keywords
            .iter()
            .map(|outer| {
                let mut rules: Vec<usize> = keywords
                    .iter()
                    .zip(&keyword_rules)
                    .filter(|(inner, _)| outer.contains(inner.as_str()))
                    .flat_map(|(_, rules)| rules.iter().copied())
                    .collect();
                rules.sort_unstable();
                rules.dedup();
                rules
            })
            .collect();
        let prefilter =
            KeywordSearch::new(&keywords).map_err(|e| ScanError::Prefilter(e.to_string()))?;
        let (keyword_rules, line_groups, keyword_groups) =
            group_line_rules(&compiled, keyword_rules);
        Ok(Scanner {
            rules: compiled,
            prefilter,
            keyword_rules,
            line_groups,
            keyword_groups,
            unconditional,
            allowed_secrets,
        })
    }

    /// All findings in `data`, in order of position. Overlapping matches of several rules
    /// are reported once, for the rule listed first (the most specific).
    pub fn scan(&self, data: &[u8]) -> Vec<Finding> {
        let mut triggered = vec![false; self.rules.len()];
        for &index in &self.unconditional {
            triggered[index] = true;
        }
        let mut group_hits: Vec<Vec<usize>> = vec![Vec::new(); self.line_groups.len()];
        self.prefilter.for_each_hit(data, |keyword, start| {
            for &index in &self.keyword_rules[keyword] {
                triggered[index] = true;
            }
            for &group in &self.keyword_groups[keyword] {
                group_hits[group].push(start);
            }
        });
        // (start, end, rule) of every accepted match.
        let mut candidates: Vec<(usize, usize, usize)> = Vec::new();
        // Rules triggered as a whole (and rules without keywords) run over everything.
        for (index, rule) in self.rules.iter().enumerate() {
            if triggered[index] {
                self.collect(rule, index, data, 0, &mut candidates);
            }
        }
        for (group, hits) in self.line_groups.iter().zip(&mut group_hits) {
            if hits.is_empty() {
                continue;
            }
            if !self.prefilter.hits_in_order() {
                hits.sort_unstable();
                hits.dedup();
            }
            for (from, to) in line_windows(data, hits) {
                for &index in group {
                    let rule = &self.rules[index];
                    self.collect(rule, index, &data[from..to], from, &mut candidates);
                }
            }
        }
        candidates.sort_by_key(|&(start, end, rule)| (start, rule, std::cmp::Reverse(end)));
        candidates.dedup();
        let mut kept: Vec<(usize, usize, usize)> = Vec::with_capacity(candidates.len());
        // Overlaps: the earlier rule wins; among equal rules the longer match.
        for candidate in candidates {
            let overlapping = kept
                .iter()
                .rposition(|k| k.0 < candidate.1 && candidate.0 < k.1);
            match overlapping {
                None => kept.push(candidate),
                Some(at) if candidate.2 < kept[at].2 => kept[at] = candidate,
                Some(_) => {}
            }
        }
        kept.sort_by_key(|&(start, _, _)| start);
        let mut locator = LineLocator::new(data);
        kept.into_iter()
            .filter_map(|(start, end, index)| {
                let (line, column, line_bytes) = locator.locate(start);
                if ALLOW_MARKERS
                    .iter()
                    .any(|m| filters::contains(line_bytes, m))
                {
                    return None;
                }
                let rule = &self.rules[index];
                let secret = String::from_utf8_lossy(&data[start..end]).into_owned();
                Some(Finding {
                    rule_id: rule.rule_id.clone(),
                    provider: rule.provider.clone(),
                    description: rule.description.clone(),
                    path: None,
                    commit: None,
                    ref_name: None,
                    line,
                    column,
                    span: (start, end),
                    secret: Secret::new(secret),
                    verified: None,
                    confidence: rule.confidence,
                })
            })
            .collect()
    }

    fn collect(
        &self,
        rule: &CompiledRule,
        index: usize,
        hay: &[u8],
        offset: usize,
        out: &mut Vec<(usize, usize, usize)>,
    ) {
        let (regex, secret_group) = rule.regex.get_or_init(|| {
            compile_pattern(&rule.rule_id, &rule.pattern)
                .expect("built-in rules compile (checked by the test suite); user rules were compiled up front")
        });
        let mut at = 0;
        while at <= hay.len() {
            // Most windows hold no match: a plain search first spares building captures,
            // whose shared group table is a cross-thread atomic on every call.
            let Some(found) = regex.find_at(hay, at) else {
                break;
            };
            let Some(caps) = regex.captures_at(hay, found.start()) else {
                break;
            };
            let whole = caps.get(0).expect("group 0 is the whole match");
            let past = whole.end().max(whole.start() + 1);
            let Some(m) = caps.get(*secret_group) else {
                at = past;
                continue;
            };
            let (start, end) = (m.start(), m.end());
            if self.accepts(rule, &caps, hay, start, end) {
                out.push((start + offset, end + offset, index));
                at = past;
            } else {
                // A rejected match can hide an accepted one that starts inside it
                // (`key = process.env.DB_PASSWORD ?? "…"`: the first value is a reference,
                // the second a secret), so the search goes on from the rejected value.
                at = start.max(whole.start() + 1);
            }
        }
    }

    /// Whether the match of `rule` whose secret is `hay[start..end]` is reported.
    fn accepts(
        &self,
        rule: &CompiledRule,
        caps: &regex::bytes::Captures<'_>,
        hay: &[u8],
        start: usize,
        end: usize,
    ) -> bool {
        let secret = &hay[start..end];
        if rule.boundary && !filters::left_boundary_ok(hay, start) {
            return false;
        }
        if let Some(min) = rule.entropy {
            if filters::entropy_below(secret, min) {
                return false;
            }
        }
        if filters::is_placeholder(secret) {
            return false;
        }
        if rule
            .stopwords
            .iter()
            .any(|w| filters::contains_ignore_case(secret, w))
        {
            return false;
        }
        if rule.value_checks {
            // `${NAME:-value}` delimits its value as quotes do.
            let quoted = caps.name("quote").is_some() || caps.name("delimited").is_some();
            let name_start = caps.get(0).map(|m| m.start()).unwrap_or(start);
            let line_start = memchr::memrchr(b'\n', &hay[..name_start])
                .map(|i| i + 1)
                .unwrap_or(0);
            let before = &hay[line_start..name_start];
            if !filters::plausible_value(secret, quoted, before, &hay[end..]) {
                return false;
            }
        }
        !self.allowed_secrets.iter().any(|re| re.is_match(secret))
    }

    /// Rule ids in evaluation order (for reports that list the rules).
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.rule_id)
    }
}

/// Lists of rule indexes (or of group indexes), one per keyword or group.
type RuleLists = Vec<Vec<usize>>;

/// Splits each keyword's rules into the whole-content ones and groups of line-scoped ones
/// that the same keywords trigger: returns (whole-content rules per keyword, the groups, the
/// groups per keyword).
fn group_line_rules(
    rules: &[CompiledRule],
    keyword_rules: Vec<Vec<usize>>,
) -> (RuleLists, RuleLists, RuleLists) {
    let mut triggers: Vec<Vec<usize>> = vec![Vec::new(); rules.len()];
    for (keyword, indexes) in keyword_rules.iter().enumerate() {
        for &index in indexes {
            triggers[index].push(keyword);
        }
    }
    let mut groups: Vec<(Vec<usize>, Vec<usize>)> = Vec::new(); // (keywords, rules)
    for (index, rule) in rules.iter().enumerate() {
        if rule.scope != Scope::Line || triggers[index].is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(k, _)| *k == triggers[index]) {
            Some((_, members)) => members.push(index),
            None => groups.push((triggers[index].clone(), vec![index])),
        }
    }
    let mut keyword_groups: Vec<Vec<usize>> = vec![Vec::new(); keyword_rules.len()];
    for (group, (keywords, _)) in groups.iter().enumerate() {
        for &keyword in keywords {
            keyword_groups[keyword].push(group);
        }
    }
    let whole: Vec<Vec<usize>> = keyword_rules
        .into_iter()
        .map(|indexes| {
            indexes
                .into_iter()
                .filter(|&i| rules[i].scope == Scope::File)
                .collect()
        })
        .collect();
    (
        whole,
        groups.into_iter().map(|(_, r)| r).collect(),
        keyword_groups,
    )
}

/// The built-in rule that recognises the whole of `key` (a key on its own, as a person
/// pastes it), if one does.
pub fn builtin_rule_for(key: &Secret) -> Option<Rule> {
    let rules = RuleSet::builtin().ok()?;
    let scanner = Scanner::new(&rules, Vec::new()).ok()?;
    let finding = scanner
        .scan(key.expose().as_bytes())
        .into_iter()
        .find(|f| f.secret == *key)?;
    rules.get(&finding.rule_id).cloned()
}

fn compile_rule(rule: &Rule) -> Result<CompiledRule, ScanError> {
    let regex = OnceLock::new();
    if !rule.builtin {
        let _ = regex.set(compile_pattern(&rule.id, &rule.regex)?);
    }
    Ok(CompiledRule {
        rule_id: rule.id.as_str().into(),
        provider: rule.provider.as_str().into(),
        description: rule.description.as_str().into(),
        pattern: rule.regex.clone(),
        regex,
        entropy: rule.entropy,
        boundary: rule.boundary,
        scope: rule.scope,
        stopwords: rule
            .stopwords
            .iter()
            .map(|w| w.as_bytes().to_ascii_lowercase())
            .collect(),
        value_checks: rule.value_checks,
        confidence: rule.confidence,
    })
}

/// A rule's regex and the index of the group holding the secret (`secret`, or the whole
/// match for a pattern without groups).
fn compile_pattern(rule_id: &str, pattern: &str) -> Result<(Regex, usize), ScanError> {
    let regex = Regex::new(pattern).map_err(|e| ScanError::InvalidRegex {
        rule: rule_id.to_string(),
        message: e
            .to_string()
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_string(),
    })?;
    let secret_group = match regex.capture_names().position(|n| n == Some("secret")) {
        Some(i) => i,
        None if regex.captures_len() == 1 => 0,
        None => {
            return Err(ScanError::NoSecretGroup {
                rule: rule_id.to_string(),
            })
        }
    };
    Ok((regex, secret_group))
}

/// The spellings a keyword is searched in: as written, or also lower, UPPER and Title case.
fn keyword_spellings(keyword: &str, any_case: bool) -> Vec<String> {
    let mut spellings = vec![keyword.to_string()];
    if any_case {
        let lower = keyword.to_ascii_lowercase();
        let mut title = lower.clone();
        if let Some(first) = title.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        spellings.extend([keyword.to_ascii_uppercase(), title, lower]);
        spellings.sort();
        spellings.dedup();
    }
    spellings
}

/// Merged byte windows around keyword hits, each clipped to its line(s) and to a bounded
/// distance from the hit.
fn line_windows(data: &[u8], hits: &[usize]) -> Vec<(usize, usize)> {
    let mut windows: Vec<(usize, usize)> = Vec::new();
    for &hit in hits {
        let floor = hit.saturating_sub(LINE_WINDOW_BEFORE);
        let start = memchr::memrchr(b'\n', &data[floor..hit])
            .map(|i| floor + i + 1)
            .unwrap_or(floor);
        let ceiling = (hit + LINE_WINDOW_AFTER).min(data.len());
        let end = memchr::memchr(b'\n', &data[hit..ceiling])
            .map(|i| hit + i)
            .unwrap_or(ceiling);
        match windows.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => windows.push((start, end)),
        }
    }
    windows
}

/// Turns byte offsets (visited in increasing order) into 1-based line and column numbers
/// in one forward pass.
struct LineLocator<'a> {
    data: &'a [u8],
    line: usize,
    line_start: usize,
}

impl<'a> LineLocator<'a> {
    fn new(data: &'a [u8]) -> Self {
        LineLocator {
            data,
            line: 1,
            line_start: 0,
        }
    }

    /// Line, column (in characters) and the bytes of the line holding `offset`.
    fn locate(&mut self, offset: usize) -> (usize, usize, &'a [u8]) {
        if offset < self.line_start {
            self.line = 1;
            self.line_start = 0;
        }
        let segment = &self.data[self.line_start..offset];
        let mut last_newline = None;
        for at in memchr::memchr_iter(b'\n', segment) {
            self.line += 1;
            last_newline = Some(at);
        }
        if let Some(at) = last_newline {
            self.line_start += at + 1;
        }
        let prefix = &self.data[self.line_start..offset];
        let column = String::from_utf8_lossy(prefix).chars().count() + 1;
        let line_end = memchr::memchr(b'\n', &self.data[offset..])
            .map(|i| offset + i)
            .unwrap_or(self.data.len());
        (self.line, column, &self.data[self.line_start..line_end])
    }
}

/// Content a scan did not look at, and why: reported, never silently dropped.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// A path, or a blob id when the blob has no known path.
    pub what: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    Binary,
    TooLarge { size: u64, limit: u64 },
    Unreadable(String),
}

impl SkipReason {
    pub fn describe(&self) -> String {
        match self {
            SkipReason::Binary => "binary".to_string(),
            SkipReason::TooLarge { size, limit } => {
                format!(
                    "{} over the {} limit",
                    human_size(*size),
                    human_size(*limit)
                )
            }
            SkipReason::Unreadable(why) => format!("unreadable: {why}"),
        }
    }
}

pub fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// Binary content: a NUL byte in the first 8 KiB, as git decides it.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8192)].contains(&0)
}

#[cfg(test)]
mod tests;
