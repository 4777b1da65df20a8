//! SIGINT and SIGTERM during a purge: instead of dying wherever it is, the process notes the
//! signal, finishes the step it is in (each step leaves the repository consistent, and the
//! journal says where it stopped) and stops before the next, so the purge can be resumed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static RECEIVED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// From now on SIGINT and SIGTERM only set a flag (once per process; later calls are no-ops).
pub fn catch() {
    RECEIVED.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        #[cfg(unix)]
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration only fails for forbidden signals, which these are not; without
            // it the signal simply keeps its default effect.
            let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
        }
        flag
    });
}

/// Whether a SIGINT or SIGTERM has arrived since `catch`.
pub fn received() -> bool {
    RECEIVED
        .get()
        .is_some_and(|flag| flag.load(Ordering::SeqCst))
}
