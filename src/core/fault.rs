//! Test-only fault points: `KEYWARDEN_FAULT=<name>` makes the process exit abruptly (no
//! clean-up, no journal update, exit code 86) when it reaches the point of that name, so that
//! tests can prove a multi-step write survives being killed there; `KEYWARDEN_FAULT=
//! sigint:<name>` sends the process a SIGINT there instead (as a person pressing Ctrl-C at
//! that moment). Inert unless armed; armed once per process from the captured environment.

use std::sync::OnceLock;

static ARMED: OnceLock<Option<String>> = OnceLock::new();

/// The exit code of an injected fault.
pub const FAULT_EXIT: i32 = 86;

/// Arms the point named by `KEYWARDEN_FAULT` (once; later calls are ignored).
pub fn arm(name: Option<&str>) {
    let _ = ARMED.set(
        name.map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
    );
}

/// Exits at once when `name` is the armed point (or raises SIGINT, armed as `sigint:name`).
pub fn point(name: &str) {
    let Some(armed) = ARMED.get().and_then(|armed| armed.as_deref()) else {
        return;
    };
    if armed == name {
        // Straight to the exit: nothing after this point may run, as after a SIGKILL.
        std::process::exit(FAULT_EXIT);
    }
    #[cfg(unix)]
    if armed.strip_prefix("sigint:") == Some(name) {
        let _ = signal_hook::low_level::raise(signal_hook::consts::SIGINT);
    }
}
