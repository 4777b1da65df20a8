//! `keywarden incident`: the leaked key read (name, stdin, a hidden prompt, a finding or a
//! pick among a history scan's findings), its exposure shown, then the stages of
//! `ops::incident` run in order — contain, replace, purge (driven as `keywarden purge`
//! drives it), report — each recorded before the next; `keywarden incident` again goes on
//! from the first stage without a result. `--status` lists incidents, `--abort` stops one,
//! `--dry-run` shows the exposure and what each stage would do.

use super::{purge_failed as failed, purge_problems, Context, Failure, Outcome};
use crate::cli::IncidentArgs;
use crate::core::fault;
use crate::core::provider::{Credentials, Provider, ProviderId};
use crate::core::scrub::Scrubber;
use crate::core::secret::Secret;
use crate::ops::incident::state::{Choices, PurgeRecord, Result as Step, Stage};
use crate::ops::incident::{self as incident_ops, Incident, Replacing};
use crate::ops::key_source::{self, history_findings, KeySource};
use crate::ops::keys::{read_key_input, validate_name, KeyInput};
use crate::ops::purge::{self, Purge, PurgeOptions, Removal};
use crate::ops::revoke::{RevokeIo, RevokeOptions, WaitOptions, DEFAULT_POLL_INTERVAL};
use crate::ops::scan::ScanSetup;
use crate::ops::swap::{SwapEvent, SwapIo, SwapReport};
use crate::ops::vault::Vault;
use crate::ops::{PromptError, Prompter, Reporter};
use crate::output::human;
use crate::output::incident as view;
use crate::output::keys::{RevokeView, StopOnEnter};
use crate::output::progress::Bars;
use crate::output::purge as purge_view;
use crate::output::rotate as rotate_view;
use crate::output::Lenient;
use anyhow::{anyhow, bail, Context as _};
use git2::Repository;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// What stands in for the key in the rewritten history.
const REPLACEMENT: &str = "***REMOVED***";

pub fn run(ctx: &Context, args: IncidentArgs) -> anyhow::Result<Outcome> {
    let repo = crate::core::git::open(&ctx.cwd).map_err(|_| {
        anyhow!(
            "{}: not in a git repository; run `keywarden incident` inside the repository the key leaked from (or pass -C DIR)",
            ctx.cwd.display()
        )
    })?;
    if args.status {
        for line in view::status_lines(&incident_ops::list(&repo)?) {
            crate::output::say!("{line}");
        }
        return Ok(Outcome::Clean);
    }
    if let Some(provider) = &args.provider {
        if crate::ops::keys::looks_like_secret(provider) {
            bail!(crate::ops::keys::ARGV_KEY);
        }
    }
    if let Some(name) = &args.name {
        validate_name(name)?;
    }
    let vault = Vault::new(ctx.data_home()?, ctx.key_store()?);
    if args.abort {
        let aborted = incident_ops::abort(&ctx.cwd, &vault, &ctx.clock)?;
        let mut out = Lenient(crate::output::stdout());
        if let Some(purge) = &aborted.purge {
            purge_view::abort(&mut out, purge)?;
        }
        for line in view::aborted(&aborted) {
            writeln!(out, "{line}")?;
        }
        if let Some(swap) = aborted.swap.clone() {
            for line in rotate_view::aborted(&crate::ops::rotate::Aborted::Rotation(swap), &ctx.cwd)
            {
                writeln!(out, "{line}")?;
            }
        }
        return Ok(Outcome::Clean);
    }
    if !args.dry_run && !ctx.ui.assume_yes() && !ctx.ui.can_ask() {
        bail!(
            "keywarden incident asks before it revokes, edits or rewrites anything, and there is no terminal to ask on: pass --yes (or --dry-run to see the plan only)"
        );
    }
    let given_provider: Option<ProviderId> =
        args.provider.as_deref().map(str::parse).transpose()?;
    let stdin = read_stdin_keys(ctx, &args, given_provider)?;
    let providers = ctx.providers()?;
    let creds = vault.credentials(&ctx.env)?;
    let open = incident_ops::open_incident(&repo)?;
    let (incident, key) = match open {
        Some(incident) => {
            let key = key_of_open(ctx, &args, &vault, &incident, stdin.leaked)?;
            if args.dry_run {
                for line in view::status_lines(std::slice::from_ref(&incident.state)) {
                    crate::output::say!("{line}");
                }
                crate::output::say!(
                    "dry run: nothing was changed; `keywarden incident` goes on from there"
                );
                return Ok(Outcome::Clean);
            }
            ctx.ui.status(&view::resuming(&incident.state));
            (incident, key)
        }
        None => {
            let leaked = leaked_key(ctx, &args, &vault, stdin.leaked, given_provider)?;
            let provider = providers.get(leaked.provider);
            let root = crate::core::git::root_dir(&repo);
            let policy = ctx.load_config(&root)?.env_file_policy()?;
            let registered = vault
                .registry()?
                .find_by_fingerprint(&leaked.key.fingerprint())
                .cloned();
            let files = incident_ops::files_to_search(&repo, registered.as_ref(), &policy)?;
            let bar = Bars::new(ctx.ui.stderr_is_terminal(), false);
            let exposure = incident_ops::find_exposure(
                &repo,
                &leaked.key,
                &files,
                provider.as_ref(),
                &creds,
                &vault,
                ctx.clock.now(),
                &bar,
                &ctx.ui,
            );
            bar.end_phase();
            let exposure = exposure?;
            print_lines(&view::exposure_lines(&exposure));
            if !incident_ops::is_here(&exposure) {
                return Err(incident_ops::IncidentError::NotHere {
                    redacted: leaked.key.redacted(),
                }
                .into());
            }
            let variable = leaked
                .variable
                .or_else(|| registered.as_ref().map(|r| r.env_var.clone()));
            let name = incident_ops::registry_name(
                &vault,
                &leaked.key,
                provider.as_ref(),
                variable.as_deref(),
            )?;
            let choices = Choices {
                skip_revoke: args.skip_revoke,
                skip_purge: args.skip_purge,
                push: args.push.clone(),
                report_dir: args.report.as_ref().map(|d| ctx.cwd.join(d)),
            };
            if args.dry_run {
                let plan = DryRun {
                    ctx,
                    repo: &repo,
                    key: &leaked.key,
                    provider: provider.as_ref(),
                    creds: &creds,
                    vault: &vault,
                    name,
                    choices,
                    exposure,
                    new_key: stdin.new,
                };
                return plan.show();
            }
            let incident = incident_ops::begin(
                &repo,
                &leaked.key,
                leaked.provider,
                name,
                choices,
                exposure,
                &vault,
                &ctx.clock,
            )?;
            ctx.ui.status(&format!(
                "incident {} opened: its record is {}",
                incident.state.id,
                incident.path.display()
            ));
            (incident, leaked.key)
        }
    };
    drop(repo);
    let provider = providers.get(incident.state.provider);
    let responder = Responder {
        ctx,
        args: &args,
        vault: &vault,
        creds: &creds,
        provider: provider.as_ref(),
        key,
        new_key: stdin.new,
        interval: ctx.env.poll_interval()?.unwrap_or(DEFAULT_POLL_INTERVAL),
    };
    responder.respond(incident)
}

/// The keys stdin held: the leaked one (`--secret-stdin`) and the new one
/// (`--new-key-stdin`), each a line when both are asked for.
#[derive(Default)]
struct StdinKeys {
    leaked: Option<KeyInput>,
    new: Option<Secret>,
}

fn read_stdin_keys(
    ctx: &Context,
    args: &IncidentArgs,
    provider: Option<ProviderId>,
) -> anyhow::Result<StdinKeys> {
    if !args.secret_stdin && !args.new_key_stdin {
        return Ok(StdinKeys::default());
    }
    let ui = &ctx.ui;
    if ui.stdin_is_terminal() {
        let leaked = args
            .secret_stdin
            .then(|| hidden_key(ctx, "The leaked key (input hidden): "))
            .transpose()?;
        let new = args
            .new_key_stdin
            .then(|| hidden_key(ctx, "The new key (input hidden): "))
            .transpose()?
            .map(|input| input.key);
        return Ok(StdinKeys { leaked, new });
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the keys from stdin")?;
    let text = Secret::new(text);
    let keys = if args.secret_stdin && args.new_key_stdin {
        let lines: Vec<&str> = text
            .expose()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        if lines.len() != 2 {
            bail!(
                "--secret-stdin with --new-key-stdin reads two lines from stdin, the leaked key and then the new one; stdin held {}",
                crate::output::text::plural(lines.len(), "line", "lines")
            );
        }
        StdinKeys {
            leaked: Some(
                read_key_input(lines[0], false).context("the leaked key (line 1 of stdin)")?,
            ),
            new: Some(
                read_key_input(lines[1], false)
                    .context("the new key (line 2 of stdin)")?
                    .key,
            ),
        }
    } else if args.secret_stdin {
        let multiline = provider == Some(ProviderId::PrivateKey);
        StdinKeys {
            leaked: Some(
                read_key_input(text.expose(), multiline).context("the leaked key on stdin")?,
            ),
            new: None,
        }
    } else {
        StdinKeys {
            leaked: None,
            new: Some(
                read_key_input(text.expose(), false)
                    .context("the new key on stdin")?
                    .key,
            ),
        }
    };
    Ok(keys)
}

fn hidden_key(ctx: &Context, prompt: &str) -> anyhow::Result<KeyInput> {
    let typed = ctx
        .ui
        .secret(prompt)
        .context("cannot read the key from the terminal")?;
    Ok(read_key_input(typed.expose(), false)?)
}

/// The leaked key of a new incident, its provider and the variable it was given in.
struct Leaked {
    key: Secret,
    provider: ProviderId,
    variable: Option<String>,
}

fn leaked_key(
    ctx: &Context,
    args: &IncidentArgs,
    vault: &Vault,
    stdin: Option<KeyInput>,
    provider: Option<ProviderId>,
) -> anyhow::Result<Leaked> {
    let setup = |root: &std::path::Path| ScanSetup::new(&ctx.load_config(root)?, &[], &[], None);
    let typed = match (&args.name, &args.finding, args.from_scan, stdin) {
        (None, None, false, None) if ctx.ui.stdin_is_terminal() && !ctx.ui.assume_yes() => {
            Some(hidden_key(ctx, "The leaked key (input hidden): ")?)
        }
        (_, _, _, stdin) => stdin,
    };
    let source = if let Some(name) = &args.name {
        KeySource::Registered(name.clone())
    } else if let Some(input) = typed {
        KeySource::Given { input, provider }
    } else if let Some(fingerprint) = &args.finding {
        KeySource::Finding {
            fingerprint: fingerprint.clone(),
            repo: ctx.cwd.clone(),
        }
    } else if args.from_scan {
        return chosen_finding(ctx, setup);
    } else {
        bail!(
            "which key leaked? pipe it in with `keywarden incident --secret-stdin`, name a registered key (`keywarden incident NAME`), pass --finding FINGERPRINT (from `keywarden scan --history`), or --from-scan to choose among the keys history holds"
        );
    };
    let variable = match &source {
        KeySource::Given { input, .. } => input.var.clone(),
        _ => None,
    };
    let resolved = key_source::resolve(source, vault, setup)?;
    Ok(Leaked {
        key: resolved.key,
        provider: resolved.provider,
        variable,
    })
}

/// `--from-scan`: the person picks the leaked key among the keys a history scan finds.
fn chosen_finding(
    ctx: &Context,
    setup: impl FnOnce(&std::path::Path) -> anyhow::Result<ScanSetup>,
) -> anyhow::Result<Leaked> {
    const NO_TERMINAL: &str = "--from-scan asks which key leaked, and there is no terminal to ask on (or --yes was given): pass --finding FINGERPRINT (from `keywarden scan --history --format json`)";
    if ctx.ui.assume_yes() || !ctx.ui.can_ask() {
        bail!(NO_TERMINAL);
    }
    let mut findings = history_findings(&ctx.cwd, setup)?;
    if findings.is_empty() {
        bail!("--from-scan: the history holds no key keywarden recognises; give the key with `keywarden incident --secret-stdin`");
    }
    let options: Vec<String> = findings.iter().map(human::finding_choice).collect();
    let chosen = match ctx.ui.choose("Which key leaked?", &options) {
        Ok(Some(i)) => i,
        Ok(None) => bail!("cancelled; nothing was changed"),
        Err(PromptError::NoTerminal) => bail!(NO_TERMINAL),
        Err(err) => return Err(err.into()),
    };
    let finding = findings.swap_remove(chosen);
    let provider = finding
        .provider
        .parse()
        .map_err(|_| anyhow!("{}: keywarden has no provider of that name to revoke it with; give the key with `keywarden incident --secret-stdin --provider PROVIDER`", finding.provider))?;
    Ok(Leaked {
        key: finding.secret,
        provider,
        variable: None,
    })
}

/// The leaked key of the open incident: the one given again (which must be the same), else
/// the one its keyring entry keeps, else asked for.
fn key_of_open(
    ctx: &Context,
    args: &IncidentArgs,
    vault: &Vault,
    incident: &Incident,
    stdin: Option<KeyInput>,
) -> anyhow::Result<Secret> {
    let given = match (stdin, &args.name, &args.finding) {
        (Some(input), _, _) => Some(input.key),
        (None, None, None) => None,
        (None, name, finding) => {
            let source = match (name, finding) {
                (Some(name), _) => KeySource::Registered(name.clone()),
                (None, Some(fingerprint)) => KeySource::Finding {
                    fingerprint: fingerprint.clone(),
                    repo: ctx.cwd.clone(),
                },
                (None, None) => unreachable!("matched above"),
            };
            let setup =
                |root: &std::path::Path| ScanSetup::new(&ctx.load_config(root)?, &[], &[], None);
            Some(key_source::resolve(source, vault, setup)?.key)
        }
    };
    if let Some(key) = given {
        incident.take_key(&key, vault)?;
        return Ok(key);
    }
    if let Some(key) = incident.key(vault)? {
        return Ok(key);
    }
    if ctx.ui.stdin_is_terminal() && !ctx.ui.assume_yes() {
        let typed = hidden_key(
            ctx,
            &format!(
                "The leaked key {} (input hidden): ",
                incident.state.key.redacted
            ),
        )?;
        incident.take_key(&typed.key, vault)?;
        return Ok(typed.key);
    }
    bail!(
        "incident {} goes on with the leaked key {}, and the keyring no longer holds it ({}): give it again with `keywarden incident --secret-stdin`",
        incident.state.id,
        incident.state.key.redacted,
        incident.keyring_entry()
    )
}

/// Replaces the key as `rotate` does, printing its plan (and a resumed replacement's notice)
/// before it asks, and what it did after.
fn swap_printing_plan(
    ctx: &Context,
    incident: &Incident,
    replacing: Replacing<'_>,
    vault: &Vault,
) -> anyhow::Result<SwapReport> {
    let name = incident.state.name.as_str();
    let style = ctx.ui.out_style();
    let mut events = |event: SwapEvent<'_>| match event {
        SwapEvent::Resuming { phase } => ctx.ui.status(&format!(
            "an earlier replacement of {name} stopped ({phase}); finishing it"
        )),
        SwapEvent::Plan {
            plan,
            old,
            new,
            placeholder,
        } => print_lines(&[
            rotate_view::plan(plan, old, new, placeholder, &ctx.cwd, &style)
                .trim_end()
                .to_string(),
        ]),
    };
    let mut io = SwapIo {
        prompter: &ctx.ui,
        reporter: &ctx.ui,
        events: &mut events,
    };
    let report = incident_ops::replace(incident, replacing, vault, &ctx.clock, &mut io)?;
    print_lines(&rotate_view::swapped(&report, &ctx.cwd, ctx.clock.now()));
    Ok(report)
}

fn print_lines(lines: &[String]) {
    let mut out = Lenient(crate::output::stdout());
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}

/// Runs the stages of an incident that have no result yet.
struct Responder<'a> {
    ctx: &'a Context,
    args: &'a IncidentArgs,
    vault: &'a Vault,
    creds: &'a Credentials,
    provider: &'a dyn Provider,
    key: Secret,
    new_key: Option<Secret>,
    interval: Duration,
}

impl Responder<'_> {
    fn respond(mut self, mut incident: Incident) -> anyhow::Result<Outcome> {
        self.take_new_choices(&mut incident)?;
        let mut left_undone = Vec::new();
        if !incident.state.is_done(Stage::Replace) {
            incident_ops::locate_again(
                &mut incident,
                &self.key,
                self.provider,
                self.creds,
                &self.ctx.ui,
            )?;
        }
        for stage in [Stage::Contain, Stage::Replace, Stage::Purge] {
            if incident.state.is_done(stage) {
                continue;
            }
            incident.start(stage, &self.ctx.clock)?;
            let result = match stage {
                Stage::Contain => self.contain(&mut incident),
                Stage::Replace => self.replace(&mut incident),
                _ => self.purge(&mut incident, &mut left_undone),
            };
            if let Err(err) = result {
                return Err(self.stage_failed(&mut incident, stage, err));
            }
            fault::point(&format!("incident:{}", stage.name()));
        }
        incident.start(Stage::Report, &self.ctx.clock)?;
        let report = incident_ops::close(
            &mut incident,
            |s| (view::markdown(s), view::json(s)),
            self.vault,
            &self.ctx.clock,
        )
        .map_err(|err| self.stage_failed(&mut incident, Stage::Report, err.into()))?;
        let state = &incident.state;
        let mut lines = vec![String::new(), "What remains for you:".to_string()];
        for (i, item) in view::remaining(state).iter().enumerate() {
            lines.push(format!("{}. {}", i + 1, item.replace('\n', "\n   ")));
        }
        lines.push(String::new());
        lines.push(format!(
            "report: {} (and report.json beside it)",
            report.display()
        ));
        lines.push(view::last_line(state));
        print_lines(&lines);
        if !left_undone.is_empty() {
            bail!("{}", left_undone.join("; "));
        }
        Ok(if state.key_dead() {
            Outcome::Clean
        } else {
            Outcome::Findings
        })
    }

    /// Choices given to a resumed run that the first one did not make.
    fn take_new_choices(&self, incident: &mut Incident) -> anyhow::Result<()> {
        let choices = &mut incident.state.choices;
        let before = (
            choices.skip_revoke,
            choices.skip_purge,
            choices.push.clone(),
        );
        choices.skip_revoke |= self.args.skip_revoke;
        choices.skip_purge |= self.args.skip_purge;
        if self.args.push.is_some() {
            choices.push = self.args.push.clone();
        }
        if let Some(dir) = &self.args.report {
            choices.report_dir = Some(self.ctx.cwd.join(dir));
        }
        if before
            != (
                choices.skip_revoke,
                choices.skip_purge,
                choices.push.clone(),
            )
            || self.args.report.is_some()
        {
            incident.save()?;
        }
        Ok(())
    }

    /// A stage that failed: recorded (the next run does it again) and the error said with
    /// the command that goes on.
    fn stage_failed(
        &self,
        incident: &mut Incident,
        stage: Stage,
        err: anyhow::Error,
    ) -> anyhow::Error {
        let text = super::one_line(&err);
        let interrupted = err
            .chain()
            .any(|c| c.downcast_ref::<Failure>().is_some_and(|f| f.code == 130));
        if let Err(save) = incident.end(stage, Step::Failed, text.clone(), &self.ctx.clock) {
            self.ctx
                .ui
                .warn(&format!("the incident record could not be updated: {save}"));
        }
        let message = format!(
            "{}: {text}; the incident stays open: `keywarden incident` goes on from here (`keywarden incident --status` shows it, `keywarden incident --abort` stops it)",
            stage.name()
        );
        if interrupted {
            return Failure { code: 130, message }.into();
        }
        anyhow!(message)
    }

    fn revoke_options(&self) -> RevokeOptions {
        RevokeOptions {
            open_page: self.args.open,
            browser: self.ctx.env.browser().cloned(),
            wait: Some(WaitOptions {
                interval: self.interval,
                max_checks: self.args.max_checks,
            }),
        }
    }

    /// Stage 2: revoked and checked dead (or found dead, or only checked with
    /// `--skip-revoke`).
    fn contain(&self, incident: &mut Incident) -> anyhow::Result<()> {
        let ctx = self.ctx;
        let shown = RevokeView {
            provider: incident.state.provider,
            reporter: &ctx.ui,
        };
        let mut events = |event: crate::ops::revoke::RevokeEvent<'_>| shown.show(event);
        // Enter stops the wait for the key to die, on a terminal.
        let enter = ctx.ui.stdin_is_terminal().then(StopOnEnter::default);
        let stop = enter.as_ref().map(|enter| move || enter.pressed());
        let mut io = RevokeIo {
            prompter: &ctx.ui,
            reporter: &ctx.ui,
            events: &mut events,
            stop: stop.as_ref().map(|f| f as &dyn Fn() -> bool),
        };
        let record = incident_ops::contain(
            &self.key,
            self.provider,
            self.creds,
            incident.state.choices.skip_revoke,
            &self.revoke_options(),
            ctx.clock.now(),
            &mut io,
        )?;
        let line = view::contained(&record, incident.state.provider);
        let result = if record.dead {
            Step::Done
        } else if record.how == "skipped" {
            Step::Skipped
        } else {
            Step::Failed
        };
        incident_ops::record_contained(incident, record, self.vault)?;
        incident.end(Stage::Contain, result, line.clone(), &ctx.clock)?;
        print_lines(&[line]);
        Ok(())
    }

    /// Stage 3: a new key in every file and the keyring.
    fn replace(&mut self, incident: &mut Incident) -> anyhow::Result<()> {
        let ctx = self.ctx;
        let now = ctx.clock.now();
        if let Some(record) =
            incident_ops::replaced_earlier(self.vault, &incident.state.name, &self.key, now)?
        {
            let line = format!(
                "replace: {} already has its new key {}",
                record.name, record.new.redacted
            );
            incident.state.replace = Some(record);
            incident.end(Stage::Replace, Step::Done, line.clone(), &ctx.clock)?;
            print_lines(&[line]);
            return Ok(());
        }
        let replacing = Replacing {
            key: &self.key,
            provider: self.provider,
            creds: self.creds,
            files: held_in(incident),
            given: self.new_key.take(),
            dry_run: false,
            check_interval: self.interval,
        };
        let report = swap_printing_plan(ctx, incident, replacing, self.vault)?;
        let record = incident_ops::replace_record(&report, ctx.clock.now())
            .expect("a replacement that is not a dry run has its new key");
        let line = format!(
            "replace: {} has the new key {} ({} and the keyring)",
            record.name,
            record.new.redacted,
            crate::output::text::plural(record.files.len(), "file", "files")
        );
        incident.state.replace = Some(record);
        incident.end(Stage::Replace, Step::Done, line, &ctx.clock)?;
        Ok(())
    }

    /// Stage 4: history rewritten without the key (and force-pushed with `--push`).
    fn purge(&self, incident: &mut Incident, left: &mut Vec<String>) -> anyhow::Result<()> {
        let ctx = self.ctx;
        let in_history = incident
            .state
            .exposure
            .as_ref()
            .is_some_and(|e| e.in_history());
        let skipped = if incident.state.choices.skip_purge {
            Some("not purged (--skip-purge)")
        } else if !in_history {
            Some("the key is in no commit, message, stash or reflog")
        } else {
            None
        };
        if let Some(reason) = skipped {
            return self.purge_skipped(incident, reason);
        }
        let removal = Removal::new(
            Some(Scrubber::new(
                vec![self.key.clone()],
                Vec::new(),
                REPLACEMENT,
            )?),
            Vec::new(),
        )
        .map_err(failed)?;
        let repo = crate::core::git::open(&ctx.cwd).map_err(|e| anyhow!(e))?;
        let unfinished = purge::unfinished(&repo).map_err(failed)?.is_some();
        drop(repo);
        let begun = incident.state.purge.as_ref().is_some_and(|p| p.begun);
        if begun && !unfinished {
            // Its journal is gone: the purge finished, after its last step was recorded.
            let mut record = incident.state.purge.clone().unwrap_or_default();
            record.finished = true;
            return self.purged(incident, record);
        }
        let mut out = Lenient(crate::output::stdout());
        let mut purge = if unfinished {
            ctx.ui.status("an earlier purge stopped; finishing it");
            Purge::resume(&ctx.cwd, &removal)
        } else {
            let options = PurgeOptions {
                include_remotes: false,
                push: incident.state.choices.push.clone(),
            };
            Purge::begin(&ctx.cwd, &removal, options, &ctx.clock)
        }
        .map_err(failed)?;
        let outline = purge.outline().map_err(failed)?;
        purge_view::outline(&mut out, &outline)?;
        if !unfinished {
            match ctx.ui.confirm(&purge_view::question(&outline)) {
                Ok(true) => {}
                Ok(false) => {
                    drop(purge);
                    return self.purge_skipped(incident, "not purged (declined at the question)");
                }
                Err(PromptError::NoTerminal) => bail!(
                    "refusing to rewrite history without confirmation: pass --yes, or --skip-purge to leave history as it is"
                ),
                Err(err) => return Err(err.into()),
            }
        }
        let bar = Bars::new(ctx.ui.stderr_is_terminal(), false);
        let mut save_error = None;
        let verified = purge.run_to_end(&bar, &mut |purge, step| {
            bar.end_phase();
            incident.state.purge = Some(incident_ops::purge_record(&purge.summary(), None, false));
            if let Err(err) = incident.save() {
                save_error.get_or_insert(err);
            }
            let _ = purge_view::step(&mut out, step);
        });
        bar.end_phase();
        let verified = verified.map_err(failed)?;
        let summary = purge.summary();
        purge_view::records(&mut out, &summary)?;
        drop(purge);
        if let Some(err) = save_error {
            ctx.ui.warn(&format!(
                "the incident record could not be updated during the purge: {err}"
            ));
        }
        left.extend(purge_problems(ctx, &summary, verified.as_ref()));
        let record = incident_ops::purge_record(&summary, verified.as_ref(), true);
        self.purged(incident, record)
    }

    fn purge_skipped(&self, incident: &mut Incident, reason: &str) -> anyhow::Result<()> {
        incident.state.purge = Some(PurgeRecord {
            skipped: Some(reason.to_string()),
            ..PurgeRecord::default()
        });
        let line = format!("purge: {reason}");
        incident.end(Stage::Purge, Step::Skipped, line.clone(), &self.ctx.clock)?;
        print_lines(&[line]);
        Ok(())
    }

    fn purged(&self, incident: &mut Incident, record: PurgeRecord) -> anyhow::Result<()> {
        let line = view::purged_line(&record);
        let result =
            if record.verified_clean == Some(false) || matches!(record.pushed, Some((_, false))) {
                Step::Failed
            } else {
                Step::Done
            };
        incident.state.purge = Some(record);
        incident.end(Stage::Purge, result, line, &self.ctx.clock)?;
        Ok(())
    }
}

/// The files that held the leaked key when the incident began.
fn held_in(incident: &Incident) -> Vec<PathBuf> {
    incident
        .state
        .exposure
        .as_ref()
        .map(|e| e.files.iter().map(|f| f.path.clone()).collect())
        .unwrap_or_default()
}

/// `--dry-run` of a new incident: what each stage would do, with nothing written.
struct DryRun<'a> {
    ctx: &'a Context,
    repo: &'a Repository,
    key: &'a Secret,
    provider: &'a dyn Provider,
    creds: &'a Credentials,
    vault: &'a Vault,
    name: String,
    choices: Choices,
    exposure: crate::ops::incident::state::ExposureRecord,
    new_key: Option<Secret>,
}

impl DryRun<'_> {
    fn show(self) -> anyhow::Result<Outcome> {
        let ctx = self.ctx;
        let mut out = Lenient(crate::output::stdout());
        writeln!(
            out,
            "\ndry run: nothing is changed. `keywarden incident` would:"
        )?;
        writeln!(
            out,
            "1. contain: {}",
            view::contain_plan(
                self.provider,
                self.key,
                self.creds,
                self.choices.skip_revoke
            )
        )?;
        writeln!(
            out,
            "2. replace: a new key for {} in every file that holds this one and in the keyring:",
            self.name
        )?;
        out.flush()?;
        drop(out);
        let held: Vec<PathBuf> = self.exposure.files.iter().map(|f| f.path.clone()).collect();
        let incident = Incident {
            state: crate::ops::incident::state::IncidentState {
                exposure: Some(self.exposure.clone()),
                ..crate::ops::incident::state::IncidentState::new(
                    "dry-run".to_string(),
                    ctx.clock.now(),
                    crate::core::git::root_dir(self.repo),
                    crate::ops::swap::KeyLabel::of(self.key),
                    self.provider.id(),
                    self.name.clone(),
                    self.choices.clone(),
                )
            },
            path: PathBuf::new(),
            dir: incident_ops::incidents_dir(self.repo).join("dry-run"),
        };
        let replacing = Replacing {
            key: self.key,
            provider: self.provider,
            creds: self.creds,
            files: held,
            given: self.new_key,
            dry_run: true,
            check_interval: DEFAULT_POLL_INTERVAL,
        };
        swap_printing_plan(ctx, &incident, replacing, self.vault)?;
        let mut out = Lenient(crate::output::stdout());
        if self.choices.skip_purge || !self.exposure.in_history() {
            writeln!(
                out,
                "3. purge: nothing ({})",
                if self.choices.skip_purge {
                    "--skip-purge"
                } else {
                    "the key is in no commit"
                }
            )?;
        } else {
            writeln!(out, "3. purge: rewrite history without the key:")?;
            let removal = Removal::new(
                Some(Scrubber::new(
                    vec![self.key.clone()],
                    Vec::new(),
                    REPLACEMENT,
                )?),
                Vec::new(),
            )
            .map_err(failed)?;
            let bar = Bars::new(ctx.ui.stderr_is_terminal(), false);
            let plan = purge::dry_run(&ctx.cwd, &removal, false, &bar).map_err(failed)?;
            bar.end_phase();
            purge_view::dry_run(&mut out, &plan)?;
            if let Some(remote) = &self.choices.push {
                writeln!(out, "   then force-push the new history to {remote}")?;
            }
        }
        writeln!(
            out,
            "4. report: report.md and report.json in {}",
            self.choices
                .report_dir
                .clone()
                .unwrap_or_else(|| incident
                    .dir
                    .parent()
                    .map(|d| d.join("<time>"))
                    .unwrap_or_default())
                .display()
        )?;
        Ok(Outcome::Clean)
    }
}
