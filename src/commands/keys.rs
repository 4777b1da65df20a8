//! `keywarden keys add|list|check|forget|revoke`: the arguments turned into `ops::keys`,
//! `ops::revoke` and `ops::replace` calls, and their reports rendered. Keys come in through
//! a hidden prompt or stdin, never argv; they go out only to the keyring and the provider,
//! and are shown redacted.

use super::{Context, Outcome};
use crate::cli::{
    KeyChoiceArgs, KeysAddArgs, KeysArgs, KeysCheckArgs, KeysCommand, KeysForgetArgs,
    KeysImportArgs, KeysListArgs, KeysRevokeArgs, ListFormat,
};
use crate::core::provider::ProviderId;
use crate::core::registry::Registry;
use crate::core::secret::Liveness;
use crate::ops::inventory::{self, ImportEvent};
use crate::ops::key_source::{self, KeySource, ResolvedKey};
use crate::ops::keys::{
    self, looks_like_secret, validate_name, AddRequest, KeyInput, KeysError, Replacing,
    RevokeRequest, ARGV_KEY,
};
use crate::ops::revoke::{RevokeIo, RevokeOptions, WaitOptions, DEFAULT_POLL_INTERVAL};
use crate::ops::scan::ScanSetup;
use crate::ops::vault::Vault;
use crate::ops::{Prompter, Reporter};
use crate::output::keys::{self as view, RevokeView, StopOnEnter};
use anyhow::{bail, Context as _};
use std::io::Read;

pub fn run(ctx: &Context, args: KeysArgs) -> anyhow::Result<Outcome> {
    match args.command {
        KeysCommand::Add(args) => add(ctx, args),
        KeysCommand::List(args) => list(ctx, args),
        KeysCommand::Check(args) => check(ctx, args),
        KeysCommand::Forget(args) => forget(ctx, args),
        KeysCommand::Revoke(args) => revoke(ctx, args),
        KeysCommand::Import(args) => import(ctx, args),
    }
}

fn vault(ctx: &Context) -> anyhow::Result<Vault> {
    Ok(Vault::new(ctx.data_home()?, ctx.key_store()?))
}

/// `--provider P`, checked.
fn provider_arg(provider: Option<&str>) -> anyhow::Result<Option<ProviderId>> {
    Ok(provider.map(str::parse).transpose()?)
}

fn add(ctx: &Context, args: KeysAddArgs) -> anyhow::Result<Outcome> {
    // Every value that could end up in a message or in the registry is checked.
    let echoed = args
        .provider
        .iter()
        .chain(args.env_var.iter())
        .chain(args.used_in.iter());
    if !args.stray.is_empty() || echoed.into_iter().any(|v| looks_like_secret(v)) {
        bail!(ARGV_KEY);
    }
    validate_name(&args.name)?;
    let provider = provider_arg(args.provider.as_deref())?;
    let vault = vault(ctx)?;
    let prompt = match provider {
        Some(p) => format!(
            "Paste the {} key for {} (input hidden): ",
            p.name(),
            args.name
        ),
        None => format!("Paste the key for {} (input hidden): ", args.name),
    };
    let input = read_key(ctx, &prompt, args.secret_stdin, provider)?;
    let report = keys::add(
        AddRequest {
            name: args.name,
            input,
            provider,
            env_var: args.env_var,
            used_in: args.used_in.iter().map(Into::into).collect(),
            search: env_files_here(ctx),
            cwd: ctx.cwd.clone(),
            verify: !args.no_verify,
            replace: args.replace,
        },
        &vault,
        &ctx.providers()?,
        &ctx.env,
        &ctx.clock,
        &ctx.ui,
    )?;
    crate::output::say!("{}", view::added(&report));
    Ok(Outcome::Clean)
}

/// The env files of the repository keywarden runs in (none outside one): where `keys add`
/// looks for the key it stores, to record where it is used.
fn env_files_here(ctx: &Context) -> Vec<std::path::PathBuf> {
    let Ok(repo) = crate::core::git::open(&ctx.cwd) else {
        return Vec::new();
    };
    let roots = inventory::work_trees(&repo);
    let policy = roots
        .first()
        .and_then(|root| ctx.load_config(root).ok())
        .and_then(|config| config.env_file_policy().ok())
        .unwrap_or_default();
    inventory::key_files(&roots, &policy).unwrap_or_default()
}

fn list(ctx: &Context, args: KeysListArgs) -> anyhow::Result<Outcome> {
    let registry = Registry::load(&ctx.data_home()?)?;
    let now = ctx.clock.now();
    match args.format {
        ListFormat::Json => view::list_json(&registry, now, &mut std::io::stdout().lock())?,
        ListFormat::Human => view::list_human(&registry, now, &mut crate::output::stdout())?,
    }
    Ok(Outcome::Clean)
}

fn forget(ctx: &Context, args: KeysForgetArgs) -> anyhow::Result<Outcome> {
    validate_name(&args.name)?;
    let report = keys::forget(&args.name, &vault(ctx)?)?;
    crate::output::say!("{}", view::forgot(&report));
    Ok(Outcome::Clean)
}

fn check(ctx: &Context, args: KeysCheckArgs) -> anyhow::Result<Outcome> {
    let vault = vault(ctx)?;
    let resolved = resolve(ctx, &vault, args.key, "check")?;
    let report = keys::check(&resolved, &vault, &ctx.providers()?, &ctx.clock)?;
    crate::output::say!("{}", view::checked(&report));
    Ok(match report.answer.liveness {
        Liveness::Dead => Outcome::Clean,
        Liveness::Live => Outcome::Findings,
        Liveness::Unknown => Outcome::Undecided,
    })
}

fn revoke(ctx: &Context, args: KeysRevokeArgs) -> anyhow::Result<Outcome> {
    let vault = vault(ctx)?;
    let resolved = resolve(ctx, &vault, args.key, "revoke")?;
    let replace = if !args.replace {
        None
    } else if args.new_key_stdin {
        let input = read_stdin(resolved.provider)?;
        Some(Replacing::Given(input.key))
    } else {
        Some(Replacing::Auto)
    };
    let wait = (!args.no_wait).then(|| -> anyhow::Result<WaitOptions> {
        Ok(WaitOptions {
            interval: ctx.env.poll_interval()?.unwrap_or(DEFAULT_POLL_INTERVAL),
            max_checks: args.max_checks,
        })
    });
    let options = RevokeOptions {
        open_page: args.open,
        browser: ctx.env.browser().cloned(),
        wait: wait.transpose()?,
    };
    // Enter stops the wait on a terminal (a key on stdin means stdin is not one).
    let enter = (options.wait.is_some() && ctx.ui.stdin_is_terminal()).then(StopOnEnter::default);
    let stop = enter.as_ref().map(|enter| move || enter.pressed());
    let shown = RevokeView {
        provider: resolved.provider,
        reporter: &ctx.ui,
    };
    let mut events = |event: crate::ops::revoke::RevokeEvent<'_>| shown.show(event);
    let mut io = RevokeIo {
        prompter: &ctx.ui,
        reporter: &ctx.ui,
        events: &mut events,
        stop: stop.as_ref().map(|f| f as &dyn Fn() -> bool),
    };
    let outcome = keys::revoke_key(
        RevokeRequest {
            resolved: resolved.clone(),
            options,
            replace,
        },
        &vault,
        &ctx.providers()?,
        &ctx.env,
        &ctx.clock,
        &mut io,
    )?;
    if let Some(replaced) = &outcome.replaced {
        crate::output::say!("{}", view::replaced(replaced));
    }
    if outcome.replace_skipped.is_some() {
        ctx.ui.status(&format!(
            "{} cannot create the replacement here; create it at the provider and run `keywarden keys add {} --provider {} --replace`",
            resolved.provider.name(),
            resolved.label(),
            resolved.provider
        ));
    }
    let (line, done) = view::revoke_result(&outcome.revoke, &resolved);
    crate::output::say!("{line}");
    Ok(if done {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// The key a `check` or `revoke` is about: a name, stdin, or a finding's fingerprint.
fn resolve(
    ctx: &Context,
    vault: &Vault,
    args: KeyChoiceArgs,
    verb: &str,
) -> anyhow::Result<ResolvedKey> {
    if let Some(provider) = &args.provider {
        if looks_like_secret(provider) {
            bail!(ARGV_KEY);
        }
    }
    let provider = provider_arg(args.provider.as_deref())?;
    let source = match (args.name, args.secret_stdin, args.finding) {
        (Some(name), _, _) => {
            validate_name(&name)?;
            KeySource::Registered(name)
        }
        (None, true, _) => KeySource::Given {
            input: read_stdin(provider.unwrap_or(ProviderId::Generic))?,
            provider,
        },
        (None, false, Some(fingerprint)) => KeySource::Finding {
            fingerprint,
            repo: ctx.cwd.clone(),
        },
        (None, false, None) => bail!(
            "which key? `keywarden keys {verb} NAME` (a registered key), `--secret-stdin` (a key on stdin) or `--finding FINGERPRINT` (from `keywarden scan`)"
        ),
    };
    let setup = |root: &std::path::Path| ScanSetup::new(&ctx.load_config(root)?, &[], &[], None);
    Ok(key_source::resolve(source, vault, setup)?)
}

/// A key from a hidden prompt (terminal) or all of stdin.
fn read_key(
    ctx: &Context,
    prompt: &str,
    force_stdin: bool,
    provider: Option<ProviderId>,
) -> anyhow::Result<KeyInput> {
    if force_stdin || !ctx.ui.stdin_is_terminal() {
        return read_stdin(provider.unwrap_or(ProviderId::Generic));
    }
    let typed = ctx
        .ui
        .secret(prompt)
        .context("cannot read the key from the terminal")?;
    Ok(keys::read_key_input(
        typed.expose(),
        provider == Some(ProviderId::PrivateKey),
    )?)
}

/// All of stdin, as a key (a private key may span lines).
fn read_stdin(provider: ProviderId) -> anyhow::Result<KeyInput> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the key from stdin")?;
    let input = keys::read_key_input(&text, provider == ProviderId::PrivateKey);
    // Overwritten before it is freed, as `Secret` does for itself.
    drop(crate::core::secret::Secret::new(text));
    input.map_err(|err: KeysError| err.into())
}

fn import(ctx: &Context, args: KeysImportArgs) -> anyhow::Result<Outcome> {
    let repo = crate::core::git::open(&ctx.cwd).ok();
    let roots = repo.as_ref().map(inventory::work_trees).unwrap_or_default();
    let root = roots.first().cloned().unwrap_or_else(|| ctx.cwd.clone());
    let config = ctx.load_config(&root)?;
    let (files, scanned) = match (&repo, args.files.is_empty()) {
        (Some(repo), true) => inventory::scan_repository(repo, &config)?,
        (None, true) => bail!(
            "not in a git repository: name the env files to import (`keywarden keys import .env`)"
        ),
        (_, false) => {
            let files: Vec<std::path::PathBuf> = args
                .files
                .iter()
                .map(|f| inventory::absolute(&ctx.cwd, f))
                .collect();
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                bail!("{}: no such file", missing.display());
            }
            let setup = ScanSetup::new(&config, &[], &[], None)?;
            let scanned = inventory::scan_files(&files, &setup.scanner, &roots);
            (files, scanned)
        }
    };
    if let Some((path, err)) = scanned.unreadable.first() {
        bail!("cannot read {}: {err}", path.display());
    }
    for (path, line) in &scanned.outside {
        ctx.ui.note(&format!(
            "{}:{line}: a key outside a NAME=value line is not registered",
            crate::core::walk::display_path(path, &ctx.cwd)
        ));
    }
    if scanned.found.is_empty() {
        crate::output::say!(
            "no keys found in {} file{}",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        return Ok(Outcome::Clean);
    }
    let home = ctx.data_home()?;
    let style = ctx.ui.out_style();
    let nothing = crate::core::secret::Secret::new("");
    let mut events = |event: ImportEvent<'_>| match event {
        ImportEvent::Emptying(plan) => {
            crate::output::say_partly!(
                "{}",
                crate::output::rotate::plan(plan, &nothing, &nothing, false, &ctx.cwd, &style)
            );
        }
    };
    let vault = args
        .move_into_keyring
        .then(|| anyhow::Ok(Vault::new(home.clone(), ctx.key_store()?)))
        .transpose()?;
    let moving = vault.as_ref().map(|vault| inventory::Moving {
        vault,
        journal: home.join("imports").join("edits.json"),
        prompter: &ctx.ui,
        events: &mut events,
    });
    let report = inventory::import(scanned.found, &home, &ctx.clock, moving)?;
    for line in crate::output::rotate::imported(&report, &ctx.cwd) {
        crate::output::say!("{line}");
    }
    if !args.move_into_keyring && report.keys.iter().any(|k| !k.in_keyring) {
        crate::output::say!(
            "the keys stay in the files; `keywarden keys import --move` puts them into the keyring and empties them there, and `keywarden run -- CMD` then supplies them"
        );
    }
    Ok(Outcome::Clean)
}
