//! keywarden keeps API keys out of git and handles the aftermath when one gets in.
//!
//! Layout (see DESIGN.md): `cli` holds the clap structs, `commands` wires arguments to the
//! core, `output` renders, and `core` holds the logic and never sees the CLI.

pub mod cli;
pub mod commands;
pub mod core;
pub mod output;

pub use commands::{main_entry, run, Outcome};
