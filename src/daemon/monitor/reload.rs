//! SIGHUP: all or nothing. A file with errors, or one that changes what
//! only a restart can change, leaves the running configuration in force.
//! Otherwise timing, failback, addresses, hooks, mail and announcement
//! settings take effect at once; addresses added or dropped while this node
//! holds the addresses are moved through the mover like any other move.

use super::Monitor;
use crate::config::{self, ServiceAddr};
use crate::daemon::mover::Job;
use crate::engine::{Reason, Settings};
use crate::log;
use std::path::PathBuf;

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
        if let Some(key) = config::restart_needed(&self.cfg, &new) {
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
        self.tell_readers(self.cfg.interval);
        log::notice(&format!("configuration reloaded from {}", self.cfg.file));
        true
    }
}
