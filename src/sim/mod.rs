//! A deterministic simulator of the whole pair, in the spirit of
//! FoundationDB's simulation testing and TigerBeetle's VOPR: both real
//! engines and replay guards, with simulated networks (loss, delay,
//! duplication, reordering, partitions), kernel addresses, a mover whose
//! hooks take time and whose ioctls fail (wholly or halfway), an operator
//! (SIGHUP, `release`, `takeover`, SIGTERM) and the process (SIGKILL and
//! restart with its state file kept, lost or corrupted; SIGSTOP; link
//! flaps). Everything is driven from one seed on a virtual clock, and the
//! invariants of `check.rs` are checked after every event.
//!
//! `scripts/simulate` runs it outside the test suite; `tests/simulate.rs`
//! runs a few thousand seeds in CI.
#![forbid(unsafe_code)]

mod adversary;
mod check;
mod node;
mod rng;
mod world;

pub(crate) use rng::Rng;
pub use world::{alarms_under_loss, loss_run, run, run_with, Failure, LossRun, Report, Switches};

/// An event on the virtual clock.
#[derive(Clone, Debug)]
pub(crate) enum Ev {
    /// A datagram arrives at node `to` on `net`.
    Deliver { to: usize, net: crate::config::NetId, msg: crate::proto::Message },
    /// The mover of `node` reaches the next point of its job.
    MoverStep { node: usize, life: u64, id: crate::engine::MoveId, phase: usize },
    /// A datagram of the adversary arrives at node `to` on `net`; it
    /// reached the node's socket at `at` (read later if the node is
    /// frozen).
    Forged { to: usize, net: crate::config::NetId, forged: adversary::Forged, at: u64 },
    /// The adversary on `net` makes its next move.
    Adversary { net: crate::config::NetId },
    /// An ARP probe of `node` ends.
    Probed { node: usize, life: u64, id: crate::engine::ProbeId },
    /// The mover's report of a move reaches the monitor late, or a second
    /// time (issue 29: the engine must take only the one it waits for).
    Report { node: usize, life: u64, report: crate::engine::MoveReport },
    /// The next fault the world throws at the pair.
    Fault,
    /// A fault's undo (cable back, partition healed, process restarted...).
    Undo(world::Undo),
    /// End of the faulty part of the run: everything is healed.
    Heal,
}
