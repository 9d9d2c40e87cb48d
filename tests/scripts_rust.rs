//! scripts/lib/rust.sh (issue 30, item 18): on a machine without a recent
//! enough Rust, scripts/demo and scripts/test install the distribution's
//! rustc with apt where it meets Cargo.toml's rust-version, and otherwise
//! print the rustup command and stop.

use std::process::Command;

/// Runs `body` in bash with scripts/lib/rust.sh sourced, from the
/// repository's root: (exit status, stdout, stderr).
fn in_lib(body: &str) -> (i32, String, String) {
    let out = Command::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-c", &format!(". scripts/lib/rust.sh\n{body}")])
        .output()
        .expect("bash");
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn plan(needed: &str, found: &str, candidate: &str) -> String {
    let (code, out, err) = in_lib(&format!("rust_plan {needed} '{found}' '{candidate}'"));
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn rust_version_is_read_from_cargo_toml() {
    let (code, out, err) = in_lib("rust_needed Cargo.toml");
    assert_eq!(code, 0, "{err}");
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    assert!(toml.contains(&format!("rust-version = \"{out}\"")), "{out:?}");
    assert!(out.split('.').all(|p| p.parse::<u32>().is_ok()), "{out:?}");
}

#[test]
fn the_distributions_rustc_is_used_where_it_meets_rust_version() {
    // Debian 13's package, nothing installed: apt.
    assert_eq!(plan("1.82", "", "1.85.0+dfsg3-1"), "apt");
    // Debian 12's and Ubuntu 24.04's: too old, rustup.
    assert_eq!(plan("1.82", "", "1.63.0+dfsg1-2"), "rustup");
    assert_eq!(plan("1.82", "", "1.75.0+dfsg0ubuntu1-0ubuntu1"), "rustup");
    // No package at all.
    assert_eq!(plan("1.82", "", ""), "rustup");
    // Installed and recent enough (rustup's, or exactly the minimum).
    assert_eq!(plan("1.82", "1.95.0", ""), "ok");
    assert_eq!(plan("1.82", "1.82.0", ""), "ok");
    // Installed but old: the package upgrades it where it can.
    assert_eq!(plan("1.82", "1.63.0", "1.85.0+dfsg3-1"), "apt");
    assert_eq!(plan("1.82", "1.81.9", "1.63.0+dfsg1-2"), "rustup");
    // Versions compare as numbers, not as text; an epoch is ignored.
    assert_eq!(plan("1.9", "1.10.0", ""), "ok");
    assert_eq!(plan("1.82", "", "1:1.82.1-2"), "apt");
}

#[test]
fn without_a_usable_rustc_the_exact_rustup_command_is_printed() {
    // A machine where neither a rustc nor an apt package will do: a PATH
    // with a fake old rustc and cargo, and no apt-get.
    let dir = std::env::temp_dir().join(format!("ipfo-rust-sh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in [("rustc", "echo 'rustc 1.63.0 (4b91a6ea7 2022-08-08)'"), ("cargo", "exit 0")] {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let tools = ["sed", "awk", "sort", "head"].map(|t| {
        let out = Command::new("sh").args(["-c", &format!("command -v {t}")]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    });
    for t in &tools {
        let name = std::path::Path::new(t).file_name().unwrap();
        let _ = std::os::unix::fs::symlink(t, dir.join(name));
    }
    let (code, out, err) =
        in_lib(&format!("PATH={0}; HOME={0}; rust_ensure scripts/test rust-clippy rustfmt", dir.display()));
    eprintln!("{err}");
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.starts_with("scripts/test: this crate needs rustc 1."), "{err}");
    assert!(err.contains("the rustc found is 1.63.0"), "{err}");
    assert!(err.contains("has no rustc package to install with apt"), "{err}");
    assert!(
        err.contains("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt"),
        "{err}"
    );
    assert!(err.contains(". \"$HOME/.cargo/env\""), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
