//! Adding keywarden to one hook file and taking it out again. A plain hooks directory gets
//! a shim (`hooks/shim.sh`); a hook that was there first is renamed to
//! `<name>.keywarden-chained` and run by `keywarden hook`, so it keeps working and its exit
//! code still counts. Husky's `.husky/<name>` scripts belong to the team and are committed,
//! so they get a marked block (`hooks/husky-block.sh`) instead of being replaced. Both
//! begin with `hooks/find-keywarden.sh`.

use super::{HookName, HooksError, HooksLocation, Txn};
use std::path::{Path, PathBuf};

const SHIM: &str = include_str!("../../../hooks/shim.sh");
const HUSKY_BLOCK: &str = include_str!("../../../hooks/husky-block.sh");
/// Both of the above start by finding the binary (PATH, then the recorded path) or
/// failing closed.
const FIND_KEYWARDEN: &str = include_str!("../../../hooks/find-keywarden.sh");
/// The line that marks a file as a keywarden shim.
const SHIM_MARKER: &str = "# keywarden-shim: ";
const CHAINED_SUFFIX: &str = ".keywarden-chained";

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

pub fn is_keywarden_shim(content: &[u8]) -> bool {
    String::from_utf8_lossy(content)
        .lines()
        .take(3)
        .any(|line| line.starts_with(SHIM_MARKER))
}

fn sh_quote_inner(path: &Path) -> String {
    path.to_string_lossy().replace('\'', r"'\''")
}

fn render(template: &str, hook: HookName, keywarden: &Path) -> String {
    template
        .replace("@FIND_KEYWARDEN@\n", FIND_KEYWARDEN)
        .replace("@HOOK@", hook.as_str())
        .replace("@KEYWARDEN@", &sh_quote_inner(keywarden))
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

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, HooksError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HooksError::io(path, e)),
    }
}

/// Adds keywarden to `hook` at `location`; `keywarden` is the binary path the shim falls
/// back to when keywarden is not on PATH.
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
        let block = render(HUSKY_BLOCK, hook, keywarden);
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
    let shim = render(SHIM, hook, keywarden);
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
            if chained.exists() {
                return Err(HooksError::ChainSlotTaken { path: chained });
            }
            txn.rename(&target, &chained)?;
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
    if !is_keywarden_shim(&bytes) {
        return Ok(UninstallAction::NotInstalled);
    }
    let chained = chained_path(&target);
    if chained.exists() {
        txn.rename(&chained, &target)?;
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

    #[test]
    fn shim_records_a_quoted_path() {
        let shim = render(SHIM, HookName::PrePush, Path::new("/opt/it's/keywarden"));
        assert!(shim.contains(r"keywarden_recorded='/opt/it'\''s/keywarden'"));
        assert!(shim.contains("hook pre-push \"$@\""));
        assert!(is_keywarden_shim(shim.as_bytes()));
        assert!(!shim.contains("@HOOK@") && !shim.contains("@KEYWARDEN@"));
    }

    #[test]
    fn husky_block_goes_after_the_shebang_and_comes_out_cleanly() {
        let script = "#!/bin/sh\r\nnpm test\r\n";
        let block = render(HUSKY_BLOCK, HookName::PreCommit, Path::new("/k"));
        let with = insert_block(script, &block);
        assert!(with.starts_with("#!/bin/sh\r\n# >>> keywarden pre-commit >>>"));
        assert!(with.ends_with("npm test\r\n"));
        let (without, had) = strip_block(&with, HookName::PreCommit);
        assert!(had);
        assert_eq!(without, script);
    }
}
