//! The help text that is not a doc comment: the "start here" block of `keywarden --help`
//! and the examples of each command, attached to the clap command tree. `--help`, the man
//! pages and the completion scripts are all generated from `command()`.

use crate::cli::Cli;
use clap::CommandFactory;

/// What a newcomer runs, in order.
const START_HERE: &str = "\
Start here:
  keywarden -C ~/my-app install     protect a repository: git hooks that block keys and .env files
  keywarden -C ~/my-app scan --history
                                    look for keys already in its history (every branch and tag)
  keywarden -C ~/my-app status      check what is protected

`keywarden COMMAND --help` shows each command's examples.";

/// Examples per command: each line is typed exactly as shown (a test parses every one).
const EXAMPLES: &[(&str, &str)] = &[
    (
        "scan",
        "\
Examples:
  keywarden scan                              the working tree (respects .gitignore)
  keywarden scan src config.yaml              only these files and directories
  keywarden scan --staged                     what the next commit would record
  keywarden scan --history ~/my-app           every commit, message and ref name of a repository
  keywarden scan --range origin/main..HEAD    what these commits introduced
  keywarden scan --ci --format sarif --output keywarden.sarif
                                              in GitHub Actions or GitLab CI: what the push or pull request brings
  keywarden scan --history --format gitlab --output gl-secret-detection-report.json
  keywarden scan --write-baseline .keywarden-baseline.json
                                              accept today's findings; later scans report new ones
  keywarden scan --baseline .keywarden-baseline.json",
    ),
    (
        "install",
        "\
Examples:
  keywarden install                 in a repository: hooks and .gitignore (asks before changing .gitignore)
  keywarden -C ~/my-app install --yes
  keywarden install --untrack       also take tracked .env files out of the index (the files stay)
  keywarden install --global        every repository of this user (git's core.hooksPath)",
    ),
    (
        "uninstall",
        "\
Examples:
  keywarden uninstall               remove the hooks install added; chained hooks come back
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
  keywarden hook pre-commit         by hand: check what is staged, as the hook would",
    ),
    (
        "purge",
        "\
Examples:
  keywarden purge --secret-stdin --dry-run
                                    paste the key (hidden), see what would change
  keywarden purge --secret-stdin --push origin
                                    rewrite every branch and tag, then force-push them
  keywarden purge --delete-path '**/.env' --dry-run
  keywarden purge --secrets-file leaked.txt --include-remotes",
    ),
    (
        "keys",
        "\
Examples:
  keywarden keys add openai-prod --provider openai
                                    paste the key at the hidden prompt; it goes to the OS keyring
  keywarden keys list
  keywarden keys revoke openai-prod
  keywarden keys forget openai-prod",
    ),
    (
        "run",
        "\
Examples:
  keywarden run -- python app.py    the registered keys in the environment (OPENAI_API_KEY, …)
  keywarden run --only openai-prod -- npm start",
    ),
    (
        "completions",
        "\
Examples:
  keywarden completions bash > ~/.local/share/bash-completion/completions/keywarden
  keywarden completions zsh > ~/.zfunc/_keywarden
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

    /// Every `keywarden …` command the help text shows, without its comment.
    fn shown_commands(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .filter_map(|line| {
                let start = line.find("keywarden ")?;
                // `keywarden COMMAND --help` in prose is not an example.
                if line[..start].ends_with('`') {
                    return None;
                }
                let command = &line[start..];
                // The comment column starts after a run of spaces; a redirect ends it too.
                let command = command.split("  ").next().unwrap_or(command);
                let command = command.split(['>', '|']).next().unwrap_or(command).trim();
                Some(words(command))
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
