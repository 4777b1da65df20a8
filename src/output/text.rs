//! Small pieces of wording every renderer shares: a count with the right plural ("1 key",
//! "2 keys"), and a suggested command written the way `sh` reads it, so that it works when
//! copied exactly as printed.

/// `n` and the noun that goes with it: `plural(1, "entry", "entries")` is "1 entry".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One word for `sh`: as it is when it holds only characters the shell leaves alone, else
/// in single quotes (a quote inside written as `'\''`).
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A command line: each word quoted for `sh`, commands joined with `&&`.
pub fn shell_line(commands: &[Vec<String>]) -> String {
    commands
        .iter()
        .map(|argv| {
            argv.iter()
                .map(|w| shell_word(w))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(plural(0, "key", "keys"), "0 keys");
        assert_eq!(plural(1, "entry", "entries"), "1 entry");
        assert_eq!(plural(2, "ref", "refs"), "2 refs");
    }

    #[test]
    fn words_are_quoted_only_when_the_shell_would_change_them() {
        assert_eq!(shell_word("src/app.py"), "src/app.py");
        assert_eq!(shell_word("--write-baseline"), "--write-baseline");
        assert_eq!(shell_word("my file.py"), "'my file.py'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word(""), "''");
        let line = shell_line(&[
            vec!["git".into(), "add".into(), "a b".into()],
            vec!["git".into(), "commit".into()],
        ]);
        assert_eq!(line, "git add 'a b' && git commit");
    }
}
