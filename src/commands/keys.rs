//! `keywarden keys add|list|forget|revoke`: the key registry and the keyring from the
//! command line. Keys come in through a hidden prompt or stdin, never argv; they go out
//! only to the keyring and the provider, and are shown redacted.

use super::{Context, Outcome};
use crate::cli::{
    KeysAddArgs, KeysArgs, KeysCommand, KeysForgetArgs, KeysListArgs, KeysRevokeArgs, ListFormat,
};
use crate::core::provider::openai::{Deleted, OpenAi};
use crate::core::provider::{self, Credentials, Provider, Revocation, Verification};
use crate::core::registry::keyring::KeyStore;
use crate::core::registry::{KeyRecord, Registry};
use crate::core::secret::{Liveness, Secret};
use crate::ops::keys::{looks_like_secret, validate_name, ARGV_KEY};
use crate::ops::{PromptError, Prompter, Reporter};
use crate::output::ui::Ui;
use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long to wait between two checks while waiting for a revoked key to die.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Checks made without a terminal (where nobody can press Enter to stop).
const DEFAULT_MAX_CHECKS_UNATTENDED: u32 = 60;

pub fn run(ctx: &Context, args: KeysArgs) -> anyhow::Result<Outcome> {
    match args.command {
        KeysCommand::Add(args) => add(ctx, args),
        KeysCommand::List(args) => list(ctx, args),
        KeysCommand::Forget(args) => forget(ctx, args),
        KeysCommand::Revoke(args) => revoke(ctx, args),
    }
}

fn add(ctx: &Context, args: KeysAddArgs) -> anyhow::Result<Outcome> {
    // Every value that could end up in a message or in the registry is checked.
    let echoed = std::iter::once(&args.provider)
        .chain(args.env_var.iter())
        .chain(args.used_in.iter());
    if !args.stray.is_empty() || echoed.into_iter().any(|v| looks_like_secret(v)) {
        bail!(ARGV_KEY);
    }
    validate_name(&args.name)?;
    let http = ctx.http()?;
    let provider = provider::provider(&args.provider.to_ascii_lowercase(), &http)?;
    let env_var = match &args.env_var {
        Some(var) => var.clone(),
        None => default_env_var(&*provider, &args.name),
    };
    validate_env_var(&env_var)?;
    let home = ctx.data_home()?;
    let mut reg = Registry::load(&home)?;
    if reg.get(&args.name).is_some() && !args.replace {
        bail!(
            "a key named `{}` is already registered (pass --replace to replace it, or `keywarden keys forget {}` first)",
            args.name,
            args.name
        );
    }
    let store = ctx.key_store()?;

    let key = read_secret(
        &ctx.ui,
        &format!(
            "Paste the {} key for {} (input hidden): ",
            provider.name(),
            args.name
        ),
        args.secret_stdin,
    )?;
    if key.expose().contains(['\n', '\r']) && provider.id() != "private-key" {
        bail!("the key spans several lines; pipe exactly one key on stdin");
    }
    if let Some(other) = reg
        .find_by_fingerprint(&key.fingerprint())
        .filter(|r| r.name != args.name)
    {
        ctx.ui.note(&format!(
            "the same key is already registered as `{}`",
            other.name
        ));
    }

    let mut verdict = "not verified".to_string();
    if !args.no_verify && !provider.can_verify(&key) {
        verdict = format!("{} keys cannot be verified", provider.name());
    } else if !args.no_verify {
        ctx.ui.status(&format!(
            "checking the key with {} (this contacts the provider)",
            provider.name()
        ));
        let answer = provider.verify(&key).scrubbed(&key);
        match answer.liveness {
            Liveness::Dead => bail!(
                "{} says the key {} is dead ({}); not stored (pass --no-verify to store it anyway)",
                provider.name(),
                key.redacted(),
                answer.reason
            ),
            Liveness::Unknown => {
                ctx.ui.warn(&format!(
                    "could not verify the key ({}); storing it anyway",
                    answer.reason
                ));
                verdict = "unverified".to_string();
            }
            Liveness::Live => {
                verdict = if answer.restricted {
                    "live (restricted)".to_string()
                } else {
                    "live".to_string()
                };
            }
        }
    }

    store
        .set(&args.name, &key)
        .with_context(|| format!("cannot store `{}` in the keyring", args.name))?;
    let now = ctx.clock.now();
    let previous = reg.get(&args.name).cloned();
    let mut locations = previous
        .as_ref()
        .map(|p| p.locations.clone())
        .unwrap_or_default();
    for place in &args.used_in {
        if !locations.contains(place) {
            locations.push(place.clone());
        }
    }
    reg.upsert(KeyRecord {
        name: args.name.clone(),
        provider: provider.id().to_string(),
        env_var: env_var.clone(),
        fingerprint: key.fingerprint(),
        redacted: key.redacted(),
        created: None,
        added: now,
        locations,
    });
    reg.save(&home)?;
    println!(
        "added {}: {} key {} ({verdict}) in {}; `keywarden run` sets {}",
        args.name,
        provider.name(),
        key.redacted(),
        store.kind().describe(),
        env_var
    );
    Ok(Outcome::Clean)
}

fn list(ctx: &Context, args: KeysListArgs) -> anyhow::Result<Outcome> {
    let reg = Registry::load(&ctx.data_home()?)?;
    let now = ctx.clock.now();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = reg
                .keys
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "name": k.name,
                        "provider": k.provider,
                        "env_var": k.env_var,
                        "redacted": k.redacted,
                        "fingerprint": k.fingerprint,
                        "created": k.created,
                        "added": k.added,
                        "age_days": age_days(k.born(), now),
                        "locations": k.locations,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Human => {
            if reg.keys.is_empty() {
                writeln!(
                    out,
                    "no keys registered (add one with `keywarden keys add NAME --provider P`)"
                )?;
                return Ok(Outcome::Clean);
            }
            let header = ["NAME", "PROVIDER", "VARIABLE", "KEY", "AGE", "USED IN"];
            let rows: Vec<[String; 6]> = reg
                .keys
                .iter()
                .map(|k| {
                    [
                        k.name.clone(),
                        k.provider.clone(),
                        k.env_var.clone(),
                        k.redacted.clone(),
                        format_age(age_days(k.born(), now)),
                        if k.locations.is_empty() {
                            "-".to_string()
                        } else {
                            k.locations.join(", ")
                        },
                    ]
                })
                .collect();
            let mut widths = header.map(|h| h.chars().count());
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: Vec<&str>| {
                let mut text = String::new();
                for (i, cell) in cells.iter().enumerate() {
                    if i + 1 == cells.len() {
                        text.push_str(cell);
                    } else {
                        let pad = widths[i] - cell.chars().count();
                        text.push_str(cell);
                        text.push_str(&" ".repeat(pad + 2));
                    }
                }
                text
            };
            writeln!(out, "{}", line(header.to_vec()))?;
            for row in &rows {
                writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
            }
        }
    }
    Ok(Outcome::Clean)
}

/// A key in the registry, found by name, with what changing it needs.
struct Registered {
    home: std::path::PathBuf,
    reg: Registry,
    record: KeyRecord,
    store: Box<dyn KeyStore>,
}

fn registered(ctx: &Context, name: &str) -> anyhow::Result<Registered> {
    validate_name(name)?;
    let home = ctx.data_home()?;
    let reg = Registry::load(&home)?;
    let Some(record) = reg.get(name).cloned() else {
        bail!("no key named `{name}` in the registry");
    };
    Ok(Registered {
        home,
        reg,
        record,
        store: ctx.key_store()?,
    })
}

fn forget(ctx: &Context, args: KeysForgetArgs) -> anyhow::Result<Outcome> {
    let Registered {
        home,
        mut reg,
        record,
        store,
    } = registered(ctx, &args.name)?;
    let removed = store
        .delete(&record.name)
        .with_context(|| format!("cannot remove `{}` from the keyring", record.name))?;
    reg.remove(&record.name)?;
    reg.save(&home)?;
    println!(
        "forgot {} ({}){}; it stays valid at {} until it is revoked there",
        record.name,
        record.redacted,
        if removed {
            format!(", removed from {}", store.kind().describe())
        } else {
            " (it was not in the keyring)".to_string()
        },
        record.provider
    );
    Ok(Outcome::Clean)
}

fn revoke(ctx: &Context, args: KeysRevokeArgs) -> anyhow::Result<Outcome> {
    let Registered {
        home,
        mut reg,
        record,
        store,
    } = registered(ctx, &args.name)?;
    let key = stored_key(&*store, &record)?;
    let http = ctx.http()?;
    let provider = provider::provider(&record.provider, &http)?;
    let creds = credentials(ctx, &*store, &reg)?;

    let openai_admin = creds
        .openai_admin
        .as_ref()
        .filter(|_| record.provider == "openai");
    let openai = OpenAi::from_env(http.clone());
    let found = match openai_admin {
        Some(admin) => {
            ctx.ui
                .status("looking the key up with the OpenAI Admin API (every project)");
            match openai.find_unique_key(admin, &key) {
                Ok(found) => Some((admin, found)),
                // Not in this organization (or ambiguous): a person can still find it.
                Err(provider::ProviderError::NotFound(message)) => {
                    ctx.ui.warn(&message);
                    None
                }
                Err(err) => bail!(provider::scrub(&err.to_string(), &[&key, admin])),
            }
        }
        None => None,
    };
    if let Some((admin, found)) = found {
        let safe = |err: provider::ProviderError| {
            anyhow::anyhow!(provider::scrub(&err.to_string(), &[&key, admin]))
        };
        println!(
            "OpenAI key \"{}\" ({}) in project \"{}\" ({})",
            found.name, found.id, found.project.name, found.project.id
        );
        println!("  owner:     {}", found.owner.describe());
        println!("  created:   {}", format_time(found.created_at));
        println!("  last used: {}", format_time(found.last_used_at));
        confirm(&ctx.ui, "Delete this key now?")?;
        match openai.delete_key(admin, &found).map_err(safe)? {
            Deleted::Key { id } => println!("deleted key {id}"),
            Deleted::ServiceAccount { id } => println!(
                "the key belongs to a service account, so its service account {id} was deleted"
            ),
        }
        if args.replace {
            let name = format!(
                "keywarden-{}-{}",
                record.name,
                ctx.clock.now().format("%Y%m%d")
            );
            let made = openai
                .create_service_account(admin, &found.project, &name)
                .map_err(safe)?;
            // Stored at once: the API shows a new key only this one time.
            store_replacement(ctx, &*store, &mut reg, &home, &record, &made)?;
        }
    } else {
        // The admin path was tried above (or there is no admin key): never again here.
        let creds = Credentials::default();
        let revoked = provider
            .revoke(&key, &creds)
            .map_err(|err| anyhow::anyhow!(provider::scrub(&err.to_string(), &[&key])))?;
        match revoked {
            Revocation::Revoked { detail } => println!("{}: {detail}", provider.name()),
            Revocation::Manual(steps) => {
                println!(
                    "{} keys are revoked by hand{}:",
                    provider.name(),
                    if record.provider == "openai" {
                        " (or set OPENAI_ADMIN_KEY to let keywarden do it)"
                    } else {
                        ""
                    }
                );
                for (i, step) in steps.steps.iter().enumerate() {
                    println!("  {}. {step}", i + 1);
                }
                if let Some(page) = &steps.page {
                    let open =
                        args.open || ctx.ui.offer(&format!("Open {page} in your browser?"))?;
                    if open {
                        match open_in_browser(ctx, page) {
                            Ok(()) => ctx.ui.status(&format!("opened {page} in the browser")),
                            Err(err) => ctx.ui.status(&format!(
                                "could not open a browser ({err}); open {page} yourself"
                            )),
                        }
                    } else {
                        ctx.ui
                            .status(&format!("pass --open to open {page} in the browser"));
                    }
                }
            }
        }
        if args.replace {
            ctx.ui.status(&format!(
                "{} cannot create the replacement here; create it at the provider and run `keywarden keys add {} --provider {} --replace`",
                provider.name(),
                record.name,
                record.provider
            ));
        }
    }
    std::io::stdout().flush()?;

    let mut outcome = Outcome::Clean;
    if !args.no_wait && !provider.can_verify(&key) {
        ctx.ui.status(&format!(
            "{} cannot tell whether this key still works; check it at the provider",
            provider.name()
        ));
    } else if !args.no_wait {
        let answer = wait_until_dead(ctx, &*provider, &key, args.max_checks)?;
        match answer.liveness {
            Liveness::Dead => println!("{} is dead: {}", record.name, answer.reason),
            other => {
                println!(
                    "{} is still {} ({}); check again with `keywarden keys revoke {} --no-wait` or at the provider",
                    record.name,
                    other.as_str(),
                    answer.reason,
                    record.name
                );
                outcome = Outcome::Findings;
            }
        }
    }

    Ok(outcome)
}

/// Puts a new key under the old one's name: keyring first, then the registry.
fn store_replacement(
    ctx: &Context,
    store: &dyn KeyStore,
    reg: &mut Registry,
    home: &std::path::Path,
    record: &KeyRecord,
    made: &provider::Replacement,
) -> anyhow::Result<()> {
    store
        .set(&record.name, &made.key)
        .with_context(|| format!("cannot store the new key for `{}`", record.name))?;
    let now = ctx.clock.now();
    let mut updated = record.clone();
    updated.fingerprint = made.key.fingerprint();
    updated.redacted = made.key.redacted();
    updated.created = Some(now);
    updated.added = now;
    reg.upsert(updated);
    reg.save(home)?;
    println!(
        "created {} {}: {}; stored as {} (`keywarden run` sets {})",
        made.name,
        made.key.redacted(),
        made.detail,
        record.name,
        record.env_var
    );
    Ok(())
}

/// Checks the key until it is dead, the check budget runs out, or (on a terminal) the user
/// presses Enter. Providers that cannot tell are asked once.
fn wait_until_dead(
    ctx: &Context,
    provider: &dyn Provider,
    key: &Secret,
    max_checks: Option<u32>,
) -> anyhow::Result<Verification> {
    let interval = ctx.env.poll_interval()?.unwrap_or(DEFAULT_POLL_INTERVAL);
    let interactive = ctx.ui.stdin_is_terminal();
    let max_checks = max_checks.unwrap_or(if interactive {
        u32::MAX
    } else {
        DEFAULT_MAX_CHECKS_UNATTENDED
    });
    let gave_up = Arc::new(AtomicBool::new(false));
    if interactive {
        let flag = Arc::clone(&gave_up);
        // Detached on purpose: it blocks on stdin and dies with the process.
        std::thread::spawn(move || {
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_ok() {
                flag.store(true, Ordering::Relaxed);
            }
        });
    }
    ctx.ui.status(&format!(
        "checking with {} until the key is dead{}",
        provider.name(),
        if interactive {
            " (press Enter to stop)"
        } else {
            ""
        }
    ));
    let mut checks = 0u32;
    Ok(provider::poll_until_dead(
        provider,
        key,
        interval,
        |answer| {
            checks += 1;
            ctx.ui.status(&format!(
                "check {checks}: still {} ({})",
                answer.liveness.as_str(),
                answer.reason
            ));
            checks < max_checks && !gave_up.load(Ordering::Relaxed)
        },
    ))
}

/// The OpenAI admin key: `OPENAI_ADMIN_KEY`, else a registered key kept under that variable.
fn credentials(ctx: &Context, store: &dyn KeyStore, reg: &Registry) -> anyhow::Result<Credentials> {
    let openai_admin = match ctx.env.openai_admin_key() {
        Some(key) => Some(key),
        None => match reg.keys.iter().find(|k| k.env_var == "OPENAI_ADMIN_KEY") {
            Some(record) => store.get(&record.name)?,
            None => None,
        },
    };
    Ok(Credentials { openai_admin })
}

fn stored_key(store: &dyn KeyStore, record: &KeyRecord) -> anyhow::Result<Secret> {
    store
        .get(&record.name)
        .with_context(|| format!("cannot read `{}` from the keyring", record.name))?
        .with_context(|| {
            format!(
                "`{}` is in the registry but not in {} (add it again with `keywarden keys add {} --provider {} --replace`)",
                record.name,
                store.kind().describe(),
                record.name,
                record.provider
            )
        })
}

/// Reads a key from a hidden prompt (terminal) or all of stdin.
fn read_secret(ui: &Ui, prompt: &str, force_stdin: bool) -> anyhow::Result<Secret> {
    let key = if !force_stdin && ui.stdin_is_terminal() {
        let typed = ui
            .secret(prompt)
            .context("cannot read the key from the terminal")?;
        Secret::new(typed.expose().trim())
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the key from stdin")?;
        let key = Secret::new(text.trim());
        drop(text);
        key
    };
    if key.is_empty() {
        bail!("empty key: pipe the key on stdin or paste it at the prompt");
    }
    Ok(key)
}

fn confirm(ui: &Ui, question: &str) -> anyhow::Result<()> {
    match ui.confirm(question) {
        Ok(true) => Ok(()),
        Ok(false) => bail!("not confirmed; nothing was deleted"),
        Err(PromptError::NoTerminal) => {
            bail!("refusing to delete without confirmation: pass --yes")
        }
        Err(err) => Err(err.into()),
    }
}

/// Opens `url` with `$BROWSER` when set, else the platform's opener.
fn open_in_browser(ctx: &Context, url: &str) -> std::io::Result<()> {
    let mut command = if let Some(browser) = ctx.env.browser() {
        std::process::Command::new(browser)
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    let status = command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "the opener exited with {status}"
        )))
    }
}

fn validate_env_var(var: &str) -> anyhow::Result<()> {
    let mut chars = var.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        bail!("invalid environment variable name `{var}`");
    }
    Ok(())
}

/// The provider's usual variable; for providers without one, derived from the key's name
/// (`db-password` → `DB_PASSWORD`).
fn default_env_var(provider: &dyn Provider, name: &str) -> String {
    if matches!(provider.id(), "generic" | "private-key") {
        let derived: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        if derived.starts_with(|c: char| c.is_ascii_digit()) {
            return format!("_{derived}");
        }
        return derived;
    }
    provider.default_env_var().to_string()
}

fn age_days(born: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - born).num_days().max(0)
}

fn format_age(days: i64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

fn format_time(time: Option<DateTime<Utc>>) -> String {
    time.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_checked() {
        assert!(validate_env_var("OPENAI_API_KEY").is_ok());
        assert!(validate_env_var("1X").is_err());
        assert!(validate_env_var("A-B").is_err());
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(format_age(0), "today");
        assert_eq!(format_age(1), "1 day");
        assert_eq!(format_age(40), "40 days");
    }
}
