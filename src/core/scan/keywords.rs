//! The keyword search that decides which rules run: every keyword found, in passes of at
//! most 64 keywords each, so that each pass can use the SIMD packed searcher (Teddy).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Aho-Corasick uses Teddy as its prefilter for up to 64 patterns; past that it falls back
/// to a scalar automaton, which was three times slower over source code with 109 keywords
/// (0.77 s against 0.25 s of CPU over 179 MB). Teddy forced past its limit is slower still.
const PASS_LIMIT: usize = 64;

pub(super) struct KeywordSearch {
    /// Each pass and, for each of its patterns, the keyword's index in the caller's list.
    passes: Vec<(AhoCorasick, Vec<usize>)>,
}

impl KeywordSearch {
    /// Leftmost-longest, non-overlapping within a pass: a keyword inside a longer one may
    /// not be reported on its own (the caller maps each keyword to the rules of those it
    /// contains).
    pub(super) fn new(keywords: &[String]) -> Result<Self, aho_corasick::BuildError> {
        // Teddy compares the first min(4, shortest keyword) bytes: one 2- or 3-byte keyword
        // makes a pass stop at far more places, so the short ones get passes of their own.
        let (long, short): (Vec<usize>, Vec<usize>) =
            (0..keywords.len()).partition(|&i| keywords[i].len() >= 4);
        let mut passes = Vec::new();
        for group in [long, short] {
            if group.is_empty() {
                continue;
            }
            let count = group.len().div_ceil(PASS_LIMIT);
            for chunk in group.chunks(group.len().div_ceil(count)) {
                let automaton = AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    // The DFA searches about 3× faster than the default NFA here (measured
                    // on source code dense with `key`/`token`) and builds in well under a
                    // millisecond.
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(chunk.iter().map(|&i| &keywords[i]))?;
                passes.push((automaton, chunk.to_vec()));
            }
        }
        if passes.is_empty() {
            let none: [&str; 0] = [];
            passes.push((AhoCorasick::new(none)?, Vec::new()));
        }
        Ok(KeywordSearch { passes })
    }

    /// Whether hits come in order of position (one pass) or pass by pass.
    pub(super) fn hits_in_order(&self) -> bool {
        self.passes.len() <= 1
    }

    /// Calls `hit(keyword index, start)` for every keyword found.
    pub(super) fn for_each_hit(&self, data: &[u8], mut hit: impl FnMut(usize, usize)) {
        for (automaton, keywords) in &self.passes {
            for m in automaton.find_iter(data) {
                hit(keywords[m.pattern().as_usize()], m.start());
            }
        }
    }
}
