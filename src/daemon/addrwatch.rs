//! The address watch thread: tells the monitor when a service address is
//! added to or removed from this host by anyone (this daemon's own moves
//! included), so that an address removed by `ip addr del`, a flush or
//! NetworkManager is noticed at once (`engine/kernel.rs` decides what to
//! do). It listens to the kernel's address notifications
//! (`sys::addrwatch`, netlink) and wakes the monitor only for a change to a
//! configured service address, or when the kernel dropped notifications
//! (then anything may have changed): a healthy idle pair never wakes it.
//! The monitor then looks at the kernel itself (`mover/addrs.rs`), so the
//! notification only says "look".

use super::post::{Failed, Post};
use crate::log;
use crate::sys::addrwatch::{AddrChange, AddrEvents, Batch};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

/// Whether a batch of notifications is worth the monitor's look: a change
/// to one of `watched`, or notifications lost.
pub(super) fn worth_a_look(batch: &Batch, watched: &[IpAddr]) -> bool {
    batch.overrun || batch.changes.iter().any(|c| watched.contains(&c.addr))
}

/// What the watch tells the monitor: a service address was added to or
/// removed from this host (by anyone), or the kernel dropped address
/// notifications (`overrun`): the monitor looks at the kernel. `unread` is
/// true from the send until the monitor clears it, just before it looks:
/// meanwhile the watch sends no other (that look sees those changes).
#[derive(Debug)]
pub(super) struct Look {
    pub overrun: bool,
    pub unread: Arc<AtomicBool>,
}

/// The watch: its socket, the service addresses, and how it hears of a
/// reload's new list.
pub(super) struct AddrWatch {
    pub events: AddrEvents,
    pub watched: Vec<IpAddr>,
    /// The monitor sends the new list of service addresses after a reload.
    pub relist: Receiver<Vec<IpAddr>>,
    /// A `Look` was sent that the monitor has not taken yet.
    pub unread: Arc<AtomicBool>,
}

impl AddrWatch {
    pub(super) fn spawn(self, tx: Post<Result<Look, Failed>>) -> std::io::Result<()> {
        std::thread::Builder::new().name("addrwatch".into()).spawn(move || self.run(tx))?;
        Ok(())
    }

    fn run(mut self, tx: Post<Result<Look, Failed>>) {
        loop {
            // No timeout needed: a reload's list matters only for the next
            // notification. Woken at least once a minute all the same.
            match crate::sys::net::wait_readable(Some(&self.events), None::<&AddrEvents>, WAKE_EVERY) {
                Ok(r) if !r.first => continue,
                Ok(_) => {}
                Err(e) => {
                    let error = format!("waiting for address notifications: {e}");
                    let _ = tx.send(Err(Failed { name: "addrwatch", error }));
                    return;
                }
            }
            while let Ok(list) = self.relist.try_recv() {
                self.watched = list;
            }
            let batch = match self.events.drain() {
                Ok(b) => b,
                Err(e) => {
                    let error = format!("reading address notifications: {e}");
                    let _ = tx.send(Err(Failed { name: "addrwatch", error }));
                    return;
                }
            };
            if !worth_a_look(&batch, &self.watched) {
                continue;
            }
            if log::debugging() {
                for AddrChange { added, ifindex, addr } in
                    batch.changes.iter().filter(|c| self.watched.contains(&c.addr))
                {
                    let verb = if *added { "added to" } else { "removed from" };
                    log::debug!("kernel: service address {addr} {verb} interface index {ifindex}");
                }
            }
            // One look waiting in the monitor's queue is enough: it comes
            // after this change. A takeover of 256 addresses brings 256
            // notifications, which made 256 looks while the monitor was
            // slower than the mover (issue 32).
            if self.unread.swap(true, Ordering::SeqCst) {
                continue;
            }
            let unread = self.unread.clone();
            if tx.send(Ok(Look { overrun: batch.overrun, unread })).is_err() {
                return;
            }
        }
    }
}

const WAKE_EVERY: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    fn change(added: bool, addr: &str) -> AddrChange {
        AddrChange { added, ifindex: 2, addr: addr.parse().unwrap() }
    }

    #[test]
    fn only_service_addresses_or_an_overrun_wake_the_monitor() {
        let watched: Vec<IpAddr> = vec!["198.18.0.10".parse().unwrap(), "fd00:18::10".parse().unwrap()];
        let other =
            Batch { changes: vec![change(true, "198.18.0.1"), change(false, "fd00:18::1")], overrun: false };
        assert!(!worth_a_look(&other, &watched));
        assert!(!worth_a_look(&Batch::default(), &watched));
        let ours =
            Batch { changes: vec![change(true, "198.18.0.1"), change(false, "198.18.0.10")], overrun: false };
        assert!(worth_a_look(&ours, &watched));
        let v6 = Batch { changes: vec![change(true, "fd00:18::10")], overrun: false };
        assert!(worth_a_look(&v6, &watched));
        let lost = Batch { changes: vec![], overrun: true };
        assert!(worth_a_look(&lost, &watched));
    }
}
