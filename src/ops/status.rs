//! `status`: where git runs this repository's hooks from and whether keywarden is in each
//! of them (and what it chains), the global hooks directory, how `.gitignore` covers env
//! files, which env files git has — committed (their keys are in history) or only staged —
//! and the keys the registry knows with their ages.

use crate::core::config::Config;
use crate::core::gitignore;
use crate::core::hooks::invocation::Here;
use crate::core::hooks::{self, HookName, HookState, HooksLocation};
use crate::core::registry::policy::Policy;
use crate::core::registry::Registry;
use crate::ops::due::{used_here, KeyStatus};
use crate::ops::install::{env_files_in_git, EnvFilesInGit};
use crate::ops::inventory::work_trees;
use chrono::{DateTime, Utc};
use git2::Repository;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct StatusReport {
    pub location: HooksLocation,
    pub hooks: Vec<(HookName, HookState)>,
    /// The global `core.hooksPath`, when one is set.
    pub global_hooks_dir: Option<PathBuf>,
    pub gitignore: GitignoreStatus,
    pub env_files: EnvFilesInGit,
    pub keys: KeysStatus,
    /// The registered keys this repository uses, with their rotation standing (empty when
    /// the registry cannot be read: `keys` says why).
    pub used_here: Vec<KeyStatus>,
    /// When the report was made (ages and due dates count from it).
    pub now: DateTime<Utc>,
    /// A purge that was killed, failed or interrupted and waits for `--resume` or `--abort`
    /// (or why its journal cannot be read).
    pub unfinished_purge: Result<Option<crate::ops::purge::Unfinished>, String>,
    /// The incident that is not closed yet (or why the records cannot be read).
    pub open_incident: Result<Option<crate::ops::incident::state::IncidentState>, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitignoreStatus {
    Bare,
    Covered,
    /// Template patterns not in effect.
    Gaps(Vec<String>),
}

#[derive(Debug, Clone)]
pub enum KeysStatus {
    Known(Vec<KeyAge>),
    /// The registry could not be read; why.
    Unreadable(String),
}

/// One key of the registry and how old it is. The rotation policy's verdict for the key
/// (due, overdue) belongs beside these fields.
#[derive(Debug, Clone)]
pub struct KeyAge {
    pub name: String,
    pub provider: String,
    pub redacted: String,
    /// When it was created (or, unknown that, added).
    pub born: DateTime<Utc>,
    pub age_days: i64,
}

/// The status of `repo`; `data_home` holds the registry (`Err`: why there is none), `now`
/// dates the keys, `here` is where the person runs keywarden (for suggested commands).
pub fn status(
    repo: &Repository,
    config: &Config,
    data_home: Result<&Path, String>,
    now: DateTime<Utc>,
    rotation: &Policy,
    here: &Here,
) -> anyhow::Result<StatusReport> {
    let policy = config.env_file_policy()?;
    let location = hooks::resolve(repo)?;
    let hooks = location
        .hooks()
        .into_iter()
        .map(|hook| Ok((hook, hooks::inspect(&location, hook)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let gitignore = if repo.is_bare() {
        GitignoreStatus::Bare
    } else {
        let gaps: Vec<String> = gitignore::coverage(repo)?
            .into_iter()
            .filter(|c| !c.effective)
            .map(|c| c.pattern)
            .collect();
        if gaps.is_empty() {
            GitignoreStatus::Covered
        } else {
            GitignoreStatus::Gaps(gaps)
        }
    };
    let env_files = env_files_in_git(repo, &policy, here)?;
    Ok(StatusReport {
        location,
        hooks,
        global_hooks_dir: hooks::global_hooks_dir()?,
        gitignore,
        env_files,
        now,
        unfinished_purge: crate::ops::purge::unfinished(repo).map_err(|e| e.to_string()),
        open_incident: crate::ops::incident::open_incident(repo)
            .map(|open| open.map(|i| i.state))
            .map_err(|e| e.to_string()),
        used_here: match &data_home {
            Ok(home) => Registry::load(home)
                .map(|registry| used_here(&registry, &work_trees(repo), rotation, now))
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        },
        keys: match data_home {
            Ok(home) => registry_keys(home, now),
            Err(why) => KeysStatus::Unreadable(why),
        },
    })
}

fn registry_keys(home: &Path, now: DateTime<Utc>) -> KeysStatus {
    match Registry::load(home) {
        Ok(registry) => {
            let mut keys: Vec<KeyAge> = registry
                .keys
                .iter()
                .map(|record| KeyAge {
                    name: record.name.clone(),
                    provider: record.provider.to_string(),
                    redacted: record.redacted.clone(),
                    born: record.born(),
                    age_days: (now - record.born()).num_days(),
                })
                .collect();
            keys.sort_by(|a, b| a.name.cmp(&b.name));
            KeysStatus::Known(keys)
        }
        Err(err) => KeysStatus::Unreadable(err.to_string()),
    }
}
