//! Replacing an old secret by a new one in several files — every registered location of a
//! key and every env file that holds it — as one plan (shown as one redacted diff, confirmed
//! once), applied all or nothing: after a crash at any point each file holds either its old
//! or its new content in full, and resuming (or aborting) finishes the job.
//!
//! The journal (a JSON file the caller names, in its state directory) is written before any
//! file changes and holds paths and content hashes, never a secret. Beside each file, in its
//! directory and with its mode, the new content is staged and the old one kept until the
//! journal is done: the only moment a file changes is a `rename`, which is atomic.

use crate::core::envfile::{plan_replace, EnvEdit, EnvEditError, Syntax, Warning};
use crate::core::fault;
use crate::core::fs::{self, FsError, Mode, SECRET_MODE};
use crate::core::secret::Secret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EditsError {
    #[error("{path} no longer exists (pass --skip-missing to leave it out and drop it from the registry)")]
    Missing { path: PathBuf },
    #[error("{path} is not writable, so the key in it cannot be replaced (make it writable, or pass --skip-missing to leave it out)")]
    ReadOnly { path: PathBuf },
    #[error("{path} is not writable (make it writable and run again)")]
    NotWritable { path: PathBuf },
    #[error(transparent)]
    Edit(#[from] EnvEditError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the journal {path} cannot be read")]
    Journal {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} changed since the edit was planned; nothing more was changed (check the file, then run again)")]
    Changed { path: PathBuf },
}

/// What to do with a registered location that is gone or read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    Refuse,
    Skip,
}

/// The edits to make, file by file, and the files left out.
#[derive(Debug, Default)]
pub struct EditPlan {
    pub edits: Vec<EnvEdit>,
    /// Files passed over with `Unavailable::Skip`: missing or not writable.
    pub skipped: Vec<PathBuf>,
}

impl EditPlan {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    pub fn warnings(&self) -> impl Iterator<Item = (&Path, &Warning)> {
        self.edits
            .iter()
            .flat_map(|e| e.warnings.iter().map(move |w| (e.path.as_path(), w)))
    }
}

/// Plans replacing `old` by `new` in each of `files` that holds it (the others are passed
/// over). Every edit is checked before anything is written: a value that would need
/// re-quoting, a file dotenvy would read differently, a missing or read-only file.
pub fn plan(
    files: &[PathBuf],
    old: &Secret,
    new: &Secret,
    unavailable: Unavailable,
) -> Result<EditPlan, EditsError> {
    let mut plan = EditPlan::default();
    let mut seen = BTreeSet::new();
    for path in files {
        let target = match fs::resolve_symlinks(path) {
            Ok(target) => target,
            Err(_) => path.clone(),
        };
        if !seen.insert(target.clone()) {
            continue;
        }
        let before = match std::fs::read(&target) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                match unavailable {
                    Unavailable::Refuse => return Err(EditsError::Missing { path: path.clone() }),
                    Unavailable::Skip => plan.skipped.push(path.clone()),
                }
                continue;
            }
            Err(source) => {
                return Err(EditsError::Read {
                    path: path.clone(),
                    source,
                })
            }
        };
        if memchr::memmem::find(&before, old.expose().as_bytes()).is_none() {
            continue;
        }
        if !writable(&target) {
            match unavailable {
                Unavailable::Refuse => return Err(EditsError::ReadOnly { path: path.clone() }),
                Unavailable::Skip => {
                    plan.skipped.push(path.clone());
                    continue;
                }
            }
        }
        let edit = plan_replace(&target, &before, Syntax::of_path(path), old, new)?;
        if !edit.is_empty() {
            plan.edits.push(edit);
        }
    }
    Ok(plan)
}

/// Refuses a plan with a file that cannot be written, before anything is: for plans made
/// with other edits than `plan`'s (`core::envfile::plan_set`).
pub fn check_writable(plan: &EditPlan) -> Result<(), EditsError> {
    match plan.edits.iter().find(|edit| !writable(&edit.path)) {
        Some(edit) => Err(EditsError::NotWritable {
            path: edit.path.clone(),
        }),
        None => Ok(()),
    }
}

/// Whether the file and its directory can be written (the rename needs both). A file
/// without any write permission counts as read-only even for root, who could write it
/// anyway: its owner marked it so.
fn writable(path: &Path) -> bool {
    let marked = std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly());
    let file_ok = !marked && std::fs::OpenOptions::new().append(true).open(path).is_ok();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir_ok =
        dir.is_none_or(|d| std::fs::metadata(d).is_ok_and(|m| !m.permissions().readonly()));
    file_ok && dir_ok
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Phase {
    /// Staged and old copies are being written; no file has changed yet.
    Staging,
    /// Every staged copy is complete; files are being renamed.
    Staged,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JournalFile {
    path: PathBuf,
    old_sha256: String,
    new_sha256: String,
    staged: PathBuf,
    kept: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    version: u32,
    phase: Phase,
    files: Vec<JournalFile>,
}

impl Journal {
    fn for_plan(plan: &EditPlan, phase: Phase) -> Self {
        let files = plan
            .edits
            .iter()
            .map(|edit| {
                let (staged, kept) = siblings(&edit.path);
                JournalFile {
                    path: edit.path.clone(),
                    old_sha256: sha256(&edit.before),
                    new_sha256: sha256(&edit.after),
                    staged,
                    kept,
                }
            })
            .collect();
        Journal {
            version: 1,
            phase,
            files,
        }
    }
}

/// What applying (or resuming) did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Files that now hold the new content.
    pub written: Vec<PathBuf>,
}

/// Whether an unfinished edit is recorded at `journal`.
pub fn is_unfinished(journal: &Path) -> bool {
    journal.exists()
}

/// Applies `plan` all or nothing, journaled at `journal`. If an unfinished journal is there
/// already, that earlier run is finished first (see `resume`).
pub fn apply(plan: &EditPlan, journal: &Path) -> Result<Applied, EditsError> {
    if journal.exists() {
        return resume(plan, journal);
    }
    let mut record = Journal::for_plan(plan, Phase::Staging);
    write_journal(journal, &record)?;
    fault::point("edits:journaled");
    stage(plan, &record)?;
    record.phase = Phase::Staged;
    write_journal(journal, &record)?;
    fault::point("edits:staged");
    finish(&record, journal)
}

/// Finishes an unfinished edit. While files were still being staged nothing had changed, so
/// the edit is staged again from `plan` (made afresh by the caller with the same keys); once
/// staged, each file is brought to its new content (a file already new is left alone, a file
/// that is neither old nor new stops everything with `Changed`).
pub fn resume(plan: &EditPlan, journal: &Path) -> Result<Applied, EditsError> {
    let mut record = read_journal(journal)?;
    if record.phase == Phase::Staging {
        discard_copies(&record);
        let _ = std::fs::remove_file(journal);
        return apply(plan, journal);
    }
    for file in &mut record.files {
        // The plan made now may be empty for a file that is already new.
        if let Some(edit) = plan.edits.iter().find(|e| e.path == file.path) {
            if sha256(&edit.after) != file.new_sha256 {
                return Err(EditsError::Changed {
                    path: file.path.clone(),
                });
            }
        }
    }
    finish(&record, journal)
}

/// Undoes an unfinished edit: every file back to its old content, the copies removed.
pub fn abort(journal: &Path) -> Result<Vec<PathBuf>, EditsError> {
    let record = read_journal(journal)?;
    let mut restored = Vec::new();
    if record.phase == Phase::Staged {
        for file in &record.files {
            let current = read_hash(&file.path)?;
            if current.as_deref() == Some(file.old_sha256.as_str()) {
                continue;
            }
            if current.as_deref() != Some(file.new_sha256.as_str())
                || read_hash(&file.kept)?.as_deref() != Some(file.old_sha256.as_str())
            {
                return Err(EditsError::Changed {
                    path: file.path.clone(),
                });
            }
            rename(&file.kept, &file.path)?;
            restored.push(file.path.clone());
        }
    }
    discard_copies(&record);
    remove_journal(journal)?;
    Ok(restored)
}

/// Writes the staged (new) and kept (old) copy of every file, complete and synced.
fn stage(plan: &EditPlan, record: &Journal) -> Result<(), EditsError> {
    for (edit, file) in plan.edits.iter().zip(&record.files) {
        let mode = current_mode(&edit.path);
        write_copy(&file.staged, &edit.after, mode)?;
        write_copy(&file.kept, &edit.before, mode)?;
    }
    Ok(())
}

fn finish(record: &Journal, journal: &Path) -> Result<Applied, EditsError> {
    let mut applied = Applied::default();
    for (i, file) in record.files.iter().enumerate() {
        let current = read_hash(&file.path)?;
        if current.as_deref() == Some(file.new_sha256.as_str()) {
            applied.written.push(file.path.clone());
            continue;
        }
        if current.as_deref() != Some(file.old_sha256.as_str())
            || read_hash(&file.staged)?.as_deref() != Some(file.new_sha256.as_str())
        {
            return Err(EditsError::Changed {
                path: file.path.clone(),
            });
        }
        rename(&file.staged, &file.path)?;
        applied.written.push(file.path.clone());
        fault::point(&format!("edits:renamed:{}", i + 1));
    }
    discard_copies(record);
    remove_journal(journal)?;
    Ok(applied)
}

/// `.NAME.keywarden-new` and `.NAME.keywarden-old` beside the file.
fn siblings(path: &Path) -> (PathBuf, PathBuf) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let dir = path.parent().unwrap_or(Path::new("."));
    (
        dir.join(format!(".{name}.keywarden-new")),
        dir.join(format!(".{name}.keywarden-old")),
    )
}

fn current_mode(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            return meta.permissions().mode() & 0o7777;
        }
    }
    SECRET_MODE
}

/// A complete, synced copy with `mode`, replacing a stale copy from an earlier run.
fn write_copy(path: &Path, data: &[u8], mode: u32) -> Result<(), EditsError> {
    let _ = std::fs::remove_file(path);
    let mut file = fs::create_private(path)?;
    let fail = |source| EditsError::Write {
        path: path.to_path_buf(),
        source,
    };
    file.write_all(data).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(fail)?;
    }
    file.sync_all().map_err(fail)?;
    Ok(())
}

fn rename(from: &Path, to: &Path) -> Result<(), EditsError> {
    std::fs::rename(from, to).map_err(|source| EditsError::Write {
        path: to.to_path_buf(),
        source,
    })?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn discard_copies(record: &Journal) {
    for file in &record.files {
        let _ = std::fs::remove_file(&file.staged);
        let _ = std::fs::remove_file(&file.kept);
    }
}

fn sha256(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_hash(path: &Path) -> Result<Option<String>, EditsError> {
    let bytes = crate::core::fs::read_if_present(path).map_err(|source| EditsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes.map(|bytes| sha256(&bytes)))
}

fn write_journal(path: &Path, record: &Journal) -> Result<(), EditsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| EditsError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let text = fs::json_document(record);
    fs::write_atomic(path, &text, Mode::Exact(SECRET_MODE))?;
    Ok(())
}

fn read_journal(path: &Path) -> Result<Journal, EditsError> {
    let bytes = std::fs::read(path).map_err(|source| EditsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| EditsError::Journal {
        path: path.to_path_buf(),
        source,
    })
}

fn remove_journal(path: &Path) -> Result<(), EditsError> {
    crate::core::fs::remove_if_present(path).map_err(|source| EditsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (Secret, Secret) {
        let body = |seed: usize| -> String {
            (0..40)
                .map(|i| (b"aZ3kQ9xPm2Lw7RtYbN4cV8"[(i * 7 + seed) % 22]) as char)
                .collect()
        };
        (
            Secret::new(format!("ghp_{}", &body(1)[..36])),
            Secret::new(format!("ghp_{}", &body(5)[..36])),
        )
    }

    fn setup() -> (tempfile::TempDir, Vec<PathBuf>, Secret, Secret) {
        let (old, new) = keys();
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join(".env");
        let b = dir.path().join("app/config.yaml");
        std::fs::create_dir_all(b.parent().expect("parent")).expect("mkdir");
        std::fs::write(
            &a,
            format!("# app\nexport TOKEN=\"{}\" # prod\n", old.expose()),
        )
        .expect("write");
        std::fs::write(&b, format!("token: {}\nother: 1\n", old.expose())).expect("write");
        let unrelated = dir.path().join("README");
        std::fs::write(&unrelated, "no key here\n").expect("write");
        (dir, vec![a, b, unrelated], old, new)
    }

    #[test]
    fn every_file_holding_the_key_changes_and_nothing_else() {
        let (dir, files, old, new) = setup();
        let plan = plan(&files, &old, &new, Unavailable::Refuse).expect("plan");
        assert_eq!(plan.edits.len(), 2);
        let journal = dir.path().join("state/edits.json");
        let applied = apply(&plan, &journal).expect("apply");
        assert_eq!(applied.written.len(), 2);
        let env = std::fs::read_to_string(&files[0]).expect("read");
        assert_eq!(
            env,
            format!("# app\nexport TOKEN=\"{}\" # prod\n", new.expose())
        );
        assert!(std::fs::read_to_string(&files[1])
            .expect("read")
            .starts_with(&format!("token: {}\n", new.expose())));
        assert!(!journal.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("keywarden-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        // Again: nothing holds the old key any more.
        assert!(plan_again(&files, &old, &new).is_empty());
    }

    fn plan_again(files: &[PathBuf], old: &Secret, new: &Secret) -> EditPlan {
        plan(files, old, new, Unavailable::Refuse).expect("plan")
    }

    #[test]
    fn a_run_stopped_after_staging_or_between_renames_is_finished_or_undone() {
        let (dir, files, old, new) = setup();
        let journal = dir.path().join("edits.json");
        let planned = plan_again(&files, &old, &new);
        // As if killed after the first rename: journal staged, one file new, one old.
        let mut record = Journal::for_plan(&planned, Phase::Staging);
        stage(&planned, &record).expect("stage");
        record.phase = Phase::Staged;
        write_journal(&journal, &record).expect("journal");
        rename(&record.files[0].staged, &record.files[0].path).expect("rename");

        // Abort puts the renamed file back.
        let restored = abort(&journal).expect("abort");
        assert_eq!(restored, vec![record.files[0].path.clone()]);
        assert!(std::fs::read_to_string(&files[0])
            .expect("read")
            .contains(old.expose()));
        assert!(!journal.exists());

        // The same state again, and a resume finishes it.
        stage(&planned, &record).expect("stage");
        write_journal(&journal, &record).expect("journal");
        rename(&record.files[0].staged, &record.files[0].path).expect("rename");
        let replanned = plan_again(&files, &old, &new);
        let applied = resume(&replanned, &journal).expect("resume");
        assert_eq!(applied.written.len(), 2);
        for file in &files[..2] {
            let text = std::fs::read_to_string(file).expect("read");
            assert!(text.contains(new.expose()) && !text.contains(old.expose()));
        }
        assert!(!journal.exists());
    }

    #[test]
    fn a_file_changed_meanwhile_stops_the_resume_and_is_not_touched() {
        let (dir, files, old, new) = setup();
        let journal = dir.path().join("edits.json");
        let planned = plan_again(&files, &old, &new);
        let record = Journal::for_plan(&planned, Phase::Staged);
        stage(&planned, &record).expect("stage");
        write_journal(&journal, &record).expect("journal");
        std::fs::write(&files[0], "EDITED=by hand\n").expect("write");
        let err = resume(&EditPlan::default(), &journal).expect_err("changed");
        assert!(matches!(err, EditsError::Changed { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(&files[0]).expect("read"),
            "EDITED=by hand\n"
        );
        assert!(journal.exists(), "the journal stays for a later decision");
    }

    #[test]
    fn missing_and_read_only_locations_are_refused_or_skipped() {
        let (dir, mut files, old, new) = setup();
        files.push(dir.path().join("gone/.env"));
        let err = plan(&files, &old, &new, Unavailable::Refuse).expect_err("missing");
        assert!(err.to_string().contains("no longer exists"), "{err}");
        let plan = plan(&files, &old, &new, Unavailable::Skip).expect("skip");
        assert_eq!(plan.skipped, vec![dir.path().join("gone/.env")]);
        assert_eq!(plan.edits.len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let ro = dir.path().join("ro.env");
            std::fs::write(&ro, format!("K={}\n", old.expose())).expect("write");
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o400)).expect("chmod");
            // Refused for root too, who could write it: it is marked read-only.
            let err = super::plan(&[ro], &old, &new, Unavailable::Refuse).expect_err("ro");
            assert!(err.to_string().contains("not writable"), "{err}");
        }
    }

    #[test]
    fn modes_are_kept() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let (dir, files, old, new) = setup();
            std::fs::set_permissions(&files[0], std::fs::Permissions::from_mode(0o640))
                .expect("chmod");
            let plan = plan_again(&files, &old, &new);
            apply(&plan, &dir.path().join("j.json")).expect("apply");
            let mode = std::fs::metadata(&files[0])
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o640);
        }
    }
}
