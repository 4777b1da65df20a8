//! `keywarden purge`: reads what to remove (secrets from stdin, a file, a history scan's
//! findings; `--delete-path` patterns), asks once, then runs `ops::purge` step by step and
//! shows each step's report and, at the end, what the world outside still has to do.
//! `--resume` finishes an unfinished purge, `--abort` undoes one.

use super::{purge_failed as failed, purge_problems, Context, Outcome};
use crate::cli::PurgeArgs;
use crate::core::scrub::Scrubber;
use crate::core::secret::Secret;
use crate::ops::key_source::{find_findings, history_findings};
use crate::ops::purge::{self, Purge, PurgeOptions, Removal, Step};
use crate::ops::scan::ScanSetup;
use crate::ops::{PromptError, Prompter, Reporter};
use crate::output::human;
use crate::output::progress::Bars;
use crate::output::purge as show;
use crate::output::ui::Ui;
use crate::output::Lenient;
use anyhow::{bail, Context as _};
use std::io::Read;

/// Secrets typed at the terminal, one per hidden prompt, until an empty line.
fn read_secrets_hidden(ui: &Ui) -> anyhow::Result<String> {
    ui.status(
        "type or paste each secret at the prompt (it is not shown); an empty line ends the list",
    );
    let mut text = String::new();
    loop {
        let line = ui
            .secret(&format!("secret {}: ", text.lines().count() + 1))
            .context("cannot read the secrets from the terminal")?;
        if line.expose().trim().is_empty() {
            return Ok(text);
        }
        text.push_str(line.expose());
        text.push('\n');
    }
}

fn read_secrets(ctx: &Context, args: &PurgeArgs) -> anyhow::Result<Option<Scrubber>> {
    if args.from_scan || !args.finding.is_empty() {
        let keys = keys_from_scan(ctx, args)?;
        return Ok(Some(Scrubber::new(keys, Vec::new(), &args.replacement)?));
    }
    let ui = &ctx.ui;
    let text = if args.secret_stdin && ui.stdin_is_terminal() {
        read_secrets_hidden(ui)?
    } else if args.secret_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the secrets from stdin")?;
        text
    } else if let Some(path) = &args.secrets_file {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secrets file {}", path.display()))?
    } else if args.delete_paths.is_empty() {
        bail!(
            "no secrets given: pass --secret-stdin or --secrets-file FILE (secrets are never \
             taken from the command line), --from-scan or --finding FINGERPRINT, or \
             --delete-path GLOB"
        );
    } else {
        return Ok(None);
    };
    let source = if args.secret_stdin {
        "stdin".to_string()
    } else {
        args.secrets_file
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let scrubber = Scrubber::from_lines(&text, &args.replacement)
        .with_context(|| format!("secrets from {source}"))?;
    Ok(Some(scrubber))
}

/// The keys of `--finding FINGERPRINT`s, or those chosen among a history scan's findings.
fn keys_from_scan(ctx: &Context, args: &PurgeArgs) -> anyhow::Result<Vec<Secret>> {
    let setup = |root: &std::path::Path| ScanSetup::new(&ctx.load_config(root)?, &[], &[], None);
    if !args.finding.is_empty() {
        let found = find_findings(&ctx.cwd, &args.finding, setup)?;
        return Ok(found.into_iter().map(|f| f.secret).collect());
    }
    if ctx.ui.assume_yes() || !ctx.ui.can_ask() {
        bail!(
            "--from-scan asks which key to purge, and there is no terminal to ask on (or --yes was given): pass --finding FINGERPRINT (from `keywarden scan --history --format json`)"
        );
    }
    let mut findings = history_findings(&ctx.cwd, setup)?;
    if findings.is_empty() {
        bail!("--from-scan: the history holds no key keywarden recognises; give the secrets with --secret-stdin or --secrets-file FILE");
    }
    let mut options: Vec<String> = findings.iter().map(human::finding_choice).collect();
    options.push(format!("all {} of them", findings.len()));
    let chosen = match ctx.ui.choose("Which key should be purged from history?", &options) {
        Ok(Some(i)) => i,
        Ok(None) => bail!("cancelled; nothing was changed"),
        Err(PromptError::NoTerminal) => bail!(
            "--from-scan asks which key to purge, and there is no terminal to ask on: pass --finding FINGERPRINT (from `keywarden scan --history --format json`)"
        ),
        Err(err) => return Err(err.into()),
    };
    Ok(if chosen == findings.len() {
        findings.into_iter().map(|f| f.secret).collect()
    } else {
        vec![findings.swap_remove(chosen).secret]
    })
}

pub fn run(ctx: &Context, args: PurgeArgs) -> anyhow::Result<Outcome> {
    // A closed stdout (`| head`) must not stop a rewrite half-way: the report is best effort.
    let mut out = Lenient(crate::output::stdout());
    if args.abort {
        let report = purge::abort(&ctx.cwd).map_err(failed)?;
        show::abort(&mut out, &report)?;
        return Ok(Outcome::Clean);
    }
    let removal =
        Removal::new(read_secrets(ctx, &args)?, args.delete_paths.clone()).map_err(failed)?;
    let bar = Bars::new(ctx.ui.stderr_is_terminal(), args.verbose);
    if args.dry_run {
        let plan =
            purge::dry_run(&ctx.cwd, &removal, args.include_remotes, &bar).map_err(failed)?;
        bar.end_phase();
        show::dry_run(&mut out, &plan)?;
        return Ok(Outcome::Clean);
    }
    let mut purge = if args.resume {
        Purge::resume(&ctx.cwd, &removal)
    } else {
        let options = PurgeOptions {
            include_remotes: args.include_remotes,
            push: args.push.clone(),
        };
        Purge::begin(&ctx.cwd, &removal, options, &ctx.clock)
    }
    .map_err(failed)?;
    let outline = purge.outline().map_err(failed)?;
    show::outline(&mut out, &outline)?;
    if !args.resume {
        match ctx.ui.confirm(&show::question(&outline)) {
            Ok(true) => {}
            Ok(false) => bail!("cancelled; nothing was changed"),
            Err(PromptError::NoTerminal) => {
                bail!("refusing to rewrite history without confirmation: pass --yes (or --dry-run)")
            }
            Err(err) => return Err(err.into()),
        }
    }
    let mut last = std::time::Instant::now();
    let verified = purge.run_to_end(&bar, &mut |_, step| {
        bar.end_phase();
        let _ = show::step(&mut out, step);
        if args.verbose {
            let now = std::time::Instant::now();
            ctx.ui.note(&format!(
                "{}: {:.2} s",
                step_name(step),
                (now - last).as_secs_f64()
            ));
            last = now;
        }
    });
    bar.end_phase();
    let verified = verified.map_err(failed)?;
    let summary = purge.summary();
    show::plan(&mut out, &summary, verified.as_ref())?;
    if args.verbose {
        if let Some(peak) = own_peak_memory() {
            ctx.ui.note(&format!(
                "peak memory of keywarden itself (not git gc): {peak}"
            ));
        }
    }
    let problems = purge_problems(ctx, &summary, verified.as_ref());
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(Outcome::Clean)
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Rewritten(_) => "backup and rewrite",
        Step::RefsMoved(_) => "refs moved",
        Step::WorktreesUpdated(_) => "worktrees updated",
        Step::Pushed(_) => "pushed",
        Step::ReflogsExpired { .. } => "reflogs expired",
        Step::Collected => "git gc --prune=now",
        Step::Verified(_) => "verified",
    }
}

/// This process's peak resident memory (Linux), for `--verbose`.
fn own_peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{} MB", kb / 1024))
}
