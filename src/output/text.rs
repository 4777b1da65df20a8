//! Small pieces of wording every renderer shares: a count with the right plural ("1 key",
//! "2 keys"), and a suggested command written the way `sh` reads it, so that it works when
//! copied exactly as printed (the quoting itself is `core::shell`'s, shared with the ops).

/// `n` and the noun that goes with it: `plural(1, "entry", "entries")` is "1 entry".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub use crate::core::shell::{line as shell_line, word as shell_word};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(plural(0, "key", "keys"), "0 keys");
        assert_eq!(plural(1, "entry", "entries"), "1 entry");
        assert_eq!(plural(2, "ref", "refs"), "2 refs");
    }
}
