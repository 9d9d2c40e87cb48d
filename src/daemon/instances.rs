//! Several daemons on one host (active/active: one instance per pair, see
//! `docs/architecture.md`). What an instance holds that no other may share
//! is its pidfile, its control socket, its state_dir and its port on its
//! interfaces; the start refuses each of them (`start.rs`), and `-n` looks
//! for them here, before the start, without taking anything for good.

use crate::config::{Config, ConfigError, NetId};
use crate::sys;
use std::os::unix::net::UnixStream;

/// What `-n` finds about the files and port another running instance
/// holds, as errors, or a note when a daemon already answers on this
/// file's control socket (then it is most likely this file's own daemon,
/// whose port and files are in use by right, and nothing else is checked).
pub(crate) fn check(cfg: &Config) -> Result<Vec<ConfigError>, String> {
    if UnixStream::connect(&cfg.control_socket).is_ok() {
        return Err(format!(
            "note: an ipfailoverd is running behind control_socket {}: this file's own daemon, or another \
             instance given the same control_socket; pidfile, state_dir and port not checked for other instances",
            cfg.control_socket.display()
        ));
    }
    let mut out = Vec::new();
    let mut err = |key: &str, message: String| {
        out.push(ConfigError { file: cfg.file.clone(), line: cfg.line_of(key), message })
    };
    let taken = |path: &std::path::Path| {
        sys::fs::open_read(path).ok().is_some_and(|f| sys::fs::try_lock(&f).ok() == Some(false))
    };
    if taken(&cfg.pidfile) {
        let pid = std::fs::read_to_string(&cfg.pidfile).unwrap_or_default();
        err(
            "pidfile",
            format!(
                "pidfile {} is locked by a running ipfailoverd (pid {}) with another control_socket: \
                 every instance on this host needs its own pidfile",
                cfg.pidfile.display(),
                pid.trim()
            ),
        );
    }
    if cfg.state_dir.is_dir()
        && sys::fs::open_dir(&cfg.state_dir).ok().is_some_and(|f| !sys::fs::try_lock(&f).unwrap_or(true))
    {
        err(
            "state_dir",
            format!(
                "state_dir {} is in use by a running ipfailoverd: every instance on this host needs its own state_dir",
                cfg.state_dir.display()
            ),
        );
    }
    let mut probed = Vec::new();
    for net in NetId::ALL {
        let n = cfg.network(net);
        let ifname = n.interface.as_str();
        if probed.contains(&(ifname, n.dest.is_ipv4())) {
            continue;
        }
        probed.push((ifname, n.dest.is_ipv4()));
        // Bound and closed at once, without SO_REUSEPORT: fails when any
        // socket holds the port on this interface (or on all of them).
        if let Err(e) = super::net::listen(ifname, cfg.port, n.dest, false) {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                err("port", super::net::port_in_use(cfg.port, ifname));
            }
        }
    }
    Ok(out)
}
