//! The client watch (ipfailoverd(8), CLIENT CONFIRMATION; issue 34): after
//! a move that adds addresses, one thread per move watches for up to
//! `WINDOW` for the first packet another host sends to one of them (an
//! ARP request or neighbour solicitation for it, or IP traffic to it:
//! `sys::clientwatch`), and reports it to the monitor as
//! a `Confirmation`. While nobody is seen it announces the addresses
//! again at `REPEATS` after the first add. The mover opens the socket
//! before the first add, so no packet after it is missed, and starts the
//! thread when the addresses are in; the next move of the mover cancels a
//! watch still running (`Watch` is dropped: its pipe's write end closes,
//! which wakes the thread at once). Between packets, repeats and the end
//! of the window the thread sleeps: a watch that sees nobody costs no
//! wake-ups but its repeats. Nothing waits for it: the takeover, its log lines and its
//! mail never depend on it (the monitor holds the mail for at most
//! `monitor::MAIL_WAITS`).

use crate::config::ServiceAddr;
use crate::daemon::post::Post;
use crate::engine::MoveId;
use crate::log;
use crate::sys::clientwatch::{ClientWatch, Kind};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long a watch lasts after the first address was added.
pub(in crate::daemon) const WINDOW: Duration = Duration::from_secs(10);
/// When the addresses are announced again if no client was seen yet,
/// after the first add (besides the announcer's own bursts).
pub(in crate::daemon) const REPEATS: [Duration; 3] =
    [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4)];

/// What a move's watch found.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Found {
    /// Started; nothing yet (the monitor's marker until the report).
    Watching { since: Instant },
    /// The first packet from another host to a moved address.
    Client { delay: Duration, from: IpAddr, to: IpAddr, kind: Kind, interface: String },
    /// Nobody within `watched`.
    Nobody { watched: Duration },
    /// A later move ended the watch after this long, before any client.
    Cut { after: Duration },
    /// The socket failed (or could not be opened).
    Failed(String),
}

/// A move's confirmation: its move, what was found, and how many times
/// the addresses were announced again meanwhile.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Confirmation {
    pub id: MoveId,
    pub found: Found,
    pub repeats: u32,
    /// When it was known (for the age status shows).
    pub at: SystemTime,
}

impl Confirmation {
    /// The words of the log line, the mail and `status`.
    pub(in crate::daemon) fn words(&self) -> String {
        let secs = crate::timefmt::secs;
        let again = match self.repeats {
            0 => String::new(),
            n => {
                let at: Vec<String> = REPEATS.iter().take(n as usize).map(|d| secs(*d)).collect();
                format!("; announced again {n} time(s), at {} after the add", at.join(", "))
            }
        };
        match &self.found {
            Found::Watching { .. } => format!("watching for the first client packet (for up to {})", secs(WINDOW)),
            Found::Client { delay, from, to, kind, interface } => format!(
                "first client packet {} after the address was added, from {from} ({} for {to} on {interface}){again}",
                millis(*delay),
                kind.words()
            ),
            Found::Nobody { watched } => format!(
                "no client packet within {} after the addresses were added{again}: the service may simply be idle \
                 (if clients should be using it, check that they, their router or the switch learned where the \
                 addresses are now)",
                secs(*watched)
            ),
            Found::Cut { after } => {
                format!("no client packet in the {} before a later move ended the watch{again}", millis(*after))
            }
            Found::Failed(e) => format!("cannot watch for client packets: {e}"),
        }
    }
}

/// A duration in milliseconds with a tenth: client delays are often a
/// few milliseconds.
pub(in crate::daemon) fn millis(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        return crate::timefmt::secs(d);
    }
    format!("{:.1}ms", d.as_secs_f64() * 1000.0)
}

/// A watch running; dropping it cancels it: the flag is set, then the
/// write end of the thread's wake-up pipe closes, which makes the read end
/// readable (end of file) and ends the thread's wait.
pub(super) struct Watch {
    cancel: Arc<AtomicBool>,
    _wake: std::fs::File,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

struct Added {
    addr: IpAddr,
    ifname: String,
    ifindex: u32,
    at: SystemTime,
}

/// A watch being set up by a move: its socket is open before the first
/// add, the addresses are noted as they are added.
pub(super) struct Pending {
    id: MoveId,
    sock: ClientWatch,
    added: Vec<Added>,
}

impl Pending {
    /// Opens the socket for the addresses of `change` (an acquire's).
    /// `Err`: why it cannot, for the report.
    pub(super) fn open(id: MoveId, change: &[&ServiceAddr]) -> Result<Pending, String> {
        let v4: Vec<_> =
            change.iter().filter_map(|a| if let IpAddr::V4(v) = a.addr { Some(v) } else { None }).collect();
        let v6: Vec<_> =
            change.iter().filter_map(|a| if let IpAddr::V6(v) = a.addr { Some(v) } else { None }).collect();
        match ClientWatch::open(&v4, &v6) {
            Ok(sock) => Ok(Pending { id, sock, added: Vec::new() }),
            Err(e) => Err(format!("cannot open a packet socket: {e}")),
        }
    }

    /// `a` was added just now.
    pub(super) fn added(&mut self, a: &ServiceAddr) {
        let ifname = a.interface.as_str().to_string();
        // Looked up once per interface and move: the addresses of a move
        // are mostly on one interface (256 lookups of three syscalls each
        // were a twentieth of a 256-address move; issue 32).
        let ifindex = match self.added.iter().rev().find(|x| x.ifname == ifname) {
            Some(earlier) => earlier.ifindex,
            None => crate::sys::net::if_index(&ifname).unwrap_or(0),
        };
        self.added.push(Added { addr: a.addr, ifname, ifindex, at: SystemTime::now() });
    }

    /// Starts the watch thread, if anything was added.
    pub(super) fn start(self, events: Post<Confirmation>) -> Result<Option<Watch>, String> {
        if self.added.is_empty() {
            return Ok(None);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let (stop, wake) =
            crate::sys::process::pipe().map_err(|e| format!("cannot make the watch's pipe: {e}"))?;
        std::thread::Builder::new()
            .name("client-watch".into())
            .spawn(move || self.run(&flag, &stop, &events))
            .map_err(|e| format!("cannot start the watch thread: {e}"))?;
        Ok(Some(Watch { cancel, _wake: wake }))
    }

    fn run(self, cancel: &AtomicBool, stop: &std::fs::File, events: &Post<Confirmation>) {
        let first = self.added.iter().map(|a| a.at).min().unwrap_or_else(SystemTime::now);
        let since_first = SystemTime::now().duration_since(first).unwrap_or_default();
        let begun = Instant::now().checked_sub(since_first).unwrap_or_else(Instant::now);
        let end = begun + WINDOW;
        let mut repeats = 0usize;
        let found = loop {
            if cancel.load(Ordering::Relaxed) {
                break Found::Cut { after: begun.elapsed() };
            }
            let now = Instant::now();
            if let Some(at) = REPEATS.get(repeats).map(|d| begun + *d) {
                if now >= at {
                    self.announce();
                    repeats += 1;
                    continue;
                }
            }
            let next_repeat = REPEATS.get(repeats).map_or(end, |d| begun + *d);
            let until = end.min(next_repeat);
            match self.sock.next(until.saturating_duration_since(now), stop) {
                Ok(Some(seen)) => {
                    let known = self.added.iter().find(|a| a.addr == seen.to && a.ifindex == seen.ifindex);
                    // Before the address was added (a client asking while
                    // nobody had it): not an answer to this move.
                    if let Some(a) = known.filter(|a| seen.at >= a.at) {
                        let delay = seen.at.duration_since(a.at).unwrap_or_default();
                        let interface = a.ifname.clone();
                        break Found::Client {
                            delay,
                            from: seen.from,
                            to: seen.to,
                            kind: seen.kind,
                            interface,
                        };
                    }
                }
                Ok(None) => {}
                Err(e) => break Found::Failed(e.to_string()),
            }
            if Instant::now() >= end {
                break Found::Nobody { watched: WINDOW };
            }
        };
        let c = Confirmation { id: self.id, found, repeats: repeats as u32, at: SystemTime::now() };
        let _ = events.send(c);
        // Closing a packet socket waits for an RCU grace period: after
        // the report.
        drop(self.sock);
    }

    /// The addresses announced once more: a gratuitous ARP or an
    /// unsolicited neighbour advertisement each.
    fn announce(&self) {
        for a in &self.added {
            let sent = match a.addr {
                IpAddr::V4(v4) => {
                    crate::sys::packet::ArpSocket::sender(&a.ifname).and_then(|s| s.send_garp(v4))
                }
                IpAddr::V6(v6) => {
                    crate::sys::nd::NdSocket::open(&a.ifname).and_then(|s| s.send_unsolicited_na(v6))
                }
            };
            if let Err(e) = sent {
                log::warn!("announcing {} on {} again: {e}", a.addr, a.ifname);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_say_what_was_seen() {
        let c = |found, repeats| Confirmation { id: MoveId(3), found, repeats, at: SystemTime::now() };
        let seen = c(
            Found::Client {
                delay: Duration::from_micros(3210),
                from: "198.18.0.100".parse().unwrap(),
                to: "198.18.0.10".parse().unwrap(),
                kind: Kind::ArpRequest,
                interface: "pub0".into(),
            },
            0,
        );
        assert_eq!(
            seen.words(),
            "first client packet 3.2ms after the address was added, from 198.18.0.100 (an ARP request for \
             198.18.0.10 on pub0)"
        );
        let none = c(Found::Nobody { watched: WINDOW }, 3).words();
        assert!(none.starts_with("no client packet within 10.0s after the addresses were added; announced again 3 time(s), at 1.0s, 2.0s, 4.0s after the add: the service may simply be idle"), "{none}");
        let cut = c(Found::Cut { after: Duration::from_millis(1500) }, 1).words();
        assert_eq!(cut, "no client packet in the 1.5s before a later move ended the watch; announced again 1 time(s), at 1.0s after the add");
    }
}
