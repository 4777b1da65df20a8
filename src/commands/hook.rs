//! `keywarden hook <name>`: what the installed shims run. Reads what git hands the hook
//! (pre-push: the ref updates on stdin), runs `ops::hook`, prints the verdict on stderr and
//! then runs the hooks keywarden displaced, whose exit code counts too. post-checkout and
//! post-merge remind of keys due for rotation (once a day, never failing) and run a chained
//! hook.

use super::{Context, Outcome};
use crate::cli::HookArgs;
use crate::core::git;
use crate::core::hooks::invocation::HookInvocation;
use crate::core::hooks::HookName;
use crate::ops::hook::{self as hook_ops, ChainedOutcome};
use crate::ops::Reporter;
use crate::output::hook::render_verdict;
use anyhow::Context as _;
use git2::Repository;
use std::io::Read;

pub fn run(ctx: &Context, args: HookArgs) -> anyhow::Result<Outcome> {
    let hook = HookName::parse(&args.name)?;
    let repo = git::open(&ctx.cwd);
    if matches!(hook, HookName::PostCheckout | HookName::PostMerge) {
        let repo = repo.ok();
        // The rotation reminder: at most one line a day per repository, on stderr; nothing of
        // it can fail a checkout or a merge.
        if let (Some(repo), Ok(home)) = (&repo, ctx.data_home()) {
            let policy = |root: &std::path::Path| ctx.policy(Some(root)).unwrap_or_default();
            let now = ctx.clock.now();
            if let Some(attention) = crate::ops::due::reminder(repo, &home, now, policy) {
                if let Some(line) = crate::output::rotate::reminder(&attention, now) {
                    ctx.ui.status(&line);
                }
            }
        }
        return run_chained(ctx, repo.as_ref(), hook, &args.args, None);
    }
    let repo = repo?;
    let root = git::root_dir(&repo);
    let load_config = || ctx.load_config(&root);
    let invocation = HookInvocation::from_env(&ctx.cwd);
    let mut input = None;
    let verdict = match hook {
        HookName::PrePush => {
            let mut stdin = String::new();
            // Run by hand on a terminal, there is nothing to wait for.
            if !ctx.ui.stdin_is_terminal() {
                std::io::stdin()
                    .read_to_string(&mut stdin)
                    .context("cannot read the ref updates git passes on stdin")?;
            }
            // A chained hook gets the same input.
            let updates = input.insert(hook_ops::push_updates(&repo, &stdin, &invocation));
            hook_ops::pre_push(&repo, &load_config, updates, &invocation)?
        }
        _ => hook_ops::pre_commit(&repo, &load_config, &invocation)?,
    };
    render_verdict(&verdict, &mut std::io::stderr().lock(), &ctx.ui.err_style())?;
    if verdict.blocks() {
        return Ok(Outcome::Findings);
    }
    run_chained(ctx, Some(&repo), hook, &args.args, input.as_deref())
}

fn run_chained(
    ctx: &Context,
    repo: Option<&Repository>,
    hook: HookName,
    args: &[String],
    input: Option<&str>,
) -> anyhow::Result<Outcome> {
    let Some(shim) = ctx.env.hook_shim() else {
        return Ok(Outcome::Clean);
    };
    let chained = hook_ops::chained_hooks(repo, hook, &shim);
    match hook_ops::run_chained(&chained, args, input)? {
        ChainedOutcome::Passed => Ok(Outcome::Clean),
        ChainedOutcome::Failed { hook, status } => {
            ctx.ui.status(&format!(
                "the chained hook {} failed ({status})",
                hook.display()
            ));
            Ok(Outcome::Findings)
        }
    }
}
