//! Editing the files that hold keys without disturbing anything else in them.
//!
//! A `.env` file is read once into a lossless [`Document`] (cargo's `toml_edit` idea): lines
//! with byte spans — assignments (`export`, key, `=` or `:`, the raw value inside its quotes,
//! an inline comment, the line ending), comments, blank lines and opaque lines it cannot read.
//! Rendering an unedited document gives the input back byte for byte, whatever the input
//! (BOM, CRLF, no final newline, invalid UTF-8 included).
//!
//! Edits swap bytes inside the quoting a line already has and never re-quote: a new value that
//! the quoting cannot hold as it is gets a typed [`Refusal`]. Every edit is checked twice on
//! the rendered bytes — keywarden's own reading must find exactly the new raw value, and
//! dotenvy must read the variable as expected — and refused otherwise. Files that are not
//! `.env` syntax (a `config.yaml` that holds a key) get a plain byte-level replacement.
//!
//! Plan first, apply later: [`plan_set`] and [`plan_replace`] return an [`EnvEdit`] (path,
//! before, after, the changed lines and the [`Warning`]s); [`EnvEdit::redacted`] gives the
//! text for a diff with the keys redacted, and [`EnvEdit::apply`] writes through the one
//! atomic write (mode kept, new files 0600, a symlink edited at its target).

mod edit;
mod parse;
mod verify;
mod view;

#[cfg(test)]
mod tests;

pub use parse::{Assignment, Line, LineEnding, LineKind, Quote, Separator, Span};
pub use view::RedactedEdit;

use crate::core::fs::{self, FsError, Mode, SECRET_MODE};
use crate::core::secret::Secret;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A parsed `.env` file, with the edits made to it so far. Holds secrets: its `Debug` shows
/// only the shape.
pub struct Document {
    /// The bytes first parsed: the `before` of an edit.
    original: Vec<u8>,
    /// The bytes after the edits so far.
    source: Vec<u8>,
    lines: Vec<Line>,
    changes: Vec<Change>,
    warnings: Vec<Warning>,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("bytes", &self.source.len())
            .field("lines", &self.lines.len())
            .field("changes", &self.changes)
            .finish()
    }
}

/// One assignment's variable and value, for finding which variables hold which key.
#[derive(Debug, Clone)]
pub struct Binding {
    pub key: String,
    /// The raw value inside the quotes (escapes not decoded, `$VAR` not expanded; invalid
    /// UTF-8 replaced by U+FFFD).
    pub value: Secret,
    /// The 1-based line number.
    pub line: usize,
    pub quote: Quote,
}

/// A line an edit changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The 1-based line number, in the edited file.
    pub line: usize,
    /// The variable whose value changed; `None` for a comment or a file that is not `.env`.
    pub var: Option<String>,
}

/// Something risky about an edited file, as data; `Display` gives the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The file starts with a byte order mark, which python-dotenv up to 1.2.2, bun and
    /// godotenv read as part of the first key. It was kept.
    Bom,
    /// `var` is assigned on several lines, and parsers disagree which one wins (dotenvy's
    /// `load` keeps the first, python-dotenv and node the last).
    DuplicateKey { var: String, lines: Vec<usize> },
    /// Line `line` refers to `var` (`$VAR` or `${VAR}`), so parsers that expand references
    /// read the edited value there too.
    ReferencesVariable { var: String, line: usize },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Bom => write!(
                f,
                "the file starts with a byte order mark, which some parsers read as part of \
                 the first variable's name"
            ),
            Warning::DuplicateKey { var, lines } => {
                let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                write!(
                    f,
                    "{var} is set on lines {} and parsers disagree which one wins; every one \
                     was edited",
                    lines.join(", ")
                )
            }
            Warning::ReferencesVariable { var, line } => write!(
                f,
                "line {line} refers to ${{{var}}}, which now expands to the new value"
            ),
        }
    }
}

/// Why an edit was refused. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error(
        "line {line}: the new value of {var} holds {found}, which {} value cannot hold without \
         re-quoting; keywarden does not re-quote, change the line by hand",
        .quote.describe()
    )]
    NeedsQuoting {
        line: usize,
        var: String,
        quote: Quote,
        found: Found,
    },
    #[error(
        "line {line}: the new value holds a line break; keywarden only writes one-line values"
    )]
    LineBreak { line: usize },
    #[error(
        "`{var}` is not a variable name (letters, digits, `_` and `.`, not starting with a digit)"
    )]
    BadName { var: String },
    #[error("the key to replace is empty")]
    EmptyOld,
    #[error("line {line}: {what} is in a line keywarden cannot read; change it by hand")]
    Unreadable { line: usize, what: &'static str },
    #[error(
        "line {line}: after the edit, dotenvy {reason} {var}, so the edit cannot be checked; \
         nothing was changed, change the line by hand"
    )]
    Disagreement {
        line: usize,
        var: String,
        reason: Disagreement,
    },
    #[error("line {line}: the edited line does not read back as written (a keywarden bug); nothing was changed")]
    ReadBack { line: usize },
}

/// How dotenvy's reading of an edited file differs from the one expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disagreement {
    /// dotenvy does not read every assignment of the variable (it cannot parse the line, or
    /// an earlier line swallows it).
    ReadsNoValue,
    /// dotenvy reads another value than the new one.
    ReadsAnotherValue,
    /// The edit changed what dotenvy reads for a variable that was not edited.
    ChangesAnotherVariable,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Disagreement::ReadsNoValue => "cannot read every assignment of",
            Disagreement::ReadsAnotherValue => "reads another value than the new one for",
            Disagreement::ChangesAnotherVariable => "would read a changed value for",
        })
    }
}

/// The character a new value may not hold, named without showing the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Char(char),
    Whitespace,
    ControlByte,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Char(c) => write!(f, "`{c}`"),
            Found::Whitespace => f.write_str("whitespace"),
            Found::ControlByte => f.write_str("a control character"),
        }
    }
}

#[derive(Debug, Error)]
pub enum EnvEditError {
    #[error("{path}: {refusal}")]
    Refused { path: PathBuf, refusal: Refusal },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} changed since the edit was planned; nothing was written, plan it again")]
    Changed { path: PathBuf },
    #[error(transparent)]
    Write(#[from] FsError),
}

/// Which rules an edit follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `.env` syntax: parsed, quoting checked, verified with dotenvy.
    Dotenv,
    /// Anything else (`config.yaml`, a script): the old key's bytes are swapped for the new
    /// key's, and only line breaks are refused.
    Plain,
}

impl Syntax {
    /// `.env`, `.env.*`, `*.env` and `.envrc` are `.env` syntax; every other file is plain.
    pub fn of_path(path: &Path) -> Syntax {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if name == ".env" || name == ".envrc" || name.starts_with(".env.") || name.ends_with(".env")
        {
            Syntax::Dotenv
        } else {
            Syntax::Plain
        }
    }
}

/// A planned change to one file: nothing is written until [`EnvEdit::apply`].
pub struct EnvEdit {
    pub path: PathBuf,
    pub syntax: Syntax,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    pub changes: Vec<Change>,
    pub warnings: Vec<Warning>,
}

impl fmt::Debug for EnvEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvEdit")
            .field("path", &self.path)
            .field("syntax", &self.syntax)
            .field("changes", &self.changes)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// What [`EnvEdit::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Written,
    /// The file already held the new content (a resumed run).
    AlreadyApplied,
    /// The edit changes nothing.
    NothingToDo,
}

impl EnvEdit {
    /// Whether the edit changes nothing (the old key is not in the file).
    pub fn is_empty(&self) -> bool {
        self.before == self.after
    }

    /// Writes `after` through the one atomic write — the file's mode kept, a new file 0600,
    /// a symlink written at its target — after checking that the file still holds `before`.
    /// A file that already holds `after` is left alone, so a resumed run can apply again.
    pub fn apply(&self) -> Result<Applied, EnvEditError> {
        if self.is_empty() {
            return Ok(Applied::NothingToDo);
        }
        let current = match std::fs::read(&self.path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(EnvEditError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        match current {
            Some(bytes) if bytes == self.after => return Ok(Applied::AlreadyApplied),
            Some(bytes) if bytes == self.before => {}
            None if self.before.is_empty() => {}
            _ => {
                return Err(EnvEditError::Changed {
                    path: self.path.clone(),
                })
            }
        }
        fs::write_atomic(&self.path, &self.after, Mode::KeepOr(SECRET_MODE))?;
        Ok(Applied::Written)
    }

    /// Before and after as text for a diff, with `old` and `new` replaced by their redacted
    /// forms — and, so that a diff's context lines show no other secret, every other value of
    /// a `.env` file redacted and the lines of a plain file that hold neither key elided.
    pub fn redacted(&self, old: &Secret, new: &Secret) -> RedactedEdit {
        view::redacted(self, old, new)
    }
}

impl Document {
    /// Reads `bytes`; never fails (what it cannot read it keeps as opaque lines).
    pub fn parse(bytes: &[u8]) -> Document {
        Document {
            original: bytes.to_vec(),
            source: bytes.to_vec(),
            lines: parse::parse_lines(bytes),
            changes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The document's bytes, put together from its lines (with the edits made so far).
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.source.len());
        if self.has_bom() {
            out.extend_from_slice(parse::BOM);
        }
        for line in &self.lines {
            out.extend_from_slice(&self.source[line.span.clone()]);
        }
        out
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The bytes a span of this document's lines covers.
    pub fn bytes(&self, span: &Span) -> &[u8] {
        &self.source[span.clone()]
    }

    pub fn has_bom(&self) -> bool {
        self.source.starts_with(parse::BOM)
    }

    /// Every assignment, in file order.
    pub fn assignments(&self) -> Vec<Binding> {
        self.lines
            .iter()
            .filter_map(|line| match &line.kind {
                LineKind::Assignment(a) => Some(Binding {
                    key: self.key(a).to_string(),
                    value: Secret::new(String::from_utf8_lossy(&self.source[a.value.clone()])),
                    line: line.number,
                    quote: a.quote,
                }),
                _ => None,
            })
            .collect()
    }

    /// The changes made so far, and the warnings about them.
    pub fn into_edit(self, path: impl Into<PathBuf>) -> EnvEdit {
        let after = self.render();
        EnvEdit {
            path: path.into(),
            syntax: Syntax::Dotenv,
            before: self.original,
            after,
            changes: self.changes,
            warnings: self.warnings,
        }
    }

    fn key<'a>(&'a self, assignment: &Assignment) -> &'a str {
        std::str::from_utf8(&self.source[assignment.key.clone()])
            .expect("keys are ASCII: the parser accepts only [A-Za-z0-9_.]")
    }
}

/// Plans setting every assignment of `var` in the `.env` file `path` (its content `before`)
/// to `value`, or appending `var=value` when there is none. See [`Document::set`].
pub fn plan_set(
    path: &Path,
    before: &[u8],
    var: &str,
    value: &Secret,
) -> Result<EnvEdit, EnvEditError> {
    let mut doc = Document::parse(before);
    doc.set(var, value)
        .map_err(|refusal| refused(path, refusal))?;
    Ok(doc.into_edit(path))
}

/// Plans replacing the key `old` with `new` wherever it stands in the file `path` (its
/// content `before`), also inside a larger value such as a URL. `.env` syntax gets the
/// quoting checks and the dotenvy verification ([`Document::replace_value`]); a plain file a
/// byte-level replacement. A file without `old` gives an empty edit.
pub fn plan_replace(
    path: &Path,
    before: &[u8],
    syntax: Syntax,
    old: &Secret,
    new: &Secret,
) -> Result<EnvEdit, EnvEditError> {
    match syntax {
        Syntax::Dotenv => {
            let mut doc = Document::parse(before);
            doc.replace_value(old, new)
                .map_err(|refusal| refused(path, refusal))?;
            Ok(doc.into_edit(path))
        }
        Syntax::Plain => {
            let (after, changes) =
                edit::replace_plain(before, old, new).map_err(|refusal| refused(path, refusal))?;
            Ok(EnvEdit {
                path: path.to_path_buf(),
                syntax,
                before: before.to_vec(),
                after,
                changes,
                warnings: Vec::new(),
            })
        }
    }
}

fn refused(path: &Path, refusal: Refusal) -> EnvEditError {
    EnvEditError::Refused {
        path: path.to_path_buf(),
        refusal,
    }
}
