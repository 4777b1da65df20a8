//! Engine tests: every rule's examples and negatives, positions, escapes, allow comments,
//! overlaps and the prefilter's edge cases.

use super::*;
use crate::core::rules::template::{expand, KeyRng};

fn scanner() -> Scanner {
    Scanner::new(
        &RuleSet::builtin().expect("built-in rules parse"),
        Vec::new(),
    )
    .expect("built-in rules compile")
}

/// The rules' own examples and negatives, expanded with many seeds: each example yields
/// exactly its marked secret under its own rule, each negative nothing under its rule.
#[test]
fn every_rule_example_and_negative_holds() {
    let rules = RuleSet::builtin().expect("built-in rules parse");
    let scanner = scanner();
    let mut failures = Vec::new();
    for seed in 0..40u64 {
        let mut rng = KeyRng::new(seed);
        for rule in rules.rules() {
            for example in &rule.examples {
                let expanded = expand(example, &mut rng).expect("example template is valid");
                let findings = scanner.scan(expanded.text.as_bytes());
                let mine: Vec<_> = findings.iter().filter(|f| *f.rule_id == rule.id).collect();
                let expected = expanded.secret().expect("examples mark their secret");
                if mine.len() != 1 || mine[0].secret.expose() != expected {
                    failures.push(format!(
                        "{}: example {example:?} (seed {seed}) gave {:?}",
                        rule.id,
                        findings
                            .iter()
                            .map(|f| (&*f.rule_id, f.redacted()))
                            .collect::<Vec<_>>()
                    ));
                }
            }
            for negative in &rule.negatives {
                let expanded = expand(negative, &mut rng).expect("negative template is valid");
                let findings = scanner.scan(expanded.text.as_bytes());
                if findings.iter().any(|f| *f.rule_id == rule.id) {
                    failures.push(format!(
                        "{}: negative {negative:?} fired (seed {seed})",
                        rule.id
                    ));
                }
            }
        }
    }
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_builtin_regex_compiles_with_a_secret_group() {
    for rule in RuleSet::builtin().expect("parse").rules() {
        compile_pattern(&rule.id, &rule.regex).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn openai_key(rng: &mut KeyRng) -> String {
    expand("sk-proj-{alnum_:74}T3BlbkFJ{alnum_:74}", rng)
        .expect("valid")
        .text
}

#[test]
fn reports_line_and_character_column() {
    let key = openai_key(&mut KeyRng::new(3));
    let text = format!("# config\r\nname = \"é\"\r\n  key = \"{key}\"\r\n");
    let findings = scanner().scan(text.as_bytes());
    assert_eq!(findings.len(), 1);
    assert_eq!((findings[0].line, findings[0].column), (3, 10));
    assert_eq!(findings[0].secret.expose(), key);
}

#[test]
fn finds_keys_in_minified_lines_and_non_utf8_content() {
    let mut rng = KeyRng::new(4);
    let key = openai_key(&mut rng);
    let mut data = Vec::new();
    for i in 0..2000 {
        data.extend_from_slice(format!("var a{i}=\"{}\";", rng.string("abcdef", 8)).as_bytes());
    }
    data.extend_from_slice(&[0xff, 0xfe, b' ']);
    data.extend_from_slice(format!("k=\"{key}\";").as_bytes());
    let findings = scanner().scan(&data);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].line, 1);
    assert_eq!(findings[0].secret.expose(), key);
}

#[test]
fn finds_keys_in_json_escapes_and_url_queries() {
    let mut rng = KeyRng::new(5);
    let gh = expand("ghp_{alnum:36}", &mut rng).expect("valid").text;
    let json = format!("{{\"text\": \"token\\n{gh}\\n\"}}");
    assert_eq!(scanner().scan(json.as_bytes()).len(), 1);
    let url = format!("https://example.com/cb?next=%2F&token%3D{gh}&x=1");
    assert_eq!(scanner().scan(url.as_bytes()).len(), 1);
}

#[test]
fn inline_allow_comment_suppresses_that_line_only() {
    let mut rng = KeyRng::new(6);
    let a = expand("ghp_{alnum:36}", &mut rng).expect("valid").text;
    let b = expand("ghp_{alnum:36}", &mut rng).expect("valid").text;
    let text = format!("x = \"{a}\"  # keywarden:allow\ny = \"{b}\"\n");
    let findings = scanner().scan(text.as_bytes());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].secret.expose(), b);
}

#[test]
fn overlapping_rules_report_the_specific_one() {
    let key = openai_key(&mut KeyRng::new(7));
    let findings = scanner().scan(format!("OPENAI_API_KEY={key}\n").as_bytes());
    assert_eq!(findings.len(), 1);
    assert_eq!(&*findings[0].rule_id, "openai-project-key");
}

#[test]
fn user_allowlist_regex_suppresses_matching_secrets() {
    let key = openai_key(&mut KeyRng::new(8));
    let allow = regex::bytes::Regex::new(&regex::escape(&key[..20])).expect("valid");
    let scanner = Scanner::new(&RuleSet::builtin().expect("parse"), vec![allow]).expect("compile");
    assert!(scanner.scan(key.as_bytes()).is_empty());
}

#[test]
fn invalid_user_regex_names_the_rule() {
    let rules = crate::core::rules::parse_rule_file(
        "[[rule]]\nid = \"broken\"\nprovider = \"x\"\ndescription = \"x\"\nregex = '(unclosed'\n",
    )
    .expect("valid toml");
    let set = RuleSet::from_rules(rules).expect("unique");
    let err = Scanner::new(&set, Vec::new()).err().expect("regex error");
    assert!(err.to_string().contains("broken"), "{err}");
}

#[test]
fn binary_detection_looks_for_nul_in_the_first_8k() {
    assert!(is_binary(b"abc\0def"));
    assert!(!is_binary(b"plain text"));
    let mut late = vec![b'a'; 9000];
    late.push(0);
    assert!(!is_binary(&late));
}

/// The keyword search runs Teddy passes whose speed depends on the shortest keyword in each
/// (it compares that many leading bytes): a 2-byte keyword made the whole search several
/// times slower, so built-in keywords have at least 3 bytes.
#[test]
fn builtin_keywords_are_long_enough_for_the_simd_search() {
    let mut spellings = std::collections::HashSet::new();
    for rule in RuleSet::builtin().expect("parse").rules() {
        for keyword in &rule.keywords {
            assert!(keyword.len() >= 3, "rule {}: keyword {keyword:?}", rule.id);
            spellings.extend(keyword_spellings(keyword, rule.keywords_any_case));
        }
    }
    eprintln!("{} keyword spellings", spellings.len());
}
