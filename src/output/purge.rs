//! How a purge is shown: the outline asked about, the dry run, one report per step, the
//! plan for the world outside the repository, and what an abort did. Every ref name and
//! message comes here already redacted (the ops layer shows nothing it has not redacted),
//! and every URL without its credentials.

use crate::core::shell;
use crate::ops::purge::{
    AbortReport, Outline, PurgePlan, PushOutcome, PushReport, Step, Summary, VerifyReport,
};
use crate::output::text::plural;
use std::io::Write;
use std::path::Path;

fn short(oid: git2::Oid) -> String {
    oid.to_string()[..10].to_string()
}

/// `items` joined with ", ", at most `limit` of them, then "and N more".
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

/// "purging sk-pr…Q from 12 refs", "dropping files matching …".
pub fn outline(out: &mut (impl Write + ?Sized), o: &Outline) -> std::io::Result<()> {
    if let Some(phase) = o.resuming {
        writeln!(
            out,
            "resuming the unfinished purge of {} (it stopped before {})",
            o.root.display(),
            phase.describe()
        )?;
    }
    if !o.secrets.is_empty() || o.patterns > 0 {
        let mut what = list(&o.secrets, 5);
        if o.patterns > 0 {
            if !what.is_empty() {
                what.push_str(" and ");
            }
            what.push_str(&plural(o.patterns, "pattern", "patterns"));
        }
        writeln!(out, "purging {what} from {} refs", o.refs)?;
    }
    if !o.delete_paths.is_empty() {
        writeln!(out, "dropping files matching {}", list(&o.delete_paths, 10))?;
    }
    Ok(())
}

/// The question asked before anything is written.
pub fn question(o: &Outline) -> String {
    match o.resuming {
        Some(_) => format!("Finish the purge of {}?", o.root.display()),
        None => format!(
            "Rewrite the history of every ref in {} (a backup bundle is written first)?",
            o.root.display()
        ),
    }
}

pub fn dry_run(out: &mut (impl Write + ?Sized), plan: &PurgePlan) -> std::io::Result<()> {
    let r = &plan.rewrite;
    writeln!(out, "dry run: nothing was written")?;
    writeln!(
        out,
        "would rewrite {} of {} commits; {} of {} blobs hold a secret; {} would be scrubbed",
        r.commit_map.len(),
        r.commits_total,
        r.blobs_scrubbed,
        r.blobs_total,
        plural(r.messages_scrubbed, "message", "messages")
    )?;
    if plan.refs.is_empty() && r.worktree_updates.is_empty() && !r.stash_changed {
        writeln!(out, "no ref would change")?;
    }
    for (name, old, new, renamed) in &plan.refs {
        match renamed {
            Some(renamed) => writeln!(
                out,
                "  ref {name}: {} -> {}, renamed to {renamed} (its name holds a secret)",
                short(*old),
                short(*new)
            )?,
            None => writeln!(out, "  ref {name}: {} -> {}", short(*old), short(*new))?,
        }
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
            plan.stash_entries
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
            "{} would be dropped",
            plural(r.signatures_dropped, "signature", "signatures")
        )?;
    }
    if !r.remote_refs_skipped.is_empty() {
        writeln!(
            out,
            "{} left alone (--include-remotes to rewrite them)",
            plural(
                r.remote_refs_skipped.len(),
                "remote-tracking ref",
                "remote-tracking refs"
            )
        )?;
    }
    foreign_worktrees(out, &plan.foreign_worktrees)
}

fn foreign_worktrees(
    out: &mut (impl Write + ?Sized),
    foreign: &[std::path::PathBuf],
) -> std::io::Result<()> {
    for path in foreign {
        writeln!(
            out,
            "worktree {} belongs to another repository (this one is a copy): left alone",
            path.display()
        )?;
    }
    Ok(())
}

/// One step's report.
pub fn step(out: &mut (impl Write + ?Sized), step: &Step) -> std::io::Result<()> {
    match step {
        Step::Rewritten(r) => {
            if let Some(path) = &r.backup {
                let word = shell::path(path);
                writeln!(out, "backup of every ref: {}", path.display())?;
                writeln!(
                    out,
                    "  it still holds the secret. Restore everything with `git clone --mirror {word} restored.git`"
                )?;
                writeln!(
                    out,
                    "  (or in place: `git fetch --force --update-head-ok {word} 'refs/*:refs/*'`); delete it with `rm {word}` once you are sure"
                )?;
            }
            let c = &r.counts;
            writeln!(
                out,
                "rewrote {} of {} commits, {}, {} of {} blobs ({} scrubbed, {} dropped, {} renamed), {}",
                c.commits_rewritten,
                c.commits_total,
                plural(r.refs_changed, "ref", "refs"),
                c.blobs_scrubbed,
                c.blobs_total,
                plural(c.files_scrubbed, "file", "files"),
                c.files_dropped,
                c.files_renamed,
                plural(c.messages_scrubbed, "message", "messages")
            )?;
            if c.signatures_dropped > 0 {
                writeln!(
                    out,
                    "dropped {}: they signed the old content and cannot match the new",
                    plural(c.signatures_dropped, "signature", "signatures")
                )?;
            }
            for (old, new) in &r.renamed {
                writeln!(out, "ref {old} renamed to {new}: its name held a secret")?;
            }
        }
        Step::RefsMoved(r) => {
            if r.already > 0 {
                writeln!(
                    out,
                    "refs moved ({} by the interrupted run already)",
                    r.already
                )?;
            }
        }
        Step::WorktreesUpdated(w) => {
            for (dir, update) in &w.worktrees {
                if update.updated > 0 {
                    writeln!(
                        out,
                        "worktree {}: {} updated to the new content",
                        dir.display(),
                        plural(update.updated, "file", "files")
                    )?;
                }
                if update.old_names_removed > 0 {
                    writeln!(
                        out,
                        "worktree {}: {} whose name held a secret removed (checked out under the new name)",
                        dir.display(),
                        plural(update.old_names_removed, "file", "files")
                    )?;
                }
                if !update.kept.is_empty() {
                    writeln!(
                        out,
                        "worktree {}: kept your changes to {} (changed since the purge started; check they hold no secret)",
                        dir.display(),
                        list(&update.kept, 10)
                    )?;
                }
            }
            for path in &w.message_files {
                writeln!(out, "scrubbed {}", path.display())?;
            }
            foreign_worktrees(out, &w.foreign)?;
        }
        Step::Pushed(p) => push(out, p)?,
        Step::ReflogsExpired { .. } | Step::Collected => {}
        Step::Verified(v) => verified(out, v)?,
    }
    Ok(())
}

fn push(out: &mut (impl Write + ?Sized), p: &PushReport) -> std::io::Result<()> {
    let url = p.url.as_deref().unwrap_or("no url");
    writeln!(
        out,
        "force-push to {} ({url}): {}",
        p.remote,
        plural(p.refs.len(), "ref", "refs")
    )?;
    for (shown, outcome) in &p.refs {
        match outcome {
            PushOutcome::Pushed => writeln!(out, "  pushed {shown}")?,
            PushOutcome::Rejected(why) => writeln!(out, "  rejected {shown}: {why}")?,
            PushOutcome::NotAttempted => writeln!(out, "  not attempted {shown}")?,
        }
    }
    if let Some(failure) = &p.failure {
        writeln!(out, "  git push failed: {failure}")?;
    }
    for (old, new) in &p.renamed_on_remote {
        writeln!(
            out,
            "  {} may still have {old} (pushed as {new}): its name holds the secret, so it is not put on a command line; delete it on the remote's web interface",
            p.remote
        )?;
    }
    Ok(())
}

fn verified(out: &mut (impl Write + ?Sized), v: &VerifyReport) -> std::io::Result<()> {
    if !v.checked {
        return writeln!(out, "reflogs expired, garbage collected");
    }
    writeln!(
        out,
        "reflogs expired, garbage collected; verified {} objects ({} read again, the rest searched during the rewrite): {}",
        v.objects,
        v.read_again,
        if v.leftovers.is_empty() {
            "none holds a secret".to_string()
        } else {
            format!("{} still hold a secret", v.leftovers.len())
        }
    )?;
    for name in &v.ref_names {
        writeln!(out, "the ref name {name} still holds a secret")?;
    }
    Ok(())
}

/// What a finished purge left undone: (warnings in detail, one clause per problem).
pub fn problems(summary: &Summary, verified: Option<&VerifyReport>) -> (Vec<String>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    if let Some(report) = verified.filter(|v| !v.clean()) {
        warnings.extend(leftovers(report));
        let hint = if summary.remote_refs_skipped > 0 && !summary.include_remotes {
            " (remote-tracking refs were left alone: fetch after force-pushing, or run again with --include-remotes)"
        } else {
            ""
        };
        let count = report.leftovers.len() + report.ref_names.len();
        problems.push(format!(
            "{} a secret{hint}",
            plural(count, "object still holds", "objects still hold")
        ));
    }
    if !summary.push_complete() {
        let remote = summary.push.as_deref().unwrap_or_default();
        problems.push(format!(
            "the push to {remote} did not complete (see above); the local purge is done. Push again with: {}",
            summary.retry_push_command()
        ));
    }
    (warnings, problems)
}

/// The leftovers, one line each (for stderr).
pub fn leftovers(v: &VerifyReport) -> Vec<String> {
    v.leftovers
        .iter()
        .map(|l| {
            format!(
                "{} {} still holds {} at byte {}{}",
                l.kind.str(),
                l.oid,
                l.redacted,
                l.offset,
                l.location
                    .as_deref()
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// Where the purge's records are.
pub fn records(out: &mut (impl Write + ?Sized), s: &Summary) -> std::io::Result<()> {
    let rel = |p: &Path| p.strip_prefix(&s.root).unwrap_or(p).display().to_string();
    writeln!(
        out,
        "records: {} (old -> new commits), {} (first changed commits), {}",
        rel(&s.records.commit_map),
        rel(&s.records.first_changed),
        rel(&s.records.ref_map)
    )
}

/// The records, then what the world outside the repository still has to do.
pub fn plan(
    out: &mut (impl Write + ?Sized),
    s: &Summary,
    verified: Option<&VerifyReport>,
) -> std::io::Result<()> {
    let rel = |p: &Path| p.strip_prefix(&s.root).unwrap_or(p).display().to_string();
    records(out, s)?;
    if !s.changed {
        writeln!(
            out,
            "no commit held the secret; only unreachable objects were removed"
        )?;
        return Ok(());
    }
    writeln!(out)?;
    if verified.is_none_or(VerifyReport::clean) {
        writeln!(
            out,
            "This repository is clean. The world outside it is not:"
        )?;
    } else {
        writeln!(
            out,
            "This repository still holds the secret (see above). The world outside it:"
        )?;
    }
    writeln!(
        out,
        "1. Revoke the key at its provider and use a new one: a purged key has still leaked, and revoking it is what makes the leak harmless."
    )?;
    if s.remotes.is_empty() {
        writeln!(
            out,
            "2. No remote is configured. If this history was ever pushed, force-push these refs there: {}",
            list(&s.refs_to_push, 20)
        )?;
    } else {
        writeln!(out, "2. Force-push the rewritten refs to every remote:")?;
        for (name, url) in &s.remotes {
            let url = url.as_deref().unwrap_or("no url");
            let asked = s.push.as_deref() == Some(name.as_str());
            if asked && s.push_complete() {
                writeln!(out, "   {name} ({url}): pushed")?;
                continue;
            }
            if asked {
                writeln!(
                    out,
                    "   {name} ({url}): the push did not complete (see above)"
                )?;
            } else {
                writeln!(out, "   {name} ({url})")?;
            }
            writeln!(out, "     {}", s.push_command(name))?;
        }
        if s.push.is_none() {
            writeln!(out, "   (or run purge with --push REMOTE)")?;
        }
    }
    writeln!(
        out,
        "3. Hosting providers keep pull-request refs and cached views of old commits. On GitHub, ask GitHub Support to purge them, giving the first changed commits: {} (listed in {}). A self-hosted server (GitLab, Gitea, a bare repository) keeps the old objects until its own garbage collection runs: run `git gc --prune=now` there (GitLab: Settings > General > Advanced > Run housekeeping).",
        list(s.first_changed.iter().map(|o| o.to_string()), 5),
        rel(&s.records.first_changed)
    )?;
    writeln!(
        out,
        "4. Every other clone and fork still holds the secret: re-clone, or rebase local work onto the new history (`git rebase --onto`). Never merge the old history back in."
    )?;
    Ok(())
}

pub fn abort(out: &mut (impl Write + ?Sized), a: &AbortReport) -> std::io::Result<()> {
    let phase = a.phase.map(|p| p.describe()).unwrap_or("the start");
    writeln!(
        out,
        "the unfinished purge (stopped before {phase}) is undone: {} put back, {} restored",
        plural(a.refs_restored, "ref", "refs"),
        plural(a.stash_entries, "stash entry", "stash entries")
    )?;
    for (dir, update) in &a.worktrees {
        if update.updated > 0 {
            writeln!(
                out,
                "worktree {}: {} back to their old content",
                dir.display(),
                plural(update.updated, "file", "files")
            )?;
        }
        if !update.kept.is_empty() {
            writeln!(
                out,
                "worktree {}: kept your changes to {}",
                dir.display(),
                list(&update.kept, 10)
            )?;
        }
    }
    if let Some(backup) = &a.backup {
        writeln!(
            out,
            "the backup {} is kept (it holds the secret): delete it with `rm {}` once you are sure",
            backup.display(),
            shell::path(backup)
        )?;
    }
    Ok(())
}
