//! `keywarden man`: the manual page in roff, on stdout; with `--output DIR` one page per
//! command (`keywarden.1`, `keywarden-scan.1`, `keywarden-keys-add.1`, …) in DIR.

use super::{Context, Outcome};
use crate::cli::ManArgs;
use crate::ops::Reporter;
use anyhow::Context as _;
use std::io::Write;

pub fn run(ctx: &Context, args: ManArgs) -> anyhow::Result<Outcome> {
    let command = crate::help::command();
    match &args.output {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            std::io::stdout().lock().write_all(&page)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("--output {}: cannot create it", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("--output {}: cannot write the pages", dir.display()))?;
            ctx.ui
                .status(&format!("wrote the manual pages to {}", dir.display()));
        }
    }
    Ok(Outcome::Clean)
}
