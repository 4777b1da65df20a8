//! `keywarden install`: arguments → `ops::install` → the report on stdout. The
//! `.gitignore` diff is shown on stdout before the question.

use super::{Context, Outcome};
use crate::cli::InstallArgs;
use crate::core::git;
use crate::core::hooks::invocation::Here;
use crate::ops::install::{self as install_ops, InstallOptions};
use crate::output::install::{gitignore_preview, render_global_install, render_install};
use anyhow::Context as _;
use std::path::PathBuf;

pub fn run(ctx: &Context, args: InstallArgs) -> anyhow::Result<Outcome> {
    let style = ctx.ui.out_style();
    let keywarden = current_binary()?;
    let mut out = std::io::stdout().lock();
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
        gitignore_preview(plan, &mut std::io::stdout().lock(), &style)
    })?;
    render_install(&report, &mut out, &style)?;
    Ok(Outcome::Clean)
}

fn current_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the keywarden binary")?;
    Ok(std::fs::canonicalize(&exe).unwrap_or(exe))
}
