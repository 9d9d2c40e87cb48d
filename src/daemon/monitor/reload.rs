//! SIGHUP: all or nothing. A file with errors, or one that changes what
//! only a restart can change, leaves the running configuration in force.
//! Otherwise timing, failback, addresses, hooks, mail and announcement
//! settings take effect at once; addresses added or dropped while this node
//! holds the addresses are moved through the mover like any other move.

use super::Monitor;
use crate::config::{self, Config, ServiceAddr};
use crate::daemon::mover::Job;
use crate::engine::{Reason, Settings};
use crate::log;
use std::path::PathBuf;

/// What differs between `old` and `new` that only a restart can change.
fn needs_restart(old: &Config, new: &Config) -> Option<&'static str> {
    let checks: [(&'static str, bool); 12] = [
        ("role", old.role != new.role),
        ("port", old.port != new.port),
        ("network", old.networks != new.networks),
        ("peer", old.peer != new.peer),
        ("mode", old.mode != new.mode),
        ("auth_key_file", old.auth_key_file != new.auth_key_file),
        ("legacy_heartbeat", old.legacy_heartbeat != new.legacy_heartbeat),
        ("legacy_message", old.legacy_message != new.legacy_message),
        ("state_dir", old.state_dir != new.state_dir),
        ("pidfile", old.pidfile != new.pidfile),
        ("control_socket", old.control_socket != new.control_socket),
        ("syslog_facility", old.syslog_facility != new.syslog_facility),
    ];
    checks.iter().find(|(_, changed)| *changed).map(|(k, _)| *k)
}

fn same_addr(a: &ServiceAddr, b: &ServiceAddr) -> bool {
    a.addr == b.addr && a.prefix == b.prefix && a.interface == b.interface
}

impl Monitor {
    pub(super) fn reload(&mut self) -> bool {
        let path = PathBuf::from(&self.cfg.file);
        let new = match config::load(&path, &crate::cli::LiveSystem) {
            Ok(c) => c,
            Err(errors) => {
                for e in errors {
                    log::error(&format!("reload: {e}"));
                }
                log::error("reload failed: the running configuration stays in force");
                return false;
            }
        };
        if let Some(key) = needs_restart(&self.cfg, &new) {
            log::error(&format!(
                "reload refused: changing {key} needs a restart; the running configuration stays in force"
            ));
            return false;
        }
        let Some(events) = self.events.clone() else { return false };
        let (mover, mail) = match crate::daemon::start::helpers(&new, &events) {
            Ok(h) => h,
            Err(e) => {
                log::error(&format!("reload failed: {e}; the running configuration stays in force"));
                return false;
            }
        };
        let dropped: Vec<ServiceAddr> = self
            .cfg
            .addresses
            .iter()
            .filter(|a| !new.addresses.iter().any(|b| same_addr(a, b)))
            .cloned()
            .collect();
        let added: Vec<ServiceAddr> = new
            .addresses
            .iter()
            .filter(|b| !self.cfg.addresses.iter().any(|a| same_addr(a, b)))
            .cloned()
            .collect();
        let holding = self.engine.holding();
        self.mover = mover;
        self.mail = mail;
        self.engine.update_settings(Settings::from_config(&new));
        self.addrs = new.addresses.clone();
        self.cfg = new;
        let hooks = self.cfg.role == crate::config::Role::Secondary;
        for (acquire, list) in [(false, dropped), (true, added)] {
            if holding && !list.is_empty() {
                let job = Job { acquire, reason: Reason::Reload, hooks, test: false, only: Some(list) };
                let _ = self.mover.send(job);
            }
        }
        log::notice(&format!("configuration reloaded from {}", self.cfg.file));
        true
    }
}
