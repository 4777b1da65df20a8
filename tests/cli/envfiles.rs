//! The `.env` edit fixture corpus (`tests/fixtures/envfiles/<case>/`, described in its
//! README): every case's input round-trips byte for byte, its edit gives exactly `out` (or
//! the expected refusal), the warnings and changed lines listed, a redacted view with no key
//! in it, and a `.env.example` with no key in it. Then the edits are applied to real files.

use crate::support::keys;
use keywarden::core::envfile::{
    plan_replace, plan_set, Applied, Document, EnvEdit, EnvEditError, Refusal, Syntax, Warning,
};
use keywarden::core::envfiles::example_from_env;
use keywarden::core::secret::Secret;
use std::path::{Path, PathBuf};

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/envfiles");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("the fixture corpus exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

fn read(case: &Path, name: &str) -> Option<Vec<u8>> {
    std::fs::read(case.join(name)).ok()
}

fn text(case: &Path, name: &str) -> Option<String> {
    read(case, name).map(|b| String::from_utf8(b).expect("a UTF-8 fixture control file"))
}

fn fill(bytes: &[u8], old: &Secret, new: &Secret) -> Vec<u8> {
    let swap = |haystack: Vec<u8>, token: &[u8], with: &[u8]| {
        let mut out = Vec::new();
        let mut rest = &haystack[..];
        while let Some(at) = rest.windows(token.len()).position(|w| w == token) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(with);
            rest = &rest[at + token.len()..];
        }
        out.extend_from_slice(rest);
        out
    };
    let filled = swap(bytes.to_vec(), b"{{OLD}}", old.expose().as_bytes());
    swap(filled, b"{{NEW}}", new.expose().as_bytes())
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn refusal_name(refusal: &Refusal) -> (&'static str, usize) {
    match refusal {
        Refusal::NeedsQuoting { line, .. } => ("NeedsQuoting", *line),
        Refusal::LineBreak { line } => ("LineBreak", *line),
        Refusal::Unreadable { line, .. } => ("Unreadable", *line),
        Refusal::Disagreement { line, .. } => ("Disagreement", *line),
        Refusal::ReadBack { line } => ("ReadBack", *line),
        Refusal::BadName { .. } => ("BadName", 0),
        Refusal::EmptyOld => ("EmptyOld", 0),
    }
}

fn warning_line(warning: &Warning) -> String {
    match warning {
        Warning::Bom => "Bom".to_string(),
        Warning::DuplicateKey { var, lines } => {
            let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            format!("DuplicateKey {var} {}", lines.join(","))
        }
        Warning::ReferencesVariable { var, line } => format!("ReferencesVariable {var} {line}"),
    }
}

/// Runs a case's edit on `path` holding `input`.
fn plan(
    case: &Path,
    path: &Path,
    input: &[u8],
    old: &Secret,
    new: &Secret,
) -> Result<EnvEdit, EnvEditError> {
    let op = text(case, "op").expect("every case has an op");
    let op = op.trim();
    if let Some(var) = op.strip_prefix("set ") {
        plan_set(path, input, var, new)
    } else if op == "replace" {
        plan_replace(path, input, Syntax::Dotenv, old, new)
    } else if op == "replace plain" {
        plan_replace(path, input, Syntax::Plain, old, new)
    } else {
        panic!("{}: unknown op `{op}`", case.display())
    }
}

#[test]
fn every_fixture_case_gives_its_expected_output() {
    let cases = corpus();
    assert!(cases.len() >= 20, "the corpus has {} cases", cases.len());
    for case in cases {
        let name = case.file_name().expect("a case name").to_string_lossy();
        let old = Secret::new(keys::openai_project());
        let new = match read(&case, "new") {
            Some(bytes) => {
                let value = String::from_utf8(bytes).expect("a UTF-8 new value");
                Secret::new(value.strip_suffix('\n').unwrap_or(&value))
            }
            None => Secret::new(keys::openai_project()),
        };
        let input = fill(
            &read(&case, "in").expect("every case has an input"),
            &old,
            &new,
        );

        assert_eq!(
            Document::parse(&input).render(),
            input,
            "{name}: the input does not round-trip"
        );
        // Comments are copied into the template as they are; values never.
        let example = example_from_env(&String::from_utf8_lossy(&input));
        assert!(
            example
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .all(|l| !l.contains(old.expose())),
            "{name}: .env.example holds the key"
        );

        let result = plan(&case, Path::new(".env"), &input, &old, &new);
        match (read(&case, "out"), text(&case, "refused")) {
            (Some(out), None) => {
                let edit = result.unwrap_or_else(|e| panic!("{name}: refused: {e:#}"));
                assert_eq!(
                    String::from_utf8_lossy(&edit.after),
                    String::from_utf8_lossy(&fill(&out, &old, &new)),
                    "{name}: wrong output"
                );
                assert_eq!(edit.after, fill(&out, &old, &new), "{name}: wrong bytes");
                assert_eq!(edit.before, input, "{name}");
                let warnings: Vec<String> = edit.warnings.iter().map(warning_line).collect();
                let expected: Vec<String> = text(&case, "warnings")
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect();
                assert_eq!(warnings, expected, "{name}: warnings");
                if let Some(changes) = text(&case, "changes") {
                    let got: Vec<String> = edit
                        .changes
                        .iter()
                        .map(|c| format!("{} {}", c.line, c.var.as_deref().unwrap_or("-")))
                        .collect();
                    let expected: Vec<&str> = changes.lines().collect();
                    assert_eq!(got, expected, "{name}: changed lines");
                }
                let view = edit.redacted(&old, &new);
                for shown in [&view.before, &view.after] {
                    assert!(
                        !shown.contains(old.expose()),
                        "{name}: the view shows the old key"
                    );
                    assert!(
                        new.len() < 8 || !shown.contains(new.expose()),
                        "{name}: the view shows the new key"
                    );
                }
                if !edit.is_empty() && new.len() >= 8 {
                    assert!(
                        view.after.contains(&new.redacted()),
                        "{name}: {}",
                        view.after
                    );
                }
            }
            (None, Some(refused)) => {
                let err = match result {
                    Err(err) => err,
                    Ok(edit) => panic!(
                        "{name}: not refused, gave {:?}",
                        String::from_utf8_lossy(&edit.after)
                    ),
                };
                let EnvEditError::Refused { path, refusal } = &err else {
                    panic!("{name}: {err:#}");
                };
                assert_eq!(path, Path::new(".env"));
                let (kind, line) = refusal_name(refusal);
                assert_eq!(format!("{kind} {line}"), refused.trim(), "{name}: {err}");
                let message = err.to_string();
                assert!(message.starts_with(".env: line "), "{name}: {message}");
                assert!(!message.contains('\n'), "{name}: one line: {message}");
                assert!(
                    !message.contains(old.expose()) && !contains(message.as_bytes(), "{{"),
                    "{name}: {message}"
                );
            }
            _ => panic!("{name}: a case has either `out` or `refused`"),
        }
    }
}

#[cfg(unix)]
#[test]
fn fixture_edits_apply_to_real_files_keeping_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut applied = 0;
    for case in corpus() {
        if read(&case, "out").is_none() || read(&case, "new").is_some() {
            continue;
        }
        let (old, new) = (
            Secret::new(keys::openai_project()),
            Secret::new(keys::openai_project()),
        );
        let input = fill(&read(&case, "in").expect("input"), &old, &new);
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let path = dir.path().join(format!("{name}.env"));
        std::fs::write(&path, &input).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let edit = plan(&case, &path, &input, &old, &new).expect("plan");
        let outcome = edit.apply().expect("apply");
        let expected = fill(&read(&case, "out").expect("out"), &old, &new);
        assert_eq!(std::fs::read(&path).expect("read"), expected, "{name}");
        if expected == input {
            assert_eq!(outcome, Applied::NothingToDo, "{name}");
        } else {
            assert_eq!(outcome, Applied::Written, "{name}");
            applied += 1;
        }
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o640, "{name}");
    }
    assert!(applied >= 10, "only {applied} cases applied");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".env"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
