//! Verifying findings (`scan --verify`): asks each finding's provider whether its key still
//! works and marks the finding live, dead or unknown. Each distinct key is checked once,
//! several at a time; the person is told which providers are being contacted.

use super::Reporter;
use crate::core::provider::{ProviderId, Providers};
use crate::core::scan::Finding;
use crate::core::secret::{Liveness, Secret};
use std::collections::{BTreeSet, HashSet};

/// How many providers are asked at the same time.
const CONCURRENCY: usize = 8;

/// Marks each finding live, dead or unknown. A finding of a custom rule whose provider
/// keywarden does not know stays unknown.
pub fn verify_findings(findings: &mut [Finding], providers: &Providers, reporter: &dyn Reporter) {
    if findings.is_empty() {
        return;
    }
    let keys: Vec<(ProviderId, Secret)> = findings
        .iter()
        .filter_map(|f| Some((f.provider.parse().ok()?, f.secret.clone())))
        .collect();
    let distinct: HashSet<(ProviderId, String)> =
        keys.iter().map(|(p, k)| (*p, k.fingerprint())).collect();
    // Only the providers that will really be asked are named.
    let contacted: BTreeSet<&str> = keys
        .iter()
        .filter(|(p, k)| providers.get(*p).can_verify(k))
        .map(|(p, _)| p.as_str())
        .collect();
    if contacted.is_empty() {
        reporter.status("--verify: none of these keys can be checked with a provider");
    } else {
        reporter.status(&format!(
            "--verify: contacting {} to check {} distinct key(s)",
            contacted.into_iter().collect::<Vec<_>>().join(", "),
            distinct.len()
        ));
    }
    let answers = providers.verify_many(&keys, CONCURRENCY);
    let mut reported = HashSet::new();
    let mut reported_unknown = HashSet::new();
    for finding in findings.iter_mut() {
        let provider = match finding.provider.parse::<ProviderId>() {
            Ok(provider) => provider,
            Err(unknown) => {
                finding.verified = Some(Liveness::Unknown);
                if reported_unknown.insert(finding.fingerprint()) {
                    reporter.status(&format!(
                        "could not verify {} ({}): {unknown}",
                        finding.redacted(),
                        finding.provider
                    ));
                }
                continue;
            }
        };
        let id = (provider, finding.fingerprint());
        let answer = answers.get(&id);
        finding.verified = Some(answer.map_or(Liveness::Unknown, |a| a.liveness));
        if let Some(answer) = answer {
            if answer.liveness == Liveness::Unknown && reported.insert(id) {
                reporter.status(&format!(
                    "could not verify {} ({}): {}",
                    finding.redacted(),
                    finding.provider,
                    answer.reason
                ));
            }
        }
    }
}
