//! `uninstall`: takes out exactly the hooks `install` added (shims, Husky blocks, this
//! clone's binary record, the global `core.hooksPath` it set) and puts chained hooks back,
//! in one transaction. The `.gitignore` block and `.env.example` stay: they are the
//! repository's files now, and they protect without keywarden.

use crate::core::hooks::{self, GlobalSetup, HookName, HooksLocation, UninstallAction};
use crate::core::txn::Txn;
use git2::Repository;

#[derive(Debug, Clone)]
pub struct UninstallReport {
    pub location: HooksLocation,
    pub actions: Vec<(HookName, UninstallAction)>,
    /// The global `core.hooksPath` keywarden had set was unset.
    pub global_unset: bool,
    /// The global hooks directory, not a repository's.
    pub global: bool,
}

/// Uninstalls from `repo`.
pub fn uninstall(repo: &Repository) -> anyhow::Result<UninstallReport> {
    let location = hooks::resolve(repo)?;
    let common_dir = repo.commondir().to_path_buf();
    run(location, false, |txn| {
        hooks::remove_binary_record(txn, &common_dir)?;
        Ok(false)
    })
}

/// Uninstalls from the global hooks directory.
pub fn uninstall_global() -> anyhow::Result<UninstallReport> {
    let setup = GlobalSetup::plan()?;
    let location = HooksLocation::global(setup.dir.clone());
    run(location, true, |txn| Ok(setup.unset(txn)?))
}

/// Takes every hook out of `location`, then `finish` (which says whether it unset the
/// global `core.hooksPath`); all or nothing.
fn run(
    location: HooksLocation,
    global: bool,
    finish: impl FnOnce(&mut Txn) -> anyhow::Result<bool>,
) -> anyhow::Result<UninstallReport> {
    let mut txn = Txn::new();
    let result = (|| -> anyhow::Result<_> {
        let mut actions = Vec::new();
        for hook in location.hooks() {
            actions.push((hook, hooks::uninstall_hook(&mut txn, &location, hook)?));
        }
        let global_unset = finish(&mut txn)?;
        Ok((actions, global_unset))
    })();
    match result {
        Ok((actions, global_unset)) => Ok(UninstallReport {
            location,
            actions,
            global_unset,
            global,
        }),
        Err(err) => {
            txn.rollback();
            Err(err.context("nothing was uninstalled"))
        }
    }
}
