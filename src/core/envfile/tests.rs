//! Tests of the `.env` document: structure, the byte-for-byte round trip (also as property
//! tests on arbitrary bytes and on generated `.env`-like text), both edits, every refusal,
//! the warnings, the redacted view and applying an edit.

use super::parse::LineEnding;
use super::*;
use proptest::prelude::*;

/// A key-shaped value assembled at run time (the repository holds no key-shaped literal).
fn key(fill: char) -> Secret {
    Secret::new(format!(
        "sk-{}-{}_{}-Yz9Q",
        "proj",
        fill.to_string().repeat(30),
        "x7"
    ))
}

fn secret(text: &str) -> Secret {
    Secret::new(text)
}

/// `text` with `{OLD}` and `{NEW}` standing for the two keys.
fn fill(text: &str, old: &Secret, new: &Secret) -> Vec<u8> {
    text.replace("{OLD}", old.expose())
        .replace("{NEW}", new.expose())
        .into_bytes()
}

fn set(text: &str, var: &str, value: &Secret) -> Result<Document, Refusal> {
    let mut doc = Document::parse(text.as_bytes());
    doc.set(var, value)?;
    Ok(doc)
}

fn replace(text: &[u8], old: &Secret, new: &Secret) -> Result<Document, Refusal> {
    let mut doc = Document::parse(text);
    doc.replace_value(old, new)?;
    Ok(doc)
}

const TRICKY: &[u8] =
    b"\xEF\xBB\xBF# top\r\nexport A=1 # one\n  B = 'two' \r\nC=\"multi\nline\" # c\nD: four\n\
E=`five`\nbare\nF=\"unterminated\n\xff\xfe=\xc3\xa9\nG=last";

#[test]
fn an_unedited_document_renders_its_input() {
    for input in [
        TRICKY,
        b"" as &[u8],
        b"\n",
        b"\r\n\r\n",
        b"A=1",
        b"\xEF\xBB\xBF",
        b"A='x\\'\nB=2\n",
        b"K=\"a\"b\n",
    ] {
        assert_eq!(Document::parse(input).render(), input);
    }
}

#[test]
fn lines_have_kinds_spans_numbers_and_endings() {
    let doc = Document::parse(TRICKY);
    assert!(doc.has_bom());
    let kinds: Vec<&str> = doc
        .lines()
        .iter()
        .map(|l| match &l.kind {
            LineKind::Assignment(_) => "assign",
            LineKind::Comment => "comment",
            LineKind::Blank => "blank",
            LineKind::Opaque => "opaque",
        })
        .collect();
    assert_eq!(
        kinds,
        ["comment", "assign", "assign", "assign", "assign", "assign", "opaque", "opaque"]
    );
    let numbers: Vec<usize> = doc.lines().iter().map(|l| l.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 6, 7, 8, 9]);
    assert_eq!(doc.lines()[0].ending, LineEnding::CrLf);
    assert_eq!(doc.lines()[1].ending, LineEnding::Lf);
    // The unterminated quote swallows the rest of the file, as dotenvy reads it.
    assert_eq!(doc.lines()[7].ending, LineEnding::None);

    let assignment = |i: usize| match &doc.lines()[i].kind {
        LineKind::Assignment(a) => a.clone(),
        other => panic!("line {i} is {other:?}"),
    };
    let a = assignment(1);
    assert!(a.export);
    assert_eq!(doc.bytes(&a.key), b"A");
    assert_eq!(doc.bytes(&a.value), b"1");
    assert_eq!(doc.bytes(&a.trailer), b" # one");
    let b = assignment(2);
    assert_eq!((b.quote, doc.bytes(&b.value)), (Quote::Single, &b"two"[..]));
    assert_eq!(doc.bytes(&b.trailer), b" ");
    let c = assignment(3);
    assert_eq!(
        (c.quote, doc.bytes(&c.value)),
        (Quote::Double, &b"multi\nline"[..])
    );
    let d = assignment(4);
    assert_eq!(d.separator, Separator::Colon);
    assert_eq!(doc.bytes(&d.value), b"four");
    assert_eq!(assignment(5).quote, Quote::Backtick);
}

#[test]
fn values_and_comments_follow_the_common_dialect() {
    let doc = Document::parse(b"A=a#b\nB=a #b\nC= # c\nD=\"x\"#y\nE=\"x\" #y\nF=a b\n");
    let bindings = doc.assignments();
    let values: Vec<(&str, &str)> = bindings
        .iter()
        .map(|b| (b.key.as_str(), b.value.expose()))
        .collect();
    // `#` starts a comment only after a blank; text glued to a closing quote is opaque.
    assert_eq!(
        values,
        [
            ("A", "a#b"),
            ("B", "a"),
            ("C", ""),
            ("E", "x"),
            ("F", "a b")
        ]
    );
    assert_eq!(doc.lines()[3].kind, LineKind::Opaque);
}

#[test]
fn assignments_list_keys_values_and_lines_without_showing_values() {
    let old = key('a');
    let text = fill(
        "# k\nOPENAI_API_KEY={OLD}\nexport OTHER='{OLD}'\n",
        &old,
        &old,
    );
    let bindings = Document::parse(&text).assignments();
    assert_eq!(bindings.len(), 2);
    assert_eq!(bindings[0].key, "OPENAI_API_KEY");
    assert_eq!(bindings[0].line, 2);
    assert_eq!(bindings[1].line, 3);
    assert!(bindings.iter().all(|b| b.value == old));
    let debug = format!("{bindings:?} {:?}", Document::parse(&text));
    assert!(!debug.contains(old.expose()), "{debug}");
}

#[test]
fn set_keeps_quoting_export_comments_and_line_endings() {
    let new = key('n');
    for (input, expected) in [
        ("K=old # c\r\n", "K={NEW} # c\r\n"),
        ("export K='old' # c\n", "export K='{NEW}' # c\n"),
        ("  K = \"old\"\n", "  K = \"{NEW}\"\n"),
        ("K=`old`", "K=`{NEW}`"),
        ("K=\"multi\nline\" # pem\nX=1\n", "K=\"{NEW}\" # pem\nX=1\n"),
        ("K=\n", "K={NEW}\n"),
        ("K=   # empty\n", "K={NEW}   # empty\n"),
    ] {
        let doc = set(input, "K", &new).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(
            doc.render(),
            fill(expected, &new, &new),
            "{input:?} gave {:?}",
            String::from_utf8_lossy(&doc.render())
        );
        let edit = doc.into_edit(".env");
        assert_eq!(edit.before, input.as_bytes());
        assert_eq!(
            edit.changes,
            [Change {
                line: 1,
                var: Some("K".into())
            }]
        );
        assert!(edit.warnings.is_empty(), "{:?}", edit.warnings);
    }
}

#[test]
fn set_empties_a_value() {
    let old = key('o');
    let text = fill("A={OLD}\nB=\"{OLD}\" # keep\n", &old, &old);
    let mut doc = Document::parse(&text);
    doc.set("A", &secret("")).expect("empty unquoted");
    doc.set("B", &secret("")).expect("empty quoted");
    assert_eq!(doc.render(), b"A=\nB=\"\" # keep\n");
    assert_eq!(doc.into_edit(".env").changes.len(), 2);
}

#[test]
fn set_sets_every_duplicate_and_warns() {
    let new = key('n');
    let doc = set("K=a\nX=1\nexport K='b'\n", "K", &new).expect("set");
    assert_eq!(
        doc.render(),
        fill("K={NEW}\nX=1\nexport K='{NEW}'\n", &new, &new)
    );
    let edit = doc.into_edit(".env");
    assert_eq!(edit.changes.len(), 2);
    assert_eq!(
        edit.warnings,
        [Warning::DuplicateKey {
            var: "K".into(),
            lines: vec![1, 3]
        }]
    );
}

#[test]
fn set_appends_a_missing_variable_in_the_files_line_ending() {
    let new = key('n');
    let doc = set("A=1\r\nB=2", "K", &new).expect("set");
    assert_eq!(doc.render(), fill("A=1\r\nB=2\r\nK={NEW}\r\n", &new, &new));
    assert_eq!(
        doc.into_edit(".env").changes,
        [Change {
            line: 3,
            var: Some("K".into())
        }]
    );
    let doc = set("", "K", &new).expect("set in an empty file");
    assert_eq!(doc.render(), fill("K={NEW}\n", &new, &new));
}

#[test]
fn set_warns_about_a_bom_and_references() {
    let new = key('n');
    let doc = set(
        "\u{feff}K=a\nURL=https://x/?k=${K}\nALIAS=$K\nNOT=$KEY\n",
        "K",
        &new,
    )
    .expect("set");
    let warnings = doc.into_edit(".env").warnings;
    assert_eq!(
        warnings,
        [
            Warning::Bom,
            Warning::ReferencesVariable {
                var: "K".into(),
                line: 2
            },
            Warning::ReferencesVariable {
                var: "K".into(),
                line: 3
            },
        ]
    );
    assert!(warnings.iter().all(|w| !w.to_string().is_empty()));
}

#[test]
fn set_refuses_values_that_need_other_quoting() {
    for (input, value, found) in [
        ("K=a\n", "a b", Found::Whitespace),
        ("K=a\n", "a#b", Found::Char('#')),
        ("K=a\n", "a$b", Found::Char('$')),
        ("K=a\n", "a\"b", Found::Char('"')),
        ("K=a\n", "a;b", Found::Char(';')),
        ("K='a'\n", "it's", Found::Char('\'')),
        ("K='a'\n", "a\\b", Found::Char('\\')),
        ("K='a'\n", "${X}", Found::Char('$')),
        ("K=\"a\"\n", "say \"hi\"", Found::Char('"')),
        ("K=\"a\"\n", "a`cmd`", Found::Char('`')),
        ("K=`a`\n", "a`b", Found::Char('`')),
        ("K=`a`\n", "a b", Found::Whitespace),
        ("K=a\n", "a\u{7}b", Found::ControlByte),
    ] {
        let err = set(input, "K", &secret(value)).expect_err(input);
        match &err {
            Refusal::NeedsQuoting {
                line: 1,
                var,
                found: f,
                ..
            } if var == "K" && *f == found => {}
            other => panic!("{input:?} {value:?}: {other:?}"),
        }
        // The message names the character, never the value.
        assert!(value.len() < 4 || !err.to_string().contains(value), "{err}");
    }
    // What a quoting can hold is accepted as it is.
    set("K='a'\n", "K", &secret("a b#\"c")).expect("single quotes hold blanks, # and \"");
    set("K=\"a\"\n", "K", &secret("a b#'c")).expect("double quotes hold blanks, # and '");
}

#[test]
fn set_refuses_line_breaks_bad_names_and_a_document_stays_unchanged() {
    let input = "K=\"a\"\n";
    let mut doc = Document::parse(input.as_bytes());
    assert_eq!(
        doc.set("K", &secret("a\nb")),
        Err(Refusal::LineBreak { line: 1 })
    );
    assert_eq!(
        doc.set("K", &secret("a\rb")),
        Err(Refusal::LineBreak { line: 1 })
    );
    assert!(matches!(
        doc.set("1K", &key('n')),
        Err(Refusal::BadName { .. })
    ));
    assert!(matches!(
        doc.set("K-Y", &key('n')),
        Err(Refusal::BadName { .. })
    ));
    assert_eq!(doc.render(), input.as_bytes());
    assert!(doc.into_edit(".env").changes.is_empty());
}

#[test]
fn set_refuses_an_opaque_assignment_instead_of_duplicating_it() {
    assert!(matches!(
        set("export K=\"a\"b\n", "K", &key('n')),
        Err(Refusal::Unreadable { line: 1, .. })
    ));
}

#[test]
fn lines_dotenvy_cannot_read_are_refused_when_edited() {
    let new = key('n');
    // `KEY: value` is node/compose syntax; dotenvy reads no value there.
    assert_eq!(
        set("A=1\nK: old\n", "K", &new).map(|_| ()),
        Err(Refusal::Disagreement {
            line: 2,
            var: "K".into(),
            reason: Disagreement::ReadsNoValue
        })
    );
    // dotenvy refuses a blank inside an unquoted value.
    let old = key('o');
    let text = fill("K=prefix {OLD}\n", &old, &new);
    assert!(matches!(
        replace(&text, &old, &new),
        Err(Refusal::Disagreement {
            reason: Disagreement::ReadsNoValue,
            ..
        })
    ));
    // An earlier line dotenvy reads on into the edited one (its quote never closes).
    assert!(matches!(
        set("A=it's\nK=old\n", "K", &new),
        Err(Refusal::Disagreement { .. })
    ));
    // A broken line elsewhere does not stop an edit.
    let doc = set("BROKEN=a b\nK=old\n", "K", &new).expect("set");
    assert_eq!(doc.render(), fill("BROKEN=a b\nK={NEW}\n", &new, &new));
}

#[test]
fn the_dotenvy_check_catches_another_value_and_changed_neighbours() {
    use super::verify::{verify, Check, Site};
    let after = b"K=${HOME}\n";
    let lines = super::parse::parse_lines(after);
    let site = Site {
        index: 0,
        key: "K".into(),
        quote: Quote::None,
        raw: b"${HOME}".to_vec(),
    };
    let check = Check {
        before: b"K=x\n",
        after,
        after_lines: &lines,
        expected_lines: 1,
        sites: std::slice::from_ref(&site),
        replaced: Some((b"x", b"${HOME}")),
        referencing: &[],
    };
    assert!(matches!(
        verify(check),
        Err(Refusal::Disagreement {
            reason: Disagreement::ReadsAnotherValue,
            ..
        })
    ));

    let after = b"A=2\nK=n\n";
    let lines = super::parse::parse_lines(after);
    let site = Site {
        index: 1,
        key: "K".into(),
        quote: Quote::None,
        raw: b"n".to_vec(),
    };
    let check = Check {
        before: b"A=1\nK=o\n",
        after,
        after_lines: &lines,
        expected_lines: 2,
        sites: std::slice::from_ref(&site),
        replaced: None,
        referencing: &[],
    };
    assert_eq!(
        verify(check),
        Err(Refusal::Disagreement {
            line: 2,
            var: "A".into(),
            reason: Disagreement::ChangesAnotherVariable
        })
    );
}

#[test]
fn replace_finds_the_key_inside_values_and_comments() {
    let (old, new) = (key('o'), key('n'));
    let text = fill(
        "# rotated from {OLD}\nDATABASE_URL=\"postgres://u:{OLD}@db/x\"\nOPENAI_API_KEY={OLD} # prod\nBACKUP='{OLD}'\nOTHER=1\n",
        &old,
        &new,
    );
    let doc = replace(&text, &old, &new).expect("replace");
    assert_eq!(
        doc.render(),
        fill(
            "# rotated from {NEW}\nDATABASE_URL=\"postgres://u:{NEW}@db/x\"\nOPENAI_API_KEY={NEW} # prod\nBACKUP='{NEW}'\nOTHER=1\n",
            &old,
            &new
        )
    );
    let edit = doc.into_edit(".env");
    let changes: Vec<(usize, Option<&str>)> = edit
        .changes
        .iter()
        .map(|c| (c.line, c.var.as_deref()))
        .collect();
    assert_eq!(
        changes,
        [
            (1, None),
            (2, Some("DATABASE_URL")),
            (3, Some("OPENAI_API_KEY")),
            (4, Some("BACKUP"))
        ]
    );
}

#[test]
fn replace_handles_escapes_and_references_through_dotenvys_own_reading() {
    let (old, new) = (key('o'), key('n'));
    let text = fill(
        "HOST=db\nURL=\"https://${HOST}/\\$x?k={OLD}\"\n",
        &old,
        &new,
    );
    let doc = replace(&text, &old, &new).expect("replace");
    assert_eq!(
        doc.render(),
        fill(
            "HOST=db\nURL=\"https://${HOST}/\\$x?k={NEW}\"\n",
            &old,
            &new
        )
    );
}

#[test]
fn replace_warns_about_references_to_the_edited_variable() {
    let (old, new) = (key('o'), key('n'));
    let text = fill("OPENAI_API_KEY={OLD}\nCOPY=${OPENAI_API_KEY}\n", &old, &new);
    let edit = replace(&text, &old, &new)
        .expect("replace")
        .into_edit(".env");
    assert_eq!(
        edit.warnings,
        [Warning::ReferencesVariable {
            var: "OPENAI_API_KEY".into(),
            line: 2
        }]
    );
}

#[test]
fn replace_without_the_key_changes_nothing() {
    let (old, new) = (key('o'), key('n'));
    let edit = plan_replace(Path::new(".env"), b"A=1\n", Syntax::Dotenv, &old, &new).expect("plan");
    assert!(edit.is_empty());
    assert!(edit.changes.is_empty());
    assert_eq!(edit.apply().expect("nothing to do"), Applied::NothingToDo);
}

#[test]
fn replace_refuses_opaque_lines_quoting_and_line_breaks() {
    let (old, new) = (key('o'), key('n'));
    let opaque = fill("K=\"{OLD}\"junk\n", &old, &new);
    assert!(matches!(
        replace(&opaque, &old, &new),
        Err(Refusal::Unreadable { line: 1, .. })
    ));
    let text = fill("A=1\nK='{OLD}'\n", &old, &new);
    assert!(matches!(
        replace(&text, &old, &secret("it's")),
        Err(Refusal::NeedsQuoting {
            line: 2,
            quote: Quote::Single,
            ..
        })
    ));
    assert_eq!(
        replace(&text, &old, &secret("a\nb")).map(|_| ()),
        Err(Refusal::LineBreak { line: 2 })
    );
    assert_eq!(
        replace(&text, &secret(""), &new).map(|_| ()),
        Err(Refusal::EmptyOld)
    );
}

#[test]
fn plain_files_get_a_byte_level_replacement() {
    let (old, new) = (key('o'), key('n'));
    let before = fill(
        "openai:\n  api_key: \"{OLD}\"\n  url: https://x/?k={OLD}&v={OLD}\n",
        &old,
        &new,
    );
    let edit = plan_replace(
        Path::new("config.yaml"),
        &before,
        Syntax::of_path(Path::new("config.yaml")),
        &old,
        &new,
    )
    .expect("plan");
    assert_eq!(edit.syntax, Syntax::Plain);
    assert_eq!(
        edit.after,
        fill(
            "openai:\n  api_key: \"{NEW}\"\n  url: https://x/?k={NEW}&v={NEW}\n",
            &old,
            &new
        )
    );
    let lines: Vec<usize> = edit.changes.iter().map(|c| c.line).collect();
    assert_eq!(lines, [2, 3]);
    let err = plan_replace(
        Path::new("config.yaml"),
        &before,
        Syntax::Plain,
        &old,
        &secret("a\nb"),
    )
    .expect_err("line break");
    assert!(err.to_string().starts_with("config.yaml: line 2:"), "{err}");
}

#[test]
fn syntax_follows_the_file_name() {
    for name in [
        ".env",
        ".env.local",
        "prod.env",
        ".envrc",
        "a/b/.env.example",
    ] {
        assert_eq!(Syntax::of_path(Path::new(name)), Syntax::Dotenv, "{name}");
    }
    for name in ["config.yaml", "environment.ts", "env.py", "settings.json"] {
        assert_eq!(Syntax::of_path(Path::new(name)), Syntax::Plain, "{name}");
    }
}

#[test]
fn the_redacted_view_shows_no_secret() {
    let (old, new) = (key('o'), key('n'));
    let other = Secret::new(format!("ghp_{}", "Q".repeat(36)));
    let text = fill(
        "\u{feff}# old {OLD}\r\nOPENAI_API_KEY={OLD} # prod\r\nURL=\"https://u:{OLD}@x/\"\r\nGITHUB_TOKEN=OTHER\r\nbare line\r\n",
        &old,
        &new,
    );
    let text = String::from_utf8(text)
        .expect("utf-8")
        .replace("OTHER", other.expose());
    let edit = plan_replace(
        Path::new(".env"),
        text.as_bytes(),
        Syntax::Dotenv,
        &old,
        &new,
    )
    .expect("plan");
    let view = edit.redacted(&old, &new);
    for shown in [&view.before, &view.after] {
        for hidden in [&old, &new, &other] {
            assert!(!shown.contains(hidden.expose()), "{shown}");
        }
        assert!(
            !shown.contains('\r') && !shown.contains('\u{feff}'),
            "{shown:?}"
        );
    }
    let (o, n) = (old.redacted(), new.redacted());
    assert_eq!(
        view.before,
        format!(
            "# old {o}\nOPENAI_API_KEY={o} # prod\nURL=\"https://u:{o}@x/\"\nGITHUB_TOKEN={}\n…\n",
            other.redacted()
        )
    );
    assert_eq!(view.after, view.before.replace(&o, &n));

    let plain = fill("a: 1\nkey: {OLD}\n\nb: secret\n", &old, &new);
    let edit = plan_replace(Path::new("c.yaml"), &plain, Syntax::Plain, &old, &new).expect("plan");
    let view = edit.redacted(&old, &new);
    assert_eq!(view.before, format!("…\nkey: {o}\n\n…\n"));
    assert_eq!(view.after, format!("…\nkey: {n}\n\n…\n"));
}

#[test]
fn the_redacted_view_tells_keys_apart_when_their_redactions_match() {
    let old = Secret::new(format!("sk-{}-{}Yz9Q", "proj", "a".repeat(40)));
    let new = Secret::new(format!("sk-{}-{}Yz9Q", "proj", "a".repeat(39) + "b"));
    assert_eq!(old.redacted(), new.redacted());
    let edit =
        plan_set(Path::new(".env"), &fill("K={OLD}\n", &old, &new), "K", &new).expect("plan");
    let view = edit.redacted(&old, &new);
    assert!(view.before.contains("(old)") && view.after.contains("(new)"));
}

#[cfg(unix)]
mod apply {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn apply_writes_keeps_the_mode_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".env");
        let (old, new) = (key('o'), key('n'));
        std::fs::write(&path, fill("K={OLD}\n", &old, &new)).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let before = std::fs::read(&path).expect("read");
        let edit = plan_replace(&path, &before, Syntax::Dotenv, &old, &new).expect("plan");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            before,
            "planning writes nothing"
        );
        assert_eq!(edit.apply().expect("apply"), Applied::Written);
        assert_eq!(
            std::fs::read(&path).expect("read"),
            fill("K={NEW}\n", &old, &new)
        );
        assert_eq!(mode(&path), 0o640);
        assert_eq!(edit.apply().expect("again"), Applied::AlreadyApplied);
    }

    #[test]
    fn apply_refuses_a_file_that_changed_since_the_plan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".env");
        std::fs::write(&path, "K=a\n").expect("write");
        let edit = plan_set(&path, b"K=a\n", "K", &key('n')).expect("plan");
        std::fs::write(&path, "K=a\nX=1\n").expect("someone else edits");
        assert!(matches!(edit.apply(), Err(EnvEditError::Changed { .. })));
        assert_eq!(std::fs::read(&path).expect("read"), b"K=a\nX=1\n");
    }

    #[test]
    fn a_new_file_is_private_and_a_symlinked_env_is_edited_at_its_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".env");
        let edit = plan_set(&path, b"", "K", &key('n')).expect("plan");
        assert_eq!(edit.apply().expect("apply"), Applied::Written);
        assert_eq!(mode(&path), 0o600);

        let real = dir.path().join("shared.env");
        std::fs::write(&real, "K=a\n").expect("write");
        let link = dir.path().join(".env.link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let edit = plan_set(&link, b"K=a\n", "K", &secret("b")).expect("plan");
        edit.apply().expect("apply");
        assert!(std::fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).expect("read"), b"K=b\n");
    }
}

/// Text that looks like `.env` files, with every construct the parser knows and the ones it
/// does not: quotes of each kind (closed or not), escapes, `export`, `KEY: value`, comments,
/// blanks, CR, LF and CRLF, unicode and invalid UTF-8.
fn env_like() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::sample::select(vec![
        "A",
        "KEY",
        "OPENAI_API_KEY",
        "a.b",
        "_x",
        "export",
        "1BAD",
    ]);
    let sep = prop::sample::select(vec!["=", " = ", "= ", ": ", ":", "\t=\t"]);
    let value_byte = prop::sample::select(b"ab  #$\\'\"`{}\n=:\r\t\xc3\xa9\xff-_/+".to_vec());
    let value = prop::collection::vec(value_byte, 0..12);
    let quote = prop::sample::select(vec!["", "'", "\"", "`"]);
    let close = prop::sample::select(vec!["", "'", "\"", "`"]);
    let trailer = prop::sample::select(vec!["", " # c", "#x", "  ", " \r", "x"]);
    let ending = prop::sample::select(vec!["\n", "\r\n", "", "\r"]);
    let prefix = prop::sample::select(vec!["", "export ", "  ", "# ", "export\t"]);
    let line = (prefix, key, sep, quote, value, close, trailer, ending).prop_map(
        |(prefix, key, sep, quote, value, close, trailer, ending)| {
            let mut out = Vec::new();
            for part in [prefix, key, sep, quote] {
                out.extend_from_slice(part.as_bytes());
            }
            out.extend_from_slice(&value);
            for part in [close, trailer, ending] {
                out.extend_from_slice(part.as_bytes());
            }
            out
        },
    );
    let bom = prop::bool::weighted(0.2);
    (bom, prop::collection::vec(line, 0..8)).prop_map(|(bom, lines)| {
        let mut out = if bom {
            super::parse::BOM.to_vec()
        } else {
            Vec::new()
        };
        for line in lines {
            out.extend(line);
        }
        out
    })
}

fn bytes_replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    for start in memchr::memmem::find_iter(haystack, from) {
        out.extend_from_slice(&haystack[at..start]);
        out.extend_from_slice(to);
        at = start + from.len();
    }
    out.extend_from_slice(&haystack[at..]);
    out
}

/// Every line's spans lie inside it, in order, and the lines tile the input.
fn spans_are_consistent(doc: &Document, input: &[u8]) -> bool {
    let mut at = if doc.has_bom() { 3 } else { 0 };
    doc.lines().iter().all(|line| {
        let tiled = line.span.start == at && line.span.end > line.span.start;
        at = line.span.end;
        let inner = match &line.kind {
            LineKind::Assignment(a) => {
                line.span.start <= a.key.start
                    && a.key.end <= a.prefix_end
                    && a.value.start <= a.value.end
                    && a.value.end <= a.trailer.start
                    && a.trailer.end <= line.span.end
            }
            _ => true,
        };
        tiled && inner
    }) && at == input.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_round_trip(input in prop::collection::vec(any::<u8>(), 0..300)) {
        let doc = Document::parse(&input);
        prop_assert_eq!(doc.render(), input.clone());
        prop_assert!(spans_are_consistent(&doc, &input));
        let _ = doc.assignments();
    }

    #[test]
    fn env_like_text_round_trips(input in env_like()) {
        let doc = Document::parse(&input);
        prop_assert_eq!(doc.render(), input.clone());
        prop_assert!(spans_are_consistent(&doc, &input));
    }

    /// An edit either is refused and changes nothing, or changes exactly the key's bytes:
    /// putting the old key back gives the input, and the result parses to the same shape.
    #[test]
    fn a_replacement_changes_only_the_key(input in env_like(), at in any::<prop::sample::Index>()) {
        let (old, new) = (key('o'), key('n'));
        let mut text = input.clone();
        let spot = at.index(text.len() + 1);
        text.splice(spot..spot, old.expose().bytes());
        let mut doc = Document::parse(&text);
        let shape: Vec<std::mem::Discriminant<LineKind>> =
            doc.lines().iter().map(|l| std::mem::discriminant(&l.kind)).collect();
        match doc.replace_value(&old, &new) {
            Err(_) => prop_assert_eq!(doc.render(), text.clone()),
            Ok(()) => {
                let after = doc.render();
                let back = bytes_replace(&after, new.expose().as_bytes(), old.expose().as_bytes());
                prop_assert_eq!(back, text.clone());
                let reshaped: Vec<std::mem::Discriminant<LineKind>> =
                    doc.lines().iter().map(|l| std::mem::discriminant(&l.kind)).collect();
                prop_assert_eq!(shape, reshaped);
                prop_assert!(!after.windows(old.len()).any(|w| w == old.expose().as_bytes()));
            }
        }
    }

    #[test]
    fn set_changes_only_the_variables_lines(input in env_like()) {
        let new = key('n');
        let mut doc = Document::parse(&input);
        let before: Vec<Vec<u8>> = doc.lines().iter().map(|l| doc.bytes(&l.span).to_vec()).collect();
        if doc.set("KEY", &new).is_ok() {
            let edit_lines: Vec<usize> = doc.lines().iter().enumerate()
                .filter(|(_, l)| matches!(&l.kind, LineKind::Assignment(a) if doc.bytes(&a.key) == b"KEY"))
                .map(|(i, _)| i)
                .collect();
            let appended = doc.lines().len() > before.len();
            for (i, line) in doc.lines().iter().enumerate().take(before.len()) {
                if edit_lines.contains(&i) {
                    continue;
                }
                if appended && i + 1 == before.len() {
                    // The last line may have gained the line ending the new line needs.
                    prop_assert!(doc.bytes(&line.span).starts_with(&before[i]));
                } else {
                    prop_assert_eq!(doc.bytes(&line.span), &before[i][..]);
                }
            }
        } else {
            prop_assert_eq!(doc.render(), input);
        }
    }
}
