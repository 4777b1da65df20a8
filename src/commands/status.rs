//! `keywarden status`: where git runs this repository's hooks from and whether keywarden is
//! in each of them (and what it chains), the global hooks directory, how `.gitignore`
//! covers env files, the keys this repository uses (age, last rotation, when due), and
//! which env files git tracks.

use super::{Context, Outcome};
use crate::core::git;
use crate::core::gitignore;
use crate::core::hooks::{self, Layout};
use crate::ops::install::tracked_env_files;
use std::io::Write;

pub fn run(ctx: &Context) -> anyhow::Result<Outcome> {
    let style = ctx.ui.out_style();
    let repo = git::open(&ctx.cwd)?;
    let root = git::root_dir(&repo);
    let config = ctx.load_config(&root)?;
    let policy = config.env_file_policy()?;
    let location = hooks::resolve(&repo)?;
    let mut out = std::io::stdout().lock();

    let layout = match &location.layout {
        Layout::Default => String::new(),
        Layout::HooksPath(value) => format!(" (core.hooksPath = {value})"),
        Layout::Husky { husky_dir } => format!(" (Husky: scripts in {})", husky_dir.display()),
    };
    writeln!(out, "hooks: {}{layout}", location.dir.display())?;
    let ok = style.green("✓");
    let missing = style.yellow("✗");
    for hook in location.hooks() {
        let state = hooks::inspect(&location, hook)?;
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
    if let Some(global) = hooks::global_hooks_dir()? {
        writeln!(out, "global hooks: {}", global.display())?;
    }

    if repo.is_bare() {
        writeln!(out, ".gitignore: (bare repository)")?;
    } else {
        let coverage = gitignore::coverage(&repo)?;
        let gaps: Vec<&str> = coverage
            .iter()
            .filter(|c| !c.effective)
            .map(|c| c.pattern.as_str())
            .collect();
        if gaps.is_empty() {
            writeln!(out, ".gitignore: {ok} covers env files")?;
        } else {
            writeln!(
                out,
                ".gitignore: {missing} not in effect: {} (`keywarden install --gitignore-only` fixes it)",
                gaps.join(" ")
            )?;
        }
    }
    // >>> keys used here (ops::due::used_here): age, last rotation, when due
    let registry = ctx
        .data_home()
        .and_then(|home| Ok(crate::core::registry::Registry::load(&home)?));
    match registry {
        Ok(registry) => {
            let roots = crate::ops::inventory::work_trees(&repo);
            let now = ctx.clock.now();
            let policy = ctx.policy(Some(&root))?;
            let keys = crate::ops::due::used_here(&registry, &roots, &policy, now);
            crate::output::rotate::used_here(&keys, now, &style, &mut out)?;
        }
        Err(err) => writeln!(
            out,
            "keys used here: {missing} the registry cannot be read: {err:#}"
        )?,
    }
    // <<< keys used here
    let tracked = tracked_env_files(&repo, &policy)?;
    if tracked.is_empty() {
        writeln!(out, "tracked env files: {ok} none")?;
    } else {
        writeln!(
            out,
            "tracked env files: {missing} {} (`keywarden install --untrack`; their keys are in history: `keywarden incident`)",
            tracked.join(", ")
        )?;
    }
    Ok(Outcome::Clean)
}
