//! The check an edit must pass before a document takes it: keywarden's own parser must read
//! each edited value back as exactly the bytes written, and dotenvy (what keywarden itself
//! loads with) must read each edited variable as expected, and every other variable as it
//! read it before.

use super::edit::Reference;
use super::parse::{Line, LineKind, Quote, BOM};
use super::{Disagreement, Refusal};

/// An edited assignment: the line's index in the edited document, its key and quoting, and
/// the raw value it must now hold.
pub(super) struct Site {
    pub index: usize,
    pub key: String,
    pub quote: Quote,
    pub raw: Vec<u8>,
}

/// The edited variables, each once, in the order of their first edit.
pub(super) fn edited_vars(sites: &[Site]) -> Vec<&str> {
    let mut vars: Vec<&str> = Vec::new();
    for site in sites {
        if !vars.contains(&site.key.as_str()) {
            vars.push(&site.key);
        }
    }
    vars
}

pub(super) struct Check<'a> {
    pub before: &'a [u8],
    pub after: &'a [u8],
    pub after_lines: &'a [Line],
    /// How many lines the edited document must have.
    pub expected_lines: usize,
    pub sites: &'a [Site],
    /// For a replacement: the old and the new key.
    pub replaced: Option<(&'a [u8], &'a [u8])>,
    /// Lines that refer to an edited variable: what dotenvy reads for them may change.
    pub referencing: &'a [Reference],
}

pub(super) fn verify(check: Check<'_>) -> Result<(), Refusal> {
    read_back(&check)?;
    dotenvy_agrees(&check)
}

fn line_of(check: &Check<'_>, site: &Site) -> usize {
    check.after_lines.get(site.index).map_or(1, |l| l.number)
}

/// keywarden's own reading: the same lines, and each edited value exactly as written.
fn read_back(check: &Check<'_>) -> Result<(), Refusal> {
    let first_line = check.sites.first().map_or(1, |s| line_of(check, s));
    if check.after_lines.len() != check.expected_lines {
        return Err(Refusal::ReadBack { line: first_line });
    }
    for site in check.sites {
        let holds = matches!(
            check.after_lines.get(site.index).map(|l| &l.kind),
            Some(LineKind::Assignment(a))
                if check.after[a.key.clone()] == *site.key.as_bytes()
                    && a.quote == site.quote
                    && check.after[a.value.clone()] == *site.raw
        );
        if !holds {
            return Err(Refusal::ReadBack {
                line: line_of(check, site),
            });
        }
    }
    Ok(())
}

/// What dotenvy reads from a file: each item a pair, or `None` for a line it cannot read.
type Reading = Vec<Option<(String, String)>>;

fn dotenvy_reading(bytes: &[u8]) -> Reading {
    // dotenvy's iterator errors on a BOM that its `load` functions strip.
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    // Each item consumes at least one line; the bound only guards against a reader that
    // stops making progress.
    let bound = body.iter().filter(|&&b| b == b'\n').count() + 2;
    dotenvy::from_read_iter(body)
        .take(bound)
        .map(Result::ok)
        .collect()
}

fn values_of<'a>(reading: &'a Reading, var: &str) -> Vec<&'a str> {
    reading
        .iter()
        .flatten()
        .filter(|(key, _)| key == var)
        .map(|(_, value)| value.as_str())
        .collect()
}

/// What dotenvy reads for the raw value `raw` in `quote`, when that is certain without
/// running it: no escapes, no `$`, and (where dotenvy reads it unquoted) no quotes or blanks.
fn expected_reading(raw: &[u8], quote: Quote) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    if text.contains(['\\', '$']) {
        return None;
    }
    let unquoted_safe = !text.contains(|c: char| c.is_whitespace() || "'\"#`".contains(c));
    match quote {
        Quote::Single | Quote::Double => Some(text.to_string()),
        Quote::None if unquoted_safe || text.is_empty() => Some(text.to_string()),
        // dotenvy does not know backtick quotes: it reads them as part of the value.
        Quote::Backtick if unquoted_safe => Some(format!("`{text}`")),
        _ => None,
    }
}

fn dotenvy_agrees(check: &Check<'_>) -> Result<(), Refusal> {
    let before = dotenvy_reading(check.before);
    let after = dotenvy_reading(check.after);
    let edited = edited_vars(check.sites);
    let disagreement = |site: &Site, reason| Refusal::Disagreement {
        line: line_of(check, site),
        var: site.key.clone(),
        reason,
    };
    for var in &edited {
        let ours: Vec<usize> = check
            .after_lines
            .iter()
            .enumerate()
            .filter(|(_, line)| {
                matches!(&line.kind, LineKind::Assignment(a)
                    if check.after[a.key.clone()] == *var.as_bytes())
            })
            .map(|(index, _)| index)
            .collect();
        let read_after = values_of(&after, var);
        let read_before = values_of(&before, var);
        for site in check.sites.iter().filter(|s| s.key == *var) {
            if read_after.len() != ours.len() {
                return Err(disagreement(site, Disagreement::ReadsNoValue));
            }
            let k = ours
                .iter()
                .position(|&index| index == site.index)
                .ok_or_else(|| disagreement(site, Disagreement::ReadsNoValue))?;
            let expected = expected_reading(&site.raw, site.quote).or_else(|| {
                // A value with escapes or `$…`: dotenvy's own reading before the edit, with
                // the key swapped, is what it must read now.
                let (old, new) = check.replaced?;
                let (old, new) = (
                    std::str::from_utf8(old).ok()?,
                    std::str::from_utf8(new).ok()?,
                );
                let before_count = read_before.len() == ours.len();
                before_count.then(|| read_before[k].replace(old, new))
            });
            match expected {
                None => return Err(disagreement(site, Disagreement::ReadsNoValue)),
                Some(expected) if read_after[k] != expected => {
                    return Err(disagreement(site, Disagreement::ReadsAnotherValue))
                }
                Some(_) => {}
            }
        }
    }
    let untouched = |reading: &Reading| -> Vec<(String, String)> {
        reading
            .iter()
            .flatten()
            .filter(|(key, _)| {
                !edited.contains(&key.as_str())
                    && !check
                        .referencing
                        .iter()
                        .any(|r| r.assigns.as_deref() == Some(key.as_str()))
            })
            .cloned()
            .collect()
    };
    let (was, is) = (untouched(&before), untouched(&after));
    if was != is {
        let differs = was
            .iter()
            .zip(is.iter())
            .find(|(a, b)| a != b)
            .map(|(a, _)| a)
            .or_else(|| was.get(is.len()))
            .or_else(|| is.get(was.len()))
            .map_or_else(String::new, |(key, _)| key.clone());
        let line = check.sites.first().map_or(1, |s| line_of(check, s));
        return Err(Refusal::Disagreement {
            line,
            var: differs,
            reason: Disagreement::ChangesAnotherVariable,
        });
    }
    Ok(())
}
