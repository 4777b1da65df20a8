//! Commands written the way `sh` reads them: one quoting rule for every command keywarden
//! suggests or records (in messages, journals, reports), so that each works when copied
//! exactly as printed.

use std::path::Path;

/// One word for `sh`: as it is when it holds only characters the shell leaves alone, else
/// in single quotes (a quote inside written as `'\''`).
pub fn word(word: &str) -> String {
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

/// A path as one word for `sh`.
pub fn path(path: &Path) -> String {
    word(&path.display().to_string())
}

/// A command line: each word quoted for `sh`, commands joined with `&&`.
pub fn line(commands: &[Vec<String>]) -> String {
    commands
        .iter()
        .map(|argv| argv.iter().map(|w| word(w)).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" && ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_the_shell_would_change_them() {
        assert_eq!(word("src/app.py"), "src/app.py");
        assert_eq!(word("--write-baseline"), "--write-baseline");
        assert_eq!(word("my file.py"), "'my file.py'");
        assert_eq!(word("it's"), r"'it'\''s'");
        assert_eq!(word("$HOME"), "'$HOME'");
        assert_eq!(word(""), "''");
        assert_eq!(path(Path::new("/srv/repo-1.git")), "/srv/repo-1.git");
        assert_eq!(path(Path::new("/srv/my repo")), "'/srv/my repo'");
        let line = line(&[
            vec!["git".into(), "add".into(), "a b".into()],
            vec!["git".into(), "commit".into()],
        ]);
        assert_eq!(line, "git add 'a b' && git commit");
    }
}
