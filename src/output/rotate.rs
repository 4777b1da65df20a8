//! What `rotate`, `keys import`, the reminder hooks and `status` show about rotation: the
//! plan as one redacted diff, the outcome of a rotation and of its revocation, the keys due
//! (human and JSON, for `rotate --check`), the hooks' one-line reminder, the keys a
//! repository uses, an import's lines, and the schedule (crontab, systemd, launchd) that
//! runs the check. Every command it prints works as printed.

use super::diff::unified_diff;
use super::style::Style;
use crate::core::secret::{Liveness, Secret};
use crate::core::shell;
use crate::core::walk::display_path;
use crate::ops::due::{Attention, KeyStatus};
use crate::ops::edits::EditPlan;
use crate::ops::inventory::{ImportReport, Registered};
use crate::ops::revoke::NextStep;
use crate::ops::rotate::{Aborted, FinishReport, OldKey};
use crate::ops::swap::{AbortReport, Retire, SwapReport};
use chrono::{DateTime, Utc};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What stands for a key the provider's API has not made yet.
const NEW_KEY: &str = "<new key>";

fn day(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d").to_string()
}

fn moment(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn shown(path: &Path, cwd: &Path) -> String {
    display_path(path, cwd)
}

fn list(paths: &[PathBuf], cwd: &Path) -> String {
    paths
        .iter()
        .map(|p| shown(p, cwd))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every edit of a plan as one unified diff with both keys redacted (a key the API has not
/// made yet shown as `<new key>`), then its warnings and the files left out.
pub fn plan(
    plan: &EditPlan,
    old: &Secret,
    new: &Secret,
    placeholder: bool,
    cwd: &Path,
    style: &Style,
) -> String {
    let mut out = String::new();
    if plan.edits.is_empty() {
        out.push_str("no file holds the old key: only the keyring changes\n");
    }
    for edit in &plan.edits {
        let mut view = edit.redacted(old, new);
        if placeholder {
            let stand_in = new.redacted();
            view.before = view.before.replace(&stand_in, NEW_KEY);
            view.after = view.after.replace(&stand_in, NEW_KEY);
        }
        out.push_str(&unified_diff(
            &shown(&edit.path, cwd),
            &view.before,
            &view.after,
            style,
        ));
    }
    for (path, warning) in plan.warnings() {
        out.push_str(&format!(
            "{} {}: {warning}\n",
            style.yellow("warning:"),
            shown(path, cwd)
        ));
    }
    for path in &plan.skipped {
        out.push_str(&format!(
            "left out (gone or not writable): {}\n",
            shown(path, cwd)
        ));
    }
    out
}

/// Where the new key came from, in a few words.
fn origin(report: &SwapReport) -> String {
    if let Some(origin) = &report.would_come_from {
        return origin.clone();
    }
    match (&report.created, &report.verification) {
        (Some(created), _) => created.detail.clone(),
        (None, Some(check)) if check.liveness == Liveness::Live => {
            "the key you gave, live".to_string()
        }
        (None, Some(_)) => "the key you gave, not verified".to_string(),
        (None, None) => format!("a new key made by {}", report.provider.name()),
    }
}

/// The lines after a swap (or a dry run of one).
pub fn swapped(report: &SwapReport, cwd: &Path, now: DateTime<Utc>) -> Vec<String> {
    let files = if report.written.is_empty() {
        "no file".to_string()
    } else {
        format!(
            "{} file{} ({})",
            report.written.len(),
            if report.written.len() == 1 { "" } else { "s" },
            list(&report.written, cwd)
        )
    };
    let new = report
        .new
        .as_ref()
        .map_or(NEW_KEY.to_string(), |n| n.redacted.clone());
    if report.dry_run {
        let revocation = match &report.retire {
            Retire::Pending { not_before } if *not_before <= now => {
                format!("revoke the old key {} right after", report.old.redacted)
            }
            Retire::Pending { not_before } => format!(
                "revoke the old key {} at {}",
                report.old.redacted,
                moment(*not_before)
            ),
            Retire::Revoked(_) => "record the old key as revoked".to_string(),
        };
        return vec![format!(
            "dry run: {} would be replaced by {new} ({}) in {files}, the keyring updated, and keywarden would {revocation}; nothing was changed",
            report.name,
            origin(report)
        )];
    }
    let mut lines = vec![format!(
        "rotated {}: {} → {new} ({}); {files} updated; `keywarden run` sets {}",
        report.name,
        report.old.redacted,
        origin(report),
        report.env_var
    )];
    if !report.skipped.is_empty() {
        lines.push(format!(
            "left out: {} (gone or not writable; put the new key there yourself)",
            list(&report.skipped, cwd)
        ));
    }
    lines
}

/// What became of the old key, and whether the command succeeded (`false`: it still
/// works and the person has something left to do). A failed revocation is an error the
/// command reports itself.
pub fn old_key(name: &str, old_redacted: &str, outcome: &OldKey) -> Option<(String, bool)> {
    match outcome {
        OldKey::NotTouched | OldKey::Failed(_) => None,
        OldKey::Pending { until } => Some((
            format!(
                "the old key {old_redacted} keeps working until {}; then `keywarden rotate --finish {name}` revokes it (`keywarden rotate --check` and the hooks remind you)",
                moment(*until)
            ),
            true,
        )),
        OldKey::Revocation(finish) => Some(finished(finish)),
    }
}

/// The line after a revocation of an old key, and whether it is done.
pub fn finished(report: &FinishReport) -> (String, bool) {
    if report.done {
        (
            format!(
                "the old key {} of {} is revoked",
                report.old.redacted, report.name
            ),
            true,
        )
    } else if report.report.next_step() == NextStep::CheckAtProvider {
        (
            format!(
                "the old key {} of {name} cannot be checked with its provider: revoke it there, then `keywarden rotate --finish {name}` on a terminal records it (`keywarden rotate {name} --abort` stops the reminders instead)",
                report.old.redacted,
                name = report.name
            ),
            false,
        )
    } else {
        (
            format!(
                "the old key {} of {} is not confirmed revoked yet; `keywarden rotate --finish {}` checks again",
                report.old.redacted, report.name, report.name
            ),
            false,
        )
    }
}

/// The lines after `rotate NAME --abort`.
pub fn aborted(aborted: &Aborted, cwd: &Path) -> Vec<String> {
    match aborted {
        Aborted::Rotation(AbortReport {
            name,
            restored,
            created,
            provider,
            new,
        }) => {
            let mut lines = vec![format!(
                "the rotation of {name} is undone{}; {name} keeps its old key",
                if restored.is_empty() {
                    String::new()
                } else {
                    format!(" ({} put back)", list(restored, cwd))
                }
            )];
            if let Some(created) = created {
                lines.push(format!(
                    "{} made a key for it that still works: {} ({}{}); delete it at the provider",
                    provider.name(),
                    created.id,
                    created.detail,
                    new.as_ref()
                        .map(|n| format!(", {}", n.redacted))
                        .unwrap_or_default()
                ));
            }
            lines
        }
        Aborted::PendingRevocation { name, old } => vec![format!(
            "{name}: the revocation of the old key {} is dropped; it still works at the provider unless you revoked it there",
            old.redacted
        )],
    }
}

fn rotate_command(name: &str) -> String {
    format!("keywarden rotate {name}")
}

fn finish_command(name: &str) -> String {
    format!("keywarden rotate --finish {name}")
}

/// `rotate --check` for people: the keys due, the old keys still to be revoked.
pub fn check_human(
    attention: &Attention,
    checked: usize,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if attention.due.is_empty() && attention.revocations.is_empty() {
        return writeln!(
            out,
            "no key is due for rotation ({checked} key{} checked)",
            if checked == 1 { "" } else { "s" }
        );
    }
    if !attention.due.is_empty() {
        writeln!(out, "due for rotation:")?;
        for key in &attention.due {
            writeln!(
                out,
                "  {} ({}, {}): {} days old, due since {} (max {} days): `{}`",
                key.name,
                key.env_var,
                key.redacted,
                key.standing.age_days,
                day(key.standing.due_at),
                key.standing.max_age_days,
                rotate_command(&key.name)
            )?;
        }
    }
    if !attention.revocations.is_empty() {
        writeln!(out, "old keys still to be revoked:")?;
        for key in &attention.revocations {
            let Some(pending) = &key.pending else {
                continue;
            };
            if pending.is_overdue(now) {
                let why = if pending.not_before > pending.replaced {
                    format!("grace period over since {}", moment(pending.not_before))
                } else {
                    "not confirmed revoked".to_string()
                };
                writeln!(
                    out,
                    "  {} ({}): replaced {}, {why}: `{}`",
                    key.name,
                    pending.redacted,
                    day(pending.replaced),
                    finish_command(&key.name)
                )?;
            } else {
                writeln!(
                    out,
                    "  {} ({}): grace period until {} (not due yet)",
                    key.name,
                    pending.redacted,
                    moment(pending.not_before)
                )?;
            }
        }
    }
    Ok(())
}

/// `rotate --check --format json`.
pub fn check_json(
    attention: &Attention,
    checked: usize,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let due: Vec<serde_json::Value> = attention
        .due
        .iter()
        .map(|k| {
            serde_json::json!({
                "name": k.name,
                "provider": k.provider,
                "env_var": k.env_var,
                "redacted": k.redacted,
                "age_days": k.standing.age_days,
                "max_age_days": k.standing.max_age_days,
                "due_at": k.standing.due_at,
                "last_rotated": k.last_rotated,
                "command": rotate_command(&k.name),
            })
        })
        .collect();
    let revocations: Vec<serde_json::Value> = attention
        .revocations
        .iter()
        .filter_map(|k| {
            let pending = k.pending.as_ref()?;
            Some(serde_json::json!({
                "name": k.name,
                "redacted": pending.redacted,
                "fingerprint": pending.fingerprint,
                "replaced": pending.replaced,
                "not_before": pending.not_before,
                "overdue": pending.is_overdue(now),
                "command": finish_command(&k.name),
            }))
        })
        .collect();
    let value = serde_json::json!({
        "checked": checked,
        "due": due,
        "revocations": revocations,
        "any_due": attention.any(now),
    });
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

/// The hooks' reminder, one line: the key due and the command that rotates it, or — when
/// several things are due — each in a few words and `keywarden rotate --due`.
pub fn reminder(attention: &Attention, now: DateTime<Utc>) -> Option<String> {
    let due = attention.due.iter().map(|k| {
        format!(
            "{} ({}) is {} days old",
            k.env_var, k.name, k.standing.age_days
        )
    });
    let revocations = attention.overdue_revocations(now).map(|k| {
        format!(
            "the old key of {} ({}) is still to be revoked",
            k.name,
            k.pending
                .as_ref()
                .map(|p| p.redacted.as_str())
                .unwrap_or_default()
        )
    });
    let items: Vec<String> = due.chain(revocations).collect();
    match items.len() {
        0 => None,
        1 => {
            let command = match attention.due.first() {
                Some(key) => rotate_command(&key.name),
                None => attention
                    .overdue_revocations(now)
                    .next()
                    .map(|k| finish_command(&k.name))
                    .unwrap_or_default(),
            };
            Some(format!("{}: {command}", items[0]))
        }
        n => Some(format!(
            "{n} keys used here need attention ({}): keywarden rotate --due",
            items.join("; ")
        )),
    }
}

/// `status`: the keys this repository uses — age, last rotation, when due.
pub fn used_here(
    keys: &[KeyStatus],
    now: DateTime<Utc>,
    style: &Style,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if keys.is_empty() {
        return writeln!(
            out,
            "keys used here: none registered (`keywarden keys import` registers the keys in this repository's env files)"
        );
    }
    writeln!(out, "keys used here:")?;
    for key in keys {
        let rotated = key.last_rotated.map_or("never rotated".to_string(), |at| {
            format!("rotated {}", day(at))
        });
        let due = if key.standing.revoked {
            "revoked".to_string()
        } else if key.standing.due {
            style.yellow(&format!(
                "due since {}: `{}`",
                day(key.standing.due_at),
                rotate_command(&key.name)
            ))
        } else {
            format!(
                "due in {} days ({})",
                key.standing.days_left(now).max(1),
                day(key.standing.due_at)
            )
        };
        writeln!(
            out,
            "  {} ({}): {} days old, {rotated}, {due}",
            key.name, key.env_var, key.standing.age_days
        )?;
        if let Some(pending) = &key.pending {
            let when = if pending.is_overdue(now) {
                format!("now: `{}`", finish_command(&key.name))
            } else {
                format!("after {}", moment(pending.not_before))
            };
            writeln!(
                out,
                "    its old key {} is still to be revoked, {when}",
                pending.redacted
            )?;
        }
    }
    Ok(())
}

/// The lines of `keys import` (and of `install`, which registers the same way).
pub fn imported(report: &ImportReport, cwd: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for key in &report.keys {
        let where_ = format!("{} ({})", list(&key.paths, cwd), key.var);
        let kept = if key.moved {
            "; moved into the keyring"
        } else if key.in_keyring {
            "; in the keyring"
        } else {
            ""
        };
        lines.push(match key.registered {
            Registered::New => format!(
                "registered {}: {} key {} in {where_}{kept}",
                key.name,
                key.provider.name(),
                key.redacted
            ),
            Registered::NewLocations => format!(
                "known {}: {} is also in {where_}{kept}",
                key.name, key.redacted
            ),
            Registered::Unchanged => {
                format!("known {}: {} in {where_}{kept}", key.name, key.redacted)
            }
        });
    }
    for (path, var) in &report.not_moved {
        lines.push(format!(
            "left in place: {var} in {} holds the key inside a longer value",
            shown(path, cwd)
        ));
    }
    if !report.emptied.is_empty() {
        lines.push(format!(
            "emptied the values in {}; `keywarden run -- CMD` supplies the keys",
            list(&report.emptied, cwd)
        ));
    }
    lines
}

/// What `install` says of the keys it found in env files and did not know yet.
pub fn tracked_on_install(report: &ImportReport, cwd: &Path, style: &Style) -> Vec<String> {
    report
        .keys
        .iter()
        .filter(|k| k.registered != Registered::Unchanged)
        .map(|k| {
            format!(
                "{} {} key {} in {} ({}): tracked for rotation as {} (`keywarden keys import --move` moves it into the keyring)",
                style.green("✓"),
                k.provider.name(),
                k.redacted,
                list(&k.paths, cwd),
                k.var,
                k.name
            )
        })
        .collect()
}

/// How often the schedule runs the check.
const DAILY_AT: (u32, u32) = (9, 0);

/// A crontab line, a systemd user service and timer, and (on macOS) a launchd agent, each
/// running `<binary> rotate --check` once a day with the settings that find the registry
/// (`env`, such as `KEYWARDEN_HOME`). `config_dir`: the user's configuration directory
/// (`$XDG_CONFIG_HOME`), where systemd looks for user units.
pub fn schedule(
    binary: &Path,
    env: &[(&str, String)],
    config_dir: &Path,
    home: Option<&Path>,
    macos: bool,
) -> String {
    let (hour, minute) = DAILY_AT;
    let bin = binary.display().to_string();
    let quoted = shell::word(&bin);
    let assignments: String = env
        .iter()
        .map(|(var, value)| format!("{var}={} ", shell::word(value)))
        .collect();
    let mut out = String::new();
    out.push_str(&format!(
        "# cron (`crontab -e`): every day at {hour:02}:{minute:02}; cron mails what it prints when a key is due\n"
    ));
    out.push_str(&format!(
        "{minute} {hour} * * * {assignments}{quoted} rotate --check\n\n"
    ));
    let units = config_dir.join("systemd/user");
    let service = units.join("keywarden-rotate-check.service");
    let timer = units.join("keywarden-rotate-check.timer");
    out.push_str(&format!(
        "# systemd: save as {}, then `systemctl --user daemon-reload && systemctl --user enable --now keywarden-rotate-check.timer`;\n# a due key shows as a failed run in `systemctl --user status keywarden-rotate-check`\n",
        service.display()
    ));
    out.push_str("[Unit]\nDescription=keywarden: list the keys due for rotation\n\n[Service]\nType=oneshot\n");
    for (var, value) in env {
        out.push_str(&format!(
            "Environment={}\n",
            systemd_quote(&format!("{var}={value}"))
        ));
    }
    out.push_str(&format!(
        "ExecStart={} rotate --check\n\n",
        systemd_quote(&bin)
    ));
    out.push_str(&format!("# and as {}:\n", timer.display()));
    out.push_str(&format!(
        "[Unit]\nDescription=Run keywarden rotate --check every day\n\n[Timer]\nOnCalendar=*-*-* {hour:02}:{minute:02}:00\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"
    ));
    if macos {
        let agents = home
            .map(|h| h.join("Library/LaunchAgents"))
            .unwrap_or_else(|| PathBuf::from("~/Library/LaunchAgents"));
        let plist = agents.join("dev.keywarden.rotate-check.plist");
        out.push_str(&format!(
            "\n# launchd: save as {}, then `launchctl load {}`\n",
            plist.display(),
            plist.display()
        ));
        out.push_str(&launchd_plist(&bin, env, hour, minute));
    }
    out
}

fn launchd_plist(binary: &str, env: &[(&str, String)], hour: u32, minute: u32) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key>\n  <string>dev.keywarden.rotate-check</string>\n  <key>ProgramArguments</key>\n  <array>\n",
    );
    for arg in [binary, "rotate", "--check"] {
        out.push_str(&format!("    <string>{}</string>\n", xml_escape(arg)));
    }
    out.push_str("  </array>\n");
    if !env.is_empty() {
        out.push_str("  <key>EnvironmentVariables</key>\n  <dict>\n");
        for (var, value) in env {
            out.push_str(&format!(
                "    <key>{}</key>\n    <string>{}</string>\n",
                xml_escape(var),
                xml_escape(value)
            ));
        }
        out.push_str("  </dict>\n");
    }
    out.push_str(&format!(
        "  <key>StartCalendarInterval</key>\n  <dict>\n    <key>Hour</key>\n    <integer>{hour}</integer>\n    <key>Minute</key>\n    <integer>{minute}</integer>\n  </dict>\n</dict>\n</plist>\n"
    ));
    out
}

/// `text` for a POSIX shell: bare when it is plainly safe, else in single quotes.
/// A systemd unit value: in double quotes when it holds a space or a quote.
fn systemd_quote(text: &str) -> String {
    if text.contains([' ', '"', '\\', '\'']) {
        format!("\"{}\"", text.replace('\\', r"\\").replace('"', "\\\""))
    } else {
        text.to_string()
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_runs_the_check_with_the_absolute_binary_and_the_settings() {
        let text = schedule(
            Path::new("/opt/key warden/bin/keywarden"),
            &[("KEYWARDEN_HOME", "/data/kw".to_string())],
            Path::new("/home/u/.config"),
            Some(Path::new("/home/u")),
            true,
        );
        assert!(
            text.contains("0 9 * * * KEYWARDEN_HOME=/data/kw '/opt/key warden/bin/keywarden' rotate --check\n"),
            "{text}"
        );
        assert!(text.contains("ExecStart=\"/opt/key warden/bin/keywarden\" rotate --check\n"));
        assert!(text.contains("Environment=KEYWARDEN_HOME=/data/kw\n"));
        assert!(text.contains("/home/u/.config/systemd/user/keywarden-rotate-check.timer"));
        assert!(text.contains("OnCalendar=*-*-* 09:00:00"));
        assert!(text.contains("/home/u/Library/LaunchAgents/dev.keywarden.rotate-check.plist"));
        assert!(text.contains("<string>/opt/key warden/bin/keywarden</string>"));
        let linux = schedule(
            Path::new("/usr/bin/keywarden"),
            &[],
            Path::new("/c"),
            None,
            false,
        );
        assert!(!linux.contains("launchd"));
        assert!(linux.contains("0 9 * * * /usr/bin/keywarden rotate --check\n"));
    }
}
