//! The running daemon: threads that move bytes and the monitor that owns
//! all state (docs/design.md §11.3). Nothing here decides anything the engine decides.
//!
//! A folder is a thread (or one kind of thread); its `mod.rs` is that
//! thread's code, the files beside it what the thread and the monitor
//! use. Whatever a thread has to tell the monitor comes as an `Event`,
//! through one channel; the readers' routine datagrams wait for the
//! monitor's next wake-up in `net/inbox.rs` instead.
//!
//! | thread                         | where                                            |
//! |--------------------------------|--------------------------------------------------|
//! | monitor (owns all state)       | `monitor/`                                       |
//! | reader, one per network        | `net/` (`inbox.rs`: to the monitor; `outbox.rs`) |
//! | address watch (netlink)        | `addrwatch.rs`                                   |
//! | mover, announcer               | `mover/` (`announce.rs`; `addrs.rs`: the kernel) |
//! | client watch, one per move     | `mover/confirm.rs` (first client packet)         |
//! | notifier (sendmail)            | `mail/` (bodies, rate limit, RFC 5322 message)   |
//! | control socket, signals        | `control/` (`signals.rs`)                        |
//! | checks coordinator and workers | `checks/`                                        |
//! | state writer                   | `saver.rs`                                       |
//! | metrics HTTP                   | `scrape.rs`                                      |
//!
//! No thread of their own: `view/` renders status and metrics from the
//! monitor's figures; `throttle.rs` spaces out repeated log lines;
//! `start.rs`, `instances.rs` and `sdnotify.rs` start the daemon (or check
//! it with `-n`) and tell systemd.
#![forbid(unsafe_code)]

mod absent;
mod addrwatch;
mod checks;
mod control;
pub(crate) mod instances;
mod mail;
mod monitor;
mod mover;
mod net;
mod saver;
mod scrape;
mod sdnotify;
pub(crate) mod start;
mod throttle;
mod view;

pub(crate) use control::client;
pub use control::{parse_request, Format, Request};
pub(crate) use start::{run, Options};
// `Event::Mailed` carries the counters' `Mailed`.
use view::counters;

use crate::config::NetId;
use crate::proto::Reject;
use crate::sys::signal::Signal;
use std::net::SocketAddr;

/// Everything the monitor hears about, through one channel.
#[derive(Debug)]
pub(crate) enum Event {
    /// A reader queued a datagram that may change something (`inbox`):
    /// the monitor takes the queue, as it does at every wake-up.
    Heard,
    /// Apple's unauthenticated heartbeat, from an accepted source.
    Legacy {
        net: NetId,
        src: SocketAddr,
    },
    /// Datagrams the reader dropped since its last report: per reason, how
    /// many and the latest source; the latest other pair's id, if any.
    Rejected {
        net: NetId,
        counts: Vec<(Reject, u64, SocketAddr)>,
        other_pair: Option<crate::proto::PairId>,
    },
    /// A service address was added to or removed from this host (by
    /// anyone), or the kernel dropped address notifications (`overrun`):
    /// the monitor looks at the kernel (`addrwatch.rs`). `unread` is true
    /// from the send until the monitor clears it, just before it looks:
    /// meanwhile the watch sends no other (that look sees those changes).
    Addresses {
        overrun: bool,
        unread: std::sync::Arc<std::sync::atomic::AtomicBool>,
    },
    /// Our own interface changed: `up` means it exists, is up and has carrier.
    Link {
        net: NetId,
        up: bool,
        why: String,
    },
    /// A thread hit an error it cannot recover from.
    ThreadFailed {
        name: &'static str,
        error: String,
    },
    Signal(Signal),
    /// Result of probe `id` of the service addresses (ARP, neighbour
    /// solicitation): `Some(true)` nobody answered, `Some(false)` someone
    /// did, `None` the probe failed (a socket error) and nobody answered.
    Probed {
        id: crate::engine::ProbeId,
        free: Option<bool>,
        /// Who answered: "ADDRESS by MAC on INTERFACE", one per answer.
        answers: Vec<String>,
    },
    /// The mover finished a move of the addresses.
    Moved(mover::Report),
    /// What the watch for the first client packet after a move found
    /// (`mover/confirm.rs`).
    Confirmed(mover::confirm::Confirmation),
    /// This node's fitness changed (service checks, docs/design.md §9); `failing`:
    /// the first failing check's name and last output line.
    Fitness {
        fit: bool,
        failing: Option<(String, String)>,
    },
    /// The service checks as they stand, for status: after every run and
    /// every reload.
    Checks(Vec<checks::View>),
    /// What became of a mail (the notifier says so after each).
    Mailed(counters::Mailed),
    /// A request on the control socket, and where its answer goes.
    Control {
        request: control::Request,
        reply: std::sync::mpsc::Sender<Result<String, String>>,
    },
}
