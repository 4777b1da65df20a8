//! `keywarden status`: `ops::status` for the repository here (hooks, `.gitignore`, env
//! files in git, the registry, and the keys used here with their age and when they are due)
//! → the report on stdout.

use super::{Context, Outcome};
use crate::core::git;
use crate::core::hooks::invocation::Here;
use crate::ops::status as status_ops;
use crate::output::status::render_status;

pub fn run(ctx: &Context) -> anyhow::Result<Outcome> {
    let repo = git::open(&ctx.cwd)?;
    let root = git::root_dir(&repo);
    let config = ctx.load_config(&root)?;
    let data_home = ctx.data_home().map_err(|e| format!("{e:#}"));
    let report = status_ops::status(
        &repo,
        &config,
        data_home.as_deref().map_err(Clone::clone),
        ctx.clock.now(),
        &ctx.policy(Some(&root))?,
        &Here::from_dirs(&ctx.cwd, &root),
    )?;
    render_status(&report, &mut crate::output::stdout(), &ctx.ui.out_style())?;
    Ok(Outcome::Clean)
}
