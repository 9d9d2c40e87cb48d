//! What the kernel shows of the service addresses (`Input::Kernel`), and
//! the one place that decides what to do when it is not what the engine
//! believes: at start and after a reload, and whenever the daemon's address
//! watch (`daemon/addrwatch.rs`, netlink) sees a service address added or
//! removed by someone else.
//!
//! - At start (`starting`): addresses left over from an earlier run are
//!   adopted by the secondary and dropped by the primary until the claim
//!   exchange.
//! - An active primary or a holding secondary that lost an address puts it
//!   back at once (reason `address-lost`), mailed: an operator who wants it
//!   gone has `ipfailoverd release`. If something keeps removing it, the
//!   put-backs that follow wait (`Repairs`): dead_after, then twice that,
//!   up to a minute, so a fight with NetworkManager is no tight loop; a
//!   loss after ten quiet dead_afters (5 s to a minute) is put back at once.
//! - A node that does not hold the addresses and finds one added by someone
//!   else removes it (reason `address-added`, without a change of state),
//!   mailed, unless the rules say it should hold them anyway (a secondary
//!   whose primary is silent on both networks, a primary whose acquire
//!   failed): then it keeps them. Repeated removals wait the same way.
//! - In the middle of a move the kernel shows the move's work: the engine
//!   remembers that something changed and looks again (`CheckKernel`) once
//!   the move's report is in, so an address removed between the mover's add
//!   and its report is not missed.

use super::{Action, Direction, Engine, Held, Notice, Reason, State, Timing};
use crate::config::{Mode, NetId, Role};
use std::time::{Duration, Instant};

/// What the kernel last showed of the addresses, and the repairs of what
/// someone else changed. Only this file's rules change it (`kernel`,
/// `address_lost`, `address_added`, the `*_due` checks), and `moved`, which
/// records a move's report.
#[derive(Debug)]
pub(super) struct KernelView {
    /// What the kernel last showed of the addresses (a move's report, or
    /// `Input::Kernel`): a held address lost shows as less than this.
    kernel_held: Held,
    /// The kernel changed during a move: looked at again after its report.
    recheck_kernel: bool,
    /// Held addresses removed from outside and put back.
    put_back: Repairs,
    /// Addresses added from outside and removed.
    removal: Repairs,
    /// Such a removal failed: the kernel is looked at again then.
    recheck_at: Option<Instant>,
}

impl KernelView {
    /// What the kernel last showed of the addresses.
    pub(super) fn held(&self) -> Held {
        self.kernel_held
    }

    /// A move's report: what the kernel shows after it.
    pub(super) fn reported(&mut self, held: Held) {
        self.kernel_held = held;
    }

    /// Whether the kernel changed during the move just reported (it is
    /// looked at again); cleared.
    pub(super) fn take_recheck(&mut self) -> bool {
        std::mem::take(&mut self.recheck_kernel)
    }
}

impl Default for KernelView {
    fn default() -> KernelView {
        KernelView {
            kernel_held: Held::None,
            recheck_kernel: false,
            put_back: Repairs::default(),
            removal: Repairs::default(),
            recheck_at: None,
        }
    }
}

/// Repairs of one kind (put-backs, or removals) in a row, and the next one
/// waiting: the first of a run is at once, each later one waits dead_after,
/// then twice as long, up to a minute (`Timing::repair_wait`); a repair
/// `Timing::repair_quiet` after the latest starts a new run.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Repairs {
    /// Repairs in the current run.
    count: u32,
    last: Option<Instant>,
    /// When the next repair is due, if one waits.
    pub(super) due: Option<Instant>,
}

impl Repairs {
    /// Schedules a repair (unless one waits already): returns how many came
    /// just before it and how long it waits, or None if one was waiting.
    fn schedule(&mut self, now: Instant, t: &Timing) -> Option<(u32, Duration)> {
        if self.due.is_some() {
            return None;
        }
        if self.last.is_none_or(|last| now >= last + t.repair_quiet()) {
            self.count = 0;
        }
        let wait = t.repair_wait(self.count);
        let at = self.last.map_or(now, |t| (t + wait).max(now));
        self.due = Some(at);
        Some((self.count, at - now))
    }

    fn is_due(&self, now: Instant) -> bool {
        self.due.is_some_and(|t| now >= t)
    }

    /// The repair is carried out now.
    fn done(&mut self, now: Instant) {
        self.count += 1;
        self.last = Some(now);
        self.due = None;
    }
}

fn rank(h: Held) -> u8 {
    match h {
        Held::None => 0,
        Held::Some => 1,
        Held::All => 2,
    }
}

impl Engine {
    /// What the kernel shows (see the module's comment).
    pub(super) fn kernel(&mut self, held: Held, now: Instant) {
        if self.moves.moving.is_some() {
            self.kernel_view.recheck_kernel = true;
            return;
        }
        if self.stopping {
            return;
        }
        let before = std::mem::replace(&mut self.kernel_view.kernel_held, held);
        let static_primary = self.s.role == Role::Primary && self.s.mode == Mode::Static;
        if static_primary {
            return;
        }
        if self.holding() {
            if held == Held::All {
                // Back (put back by someone, or never gone for long).
                self.kernel_view.put_back.due = None;
                self.backoff.partial_retry = None;
            } else if self.state == self.held_state() {
                if rank(held) < rank(before) {
                    self.address_lost(now);
                } else if self.backoff.partial_retry.is_none() && self.kernel_view.put_back.due.is_none() {
                    // Missing since before (a reload's new address): added
                    // like the rest of a partial takeover.
                    self.backoff.partial_retry = Some(now);
                }
            }
            return;
        }
        if held == Held::None {
            self.kernel_view.removal.due = None;
            return;
        }
        if self.state == State::Starting {
            return self.found_at_start(held, now);
        }
        self.address_added(held, now);
    }

    /// At start the addresses on our interface are left over from an
    /// earlier run: the secondary keeps them, the primary drops them until
    /// the claim exchange (the secondary may hold them by now).
    fn found_at_start(&mut self, held: Held, now: Instant) {
        match self.s.role {
            Role::Secondary => {
                let detail = "the service addresses are on our interface: keeping them".to_string();
                self.enter(State::Holding, Reason::Adopted, detail, now);
                if held == Held::Some {
                    self.backoff.partial_retry = Some(now);
                }
            }
            Role::Primary => {
                let detail = "service addresses are on our interface; dropping them until the claim exchange"
                    .to_string();
                self.enter(State::Releasing, Reason::Startup, detail, now);
            }
        }
    }

    /// A held address is gone and nobody here removed it.
    fn address_lost(&mut self, now: Instant) {
        if let Some((again, wait)) = self.kernel_view.put_back.schedule(now, &self.s.timing) {
            self.pending.push(Action::Notify(Notice::AddressLost { again, wait }));
        }
    }

    /// Called by `evaluate`: a put-back whose time has come.
    pub(super) fn put_back_due(&mut self, now: Instant) {
        if self.state != self.held_state() {
            self.kernel_view.put_back.due = None;
            return;
        }
        // With our public link down the addresses go anyway (both roles).
        if !self.kernel_view.put_back.is_due(now) || !self.links.link_up[NetId::Public.index()] {
            return;
        }
        self.kernel_view.put_back.done(now);
        let detail = "a service address was removed from outside this daemon: putting it back".to_string();
        self.enter(State::Acquiring, Reason::AddressLost, detail, now);
    }

    /// An address is here that this node does not hold.
    fn address_added(&mut self, held: Held, now: Instant) {
        if self.should_hold(now) {
            self.kernel_view.removal.due = None;
            self.pending.push(Action::Notify(Notice::AddressAdded { kept: true }));
            let detail = "service addresses were added from outside this daemon, and this node should hold \
                          them: keeping them"
                .to_string();
            self.enter(self.held_state(), Reason::AddressAdded, detail, now);
            if held == Held::Some {
                self.backoff.partial_retry = Some(now);
            }
            return;
        }
        if self.kernel_view.recheck_at.is_some_and(|t| now < t) {
            // A removal failed: tried again at `recheck_at`.
            return;
        }
        if self.kernel_view.removal.schedule(now, &self.s.timing).is_some() {
            self.pending.push(Action::Notify(Notice::AddressAdded { kept: false }));
        }
        self.removal_due(now);
    }

    /// Called by `evaluate` too: a removal of addresses added from outside
    /// whose time has come. No state changes: this node did not hold them
    /// and does not now.
    pub(super) fn removal_due(&mut self, now: Instant) {
        if self.holding() {
            self.kernel_view.removal.due = None;
            return;
        }
        if !self.kernel_view.removal.is_due(now) || self.moves.moving.is_some() {
            return;
        }
        self.kernel_view.removal.done(now);
        self.start_move(Direction::Release, Reason::AddressAdded);
    }

    /// Whether the rules say this node should hold the addresses now,
    /// whoever put them here: a secondary whose primary is silent on both
    /// networks (it would take over), a primary whose acquire failed (the
    /// claim exchange gave them to it). Never while another node of our
    /// role that serves holds us off (`rival_blocks`).
    fn should_hold(&self, now: Instant) -> bool {
        if !self.links.link_up[NetId::Public.index()] || self.rival_blocks(now) {
            return false;
        }
        match self.s.role {
            Role::Primary => self.state == State::Failed,
            Role::Secondary => {
                let watching = matches!(
                    self.state,
                    State::Watching | State::Anomaly(_) | State::Isolated | State::Failed | State::Vetoed
                );
                let silent = |n| now >= self.silence_base(n) + self.s.timing.dead_after;
                let gated = !self.fitness.fit && self.s.gates_takeover;
                watching && !gated && silent(NetId::Public) && silent(NetId::Private)
            }
        }
    }

    /// A removal of addresses added from outside ended (`moved`). Nothing
    /// changes state; one that failed is mailed and looked at again after
    /// dead_after.
    pub(super) fn removal_done(&mut self, id: super::MoveId, held: Held, now: Instant) {
        if held == Held::None || self.stopping {
            return;
        }
        self.kernel_view.recheck_at = Some(now + self.retry_delay());
        self.pending.push(Action::Notify(Notice::Move {
            id,
            dir: Direction::Release,
            reason: Reason::AddressAdded,
            outcome: super::Outcome::Failed,
        }));
    }

    /// Called by `evaluate`: look at the kernel again after a failed
    /// removal.
    pub(super) fn recheck_due(&mut self, now: Instant) {
        if self.kernel_view.recheck_at.is_some_and(|t| now >= t) {
            self.kernel_view.recheck_at = None;
            self.pending.push(Action::CheckKernel);
        }
    }

    /// Whether a repair of what someone else changed waits for its time
    /// (a put-back or a removal backing off, or a look after a failed
    /// one): the kernel then differs from the state on purpose.
    pub(crate) fn repair_pending(&self) -> bool {
        self.kernel_view.put_back.due.is_some()
            || self.kernel_view.removal.due.is_some()
            || self.kernel_view.recheck_at.is_some()
    }

    /// Whether a removal of addresses added from outside waits for its
    /// time (backing off, or a look after a failed one).
    pub(crate) fn removal_pending(&self) -> bool {
        self.kernel_view.removal.due.is_some() || self.kernel_view.recheck_at.is_some()
    }

    pub(super) fn kernel_deadlines(&self) -> impl Iterator<Item = Instant> {
        [self.kernel_view.put_back.due, self.kernel_view.removal.due, self.kernel_view.recheck_at]
            .into_iter()
            .flatten()
    }
}
