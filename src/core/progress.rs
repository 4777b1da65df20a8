//! How long-running core work (a history rewrite, a scan) reports progress without knowing
//! how it is shown: the caller passes something that implements [`Progress`] (a bar on a
//! terminal, a log, or [`Silent`]). A leaf: it imports nothing.

/// Progress in named phases, each with a total (0 when unknown) that `inc` counts towards.
/// `Sync` because workers report from their own threads.
pub trait Progress: Sync {
    fn phase(&self, name: &str, total: u64);
    fn inc(&self, n: u64);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn phase(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
}
