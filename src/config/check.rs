//! `ipfailoverd -n`: the configuration against the running system.

use super::{Config, ConfigError};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Key files shorter than this are refused: a guessable key is no key.
const MIN_KEY: usize = 16;

/// Reads the shared key after checking that only root can read or change
/// it. One trailing newline is not part of the key.
pub fn read_key_file(path: &Path) -> Result<Vec<u8>, String> {
    let p = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("auth_key_file {p}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("auth_key_file {p}: not a regular file"));
    }
    if meta.uid() != 0 {
        return Err(format!("auth_key_file {p}: owned by uid {}, must be owned by root", meta.uid()));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "auth_key_file {p}: mode {mode:04o} lets others read or change it; run chmod 600 {p}"
        ));
    }
    let mut key = std::fs::read(path).map_err(|e| format!("auth_key_file {p}: {e}"))?;
    if key.last() == Some(&b'\n') {
        key.pop();
    }
    if key.len() < MIN_KEY {
        return Err(format!("auth_key_file {p}: the key has {} bytes, at least {MIN_KEY} are needed (generate one with: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {p})", key.len()));
    }
    Ok(key)
}

/// Says so, and for Apple's names (`en0`, `en1`, `fw0`, `bond0` is not
/// one), how to find the Linux name.
fn missing_interface(name: &str) -> String {
    let apple = ["en", "fw"].iter().any(|p| name.strip_prefix(p).is_some_and(|n| n.parse::<u8>().is_ok()));
    if apple {
        format!(
            "interface {name} does not exist on this host: {name} is a Mac OS X name; \
             replace it with this server's interface (see `ip -br link`, e.g. eth0)"
        )
    } else {
        format!("interface {name} does not exist on this host")
    }
}

/// Every problem between the configuration and this system.
pub fn check_system(cfg: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let mut err =
        |line: usize, message: String| out.push(ConfigError { file: cfg.file.clone(), line, message });
    let mut seen = Vec::new();
    for n in &cfg.networks {
        seen.push(n.interface.as_str().to_string());
        if !Path::new("/sys/class/net").join(n.interface.as_str()).exists() {
            err(cfg.line_of_network(n.id), missing_interface(n.interface.as_str()));
        }
    }
    for (i, a) in cfg.addresses.iter().enumerate() {
        if !seen.contains(&a.interface.as_str().to_string())
            && !Path::new("/sys/class/net").join(a.interface.as_str()).exists()
        {
            err(cfg.line_of_address(i), missing_interface(a.interface.as_str()));
        }
    }
    if let Some(key) = &cfg.auth_key_file {
        if let Err(e) = read_key_file(key) {
            err(cfg.line_of("auth_key_file"), e);
        }
    }
    let scripts = &cfg.scripts_dir;
    if scripts.exists() && std::fs::read_dir(scripts).is_err() {
        err(
            cfg.line_of("scripts_dir"),
            format!("scripts_dir {} is not a readable directory", scripts.display()),
        );
    }
    if !cfg.sendmail.exists() {
        err(
            cfg.line_of("sendmail"),
            format!(
                "sendmail {} does not exist: mail cannot be sent (install an MTA or set sendmail)",
                cfg.sendmail.display()
            ),
        );
    }
    if let Some(parent) = cfg.state_dir.parent() {
        if !parent.is_dir() {
            err(
                cfg.line_of("state_dir"),
                format!("state_dir {}: its parent directory does not exist", cfg.state_dir.display()),
            );
        }
    }
    out
}
