//! Tests: the one driver of an engine on a virtual clock that the engine's
//! tests share (`backoff_tests.rs`, `probe_tests.rs`, `kernel_tests.rs`).
//! Times are milliseconds since the driver's start. It feeds inputs as the
//! monitor would, records every action with its time, fires deadlines, and
//! answers moves at once (`answer`) with what the test says the kernel
//! shows, or leaves them in flight for the test to `report`.

use super::*;
use crate::config::{Failback, Mode};
use crate::proto::{Kind, Order};

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Settings for a test: automatic failback, no start-up grace, failing
/// checks gate a takeover.
pub(super) fn settings(role: Role, mode: Mode, timing: Timing) -> Settings {
    Settings { role, mode, failback: Failback::Auto, timing, gates_takeover: true }
}

/// The configured periods, in milliseconds (no start-up grace).
pub(super) fn timing(interval: u64, dead_after: u64, recover_after: u64, takeover_probe: u64) -> Timing {
    Timing {
        interval: ms(interval),
        dead_after: ms(dead_after),
        recover_after: ms(recover_after),
        startup_grace: Duration::ZERO,
        takeover_probe: ms(takeover_probe),
    }
}

/// One engine on a virtual clock. The test owns it and changes its public
/// fields as its story needs.
pub(super) struct Driver {
    pub(super) e: Engine,
    pub(super) t0: Instant,
    /// Every action, with when it was asked for.
    pub(super) actions: Vec<(u64, Action)>,
    /// Whether moves are answered at once (or left in flight until the
    /// test reports them).
    pub(super) answer: bool,
    /// What the kernel shows after an acquire / a release answered at once.
    pub(super) after_acquire: Held,
    pub(super) after_release: Held,
}

impl Driver {
    /// An engine started at t = 0 with `nonce`; moves left in flight.
    pub(super) fn new(s: Settings, nonce: u64) -> Driver {
        let t0 = Instant::now();
        Driver {
            e: Engine::new(s, t0, nonce),
            t0,
            actions: vec![],
            answer: false,
            after_acquire: Held::All,
            after_release: Held::None,
        }
    }

    /// Feeds `input` at `at`, and the reports of the moves it starts when
    /// they are answered at once: all the actions that came of it.
    pub(super) fn feed(&mut self, input: Input, at: u64) -> Vec<Action> {
        let mut out = vec![];
        let mut queue = std::collections::VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            for a in self.e.step(input, self.t0 + ms(at)) {
                if let (Action::Move { id, dir, .. }, true) = (&a, self.answer) {
                    let held = match dir {
                        Direction::Acquire => self.after_acquire,
                        Direction::Release => self.after_release,
                    };
                    queue.push_back(Input::Moved(MoveReport { id: *id, held, vetoed: false }));
                }
                self.actions.push((at, a.clone()));
                out.push(a);
            }
        }
        out
    }

    /// Fires every deadline up to and including `until`, as the monitor
    /// would.
    pub(super) fn until(&mut self, until: u64) {
        while let Some(d) = self.e.next_deadline() {
            let d = d.duration_since(self.t0).as_millis() as u64;
            if d > until {
                break;
            }
            self.feed(Input::Tick, d);
        }
    }

    /// A datagram of the peer on `net` at `at`.
    pub(super) fn hear(
        &mut self,
        at: u64,
        net: NetId,
        kind: Kind,
        flags: u16,
        claim: Option<ClaimId>,
        order: Option<Order>,
    ) -> Vec<Action> {
        self.feed(Input::Heard { net, kind, flags: Flags(flags), claim, order }, at)
    }

    /// The peer's `kind` with `flags` on both networks at `at`, numbered
    /// in the order heard (claim id 7).
    pub(super) fn hear_both(&mut self, at: u64, kind: Kind, flags: u16) {
        for net in NetId::ALL {
            let order = Some(Order::of(1, at * 2 + net.index() as u64));
            self.hear(at, net, kind, flags, Some(ClaimId(7)), order);
        }
    }

    /// Reports the move in progress with what the kernel shows.
    pub(super) fn report(&mut self, at: u64, held: Held) -> Vec<Action> {
        let id = self.e.moving().expect("a move in progress").0;
        self.feed(Input::Moved(MoveReport { id, held, vetoed: false }), at)
    }

    /// Every move asked for: when, which way, why.
    pub(super) fn moves(&self) -> Vec<(u64, Direction, Reason)> {
        let moves = self.actions.iter().filter_map(|(t, a)| match a {
            Action::Move { dir, reason, .. } => Some((*t, *dir, *reason)),
            _ => None,
        });
        moves.collect()
    }

    /// Every probe asked for: when, and its id.
    pub(super) fn probes(&self) -> Vec<(u64, ProbeId)> {
        let probes = self.actions.iter().filter_map(|(t, a)| match a {
            Action::Probe { id, .. } => Some((*t, *id)),
            _ => None,
        });
        probes.collect()
    }

    /// Every notice, with its time.
    pub(super) fn notices(&self) -> Vec<(u64, Notice)> {
        let notices = self.actions.iter().filter_map(|(t, a)| match a {
            Action::Notify(n) => Some((*t, n.clone())),
            _ => None,
        });
        notices.collect()
    }

    /// The state changes among the actions from index `from` on.
    pub(super) fn transitions_since(&self, from: usize) -> Vec<(State, State, Reason)> {
        let transitions = self.actions[from..].iter().filter_map(|(_, a)| match a {
            Action::Transition(t) => Some((t.from, t.to, t.reason)),
            _ => None,
        });
        transitions.collect()
    }

    /// Every state change.
    pub(super) fn transitions(&self) -> Vec<(State, State, Reason)> {
        self.transitions_since(0)
    }
}
