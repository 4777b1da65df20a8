//! Which key a `keys check` or `keys revoke` acts on: a registered name, a key given on
//! stdin, or a finding of a scan of this repository found again by the fingerprint a scan
//! printed (history first, then the working tree); and the keys a history scan finds, for
//! `purge --from-scan` to choose among. A given key or finding that the registry knows gets
//! its registered name, so what happens to it is recorded.

use super::keys::{resolve_provider, KeyInput, KeysError};
use super::scan::{self, ScanSetup, Source};
use super::vault::Vault;
use crate::core::progress::Silent;
use crate::core::provider::ProviderId;
use crate::core::scan::Finding;
use crate::core::secret::Secret;
use std::path::{Path, PathBuf};

/// Which key a `keys check` or `keys revoke` is about.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A registered key, by name.
    Registered(String),
    /// A key read from stdin (or a prompt), with the provider if given.
    Given {
        input: KeyInput,
        provider: Option<ProviderId>,
    },
    /// A finding of a scan of this repository, by its fingerprint.
    Finding { fingerprint: String, repo: PathBuf },
}

/// A key ready to be checked or revoked.
#[derive(Debug, Clone)]
pub struct ResolvedKey {
    pub key: Secret,
    pub provider: ProviderId,
    /// The registered name, when the registry knows this key.
    pub name: Option<String>,
    pub source: KeySource,
}

impl ResolvedKey {
    /// How people are told which key this is: its name, else its redacted form.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.key.redacted())
    }
}

/// Finds the key a `KeySource` names. A given key or a finding that the registry knows
/// (by fingerprint) gets its registered name, so what happens to it is recorded.
pub fn resolve(
    source: KeySource,
    vault: &Vault,
    setup: impl FnOnce(&Path) -> anyhow::Result<ScanSetup>,
) -> Result<ResolvedKey, KeysError> {
    let registry = vault.registry()?;
    let (key, provider) = match &source {
        KeySource::Registered(name) => {
            let record = vault.record(name)?;
            (vault.key(&record)?, record.provider)
        }
        KeySource::Given { input, provider } => {
            let provider = resolve_provider(*provider, &input.key)?;
            (input.key.clone(), provider)
        }
        KeySource::Finding { fingerprint, repo } => {
            let finding = find_finding(repo, fingerprint, setup)?;
            let provider = finding
                .provider
                .parse()
                .map_err(|_| KeysError::CustomProvider(finding.provider.to_string()))?;
            (finding.secret, provider)
        }
    };
    let name = registry
        .find_by_fingerprint(&key.fingerprint())
        .map(|r| r.name.clone());
    Ok(ResolvedKey {
        key,
        provider,
        name,
        source,
    })
}

/// The finding with this fingerprint: searched in the repository's history, then in its
/// working tree (a key not committed yet), with the repository's configuration.
pub fn find_finding(
    start: &Path,
    fingerprint: &str,
    setup: impl FnOnce(&Path) -> anyhow::Result<ScanSetup>,
) -> Result<Finding, KeysError> {
    let mut found = find_findings(start, &[fingerprint.to_string()], setup)?;
    Ok(found.swap_remove(0))
}

/// The findings with these fingerprints, in their order, each searched as
/// [`find_finding`] does, with one scan of each source for all of them.
pub fn find_findings(
    start: &Path,
    fingerprints: &[String],
    setup: impl FnOnce(&Path) -> anyhow::Result<ScanSetup>,
) -> Result<Vec<Finding>, KeysError> {
    let mut wanted = Vec::with_capacity(fingerprints.len());
    for fingerprint in fingerprints {
        let trimmed = fingerprint.trim();
        let hex = trimmed.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeysError::BadFingerprint(trimmed.to_string()));
        }
        wanted.push(trimmed.to_ascii_lowercase());
    }
    let repo = crate::core::git::open(start).map_err(|e| KeysError::Scan(e.into()))?;
    let root = crate::core::git::root_dir(&repo);
    let setup = setup(&root).map_err(KeysError::Scan)?;
    let sources = [
        Source::History { all_objects: false },
        Source::Worktree {
            paths: vec![root.clone()],
            respect_ignore: false,
        },
    ];
    let mut found: Vec<Option<Finding>> = vec![None; wanted.len()];
    for source in &sources {
        if found.iter().all(Option::is_some) {
            break;
        }
        let results =
            scan::scan(Some(&repo), &root, source, &setup, &Silent).map_err(KeysError::Scan)?;
        for finding in results.findings {
            let fingerprint = finding.fingerprint();
            if let Some(at) = wanted.iter().position(|w| *w == fingerprint) {
                found[at].get_or_insert(finding);
            }
        }
    }
    found
        .into_iter()
        .zip(fingerprints)
        .map(|(finding, fingerprint)| {
            finding.ok_or_else(|| KeysError::NoSuchFinding(fingerprint.trim().to_string()))
        })
        .collect()
}

/// The keys a history scan of the repository at `start` finds, one finding per key (by
/// fingerprint), for a person to choose among.
pub fn history_findings(
    start: &Path,
    setup: impl FnOnce(&Path) -> anyhow::Result<ScanSetup>,
) -> Result<Vec<Finding>, KeysError> {
    let repo = crate::core::git::open(start).map_err(|e| KeysError::Scan(e.into()))?;
    let root = crate::core::git::root_dir(&repo);
    let setup = setup(&root).map_err(KeysError::Scan)?;
    let source = Source::History { all_objects: false };
    let results =
        scan::scan(Some(&repo), &root, &source, &setup, &Silent).map_err(KeysError::Scan)?;
    let mut findings = results.findings;
    findings.sort_by_key(|f| f.fingerprint());
    findings.dedup_by(|a, b| a.fingerprint() == b.fingerprint());
    Ok(findings)
}
