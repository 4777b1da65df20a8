//! Progress bars on stderr, one per phase, shown only on a terminal; with `verbose` each
//! phase's duration is printed when it ends. A phase with no known total is a spinner
//! that counts and shows a whole-number rate.

use crate::core::progress::Progress;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

pub struct Bars {
    visible: bool,
    verbose: bool,
    bar: Mutex<Option<ProgressBar>>,
    current: Mutex<Option<(String, Instant)>>,
}

impl Bars {
    pub fn new(visible: bool, verbose: bool) -> Self {
        Bars {
            visible,
            verbose,
            bar: Mutex::new(None),
            current: Mutex::new(None),
        }
    }

    /// Ends the current phase: clears its bar and, with `verbose`, says how long it took.
    pub fn end_phase(&self) {
        if let Some(bar) = self
            .bar
            .lock()
            .expect("no thread panics holding the bar")
            .take()
        {
            bar.finish_and_clear();
        }
        let ended = self
            .current
            .lock()
            .expect("no thread panics holding the phase")
            .take();
        if let Some((name, started)) = ended {
            if self.verbose {
                let _ = writeln!(
                    std::io::stderr(),
                    "keywarden:   {name}: {:.2} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
}

/// `1234/s`, not indicatif's `1,234.5678/s`.
fn whole_rate(state: &ProgressState, out: &mut dyn std::fmt::Write) {
    let _ = write!(out, "{:.0}/s", state.per_sec());
}

impl Progress for Bars {
    fn phase(&self, name: &str, total: u64) {
        self.end_phase();
        *self
            .current
            .lock()
            .expect("no thread panics holding the phase") =
            Some((name.to_string(), Instant::now()));
        if !self.visible {
            return;
        }
        let (bar, template) = if total == 0 {
            (
                ProgressBar::new_spinner(),
                format!("{{spinner}} {name}: {{pos}} ({{rate}}) {{elapsed}}"),
            )
        } else {
            (
                ProgressBar::new(total),
                format!("{{spinner}} {name} {{pos}}/{{len}} [{{bar:30}}] {{eta}}"),
            )
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.with_key("rate", whole_rate).progress_chars("=> "));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        *self.bar.lock().expect("no thread panics holding the bar") = Some(bar);
    }

    fn inc(&self, n: u64) {
        if let Some(bar) = self
            .bar
            .lock()
            .expect("no thread panics holding the bar")
            .as_ref()
        {
            bar.inc(n);
        }
    }
}
