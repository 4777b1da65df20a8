//! Turns the built-in rule files (`templates/rules/*.toml`) into JSON at build time: the
//! binary embeds the JSON, which parses in a tenth of the time TOML takes. A pre-commit
//! hook parses every rule on each commit, and TOML parsing was a fifth of its start-up.
//! A rule file that is not valid TOML fails the build, naming the file.

use std::path::Path;

fn main() {
    let source = Path::new("templates/rules");
    println!("cargo:rerun-if-changed={}", source.display());
    let out = Path::new(&std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("rules");
    std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let entries = std::fs::read_dir(source).expect("templates/rules is readable");
    for entry in entries {
        let path = entry.expect("templates/rules is readable").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("a rule file is readable");
        let value: toml::Value = toml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not valid TOML: {e}", path.display()));
        let json = serde_json::to_string(&value).expect("TOML values are JSON values");
        let name = path.file_name().expect("a file has a name");
        std::fs::write(out.join(name).with_extension("json"), json).expect("OUT_DIR is writable");
    }
}
