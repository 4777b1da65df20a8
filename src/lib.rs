//! keywarden keeps API keys out of git and handles the aftermath when one gets in.
//!
//! Layout (see DESIGN.md): `cli` holds the clap structs; `commands` turn arguments into
//! `ops` calls and render the result through `output`; `ops` holds the workflows and never
//! prints; `core` holds the logic and never sees anything above it. `Context` is built once
//! per process.

pub mod cli;
pub mod commands;
pub mod context;
pub mod core;
pub mod help;
pub mod ops;
pub mod output;

pub use commands::{main_entry, run, Outcome};
pub use context::Context;
