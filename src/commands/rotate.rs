//! `keywarden rotate NAME | --due | --all`, `--finish`, `--abort`, `--check`, `--schedule`:
//! the arguments turned into `ops::rotate` and `ops::due` calls, the events and reports
//! rendered by `output::rotate` (and `output::keys` for a revocation's commentary).

use super::{Context, Outcome};
use crate::cli::{ListFormat, RotateArgs};
use crate::core::clock::parse_duration;
use crate::core::envfiles::EnvFilePolicy;
use crate::core::registry::Registry;
use crate::core::secret::Secret;
use crate::ops::due;
use crate::ops::edits::Unavailable;
use crate::ops::inventory;
use crate::ops::keys::{self as key_ops, validate_name};
use crate::ops::revoke::{RevokeOptions, WaitOptions, DEFAULT_POLL_INTERVAL};
use crate::ops::rotate::{self, OldKey, RotateEvent, RotateIo, RotateOutcome, RotateRequest};
use crate::ops::swap::{NewKeyRequest, SwapEvent};
use crate::ops::vault::Vault;
use crate::ops::Reporter;
use crate::output::keys::{RevokeView, StopOnEnter};
use crate::output::rotate as view;
use anyhow::{bail, Context as _};
use std::io::{Read, Write};
use std::path::PathBuf;

pub fn run(ctx: &Context, args: RotateArgs) -> anyhow::Result<Outcome> {
    if args.schedule {
        return schedule(ctx);
    }
    if let Some(name) = &args.name {
        validate_name(name)?;
    }
    let here = Here::of(ctx)?;
    if args.check {
        return check(ctx, &here, args.format);
    }
    let vault = Vault::new(ctx.data_home()?, ctx.key_store()?);
    if args.abort {
        let name = args.name.as_deref().expect("clap: --abort requires NAME");
        let aborted = rotate::abort(name, &here.roots, &here.env_policy, &vault)?;
        for line in view::aborted(&aborted, &ctx.cwd) {
            crate::output::say!("{line}");
        }
        return Ok(Outcome::Clean);
    }
    let grace = args
        .grace
        .as_deref()
        .map(parse_duration)
        .transpose()
        .context("--grace")?;
    let new_key = if args.new_key_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the new key from stdin")?;
        let input = key_ops::read_key_input(&text, false);
        drop(Secret::new(text));
        NewKeyRequest::Given(input?.key)
    } else {
        NewKeyRequest::Auto
    };
    let names: Vec<(String, bool)> = match &args.name {
        Some(name) => vec![(name.clone(), args.finish)],
        None => {
            let registry = Registry::load(&ctx.data_home()?)?;
            let now = ctx.clock.now();
            let statuses = due::statuses(&registry.keys, &here.policy, now);
            if args.all {
                statuses
                    .iter()
                    .filter(|k| !k.standing.revoked)
                    .map(|k| (k.name.clone(), false))
                    .collect()
            } else {
                let attention = due::attention(&statuses);
                let mut names: Vec<(String, bool)> = attention
                    .due
                    .iter()
                    .map(|k| (k.name.clone(), false))
                    .collect();
                for key in attention.overdue_revocations(now) {
                    if !names.iter().any(|(n, _)| *n == key.name) {
                        names.push((key.name.clone(), true));
                    }
                }
                names
            }
        }
    };
    if names.is_empty() {
        crate::output::say!(
            "{}",
            if args.all {
                "no keys registered (see `keywarden keys import` and `keywarden keys add`)"
            } else {
                "no key is due for rotation (`keywarden rotate --check` lists them)"
            }
        );
        return Ok(Outcome::Clean);
    }
    let mut outcome = Outcome::Clean;
    let mut new_key = Some(new_key);
    for (name, finish_only) in names {
        let request = RotateRequest {
            name,
            new_key: new_key.take().unwrap_or(NewKeyRequest::Auto),
            grace,
            dry_run: args.dry_run,
            unavailable: if args.skip_missing {
                Unavailable::Skip
            } else {
                Unavailable::Refuse
            },
            here: here.roots.clone(),
            env_policy: here.env_policy.clone(),
            revoke: revoke_options(ctx, args.open)?,
        };
        if rotate_one(ctx, &vault, request, finish_only)? != Outcome::Clean {
            outcome = Outcome::Findings;
        }
    }
    Ok(outcome)
}

/// The repository the command runs in, when it runs in one: its work trees, its env-file
/// names and the rotation policy with its `[rotation]` settings.
struct Here {
    roots: Vec<PathBuf>,
    env_policy: EnvFilePolicy,
    policy: crate::core::registry::policy::Policy,
}

impl Here {
    fn of(ctx: &Context) -> anyhow::Result<Here> {
        let Ok(repo) = crate::core::git::open(&ctx.cwd) else {
            return Ok(Here {
                roots: Vec::new(),
                env_policy: EnvFilePolicy::default(),
                policy: ctx.policy(None)?,
            });
        };
        let root = crate::core::git::root_dir(&repo);
        let config = ctx.load_config(&root)?;
        Ok(Here {
            roots: inventory::work_trees(&repo),
            env_policy: config.env_file_policy()?,
            policy: ctx.policy(Some(&root))?,
        })
    }
}

fn revoke_options(ctx: &Context, open_page: bool) -> anyhow::Result<RevokeOptions> {
    Ok(RevokeOptions {
        open_page,
        browser: ctx.env.browser().cloned(),
        wait: Some(WaitOptions {
            interval: ctx.env.poll_interval()?.unwrap_or(DEFAULT_POLL_INTERVAL),
            max_checks: None,
        }),
    })
}

/// One key: rotated, or its pending revocation finished. `Findings` when the old key is
/// not confirmed revoked yet.
fn rotate_one(
    ctx: &Context,
    vault: &Vault,
    request: RotateRequest,
    finish_only: bool,
) -> anyhow::Result<Outcome> {
    let name = request.name.clone();
    let record = vault.record(&name)?;
    let style = ctx.ui.out_style();
    let shown = RevokeView {
        provider: record.provider,
        reporter: &ctx.ui,
    };
    let mut events = |event: RotateEvent<'_>| match event {
        RotateEvent::Swap(SwapEvent::Resuming { phase }) => ctx.ui.status(&format!(
            "an earlier rotation of {name} stopped ({phase}); finishing it"
        )),
        RotateEvent::Swap(SwapEvent::Plan {
            plan,
            old,
            new,
            placeholder,
        }) => {
            let mut out = crate::output::stdout();
            // A closed stdout must not stop a rotation half-way.
            let _ = out
                .write_all(view::plan(plan, old, new, placeholder, &ctx.cwd, &style).as_bytes())
                .and_then(|()| out.flush());
        }
        RotateEvent::Revoke(event) => shown.show(event),
    };
    // Enter stops the wait for the old key to die, on a terminal.
    let enter = ctx.ui.stdin_is_terminal().then(StopOnEnter::default);
    let stop = enter.as_ref().map(|enter| move || enter.pressed());
    let mut io = RotateIo {
        prompter: &ctx.ui,
        reporter: &ctx.ui,
        events: &mut events,
        stop: stop.as_ref().map(|f| f as &dyn Fn() -> bool),
    };
    let providers = ctx.providers()?;
    if finish_only {
        let finished = rotate::finish(
            &name,
            &request.revoke,
            vault,
            &providers,
            &ctx.env,
            &ctx.clock,
            &mut io,
        )?;
        let (line, done) = view::finished(&finished);
        crate::output::say!("{line}");
        return Ok(if done {
            Outcome::Clean
        } else {
            Outcome::Findings
        });
    }
    let outcome = rotate::rotate(request, vault, &providers, &ctx.env, &ctx.clock, &mut io)?;
    match outcome {
        RotateOutcome::Finished(finished) => {
            let (line, done) = view::finished(&finished);
            crate::output::say!("{line}");
            if done {
                crate::output::say!(
                    "{name} itself was rotated before; `keywarden rotate {name}` rotates it again"
                );
            }
            Ok(if done {
                Outcome::Clean
            } else {
                Outcome::Findings
            })
        }
        RotateOutcome::Rotated(report) => {
            for line in view::swapped(&report.swap, &ctx.cwd, ctx.clock.now()) {
                crate::output::say!("{line}");
            }
            if let OldKey::Failed(err) = report.old_key {
                return Err(anyhow::Error::new(*err).context(format!(
                    "{name} now has its new key, but the old key {} was not revoked (`keywarden rotate --finish {name}` tries again)",
                    report.swap.old.redacted
                )));
            }
            match view::old_key(&name, &report.swap.old.redacted, &report.old_key) {
                Some((line, done)) => {
                    crate::output::say!("{line}");
                    Ok(if done {
                        Outcome::Clean
                    } else {
                        Outcome::Findings
                    })
                }
                None => Ok(Outcome::Clean),
            }
        }
    }
}

fn check(ctx: &Context, here: &Here, format: ListFormat) -> anyhow::Result<Outcome> {
    let registry = Registry::load(&ctx.data_home()?)?;
    let now = ctx.clock.now();
    let statuses = due::statuses(&registry.keys, &here.policy, now);
    let attention = due::attention(&statuses);
    match format {
        ListFormat::Human => view::check_human(
            &attention,
            statuses.len(),
            now,
            &mut crate::output::stdout(),
        )?,
        ListFormat::Json => view::check_json(
            &attention,
            statuses.len(),
            now,
            &mut std::io::stdout().lock(),
        )?,
    }
    Ok(if attention.any(now) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn schedule(ctx: &Context) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe().context("cannot find the keywarden binary")?;
    let binary = std::fs::canonicalize(&exe).unwrap_or(exe);
    // Pinned, so that a scheduled run (cron has almost no environment) reads the same
    // registry and the same user configuration as this one.
    let config_dir = ctx
        .env
        .config_home()
        .and_then(|dir| dir.parent().map(PathBuf::from));
    let Some(config_dir) = config_dir else {
        bail!("cannot tell where your configuration lives: set HOME or XDG_CONFIG_HOME");
    };
    let env = vec![
        (
            "KEYWARDEN_HOME",
            ctx.data_home()?.to_string_lossy().into_owned(),
        ),
        ("XDG_CONFIG_HOME", config_dir.to_string_lossy().into_owned()),
    ];
    let home = ctx.env.home_dir();
    crate::output::say_partly!(
        "{}",
        view::schedule(
            &binary,
            &env,
            &config_dir,
            home.as_deref(),
            cfg!(target_os = "macos")
        )
    );
    Ok(Outcome::Clean)
}
