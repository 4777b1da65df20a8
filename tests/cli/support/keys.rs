//! Fake keys, assembled at run time from the same templates the rules use, so this
//! repository never contains a string that a secret scanner would flag.

use keywarden::core::rules::template::{expand, KeyRng};
use std::cell::RefCell;

thread_local! {
    static RNG: RefCell<KeyRng> = RefCell::new(KeyRng::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7),
    ));
}

/// Expands a template such as `ghp_{alnum:36}` with fresh random characters.
pub fn fake(template: &str) -> String {
    RNG.with(|rng| {
        expand(template, &mut rng.borrow_mut())
            .expect("valid template")
            .text
    })
}

pub fn openai_project() -> String {
    fake("sk-proj-{alnum_:74}T3BlbkFJ{alnum_:74}")
}

pub fn openai_legacy() -> String {
    fake("sk-{alnum:20}T3BlbkFJ{alnum:20}")
}

pub fn openai_admin() -> String {
    fake("sk-admin-{alnum_:58}T3BlbkFJ{alnum_:58}")
}

pub fn anthropic() -> String {
    fake("sk-ant-api03-{alnum_:93}AA")
}

pub fn github_pat() -> String {
    fake("ghp_{alnum:36}")
}

pub fn aws_access_key_id() -> String {
    fake("AKIA{upper32:16}")
}

pub fn huggingface() -> String {
    fake("hf_{letters:34}")
}

pub fn stripe_live() -> String {
    fake("sk_live_{alnum:24}")
}
