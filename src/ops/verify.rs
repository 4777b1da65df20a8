//! Verifying findings (`scan --verify`): asks each finding's provider whether its key still
//! works — its client, or for an issuer without one the harmless check of its built-in rule
//! — and marks the finding live, dead or unknown. Each distinct key is checked once, several
//! at a time; the person is told which providers are being contacted.

use super::Reporter;
use crate::core::provider::{ProviderId, Providers, Verification};
use crate::core::rules::{Rule, RuleSet};
use crate::core::scan::Finding;
use crate::core::secret::{Liveness, Secret};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many providers are asked at the same time.
const CONCURRENCY: usize = 8;

/// Who is asked about a finding's key.
#[derive(Clone, Copy)]
enum Asked<'r> {
    /// A provider keywarden has a client for.
    Provider(ProviderId),
    /// An issuer without one, through the check its built-in rule describes.
    Issuer(&'r Rule),
}

impl<'r> Asked<'r> {
    /// Tells the askers apart (a rule by its id).
    fn id(&self) -> (Option<ProviderId>, &'r str) {
        match self {
            Asked::Provider(id) => (Some(*id), ""),
            Asked::Issuer(rule) => (None, &rule.id),
        }
    }

    fn name(&self) -> &'r str {
        match self {
            Asked::Provider(id) => id.as_str(),
            Asked::Issuer(rule) => &rule.provider,
        }
    }
}

/// Marks each finding live, dead or unknown. A finding whose provider keywarden cannot ask
/// (a custom rule's, or an issuer with no harmless check) stays unknown.
pub fn verify_findings(findings: &mut [Finding], providers: &Providers, reporter: &dyn Reporter) {
    if findings.is_empty() {
        return;
    }
    let builtin = RuleSet::builtin().ok();
    let asked_of = |finding: &Finding| -> Option<Asked<'_>> {
        if let Ok(id) = finding.provider.parse::<ProviderId>() {
            return Some(Asked::Provider(id));
        }
        let rule = builtin.as_ref()?.get(&finding.rule_id)?;
        (*rule.provider == *finding.provider && rule.issuer_check().is_some())
            .then_some(Asked::Issuer(rule))
    };
    let mut jobs: Vec<(Asked<'_>, Secret)> = Vec::new();
    let mut seen = HashSet::new();
    for finding in findings.iter() {
        if let Some(asked) = asked_of(finding) {
            if seen.insert((asked.id(), finding.fingerprint())) {
                jobs.push((asked, finding.secret.clone()));
            }
        }
    }
    // Only the providers that will really be asked are named.
    let contacted: BTreeSet<&str> = jobs
        .iter()
        .filter(|(asked, key)| match asked {
            Asked::Provider(id) => providers.get(*id).can_verify(key),
            Asked::Issuer(_) => true,
        })
        .map(|(asked, _)| asked.name())
        .collect();
    if contacted.is_empty() {
        reporter.status("--verify: none of these keys can be checked with a provider");
    } else {
        reporter.status(&format!(
            "--verify: contacting {} to check {} distinct key(s)",
            contacted.into_iter().collect::<Vec<_>>().join(", "),
            jobs.len()
        ));
    }
    let answers = ask_each(&jobs, |asked, key| {
        let answer = match asked {
            Asked::Provider(id) => providers.get(*id).verify(key),
            Asked::Issuer(rule) => providers
                .check_with_probe(rule, key)
                .expect("only rules with a check are asked"),
        };
        answer.scrubbed(key)
    });
    let answers: HashMap<((Option<ProviderId>, &str), String), Verification> = jobs
        .iter()
        .zip(answers)
        .map(|((asked, key), answer)| ((asked.id(), key.fingerprint()), answer))
        .collect();
    let mut reported = HashSet::new();
    for finding in findings.iter_mut() {
        let fingerprint = finding.fingerprint();
        let Some(asked) = asked_of(finding) else {
            finding.verified = Some(Liveness::Unknown);
            if reported.insert(fingerprint) {
                reporter.status(&format!(
                    "could not verify {} ({}): keywarden has no way to ask {} about a key",
                    finding.redacted(),
                    finding.provider,
                    finding.provider
                ));
            }
            continue;
        };
        let answer = answers.get(&(asked.id(), fingerprint.clone()));
        finding.verified = Some(answer.map_or(Liveness::Unknown, |a| a.liveness));
        if let Some(answer) = answer {
            if answer.liveness == Liveness::Unknown && reported.insert(fingerprint) {
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

/// `check` on every job, `CONCURRENCY` at a time; the answers in the jobs' order.
fn ask_each<A: Sync>(
    jobs: &[(A, Secret)],
    check: impl Fn(&A, &Secret) -> Verification + Sync,
) -> Vec<Verification> {
    let next = AtomicUsize::new(0);
    let answers = Mutex::new(vec![None; jobs.len()]);
    let workers = CONCURRENCY.min(jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some((asked, key)) = jobs.get(index) else {
                    break;
                };
                let answer = check(asked, key);
                answers.lock().expect("verification answers lock")[index] = Some(answer);
            });
        }
    });
    answers
        .into_inner()
        .expect("verification answers lock")
        .into_iter()
        .map(|answer| answer.expect("every job is answered once the workers are done"))
        .collect()
}
