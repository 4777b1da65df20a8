//! Shannon entropy of a candidate secret: random keys score high, words and repeated
//! characters score low, which is how placeholders and identifiers are told from keys.

/// Bits per character of `s` (0.0 for an empty string).
pub fn shannon(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let len = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::shannon;

    #[test]
    fn repeated_characters_have_no_entropy() {
        assert_eq!(shannon(b"aaaaaaaa"), 0.0);
    }

    #[test]
    fn two_symbols_give_one_bit() {
        assert!((shannon(b"abab") - 1.0).abs() < 1e-9);
    }

    #[test]
    fn random_looking_text_scores_high() {
        assert!(shannon(b"q8Zr3LmX0aTf7KpW2vNc9YbE") > 4.0);
    }
}
