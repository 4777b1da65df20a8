//! The help text that is not a doc comment: the "start here" block of `keywarden --help`
//! and the examples of each command, attached to the clap command tree. `--help`, the man
//! pages and the completion scripts are all generated from `command()`.

use crate::cli::Cli;
use clap::CommandFactory;

/// What a newcomer runs, in order. Comments stand above their command so that every line
/// stays short enough for a terminal and for `man`, which reflows long lines.
const START_HERE: &str = "\
Start here:
  # 1. protect a repository: git hooks that block keys and .env files
  keywarden -C ~/my-app install
  # 2. look for keys already in its history (every branch and tag)
  keywarden -C ~/my-app scan --history
  # 3. see what is protected
  keywarden -C ~/my-app status

Each command's --help shows examples.";

/// Examples per command: each line is typed exactly as shown (a test parses every one).
const EXAMPLES: &[(&str, &str)] = &[
    (
        "scan",
        "\
Examples:
  # the working tree (respects .gitignore), or only some files
  keywarden scan
  keywarden scan src config.yaml
  # what the next commit would record
  keywarden scan --staged
  # every commit, message and ref name of a repository
  keywarden scan --history ~/my-app
  # what these commits introduced
  keywarden scan --range origin/main..HEAD
  # in GitHub Actions or GitLab CI: what the push or pull request brings
  keywarden scan --ci --format sarif -o keywarden.sarif
  keywarden scan --ci --format gitlab -o gl-secret-detection-report.json
  # accept today's findings; later scans report only new ones
  keywarden scan --write-baseline .keywarden-baseline.json
  keywarden scan --baseline .keywarden-baseline.json",
    ),
    (
        "install",
        "\
Examples:
  # in a repository: hooks, and .gitignore (asks before changing it)
  keywarden install
  keywarden -C ~/my-app install --yes
  # also take tracked .env files out of the index (the files stay)
  keywarden install --untrack
  # every repository of this user (git's core.hooksPath)
  keywarden install --global",
    ),
    (
        "uninstall",
        "\
Examples:
  # remove the hooks install added; chained hooks come back
  keywarden uninstall
  keywarden uninstall --global",
    ),
    (
        "status",
        "\
Examples:
  keywarden status
  keywarden -C ~/my-app status",
    ),
    (
        "hook",
        "\
Examples (git runs these through the installed hooks):
  # by hand: check what is staged, as the hook would
  keywarden hook pre-commit",
    ),
    (
        "purge",
        "\
Examples:
  # paste the key (hidden input), see what would change
  keywarden purge --secret-stdin --dry-run
  # rewrite every branch and tag, then force-push them
  keywarden purge --secret-stdin --push origin
  # drop every .env file from every commit
  keywarden purge --delete-path '**/.env' --dry-run
  keywarden purge --secrets-file leaked.txt --include-remotes",
    ),
    (
        "keys",
        "\
Examples:
  # paste the key at the hidden prompt; it goes to the OS keyring
  keywarden keys add openai-prod --provider openai
  keywarden keys list
  # register (and with --move: take into the keyring) the keys in .env
  keywarden keys import .env --move
  keywarden keys check openai-prod
  keywarden keys revoke openai-prod
  keywarden keys forget openai-prod",
    ),
    (
        "incident",
        "\
Examples:
  # a key leaked: paste it at the hidden prompt and follow the steps
  keywarden incident
  # choose the leaked key among those history holds
  keywarden incident --from-scan
  # what would happen, nothing changed
  keywarden incident --secret-stdin --dry-run < leaked.txt
  # no questions: revoke, replace, purge and force-push to origin
  keywarden incident --secret-stdin --yes --push origin < leaked.txt
  # where an incident stopped, and going on with it
  keywarden incident --status
  keywarden incident
  # stop it (an unfinished purge or replacement is undone)
  keywarden incident --abort",
    ),
    (
        "rotate",
        "\
Examples:
  # which keys are due (exit 1 when any is): for cron and CI
  keywarden rotate --check
  # rotate one key: new key, every file that holds it, the old key revoked
  keywarden rotate openai-prod --dry-run
  keywarden rotate openai-prod
  # keep the old key alive for a deploy window, revoke it later
  keywarden rotate openai-prod --grace 2h
  keywarden rotate --due
  keywarden rotate --schedule",
    ),
    (
        "run",
        "\
Examples:
  # the registered keys in the environment (OPENAI_API_KEY, ...)
  keywarden run -- python app.py
  keywarden run --only openai-prod -- npm start",
    ),
    (
        "completions",
        "\
Examples:
  # bash: in ~/.bashrc
  source <(keywarden completions bash)
  # zsh: into a directory of $fpath
  keywarden completions zsh > ~/.zfunc/_keywarden
  # fish
  keywarden completions fish > ~/.config/fish/completions/keywarden.fish",
    ),
    (
        "man",
        "\
Examples:
  keywarden man | man -l -
  keywarden man --output ~/.local/share/man/man1",
    ),
];

/// The whole command tree with its help text.
pub fn command() -> clap::Command {
    let mut command = Cli::command().after_help(START_HERE);
    for (name, examples) in EXAMPLES {
        command = command.mut_subcommand(name, |sub| sub.after_help(*examples));
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The words of a shell command line (quotes removed; enough for the examples).
    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut quote = None;
        for c in line.chars() {
            match (quote, c) {
                (None, '\'' | '"') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, ' ') => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                _ => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }

    /// Every `keywarden …` command the help text shows (not in a comment), up to a
    /// redirect, a pipe or the end of a process substitution.
    fn shown_commands(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.find("keywarden ").map(|start| &line[start..]))
            .map(|command| {
                words(
                    command
                        .split(['<', '>', '|', ')'])
                        .next()
                        .unwrap_or(command)
                        .trim(),
                )
            })
            .collect()
    }

    #[test]
    fn every_example_is_a_valid_command_line() {
        let mut checked = 0;
        let texts = std::iter::once(START_HERE).chain(EXAMPLES.iter().map(|(_, text)| *text));
        for text in texts {
            for words in shown_commands(text) {
                if let Err(err) = Cli::try_parse_from(&words) {
                    panic!("`{}` does not parse: {err}", words.join(" "));
                }
                checked += 1;
            }
        }
        assert!(checked > 30, "only {checked} examples found");
    }

    #[test]
    fn help_lines_fit_a_terminal_and_a_man_page() {
        let texts = std::iter::once(START_HERE).chain(EXAMPLES.iter().map(|(_, text)| *text));
        for line in texts.flat_map(str::lines) {
            assert!(line.chars().count() <= 74, "too long for `man`: {line}");
        }
    }

    #[test]
    fn every_command_has_examples() {
        let command = command();
        for sub in command.get_subcommands() {
            assert!(
                sub.get_after_help().is_some(),
                "`keywarden {}` has no examples",
                sub.get_name()
            );
        }
        command.debug_assert();
    }
}
