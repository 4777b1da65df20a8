//! What a hook says: every env file and key it found (file and line, provider, the key
//! redacted), why it matters, how to fix this very commit or push (the commands of
//! `ops::remedy`, each on its own line, ready to be typed), how to mark a false positive and
//! how to bypass in an emergency — the softer note about keys committed before, and the
//! files it could not check.

use super::human::short;
use super::style::Style;
use super::text::{plural, shell_line};
use crate::core::hooks::invocation::CommitMode;
use crate::core::scan::{Finding, Skipped};
use crate::ops::hook::{Guarded, HookVerdict, OldHistory};
use crate::ops::remedy::{
    AfterTakeOut, Commands, CommitRemedy, EnvAdvice, PushFix, PushRemedy, Remedy,
};
use std::io::Write;

/// A provider id as people write it.
pub fn provider_name(id: &str) -> &str {
    match id {
        "openai" => "OpenAI",
        "anthropic" => "Anthropic",
        "github" => "GitHub",
        "gitlab" => "GitLab",
        "aws" => "AWS",
        "stripe" => "Stripe",
        "slack" => "Slack",
        "google" => "Google",
        "huggingface" => "Hugging Face",
        "private-key" => "a private key",
        "generic" => "unknown provider",
        other => other,
    }
}

fn finding_lines(finding: &Finding, style: &Style, out: &mut dyn Write) -> std::io::Result<()> {
    let path = finding.path.as_deref().unwrap_or("commit message");
    let mut place = format!("{path}:{}:{}", finding.line, finding.column);
    if let Some(commit) = &finding.commit {
        place.push_str(&format!(" (commit {})", short(commit)));
    }
    writeln!(out, "  {}", style.bold(&place))?;
    writeln!(
        out,
        "      {}  {}  {}",
        style.yellow(&finding.redacted()),
        finding.description,
        style.dim(&format!(
            "({}, rule {})",
            provider_name(&finding.provider),
            finding.rule_id
        )),
    )
}

/// Everything a hook says: what it could not check, the note about keys committed before,
/// and, when the verdict blocks on env files or keys, the blocked message.
pub fn render_verdict(
    verdict: &HookVerdict,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    render_not_checked(&verdict.not_checked, out, style)?;
    if !verdict.already_committed.is_empty() {
        render_already_committed(
            &verdict.already_committed,
            verdict.already_committed_blocks,
            out,
            style,
        )?;
        writeln!(out)?;
    }
    if verdict.has_new_problems() {
        render_blocked(verdict, out, style)?;
    }
    if !verdict.old_history.is_empty() {
        render_old_history(&verdict.old_history, out, style)?;
    }
    Ok(())
}

/// The refusal to push commits of a purged history, and how to move one's own commits onto
/// the new history (a rebase: a merge would keep the old commits).
fn render_old_history(
    old: &[OldHistory],
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} push blocked: it would bring back history that `keywarden purge` removed (the commit map in .git/keywarden/ lists it)",
        style.red("✗ keywarden:")
    )?;
    for history in old {
        writeln!(
            out,
            "  {}: {} of the purged history, the newest {} (now {})",
            history.local_ref,
            plural(history.commits, "commit", "commits"),
            short(&history.old.to_string()),
            short(&history.new.to_string()),
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "  These commits came from a clone made before the purge. Move your own commits onto the new history (never merge the old one):"
    )?;
    for history in old {
        writeln!(
            out,
            "    {}",
            style.cyan(&format!(
                "git rebase --onto {} {} {}",
                history.new,
                history.old,
                history.branch()
            ))
        )?;
    }
    writeln!(
        out,
        "  then push again. Whoever pushed or shared these commits should re-clone, or rebase the same way."
    )?;
    Ok(())
}

fn render_not_checked(
    skipped: &[Skipped],
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    for file in skipped {
        writeln!(
            out,
            "{} not checked for keys: {} ({})",
            style.yellow("! keywarden:"),
            file.what,
            file.reason.describe()
        )?;
    }
    Ok(())
}

/// A suggested command, on a line of its own (so that it can be copied whole).
fn command_line(commands: &Commands, out: &mut dyn Write, style: &Style) -> std::io::Result<()> {
    writeln!(out, "      {}", style.cyan(&shell_line(&commands.0)))
}

fn names(paths: &[String]) -> String {
    paths.join(", ")
}

/// The message of a hook that blocks on env files or keys.
fn render_blocked(
    verdict: &HookVerdict,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    let (verb, what, flag) = match verdict.guarded {
        Guarded::Commit => ("commit", "what you are about to commit", "git commit"),
        Guarded::Push => ("push", "the commits you are about to push", "git push"),
    };
    let mut counts = Vec::new();
    if !verdict.keys.is_empty() {
        counts.push(plural(verdict.keys.len(), "key", "keys"));
    }
    if !verdict.env_files.is_empty() {
        counts.push(plural(verdict.env_files.len(), "env file", "env files"));
    }
    writeln!(
        out,
        "{} {}",
        style.red(&format!("✗ keywarden: {verb} blocked:")),
        style.bold(&format!("{} in {what}", counts.join(" and ")))
    )?;
    writeln!(out)?;
    for env_file in &verdict.env_files {
        let shown = match &env_file.commit {
            Some(commit) => format!("{} (commit {})", env_file.path, short(commit)),
            None => env_file.path.clone(),
        };
        writeln!(out, "  {}", style.bold(&shown))?;
        writeln!(
            out,
            "      {}",
            style.dim("an env file: it holds local secrets and never belongs in git")
        )?;
    }
    for finding in &verdict.keys {
        finding_lines(finding, style, out)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} anyone who can read this repository, or any clone of it, can use a committed",
        style.bold("Why it matters:")
    )?;
    writeln!(
        out,
        "key, and git keeps it in history even after the line is gone."
    )?;
    writeln!(out)?;
    writeln!(out, "{}", style.bold("How to fix:"))?;
    let has_keys = !verdict.keys.is_empty();
    let has_env = !verdict.env_files.is_empty();
    let baseline = match &verdict.remedy {
        Some(Remedy::Commit(remedy)) => {
            commit_fixes(remedy, has_keys, out, style)?;
            remedy.baseline.as_ref()
        }
        Some(Remedy::Push(remedy)) => {
            push_fixes(remedy, has_keys, out, style)?;
            remedy.baseline.as_ref()
        }
        None => None,
    };
    if has_keys {
        writeln!(
            out,
            "{}",
            style.bold("Not a secret (a test fixture, an example)?")
        )?;
        match baseline {
            Some(command) => {
                writeln!(
                    out,
                    "  - add {} in a comment on its line, or record it in the baseline:",
                    style.cyan("keywarden:allow")
                )?;
                command_line(command, out, style)?;
            }
            None => writeln!(
                out,
                "  - add {} in a comment on its line",
                style.cyan("keywarden:allow")
            )?,
        }
    }
    if has_env {
        writeln!(
            out,
            "{} list its name in {} in .keywarden.toml",
            style.bold("A template, not an env file?"),
            style.cyan("[hooks] allowed_env_files")
        )?;
    }
    writeln!(
        out,
        "{} {} skips this check; the key then stays in your history.",
        style.bold("Emergency only:"),
        style.cyan(&format!("{flag} --no-verify"))
    )?;
    Ok(())
}

/// "Move the value into .env", saying that git ignores `.env` only when it does.
fn move_into_env(env: &EnvAdvice, example: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let ignored = if env.dot_env_ignored {
        " (git ignores it)"
    } else {
        ""
    };
    if example {
        writeln!(
            out,
            "  - move the value into .env{ignored} and read it from the environment,"
        )?;
        writeln!(
            out,
            "    e.g. os.environ[\"OPENAI_API_KEY\"] or process.env.OPENAI_API_KEY"
        )
    } else {
        writeln!(
            out,
            "  - move the value into .env{ignored} and read it from the environment"
        )
    }
}

/// Making git ignore `.env` (when a key should move there) and the blocked env files.
fn ignore_fix(
    env: &EnvAdvice,
    has_keys: bool,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    let mut files = Vec::new();
    if has_keys && !env.dot_env_ignored {
        files.push(".env".to_string());
    }
    files.extend(env.unignored.iter().filter(|f| *f != ".env").cloned());
    if files.is_empty() {
        return Ok(());
    }
    match &env.ignore_command {
        Some(command) => {
            writeln!(
                out,
                "  - make git ignore {} ({} on disk):",
                names(&files),
                if files.len() == 1 {
                    "it stays"
                } else {
                    "they stay"
                }
            )?;
            command_line(command, out, style)
        }
        None => writeln!(
            out,
            "  - add {} to .gitignore, so that git ignores {}",
            names(&files),
            if files.len() == 1 { "it" } else { "them" }
        ),
    }
}

fn commit_fixes(
    remedy: &CommitRemedy,
    has_keys: bool,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    if has_keys {
        move_into_env(&remedy.env, true, out)?;
    }
    if let Some(take_out) = &remedy.take_out {
        let files = names(&take_out.files);
        match (take_out.then, remedy.mode) {
            (AfterTakeOut::CommitAgain, _) => writeln!(
                out,
                "  - take {files} out of this commit ({} on disk), then commit again:",
                if take_out.files.len() == 1 {
                    "it stays"
                } else {
                    "they stay"
                }
            )?,
            (AfterTakeOut::Committed, CommitMode::Paths) => {
                writeln!(out, "  - leave {files} out of the paths you commit:")?
            }
            (AfterTakeOut::Committed, _) => writeln!(
                out,
                "  - leave {files} out: commit the other changes, without -a:"
            )?,
        }
        command_line(&take_out.commands, out, style)?;
    }
    ignore_fix(&remedy.env, has_keys, out, style)
}

fn push_fixes(
    remedy: &PushRemedy,
    has_keys: bool,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    if has_keys {
        move_into_env(&remedy.env, false, out)?;
    }
    for fix in &remedy.fixes {
        match fix {
            PushFix::Amend {
                commit,
                edit_files,
                edit_message,
                commands,
            } => {
                let after = if edit_files.is_empty() {
                    String::new()
                } else {
                    format!(", after removing the key from {}", names(edit_files))
                };
                writeln!(out, "  - take it out of the last commit ({commit}){after}:")?;
                command_line(commands, out, style)?;
                if *edit_message {
                    writeln!(
                        out,
                        "    (the editor opens on the commit message: take the key out of it there)"
                    )?;
                }
            }
            PushFix::Rebase { first, commands } => {
                writeln!(
                    out,
                    "  - take it out of the commits from {first} on: in the rebase, mark {first} `edit`;"
                )?;
                writeln!(
                    out,
                    "    when it stops there, take it out, run `git commit --amend`, then `git rebase --continue`:"
                )?;
                command_line(commands, out, style)?;
            }
        }
    }
    ignore_fix(&remedy.env, has_keys, out, style)?;
    writeln!(
        out,
        "  - if a key ever left this machine, treat it as leaked: {}",
        style.cyan("keywarden incident")
    )
}

/// The note about keys that earlier commits already hold. `blocks` says whether the
/// configuration makes them block too.
fn render_already_committed(
    keys: &[Finding],
    blocks: bool,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    let label = if blocks {
        style.red("✗ keywarden:")
    } else {
        style.yellow("! keywarden:")
    };
    writeln!(
        out,
        "{label} {} already in an earlier commit (so already leaked, wherever that commit went):",
        plural(keys.len(), "key was", "keys were")
    )?;
    for finding in keys {
        finding_lines(finding, style, out)?;
    }
    writeln!(
        out,
        "  Revoke, replace and purge it: {}",
        style.cyan("keywarden incident")
    )?;
    if blocks {
        writeln!(
            out,
            "  (hooks.already_committed = \"block\" in .keywarden.toml makes this block the commit)"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::secret::Secret;
    use std::sync::Arc;

    fn finding() -> Finding {
        Finding {
            rule_id: Arc::from("github-pat"),
            provider: Arc::from("github"),
            description: Arc::from("GitHub personal access token (classic)"),
            path: Some("deploy.sh".into()),
            commit: None,
            ref_name: None,
            line: 3,
            column: 9,
            span: (0, 0),
            secret: Secret::new("x".repeat(40)),
            verified: None,
            confidence: crate::core::scan::Confidence::High,
        }
    }

    fn render(color: bool) -> String {
        let verdict = HookVerdict {
            guarded: Guarded::Commit,
            env_files: Vec::new(),
            keys: vec![finding()],
            already_committed: Vec::new(),
            already_committed_blocks: false,
            not_checked: Vec::new(),
            remedy: None,
            old_history: Vec::new(),
        };
        let mut out = Vec::new();
        render_verdict(&verdict, &mut out, &Style::new(color)).expect("renders");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn colour_only_when_enabled() {
        let coloured = render(true);
        assert!(coloured.contains("\x1b[1;31m✗ keywarden: commit blocked:"));
        let plain = render(false);
        assert!(!plain.contains('\x1b'));
        assert!(plain.contains("deploy.sh:3:9"));
        assert!(plain.contains("(GitHub, rule github-pat)"));
        assert!(!plain.contains(&"x".repeat(40)), "never the whole key");
    }
}
