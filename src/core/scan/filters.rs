//! The filters that tell a real key from text shaped like one: word boundaries (with
//! JSON and URL escapes), entropy, placeholders, and the shape of assigned values.

use crate::core::entropy;

pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// `needle` must already be lower-case.
pub(super) fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A secret must not be glued to a preceding letter or digit (`xghp_…` is part of some
/// longer token), except after an escape that ends in one: `\n` or `\t` inside a JSON
/// string, `%3D` in a URL.
pub(super) fn left_boundary_ok(hay: &[u8], start: usize) -> bool {
    let Some(&before) = start.checked_sub(1).and_then(|i| hay.get(i)) else {
        return true;
    };
    if !before.is_ascii_alphanumeric() {
        return true;
    }
    let escaped = start >= 2 && hay[start - 2] == b'\\' && matches!(before, b'n' | b'r' | b't');
    let percent_encoded = start >= 3
        && hay[start - 3] == b'%'
        && hay[start - 2].is_ascii_hexdigit()
        && before.is_ascii_hexdigit();
    escaped || percent_encoded
}

/// Hex has at most 4 bits per character and random 40-digit hex often scores about 3.4,
/// so a hex value is held to a lower bar than the rule's.
const HEX_ENTROPY_CAP: f64 = 3.0;

pub(super) fn entropy_below(secret: &[u8], min: f64) -> bool {
    let min = if secret.iter().all(u8::is_ascii_hexdigit) {
        min.min(HEX_ENTROPY_CAP)
    } else {
        min
    };
    entropy::shannon(secret) < min
}

/// Words that mark a documentation or template value when they stand as a word of their
/// own in the key (`sk-your-key-here`, `sk-proj-REPLACE_ME`). Inside a random body they
/// would occur by chance, so they only count at the start or after a separator, and only
/// written in one case.
const PLACEHOLDER_WORDS: &[&str] = &[
    "your",
    "example",
    "replace",
    "placeholder",
    "dummy",
    "redacted",
    "changeme",
    "insert",
    "here",
    "goes",
    "todo",
    "fixme",
    "sample",
];

pub(super) fn is_placeholder(secret: &[u8]) -> bool {
    if has_run_of(secret, b'x', 6) || has_run_of(secret, b'*', 3) {
        return true;
    }
    if secret.contains(&b'<') || contains(secret, b"${") || contains(secret, b"{{") {
        return true;
    }
    for (i, _) in secret.iter().enumerate() {
        let at_word_start = i == 0 || matches!(secret[i - 1], b'-' | b'_' | b'.');
        if !at_word_start {
            continue;
        }
        let rest = &secret[i..];
        for word in PLACEHOLDER_WORDS {
            let w = word.as_bytes();
            if rest.len() >= w.len() {
                let candidate = &rest[..w.len()];
                let upper = w.to_ascii_uppercase();
                if candidate == w || candidate == upper.as_slice() {
                    return true;
                }
            }
        }
    }
    false
}

fn has_run_of(hay: &[u8], byte: u8, len: usize) -> bool {
    let mut run = 0;
    for &b in hay {
        if b.eq_ignore_ascii_case(&byte) {
            run += 1;
            if run >= len {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// For a value found by the name it is assigned to: it must look like a credential, not
/// a word, a number, a path or a reference to something else. `before` is the text from
/// the start of the line to the name, `after` the text that follows the value.
pub(super) fn plausible_value(value: &[u8], quoted: bool, before: &[u8], after: &[u8]) -> bool {
    let has_letter = value.iter().any(u8::is_ascii_alphabetic);
    let has_digit = value.iter().any(u8::is_ascii_digit);
    if !has_letter || !has_digit {
        return false;
    }
    // A call or an index: `getKey()`, `config["x"]`.
    if matches!(after.first(), Some(b'(') | Some(b'[')) {
        return false;
    }
    // Unquoted and followed by code punctuation: a type annotation or a variable
    // (`key: KeyType = …`, `secret: other_secret,`), not a value. Configuration files end
    // an unquoted value at the end of the line (or `&` in a query string).
    if !quoted {
        let next = after.iter().find(|b| **b != b' ' && **b != b'\t');
        if matches!(
            next,
            Some(b',' | b';' | b')' | b'=' | b'{' | b'}' | b'>' | b'<')
        ) {
            return false;
        }
        // In a programming language a literal is quoted: an unquoted value after `let`,
        // `const` … is an expression, and a SCREAMING_SNAKE value names a constant.
        if ends_with_declaration_keyword(before) || is_constant_name(value) {
            return false;
        }
    }
    if matches!(
        value.first(),
        Some(b'$') | Some(b'%') | Some(b'/') | Some(b'~')
    ) || value.starts_with(b"./")
    {
        return false;
    }
    !is_dotted_identifier(value) && !is_identifier_chain(value)
}

const DECLARATION_KEYWORDS: &[&[u8]] = &[
    b"let", b"mut", b"const", b"var", b"val", b"auto", b"final", b"static", b"def",
];

fn ends_with_declaration_keyword(before: &[u8]) -> bool {
    let trimmed = before.trim_ascii_end();
    let word_start = trimmed
        .iter()
        .rposition(|b| !b.is_ascii_alphanumeric() && *b != b'_')
        .map(|i| i + 1)
        .unwrap_or(0);
    trimmed.len() > word_start && DECLARATION_KEYWORDS.contains(&&trimmed[word_start..])
}

/// `__interceptor_malloc--alloc_raw_vec--main`: three or more identifiers joined by `--`, as
/// sanitizers print a stack (`DEDUP_TOKEN: …`) and build tools name targets.
fn is_identifier_chain(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    let parts: Vec<&str> = text.split("--").collect();
    parts.len() >= 3
        && parts.iter().all(|part| {
            part.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// `TLS13_CHACHA20_POLY1305_SHA256`: upper-case words joined by underscores.
fn is_constant_name(value: &[u8]) -> bool {
    value.contains(&b'_')
        && value.first().is_some_and(u8::is_ascii_uppercase)
        && value
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        && !value.windows(2).any(|w| w == b"__")
}

/// `process.env.KEY`, `settings.SECRET`, `token_v2.json`: identifiers joined by dots.
fn is_dotted_identifier(value: &[u8]) -> bool {
    if !value.contains(&b'.') {
        return false;
    }
    value.split(|&b| b == b'.').all(|part| {
        !part.is_empty()
            && !part[0].is_ascii_digit()
            && part
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && part.len() < 40
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_accepts_separators_and_escapes() {
        assert!(left_boundary_ok(b"=ghp_", 1));
        assert!(left_boundary_ok(b"ghp_", 0));
        assert!(!left_boundary_ok(b"xghp_", 1));
        assert!(left_boundary_ok(b"a\\nghp_", 3));
        assert!(left_boundary_ok(b"key%3Dghp_", 6));
    }

    #[test]
    fn placeholders_are_recognised_only_as_words() {
        assert!(is_placeholder(b"sk-your-key-here"));
        assert!(is_placeholder(b"sk-proj-REPLACE_ME"));
        assert!(is_placeholder(b"ghp_xxxxxxxxxxxxxxxx"));
        assert!(!is_placeholder(b"sk-proj-aB3yourQ9zZ"));
        assert!(!is_placeholder(b"sk-proj-yOuRq8"));
    }

    #[test]
    fn assigned_values_must_look_like_credentials() {
        let ok = |v: &[u8], quoted, before: &[u8], after: &[u8]| {
            plausible_value(v, quoted, before, after)
        };
        assert!(ok(b"q8Zr3LmX0aTf7KpW", false, b"", b"\n"));
        assert!(ok(b"q8Zr3LmX0aTf7KpW", true, b"  ", b"\", x"));
        assert!(ok(b"q8Zr3LmX0aTf7KpW", false, b"", b"&next=1"));
        assert!(ok(b"q8Zr3LmX0aTf7KpW", true, b"const ", b"\";"));
        assert!(!ok(b"process.env.OPENAI_API_KEY2", false, b"", b";"));
        assert!(!ok(b"getApiKey2", false, b"", b"()"));
        assert!(!ok(b"86400000000", false, b"", b""));
        assert!(!ok(b"correct-horse-battery", false, b"", b""));
        assert!(!ok(b"/users/pass2", true, b"", b""));
        assert!(!ok(b"X509TemplatePrivateKeyFlag", false, b"", b" = 12i32;"));
        assert!(!ok(b"__asan_memcpy--copy_2--main", false, b"", b"\n"));
        assert!(ok(b"aZ3--q8Zr3LmX0aTf7KpW", false, b"", b"\n"));
        assert!(!ok(b"MI_UserCredentials_0", false, b"", b","));
        assert!(!ok(b"q8Zr3LmX0aTf7KpW", false, b"    let ", b"\n"));
        assert!(!ok(b"TLS13_CHACHA20_POLY1305", false, b"", b"\n"));
    }
}
