//! `install`: the hooks (in the layout the repository uses, chaining what is there),
//! `.gitignore` coverage of env files, an offer to write `.env.example`, and env files git
//! tracks (reported; `untrack` takes them out of the index). Everything is planned and
//! confirmed first, then written in one transaction that is rolled back on failure, so a
//! failed install leaves nothing behind; a repeated install changes nothing.

use crate::core::config::Config;
use crate::core::envfiles::{self, EnvFilePolicy};
use crate::core::git::tracked;
use crate::core::gitignore::{self, GitignorePlan};
use crate::core::hooks::invocation::Here;
use crate::core::hooks::{self, GlobalSetup, HookName, HooksLocation, InstallAction};
use crate::core::txn::Txn;
use crate::ops::remedy::{self, Commands};
use crate::ops::{PromptError, Prompter};
use anyhow::Context as _;
use git2::Repository;
use std::path::{Path, PathBuf};

/// The env files (by the env-file name policy) in the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFilesInGit {
    /// `HEAD` holds them, so their keys are in history.
    pub committed: Vec<String>,
    /// Staged, never committed.
    pub staged: Vec<String>,
    /// Takes the staged ones back out of the index, leaving them on disk
    /// (`git rm --cached …`).
    pub unstage: Option<Commands>,
}

impl EnvFilesInGit {
    pub fn is_empty(&self) -> bool {
        self.committed.is_empty() && self.staged.is_empty()
    }

    /// Committed ones first, then staged ones.
    pub fn all(&self) -> Vec<String> {
        self.committed.iter().chain(&self.staged).cloned().collect()
    }
}

/// The env files in `repo`'s index, committed apart from staged; `here` is where the
/// person runs keywarden (for the suggested command).
pub fn env_files_in_git(
    repo: &Repository,
    policy: &EnvFilePolicy,
    here: &Here,
) -> anyhow::Result<EnvFilesInGit> {
    if repo.is_bare() {
        return Ok(EnvFilesInGit::default());
    }
    let head = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let (committed, staged): (Vec<String>, Vec<String>) = tracked::tracked_paths(repo)?
        .into_iter()
        .filter(|p| policy.is_blocked(p))
        .partition(|path| {
            head.as_ref()
                .is_some_and(|tree| tree.get_path(Path::new(path)).is_ok())
        });
    let unstage = (!staged.is_empty()).then(|| remedy::unstage_new_files(repo, here, &staged));
    Ok(EnvFilesInGit {
        committed,
        staged,
        unstage,
    })
}

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Only the `.gitignore` block: no hooks.
    pub gitignore_only: bool,
    /// Take tracked env files out of the index.
    pub untrack: bool,
    /// Offer to write `.env.example` from `.env`.
    pub offer_env_example: bool,
    /// The binary the hooks fall back to when keywarden is not on PATH (this one).
    pub keywarden: PathBuf,
    /// Where the person runs install (for the commands the report suggests).
    pub here: Here,
}

/// The hooks written into one hooks directory.
#[derive(Debug, Clone)]
pub struct HooksReport {
    pub location: HooksLocation,
    pub actions: Vec<(HookName, InstallAction)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitignoreOutcome {
    /// A bare repository has no work tree, so no `.gitignore`.
    Bare,
    AlreadyCovered,
    /// The block now holds these patterns.
    Added(Vec<String>),
    /// Declined, or there was nobody to ask and no `--yes`.
    NotApplied,
}

#[derive(Debug, Clone)]
pub struct InstallReport {
    pub hooks: Option<HooksReport>,
    pub gitignore: GitignoreOutcome,
    /// `.env.example` was written here.
    pub env_example: Option<PathBuf>,
    /// Env files taken out of the index (`untrack`).
    pub untracked: EnvFilesInGit,
    /// Env files the index still holds.
    pub env_in_git: EnvFilesInGit,
}

/// Installs into `repo`. `preview` shows the `.gitignore` change before the question;
/// `prompter` answers it and the `.env.example` offer (`--yes` says yes to both; with
/// nobody to ask, neither is applied).
pub fn install(
    repo: &Repository,
    config: &Config,
    options: &InstallOptions,
    prompter: &dyn Prompter,
    preview: &mut dyn FnMut(&GitignorePlan) -> std::io::Result<()>,
) -> anyhow::Result<InstallReport> {
    let policy = config.env_file_policy()?;
    let location = (!options.gitignore_only)
        .then(|| hooks::resolve(repo))
        .transpose()?;
    let gitignore_plan = gitignore::plan(repo)?;
    let apply_gitignore = match &gitignore_plan {
        Some(plan) => confirm_gitignore(plan, prompter, preview)?,
        None => false,
    };
    let example = if options.offer_env_example {
        env_example_plan(repo, prompter)?
    } else {
        None
    };
    let env_in_git = env_files_in_git(repo, &policy, &options.here)?;
    let untrack = if options.untrack {
        env_in_git.all()
    } else {
        Vec::new()
    };

    let mut txn = Txn::new();
    let result = (|| -> anyhow::Result<Option<HooksReport>> {
        let hooks = match &location {
            Some(location) => {
                let report = install_hooks(&mut txn, location, &options.keywarden)?;
                if location.shared {
                    hooks::write_binary_record(&mut txn, repo.commondir(), &options.keywarden)?;
                }
                Some(report)
            }
            None => None,
        };
        if let Some(plan) = gitignore_plan.as_ref().filter(|_| apply_gitignore) {
            txn.write(&plan.path, plan.after.as_bytes(), file_mode(&plan.path))?;
        }
        if let Some((path, content)) = &example {
            txn.write(path, content.as_bytes(), 0o644)?;
        }
        if !untrack.is_empty() {
            // Last: the index is not part of the file transaction.
            tracked::untrack(repo, &untrack)?;
        }
        Ok(hooks)
    })();
    let hooks = match result {
        Ok(hooks) => hooks,
        Err(err) => {
            txn.rollback();
            return Err(err.context("nothing was installed"));
        }
    };
    let gitignore = match gitignore_plan {
        _ if repo.is_bare() => GitignoreOutcome::Bare,
        None => GitignoreOutcome::AlreadyCovered,
        Some(plan) if apply_gitignore => GitignoreOutcome::Added(plan.added),
        Some(_) => GitignoreOutcome::NotApplied,
    };
    let (untracked, env_in_git) = if options.untrack {
        (env_in_git, EnvFilesInGit::default())
    } else {
        (EnvFilesInGit::default(), env_in_git)
    };
    Ok(InstallReport {
        hooks,
        gitignore,
        env_example: example.map(|(path, _)| path),
        untracked,
        env_in_git,
    })
}

/// What `install --global` did: the hooks in the global hooks directory, and whether
/// keywarden set the global `core.hooksPath` to it.
#[derive(Debug, Clone)]
pub struct GlobalInstallReport {
    pub hooks: HooksReport,
    pub set_hooks_path: bool,
}

/// Installs the hooks for every repository of this user (the global `core.hooksPath`).
pub fn install_global(keywarden: &Path) -> anyhow::Result<GlobalInstallReport> {
    let setup = GlobalSetup::plan()?;
    let location = HooksLocation::global(setup.dir.clone());
    let mut txn = Txn::new();
    let result = install_hooks(&mut txn, &location, keywarden)
        .and_then(|hooks| Ok((hooks, setup.apply(&mut txn)?)));
    match result {
        Ok((hooks, ())) => Ok(GlobalInstallReport {
            hooks,
            set_hooks_path: setup.set_by_keywarden,
        }),
        Err(err) => {
            txn.rollback();
            Err(err.context("nothing was installed"))
        }
    }
}

fn install_hooks(
    txn: &mut Txn,
    location: &HooksLocation,
    keywarden: &Path,
) -> anyhow::Result<HooksReport> {
    let mut actions = Vec::new();
    for hook in location.hooks() {
        actions.push((hook, hooks::install_hook(txn, location, hook, keywarden)?));
    }
    Ok(HooksReport {
        location: location.clone(),
        actions,
    })
}

fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o644)
}

/// Shows the change and asks; `--yes` applies it, and without a terminal to ask on it is
/// not applied (the report says how to apply it).
fn confirm_gitignore(
    plan: &GitignorePlan,
    prompter: &dyn Prompter,
    preview: &mut dyn FnMut(&GitignorePlan) -> std::io::Result<()>,
) -> anyhow::Result<bool> {
    if !prompter.assume_yes() {
        if !prompter.can_ask() {
            return Ok(false);
        }
        preview(plan)?;
    }
    answered(prompter.confirm("Apply this change to .gitignore?"))
}

/// A yes/no answer; nobody to ask counts as no.
fn answered(answer: Result<bool, PromptError>) -> anyhow::Result<bool> {
    match answer {
        Ok(yes) => Ok(yes),
        Err(PromptError::NoTerminal) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// `.env.example` to write, when there is a `.env` and no `.env.example` and the person
/// agrees (`--yes`, or a yes on the terminal).
fn env_example_plan(
    repo: &Repository,
    prompter: &dyn Prompter,
) -> anyhow::Result<Option<(PathBuf, String)>> {
    let Some(workdir) = repo.workdir() else {
        return Ok(None);
    };
    let (env, example) = (workdir.join(".env"), workdir.join(".env.example"));
    if !env.is_file() || example.exists() {
        return Ok(None);
    }
    let agreed = answered(
        prompter.confirm("Create .env.example from .env with the values removed (safe to commit)?"),
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
