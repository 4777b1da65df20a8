//! `keywarden uninstall`: takes out exactly the hooks `install` added (shims, Husky
//! blocks, the global `core.hooksPath` it set) and puts chained hooks back. The
//! `.gitignore` block and `.env.example` stay: they are the repository's files now, and
//! they protect without keywarden.

use super::{Context, Outcome};
use crate::cli::UninstallArgs;
use crate::core::git;
use crate::core::hooks::{self, GlobalSetup, HooksLocation, Layout, UninstallAction};
use crate::core::txn::Txn;
use std::io::Write;

pub fn run(ctx: &Context, args: UninstallArgs) -> anyhow::Result<Outcome> {
    let style = ctx.ui.out_style();
    let (location, global) = if args.global {
        let setup = GlobalSetup::plan()?;
        let location = HooksLocation {
            dir: setup.dir.clone(),
            layout: Layout::HooksPath(setup.dir.to_string_lossy().into_owned()),
        };
        (location, Some(setup))
    } else {
        let repo = git::open(&ctx.cwd)?;
        (hooks::resolve(&repo)?, None)
    };
    let mut txn = Txn::new();
    let mut report = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        for hook in location.hooks() {
            let action = hooks::uninstall_hook(&mut txn, &location, hook)?;
            let name = hook.as_str();
            report.push(match action {
                UninstallAction::Removed => format!("{} {name}: removed", style.green("✓")),
                UninstallAction::Restored => format!(
                    "{} {name}: removed; the hook it chained is back in place",
                    style.green("✓")
                ),
                UninstallAction::RemovedFromScript => {
                    format!("{} {name}: keywarden block removed", style.green("✓"))
                }
                UninstallAction::NotInstalled => format!("  {name}: not installed"),
            });
        }
        if let Some(setup) = &global {
            if setup.unset(&mut txn)? {
                report.push(format!("{} global core.hooksPath unset", style.green("✓")));
            }
        }
        Ok(())
    })();
    if let Err(err) = result {
        txn.rollback();
        return Err(err.context("nothing was uninstalled"));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "hooks: {}", location.dir.display())?;
    for line in report {
        writeln!(out, "{line}")?;
    }
    if !args.global {
        writeln!(
            out,
            "  .gitignore and .env.example are left as they are (they protect without keywarden)."
        )?;
    }
    Ok(Outcome::Clean)
}
