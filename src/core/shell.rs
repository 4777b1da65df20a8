//! Commands written the way `sh` reads them: one quoting rule for every command keywarden
//! suggests or records (in messages, journals, reports), so that each works when copied
//! exactly as printed — also after `keywarden -C DIR …`, where every suggested command
//! carries the same `-C DIR` (`suggest_from`, `localize`), because the person types it in
//! the directory they started keywarden from, not in DIR.

use std::borrow::Cow;
use std::path::Path;
use std::sync::RwLock;

/// The repository suggested commands run in, as one shell word: `-C DIR`, or the repository
/// a command was pointed at (`scan --history PATH`).
static SUGGESTED_FROM: RwLock<Option<String>> = RwLock::new(None);

/// The suggested commands that run in this repository, as they start in a message: every
/// keywarden command, and the git commands keywarden suggests for the repository itself
/// (not those meant for another clone or a server, which must not carry this `-C`).
const REPOSITORY_COMMANDS: &[(&str, &str)] = &[
    ("`keywarden ", "`keywarden"),
    ("`git fsck", "`git"),
    ("`git branch -m", "`git"),
    ("`git fetch --force --update-head-ok ", "`git"),
];

/// Records that the commands keywarden suggests are for the repository at `dir` (`-C DIR`,
/// or a repository named on the command line), so that `localize` writes `-C DIR` into each.
pub fn suggest_from(dir: &Path) {
    // libgit2 gives a work tree with a trailing slash; the shell does not need it.
    let shown = dir.display().to_string();
    let trimmed = match shown.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    *SUGGESTED_FROM.write().unwrap_or_else(|e| e.into_inner()) = Some(word(trimmed));
}

fn suggested_from() -> Option<String> {
    SUGGESTED_FROM
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// `text` with `-C DIR` in every suggested command, when there is such a directory (see
/// `suggest_from`); `text` itself otherwise.
pub fn localize(text: &str) -> Cow<'_, str> {
    match suggested_from() {
        Some(dir) => with_directory(text, &dir),
        None => Cow::Borrowed(text),
    }
}

/// `text` with ` -C dir` after the program name of each command in `REPOSITORY_COMMANDS`.
fn with_directory<'t>(text: &'t str, dir: &str) -> Cow<'t, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].find('`') {
        let start = at + offset;
        let rest = &text[start..];
        match REPOSITORY_COMMANDS
            .iter()
            .find(|(command, _)| rest.starts_with(command))
        {
            Some((_, program)) => {
                let end = start + program.len();
                out.push_str(&text[copied..end]);
                out.push_str(" -C ");
                out.push_str(dir);
                copied = end;
                at = end;
            }
            None => at = start + 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// A writer that `localize`s what passes through it, a line at a time (a command split
/// over two writes is still found); what is left of a line goes out on `flush` and drop.
pub struct Localized<W: std::io::Write> {
    inner: W,
    /// `-C DIR` as a word; without it everything passes through as it is.
    dir: Option<String>,
    line: Vec<u8>,
}

impl<W: std::io::Write> Localized<W> {
    pub fn new(inner: W) -> Self {
        Self::from(inner, suggested_from())
    }

    fn from(inner: W, dir: Option<String>) -> Self {
        Localized {
            inner,
            dir,
            line: Vec::new(),
        }
    }

    fn write_pending(&mut self) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        if self.line.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.line);
        let result = self.inner.write_all(with_directory(&text, dir).as_bytes());
        self.line.clear();
        result
    }
}

impl<W: std::io::Write> std::io::Write for Localized<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.dir.is_none() {
            return self.inner.write(buf);
        }
        let mut rest = buf;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..=newline]);
            self.write_pending()?;
            rest = &rest[newline + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write_pending()?;
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for Localized<W> {
    fn drop(&mut self) {
        // Drop cannot report an error; `flush` can, and callers that care call it.
        let _ = self.write_pending();
        let _ = self.inner.flush();
    }
}

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
    fn suggested_commands_get_the_directory_and_others_do_not() {
        let text = "run `keywarden install --yes`, then `keywarden scan` (a `git fsck` and `git branch -m a b`); tell others: `git fetch`, then `git rebase --onto x y z`; a keywarden:allow comment";
        assert_eq!(
            with_directory(text, "'/srv/my app'"),
            "run `keywarden -C '/srv/my app' install --yes`, then `keywarden -C '/srv/my app' scan` (a `git -C '/srv/my app' fsck` and `git -C '/srv/my app' branch -m a b`); tell others: `git fetch`, then `git rebase --onto x y z`; a keywarden:allow comment"
        );
        assert!(matches!(
            with_directory("`keywarden:allow`", "d"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            with_directory("`keywarden purge`", "d"),
            "`keywarden -C d purge`"
        );
    }

    #[test]
    fn a_command_split_over_writes_is_still_found() {
        use std::io::Write as _;
        let mut out = Vec::new();
        {
            let mut writer = Localized::from(&mut out, Some("d".to_string()));
            write!(writer, "run `keyw").expect("a Vec takes every write");
            write!(writer, "arden scan`\nthen `keywarden status`")
                .expect("a Vec takes every write");
        }
        assert_eq!(
            String::from_utf8(out).expect("written as UTF-8"),
            "run `keywarden -C d scan`\nthen `keywarden -C d status`"
        );
        let mut plain = Vec::new();
        write!(Localized::from(&mut plain, None), "`keywarden scan`")
            .expect("a Vec takes every write");
        assert_eq!(plain, b"`keywarden scan`");
    }

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
