//! What the rotation policy says now: how old each key is and when it is due, which keys
//! are due, and which old keys are still to be revoked — over every registered key
//! (`rotate --check`), over the keys a repository uses (`status`), and once a day per
//! repository for the post-checkout and post-merge hooks, whose reminder must cost next to
//! nothing and can never fail a checkout (a stamp in the git dir says when it last spoke).

use super::inventory;
use crate::core::provider::ProviderId;
use crate::core::registry::policy::{Policy, Standing};
use crate::core::registry::{KeyRecord, PendingRevocation, Registry};
use chrono::{DateTime, Utc};
use git2::Repository;
use std::path::{Path, PathBuf};

/// One key and where it stands.
#[derive(Debug, Clone)]
pub struct KeyStatus {
    pub name: String,
    pub provider: ProviderId,
    pub env_var: String,
    pub redacted: String,
    pub standing: Standing,
    pub last_rotated: Option<DateTime<Utc>>,
    /// The key it replaced, still to be revoked.
    pub pending: Option<PendingRevocation>,
}

impl KeyStatus {
    pub fn of(record: &KeyRecord, policy: &Policy, now: DateTime<Utc>) -> Self {
        KeyStatus {
            name: record.name.clone(),
            provider: record.provider,
            env_var: record.env_var.clone(),
            redacted: record.redacted.clone(),
            standing: policy.standing(record, now),
            last_rotated: record.last_rotated,
            pending: record.pending_revocation.clone(),
        }
    }
}

/// What needs doing.
#[derive(Debug, Clone, Default)]
pub struct Attention {
    /// Keys due for rotation, oldest first.
    pub due: Vec<KeyStatus>,
    /// Keys whose old key is still to be revoked (its grace period over or not: see
    /// `is_overdue`).
    pub revocations: Vec<KeyStatus>,
}

impl Attention {
    /// Whether anything is due now: a key, or a revocation whose grace period is over.
    pub fn any(&self, now: DateTime<Utc>) -> bool {
        !self.due.is_empty() || self.overdue_revocations(now).next().is_some()
    }

    pub fn overdue_revocations(&self, now: DateTime<Utc>) -> impl Iterator<Item = &KeyStatus> {
        self.revocations
            .iter()
            .filter(move |k| k.pending.as_ref().is_some_and(|p| p.is_overdue(now)))
    }
}

/// Every key of `records` with where it stands, by name.
pub fn statuses<'r>(
    records: impl IntoIterator<Item = &'r KeyRecord>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<KeyStatus> {
    let mut all: Vec<KeyStatus> = records
        .into_iter()
        .map(|record| KeyStatus::of(record, policy, now))
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// The keys due and the revocations waiting, among `statuses`.
pub fn attention(statuses: &[KeyStatus]) -> Attention {
    let mut due: Vec<KeyStatus> = statuses
        .iter()
        .filter(|k| k.standing.due)
        .cloned()
        .collect();
    due.sort_by_key(|k| std::cmp::Reverse(k.standing.age_days));
    Attention {
        due,
        revocations: statuses
            .iter()
            .filter(|k| k.pending.is_some())
            .cloned()
            .collect(),
    }
}

/// The keys a repository (its work trees `roots`) uses, with where each stands.
pub fn used_here(
    registry: &Registry,
    roots: &[PathBuf],
    policy: &Policy,
    now: DateTime<Utc>,
) -> Vec<KeyStatus> {
    statuses(
        registry.keys.iter().filter(|k| k.is_used_in(roots)),
        policy,
        now,
    )
}

/// Where the last reminder's date is kept: in the common git dir, so one repository is
/// reminded once a day whichever of its worktrees checks out.
pub fn stamp_path(repo: &Repository) -> PathBuf {
    repo.commondir().join("keywarden").join("reminded")
}

/// The hooks' reminder: what the keys this repository uses need (due keys, revocations
/// whose grace period is over), at most once a (UTC) day per repository — `None` when
/// nothing is due or the repository was reminded today. Reading is kept to the stamp and
/// the registry; `policy` is only asked for when a key of this repository is in the
/// registry. Trouble of any kind means no reminder, never an error.
pub fn reminder(
    repo: &Repository,
    data_home: &Path,
    now: DateTime<Utc>,
    policy: impl FnOnce(&Path) -> Policy,
) -> Option<Attention> {
    let stamp = stamp_path(repo);
    let today = now.format("%Y-%m-%d").to_string();
    if std::fs::read_to_string(&stamp).is_ok_and(|text| text.trim() == today) {
        return None;
    }
    let registry = Registry::load(data_home).ok()?;
    let roots = inventory::work_trees(repo);
    let mut used = registry
        .keys
        .iter()
        .filter(|k| k.is_used_in(&roots))
        .peekable();
    used.peek()?;
    let root = roots
        .first()
        .cloned()
        .unwrap_or_else(|| repo.path().to_path_buf());
    let policy = policy(&root);
    let statuses = statuses(used, &policy, now);
    let mut attention = attention(&statuses);
    attention
        .revocations
        .retain(|k| k.pending.as_ref().is_some_and(|p| p.is_overdue(now)));
    if !attention.any(now) {
        return None;
    }
    // Stamped before it is shown, with a plain write: a torn stamp costs one reminder more,
    // a synced one would cost every such checkout milliseconds. A stamp that cannot be
    // written means no reminder, rather than one on every checkout.
    std::fs::create_dir_all(stamp.parent()?).ok()?;
    std::fs::write(&stamp, format!("{today}\n")).ok()?;
    Some(attention)
}
