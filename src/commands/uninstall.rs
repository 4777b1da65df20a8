//! `keywarden uninstall`: arguments → `ops::uninstall` → the report on stdout.

use super::{Context, Outcome};
use crate::cli::UninstallArgs;
use crate::core::git;
use crate::ops::uninstall as uninstall_ops;
use crate::output::install::render_uninstall;

pub fn run(ctx: &Context, args: UninstallArgs) -> anyhow::Result<Outcome> {
    let report = if args.global {
        uninstall_ops::uninstall_global()?
    } else {
        uninstall_ops::uninstall(&git::open(&ctx.cwd)?)?
    };
    render_uninstall(&report, &mut crate::output::stdout(), &ctx.ui.out_style())?;
    Ok(Outcome::Clean)
}
