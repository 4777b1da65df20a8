//! The core: secrets, rules, the scan engine, git access, configuration, providers and
//! the key registry. It never imports `cli`, `commands`, `ops` or `output`.

pub mod browser;
pub mod ci;
pub mod clock;
pub mod config;
pub mod entropy;
pub mod envfile;
pub mod envfiles;
pub mod environment;
pub mod fault;
pub mod fs;
pub mod git;
pub mod gitignore;
pub mod hooks;
pub mod progress;
pub mod provider;
pub mod registry;
pub mod rules;
pub mod scan;
pub mod scrub;
pub mod secret;
pub mod shell;
pub mod txn;
pub mod walk;
