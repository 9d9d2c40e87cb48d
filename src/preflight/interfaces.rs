//! `-n`: the interfaces the file names exist in this network namespace.

use crate::config::{Config, ConfigError};

/// Every interface of a network or a service address that the kernel does
/// not know, each said once, at the first line that names it. Interfaces
/// as the kernel names them in this network namespace (if_nametoindex),
/// not /sys/class/net, which in a container may list another namespace's
/// (daemon/absent.rs).
pub(super) fn missing(cfg: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let mut err =
        |line: usize, message: String| out.push(ConfigError { file: cfg.file.clone(), line, message });
    let mut seen = Vec::new();
    for n in &cfg.networks {
        seen.push(n.interface.as_str().to_string());
        if crate::sys::net::if_index(n.interface.as_str()).is_err() {
            err(cfg.line_of_network(n.id), missing_interface(n.interface.as_str()));
        }
    }
    for (i, a) in cfg.addresses.iter().enumerate() {
        if !seen.contains(&a.interface.as_str().to_string())
            && crate::sys::net::if_index(a.interface.as_str()).is_err()
        {
            err(cfg.line_of_address(i), missing_interface(a.interface.as_str()));
        }
    }
    out
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
        format!(
            "interface {name} does not exist on this host: correct the name (see `ip -br link`); the \
             daemon waits interface_wait for it at start, then fails"
        )
    }
}
