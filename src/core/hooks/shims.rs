//! Adding keywarden to one hook file and taking it out again. A plain hooks directory gets
//! a shim (`hooks/shim.sh`); a hook that was there first is kept as
//! `<name>.keywarden-chained` and run by `keywarden hook`, so it keeps working and its exit
//! code still counts. Husky's `.husky/<name>` scripts belong to the team and are committed,
//! so they get a marked block (`hooks/husky-block.sh`) instead of being replaced.
//!
//! Both begin by finding the binary. A hook file nobody else sees (`.git/hooks`, a global
//! hooks directory) records the installer's absolute path and fails closed without it
//! (`hooks/find-keywarden.sh`). A file that may be committed — Husky's scripts, a
//! `core.hooksPath` inside the work tree — names no path on this machine
//! (`hooks/find-keywarden-shared.sh`): keywarden comes from `PATH`, or from the binary this
//! clone recorded under its git dir (`keywarden/hook-binary`, so the installer still fails
//! closed), and a teammate's clone without keywarden is told once and let through.
//!
//! Swaps never leave a moment without a hook: a hook being chained is first given its
//! second name and only then replaced by the shim in one rename; uninstall renames a copy
//! of it back over the shim and only then removes the chained name.

use super::{HookName, HooksError, HooksLocation, Txn};
use std::path::{Path, PathBuf};

const SHIM: &str = include_str!("../../../hooks/shim.sh");
const HUSKY_BLOCK: &str = include_str!("../../../hooks/husky-block.sh");
/// Finding the binary in a hook file only this machine has: PATH, then the recorded path,
/// or failing closed.
const FIND_KEYWARDEN: &str = include_str!("../../../hooks/find-keywarden.sh");
/// Finding it in a hook file that may be committed: PATH, then this clone's record.
const FIND_KEYWARDEN_SHARED: &str = include_str!("../../../hooks/find-keywarden-shared.sh");
/// What both say and do when the binary they expect is gone.
const KEYWARDEN_MISSING: &str = include_str!("../../../hooks/keywarden-missing.sh");
/// The line that marks a file as a keywarden shim.
const SHIM_MARKER: &str = "# keywarden-shim: ";
const CHAINED_SUFFIX: &str = ".keywarden-chained";
/// Under the common git dir: the binary a shared hook falls back to in this clone.
const BINARY_RECORD: &str = "keywarden/hook-binary";

/// What install did to one hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallAction {
    Created,
    /// An existing hook was kept: renamed to `chained` and run before keywarden's check.
    Chained {
        chained: PathBuf,
    },
    /// A keywarden block was added to an existing Husky script.
    AddedToScript,
    /// Already installed exactly like this.
    Unchanged,
    /// Already installed; rewritten (e.g. the recorded binary path changed).
    Updated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UninstallAction {
    Removed,
    /// Removed, and the chained hook put back in its place.
    Restored,
    /// The keywarden block was taken out of a Husky script.
    RemovedFromScript,
    NotInstalled,
}

/// What a hook file holds, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookState {
    pub installed: bool,
    /// A hook keywarden runs before its own check.
    pub chained: Option<PathBuf>,
    /// Present but not keywarden's (and keywarden not in it).
    pub foreign: bool,
}

pub fn chained_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(CHAINED_SUFFIX);
    PathBuf::from(name)
}

/// The shim whose chained name `chained` is (`chained_path` backwards).
pub fn shim_of_chained(chained: &Path) -> Option<PathBuf> {
    let name = chained.to_str()?.strip_suffix(CHAINED_SUFFIX)?;
    Some(PathBuf::from(name))
}

pub fn is_keywarden_shim(content: &[u8]) -> bool {
    String::from_utf8_lossy(content)
        .lines()
        .take(3)
        .any(|line| line.starts_with(SHIM_MARKER))
}

fn sh_quote_inner(path: &Path) -> String {
    path.to_string_lossy().replace('\'', r"'\''")
}

/// `template` for `hook`; a shared hook file gets no machine path.
fn render(template: &str, hook: HookName, keywarden: &Path, shared: bool) -> String {
    let finder = if shared {
        FIND_KEYWARDEN_SHARED
    } else {
        FIND_KEYWARDEN
    };
    template
        .replace("@FIND_KEYWARDEN@\n", finder)
        .replace("@KEYWARDEN_MISSING@\n", KEYWARDEN_MISSING)
        .replace("@HOOK@", hook.as_str())
        .replace("@KEYWARDEN@", &sh_quote_inner(keywarden))
}

/// Where a clone records the binary its shared hooks fall back to.
fn binary_record(common_dir: &Path) -> PathBuf {
    common_dir.join(BINARY_RECORD)
}

/// Records `keywarden` as this clone's binary for shared hook files.
pub fn write_binary_record(
    txn: &mut Txn,
    common_dir: &Path,
    keywarden: &Path,
) -> Result<(), HooksError> {
    let record = binary_record(common_dir);
    if let Some(parent) = record.parent() {
        txn.create_dir_all(parent)?;
    }
    let text = keywarden.to_string_lossy();
    if read_optional(&record)?.is_some_and(|b| b == text.as_bytes()) {
        return Ok(());
    }
    txn.write(&record, text.as_bytes(), 0o644)?;
    Ok(())
}

/// Removes this clone's binary record; whether there was one.
pub fn remove_binary_record(txn: &mut Txn, common_dir: &Path) -> Result<bool, HooksError> {
    let record = binary_record(common_dir);
    if read_optional(&record)?.is_none() {
        return Ok(false);
    }
    txn.remove(&record)?;
    Ok(true)
}

fn block_markers(hook: HookName) -> (String, String) {
    (
        format!("# >>> keywarden {} >>>", hook.as_str()),
        format!("# <<< keywarden {} <<<", hook.as_str()),
    )
}

/// The Husky script with the keywarden block (if any) removed, and whether it had one.
fn strip_block(text: &str, hook: HookName) -> (String, bool) {
    let (start, end) = block_markers(hook);
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    let mut found = false;
    for line in text.split_inclusive('\n') {
        if !inside && line.starts_with(&start) {
            inside = true;
            found = true;
            continue;
        }
        if inside {
            if line.trim_end() == end {
                inside = false;
            }
            continue;
        }
        out.push_str(line);
    }
    (out, found)
}

/// Whether `a` and `b` are two names of one file (the hard link install and uninstall
/// make while they swap a hook).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, HooksError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HooksError::io(path, e)),
    }
}

/// Adds keywarden to `hook` at `location`; `keywarden` is the binary path a hook file only
/// this machine sees falls back to when keywarden is not on PATH.
pub fn install_hook(
    txn: &mut Txn,
    location: &HooksLocation,
    hook: HookName,
    keywarden: &Path,
) -> Result<InstallAction, HooksError> {
    let target = location.target(hook);
    if let Some(parent) = target.parent() {
        txn.create_dir_all(parent)?;
    }
    let existing = read_optional(&target)?;
    if location.is_husky() {
        let block = render(HUSKY_BLOCK, hook, keywarden, true);
        return Ok(match existing {
            None => {
                txn.write(&target, block.as_bytes(), 0o755)?;
                InstallAction::Created
            }
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let (without, had) = strip_block(&text, hook);
                let updated = insert_block(&without, &block);
                if updated == text {
                    InstallAction::Unchanged
                } else {
                    txn.write(&target, updated.as_bytes(), file_mode(&target))?;
                    if had {
                        InstallAction::Updated
                    } else {
                        InstallAction::AddedToScript
                    }
                }
            }
        });
    }
    let shim = render(SHIM, hook, keywarden, location.shared);
    match existing {
        None => {
            txn.write(&target, shim.as_bytes(), 0o755)?;
            Ok(InstallAction::Created)
        }
        Some(bytes) if is_keywarden_shim(&bytes) => {
            if bytes == shim.as_bytes() {
                Ok(InstallAction::Unchanged)
            } else {
                txn.write(&target, shim.as_bytes(), 0o755)?;
                Ok(InstallAction::Updated)
            }
        }
        Some(_) => {
            let chained = chained_path(&target);
            if same_file(&target, &chained) {
                // An install that was stopped after keeping the hook under its second name.
            } else if chained.exists() {
                return Err(HooksError::ChainSlotTaken { path: chained });
            } else {
                // The hook gets its chained name first, so that `pre-commit` is the user's
                // hook until the rename below makes it the shim.
                txn.keep_copy(&target, &chained)?;
            }
            txn.write(&target, shim.as_bytes(), 0o755)?;
            Ok(InstallAction::Chained { chained })
        }
    }
}

/// Puts the block after a shebang line, before the team's own commands, so a key is
/// caught before slower checks run.
fn insert_block(script: &str, block: &str) -> String {
    let newline = if script.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let block = if newline == "\n" {
        block.to_string()
    } else {
        block.replace('\n', "\r\n")
    };
    if script.starts_with("#!") {
        let split = script.find('\n').map(|i| i + 1).unwrap_or(script.len());
        let (shebang, rest) = script.split_at(split);
        let shebang = if shebang.ends_with('\n') {
            shebang.to_string()
        } else {
            format!("{shebang}{newline}")
        };
        format!("{shebang}{block}{rest}")
    } else {
        format!("{block}{script}")
    }
}

fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o755)
}

/// Takes keywarden out of `hook` at `location`, restoring a chained hook.
pub fn uninstall_hook(
    txn: &mut Txn,
    location: &HooksLocation,
    hook: HookName,
) -> Result<UninstallAction, HooksError> {
    let target = location.target(hook);
    let Some(bytes) = read_optional(&target)? else {
        return Ok(UninstallAction::NotInstalled);
    };
    if location.is_husky() {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (without, had) = strip_block(&text, hook);
        if !had {
            return Ok(UninstallAction::NotInstalled);
        }
        if without.trim().is_empty() {
            txn.remove(&target)?;
        } else {
            txn.write(&target, without.as_bytes(), file_mode(&target))?;
        }
        return Ok(UninstallAction::RemovedFromScript);
    }
    let chained = chained_path(&target);
    if !is_keywarden_shim(&bytes) {
        // An uninstall that was stopped after putting the hook back: drop its second name.
        if same_file(&target, &chained) {
            txn.remove(&chained)?;
            return Ok(UninstallAction::Restored);
        }
        return Ok(UninstallAction::NotInstalled);
    }
    if chained.exists() {
        // A shim that is running right now still finds the chained hook at its name.
        txn.replace_with_copy(&chained, &target)?;
        txn.remove(&chained)?;
        Ok(UninstallAction::Restored)
    } else {
        txn.remove(&target)?;
        Ok(UninstallAction::Removed)
    }
}

/// What `hook` at `location` holds.
pub fn inspect(location: &HooksLocation, hook: HookName) -> Result<HookState, HooksError> {
    let target = location.target(hook);
    let content = read_optional(&target)?;
    let installed = match &content {
        None => false,
        Some(bytes) if location.is_husky() => strip_block(&String::from_utf8_lossy(bytes), hook).1,
        Some(bytes) => is_keywarden_shim(bytes),
    };
    let chained = chained_path(&target);
    Ok(HookState {
        installed,
        chained: (installed && chained.exists()).then_some(chained),
        foreign: content.is_some() && !installed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_placeholder(text: &str) -> bool {
        [
            "@HOOK@",
            "@KEYWARDEN@",
            "@FIND_KEYWARDEN@",
            "@KEYWARDEN_MISSING@",
        ]
        .iter()
        .any(|p| text.contains(p))
    }

    #[test]
    fn shim_records_a_quoted_path() {
        let shim = render(
            SHIM,
            HookName::PrePush,
            Path::new("/opt/it's/keywarden"),
            false,
        );
        assert!(shim.contains(r"keywarden_bin='/opt/it'\''s/keywarden'"));
        assert!(shim.contains("hook pre-push \"$@\""));
        assert!(is_keywarden_shim(shim.as_bytes()));
        assert!(!has_placeholder(&shim), "{shim}");
    }

    #[test]
    fn shared_hook_files_name_no_machine_path() {
        let machine = Path::new("/home/me/src/keywarden/target/release/keywarden");
        for template in [SHIM, HUSKY_BLOCK] {
            let text = render(template, HookName::PreCommit, machine, true);
            assert!(!text.contains("/home/me"), "{text}");
            assert!(text.contains("keywarden/hook-binary"), "{text}");
            assert!(!has_placeholder(&text), "{text}");
        }
    }

    #[test]
    fn husky_block_goes_after_the_shebang_and_comes_out_cleanly() {
        let script = "#!/bin/sh\r\nnpm test\r\n";
        let block = render(HUSKY_BLOCK, HookName::PreCommit, Path::new("/k"), true);
        let with = insert_block(script, &block);
        assert!(with.starts_with("#!/bin/sh\r\n# >>> keywarden pre-commit >>>"));
        assert!(with.ends_with("npm test\r\n"));
        let (without, had) = strip_block(&with, HookName::PreCommit);
        assert!(had);
        assert_eq!(without, script);
    }
}
