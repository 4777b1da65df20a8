//! Key names and arguments: what the registry accepts as a name, and the guard that
//! refuses a key pasted onto the command line (shell history and `ps` would keep it).

use anyhow::bail;

/// The refusal for a key on the command line. It never repeats the argument.
pub const ARGV_KEY: &str = "keys are never taken from the command line (shell history and `ps` \
would keep them): pipe the key on stdin (`keywarden keys add NAME --provider P < key.txt`) or \
run without it to get a hidden prompt";

/// Whether a command-line argument is probably a key pasted in the wrong place.
pub fn looks_like_secret(arg: &str) -> bool {
    if arg.len() < 16 {
        return false;
    }
    let rules = crate::core::rules::RuleSet::builtin();
    let hit = rules
        .ok()
        .and_then(|rules| crate::core::scan::Scanner::new(&rules, Vec::new()).ok())
        .is_some_and(|scanner| !scanner.scan(arg.as_bytes()).is_empty());
    hit || (arg.len() >= 24 && crate::core::entropy::shannon(arg.as_bytes()) >= 4.0)
}

/// Checks a key name from the command line. A name that looks like a key is refused
/// without being repeated (it is probably a key pasted in the wrong place).
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    if looks_like_secret(name) {
        bail!(ARGV_KEY);
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with(['-', '.']);
    if !ok {
        bail!("invalid key name `{name}`: use up to 64 letters, digits, `-`, `_` and `.`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("openai-prod_2.x").is_ok());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a b").is_err());
    }

    #[test]
    fn secret_looking_arguments_are_spotted() {
        assert!(!looks_like_secret("openai-prod"));
        assert!(!looks_like_secret("my-service-account-name"));
        let body: String = (0..40)
            .map(|i| (b"aZ3kQ9xPm2Lw7RtY"[(i * 7) % 16]) as char)
            .collect();
        assert!(looks_like_secret(&format!("ghp_{}", &body[..36])));
    }
}
