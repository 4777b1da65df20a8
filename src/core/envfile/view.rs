//! The redacted view of an edit, for a diff a person reads: the old and the new key replaced
//! by their redacted forms, and nothing else secret left in sight — every other value of a
//! `.env` file redacted, opaque lines and the lines of a plain file that hold neither key
//! elided. Line endings become `\n` and a BOM is dropped: the view is text for a terminal.

use super::parse::{parse_lines, LineKind};
use super::{EnvEdit, Syntax};
use crate::core::secret::{redact, Secret};

/// What stands for a line that is not shown.
const ELIDED: &str = "…";

/// Before and after of an edit as redacted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactedEdit {
    pub before: String,
    pub after: String,
}

pub(super) fn redacted(edit: &EnvEdit, old: &Secret, new: &Secret) -> RedactedEdit {
    let (mut old_shown, mut new_shown) = (old.redacted(), new.redacted());
    if old_shown == new_shown {
        old_shown.push_str(" (old)");
        new_shown.push_str(" (new)");
    }
    let keys = Keys {
        pairs: [
            (old.expose().as_bytes(), old_shown),
            (new.expose().as_bytes(), new_shown),
        ],
    };
    let view = |bytes: &[u8]| match edit.syntax {
        Syntax::Dotenv => dotenv_view(bytes, &keys),
        Syntax::Plain => plain_view(bytes, &keys),
    };
    RedactedEdit {
        before: view(&edit.before),
        after: view(&edit.after),
    }
}

/// The two keys and what is shown for them.
struct Keys<'a> {
    pairs: [(&'a [u8], String); 2],
}

impl Keys<'_> {
    fn occur_in(&self, text: &[u8]) -> bool {
        self.pairs
            .iter()
            .any(|(key, _)| !key.is_empty() && memchr::memmem::find(text, key).is_some())
    }

    /// `text` with every occurrence of either key replaced by its redacted form (the longer
    /// key first where both match at one place).
    fn replace(&self, text: &[u8]) -> String {
        let mut order: Vec<&(&[u8], String)> =
            self.pairs.iter().filter(|(k, _)| !k.is_empty()).collect();
        order.sort_by_key(|(key, _)| std::cmp::Reverse(key.len()));
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < text.len() {
            for (key, shown) in &order {
                if text[i..].starts_with(key) {
                    out.extend_from_slice(shown.as_bytes());
                    i += key.len();
                    continue 'outer;
                }
            }
            out.push(text[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn dotenv_view(bytes: &[u8], keys: &Keys<'_>) -> String {
    let mut out = String::new();
    for line in parse_lines(bytes) {
        let content_end = line.span.end - line.ending.as_bytes().len();
        match &line.kind {
            LineKind::Blank | LineKind::Comment => {
                out.push_str(&keys.replace(&bytes[line.span.start..content_end]));
            }
            LineKind::Assignment(a) => {
                let value = &bytes[a.value.clone()];
                out.push_str(&keys.replace(&bytes[line.span.start..a.value.start]));
                if keys.occur_in(value) {
                    out.push_str(&keys.replace(value));
                } else if !value.is_empty() {
                    out.push_str(&redact(&String::from_utf8_lossy(value)));
                }
                out.push_str(&keys.replace(&bytes[a.value.end..content_end]));
            }
            LineKind::Opaque => out.push_str(ELIDED),
        }
        out.push('\n');
    }
    out
}

fn plain_view(bytes: &[u8], keys: &Keys<'_>) -> String {
    let mut out = String::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if keys.occur_in(content) {
            out.push_str(&keys.replace(content));
        } else if !content.iter().all(u8::is_ascii_whitespace) {
            out.push_str(ELIDED);
        }
        out.push('\n');
    }
    out
}
