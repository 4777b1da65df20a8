//! Opening a page in the person's browser: `$BROWSER` when set, else the platform's opener
//! (`xdg-open`, `open`, `start`). Nothing is read back; the opener's own output is dropped.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

/// Opens `url` with `browser` (the value of `$BROWSER`) or the platform's opener.
pub fn open(browser: Option<&OsStr>, url: &str) -> std::io::Result<()> {
    let mut command = if let Some(browser) = browser {
        Command::new(browser)
    } else if cfg!(target_os = "macos") {
        Command::new("open")
    } else if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        Command::new("xdg-open")
    };
    let status = command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "the opener exited with {status}"
        )))
    }
}
