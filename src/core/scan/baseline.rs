//! The baseline: findings a team has looked at and accepted, so that a scan reports only
//! new ones. An entry is a fingerprint of rule, path and secret — never the secret, and no
//! line number, so an entry survives the line moving within its file.

use super::Finding;
use crate::core::secret::fingerprint_parts;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BaselineError {
    #[error("cannot read baseline {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: invalid baseline: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BaselineEntry {
    pub fingerprint: String,
    pub rule_id: String,
    pub path: Option<String>,
    /// For the person reading the file; never used for matching.
    pub redacted: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Baseline {
    pub version: u32,
    pub entries: Vec<BaselineEntry>,
    #[serde(skip)]
    index: HashSet<String>,
}

/// The baseline identity of a finding.
pub fn baseline_fingerprint(finding: &Finding) -> String {
    fingerprint_parts(&[
        &finding.rule_id,
        finding.path.as_deref().unwrap_or(""),
        finding.secret.expose(),
    ])
}

impl Baseline {
    pub fn from_findings<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut entries: Vec<BaselineEntry> = findings
            .into_iter()
            .map(|f| BaselineEntry {
                fingerprint: baseline_fingerprint(f),
                rule_id: f.rule_id.to_string(),
                path: f.path.clone(),
                redacted: f.redacted(),
            })
            .collect();
        entries.sort_by(|a, b| {
            (&a.path, &a.rule_id, &a.fingerprint).cmp(&(&b.path, &b.rule_id, &b.fingerprint))
        });
        entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        let mut baseline = Baseline {
            version: 1,
            entries,
            index: HashSet::new(),
        };
        baseline.reindex();
        baseline
    }

    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut baseline: Baseline =
            serde_json::from_str(&text).map_err(|e| BaselineError::Parse {
                path: path.to_path_buf(),
                line: e.line(),
                message: e.to_string(),
            })?;
        baseline.reindex();
        Ok(baseline)
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a baseline always serialises");
        text.push('\n');
        text
    }

    fn reindex(&mut self) {
        self.index = self.entries.iter().map(|e| e.fingerprint.clone()).collect();
    }

    pub fn contains(&self, finding: &Finding) -> bool {
        self.index.contains(&baseline_fingerprint(finding))
    }
}
