//! SIGHUP: all or nothing. A file with errors, or one that changes what
//! only a restart can change, leaves the running configuration in force.
//! Otherwise the new file reaches the engine as an input; the engine
//! applies it between moves, never beside one (`Action::Reconfigure`), and
//! while this node holds the addresses it brings the kernel in line with a
//! changed address list through the mover, like any other move.

use super::{Event, Monitor};
use crate::config::{self, ServiceAddr};
use crate::engine::{Input, Reload, Settings};
use crate::live_system::LiveSystem;
use crate::log;
use std::path::PathBuf;

fn same_addr(a: &ServiceAddr, b: &ServiceAddr) -> bool {
    a.addr == b.addr && a.prefix == b.prefix && a.interface == b.interface
}

/// The addresses of `a` that are not in `b`.
fn missing_from(a: &[ServiceAddr], b: &[ServiceAddr]) -> Vec<ServiceAddr> {
    a.iter().filter(|x| !b.iter().any(|y| same_addr(x, y))).cloned().collect()
}

/// A reload on its way: the configuration the engine has not applied yet
/// (it waits for the move in progress), and what the latest applied one
/// added and dropped, for the move that brings the kernel in line with
/// it. Only this file changes it; the move takes the difference.
#[derive(Default)]
pub(super) struct Staged {
    config: Option<config::Config>,
    diff: (Vec<ServiceAddr>, Vec<ServiceAddr>),
}

impl Staged {
    /// The addresses the latest reload added and dropped, taken by the
    /// move of reason `reload`.
    pub(super) fn take_diff(&mut self) -> (Vec<ServiceAddr>, Vec<ServiceAddr>) {
        std::mem::take(&mut self.diff)
    }
}

impl Monitor {
    /// Loads the file again. `Err` says why the running configuration
    /// stays (every line also logged); `Ok` says what happens next. The
    /// text goes back to `ipfailoverd reload`.
    pub(super) fn reload(&mut self) -> Result<String, String> {
        let path = PathBuf::from(&self.cfg.file);
        // The configurations that cannot work are refused as `-n` and the
        // start refuse them (`config::check_addresses`).
        let loaded =
            config::load(&path, &LiveSystem).and_then(|c| match config::check_addresses(&c, &LiveSystem) {
                refused if refused.is_empty() => Ok(c),
                refused => Err(refused),
            });
        let new = match loaded {
            Ok(c) => c,
            Err(errors) => {
                let mut why = String::new();
                for e in errors {
                    log::error!("reload: {e}");
                    why.push_str(&format!("{e}\n"));
                }
                let last = "reload failed: the running configuration stays in force";
                log::error!("{last}");
                return Err(format!("{why}{last}"));
            }
        };
        if let Some(key) = config::restart_needed(&self.cfg, &new) {
            let why = format!(
                "reload refused: changing {key} needs a restart; the running configuration stays in force"
            );
            log::error!("{why}");
            return Err(why);
        }
        let changed = !missing_from(&self.cfg.addresses, &new.addresses).is_empty()
            || !missing_from(&new.addresses, &self.cfg.addresses).is_empty();
        let reload = Reload { settings: Settings::from_config(&new), addresses_changed: changed };
        let mut answer = match self.engine.moving() {
            Some((id, _, _)) => {
                let text = format!("reload accepted; it takes effect when move {id} in progress ends");
                log::notice!("{text}");
                text
            }
            None => format!("configuration reloaded from {}", self.cfg.file),
        };
        answer.push('\n');
        // The operator who typed `reload` reads its warnings there, not
        // only in the log.
        if let Some(warning) = self.pair_rename_warning(&new) {
            log::warn!("{warning}");
            answer.push_str(&format!("warning: {warning}\n"));
        }
        self.staged.config = Some(new);
        self.feed(Input::Reload(reload));
        Ok(answer)
    }

    /// The engine applies the staged configuration: no move is in progress.
    pub(super) fn reconfigure(&mut self) {
        let Some(new) = self.staged.config.take() else { return };
        let mailed = self.events.as_ref().map(|tx| super::post(tx, Event::Mailed));
        match crate::daemon::mail::notifier(&new, mailed) {
            Ok(mail) => self.io.mail = mail,
            Err(e) => log::error!("reload: {e}; mail keeps the old settings"),
        }
        self.mail_limit.set_every(new.mail_min_interval);
        let added = missing_from(&new.addresses, &self.cfg.addresses);
        let dropped = missing_from(&self.cfg.addresses, &new.addresses);
        for a in &added {
            log::notice!("reload: service address {}/{} on {} added", a.addr, a.prefix, a.interface);
        }
        for a in &dropped {
            log::notice!("reload: service address {}/{} on {} dropped", a.addr, a.prefix, a.interface);
        }
        self.staged.diff = (added, dropped);
        // Only when something a check sees changed: a restart stops the
        // runs in progress and their results would be lost.
        let first = |c: &config::Config| c.addresses.first().cloned();
        let same_timing = new.checks.iter().all(|c| self.cfg.check_timing(c) == new.check_timing(c));
        if self.cfg.checks != new.checks || !same_timing || first(&self.cfg) != first(&new) {
            log::notice!("reload: service checks restarted ({} configured)", new.checks.len());
            self.io.checks.reload(&new);
        }
        if let Some(watch) = &self.io.addrwatch {
            let _ = watch.send(new.addresses.iter().map(|a| a.addr).collect());
        }
        self.cfg = new;
        self.tell_readers(self.timing());
        log::notice!("configuration reloaded from {}", self.cfg.file);
    }

    /// A derived pair name follows the address list, but a running pair is
    /// never renamed: its peer, reloaded later or not at all, would drop
    /// every datagram as another pair's. The operator learns what the next
    /// restart would do, and how to keep the name.
    fn pair_rename_warning(&self, new: &config::Config) -> Option<String> {
        let next = new.pair_name();
        let now = self.id.pair.as_ref();
        if next.as_ref().map(|p| &p.name) == now.map(|p| &p.name) {
            return None;
        }
        let keep = match now {
            Some(p) => format!("write pair = {} in both configurations to keep it", p.name),
            None => "set the same pair = NAME in both configurations".to_string(),
        };
        Some(format!(
            "reload: the service addresses changed the derived pair name: this daemon keeps {} until it \
             restarts, and a restart would take {}. The peer must go by the same name: restart both \
             nodes together, or {keep}",
            now.map_or("none (unnamed)", |p| p.name.as_str()),
            next.as_ref().map_or("none (unnamed)", |p| p.name.as_str())
        ))
    }
}
