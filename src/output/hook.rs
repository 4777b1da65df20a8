//! What a blocking hook says: every env file and key it found (file and line, provider,
//! the key redacted), why it matters, how to fix it, how to mark a false positive and how
//! to bypass in an emergency — and the softer note about keys committed before.

use super::human::short;
use super::style::Style;
use super::text::plural;
use crate::core::scan::Finding;
use std::io::Write;

/// Which operation a hook guards; it decides the wording of the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    Commit,
    Push,
}

/// What a hook found.
pub struct HookReport<'a> {
    pub guarded: Guarded,
    /// Env files being committed (or pushed), by path.
    pub env_files: &'a [String],
    /// Keys that block.
    pub keys: &'a [Finding],
}

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

/// The message of a hook that blocks.
pub fn render_blocked(
    report: &HookReport<'_>,
    out: &mut dyn Write,
    style: &Style,
) -> std::io::Result<()> {
    let (verb, what, flag) = match report.guarded {
        Guarded::Commit => ("commit", "what you are about to commit", "git commit"),
        Guarded::Push => ("push", "the commits you are about to push", "git push"),
    };
    let mut counts = Vec::new();
    if !report.keys.is_empty() {
        counts.push(plural(report.keys.len(), "key", "keys"));
    }
    if !report.env_files.is_empty() {
        counts.push(plural(report.env_files.len(), "env file", "env files"));
    }
    writeln!(
        out,
        "{} {}",
        style.red(&format!("✗ keywarden: {verb} blocked:")),
        style.bold(&format!("{} in {what}", counts.join(" and ")))
    )?;
    writeln!(out)?;
    for path in report.env_files {
        writeln!(out, "  {}", style.bold(path))?;
        writeln!(
            out,
            "      {}",
            style.dim("an env file: it holds local secrets and never belongs in git")
        )?;
    }
    for finding in report.keys {
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
    let has_keys = !report.keys.is_empty();
    let has_env = !report.env_files.is_empty();
    match report.guarded {
        Guarded::Commit => {
            if has_keys {
                writeln!(out, "  - move the value into .env (git ignores it) and read it from the environment,")?;
                writeln!(
                    out,
                    "    e.g. os.environ[\"OPENAI_API_KEY\"] or process.env.OPENAI_API_KEY"
                )?;
            }
            writeln!(
                out,
                "  - take the file out of this commit: {}",
                style.cyan("git restore --staged <file>")
            )?;
            if has_env {
                writeln!(
                    out,
                    "  - keep env files on disk and let git ignore them: {}",
                    style.cyan("keywarden install --gitignore-only")
                )?;
            }
        }
        Guarded::Push => {
            if has_keys {
                writeln!(out, "  - move the value into .env (git ignores it) and read it from the environment")?;
            }
            writeln!(
                out,
                "  - then take it out of the unpushed commits: {} for the last one,",
                style.cyan("git commit --amend")
            )?;
            writeln!(
                out,
                "    {} for older ones",
                style.cyan("git rebase -i <upstream>")
            )?;
            writeln!(
                out,
                "  - if a key ever left this machine, treat it as leaked: {}",
                style.cyan("keywarden incident")
            )?;
        }
    }
    if has_keys {
        writeln!(
            out,
            "{}",
            style.bold("Not a secret (a test fixture, an example)?")
        )?;
        writeln!(
            out,
            "  - add {} in a comment on its line, or record it in the baseline:",
            style.cyan("keywarden:allow")
        )?;
        let baseline_cmd = match report.guarded {
            Guarded::Commit => "keywarden scan --staged --write-baseline .keywarden-baseline.json",
            Guarded::Push => {
                "keywarden scan --range <upstream>..HEAD --write-baseline .keywarden-baseline.json"
            }
        };
        writeln!(out, "    {}", style.cyan(baseline_cmd))?;
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

/// The note about keys that earlier commits already hold. `blocks` says whether the
/// configuration makes them block too.
pub fn render_already_committed(
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
        }
    }

    fn render(color: bool) -> String {
        let keys = [finding()];
        let mut out = Vec::new();
        render_blocked(
            &HookReport {
                guarded: Guarded::Commit,
                env_files: &[],
                keys: &keys,
            },
            &mut out,
            &Style::new(color),
        )
        .expect("renders");
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
