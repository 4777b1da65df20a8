//! The two edits — set a variable, replace a key by content — and the rules they keep: the
//! new value goes inside the quoting the line already has, or the edit is refused; the
//! rendered result is read back (by keywarden and by dotenvy, see `verify`) before the
//! document takes it.

use super::parse::{is_key_byte, is_key_start, parse_lines, LineEnding, LineKind, Quote, Span};
use super::verify::{self, Site};
use super::{Change, Document, Found, Refusal, Warning};
use crate::core::secret::Secret;

/// Characters an unquoted value cannot hold as they are in at least one common dialect:
/// comment and quote characters, escapes and expansion, and what `source` in a shell would
/// read as the end of the word or a command.
const UNQUOTED_SPECIAL: &[u8] = b"#$\"'`\\;&|<>()";

impl Document {
    /// Sets `var` to `value` on every line that assigns it — so the new value holds whichever
    /// assignment a parser lets win, with a [`Warning::DuplicateKey`] when there are several —
    /// or appends `var=value` when no line does. The value goes inside each line's quoting.
    /// On a refusal the document is unchanged.
    pub fn set(&mut self, var: &str, value: &Secret) -> Result<(), Refusal> {
        if var.is_empty() || !is_key_start(var.as_bytes()[0]) || !var.bytes().all(is_key_byte) {
            return Err(Refusal::BadName {
                var: var.to_string(),
            });
        }
        let new = value.expose().as_bytes();
        let targets: Vec<usize> = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, line)| matches!(&line.kind, LineKind::Assignment(a) if self.key(a) == var))
            .map(|(index, _)| index)
            .collect();
        if targets.is_empty() {
            return self.append(var, new);
        }
        let mut splices = Vec::new();
        let mut sites = Vec::new();
        for &index in &targets {
            let line = &self.lines[index];
            let LineKind::Assignment(a) = &line.kind else {
                continue;
            };
            check_quoting(new, a.quote, line.number, var)?;
            let mut bytes = new.to_vec();
            if a.value.is_empty() && self.source.get(a.value.end) == Some(&b'#') && !new.is_empty()
            {
                // `KEY: # comment`: keep the comment a comment.
                bytes.push(b' ');
            }
            splices.push((a.value.clone(), bytes));
            sites.push(Site {
                index,
                key: var.to_string(),
                quote: a.quote,
                raw: new.to_vec(),
            });
        }
        let candidate = splice(&self.source, &splices);
        self.commit(candidate, sites, None)
    }

    /// Replaces the key `old` with `new` wherever it stands: inside values (also as part of a
    /// larger value such as a URL) and in comments. A value needs `new` to fit its quoting;
    /// `old` in a line keywarden cannot read is refused. Without `old` in the file nothing
    /// changes. On a refusal the document is unchanged.
    pub fn replace_value(&mut self, old: &Secret, new: &Secret) -> Result<(), Refusal> {
        let (old, new_bytes) = (old.expose().as_bytes(), new.expose().as_bytes());
        if old.is_empty() {
            return Err(Refusal::EmptyOld);
        }
        let mut splices: Vec<(Span, Vec<u8>)> = Vec::new();
        let mut sites: Vec<Site> = Vec::new();
        let mut comments: Vec<usize> = Vec::new();
        for start in memchr::memmem::find_iter(&self.source, old) {
            let found = start..start + old.len();
            let index = self
                .lines
                .partition_point(|line| line.span.end <= found.start);
            let Some(line) = self.lines.get(index).filter(|l| found.end <= l.span.end) else {
                return Err(Refusal::Unreadable {
                    line: self.lines.get(index).map_or(1, |l| l.number),
                    what: "the old key",
                });
            };
            let inside = |span: &Span| span.start <= found.start && found.end <= span.end;
            match &line.kind {
                LineKind::Assignment(a) if inside(&a.value) => {
                    let var = self.key(a).to_string();
                    check_quoting(new_bytes, a.quote, line.number, &var)?;
                    // The first occurrence in a value computes the whole new value.
                    if !sites.iter().any(|s| s.index == index) {
                        sites.push(Site {
                            index,
                            key: var,
                            quote: a.quote,
                            raw: replace_all(&self.source[a.value.clone()], old, new_bytes),
                        });
                    }
                }
                LineKind::Assignment(a) if inside(&a.trailer) => {
                    check_one_line(new_bytes, line.number)?;
                    comments.push(index);
                }
                LineKind::Comment => {
                    check_one_line(new_bytes, line.number)?;
                    comments.push(index);
                }
                _ => {
                    return Err(Refusal::Unreadable {
                        line: line.number,
                        what: "the old key",
                    })
                }
            }
            splices.push((found, new_bytes.to_vec()));
        }
        if splices.is_empty() {
            return Ok(());
        }
        let candidate = splice(&self.source, &splices);
        comments.dedup();
        self.commit(candidate, sites, Some((old, new_bytes, comments)))
    }

    /// `var=value` as a new last line, in the file's line ending.
    fn append(&mut self, var: &str, new: &[u8]) -> Result<(), Refusal> {
        if let Some(line) = self.opaque_assignment_of(var) {
            return Err(Refusal::Unreadable {
                line,
                what: "an assignment of this variable",
            });
        }
        let ending = self
            .lines
            .iter()
            .map(|l| l.ending)
            .find(|e| *e != LineEnding::None)
            .unwrap_or(LineEnding::Lf);
        let mut candidate = self.source.clone();
        if self
            .lines
            .last()
            .is_some_and(|l| l.ending == LineEnding::None)
        {
            candidate.extend_from_slice(ending.as_bytes());
        }
        let number = self.lines.last().map_or(1, |l| {
            l.number
                + self.source[l.span.clone()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                + usize::from(l.ending == LineEnding::None)
        });
        check_quoting(new, Quote::None, number, var)?;
        candidate.extend_from_slice(var.as_bytes());
        candidate.push(b'=');
        candidate.extend_from_slice(new);
        candidate.extend_from_slice(ending.as_bytes());
        let site = Site {
            index: self.lines.len(),
            key: var.to_string(),
            quote: Quote::None,
            raw: new.to_vec(),
        };
        self.commit(candidate, vec![site], None)
    }

    /// The number of an opaque line that looks like it assigns `var` (`var="a"b`), which an
    /// appended line would silently duplicate.
    fn opaque_assignment_of(&self, var: &str) -> Option<usize> {
        self.lines.iter().find_map(|line| {
            if line.kind != LineKind::Opaque {
                return None;
            }
            let text = self.source[line.span.clone()].trim_ascii_start();
            let text = text
                .strip_prefix(b"export")
                .filter(|rest| rest.first().is_some_and(|b| *b == b' ' || *b == b'\t'))
                .map_or(text, |rest| rest.trim_ascii_start());
            let rest = text.strip_prefix(var.as_bytes())?.trim_ascii_start();
            matches!(rest.first(), Some(b'=' | b':')).then_some(line.number)
        })
    }

    /// Reads `candidate` back, verifies it, and makes it the document's content.
    /// `replaced` is the old and new key of a replacement, and the comment lines it edited.
    fn commit(
        &mut self,
        candidate: Vec<u8>,
        sites: Vec<Site>,
        replaced: Option<(&[u8], &[u8], Vec<usize>)>,
    ) -> Result<(), Refusal> {
        let lines = parse_lines(&candidate);
        let appended = sites.iter().any(|s| s.index >= self.lines.len());
        let expected_lines = self.lines.len() + usize::from(appended);
        let referencing = references(&candidate, &lines, &sites);
        verify::verify(verify::Check {
            before: &self.source,
            after: &candidate,
            after_lines: &lines,
            expected_lines,
            sites: &sites,
            replaced: replaced.as_ref().map(|(old, new, _)| (*old, *new)),
            referencing: &referencing,
        })?;

        let mut warnings = Vec::new();
        if candidate.starts_with(super::parse::BOM) {
            warnings.push(Warning::Bom);
        }
        let mut changes: Vec<Change> = sites
            .iter()
            .map(|site| Change {
                line: lines[site.index].number,
                var: Some(site.key.clone()),
            })
            .collect();
        if let Some((_, _, comments)) = &replaced {
            changes.extend(comments.iter().map(|&index| Change {
                line: lines[index].number,
                var: None,
            }));
        }
        changes.sort_by_key(|c| c.line);
        for var in verify::edited_vars(&sites) {
            let at: Vec<usize> = lines
                .iter()
                .filter(|l| matches!(&l.kind, LineKind::Assignment(a) if &candidate[a.key.clone()] == var.as_bytes()))
                .map(|l| l.number)
                .collect();
            if at.len() > 1 {
                warnings.push(Warning::DuplicateKey {
                    var: var.to_string(),
                    lines: at,
                });
            }
        }
        warnings.extend(
            referencing
                .into_iter()
                .map(|r| Warning::ReferencesVariable {
                    var: r.var,
                    line: r.line,
                }),
        );

        self.source = candidate;
        self.lines = lines;
        for change in changes {
            if !self.changes.contains(&change) {
                self.changes.push(change);
            }
        }
        for warning in warnings {
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
        Ok(())
    }
}

/// A line that refers to an edited variable.
pub(super) struct Reference {
    pub var: String,
    pub line: usize,
    /// The variable the referring line assigns, if it is an assignment.
    pub assigns: Option<String>,
}

/// Lines other than the edited ones whose values (or opaque text) refer to an edited
/// variable as `$VAR` or `${VAR…}`.
fn references(src: &[u8], lines: &[super::Line], sites: &[Site]) -> Vec<Reference> {
    let mut found = Vec::new();
    let vars = verify::edited_vars(sites);
    for (index, line) in lines.iter().enumerate() {
        if sites.iter().any(|s| s.index == index) {
            continue;
        }
        let (text, assigns) = match &line.kind {
            LineKind::Assignment(a) => (
                &src[a.value.clone()],
                Some(String::from_utf8_lossy(&src[a.key.clone()]).into_owned()),
            ),
            LineKind::Opaque => (&src[line.span.clone()], None),
            LineKind::Comment | LineKind::Blank => continue,
        };
        for var in &vars {
            if refers_to(text, var.as_bytes()) {
                found.push(Reference {
                    var: var.to_string(),
                    line: line.number,
                    assigns: assigns.clone(),
                });
            }
        }
    }
    found
}

/// Whether `text` holds `$var` (not followed by another name character) or `${var` followed
/// by `}`, `:` or `-` (the `${VAR:-default}` forms).
fn refers_to(text: &[u8], var: &[u8]) -> bool {
    memchr::memchr_iter(b'$', text).any(|dollar| {
        let rest = &text[dollar + 1..];
        if let Some(inner) = rest.strip_prefix(b"{") {
            inner
                .strip_prefix(var)
                .is_some_and(|after| matches!(after.first(), Some(b'}' | b':' | b'-')))
        } else {
            rest.strip_prefix(var)
                .is_some_and(|after| !after.first().is_some_and(|b| is_key_byte(*b)))
        }
    })
}

/// Refuses a value the quoting `quote` cannot hold as it is.
fn check_quoting(value: &[u8], quote: Quote, line: usize, var: &str) -> Result<(), Refusal> {
    check_one_line(value, line)?;
    let refuse = |found| Refusal::NeedsQuoting {
        line,
        var: var.to_string(),
        quote,
        found,
    };
    for &byte in value {
        if (byte < 0x20 && byte != b'\t') || byte == 0x7f {
            return Err(refuse(Found::ControlByte));
        }
        let special: &[u8] = match quote {
            // dotenvy reads backticks as part of an unquoted value: the same rules, plus the
            // backtick itself (node's closing quote).
            Quote::None | Quote::Backtick => UNQUOTED_SPECIAL,
            // python-dotenv expands `${…}` even inside single quotes.
            Quote::Single => b"'\\$",
            // Inside double quotes shells still expand `$` and run backticks.
            Quote::Double => b"\"\\$`",
        };
        let blank_forbidden = matches!(quote, Quote::None | Quote::Backtick);
        if blank_forbidden && (byte == b' ' || byte == b'\t') {
            return Err(refuse(Found::Whitespace));
        }
        if special.contains(&byte) {
            return Err(refuse(Found::Char(char::from(byte))));
        }
    }
    Ok(())
}

fn check_one_line(value: &[u8], line: usize) -> Result<(), Refusal> {
    if value.iter().any(|&b| b == b'\n' || b == b'\r') {
        return Err(Refusal::LineBreak { line });
    }
    Ok(())
}

/// A plain file's bytes with every `old` replaced by `new`, and the lines that changed.
pub(super) fn replace_plain(
    before: &[u8],
    old: &Secret,
    new: &Secret,
) -> Result<(Vec<u8>, Vec<Change>), Refusal> {
    let (old, new) = (old.expose().as_bytes(), new.expose().as_bytes());
    if old.is_empty() {
        return Err(Refusal::EmptyOld);
    }
    let mut splices = Vec::new();
    let mut changes: Vec<Change> = Vec::new();
    for start in memchr::memmem::find_iter(before, old) {
        let line = 1 + before[..start].iter().filter(|&&b| b == b'\n').count();
        check_one_line(new, line)?;
        if changes.last().is_none_or(|c| c.line != line) {
            changes.push(Change { line, var: None });
        }
        splices.push((start..start + old.len(), new.to_vec()));
    }
    Ok((splice(before, &splices), changes))
}

fn replace_all(haystack: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    let splices: Vec<(Span, Vec<u8>)> = memchr::memmem::find_iter(haystack, old)
        .map(|start| (start..start + old.len(), new.to_vec()))
        .collect();
    splice(haystack, &splices)
}

/// `src` with each span (in order, not overlapping) replaced.
fn splice(src: &[u8], splices: &[(Span, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    let mut at = 0;
    for (span, bytes) in splices {
        out.extend_from_slice(&src[at..span.start]);
        out.extend_from_slice(bytes);
        at = span.end;
    }
    out.extend_from_slice(&src[at..]);
    out
}
