//! Reading a `.env` file into lines with byte spans, never failing: every byte of the input
//! belongs to exactly one line (or to the BOM), so putting the spans back together gives the
//! input again. What the grammar accepts follows dotenvy and the other parsers where they
//! agree (see `research/openai-and-remediation.md` §4); anything else is kept as an opaque
//! line that is never edited.

use std::ops::Range;

/// A byte range in the document.
pub type Span = Range<usize>;

/// The UTF-8 byte order mark.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a value is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    None,
    Single,
    Double,
    /// `` `…` ``: node's dotenv strips the backticks, dotenvy keeps them as part of the value.
    Backtick,
}

impl Quote {
    fn from_byte(byte: u8) -> Option<Quote> {
        match byte {
            b'\'' => Some(Quote::Single),
            b'"' => Some(Quote::Double),
            b'`' => Some(Quote::Backtick),
            _ => None,
        }
    }

    /// How the quoting is called in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Quote::None => "an unquoted",
            Quote::Single => "a single-quoted",
            Quote::Double => "a double-quoted",
            Quote::Backtick => "a backtick-quoted",
        }
    }
}

/// `KEY=value` or `KEY: value` (node, direnv and compose only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    Equals,
    Colon,
}

/// How a line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    Lf,
    CrLf,
    /// The last line of a file without a final newline.
    None,
}

impl LineEnding {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
            LineEnding::None => b"",
        }
    }
}

/// One variable assignment. Spans index the document's bytes; the line's own span covers it
/// all, from the indentation to the line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Whether the line starts with `export `.
    pub export: bool,
    pub key: Span,
    pub separator: Separator,
    /// The end of what a template (`.env.example`) keeps of the line: up to and including the
    /// `=`, or the `:` and the blanks after it.
    pub prefix_end: usize,
    /// The raw bytes of the value, inside the quotes (no escapes decoded, no `$` expanded).
    pub value: Span,
    pub quote: Quote,
    /// After the value (and its closing quote) up to the line ending: blanks and an inline
    /// `# comment`, possibly empty.
    pub trailer: Span,
}

/// What a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    Assignment(Assignment),
    Comment,
    Blank,
    /// A line keywarden cannot read (a bare `KEY`, an unterminated quote, text after a closing
    /// quote…). Kept byte for byte, never edited. An unterminated quote makes every line up to
    /// the end of the file one opaque line, as dotenvy reads it.
    Opaque,
}

/// One logical line: a multi-line quoted value makes one line of several physical ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    /// All of the line's bytes, its line ending included.
    pub span: Span,
    /// The 1-based number of its first physical line.
    pub number: usize,
    pub ending: LineEnding,
}

/// Splits `src` into lines. `src` may start with a BOM, which belongs to no line.
pub(crate) fn parse_lines(src: &[u8]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut pos = if src.starts_with(BOM) { BOM.len() } else { 0 };
    let mut number = 1;
    while pos < src.len() {
        let physical = physical_line(src, pos);
        let content = &src[pos..physical.content_end];
        let (kind, end, ending) = if content.iter().all(|&b| is_blank(b)) {
            (LineKind::Blank, physical.end, physical.ending)
        } else if content.iter().find(|&&b| !is_inline_space(b)) == Some(&b'#') {
            (LineKind::Comment, physical.end, physical.ending)
        } else {
            match assignment(src, pos, physical.content_end) {
                Parsed::Line(assignment, end, ending) => {
                    (LineKind::Assignment(assignment), end, ending)
                }
                Parsed::Unterminated => {
                    let ending = ending_of(src);
                    (LineKind::Opaque, src.len(), ending)
                }
                Parsed::No(end, ending) => (LineKind::Opaque, end, ending),
            }
        };
        let span = pos..end;
        let next_number = number + src[span.clone()].iter().filter(|&&b| b == b'\n').count();
        lines.push(Line {
            kind,
            span,
            number,
            ending,
        });
        number = next_number;
        pos = end;
    }
    lines
}

/// Where a physical line's content ends and the next line starts.
struct Physical {
    content_end: usize,
    end: usize,
    ending: LineEnding,
}

fn physical_line(src: &[u8], start: usize) -> Physical {
    match memchr::memchr(b'\n', &src[start..]) {
        Some(offset) => {
            let newline = start + offset;
            let crlf = newline > start && src[newline - 1] == b'\r';
            Physical {
                content_end: if crlf { newline - 1 } else { newline },
                end: newline + 1,
                ending: if crlf {
                    LineEnding::CrLf
                } else {
                    LineEnding::Lf
                },
            }
        }
        None => Physical {
            content_end: src.len(),
            end: src.len(),
            ending: LineEnding::None,
        },
    }
}

/// The ending of the last physical line of `src`.
fn ending_of(src: &[u8]) -> LineEnding {
    if src.ends_with(b"\r\n") {
        LineEnding::CrLf
    } else if src.ends_with(b"\n") {
        LineEnding::Lf
    } else {
        LineEnding::None
    }
}

enum Parsed {
    /// An assignment, where its line ends, and how.
    Line(Assignment, usize, LineEnding),
    /// A quote that never closes.
    Unterminated,
    /// Not an assignment: the physical line is opaque (its end and ending).
    No(usize, LineEnding),
}

fn assignment(src: &[u8], start: usize, content_end: usize) -> Parsed {
    let physical = physical_line(src, start);
    let not_one = Parsed::No(physical.end, physical.ending);
    let mut i = skip(src, start, content_end, is_inline_space);
    let mut export = false;
    if src[i..content_end].starts_with(b"export") {
        let after = i + b"export".len();
        let key_at = skip(src, after, content_end, is_inline_space);
        // `export KEY=…`; `export=…` and `exportFOO=…` are keys of their own.
        if key_at > after && key_at < content_end && is_key_start(src[key_at]) {
            export = true;
            i = key_at;
        }
    }
    if i >= content_end || !is_key_start(src[i]) {
        return not_one;
    }
    let key_start = i;
    i = skip(src, i + 1, content_end, is_key_byte);
    let key = key_start..i;
    let (separator, op_end) = if i < content_end
        && src[i] == b':'
        && (i + 1 == content_end || is_inline_space(src[i + 1]))
    {
        (Separator::Colon, i + 1)
    } else {
        let at = skip(src, i, content_end, is_inline_space);
        if at < content_end && src[at] == b'=' {
            (Separator::Equals, at + 1)
        } else {
            return not_one;
        }
    };
    let value_start = skip(src, op_end, content_end, is_inline_space);
    let quote = if value_start < content_end {
        Quote::from_byte(src[value_start])
    } else {
        None
    };
    let (value, quote, trailer, end, ending) = match quote {
        Some(quote) => {
            let open = value_start;
            let Some(close) = closing_quote(src, open + 1, src[open]) else {
                return Parsed::Unterminated;
            };
            let closing_line = physical_line(src, close);
            let trailer = close + 1..closing_line.content_end;
            if !is_trailer(&src[trailer.clone()]) {
                // `"a"b`, `'a' b`: parsers disagree on text after a closing quote.
                return Parsed::No(closing_line.end, closing_line.ending);
            }
            let value = open + 1..close;
            (value, quote, trailer, closing_line.end, closing_line.ending)
        }
        None => {
            // A `#` after a blank starts a comment (dotenvy, python-dotenv, compose);
            // `K=a#b` keeps `a#b`.
            let comment = (value_start..content_end)
                .find(|&p| src[p] == b'#' && is_inline_space(src[p - 1]))
                .unwrap_or(content_end);
            let mut value_end = comment;
            while value_end > value_start && is_blank(src[value_end - 1]) {
                value_end -= 1;
            }
            // An empty value sits right after `=` (so a new value goes before the blanks and
            // the comment); after `: ` it needs the blank.
            let value = match separator {
                Separator::Equals if value_end == value_start => op_end..op_end,
                _ => value_start..value_end,
            };
            let trailer = value.end..content_end;
            (value, Quote::None, trailer, physical.end, physical.ending)
        }
    };
    let assignment = Assignment {
        export,
        key,
        separator,
        prefix_end: match separator {
            Separator::Equals => op_end,
            Separator::Colon => value_start,
        },
        value,
        quote,
        trailer,
    };
    Parsed::Line(assignment, end, ending)
}

/// The index of the quote that closes a value opened just before `from`; a backslash escapes
/// the byte after it (as dotenvy's line reader and python-dotenv's patterns do).
fn closing_quote(src: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut i = from;
    while i < src.len() {
        match src[i] {
            b'\\' => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Blanks, then optionally a `#` comment preceded by at least one blank.
fn is_trailer(bytes: &[u8]) -> bool {
    let blanks = bytes.iter().take_while(|&&b| is_blank(b)).count();
    blanks == bytes.len() || (blanks > 0 && bytes[blanks] == b'#')
}

fn skip(src: &[u8], mut i: usize, end: usize, class: fn(u8) -> bool) -> usize {
    while i < end && class(src[i]) {
        i += 1;
    }
    i
}

fn is_inline_space(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Blank inside a line: spaces, tabs and the other ASCII whitespace but `\n`.
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

pub(crate) fn is_key_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

/// Key characters as dotenvy reads them: `[A-Za-z0-9_.]`.
pub(crate) fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.'
}
