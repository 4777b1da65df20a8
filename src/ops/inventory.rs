//! The key inventory: which keys a repository's env files hold — scanned with the rules,
//! each tied to the variable it is assigned to and the file — and registering them: one
//! record per key (by fingerprint, never the key), with every place it is used, across
//! repositories. A key found this way is only tracked (its age, where it is used) until it
//! is moved into the keyring (`keys import --move`), which also empties its value in the
//! files, so that `keywarden run` supplies it and no plaintext file holds it.

use super::edits::{self, EditPlan, EditsError};
use super::keys::{self, KeysError};
use super::vault::Vault;
use super::{PromptError, Prompter};
use crate::core::clock::Clock;
use crate::core::envfile::{Document, EnvEditError, LineKind};
use crate::core::envfiles::EnvFilePolicy;
use crate::core::provider::ProviderId;
use crate::core::registry::{KeyRecord, Location, Registry};
use crate::core::scan::Scanner;
use crate::core::secret::Secret;
use crate::core::walk::{self, WalkError};
use git2::Repository;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum InventoryError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Registry(#[from] crate::core::registry::RegistryError),
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Edits(#[from] EditsError),
    #[error(transparent)]
    Edit(#[from] EnvEditError),
    #[error("refusing to empty the values without confirmation: pass --yes")]
    NeedsConfirmation,
    #[error("not confirmed; nothing was changed")]
    Declined,
    #[error("cannot ask for confirmation")]
    Prompt(#[source] PromptError),
}

/// A key found in a file, with the variable it is assigned to there.
#[derive(Debug, Clone)]
pub struct FoundKey {
    pub key: Secret,
    pub provider: ProviderId,
    /// The file, absolute.
    pub path: PathBuf,
    pub var: String,
    /// 1-based.
    pub line: usize,
    /// Whether the variable's whole value is the key (only such a value can be moved into
    /// the keyring; a key inside a URL stays where it is).
    pub whole_value: bool,
    /// The work tree the file belongs to.
    pub repo: Option<PathBuf>,
}

/// What a scan of files found.
#[derive(Debug, Default)]
pub struct Scanned {
    pub found: Vec<FoundKey>,
    /// Keys outside any `NAME=value` line (a comment, a file in another syntax): not
    /// registered, as no variable holds them. `(file, line)`.
    pub outside: Vec<(PathBuf, usize)>,
    /// Files that could not be read, and why.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// `path` as a clean absolute path (`cwd` for a relative one), the way the registry
/// records locations.
pub fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    cwd.join(path).components().collect()
}

/// The work trees of the repository `repo` belongs to: its own, the main one and every
/// linked worktree (each once, the repository's own first).
pub fn work_trees(repo: &Repository) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut push = |path: &Path| {
        let path: PathBuf = path.components().collect();
        if !roots.contains(&path) {
            roots.push(path);
        }
    };
    if let Some(dir) = repo.workdir() {
        push(dir);
    }
    // The main work tree is the common git dir's parent when that is a `.git` directory.
    let common = repo.commondir();
    if common.file_name().is_some_and(|n| n == ".git") {
        if let Some(main) = common.parent() {
            push(main);
        }
    }
    if let Ok(names) = repo.worktrees() {
        for name in names.iter().flatten() {
            if let Ok(worktree) = repo.find_worktree(name) {
                if worktree.path().is_dir() {
                    push(worktree.path());
                }
            }
        }
    }
    roots
}

/// The files of `roots` (work trees) that may hold keys — the env-file names of `policy`
/// and `.envrc` — found also where `.gitignore` ignores them, as env files usually are.
pub fn key_files(roots: &[PathBuf], policy: &EnvFilePolicy) -> Result<Vec<PathBuf>, WalkError> {
    let patterns = policy.key_file_patterns();
    let mut files = Vec::new();
    for root in roots {
        for file in walk::files_named(root, &patterns)? {
            let file: PathBuf = file.components().collect();
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

/// The work tree among `roots` that holds `path` (the deepest one: a linked worktree may
/// lie inside the main one).
fn root_of(path: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
    roots
        .iter()
        .filter(|root| path.starts_with(root))
        .max_by_key(|root| root.components().count())
        .cloned()
}

/// The keys in the env files of every work tree of `repo`, scanned with `config`'s rules:
/// what `install` registers and `keys import` without files reads.
pub fn scan_repository(
    repo: &Repository,
    config: &crate::core::config::Config,
) -> anyhow::Result<(Vec<PathBuf>, Scanned)> {
    let roots = work_trees(repo);
    let files = key_files(&roots, &config.env_file_policy()?)?;
    let setup = super::scan::ScanSetup::new(config, &[], &[], None)?;
    let scanned = scan_files(&files, &setup.scanner, &roots);
    Ok((files, scanned))
}

/// Every key `scanner` finds in an assignment of `files` (absolute paths); `roots` tell
/// each file's work tree.
pub fn scan_files(files: &[PathBuf], scanner: &Scanner, roots: &[PathBuf]) -> Scanned {
    let mut scanned = Scanned::default();
    for path in files {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) => {
                scanned.unreadable.push((path.clone(), err.to_string()));
                continue;
            }
        };
        let doc = Document::parse(&bytes);
        for finding in scanner.scan(&bytes) {
            let (start, end) = finding.span;
            let assignment = doc.lines().iter().find_map(|line| match &line.kind {
                LineKind::Assignment(a) if a.value.start <= start && end <= a.value.end => {
                    Some((line.number, a))
                }
                _ => None,
            });
            let Some((line, a)) = assignment else {
                scanned.outside.push((path.clone(), finding.line));
                continue;
            };
            scanned.found.push(FoundKey {
                whole_value: doc.bytes(&a.value) == finding.secret.expose().as_bytes(),
                provider: finding.provider.parse().unwrap_or(ProviderId::Generic),
                var: String::from_utf8_lossy(doc.bytes(&a.key)).into_owned(),
                key: finding.secret,
                path: path.clone(),
                line,
                repo: root_of(path, roots).or_else(|| keys::repo_of(path)),
            });
        }
    }
    scanned
}

/// The files of `files` whose assignments hold `key` as their whole value, with the
/// variable (a key that the registry knows, found again where it is used).
pub fn whereabouts(files: &[PathBuf], key: &Secret) -> Vec<(PathBuf, String)> {
    let mut places = Vec::new();
    for path in files {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        if memchr::memmem::find(&bytes, key.expose().as_bytes()).is_none() {
            continue;
        }
        let doc = Document::parse(&bytes);
        if let Some(binding) = doc.assignments().into_iter().find(|b| b.value == *key) {
            places.push((path.clone(), binding.key));
        }
    }
    places
}

/// The key a tracked record stands for, read from the files it is used in (matched by
/// fingerprint): a key that is not in the keyring still has to be found to be rotated.
pub fn read_from_locations(record: &KeyRecord) -> Option<Secret> {
    record.locations.iter().find_map(|location| {
        let bytes = std::fs::read(&location.path).ok()?;
        let doc = Document::parse(&bytes);
        let found = doc
            .assignments()
            .into_iter()
            .map(|binding| binding.value)
            .find(|value| value.fingerprint() == record.fingerprint);
        found.or_else(|| {
            // Inside a larger value (a URL): the built-in rules find it.
            let rules = crate::core::rules::RuleSet::builtin().ok()?;
            let scanner = Scanner::new(&rules, Vec::new()).ok()?;
            scanner
                .scan(&bytes)
                .into_iter()
                .map(|f| f.secret)
                .find(|secret| secret.fingerprint() == record.fingerprint)
        })
    })
}

/// A name for a key found in `repo` under `var`: `<repository>-<variable>`, the
/// variable in lower case without a generic tail (`OPENAI_API_KEY` in `webapp` →
/// `webapp-openai`), made unique with `-2`, `-3`… against `taken`.
pub fn derive_name(repo: Option<&Path>, var: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let clean = |text: &str| -> String {
        let mut out = String::new();
        for c in text.chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_string()
    };
    let upper = var.to_ascii_uppercase();
    let mut stem = upper.as_str();
    for tail in [
        "_API_KEY",
        "_API_TOKEN",
        "_ACCESS_TOKEN",
        "_TOKEN",
        "_SECRET_KEY",
        "_KEY",
    ] {
        if let Some(head) = stem.strip_suffix(tail).filter(|h| !h.is_empty()) {
            stem = head;
            break;
        }
    }
    let var_part = clean(stem);
    let repo_part = repo
        .and_then(Path::file_name)
        .map(|n| clean(&n.to_string_lossy()))
        .unwrap_or_default();
    let mut base = match (repo_part.is_empty(), var_part.is_empty()) {
        (false, false) => format!("{repo_part}-{var_part}"),
        (true, false) => var_part,
        (false, true) => repo_part,
        (true, true) => "key".to_string(),
    };
    base.truncate(56);
    let base = base.trim_matches('-').to_string();
    let base = if base.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        base
    } else {
        format!("k{base}")
    };
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken(candidate))
        .expect("some suffix is free")
}

/// How a found key stands in the registry after an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// A new record, under a derived name.
    New,
    /// Known already: new locations were added.
    NewLocations,
    /// Known already, with these locations.
    Unchanged,
}

/// One key of an import.
#[derive(Debug, Clone)]
pub struct ImportedKey {
    pub name: String,
    pub provider: ProviderId,
    pub redacted: String,
    pub var: String,
    pub paths: Vec<PathBuf>,
    pub registered: Registered,
    /// Whether the keyring holds it now.
    pub in_keyring: bool,
    /// Whether this import emptied its values (it is in the keyring).
    pub moved: bool,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub keys: Vec<ImportedKey>,
    /// Values left in place by `--move`: a key inside a larger value. `(file, variable)`.
    pub not_moved: Vec<(PathBuf, String)>,
    /// Files whose values were emptied.
    pub emptied: Vec<PathBuf>,
}

/// An import's plan, shown before anything changes.
pub enum ImportEvent<'a> {
    /// The values `--move` empties: one plan over every file.
    Emptying(&'a EditPlan),
}

/// What `--move` needs: the keyring, a journal for the file edits, and the person.
pub struct Moving<'a> {
    pub vault: &'a Vault,
    /// The journal of the file edits, in the state directory.
    pub journal: PathBuf,
    pub prompter: &'a dyn Prompter,
    pub events: &'a mut dyn FnMut(ImportEvent<'_>),
}

/// Registers `found` keys in the registry at `home` (one record per key, every location
/// recorded; the keyring is not touched). With `moving`, also stores each key in the
/// keyring and empties its value in the files — shown as one plan and confirmed once, the
/// keyring written before any file (so a key is never in neither), the files all or
/// nothing through the journal.
pub fn import(
    found: Vec<FoundKey>,
    home: &Path,
    clock: &Clock,
    mut moving: Option<Moving<'_>>,
) -> Result<ImportReport, InventoryError> {
    let move_into_keyring = moving.is_some();
    let mut report = ImportReport::default();
    // One group per key, in the order first found.
    let mut groups: Vec<(String, Vec<FoundKey>)> = Vec::new();
    for key in found {
        let fingerprint = key.key.fingerprint();
        match groups.iter_mut().find(|(f, _)| *f == fingerprint) {
            Some((_, group)) => group.push(key),
            None => groups.push((fingerprint, vec![key])),
        }
    }
    let plan = if let Some(moving) = moving.as_mut() {
        let plan = emptying_plan(&groups, &mut report)?;
        if !plan.is_empty() {
            (moving.events)(ImportEvent::Emptying(&plan));
            match moving
                .prompter
                .confirm("Move these keys into the keyring and empty their values?")
            {
                Ok(true) => {}
                Ok(false) => return Err(InventoryError::Declined),
                Err(PromptError::NoTerminal) => return Err(InventoryError::NeedsConfirmation),
                Err(err) => return Err(InventoryError::Prompt(err)),
            }
        }
        Some(plan)
    } else {
        None
    };

    let mut registry = Registry::lock(home)?;
    let now = clock.now();
    for (fingerprint, group) in &groups {
        let first = &group[0];
        let movable = move_into_keyring && group.iter().any(|k| k.whole_value);
        let existing = registry
            .find_by_fingerprint(fingerprint)
            .map(|r| r.name.clone());
        let (name, mut registered) = match existing {
            Some(name) => (name, Registered::Unchanged),
            None => {
                let name = derive_name(first.repo.as_deref(), &first.var, &|candidate| {
                    registry.get(candidate).is_some()
                });
                let mut record =
                    keys::new_record(&name, first.provider, &first.var, &first.key, now);
                record.in_keyring = false;
                registry.add(record)?;
                (name, Registered::New)
            }
        };
        let record = registry
            .get_mut(&name)
            .expect("the record was found or added above");
        for key in group {
            let location = Location {
                path: key.path.clone(),
                var: Some(key.var.clone()),
                repo: key.repo.clone(),
            };
            if !record.locations.contains(&location) {
                record.add_location(location);
                if registered == Registered::Unchanged {
                    registered = Registered::NewLocations;
                }
            }
        }
        if let Some(moving) = moving.as_ref().filter(|_| movable && !record.in_keyring) {
            moving.vault.store_key(&name, &first.key)?;
            record.in_keyring = true;
        }
        let mut paths: Vec<PathBuf> = group.iter().map(|k| k.path.clone()).collect();
        paths.dedup();
        report.keys.push(ImportedKey {
            name,
            provider: record.provider,
            redacted: record.redacted.clone(),
            var: first.var.clone(),
            paths,
            registered,
            in_keyring: record.in_keyring,
            moved: movable,
        });
    }
    registry.save()?;
    drop(registry);

    if let (Some(plan), Some(moving)) = (plan.filter(|p| !p.is_empty()), &moving) {
        let applied = edits::apply(&plan, &moving.journal)?;
        report.emptied = applied.written;
    }
    Ok(report)
}

/// The edits that empty every whole-value assignment of the found keys, file by file;
/// the values a key is only part of are listed in `report.not_moved`.
fn emptying_plan(
    groups: &[(String, Vec<FoundKey>)],
    report: &mut ImportReport,
) -> Result<EditPlan, InventoryError> {
    let mut by_file: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for (_, group) in groups {
        for key in group {
            if key.whole_value {
                by_file
                    .entry(key.path.clone())
                    .or_default()
                    .insert(key.var.clone());
            } else {
                report.not_moved.push((key.path.clone(), key.var.clone()));
            }
        }
    }
    let mut plan = EditPlan::default();
    for (path, vars) in by_file {
        let before = std::fs::read(&path).map_err(|source| EditsError::Read {
            path: path.clone(),
            source,
        })?;
        let mut doc = Document::parse(&before);
        for var in &vars {
            doc.set(var, &Secret::new(""))
                .map_err(|refusal| EnvEditError::Refused {
                    path: path.clone(),
                    refusal,
                })?;
        }
        let edit = doc.into_edit(&path);
        if !edit.is_empty() {
            plan.edits.push(edit);
        }
    }
    // The same all-or-nothing checks as any edit: a file marked read-only is refused.
    edits::check_writable(&plan)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_read_well_and_are_unique() {
        let none = |_: &str| false;
        let repo = Path::new("/w/My Web-App");
        assert_eq!(
            derive_name(Some(repo), "OPENAI_API_KEY", &none),
            "my-web-app-openai"
        );
        assert_eq!(
            derive_name(Some(repo), "GITHUB_TOKEN", &none),
            "my-web-app-github"
        );
        assert_eq!(derive_name(None, "DB_PASSWORD", &none), "db-password");
        assert_eq!(derive_name(None, "_KEY", &none), "key");
        let taken = |name: &str| name == "app-openai" || name == "app-openai-2";
        assert_eq!(
            derive_name(Some(Path::new("/app")), "OPENAI_API_KEY", &taken),
            "app-openai-3"
        );
        let long = "X".repeat(100);
        let name = derive_name(Some(Path::new("/r")), &long, &none);
        assert!(name.len() <= 64);
        assert!(keys::validate_name(&name).is_ok(), "{name}");
    }
}
