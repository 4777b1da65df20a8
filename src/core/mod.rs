//! The core: secrets, rules, the scan engine, git access, configuration, providers and
//! the key registry. It never imports `cli`, `commands` or `output`.

pub mod config;
pub mod entropy;
pub mod envfiles;
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
pub mod txn;
pub mod walk;
