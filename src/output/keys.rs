//! What `keys` and `run` show: the key table (human and JSON), one line per `keys add`,
//! `check`, `forget` and replacement, the running commentary of a revocation (the key as
//! found, the manual steps, one line per check with the time to the next), its last line
//! with the next step — a command that works as printed — and the Enter watcher that
//! stops the wait on a terminal.

use crate::core::provider::{ProviderId, RemoteKey};
use crate::core::registry::policy::age_days;
use crate::core::registry::{KeyRecord, Registry};
use crate::core::secret::Liveness;
use crate::ops::key_source::{KeySource, ResolvedKey};
use crate::ops::keys::{AddReport, AddVerdict, CheckReport, ForgetReport};
use crate::ops::replace::ReplaceReport;
use crate::ops::revoke::{FinalCheck, NextStep, RevokeEvent, RevokeReport};
use crate::ops::Reporter;
use chrono::{DateTime, Utc};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// `added openai-prod: OpenAI key sk-proj-Ab…Yz9Q (live) in …; `keywarden run` sets …`.
pub fn added(report: &AddReport) -> String {
    let verdict = match &report.verdict {
        AddVerdict::Live { restricted: false } => "live".to_string(),
        AddVerdict::Live { restricted: true } => "live (restricted)".to_string(),
        AddVerdict::Unverified => "unverified".to_string(),
        AddVerdict::CannotVerify => format!("{} keys cannot be verified", report.provider.name()),
        AddVerdict::NotVerified => "not verified".to_string(),
    };
    let mut line = format!(
        "{} {}: {} key {} ({verdict}) in {}; `keywarden run` sets {}",
        if report.replaced { "replaced" } else { "added" },
        report.name,
        report.provider.name(),
        report.redacted,
        report.store.describe(),
        report.env_var
    );
    if let Some(remote) = &report.located {
        line.push_str(&format!(
            "\n  at {}: {}",
            report.provider.name(),
            remote.describe()
        ));
    }
    line
}

/// `forgot openai-prod (sk-…), removed from …; it stays valid at openai until …`.
pub fn forgot(report: &ForgetReport) -> String {
    format!(
        "forgot {} ({}){}; it stays valid at {} until it is revoked there",
        report.record.name,
        report.record.redacted,
        if report.removed_from_keyring {
            format!(", removed from {}", report.store.describe())
        } else {
            " (it was not in the keyring)".to_string()
        },
        report.record.provider
    )
}

/// `openai-prod is dead: invalid_api_key…` / `… is live: accepted` / `… is unknown: …`.
pub fn checked(report: &CheckReport) -> String {
    let mut line = format!(
        "{} is {}: {}",
        report.label,
        report.answer.liveness.as_str(),
        report.answer.reason
    );
    if report.recorded_revoked {
        line.push_str(" (recorded as revoked)");
    }
    line
}

/// The command that checks this key again, exactly as it can be typed.
pub fn check_command(resolved: &ResolvedKey) -> String {
    match (&resolved.name, &resolved.source) {
        (Some(name), _) => format!("`keywarden keys check {name}`"),
        (None, KeySource::Finding { fingerprint, .. }) => {
            format!("`keywarden keys check --finding {fingerprint}`")
        }
        (None, _) => format!(
            "`keywarden keys check --secret-stdin --provider {}` (with the key on stdin)",
            resolved.provider
        ),
    }
}

/// The line after a replacement.
pub fn replaced(report: &ReplaceReport) -> String {
    match &report.created {
        Some(created) => format!(
            "created {} {}: {}; stored as {} (`keywarden run` sets {})",
            created.name, report.redacted, created.detail, report.name, report.env_var
        ),
        None => format!(
            "replaced {} with {} ({}); `keywarden run` sets {}",
            report.name,
            report.redacted,
            report.verification.liveness.as_str(),
            report.env_var
        ),
    }
}

/// The last line of a revocation and whether the command succeeded: dead is done; still
/// live or unknown says how to check again.
pub fn revoke_result(report: &RevokeReport, resolved: &ResolvedKey) -> (String, bool) {
    let label = resolved.label();
    match (&report.final_check, report.next_step()) {
        (FinalCheck::Checked { answer, .. }, NextStep::Nothing) => {
            (format!("{label} is dead: {}", answer.reason), true)
        }
        (FinalCheck::Checked { answer, .. }, _) => (
            format!(
                "{label} is still {} ({}); check again with {} or at the provider",
                answer.liveness.as_str(),
                answer.reason,
                check_command(resolved)
            ),
            false,
        ),
        (FinalCheck::CannotCheck, _) => (
            format!(
                "{} cannot tell whether {label} still works; check it at the provider",
                report.provider.name()
            ),
            true,
        ),
        (FinalCheck::NotChecked, _) => (
            format!(
                "{label} was not checked; check it with {}",
                check_command(resolved)
            ),
            true,
        ),
    }
}

/// Shows a revocation's events: results on stdout, progress as `keywarden:` lines.
pub struct RevokeView<'a> {
    pub provider: ProviderId,
    pub reporter: &'a dyn Reporter,
}

impl RevokeView<'_> {
    pub fn show(&self, event: RevokeEvent<'_>) {
        let name = self.provider.name();
        let mut out = crate::output::stdout();
        // A closed stdout must not stop a revocation half-way.
        let _ = match event {
            RevokeEvent::LookingUp { via } => {
                self.reporter
                    .status(&format!("looking the key up with {via}"));
                Ok(())
            }
            RevokeEvent::Located(remote) => located(&mut out, remote),
            RevokeEvent::NotLocated { reason } => {
                self.reporter.warn(&reason);
                Ok(())
            }
            RevokeEvent::Revoked { detail } => writeln!(out, "{name}: {detail}"),
            RevokeEvent::Manual { steps, admin_hint } => {
                let hint = admin_hint
                    .map(|var| format!(" (or set {var} to let keywarden do it)"))
                    .unwrap_or_default();
                let mut result = writeln!(out, "{name} keys are revoked by hand{hint}:");
                for (i, step) in steps.steps.iter().enumerate() {
                    result = result.and_then(|()| writeln!(out, "  {}. {step}", i + 1));
                }
                result.and_then(|()| out.flush())
            }
            RevokeEvent::PageOpened { page, result } => {
                match result {
                    Ok(()) => self
                        .reporter
                        .status(&format!("opened {page} in the browser")),
                    Err(err) => self.reporter.status(&format!(
                        "could not open a browser ({err}); open {page} yourself"
                    )),
                }
                Ok(())
            }
            RevokeEvent::PageNotOpened { page } => {
                self.reporter
                    .status(&format!("pass --open to open {page} in the browser"));
                Ok(())
            }
            RevokeEvent::Waiting { stoppable } => {
                self.reporter.status(&format!(
                    "checking with {name} until the key is dead{}",
                    if stoppable {
                        " (press Enter to stop)"
                    } else {
                        ""
                    }
                ));
                Ok(())
            }
            RevokeEvent::Check {
                number,
                max,
                answer,
                next_in,
            } => {
                let of = max.map(|m| format!("/{m}")).unwrap_or_default();
                let state = match answer.liveness {
                    Liveness::Dead => "dead".to_string(),
                    other => format!("still {}", other.as_str()),
                };
                let next = next_in
                    .map(|wait| format!(" — next check in {}", seconds(wait)))
                    .unwrap_or_default();
                self.reporter.status(&format!(
                    "check {number}{of}: {state} ({}){next}",
                    answer.reason
                ));
                Ok(())
            }
            RevokeEvent::CannotCheck => {
                self.reporter.status(&format!(
                    "{name} cannot tell whether this key still works; check it at the provider"
                ));
                Ok(())
            }
        };
    }
}

fn located(out: &mut dyn Write, remote: &RemoteKey) -> std::io::Result<()> {
    writeln!(out, "{}", remote.describe())?;
    writeln!(out, "  owner:     {}", remote.owner.describe())?;
    writeln!(out, "  created:   {}", format_time(remote.created))?;
    writeln!(out, "  last used: {}", format_time(remote.last_used))?;
    out.flush()
}

fn seconds(wait: Duration) -> String {
    if wait < Duration::from_secs(1) {
        format!("{} ms", wait.as_millis())
    } else {
        format!("{} s", wait.as_secs())
    }
}

/// Enter on a terminal stops a wait. stdin is only watched from the first question on
/// (`pressed`), so that the prompts before the wait (a confirmation, a hidden key) still
/// get their answers; the watching thread blocks on stdin and ends with the process.
#[derive(Debug, Default)]
pub struct StopOnEnter {
    flag: OnceLock<Arc<AtomicBool>>,
}

impl StopOnEnter {
    /// Whether Enter has been pressed since the first call.
    pub fn pressed(&self) -> bool {
        self.flag
            .get_or_init(|| {
                let flag = Arc::new(AtomicBool::new(false));
                let set = Arc::clone(&flag);
                std::thread::spawn(move || {
                    let mut line = String::new();
                    if std::io::stdin().read_line(&mut line).is_ok() {
                        set.store(true, Ordering::Relaxed);
                    }
                });
                flag
            })
            .load(Ordering::Relaxed)
    }
}

/// The key table.
pub fn list_human(
    registry: &Registry,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if registry.keys.is_empty() {
        return writeln!(
            out,
            "no keys registered (add one with `keywarden keys add NAME`, or `keywarden keys add NAME --provider P` when its shape does not tell)"
        );
    }
    let header = [
        "NAME", "PROVIDER", "VARIABLE", "KEY", "AGE", "STATE", "USED IN",
    ];
    let rows: Vec<[String; 7]> = registry
        .keys
        .iter()
        .map(|k| {
            [
                k.name.clone(),
                k.provider.to_string(),
                k.env_var.clone(),
                k.redacted.clone(),
                format_age(age_days(k.born(), now)),
                state(k),
                if k.locations.is_empty() {
                    "-".to_string()
                } else {
                    k.locations
                        .iter()
                        .map(|l| l.path.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < cells.len() {
                text.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        text
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// `revoked 2026-01-02` / `rotated 2026-01-02` / `-`.
fn state(record: &KeyRecord) -> String {
    if let Some(revoked) = &record.revoked {
        return format!("revoked {}", revoked.at.format("%Y-%m-%d"));
    }
    match record.last_rotated {
        Some(at) => format!("rotated {}", at.format("%Y-%m-%d")),
        None => "-".to_string(),
    }
}

/// The key table as JSON: every field of the registry, and the age.
pub fn list_json(
    registry: &Registry,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let rows: Vec<serde_json::Value> = registry
        .keys
        .iter()
        .map(|k| {
            serde_json::json!({
                "name": k.name,
                "provider": k.provider,
                "env_var": k.env_var,
                "redacted": k.redacted,
                "fingerprint": k.fingerprint,
                "created": k.created,
                "added": k.added,
                "age_days": age_days(k.born(), now),
                "last_rotated": k.last_rotated,
                "last_used": k.last_used,
                "remote_id": k.remote_id,
                "revoked": k.revoked,
                "locations": k.locations,
                "in_keyring": k.in_keyring,
                "pending_revocation": k.pending_revocation,
                "retired": k.retired,
            })
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &rows)?;
    writeln!(out)
}

fn format_age(days: i64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

fn format_time(time: Option<DateTime<Utc>>) -> String {
    time.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(format_age(0), "today");
        assert_eq!(format_age(1), "1 day");
        assert_eq!(format_age(40), "40 days");
        assert_eq!(seconds(Duration::from_millis(10)), "10 ms");
        assert_eq!(seconds(Duration::from_secs(5)), "5 s");
    }
}
