//! Unified diffs for a person to read before a file is edited (git's format, coloured when
//! the stream wants colour). The texts must already be redacted (see
//! `core::envfile::EnvEdit::redacted`): this only lays them out.

use super::style::Style;
use similar::{ChangeTag, TextDiff};

/// Lines of context around each change, as git shows.
const CONTEXT: usize = 3;

/// The changes from `before` to `after` as a unified diff headed `--- label` / `+++ label`;
/// empty when the texts are equal.
pub fn unified_diff(label: &str, before: &str, after: &str, style: &Style) -> String {
    if before == after {
        return String::new();
    }
    let diff = TextDiff::from_lines(before, after);
    let mut out = String::new();
    for header in [format!("--- {label}"), format!("+++ {label}")] {
        out.push_str(&style.bold(&header));
        out.push('\n');
    }
    for hunk in diff.unified_diff().context_radius(CONTEXT).iter_hunks() {
        out.push_str(&style.cyan(&hunk.header().to_string()));
        out.push('\n');
        for change in hunk.iter_changes() {
            let text = change.value();
            let line = format!(
                "{}{}",
                change.tag(),
                text.strip_suffix('\n').unwrap_or(text)
            );
            out.push_str(&match change.tag() {
                ChangeTag::Delete => style.red(&line),
                ChangeTag::Insert => style.green(&line),
                ChangeTag::Equal => line,
            });
            out.push('\n');
            if change.missing_newline() {
                out.push_str(&style.dim("\\ No newline at end of file"));
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_diff_is_gits_unified_format() {
        let before = "A=1\nB=2\nC=3\nD=4\nE=5\nF=6\nG=7\n";
        let after = "A=1\nB=2\nC=3\nD=four\nE=5\nF=6\nG=7\n";
        let diff = unified_diff(".env", before, after, &Style::new(false));
        assert_eq!(
            diff,
            "--- .env\n+++ .env\n@@ -1,7 +1,7 @@\n A=1\n B=2\n C=3\n-D=4\n+D=four\n E=5\n F=6\n G=7\n"
        );
    }

    #[test]
    fn equal_texts_give_no_diff_and_a_missing_newline_is_shown() {
        assert_eq!(unified_diff("x", "a\n", "a\n", &Style::new(false)), "");
        let diff = unified_diff("x", "a", "b", &Style::new(false));
        assert!(
            diff.contains("-a\n\\ No newline at end of file\n+b\n"),
            "{diff}"
        );
    }

    #[test]
    fn colour_marks_removed_added_and_hunk_lines() {
        let diff = unified_diff(".env", "K=a\n", "K=b\n", &Style::new(true));
        assert!(diff.contains(&Style::new(true).red("-K=a")), "{diff:?}");
        assert!(diff.contains(&Style::new(true).green("+K=b")), "{diff:?}");
        assert!(
            diff.contains(&Style::new(true).cyan("@@ -1 +1 @@")),
            "{diff:?}"
        );
    }
}
