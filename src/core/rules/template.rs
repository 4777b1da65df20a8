//! Key templates: how rule examples, tests and benchmarks write a fake key without the
//! repository ever holding one. `sk-proj-{alnum:74}` becomes a fresh random key each time.
//!
//! Classes: `alnum`, `alnum_` (with `_` and `-`), `lower`, `upper`, `letters`, `digits`,
//! `hex`, `lowernum`, `upper32` (`A-Z2-7`), `b64` (`A-Za-z0-9+/`), and `lit:TEXT` for a literal
//! that would otherwise be written whole (`{lit:T3Blbk}FJ`). `«` and `»` mark the part that
//! is the secret; [`Expanded::secret`] returns it.

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn class(name: &str) -> Option<&'static str> {
    Some(match name {
        "alnum" => ALNUM,
        "alnum_" => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
        "lower" => "abcdefghijklmnopqrstuvwxyz",
        "upper" => "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "letters" => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "digits" => "0123456789",
        "hex" => "0123456789abcdef",
        "lowernum" => "abcdefghijklmnopqrstuvwxyz0123456789",
        "upper32" => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "b64" => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        _ => return None,
    })
}

/// A small deterministic generator (xorshift64*): tests want reproducible keys from a seed,
/// and nothing here needs cryptographic randomness.
#[derive(Debug, Clone)]
pub struct KeyRng(u64);

impl KeyRng {
    pub fn new(seed: u64) -> Self {
        KeyRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `len` characters drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &str, len: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    secret: Option<(usize, usize)>,
}

impl Expanded {
    /// The part between `«` and `»`, if the template marked one.
    pub fn secret(&self) -> Option<&str> {
        self.secret.map(|(a, b)| &self.text[a..b])
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid key template: {}", self.0)
    }
}

impl std::error::Error for TemplateError {}

/// The `class:N` or `lit:TEXT` inside a `{…}` at the start of `rest`; any other brace is
/// literal text (JSON, `${VAR}`).
fn placeholder_spec(rest: &str) -> Option<&str> {
    let end = rest.find('}')?;
    let spec = &rest[1..end];
    if spec.starts_with("lit:") {
        return Some(spec);
    }
    let (name, count) = spec.split_once(':')?;
    let is_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let is_count = !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit());
    (is_name && is_count).then_some(spec)
}

/// Expands `{class:N}` and `{lit:TEXT}` placeholders and the `«…»` secret marker.
pub fn expand(template: &str, rng: &mut KeyRng) -> Result<Expanded, TemplateError> {
    let mut text = String::with_capacity(template.len() * 2);
    let mut secret_start = None;
    let mut secret = None;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        match c {
            '«' => secret_start = Some(text.len()),
            '»' => {
                let start = secret_start
                    .take()
                    .ok_or_else(|| TemplateError(format!("`»` without `«` in {template:?}")))?;
                secret = Some((start, text.len()));
            }
            '{' if placeholder_spec(rest).is_some() => {
                let spec = placeholder_spec(rest).expect("checked by the guard");
                if let Some(literal) = spec.strip_prefix("lit:") {
                    text.push_str(literal);
                } else {
                    let (name, count) = spec.split_once(':').expect("spec has a colon");
                    let alphabet = class(name)
                        .ok_or_else(|| TemplateError(format!("unknown class `{name}`")))?;
                    let count: usize = count
                        .parse()
                        .map_err(|_| TemplateError(format!("bad count in `{{{spec}}}`")))?;
                    text.push_str(&rng.string(alphabet, count));
                }
                rest = &rest[spec.len() + 2..];
                continue;
            }
            _ => text.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    if secret_start.is_some() {
        return Err(TemplateError(format!("`«` without `»` in {template:?}")));
    }
    Ok(Expanded { text, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_classes_literals_and_marks() {
        let mut rng = KeyRng::new(1);
        let e = expand("K=«ab{digits:4}{lit:XY}»;", &mut rng).expect("valid");
        let secret = e.secret().expect("marked");
        assert_eq!(secret.len(), 8);
        assert!(secret.starts_with("ab") && secret.ends_with("XY"));
        assert!(secret[2..6].chars().all(|c| c.is_ascii_digit()));
        assert_eq!(e.text, format!("K={secret};"));
    }

    #[test]
    fn rejects_malformed_templates() {
        let mut rng = KeyRng::new(1);
        assert!(expand("{nope:3}", &mut rng).is_err());
        assert_eq!(
            expand("{\"a\": 1}", &mut rng).expect("literal braces").text,
            "{\"a\": 1}"
        );
        assert!(expand("«abc", &mut rng).is_err());
        assert!(expand("abc»", &mut rng).is_err());
        assert_eq!(
            expand("${{ x }}", &mut rng).expect("literal").text,
            "${{ x }}"
        );
    }

    #[test]
    fn same_seed_same_key() {
        let a = expand("{alnum:40}", &mut KeyRng::new(9)).expect("valid");
        let b = expand("{alnum:40}", &mut KeyRng::new(9)).expect("valid");
        assert_eq!(a, b);
    }
}
