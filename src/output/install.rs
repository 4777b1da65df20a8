//! What `install` and `uninstall` say: where the hooks went and what happened to each,
//! the `.gitignore` change (shown as a diff before it is confirmed), `.env.example`, and
//! env files git has — committed ones (their keys are in history) apart from staged-only
//! ones, each with the command that deals with it.

use super::style::Style;
use super::text::shell_line;
use crate::core::gitignore::GitignorePlan;
use crate::core::hooks::{HookName, InstallAction, Layout, UninstallAction};
use crate::ops::install::{GitignoreOutcome, GlobalInstallReport, HooksReport, InstallReport};
use crate::ops::uninstall::UninstallReport;
use std::io::Write;

/// The `.gitignore` change as a unified diff, added lines green and removed ones red.
pub fn gitignore_preview(
    plan: &GitignorePlan,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    write!(
        out,
        "{}",
        super::diff::unified_diff(".gitignore", &plan.before, &plan.after, style)
    )
}

fn hooks_lines(report: &HooksReport, out: &mut dyn Write, style: &Style) -> std::io::Result<()> {
    let location = &report.location;
    let where_ = match &location.layout {
        Layout::Default => format!("{}", location.dir.display()),
        Layout::HooksPath(value) => {
            format!("{} (core.hooksPath = {value})", location.dir.display())
        }
        Layout::Husky { husky_dir } => format!("{} (Husky)", husky_dir.display()),
    };
    writeln!(out, "hooks: {where_}")?;
    for (hook, action) in &report.actions {
        writeln!(out, "{}", describe(*hook, action, style))?;
    }
    if location.shared {
        writeln!(
            out,
            "  (these files may be committed: they run keywarden from PATH, name no path on this"
        )?;
        writeln!(
            out,
            "  machine, and let a teammate without keywarden commit, with a one-line note)"
        )?;
    }
    Ok(())
}

fn describe(hook: HookName, action: &InstallAction, style: &Style) -> String {
    let name = hook.as_str();
    match action {
        InstallAction::Created => format!("{} {name}: installed", style.green("✓")),
        InstallAction::Chained { chained } => format!(
            "{} {name}: installed; the existing hook still runs, from {}",
            style.green("✓"),
            chained.display()
        ),
        InstallAction::AddedToScript => {
            format!("{} {name}: added to the existing script", style.green("✓"))
        }
        InstallAction::Updated => format!("{} {name}: updated", style.green("✓")),
        InstallAction::Unchanged => format!("{} {name}: already installed", style.green("✓")),
    }
}

pub fn render_install(
    report: &InstallReport,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    if let Some(hooks) = &report.hooks {
        hooks_lines(hooks, out, style)?;
    }
    if let GitignoreOutcome::Added(patterns) = &report.gitignore {
        writeln!(
            out,
            "{} .gitignore: added {}",
            style.green("✓"),
            patterns.join(" ")
        )?;
    }
    if report.env_example.is_some() {
        writeln!(
            out,
            "{} wrote .env.example from .env with the values removed",
            style.green("✓")
        )?;
    }
    let untracked = &report.untracked;
    if !untracked.is_empty() {
        writeln!(
            out,
            "{} removed from the index (still on disk): {}",
            style.green("✓"),
            untracked.all().join(", ")
        )?;
        if untracked.committed.is_empty() {
            writeln!(
                out,
                "  They were never committed, so their keys are not in history."
            )?;
        } else {
            writeln!(
                out,
                "  Commit that removal. The keys in those files are still in history: run `keywarden incident`."
            )?;
        }
    }
    match &report.gitignore {
        GitignoreOutcome::AlreadyCovered => writeln!(
            out,
            "{} .gitignore already covers env files",
            style.green("✓")
        )?,
        GitignoreOutcome::NotApplied => writeln!(
            out,
            "{} .gitignore does not cover env files; run `keywarden install --gitignore-only --yes` to add the block",
            style.yellow("!")
        )?,
        GitignoreOutcome::Bare | GitignoreOutcome::Added(_) => {}
    }
    let env = &report.env_in_git;
    if !env.committed.is_empty() {
        writeln!(
            out,
            "{} git tracks env files: {}",
            style.yellow("!"),
            env.committed.join(", ")
        )?;
        writeln!(
            out,
            "  `keywarden install --untrack` removes them from the index (the files stay on disk);"
        )?;
        writeln!(
            out,
            "  their keys are already in history: `keywarden incident` walks you through revoking them."
        )?;
    }
    if let Some(unstage) = &env.unstage {
        writeln!(
            out,
            "{} env files are staged, not committed: {}",
            style.yellow("!"),
            env.staged.join(", ")
        )?;
        writeln!(
            out,
            "  `{}` keeps them out (the files stay on disk).",
            shell_line(&unstage.0)
        )?;
    }
    Ok(())
}

pub fn render_global_install(
    report: &GlobalInstallReport,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    hooks_lines(&report.hooks, out, style)?;
    if report.set_hooks_path {
        writeln!(
            out,
            "global core.hooksPath = {} (each repository's own hooks still run)",
            report.hooks.location.dir.display()
        )?;
    }
    Ok(())
}

pub fn render_uninstall(
    report: &UninstallReport,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    writeln!(out, "hooks: {}", report.location.dir.display())?;
    for (hook, action) in &report.actions {
        let name = hook.as_str();
        match action {
            UninstallAction::Removed => writeln!(out, "{} {name}: removed", style.green("✓"))?,
            UninstallAction::Restored => writeln!(
                out,
                "{} {name}: removed; the hook it chained is back in place",
                style.green("✓")
            )?,
            UninstallAction::RemovedFromScript => {
                writeln!(out, "{} {name}: keywarden block removed", style.green("✓"))?
            }
            UninstallAction::NotInstalled => writeln!(out, "  {name}: not installed")?,
        }
    }
    if report.global_unset {
        writeln!(out, "{} global core.hooksPath unset", style.green("✓"))?;
    }
    if !report.global {
        writeln!(
            out,
            "  .gitignore and .env.example are left as they are (they protect without keywarden)."
        )?;
    }
    Ok(())
}
