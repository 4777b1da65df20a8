//! What `status` says: one line per hook, the global hooks directory, `.gitignore`
//! coverage, env files in git (committed or only staged, each with what to do), and the
//! registry's keys with their ages.

use super::hook::provider_name;
use super::style::Style;
use super::text::{plural, shell_line};
use crate::core::hooks::Layout;
use crate::ops::status::{GitignoreStatus, KeysStatus, StatusReport};
use std::io::Write;

pub fn render_status(
    report: &StatusReport,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    let location = &report.location;
    let layout = match &location.layout {
        Layout::Default => String::new(),
        Layout::HooksPath(value) => format!(" (core.hooksPath = {value})"),
        Layout::Husky { husky_dir } => format!(" (Husky: scripts in {})", husky_dir.display()),
    };
    writeln!(out, "hooks: {}{layout}", location.dir.display())?;
    let ok = style.green("✓");
    let missing = style.yellow("✗");
    for (hook, state) in &report.hooks {
        let name = hook.as_str();
        if state.installed {
            match &state.chained {
                Some(chained) => writeln!(
                    out,
                    "  {ok} {name}: installed, chains {}",
                    chained.display()
                )?,
                None => writeln!(out, "  {ok} {name}: installed")?,
            }
        } else if state.foreign {
            writeln!(
                out,
                "  {missing} {name}: another hook is there; `keywarden install` chains it"
            )?;
        } else {
            writeln!(out, "  {missing} {name}: not installed")?;
        }
    }
    if let Some(global) = &report.global_hooks_dir {
        writeln!(out, "global hooks: {}", global.display())?;
    }

    match &report.gitignore {
        GitignoreStatus::Bare => writeln!(out, ".gitignore: (bare repository)")?,
        GitignoreStatus::Covered => writeln!(out, ".gitignore: {ok} covers env files")?,
        GitignoreStatus::Gaps(gaps) => writeln!(
            out,
            ".gitignore: {missing} not in effect: {} (`keywarden install --gitignore-only` fixes it)",
            gaps.join(" ")
        )?,
    }
    let env = &report.env_files;
    if env.is_empty() {
        writeln!(out, "tracked env files: {ok} none")?;
    }
    if !env.committed.is_empty() {
        writeln!(
            out,
            "tracked env files: {missing} {} (`keywarden install --untrack`; their keys are in history: `keywarden incident`)",
            env.committed.join(", ")
        )?;
    }
    if let Some(unstage) = &env.unstage {
        writeln!(
            out,
            "staged env files: {missing} {} (staged, not committed: `{}` keeps {} out)",
            env.staged.join(", "),
            shell_line(&unstage.0),
            if env.staged.len() == 1 { "it" } else { "them" }
        )?;
    }

    match &report.keys {
        KeysStatus::Unreadable(why) => writeln!(out, "registry: {missing} {why}")?,
        KeysStatus::Known(keys) if keys.is_empty() => writeln!(out, "registry: no keys")?,
        KeysStatus::Known(keys) => {
            writeln!(out, "registry: {}", plural(keys.len(), "key", "keys"))?;
            for key in keys {
                writeln!(
                    out,
                    "  {}  {}  {}  {}",
                    key.name,
                    provider_name(&key.provider),
                    style.yellow(&key.redacted),
                    style.dim(&format!(
                        "{} old (since {})",
                        plural(key.age_days.max(0) as usize, "day", "days"),
                        key.born.format("%Y-%m-%d")
                    ))
                )?;
            }
        }
    }
    match &report.unfinished_purge {
        Ok(Some(purge)) => writeln!(
            out,
            "purge: {missing} unfinished (started {}, stopped before {}): `{}` finishes it, `keywarden purge --abort` undoes it",
            purge.started,
            purge.phase.describe(),
            purge.resume
        )?,
        Ok(None) => {}
        Err(problem) => writeln!(out, "purge: {missing} {problem}")?,
    }
    match &report.open_incident {
        Ok(Some(open)) => writeln!(
            out,
            "incident: {missing} {}",
            super::incident::status_lines(std::slice::from_ref(open)).join("")
        )?,
        Ok(None) => {}
        Err(problem) => writeln!(out, "incident: {missing} {problem}")?,
    }
    if matches!(report.keys, KeysStatus::Known(_)) {
        super::rotate::used_here(&report.used_here, report.now, style, out)?;
    }
    Ok(())
}
