//! Two nodes of one pair with the same role: the operator is told at most
//! once an hour, and the tie is broken so that exactly one serves: the one
//! holding the addresses keeps them, otherwise the one that outranks (lower
//! sender id) takes them. On a virtual clock, nothing sleeps.

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

    /// Another node's datagrams every 200 ms in `[from, to)`.
    fn rival(&mut self, from: u64, to: u64, flags: Flags, outranks: bool) {
        for t in (from..to).step_by(200) {
            self.until(t);
            self.feed(Input::SameRole { flags, outranks }, t);
        }
        self.until(to);
    }

    fn count(&self, pred: impl Fn(&Action) -> bool) -> usize {
        self.actions.iter().filter(|(_, a)| pred(a)).count()
    }

    fn acquired(&self) -> usize {
        self.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. }))
    }

    fn released_for_conflict(&self) -> usize {
        self.count(|a| matches!(a, Action::Move { dir: Direction::Release, reason: Reason::Conflict, .. }))
    }

    fn probes(&self) -> usize {
        self.count(|a| matches!(a, Action::Probe { .. }))
    }

    fn notices(&self) -> Vec<(u64, bool)> {
        let list = self.actions.iter().filter_map(|(at, a)| match a {
            Action::Notify(Notice::SameRole { holding }) => Some((*at, *holding)),
            _ => None,
        });
        list.collect()
    }
}

/// A rival that could serve, holding or not.
fn able(holding: bool) -> Flags {
    Flags(Flags::PUBLIC_UP | Flags::PRIVATE_UP).with(Flags::HOLDING, holding)
}

/// Two primaries started together (a careless copy of the primary's file,
/// a power loss): the outranked one neither probes nor adds the addresses
/// while it hears the other, and says so once; when the other falls
/// silent, its claim goes on as usual.
#[test]
fn an_outranked_primary_stands_by_while_it_hears_the_other() {
    let mut d = Drive::new(Role::Primary);
    assert_eq!(d.e.state(), State::Claiming);
    d.rival(100, 5_000, able(false), true);
    assert_eq!(d.e.state(), State::Claiming);
    assert_eq!(d.probes(), 0, "probed while an outranking primary is heard");
    assert_eq!(d.acquired(), 0);
    assert_eq!(d.notices(), vec![(100, false)]);
    // The other primary is gone (stopped, or its role corrected): the
    // claim goes on when its silence reaches dead_after (last datagram at
    // 4,900), not at some later wake-up.
    d.until(6_000);
    assert_eq!(d.probes(), 1);
    let probed = d.actions.iter().find(|(_, a)| matches!(a, Action::Probe { .. })).map(|(t, _)| *t);
    assert_eq!(probed, Some(4_900 + 600));
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 6_000);
    assert_eq!(d.e.state(), State::Active);
}

/// The mirror of the test above: the primary that outranks serves though
/// it hears the other; nobody-serves is not an outcome of the tie.
#[test]
fn the_outranking_primary_serves_while_it_hears_the_other() {
    let mut d = Drive::new(Role::Primary);
    d.rival(100, 700, able(false), false);
    assert_eq!(d.probes(), 1, "the claim probes at dead_after as usual");
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 700);
    assert_eq!(d.e.state(), State::Active);
    d.rival(800, 3_000, able(false), false);
    assert_eq!((d.e.state(), d.released_for_conflict()), (State::Active, 0));
}

/// The one that holds keeps them, whatever the rank: a primary started
/// beside a serving one (that outranks nobody) does not take them.
#[test]
fn a_rival_that_holds_keeps_the_addresses_whatever_its_rank() {
    let mut d = Drive::new(Role::Primary);
    d.rival(100, 5_000, able(true), false);
    assert_eq!((d.probes(), d.acquired()), (0, 0));
    // And a free answer while it is heard changes nothing either.
    let mut d = Drive::new(Role::Primary);
    d.until(700);
    assert_eq!(d.probes(), 1);
    d.feed(Input::SameRole { flags: able(true), outranks: false }, 700);
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 750);
    assert_eq!((d.e.state(), d.acquired()), (State::Claiming, 0));
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

/// A serving primary keeps its addresses when an outranking primary that
/// holds nothing appears, and says it holds them. Repeated, the notice
/// comes at most once an hour.
#[test]
fn a_serving_primary_keeps_its_addresses_and_is_told_once_an_hour() {
    let mut d = Drive::new(Role::Primary);
    d.until(700);
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 700);
    assert_eq!(d.e.state(), State::Active);
    d.rival(1_000, 3_000, able(false), true);
    assert_eq!(d.e.state(), State::Active);
    assert_eq!(d.count(|a| matches!(a, Action::Move { dir: Direction::Release, .. })), 0);
    d.rival(600_000, 601_000, able(false), true);
    d.rival(3_601_000, 3_601_200, able(false), true);
    assert_eq!(d.notices(), vec![(1_000, true), (3_601_000, true)]);
}

/// A rival that could not serve (its checks fail, its public link is
/// down) holds nobody off, whatever its rank.
#[test]
fn a_rival_that_cannot_serve_blocks_nobody() {
    for flags in [Flags(Flags::PRIVATE_UP), Flags(Flags::PUBLIC_UP | Flags::UNFIT)] {
        let mut d = Drive::new(Role::Primary);
        d.rival(100, 700, flags, true);
        assert_eq!(d.probes(), 1, "{flags:?}");
        let mut d = Drive::new(Role::Secondary);
        d.rival(100, 700, flags, true);
        assert_eq!(d.probes(), 1, "{flags:?}");
    }
}

/// Two secondaries and no primary: only the one that outranks probes and
/// takes over; the other stands by while it hears it, and takes over once
/// it falls silent.
#[test]
fn of_two_secondaries_only_the_outranking_one_takes_over() {
    let mut d = Drive::new(Role::Secondary);
    d.rival(100, 700, able(false), false);
    assert_eq!(d.probes(), 1);
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 700);
    assert_eq!(d.e.state(), State::Holding);

    let mut d = Drive::new(Role::Secondary);
    d.rival(100, 3_000, able(false), true);
    assert_eq!((d.probes(), d.acquired()), (0, 0), "an outranked secondary took over");
    assert_eq!(d.notices(), vec![(100, false)]);
    // The other one holds them now: still nothing here.
    d.rival(3_000, 5_000, able(true), true);
    assert_eq!((d.probes(), d.acquired()), (0, 0));
    // It is gone: silence counts, and this one takes over.
    d.until(6_000);
    assert_eq!(d.probes(), 1);
}

/// Two nodes of one role that both took the addresses (each probe found
/// them free before the other had them): the outranked one gives way at
/// once, the other keeps them. Both roles.
#[test]
fn of_two_holders_the_outranked_one_gives_way() {
    for role in [Role::Primary, Role::Secondary] {
        for (outranks, gives_way) in [(true, true), (false, false)] {
            let mut d = Drive::new(role);
            d.until(700);
            // Nobody answered the probe: the addresses are ours.
            d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(true) }, 700);
            assert!(d.e.holding());
            d.feed(Input::SameRole { flags: able(true), outranks }, 800);
            assert_eq!(d.released_for_conflict() == 1, gives_way, "{role:?}, rival outranks {outranks}");
            assert_eq!(d.e.holding(), !gives_way);
            if role == Role::Primary && gives_way {
                // Claims again, and waits while the other holds them.
                d.rival(1_000, 4_000, able(true), true);
                assert_eq!((d.e.state(), d.acquired()), (State::Claiming, 1));
            }
        }
    }
}
