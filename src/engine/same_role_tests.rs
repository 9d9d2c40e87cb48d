//! Two nodes of one pair with the same role (issue 16): a primary that
//! hears another primary does not add the addresses, and the operator is
//! told at most once an hour. On a virtual clock, nothing sleeps.

use super::*;
use crate::config::{Failback, Mode};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Drive {
    e: Engine,
    t0: Instant,
    actions: Vec<(u64, Action)>,
}

impl Drive {
    fn new(role: Role) -> Drive {
        let s = Settings {
            role,
            mode: Mode::Managed,
            failback: Failback::Auto,
            timing: Timing {
                interval: ms(200),
                dead_after: ms(600),
                recover_after: ms(600),
                startup_grace: ms(0),
                takeover_probe: ms(20),
            },
            gates_takeover: true,
        };
        let t0 = Instant::now();
        let mut d = Drive { e: Engine::new(s, t0, 1000), t0, actions: Vec::new() };
        d.feed(Input::Tick, 0);
        d
    }

    /// Steps the engine; moves succeed at once, as far as the kernel goes.
    fn feed(&mut self, input: Input, at: u64) {
        for a in self.e.step(input, self.t0 + ms(at)) {
            let done = match &a {
                Action::Move { id, dir, .. } => {
                    let held = if *dir == Direction::Acquire { Held::All } else { Held::None };
                    Some(Input::Moved(MoveReport { id: *id, held, vetoed: false }))
                }
                _ => None,
            };
            self.actions.push((at, a));
            if let Some(d) = done {
                self.feed(d, at);
            }
        }
    }

    /// Fires every deadline up to `t`, as the monitor's recv_timeout would.
    fn until(&mut self, t: u64) {
        while let Some(d) = self.e.next_deadline() {
            let d = d.duration_since(self.t0).as_millis() as u64;
            if d > t {
                return;
            }
            self.feed(Input::Tick, d);
        }
    }

    /// Another primary's datagrams every 200 ms in `[from, to)`.
    fn rival(&mut self, from: u64, to: u64) {
        for t in (from..to).step_by(200) {
            self.until(t);
            self.feed(Input::SameRole { holding: false, elder: true }, t);
        }
        self.until(to);
    }

    fn count(&self, pred: impl Fn(&Action) -> bool) -> usize {
        self.actions.iter().filter(|(_, a)| pred(a)).count()
    }

    fn acquired(&self) -> usize {
        self.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. }))
    }

    fn notices(&self) -> Vec<(u64, bool)> {
        let list = self.actions.iter().filter_map(|(at, a)| match a {
            Action::Notify(Notice::SameRole { holding }) => Some((*at, *holding)),
            _ => None,
        });
        list.collect()
    }
}

/// Two primaries started together: each hears the other before its probe
/// is due, neither probes nor adds the addresses, and each says so once.
/// When the other falls silent, the claim goes on as usual.
#[test]
fn a_primary_that_hears_another_primary_does_not_acquire() {
    let mut d = Drive::new(Role::Primary);
    assert_eq!(d.e.state(), State::Claiming);
    d.rival(100, 5_000);
    assert_eq!(d.e.state(), State::Claiming);
    assert_eq!(d.count(|a| matches!(a, Action::Probe { .. })), 0, "probed while another primary claims");
    assert_eq!(d.acquired(), 0);
    assert_eq!(d.notices(), vec![(100, false)]);
    // The other primary is gone (stopped, or its role corrected).
    d.until(6_000);
    assert_eq!(d.count(|a| matches!(a, Action::Probe { .. })), 1);
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 6_000);
    assert_eq!(d.e.state(), State::Active);
}

/// The other primary is first heard while our probe is out: a "free"
/// answer does not make us add the addresses beside it.
#[test]
fn a_probe_answered_free_while_another_primary_is_heard_does_not_acquire() {
    let mut d = Drive::new(Role::Primary);
    d.until(700);
    assert_eq!(d.count(|a| matches!(a, Action::Probe { .. })), 1);
    d.feed(Input::SameRole { holding: false, elder: true }, 700);
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 750);
    assert_eq!(d.e.state(), State::Claiming);
    assert_eq!(d.acquired(), 0);
    // A `released` from a secondary does not either.
    let released = Input::Heard {
        net: NetId::Private,
        kind: crate::proto::Kind::Released,
        flags: Flags(0),
        claim: None,
        order: None,
    };
    d.feed(released, 800);
    assert_eq!((d.e.state(), d.acquired()), (State::Claiming, 0));
}

/// A primary that serves keeps its addresses when a second primary
/// appears (that one holds off), and says it holds them. Repeated, the
/// notice comes at most once an hour.
#[test]
fn a_serving_primary_keeps_its_addresses_and_is_told_once_an_hour() {
    let mut d = Drive::new(Role::Primary);
    d.until(700);
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 700);
    assert_eq!(d.e.state(), State::Active);
    d.rival(1_000, 3_000);
    assert_eq!(d.e.state(), State::Active);
    assert_eq!(d.count(|a| matches!(a, Action::Move { dir: Direction::Release, .. })), 0);
    d.rival(600_000, 601_000);
    d.rival(3_601_000, 3_601_200);
    assert_eq!(d.notices(), vec![(1_000, true), (3_601_000, true)]);
}

/// Two secondaries: told, and nothing else changes in the engine here
/// (the takeover probe keeps them off an address another host answers for).
#[test]
fn a_secondary_that_hears_another_secondary_is_told() {
    let mut d = Drive::new(Role::Secondary);
    d.feed(Input::SameRole { holding: false, elder: true }, 100);
    d.feed(Input::SameRole { holding: false, elder: true }, 300);
    assert_eq!(d.notices(), vec![(100, false)]);
}

/// Two secondaries that both took the addresses (they started together and
/// each probe found them free): the younger gives way, the elder keeps
/// them; a holder that hears a younger rival keeps them too.
#[test]
fn of_two_holding_secondaries_the_younger_gives_way() {
    for (elder, gives_way) in [(true, true), (false, false)] {
        let mut d = Drive::new(Role::Secondary);
        d.until(700);
        // No primary: the probe is answered by nobody, the addresses are ours.
        d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 700);
        assert_eq!(d.e.state(), State::Holding);
        d.feed(Input::SameRole { holding: true, elder }, 800);
        let released = d.actions.iter().any(|(_, a)| {
            matches!(a, Action::Move { dir: Direction::Release, reason: Reason::Conflict, .. })
        });
        assert_eq!(released, gives_way, "elder rival {elder}");
        assert_eq!(d.e.holding(), !gives_way);
    }
}
