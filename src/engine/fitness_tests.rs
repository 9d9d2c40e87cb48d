//! docs/design.md §9's table on the virtual clock: the addresses move only towards a
//! node whose service checks pass.

use super::*;
use crate::config::{Failback, Mode};
use crate::proto::Kind;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Node {
    e: Engine,
    t0: Instant,
    out: Vec<Action>,
    seq: u64,
}

const ALIVE: u16 = Flags::PUBLIC_UP | Flags::PRIVATE_UP;

impl Node {
    fn new(role: Role) -> Node {
        let s = Settings {
            role,
            mode: Mode::Managed,
            failback: Failback::Auto,
            timing: Timing {
                interval: ms(100),
                dead_after: ms(300),
                recover_after: ms(500),
                startup_grace: Duration::ZERO,
                takeover_probe: Duration::ZERO,
            },
            gates_takeover: true,
        };
        let t0 = Instant::now();
        let mut n = Node { e: Engine::new(s, t0, 9000), t0, out: vec![], seq: 0 };
        n.at(0, Input::Tick);
        n
    }

    /// Steps; moves complete at once.
    fn at(&mut self, t: u64, input: Input) {
        let mut queue = vec![input];
        while let Some(i) = queue.pop() {
            for a in self.e.step(i, self.t0 + ms(t)) {
                if let Action::Move { id, dir, .. } = a {
                    let held = if dir == Direction::Acquire { Held::All } else { Held::None };
                    queue.push(Input::Moved(MoveReport { id, held, vetoed: false }));
                }
                self.out.push(a);
            }
        }
    }

    fn hear(&mut self, t: u64, kind: Kind, flags: u16, claim: ClaimId) {
        for net in NetId::ALL {
            self.seq += 1;
            let order = Some(Order::of(1, self.seq));
            self.at(t, Input::Heard { net, kind, flags: Flags(flags), claim: Some(claim), order });
        }
    }

    fn notified(&self, n: &Notice) -> usize {
        self.out.iter().filter(|a| **a == Action::Notify(n.clone())).count()
    }
}

fn active_primary() -> Node {
    let mut p = Node::new(Role::Primary);
    let claim = p.e.claim_id();
    p.hear(10, Kind::Released, ALIVE, claim);
    assert_eq!(p.e.state(), State::Active);
    p
}

#[test]
fn an_unfit_primary_hands_over_to_a_fit_secondary_and_claims_back_when_fit() {
    let mut p = active_primary();
    p.hear(100, Kind::Status, ALIVE, ClaimId(0));
    p.at(200, Input::Fitness { fit: false });
    assert_eq!(p.e.state(), State::Unfit);
    let f = p.e.flags(p.t0 + ms(200));
    assert!(f.has(Flags::ADDRESS_FREE) && f.has(Flags::UNFIT) && !f.has(Flags::HOLDING));
    // Fit again: the claim waits for recover_after of passing checks.
    for t in (300..=1000).step_by(100) {
        p.hear(t, Kind::Status, ALIVE | Flags::HOLDING, ClaimId(0));
        if t == 400 {
            p.at(t, Input::Fitness { fit: true });
        }
        p.at(t, Input::Tick);
        let claiming = p.e.state() == State::Claiming;
        assert_eq!(claiming, t >= 900, "at {t}: {}", p.e.state());
    }
}

#[test]
fn an_unfit_primary_keeps_serving_without_a_fit_standby_and_says_so_once() {
    let mut p = active_primary();
    p.hear(100, Kind::Status, ALIVE | Flags::UNFIT, ClaimId(0));
    p.at(200, Input::Fitness { fit: false });
    for t in (300..=900).step_by(100) {
        p.hear(t, Kind::Status, ALIVE | Flags::UNFIT, ClaimId(0));
    }
    assert_eq!(p.e.state(), State::Active);
    assert_eq!(p.notified(&Notice::NoFitStandby), 1);
    assert_eq!(p.notified(&Notice::PeerFitness { fit: false }), 1);
}

#[test]
fn the_secondary_takes_over_at_once_from_an_unfit_primary() {
    let mut s = Node::new(Role::Secondary);
    s.hear(0, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    s.hear(100, Kind::Heartbeat, ALIVE | Flags::ADDRESS_FREE | Flags::UNFIT, ClaimId(0));
    assert_eq!(s.e.state(), State::Holding);
    let took = s.out.iter().any(|a| matches!(a, Action::Move { reason: Reason::ServiceCheckFailed, .. }));
    assert!(took, "{:?}", s.out);
}

#[test]
fn an_unfit_secondary_does_not_take_over_until_its_checks_pass() {
    let mut s = Node::new(Role::Secondary);
    s.hear(0, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    s.at(50, Input::Fitness { fit: false });
    for t in (100..=1000).step_by(50) {
        s.at(t, Input::Tick);
    }
    assert_ne!(s.e.state(), State::Holding, "the primary is gone but our checks fail");
    assert_eq!(s.notified(&Notice::TakeoverGated), 1);
    s.at(1010, Input::Fitness { fit: true });
    assert_eq!(s.e.state(), State::Holding);
}

#[test]
fn an_unfit_primary_stops_claiming_from_a_fit_secondary() {
    let mut p = Node::new(Role::Primary);
    assert_eq!(p.e.state(), State::Claiming);
    p.at(10, Input::Fitness { fit: false });
    p.hear(50, Kind::Status, ALIVE | Flags::HOLDING, ClaimId(0));
    assert_eq!(p.e.state(), State::Unfit);
    let claims_after = p
        .out
        .iter()
        .rev()
        .take_while(|a| !matches!(a, Action::Transition(_)))
        .any(|a| matches!(a, Action::SendClaim { .. }));
    assert!(!claims_after);
}

/// A primary that starts unfit makes no claim (the secondary would give
/// the addresses up only to have them back), nor does one that starts
/// with its public link down (it declares them free at once).
#[test]
fn a_primary_that_starts_unfit_or_cut_off_makes_no_claim() {
    use super::test_driver::{settings, timing, Driver};
    let starts = [
        (Input::Fitness { fit: false }, State::Unfit, Reason::ServiceCheckFailed),
        (Input::Link { net: NetId::Public, up: false }, State::PublicDown, Reason::OwnPublicLinkDown),
    ];
    for (first, to, reason) in starts {
        let mut d = Driver::new(settings(Role::Primary, Mode::Managed, timing(100, 300, 500, 0)), 1);
        d.feed(first, 0);
        d.until(250);
        assert_eq!(d.transitions(), vec![(State::Starting, to, reason)]);
        assert!(!d.actions.iter().any(|(_, a)| matches!(a, Action::SendClaim { .. })), "{to:?}");
    }
}

/// An unfit primary claims the addresses back dead_after after its
/// secondary fell silent: serving unfit is better than nobody.
#[test]
fn an_unfit_primary_claims_when_its_secondary_is_lost() {
    use super::test_driver::{settings, timing, Driver};
    let mut d = Driver::new(settings(Role::Primary, Mode::Managed, timing(100, 300, 500, 0)), 1);
    d.answer = true;
    d.feed(Input::Fitness { fit: false }, 0);
    // The secondary, fit, holds the addresses and is heard until 1 s.
    for at in (0..=1_000).step_by(100) {
        d.until(at);
        for net in NetId::ALL {
            let order = Some(Order::of(1, at * 2 + net.index() as u64));
            d.hear(at, net, Kind::Status, ALIVE | Flags::HOLDING, Some(ClaimId(0)), order);
        }
    }
    assert_eq!(d.e.state(), State::Unfit);
    d.until(2_000);
    let claimed = d.actions.iter().find_map(|(at, a)| match a {
        Action::Transition(t) if t.from == State::Unfit => Some((*at, t.to, t.reason)),
        _ => None,
    });
    assert_eq!(claimed, Some((1_300, State::Claiming, Reason::PeerLost)));
}

/// A primary whose public link is back claims the addresses after
/// recover_after; an unfit one first waits to hear whether the secondary
/// is fit (then it leaves them there), at most dead_after.
#[test]
fn a_primary_whose_public_link_is_back_claims_after_recover_after_and_unfit_hears_the_secondary_first() {
    use super::test_driver::{settings, timing, Driver};
    // recover_after (100 ms) shorter than dead_after (300 ms).
    let cases = [
        ("fit, the secondary silent", true, false, (1_150, State::Claiming, Reason::NetworkBack)),
        ("unfit, the secondary silent", false, false, (1_350, State::Claiming, Reason::NetworkBack)),
        ("unfit, the secondary fit", false, true, (1_150, State::Unfit, Reason::ServiceCheckFailed)),
    ];
    for (what, fit, heard, expected) in cases {
        let mut d = Driver::new(settings(Role::Primary, Mode::Managed, timing(100, 300, 100, 0)), 1);
        d.answer = true;
        d.feed(Input::Link { net: NetId::Public, up: false }, 0);
        d.feed(Input::Fitness { fit }, 10);
        d.until(999);
        assert_eq!(d.e.state(), State::PublicDown, "{what}");
        // Back between two of the primary's sends: it acts at the
        // instant, not at its next send.
        d.feed(Input::Link { net: NetId::Public, up: true }, 1_050);
        for at in (1_100..=2_000).step_by(100) {
            d.until(at);
            if heard {
                for net in NetId::ALL {
                    let order = Some(Order::of(1, at * 2 + net.index() as u64));
                    d.hear(at, net, Kind::Status, ALIVE, Some(ClaimId(0)), order);
                }
            }
        }
        let left = d.actions.iter().find_map(|(at, a)| match a {
            Action::Transition(t) if t.from == State::PublicDown => Some((*at, t.to, t.reason)),
            _ => None,
        });
        assert_eq!(left, Some(expected), "{what}");
    }
}
