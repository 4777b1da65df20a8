//! `keywarden purge`: reads the secrets (stdin or a file, never argv), checks the worktrees
//! are safe to rewrite, writes the backup bundle, rewrites history, moves the refs, updates
//! the worktrees, expires reflogs, collects garbage, verifies no object still holds a secret,
//! and prints what the world outside this repository still has to do.

use super::{Context, Outcome};
use crate::cli::PurgeArgs;
use crate::core::clock::Clock;
use crate::core::git;
use crate::core::git::aftercare::{self, Leftover, OdbCheck, Records};
use crate::core::git::delete_paths::DeletePaths;
use crate::core::git::pack::ObjectSink;
use crate::core::git::rewrite::{self, Rewrite, RewriteOptions};
use crate::core::git::tips::{self, Tips};
use crate::core::scrub::Scrubber;
use crate::ops::{PromptError, Prompter, Reporter};
use crate::output::progress::Bars;
use crate::output::ui::Ui;
use anyhow::{bail, Context as _};
use std::io::{Read, Write};
use std::path::Path;

/// `eprintln!` that cannot panic: a closed stderr must not stop a rewrite half-way either.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

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

fn read_secrets(args: &PurgeArgs, ui: &Ui) -> anyhow::Result<Option<Scrubber>> {
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
             taken from the command line), or --delete-path GLOB"
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

/// A writer that never fails: once refs start moving the purge must run to the end, whatever
/// happens to whoever reads its report.
struct Lenient<W: Write>(W);

impl<W: Write> Write for Lenient<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// Step timings for `--verbose`.
struct Timer {
    on: bool,
    last: std::time::Instant,
}

impl Timer {
    fn step(&mut self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            note!(
                "keywarden: {what}: {:.2} s",
                (now - self.last).as_secs_f64()
            );
            self.last = now;
        }
    }
}

fn short(oid: git2::Oid) -> String {
    oid.to_string()[..10].to_string()
}

fn list<T: AsRef<str>>(items: impl IntoIterator<Item = T>, limit: usize) -> String {
    let items: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    let mut text = items
        .iter()
        .take(limit)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > limit {
        text.push_str(&format!(" and {} more", items.len() - limit));
    }
    text
}

pub fn run(ctx: &Context, args: PurgeArgs) -> anyhow::Result<Outcome> {
    let scrubber = read_secrets(&args, &ctx.ui)?;
    let globs =
        DeletePaths::new(&args.delete_paths).map_err(|e| anyhow::anyhow!("--delete-path {e}"))?;
    let cwd = &ctx.cwd;
    let mut timer = Timer {
        on: args.verbose,
        last: std::time::Instant::now(),
    };
    rewrite::tune_for_rewrite();
    let repo = tips::main_repository(git::open(cwd)?)?;
    aftercare::preflight(&repo)?;
    timer.step("checked the worktrees");

    // A closed stdout (`| head`) must not stop a rewrite half-way: the report is best effort.
    let mut out = Lenient(std::io::stdout().lock());
    let tips = Tips::read(&repo, args.include_remotes)?;
    if let Some(s) = &scrubber {
        let names: Vec<String> = s.literals().iter().map(|l| l.redacted()).collect();
        let patterns = s.len() - names.len();
        let mut what = list(&names, 5);
        if patterns > 0 {
            if !what.is_empty() {
                what.push_str(" and ");
            }
            what.push_str(&format!("{patterns} pattern(s)"));
        }
        writeln!(out, "purging {what} from {} refs", tips.refs.len())?;
    }
    if !args.delete_paths.is_empty() {
        writeln!(
            out,
            "dropping files matching {}",
            list(&args.delete_paths, 10)
        )?;
    }

    if !args.dry_run {
        let question = format!(
            "Rewrite the history of every ref in {} (a backup bundle is written first)?",
            git::root_dir(&repo).display()
        );
        match ctx.ui.confirm(&question) {
            Ok(true) => {}
            Ok(false) => bail!("cancelled; nothing was changed"),
            Err(PromptError::NoTerminal) => {
                bail!("refusing to rewrite history without confirmation: pass --yes (or --dry-run)")
            }
            Err(err) => return Err(err.into()),
        }
    }

    let stamp = unique_stamp(&repo, &ctx.clock);
    let options = RewriteOptions {
        scrubber: scrubber.as_ref(),
        delete_paths: globs.as_ref(),
        include_remotes: args.include_remotes,
    };
    let bar = Bars::new(ctx.ui.stderr_is_terminal(), args.verbose);
    let mut sink = if args.dry_run {
        ObjectSink::dry_run()
    } else {
        ObjectSink::pack(&repo.commondir().join("objects"))?
    };
    // The backup is written while history is read and rewritten: both only read the
    // repository, and nothing in it changes until the backup is complete.
    let git_dir = repo.path().to_path_buf();
    let (backup, result) = std::thread::scope(|scope| {
        // Nothing to back up in a repository without refs (git refuses an empty bundle).
        let has_history = !tips.refs.is_empty()
            || !tips.stash.is_empty()
            || tips.heads.iter().any(|h| h.detached.is_some());
        let backup = (!args.dry_run && has_history).then(|| {
            scope.spawn(|| {
                let repo = git::open_at(&git_dir)?;
                aftercare::backup_bundle(&repo, &tips, &stamp)
            })
        });
        let result = rewrite::rewrite(&repo, &tips, &options, &mut sink, &bar);
        let backup = backup.map(|handle| {
            handle
                .join()
                .unwrap_or(Err(git::GitError::WorkerFailed { what: "the backup" }))
        });
        (backup, result)
    });
    bar.end_phase();
    timer.step("rewrite (and backup)");
    let backup = match backup.transpose() {
        Ok(path) => path,
        Err(e) => {
            sink.abandon();
            return Err(anyhow::Error::from(e).context("backup failed; nothing was changed"));
        }
    };
    if let Some(path) = &backup {
        writeln!(out, "backup of every ref: {}", path.display())?;
        writeln!(
            out,
            "  it still holds the secret. Restore everything with `git clone --mirror {} restored.git`",
            path.display()
        )?;
        writeln!(
            out,
            "  (or in place: `git fetch --force --update-head-ok {} 'refs/*:refs/*'`); delete it with `rm {}` once you are sure",
            path.display(),
            path.display()
        )?;
    }
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            sink.abandon();
            return Err(anyhow::Error::from(e).context("the rewrite failed; nothing was changed"));
        }
    };

    if args.dry_run {
        report_dry_run(&mut out, &result, &tips)?;
        return Ok(Outcome::Clean);
    }

    sink.finish()
        .context("cannot store the rewritten objects; no ref was changed")?;
    git::rewrite::apply_ref_updates(&repo, &result)?;
    timer.step("pack indexed, refs moved");
    let records = aftercare::write_records(&repo, &result, &stamp)?;
    summarize(&mut out, &result)?;

    for wt in tips::worktrees(&repo) {
        let renamed = scrubber
            .as_ref()
            .filter(|_| !result.files_renamed.is_empty())
            .map(|scrubber| aftercare::Renamed {
                scrubber,
                dropped: &result.files_deleted,
            });
        let update = aftercare::update_worktree(&wt, renamed).with_context(|| {
            format!(
                "history is rewritten, but updating the worktree {} failed",
                wt.workdir.display()
            )
        })?;
        if update.updated > 0 {
            writeln!(
                out,
                "worktree {}: {} file(s) updated to the new content",
                wt.workdir.display(),
                update.updated
            )?;
        }
        if update.old_names_removed > 0 {
            writeln!(
                out,
                "worktree {}: {} file(s) whose name held a secret removed (checked out under the new name)",
                wt.workdir.display(),
                update.old_names_removed
            )?;
        }
    }
    if let Some(s) = &scrubber {
        for path in aftercare::scrub_message_files(&repo, s) {
            writeln!(out, "scrubbed {}", path.display())?;
        }
    }

    timer.step("worktrees updated");
    let mut push_error = None;
    if let Some(remote) = &args.push {
        let refs = aftercare::refs_to_push(&result);
        writeln!(out, "force-pushing {} ref(s) to {remote}", refs.len())?;
        if let Err(e) = aftercare::force_push(&repo, remote, &refs) {
            push_error = Some(e);
        }
    }

    aftercare::expire_reflogs(&repo, &result.stash_reflog)?;
    timer.step("reflogs expired");
    aftercare::gc(&repo, &tips, &result)?;
    timer.step("git gc --prune=now");
    let mut leftovers: Vec<Leftover> = Vec::new();
    if let Some(s) = &scrubber {
        let OdbCheck {
            objects: total,
            read_again: read,
            leftovers: found,
        } = aftercare::verify_odb(&repo, s, &result.checked_clean)?;
        writeln!(
            out,
            "reflogs expired, garbage collected; verified {total} objects ({read} read again, the rest searched during the rewrite): {}",
            if found.is_empty() { "none holds a secret".to_string() } else { format!("{} still hold a secret", found.len()) }
        )?;
        leftovers = found;
        timer.step("verified");
    } else {
        writeln!(out, "reflogs expired, garbage collected")?;
    }

    print_plan(&mut out, &repo, &result, &records, args.push.as_deref())?;
    if args.verbose {
        if let Some(peak) = own_peak_memory() {
            note!("keywarden: peak memory of keywarden itself (not git gc): {peak}");
        }
    }

    if !leftovers.is_empty() {
        for l in &leftovers {
            note!(
                "keywarden: {} {} still holds {} at byte {}{}",
                l.kind.str(),
                l.oid,
                l.redacted,
                l.offset,
                l.location
                    .as_deref()
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default()
            );
        }
        let hint = if !result.remote_refs_skipped.is_empty() && !args.include_remotes {
            " (remote-tracking refs were left alone: fetch after force-pushing, or run again with --include-remotes)"
        } else {
            ""
        };
        bail!("{} object(s) still hold a secret{hint}", leftovers.len());
    }
    if let Some(e) = push_error {
        return Err(anyhow::Error::from(e));
    }
    Ok(Outcome::Clean)
}

/// This process's peak resident memory (Linux), for `--verbose`.
fn own_peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{} MB", kb / 1024))
}

/// A timestamp for file names, made unique if a purge already ran this second.
fn unique_stamp(repo: &git2::Repository, clock: &Clock) -> String {
    let base = clock.stamp();
    let dir = repo.commondir().join("keywarden");
    let taken = |s: &str| {
        dir.join(format!("backup-{s}.bundle")).exists()
            || dir.join(format!("commit-map-{s}.txt")).exists()
    };
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|s| !taken(s))
        .expect("an unused name exists")
}

fn summarize(out: &mut impl Write, r: &Rewrite) -> std::io::Result<()> {
    writeln!(
        out,
        "rewrote {} of {} commits, {} ref(s), {} of {} blobs ({} file(s) scrubbed, {} dropped, {} renamed), {} message(s)",
        r.commit_map.len(),
        r.commits_total,
        r.ref_updates.len() + r.worktree_updates.len(),
        r.blobs_scrubbed,
        r.blobs_total,
        r.files_scrubbed.len(),
        r.files_deleted.len(),
        r.files_renamed.len(),
        r.messages_scrubbed
    )?;
    if r.signatures_dropped > 0 {
        writeln!(
            out,
            "dropped {} signature(s): they signed the old content and cannot match the new",
            r.signatures_dropped
        )?;
    }
    Ok(())
}

fn report_dry_run(out: &mut impl Write, r: &Rewrite, tips: &Tips) -> std::io::Result<()> {
    writeln!(out, "dry run: nothing was written")?;
    writeln!(
        out,
        "would rewrite {} of {} commits; {} of {} blobs hold a secret; {} message(s) would be scrubbed",
        r.commit_map.len(),
        r.commits_total,
        r.blobs_scrubbed,
        r.blobs_total,
        r.messages_scrubbed
    )?;
    if r.ref_updates.is_empty() && r.worktree_updates.is_empty() && !r.stash_changed {
        writeln!(out, "no ref would change")?;
    }
    for u in &r.ref_updates {
        writeln!(
            out,
            "  ref {}: {} -> {}",
            u.name,
            short(u.old),
            short(u.new)
        )?;
    }
    for h in &r.worktree_updates {
        writeln!(
            out,
            "  {} of {}: {} -> {}",
            if h.name == "HEAD" {
                "detached HEAD"
            } else {
                h.name.as_str()
            },
            h.git_dir.display(),
            short(h.old),
            short(h.new)
        )?;
    }
    if r.stash_changed {
        writeln!(
            out,
            "  the stash ({} entries) would be rewritten",
            tips.stash.len()
        )?;
    }
    for path in &r.files_scrubbed {
        writeln!(out, "  file with a secret: {path}")?;
    }
    for path in &r.files_deleted {
        writeln!(out, "  file dropped: {path}")?;
    }
    for path in &r.files_renamed {
        writeln!(out, "  renamed, its name held a secret: {path}")?;
    }
    if !r.first_changed.is_empty() {
        writeln!(
            out,
            "first changed commits: {}",
            list(r.first_changed.iter().map(|o| o.to_string()), 10)
        )?;
    }
    if r.signatures_dropped > 0 {
        writeln!(
            out,
            "{} signature(s) would be dropped",
            r.signatures_dropped
        )?;
    }
    if !r.remote_refs_skipped.is_empty() {
        writeln!(
            out,
            "{} remote-tracking ref(s) left alone (--include-remotes to rewrite them)",
            r.remote_refs_skipped.len()
        )?;
    }
    Ok(())
}

fn print_plan(
    out: &mut impl Write,
    repo: &git2::Repository,
    r: &Rewrite,
    records: &Records,
    pushed: Option<&str>,
) -> std::io::Result<()> {
    let rel = |p: &Path| {
        p.strip_prefix(git::root_dir(repo))
            .unwrap_or(p)
            .display()
            .to_string()
    };
    writeln!(
        out,
        "records: {} (old -> new commits), {} (first changed commits), {}",
        rel(&records.commit_map),
        rel(&records.first_changed),
        rel(&records.ref_map)
    )?;
    if !r.changed() {
        writeln!(
            out,
            "no commit held the secret; only unreachable objects were removed"
        )?;
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "This repository is clean. The world outside it is not:"
    )?;
    let refs = aftercare::refs_to_push(r);
    let remotes = tips::remotes(repo);
    if remotes.is_empty() {
        writeln!(out, "1. No remote is configured. If this history was ever pushed, force-push these refs there: {}", list(&refs, 20))?;
    } else {
        writeln!(out, "1. Force-push the rewritten refs to every remote:")?;
        for remote in &remotes {
            let done = pushed == Some(remote.name.as_str());
            writeln!(
                out,
                "   {} ({}){}",
                remote.name,
                remote.url.as_deref().unwrap_or("no url"),
                if done { ": pushed" } else { "" }
            )?;
            if !done {
                let specs: Vec<String> = refs.iter().map(|n| format!("{n}:{n}")).collect();
                writeln!(
                    out,
                    "     git push --force {} {}",
                    remote.name,
                    specs.join(" ")
                )?;
            }
        }
        writeln!(out, "   (or run purge with --push REMOTE)")?;
    }
    writeln!(
        out,
        "2. Hosting providers keep pull-request refs and cached views of old commits. On GitHub, ask GitHub Support to purge them, giving the first changed commits: {} (listed in {}).",
        list(r.first_changed.iter().map(|o| o.to_string()), 5),
        rel(&records.first_changed)
    )?;
    writeln!(
        out,
        "3. Every other clone and fork still holds the secret: re-clone, or rebase local work onto the new history (`git rebase --onto`). Never merge the old history back in."
    )?;
    writeln!(
        out,
        "4. A purged key has still leaked: revoke it and use a new one."
    )?;
    Ok(())
}
