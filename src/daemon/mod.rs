//! The running daemon: threads that move bytes and the monitor that owns
//! all state (docs/design.md §11.3). Nothing here decides anything the engine decides.
//!
//! A folder is a thread (or one kind of thread); its `mod.rs` is that
//! thread's code, the files beside it what the thread and the monitor
//! use. Whatever a thread has to tell the monitor it sends through its
//! own typed `Post` (`post.rs`), which the monitor wraps into its `Event`
//! (`monitor/event.rs`) on one channel; the readers' routine datagrams
//! wait for the monitor's next wake-up in `net/inbox.rs` instead. Nothing
//! below the monitor imports from this file, the monitor or `start.rs`.
//!
//! | thread                         | where                                            |
//! |--------------------------------|--------------------------------------------------|
//! | monitor (owns all state)       | `monitor/`                                       |
//! | reader, one per network        | `net/` (`inbox.rs`: to the monitor; `outbox.rs`) |
//! | address watch (netlink)        | `addrwatch.rs`                                   |
//! | mover, announcer               | `mover/` (`announce.rs`; `addrs.rs`: the kernel) |
//! | probe, one per probe           | `probe.rs` (ARP, neighbour solicitation)         |
//! | client watch, one per move     | `mover/confirm.rs` (first client packet)         |
//! | notifier (sendmail)            | `mail/` (bodies, rate limit, RFC 5322 message)   |
//! | control socket, signals        | `control/` (`signals.rs`)                        |
//! | checks coordinator and workers | `checks/`                                        |
//! | state writer                   | `saver.rs`                                       |
//! | metrics HTTP                   | `scrape.rs`                                      |
//!
//! No thread of their own: `view/` renders status and metrics from the
//! monitor's figures; `throttle.rs` spaces out repeated log lines;
//! `post.rs` is the workers' way to the monitor;
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
mod post;
mod probe;
mod saver;
mod scrape;
mod sdnotify;
pub(crate) mod start;
mod throttle;
mod view;

pub(crate) use control::client;
pub use control::{parse_request, Format, Request};
pub(crate) use start::{run, Options};
