//! `Context`: what every command shares, built once in `run()` — the working directory
//! (after `-C`), the captured environment, the one clock, the `Ui`, `--yes` and the
//! configuration path.

use crate::cli::Cli;
use crate::core::clock::Clock;
use crate::core::config::{Config, UserConfig, USER_CONFIG_FILE_NAME};
use crate::core::environment::Environment;
use crate::core::provider::{Http, HttpConfig, Providers};
use crate::core::registry::keyring::{self, KeyStore};
use crate::core::registry::policy::Policy;
use crate::ops::Reporter;
use crate::output::ui::Ui;
use anyhow::Context as _;
use std::path::{Path, PathBuf};

pub struct Context {
    /// The directory keywarden runs in: the process's, or `-C DIR`.
    pub cwd: PathBuf,
    pub env: Environment,
    pub clock: Clock,
    pub ui: Ui,
    /// `--yes`: every confirmation is answered yes.
    pub yes: bool,
    pub config_path: Option<PathBuf>,
}

impl Context {
    /// The context for this process. `-C DIR` changes the process's directory, as git
    /// does, so that every relative path (`--output FILE`, `--secrets-file FILE`) is taken
    /// from there too.
    pub fn for_cli(cli: &Cli) -> anyhow::Result<Self> {
        if let Some(dir) = &cli.directory {
            std::env::set_current_dir(dir)
                .with_context(|| format!("-C {}: cannot change to it", dir.display()))?;
            crate::core::shell::suggest_from(dir);
        }
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let env = Environment::capture();
        crate::core::fault::arm(env.fault_point());
        let clock = env.clock()?;
        let no_color = cli.no_color || env.no_color();
        Ok(Context {
            cwd,
            clock,
            ui: Ui::new(no_color, cli.yes),
            yes: cli.yes,
            config_path: cli.config.clone(),
            env,
        })
    }

    /// The configuration: `--config FILE`, else `.keywarden.toml` in `root`.
    pub fn load_config(&self, root: &Path) -> anyhow::Result<Config> {
        Ok(match &self.config_path {
            Some(path) => Config::load(path)?,
            None => Config::load_from_dir(root)?,
        })
    }

    /// The user's configuration (`config.toml` in `$XDG_CONFIG_HOME/keywarden`); the
    /// default when there is none.
    pub fn user_config(&self) -> anyhow::Result<UserConfig> {
        Ok(match self.env.config_home() {
            Some(dir) => UserConfig::load(&dir.join(USER_CONFIG_FILE_NAME))?,
            None => UserConfig::default(),
        })
    }

    /// The rotation policy: the repository's `[rotation]` (when `root` is given) before
    /// the user's.
    pub fn policy(&self, root: Option<&Path>) -> anyhow::Result<Policy> {
        let repo = root.map(|root| self.load_config(root)).transpose()?;
        let user = self.user_config()?;
        Ok(Policy::new(
            repo.as_ref().map(|c| &c.rotation),
            Some(&user.rotation),
        ))
    }

    /// keywarden's data directory (registry, state).
    pub fn data_home(&self) -> anyhow::Result<PathBuf> {
        Ok(self.env.data_home()?)
    }

    /// The HTTP client every provider call goes through, with the timeout
    /// `KEYWARDEN_HTTP_TIMEOUT_MS` asks for.
    pub fn http(&self) -> anyhow::Result<Http> {
        let config = HttpConfig::with_timeout(self.env.http_timeout()?);
        Http::new(config).context("cannot set up the HTTP client")
    }

    /// Every provider, built on `http()` with the base URLs the environment sets.
    pub fn providers(&self) -> anyhow::Result<Providers> {
        Ok(Providers::new(self.http()?, &self.env))
    }

    /// The keyring `KEYWARDEN_KEYRING` selects; its warning (if any) goes to stderr.
    pub fn key_store(&self) -> anyhow::Result<Box<dyn KeyStore>> {
        let store = keyring::open_selected(self.env.keyring_selector())?;
        if let Some(warning) = store.warning() {
            self.ui.warn(&warning);
        }
        Ok(store)
    }
}
