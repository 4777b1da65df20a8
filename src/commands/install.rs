//! `keywarden install`: the hooks (in the layout the repository uses, chaining what is
//! there), `.gitignore` coverage of env files, an offer to write `.env.example`, and tracked
//! env files (reported; `--untrack` takes them out of the index). Everything is planned
//! and confirmed first, then written in one transaction that is rolled back on failure.

use super::{Context, Outcome};
use crate::cli::InstallArgs;
use crate::core::envfiles;
use crate::core::git::{self, tracked};
use crate::core::gitignore::{self, GitignorePlan};
use crate::core::hooks::{self, GlobalSetup, HookName, HooksLocation, InstallAction, Layout};
use crate::core::txn::Txn;
use crate::ops::install::tracked_env_files;
use crate::ops::Reporter;
use crate::ops::{PromptError, Prompter};
use crate::output::style::Style;
use crate::output::ui::Ui;
use anyhow::Context as _;
use git2::Repository;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn run(ctx: &Context, args: InstallArgs) -> anyhow::Result<Outcome> {
    let style = ctx.ui.out_style();
    let keywarden = current_binary()?;
    if args.global {
        return install_global(&keywarden, &style);
    }
    let repo = git::open(&ctx.cwd)?;
    let root = git::root_dir(&repo);
    // A malformed configuration stops here, before anything is written.
    let config = ctx.load_config(&root)?;
    let policy = config.env_file_policy()?;
    let location = (!args.gitignore_only)
        .then(|| hooks::resolve(&repo))
        .transpose()?;

    let gitignore_plan = gitignore::plan(&repo)?;
    let apply_gitignore = match &gitignore_plan {
        Some(plan) => confirm_gitignore(plan, &ctx.ui, &style)?,
        None => false,
    };
    let example = env_example_plan(&repo, args.no_env_example, &ctx.ui)?;
    let tracked_env = tracked_env_files(&repo, &policy)?;

    let mut txn = Txn::new();
    let mut report = Vec::new();
    let result = apply(
        &repo,
        &mut txn,
        &mut report,
        Plan {
            location: location.as_ref(),
            keywarden: &keywarden,
            gitignore: gitignore_plan.as_ref().filter(|_| apply_gitignore),
            example: example.as_ref(),
            untrack: if args.untrack { &tracked_env } else { &[] },
        },
        &style,
    );
    let mut out = conclude(txn, result, &report)?;
    if repo.is_bare() {
        // No work tree, so no .gitignore to fix.
    } else if gitignore_plan.is_none() {
        writeln!(
            out,
            "{} .gitignore already covers env files",
            style.green("✓")
        )?;
    } else if !apply_gitignore {
        writeln!(
            out,
            "{} .gitignore does not cover env files; run `keywarden install --gitignore-only --yes` to add the block",
            style.yellow("!")
        )?;
    }
    // >>> key inventory (ops::inventory): the keys in this repository's env files are
    // registered where they are (nothing moves), so that their ages count and rotation
    // finds every file; trouble here is a warning, never a failed install.
    if !repo.is_bare() {
        let registered = ctx.data_home().and_then(|home| {
            let (_, scanned) = crate::ops::inventory::scan_repository(&repo, &config)?;
            Ok(crate::ops::inventory::import(
                scanned.found,
                &home,
                &ctx.clock,
                None,
            )?)
        });
        match registered {
            Ok(report) => {
                for line in crate::output::rotate::tracked_on_install(&report, &ctx.cwd, &style) {
                    writeln!(out, "{line}")?;
                }
            }
            Err(err) => ctx.ui.warn(&format!(
                "the keys in this repository's env files were not registered: {err:#}"
            )),
        }
    }
    // <<< key inventory
    if !tracked_env.is_empty() && !args.untrack {
        writeln!(
            out,
            "{} git tracks env files: {}",
            style.yellow("!"),
            tracked_env.join(", ")
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
    Ok(Outcome::Clean)
}

fn current_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the keywarden binary")?;
    Ok(std::fs::canonicalize(&exe).unwrap_or(exe))
}

struct Plan<'a> {
    location: Option<&'a HooksLocation>,
    keywarden: &'a Path,
    gitignore: Option<&'a GitignorePlan>,
    /// `.env.example` to create, and its content.
    example: Option<&'a (PathBuf, String)>,
    untrack: &'a [String],
}

fn apply(
    repo: &Repository,
    txn: &mut Txn,
    report: &mut Vec<String>,
    plan: Plan<'_>,
    style: &Style,
) -> anyhow::Result<()> {
    if let Some(location) = plan.location {
        install_hooks(txn, report, location, plan.keywarden, style)?;
    }
    if let Some(gitignore) = plan.gitignore {
        txn.write(
            &gitignore.path,
            gitignore.after.as_bytes(),
            file_mode(&gitignore.path),
        )?;
        report.push(format!(
            "{} .gitignore: added {}",
            style.green("✓"),
            gitignore.added.join(" ")
        ));
    }
    if let Some((path, content)) = plan.example {
        txn.write(path, content.as_bytes(), 0o644)?;
        report.push(format!(
            "{} wrote .env.example from .env with the values removed",
            style.green("✓")
        ));
    }
    if !plan.untrack.is_empty() {
        // Last: the index is not part of the file transaction.
        tracked::untrack(repo, plan.untrack)?;
        report.push(format!(
            "{} removed from the index (still on disk): {}",
            style.green("✓"),
            plan.untrack.join(", ")
        ));
        report.push(
            "  Commit that removal. The keys in those files are still in history: run `keywarden incident`.".to_string(),
        );
    }
    Ok(())
}

fn install_hooks(
    txn: &mut Txn,
    report: &mut Vec<String>,
    location: &HooksLocation,
    keywarden: &Path,
    style: &Style,
) -> anyhow::Result<()> {
    let where_ = match &location.layout {
        Layout::Default => format!("{}", location.dir.display()),
        Layout::HooksPath(value) => {
            format!("{} (core.hooksPath = {value})", location.dir.display())
        }
        Layout::Husky { husky_dir } => format!("{} (Husky)", husky_dir.display()),
    };
    report.push(format!("hooks: {where_}"));
    for hook in location.hooks() {
        let action = hooks::install_hook(txn, location, hook, keywarden)?;
        report.push(describe(hook, &action, style));
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

fn install_global(keywarden: &Path, style: &Style) -> anyhow::Result<Outcome> {
    let setup = GlobalSetup::plan()?;
    let location = HooksLocation {
        dir: setup.dir.clone(),
        layout: Layout::HooksPath(setup.dir.to_string_lossy().into_owned()),
    };
    let mut txn = Txn::new();
    let mut report = Vec::new();
    let result = install_hooks(&mut txn, &mut report, &location, keywarden, style)
        .and_then(|()| Ok(setup.apply(&mut txn)?));
    let mut out = conclude(txn, result, &report)?;
    if setup.set_by_keywarden {
        writeln!(
            out,
            "global core.hooksPath = {} (each repository's own hooks still run)",
            setup.dir.display()
        )?;
    }
    Ok(Outcome::Clean)
}

fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o644)
}

/// Shows the change and asks; `--yes` applies it, and without a terminal to ask on it is
/// not applied (the report says how to apply it).
fn confirm_gitignore(plan: &GitignorePlan, ui: &Ui, style: &Style) -> anyhow::Result<bool> {
    if !ui.assume_yes() {
        if !ui.can_ask() {
            return Ok(false);
        }
        let diff = similar::TextDiff::from_lines(&plan.before, &plan.after);
        let mut out = std::io::stdout().lock();
        for line in diff
            .unified_diff()
            .context_radius(2)
            .header("a/.gitignore", "b/.gitignore")
            .to_string()
            .lines()
        {
            let shown = if line.starts_with('+') && !line.starts_with("+++") {
                style.green(line)
            } else if line.starts_with('-') && !line.starts_with("---") {
                style.red(line)
            } else {
                line.to_string()
            };
            writeln!(out, "{shown}")?;
        }
    }
    answered(ui.confirm("Apply this change to .gitignore?"))
}

/// A yes/no answer; nobody to ask counts as no.
fn answered(answer: Result<bool, PromptError>) -> anyhow::Result<bool> {
    match answer {
        Ok(yes) => Ok(yes),
        Err(PromptError::NoTerminal) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// `.env.example` to write, when there is a `.env` and no `.env.example` and the user
/// agrees (`--yes`, or a yes on the terminal).
fn env_example_plan(
    repo: &Repository,
    skip: bool,
    ui: &Ui,
) -> anyhow::Result<Option<(PathBuf, String)>> {
    let Some(workdir) = repo.workdir() else {
        return Ok(None);
    };
    let (env, example) = (workdir.join(".env"), workdir.join(".env.example"));
    if skip || !env.is_file() || example.exists() {
        return Ok(None);
    }
    let agreed = answered(
        ui.confirm("Create .env.example from .env with the values removed (safe to commit)?"),
    )?;
    if !agreed {
        return Ok(None);
    }
    let text = std::fs::read(&env).with_context(|| format!("cannot read {}", env.display()))?;
    Ok(Some((
        example,
        envfiles::example_from_env(&String::from_utf8_lossy(&text)),
    )))
}

/// Undoes every change of a failed install; otherwise prints what it did. Returns stdout
/// for the lines that follow.
fn conclude(
    txn: Txn,
    result: anyhow::Result<()>,
    report: &[String],
) -> anyhow::Result<std::io::StdoutLock<'static>> {
    if let Err(err) = result {
        txn.rollback();
        return Err(err.context("nothing was installed"));
    }
    let mut out = std::io::stdout().lock();
    for line in report {
        writeln!(out, "{line}")?;
    }
    Ok(out)
}
