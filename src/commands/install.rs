//! `keywarden install`: arguments → `ops::install` → the report on stdout. The
//! `.gitignore` diff is shown on stdout before the question.

use super::{Context, Outcome};
use crate::cli::InstallArgs;
use crate::core::git;
use crate::core::hooks::invocation::Here;
use crate::ops::install::{self as install_ops, InstallOptions};
use crate::ops::Reporter;
use crate::output::install::{gitignore_preview, render_global_install, render_install};
use anyhow::Context as _;
use std::io::Write;
use std::path::PathBuf;

pub fn run(ctx: &Context, args: InstallArgs) -> anyhow::Result<Outcome> {
    let style = ctx.ui.out_style();
    let keywarden = current_binary()?;
    let mut out = crate::output::stdout();
    if args.global {
        let report = install_ops::install_global(&keywarden)?;
        render_global_install(&report, &mut out, &style)?;
        return Ok(Outcome::Clean);
    }
    let repo = git::open(&ctx.cwd)?;
    let root = git::root_dir(&repo);
    // A malformed configuration stops here, before anything is written.
    let config = ctx.load_config(&root)?;
    let options = InstallOptions {
        gitignore_only: args.gitignore_only,
        untrack: args.untrack,
        offer_env_example: !args.no_env_example,
        keywarden,
        here: Here::from_dirs(&ctx.cwd, &root),
    };
    let report = install_ops::install(&repo, &config, &options, &ctx.ui, &mut |plan| {
        gitignore_preview(plan, &mut crate::output::stdout(), &style)
    })?;
    render_install(&report, &mut out, &style)?;
    // The keys in this repository's env files are registered where they are (nothing
    // moves), so that their ages count and rotation finds every file; trouble here is a
    // warning, never a failed install.
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
    Ok(Outcome::Clean)
}

fn current_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the keywarden binary")?;
    Ok(std::fs::canonicalize(&exe).unwrap_or(exe))
}
