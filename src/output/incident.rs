//! What `keywarden incident` shows and leaves behind: the exposure (printed first), each
//! stage's line, the list of incidents, and the report — Markdown for people and JSON for
//! tools — with a timeline, each step's result and what remains for a human, written to be
//! pasted. Everything here comes from the incident's record, which never holds a key.

use super::text::plural;
use crate::core::provider::ProviderId;
use crate::ops::incident::state::{
    ContainRecord, ExposureRecord, IncidentState, PurgeRecord, Result as Outcome, Stage,
};
use crate::ops::incident::Aborted;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The exposure, one fact per line (no bullets: the caller adds them).
pub fn exposure_lines(e: &ExposureRecord) -> Vec<String> {
    let mut lines = Vec::new();
    if e.in_history() {
        let mut holding = format!(
            "in history: {}",
            plural(e.commits_holding, "commit", "commits")
        );
        if let (Some(first), Some(last)) = (&e.first, &e.last) {
            holding.push_str(&format!(
                ", first {} ({}, {}), last {} ({}, {})",
                short(&first.id),
                date(first.date),
                first.author,
                short(&last.id),
                date(last.date),
                last.author
            ));
        }
        lines.push(holding);
        for intro in &e.introductions {
            let commit = intro
                .commit
                .as_ref()
                .map(|c| format!(" by commit {} \"{}\"", short(&c.id), c.summary))
                .unwrap_or_default();
            lines.push(format!("  file {}{commit}", intro.path));
        }
        if !e.commit_messages.is_empty() {
            lines.push(format!(
                "  in the message of {}",
                plural(e.commit_messages.len(), "commit", "commits")
            ));
        }
        if !e.tag_messages.is_empty() {
            lines.push(format!(
                "  in the message of {}",
                plural(e.tag_messages.len(), "tag", "tags")
            ));
        }
        lines.push(if e.at_head.is_empty() {
            "at HEAD: no (removed by a later commit, still in history)".to_string()
        } else {
            format!("at HEAD: yes, in {}", e.at_head.join(", "))
        });
        if !e.refs.is_empty() {
            lines.push(format!("refs reaching it: {}", e.refs.join(", ")));
        }
        if !e.tags.is_empty() {
            lines.push(format!("tags: {}", e.tags.join(", ")));
        }
        if !e.stash.is_empty() {
            let entries: Vec<String> = e.stash.iter().map(|n| format!("stash@{{{n}}}")).collect();
            lines.push(format!("stash: {}", entries.join(", ")));
        }
        if !e.reflogs.is_empty() {
            lines.push(format!("reflogs only: {}", e.reflogs.join(", ")));
        }
    } else {
        lines.push("in history: no".to_string());
    }
    match e.public_since {
        Some(since) => {
            lines.push(format!("PUSHED: public since {}", date(since)));
            for r in &e.remote_refs {
                lines.push(format!(
                    "  {} ({}{})",
                    r.name,
                    r.remote,
                    r.url
                        .as_deref()
                        .map(|u| format!(", {u}"))
                        .unwrap_or_default()
                ));
            }
        }
        None if e.in_history() => lines.push(
            "not pushed: local only — rewriting history before anyone pushes or fetches is enough to take it out; revoking is still advised".to_string(),
        ),
        None => {}
    }
    if e.files.is_empty() {
        lines.push("env files on disk: none".to_string());
    } else {
        for f in &e.files {
            let at: Vec<String> = f.lines.iter().map(|l| l.to_string()).collect();
            lines.push(format!(
                "env file on disk: {} (line {})",
                f.path.display(),
                at.join(", ")
            ));
        }
    }
    lines.push(if e.keyring.is_empty() {
        "keyring: does not hold it".to_string()
    } else {
        format!("keyring: holds it as {}", e.keyring.join(", "))
    });
    if let Some(remote) = &e.at_provider {
        lines.push(format!(
            "at the provider: {}, owned by {}",
            remote.describe(),
            remote.owner.describe()
        ));
        if let Some(created) = remote.created {
            lines.push(format!("  created {}", date(created)));
        }
        match (remote.last_used, e.leaked_at()) {
            (Some(used), Some(leak)) if used < leak => lines.push(format!(
                "  last used {} — before the leak: not used since it leaked",
                date(used)
            )),
            (Some(used), _) => lines.push(format!("  last used {}", date(used))),
            (None, _) => lines.push("  last used: never, as far as the provider says".to_string()),
        }
    }
    if let Some(problem) = &e.lookup_problem {
        lines.push(format!("at the provider: could not look it up ({problem})"));
    }
    if let Some(usage) = &e.usage {
        lines.push(format!(
            "usage since the leak ({} → {}): {}",
            date(usage.window_start),
            date(usage.window_end),
            usage.verdict
        ));
        if let (Some(since), Some(before)) = (&usage.since_leak, &usage.before_leak) {
            let cost = |c: Option<f64>| c.map(|c| format!(", ${c:.2}")).unwrap_or_default();
            lines.push(format!(
                "  since the leak: {} requests, {} input and {} output tokens{}",
                since.requests,
                since.input_tokens,
                since.output_tokens,
                cost(since.cost_usd)
            ));
            lines.push(format!(
                "  the same length of time before: {} requests, {} input and {} output tokens{}",
                before.requests,
                before.input_tokens,
                before.output_tokens,
                cost(before.cost_usd)
            ));
            if !since.by_model.is_empty() {
                let models: Vec<String> = since
                    .by_model
                    .iter()
                    .take(5)
                    .map(|(m, n)| format!("{m} {n}"))
                    .collect();
                lines.push(format!("  by model: {}", models.join(", ")));
            }
        }
        if let Some(problem) = &usage.problem {
            lines.push(format!("  could not read the usage: {problem}"));
        }
    }
    lines
}

/// The usage page to check for charges, where the provider has one.
fn billing_page(provider: ProviderId) -> Option<&'static str> {
    match provider {
        ProviderId::OpenAi => Some("https://platform.openai.com/usage"),
        ProviderId::Anthropic => Some("https://console.anthropic.com/settings/usage"),
        ProviderId::Aws => Some("https://console.aws.amazon.com/billing/home"),
        ProviderId::Stripe => Some("https://dashboard.stripe.com/logs"),
        ProviderId::Google => Some("https://console.cloud.google.com/billing"),
        _ => None,
    }
}

/// What a person still has to do, each a paragraph that can be followed or pasted.
pub fn remaining(s: &IncidentState) -> Vec<String> {
    let mut todo = Vec::new();
    let provider = s.provider.name();
    if !s.key_dead() {
        todo.push(format!(
            "The key {} still works (or could not be checked): revoke it at {provider}, then run `keywarden incident` again to check it and close the incident.",
            s.key.redacted
        ));
    }
    let exposure = s.exposure.clone().unwrap_or_default();
    let purge = s.purge.clone().unwrap_or_default();
    if exposure.in_history() {
        if let Some(reason) = &purge.skipped {
            // Pushed: the remote has to take the new history too, or its remote-tracking
            // refs keep the key here.
            let push = exposure
                .remote_refs
                .first()
                .map(|r| format!(" --push {}", crate::core::shell::word(&r.remote)))
                .unwrap_or_default();
            todo.push(format!(
                "History still holds the key ({reason}). Purge it later with: `keywarden purge --finding {}{push}`",
                s.key.fingerprint
            ));
        } else if !matches!(purge.pushed, Some((_, true))) && !exposure.remote_refs.is_empty() {
            let mut text = String::from(
                "The remote still has the old history. Force-push the new one (this rewrites the remote's branches and tags):",
            );
            for (_, command) in &purge.push_commands {
                text.push_str(&format!("\n\n    {command}"));
            }
            todo.push(text);
        }
    }
    let first_old = purge.first_changed.first().cloned();
    let github: Vec<&str> = exposure
        .remote_refs
        .iter()
        .filter_map(|r| r.url.as_deref())
        .filter(|u| u.contains("github.com"))
        .collect();
    if let Some(url) = github.first() {
        let mut text = String::from("Ask GitHub Support (https://support.github.com/contact) to purge cached views — paste:\n\n");
        let commits = if purge.first_changed.is_empty() {
            "(see the first changed commits in the purge's records)".to_string()
        } else {
            purge.first_changed.join(", ")
        };
        text.push_str(&format!(
            "    A credential was committed to {url} and has been revoked. We rewrote the\n    history to remove it and force-pushed. Please remove cached views of the\n    old commits and any pull-request refs (refs/pull/*) that still reference them.\n    First changed commits (old ids): {commits}.\n    Affected pull requests, if any: <list the pull requests that contained these commits>."
        ));
        todo.push(text);
    }
    let self_hosted: Vec<&str> = exposure
        .remote_refs
        .iter()
        .filter_map(|r| r.url.as_deref())
        .filter(|u| !u.contains("github.com"))
        .collect();
    if let Some(url) = self_hosted.first() {
        todo.push(format!(
            "A server you host ({url}) keeps the old objects until its own garbage collection runs: run `git gc --prune=now` in the repository there (GitLab: Settings > General > Advanced > Run housekeeping)."
        ));
    }
    if exposure.public_since.is_some() {
        let mut text = String::from(
            "Tell everyone with a clone — paste:\n\n    The history of this repository was rewritten to remove a leaked key (now revoked).\n    Re-clone it. If you have unpushed work, rebase it onto the new history — never\n    merge the old history in: `git fetch`, then `git rebase --onto origin/<branch> <last old commit> <branch>`.",
        );
        if let Some(first) = &first_old {
            text.push_str(&format!(
                "\n    Your clone is clean when this fails: git cat-file -e {first}"
            ));
        }
        todo.push(text);
    }
    todo.push(match billing_page(s.provider) {
        Some(page) => format!(
            "Check {provider}'s usage and billing for use you do not recognise since the leak: {page}"
        ),
        None => format!(
            "Check {provider}'s logs for use of the key you do not recognise since the leak."
        ),
    });
    todo
}

fn headline(s: &IncidentState) -> String {
    match &s.closed {
        Some(c) if c.abandoned => "ABANDONED (stopped with --abort)".to_string(),
        _ if s.key_dead() => {
            "RESOLVED — the key is revoked and the provider refuses it".to_string()
        }
        _ => "NOT RESOLVED — the key may still work".to_string(),
    }
}

fn result_word(r: Outcome) -> &'static str {
    match r {
        Outcome::Started => "started",
        Outcome::Done => "done",
        Outcome::Skipped => "skipped",
        Outcome::Failed => "failed",
        Outcome::Note => "note",
    }
}

/// The Markdown report.
pub fn markdown(s: &IncidentState) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Incident {}: leaked {} key `{}`\n",
        s.id,
        s.provider.name(),
        s.key.redacted
    );
    let _ = writeln!(md, "**{}**\n", headline(s));
    let _ = writeln!(md, "- Fingerprint: `{}`", s.key.fingerprint);
    let _ = writeln!(md, "- Repository: `{}`", s.repo.display());
    let _ = writeln!(md, "- Started: {}", date(s.started));
    let _ = writeln!(md, "- Registry name: `{}`\n", s.name);
    let _ = writeln!(md, "## Timeline\n");
    let _ = writeln!(md, "| time (UTC) | step | result | detail |");
    let _ = writeln!(md, "|---|---|---|---|");
    for entry in s.timeline.iter().filter(|e| e.result != Outcome::Started) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            entry.at.format("%Y-%m-%d %H:%M:%S"),
            entry.stage.name(),
            result_word(entry.result),
            entry.text.replace('|', "\\|").replace('\n', " ")
        );
    }
    if let Some(e) = &s.exposure {
        let _ = writeln!(md, "\n## 1. Exposure\n");
        for line in exposure_lines(e) {
            let _ = writeln!(md, "- {}", line.trim_start());
        }
    }
    let _ = writeln!(md, "\n## 2. Contain\n");
    let _ = writeln!(
        md,
        "{}",
        match &s.contain {
            Some(c) => format!("- {} ({}); last check: {}", c.detail, c.how, c.last_answer),
            None => "- not done".to_string(),
        }
    );
    let _ = writeln!(md, "\n## 3. Replace\n");
    let _ = writeln!(
        md,
        "{}",
        match &s.replace {
            Some(r) => {
                let files: Vec<String> = r
                    .files
                    .iter()
                    .map(|f| format!("`{}`", f.display()))
                    .collect();
                format!(
                    "- new key `{}` under `{}` ({}) in the keyring{}{}",
                    r.new.redacted,
                    r.name,
                    r.env_var,
                    if files.is_empty() {
                        String::new()
                    } else {
                        format!(" and in {}", files.join(", "))
                    },
                    r.created
                        .as_deref()
                        .map(|c| format!("; made through the API: {c}"))
                        .unwrap_or_default()
                )
            }
            None => "- not done".to_string(),
        }
    );
    let _ = writeln!(md, "\n## 4. Purge\n");
    let _ = writeln!(md, "{}", purge_text(s));
    let _ = writeln!(md, "\n## What remains for you\n");
    for (i, item) in remaining(s).iter().enumerate() {
        let _ = writeln!(md, "{}. {}\n", i + 1, item);
    }
    md
}

fn purge_text(s: &IncidentState) -> String {
    let Some(p) = &s.purge else {
        return "- not done".to_string();
    };
    if let Some(reason) = &p.skipped {
        return format!("- skipped: {reason}");
    }
    let mut text = String::new();
    let _ = write!(
        text,
        "- history rewritten{}",
        if p.finished { "" } else { " (unfinished)" }
    );
    if let Some(backup) = &p.backup {
        let _ = write!(
            text,
            "\n- backup (still holds the key; delete it once satisfied): `{}`",
            backup.display()
        );
    }
    if let Some(map) = &p.commit_map {
        let _ = write!(text, "\n- commit map: `{}`", map.display());
    }
    if !p.first_changed.is_empty() {
        let _ = write!(
            text,
            "\n- first changed commits (old ids): {}",
            p.first_changed.join(", ")
        );
    }
    let _ = write!(
        text,
        "\n- every remaining object checked: {}",
        match p.verified_clean {
            Some(true) => "no object holds the key",
            Some(false) => "SOME OBJECTS STILL HOLD IT",
            None => "not known",
        }
    );
    match &p.pushed {
        Some((remote, true)) => {
            let _ = write!(text, "\n- force-pushed to {remote}: every ref");
        }
        Some((remote, false)) => {
            let _ = write!(text, "\n- force-push to {remote}: DID NOT COMPLETE");
        }
        None => {
            let _ = write!(text, "\n- not pushed");
        }
    }
    text
}

/// The JSON report: the record itself (it holds no key), with the outcome and what remains.
pub fn json(s: &IncidentState) -> String {
    let value = serde_json::json!({
        "incident": s,
        "resolved": s.key_dead(),
        "remaining": remaining(s),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("the record serializes");
    text.push('\n');
    text
}

/// One line per incident, for `--status`.
pub fn status_lines(incidents: &[IncidentState]) -> Vec<String> {
    if incidents.is_empty() {
        return vec!["no incidents recorded in this repository".to_string()];
    }
    incidents
        .iter()
        .map(|s| {
            let state = match &s.closed {
                Some(c) if c.abandoned => format!("abandoned {}", date(c.at)),
                Some(c) => format!(
                    "closed {}, {}",
                    date(c.at),
                    if c.resolved {
                        "resolved"
                    } else {
                        "NOT resolved"
                    }
                ),
                None => {
                    let next = s.next_stage().unwrap_or(Stage::Report);
                    let live = if s.contain.is_some() && !s.key_dead() {
                        " (the key still works)"
                    } else {
                        ""
                    };
                    format!(
                        "OPEN, stopped before: {}{live} — `keywarden incident` goes on",
                        next.name()
                    )
                }
            };
            format!(
                "{}  {} {}  {}",
                s.id,
                s.provider.name(),
                s.key.redacted,
                state
            )
        })
        .collect()
}

/// The line that says an open incident is taken up.
pub fn resuming(s: &IncidentState) -> String {
    format!(
        "going on with incident {} for the leaked {} key {} (started {}; next: {})",
        s.id,
        s.provider.name(),
        s.key.redacted,
        date(s.started),
        s.next_stage().unwrap_or(Stage::Report).name()
    )
}

/// Stage 2's line.
pub fn contained(c: &ContainRecord, provider: ProviderId) -> String {
    let name = provider.name();
    match (c.dead, c.how.as_str()) {
        (true, "already-dead") => format!("contain: {name} already refuses the key: it is dead"),
        (true, _) => format!("contain: the key is dead — {} ({})", c.detail, c.last_answer),
        (false, "skipped") => format!(
            "contain: not revoked (--skip-revoke); the key still works at {name} as far as it can tell ({})",
            c.last_answer
        ),
        (false, _) => format!(
            "contain: the key is STILL LIVE at {name} ({}); `keywarden incident` checks it again",
            c.last_answer
        ),
    }
}

/// What stage 2 would do, for `--dry-run`.
pub fn contain_plan(
    provider: &dyn crate::core::provider::Provider,
    key: &crate::core::secret::Secret,
    creds: &crate::core::provider::Credentials,
    skip: bool,
) -> String {
    if skip {
        return "only check whether the key still works (--skip-revoke)".to_string();
    }
    match provider.locator(creds) {
        Some(via) => format!("revoke the key through {via}, then check until it is dead"),
        None => {
            let page = provider.manual_steps(key).page;
            format!(
                "show how to revoke the key by hand{}, then check until it is dead",
                page.map(|p| format!(" at {p}")).unwrap_or_default()
            )
        }
    }
}

/// Stage 4's line in the timeline.
pub fn purged_line(p: &PurgeRecord) -> String {
    let pushed = match &p.pushed {
        Some((remote, true)) => format!("; force-pushed to {remote}"),
        Some((remote, false)) => format!("; the force-push to {remote} DID NOT COMPLETE"),
        None => String::new(),
    };
    let verified = match p.verified_clean {
        Some(true) => "no object holds the key",
        Some(false) => "SOME OBJECTS STILL HOLD IT",
        None => "not verified",
    };
    format!("purge: history rewritten ({verified}){pushed}")
}

/// The last line of a run.
pub fn last_line(s: &IncidentState) -> String {
    if s.key_dead() {
        format!(
            "incident {}: RESOLVED — the key {} is revoked and {} refuses it",
            s.id,
            s.key.redacted,
            s.provider.name()
        )
    } else if s.choices.skip_revoke {
        format!(
            "incident {}: closed, NOT RESOLVED — the key {} was not revoked (--skip-revoke) and may still work",
            s.id, s.key.redacted
        )
    } else {
        format!(
            "incident {}: NOT RESOLVED — the key {} may still work; revoke it at {}, then run `keywarden incident` again",
            s.id,
            s.key.redacted,
            s.provider.name()
        )
    }
}

/// The lines after `--abort`.
pub fn aborted(a: &Aborted) -> Vec<String> {
    let mut lines = vec![format!(
        "incident {} for {} is stopped (its record stays, marked abandoned)",
        a.id, a.redacted
    )];
    if a.revoked {
        lines.push("the key was revoked already; that cannot be undone".to_string());
    }
    lines
}
