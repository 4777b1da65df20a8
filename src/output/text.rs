//! Small pieces of English the reports share: counted nouns.

/// `1 key`, `2 keys`, `0 keys`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(plural(1, "blob", "blobs"), "1 blob");
        assert_eq!(plural(0, "blob", "blobs"), "0 blobs");
        assert_eq!(plural(2, "ref", "refs"), "2 refs");
    }
}
