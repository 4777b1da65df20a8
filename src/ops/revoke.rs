//! Revoking a key: look it up at its provider, show the person what was found and ask,
//! revoke it (through the API where the provider allows it, else the exact manual steps and
//! the page), then check until it is dead. Three steps — `prepare`, `execute`, and the wait
//! inside `execute` — so a caller can put something between the yes and the deletion (a
//! replacement made while the old key's service account still exists). Nothing is printed
//! here: what happens comes out as `RevokeEvent`s and a `RevokeReport`.

use super::{PromptError, Prompter, Reporter};
use crate::core::provider::{
    Credentials, ManualSteps, Provider, ProviderError, ProviderId, RemoteKey, Revocation,
    Verification,
};
use crate::core::registry::{Revoked, RevokedHow};
use crate::core::secret::{Liveness, Secret};
use chrono::{DateTime, Utc};
use std::ffi::OsString;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Checks made when nobody can press Enter to stop waiting (a script, CI).
pub const DEFAULT_MAX_CHECKS_UNATTENDED: u32 = 60;
/// The pause between two checks unless `KEYWARDEN_POLL_INTERVAL_MS` says otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum RevokeError {
    #[error("refusing to delete {what} without confirmation: pass --yes")]
    NeedsConfirmation { what: String },
    #[error("not confirmed; nothing was deleted")]
    Declined,
    #[error("cannot ask for confirmation")]
    Prompt(#[source] PromptError),
    #[error("cannot look the key up with {via}")]
    Lookup {
        via: &'static str,
        #[source]
        source: ProviderError,
    },
    #[error("{provider} did not revoke the key", provider = .provider.name())]
    Revoke {
        provider: ProviderId,
        #[source]
        source: ProviderError,
    },
}

/// The key to revoke.
pub struct RevokeTarget<'a> {
    pub provider: &'a dyn Provider,
    pub key: &'a Secret,
    pub creds: &'a Credentials,
}

/// How to go about it.
#[derive(Debug, Clone)]
pub struct RevokeOptions {
    /// Open the provider's page when the revocation is manual (`--open`); without it the
    /// person is offered to on a terminal.
    pub open_page: bool,
    /// `$BROWSER`, when set.
    pub browser: Option<OsString>,
    /// Check until the key is dead (`None`: do not check).
    pub wait: Option<WaitOptions>,
}

#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    pub interval: Duration,
    /// Stop after this many checks (default: until dead, or Enter on a terminal; 60 checks
    /// when nobody can stop it).
    pub max_checks: Option<u32>,
}

/// What happens, as it happens: the command shows each one.
#[derive(Debug)]
pub enum RevokeEvent<'a> {
    /// The key is being looked up with the provider (`via`: "the OpenAI Admin API…").
    LookingUp { via: &'a str },
    /// Found: shown before the question whether to delete it.
    Located(&'a RemoteKey),
    /// Looked up, but not found (or not uniquely): the manual steps follow.
    NotLocated { reason: String },
    /// The provider's API revoked it.
    Revoked { detail: &'a str },
    /// Only a person can revoke it: the steps (and the page). `admin_hint` names the
    /// variable that would let keywarden do it.
    Manual {
        steps: &'a ManualSteps,
        admin_hint: Option<&'static str>,
    },
    /// The page was opened in the browser (`Err`: why not).
    PageOpened {
        page: &'a str,
        result: Result<(), String>,
    },
    /// The page was not opened; `--open` would.
    PageNotOpened { page: &'a str },
    /// Checking begins; `stoppable`: Enter stops it.
    Waiting { stoppable: bool },
    /// One check: its number, the budget, the answer and when the next one comes (`None`:
    /// this was the last).
    Check {
        number: u32,
        max: Option<u32>,
        answer: &'a Verification,
        next_in: Option<Duration>,
    },
    /// The provider cannot tell whether this key works: nothing to wait for.
    CannotCheck,
}

/// The person's side of a revocation.
pub struct RevokeIo<'a> {
    pub prompter: &'a dyn Prompter,
    pub reporter: &'a dyn Reporter,
    pub events: &'a mut dyn FnMut(RevokeEvent<'_>),
    /// Asked while waiting: true once the person wants to stop (Enter on a terminal).
    /// `None` when nobody can stop it.
    pub stop: Option<&'a dyn Fn() -> bool>,
}

/// The lookup and the person's yes, done before anything changes at the provider.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The key as the provider's records describe it, when it could be looked up.
    pub located: Option<RemoteKey>,
}

/// How the key was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeMethod {
    /// The provider's API did it.
    Api { detail: String },
    /// The steps were given to the person; `page_opened`: whether the page was opened.
    Manual {
        steps: ManualSteps,
        page_opened: bool,
    },
}

/// Whether the key is dead now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalCheck {
    /// Waiting was not asked for.
    NotChecked,
    /// The provider cannot tell.
    CannotCheck,
    /// The last answer after `checks` checks.
    Checked { answer: Verification, checks: u32 },
}

/// What to do next, for the last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Confirmed dead: nothing.
    Nothing,
    /// Still live or unknown (or not checked): check again later (`keys check`).
    CheckAgain,
    /// The provider cannot tell: check at the provider.
    CheckAtProvider,
}

/// What a revocation did and how it ended.
#[derive(Debug, Clone)]
pub struct RevokeReport {
    pub provider: ProviderId,
    pub located: Option<RemoteKey>,
    pub method: RevokeMethod,
    pub final_check: FinalCheck,
    /// When the revocation was made.
    pub at: DateTime<Utc>,
}

impl RevokeReport {
    pub fn is_dead(&self) -> bool {
        matches!(&self.final_check, FinalCheck::Checked { answer, .. } if answer.liveness == Liveness::Dead)
    }

    pub fn next_step(&self) -> NextStep {
        match &self.final_check {
            _ if self.is_dead() => NextStep::Nothing,
            FinalCheck::CannotCheck => NextStep::CheckAtProvider,
            _ => NextStep::CheckAgain,
        }
    }

    /// What the registry records: an API revocation, or a manual one once it was checked
    /// dead (steps handed out are not a revocation yet).
    pub fn revoked(&self) -> Option<Revoked> {
        match &self.method {
            RevokeMethod::Api { detail } => Some(Revoked {
                at: self.at,
                how: RevokedHow::Api,
                detail: Some(detail.clone()),
            }),
            RevokeMethod::Manual { .. } if self.is_dead() => Some(Revoked {
                at: self.at,
                how: RevokedHow::Manual,
                detail: None,
            }),
            RevokeMethod::Manual { .. } => None,
        }
    }
}

/// Looks the key up (where the provider can with these credentials), shows what was found,
/// and asks before it is deleted. A key that is not found is said so, and its revocation
/// will be the manual steps.
pub fn prepare(target: &RevokeTarget<'_>, io: &mut RevokeIo<'_>) -> Result<Prepared, RevokeError> {
    let Some(via) = target.provider.locator(target.creds) else {
        return Ok(Prepared { located: None });
    };
    (io.events)(RevokeEvent::LookingUp { via });
    let located = match target.provider.locate(target.key, target.creds) {
        Ok(located) => located,
        // Not in this organization (or ambiguous): a person can still find it.
        Err(ProviderError::NotFound(reason)) => {
            (io.events)(RevokeEvent::NotLocated {
                reason: scrub_all(&reason, target),
            });
            None
        }
        Err(source) => return Err(RevokeError::Lookup { via, source }),
    };
    if let Some(remote) = &located {
        (io.events)(RevokeEvent::Located(remote));
        let what = remote.describe();
        match io.prompter.confirm("Delete this key now?") {
            Ok(true) => {}
            Ok(false) => return Err(RevokeError::Declined),
            Err(PromptError::NoTerminal) => return Err(RevokeError::NeedsConfirmation { what }),
            Err(err) => return Err(RevokeError::Prompt(err)),
        }
    }
    Ok(Prepared { located })
}

/// Revokes the key as prepared: through the API, or the manual steps (and the page); then,
/// when asked, checks until it is dead, the budget runs out, or the person stops it.
pub fn execute(
    target: &RevokeTarget<'_>,
    prepared: &Prepared,
    options: &RevokeOptions,
    now: DateTime<Utc>,
    io: &mut RevokeIo<'_>,
) -> Result<RevokeReport, RevokeError> {
    let provider = target.provider;
    let revocation = provider
        .revoke(target.key, prepared.located.as_ref(), target.creds)
        .map_err(|source| RevokeError::Revoke {
            provider: provider.id(),
            source,
        })?;
    let method = match revocation {
        Revocation::Revoked { detail } => {
            (io.events)(RevokeEvent::Revoked { detail: &detail });
            RevokeMethod::Api { detail }
        }
        Revocation::Manual(steps) => {
            let admin_hint = provider
                .id()
                .admin_key_var()
                .filter(|_| target.creds.admin(provider.id()).is_none());
            (io.events)(RevokeEvent::Manual {
                steps: &steps,
                admin_hint,
            });
            let page_opened = match &steps.page {
                Some(page) => open_page(page, options, io)?,
                None => false,
            };
            RevokeMethod::Manual { steps, page_opened }
        }
    };
    let final_check = match &options.wait {
        None => FinalCheck::NotChecked,
        Some(_) if !provider.can_verify(target.key) => {
            (io.events)(RevokeEvent::CannotCheck);
            FinalCheck::CannotCheck
        }
        Some(wait) => wait_until_dead(provider, target.key, wait, io),
    };
    Ok(RevokeReport {
        provider: provider.id(),
        located: prepared.located.clone(),
        method,
        final_check,
        at: now,
    })
}

/// `prepare` and `execute` in one go.
pub fn revoke(
    target: &RevokeTarget<'_>,
    options: &RevokeOptions,
    now: DateTime<Utc>,
    io: &mut RevokeIo<'_>,
) -> Result<RevokeReport, RevokeError> {
    let prepared = prepare(target, io)?;
    execute(target, &prepared, options, now, io)
}

fn open_page(
    page: &str,
    options: &RevokeOptions,
    io: &mut RevokeIo<'_>,
) -> Result<bool, RevokeError> {
    let wanted = options.open_page
        || io
            .prompter
            .offer(&format!("Open {page} in your browser?"))
            .map_err(RevokeError::Prompt)?;
    if !wanted {
        (io.events)(RevokeEvent::PageNotOpened { page });
        return Ok(false);
    }
    let result =
        crate::core::browser::open(options.browser.as_deref(), page).map_err(|e| e.to_string());
    let opened = result.is_ok();
    (io.events)(RevokeEvent::PageOpened { page, result });
    Ok(opened)
}

/// Verifies the key every `interval` until it is dead, the check budget runs out, or the
/// person stops it. One `Check` event per check.
pub fn wait_until_dead(
    provider: &dyn Provider,
    key: &Secret,
    wait: &WaitOptions,
    io: &mut RevokeIo<'_>,
) -> FinalCheck {
    let max = wait.max_checks.or(if io.stop.is_some() {
        None
    } else {
        Some(DEFAULT_MAX_CHECKS_UNATTENDED)
    });
    (io.events)(RevokeEvent::Waiting {
        stoppable: io.stop.is_some(),
    });
    let stopped = |io: &RevokeIo<'_>| io.stop.is_some_and(|stop| stop());
    let mut checks = 0u32;
    loop {
        let answer = provider.verify(key).scrubbed(key);
        checks += 1;
        let last = answer.liveness == Liveness::Dead
            || max.is_some_and(|max| checks >= max)
            || stopped(io);
        (io.events)(RevokeEvent::Check {
            number: checks,
            max,
            answer: &answer,
            next_in: (!last).then_some(wait.interval),
        });
        if last {
            return FinalCheck::Checked { answer, checks };
        }
        // Slept in slices, so that Enter stops the wait at once.
        let until = Instant::now() + wait.interval;
        while Instant::now() < until {
            if stopped(io) {
                return FinalCheck::Checked { answer, checks };
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(100)));
        }
    }
}

fn scrub_all(text: &str, target: &RevokeTarget<'_>) -> String {
    let mut secrets = target.creds.secrets();
    secrets.push(target.key);
    crate::core::provider::scrub(text, &secrets)
}
