//! The holding secondary and its primary's claims (`secondary.rs`), on
//! the virtual clock (interval 100 ms, dead_after 300 ms, recover_after
//! 300 ms): what a refused give-back makes wait, and which claims count
//! towards a give-back.

use super::test_driver::{ms, settings, timing, Driver};
use super::*;
use crate::config::Mode;
use crate::proto::Kind;

const UP: u16 = Flags::PUBLIC_UP | Flags::PRIVATE_UP;

/// A secondary (recover_after `recover` ms) that took the addresses over
/// at 300 ms (nothing heard since its start) and then hears its primary's
/// heartbeats every 100 ms from 500 ms to `until`; its moves succeed at
/// once.
fn holding_then_hearing(recover: u64, until: u64) -> Driver {
    let mut d = Driver::new(settings(Role::Secondary, Mode::Managed, timing(100, 300, recover, 0)), 1);
    d.answer = true;
    d.feed(Input::Tick, 0);
    d.until(400);
    assert_eq!(d.e.state(), State::Holding);
    for at in (500..=until).step_by(100) {
        d.until(at);
        heard(&mut d, at, Kind::Heartbeat);
    }
    d
}

/// The primary's `kind` (its addresses free, so claims are its own) on
/// both networks at `at`.
fn heard(d: &mut Driver, at: u64, kind: Kind) {
    d.hear_both(at, kind, UP);
}

/// The give-back the operator's Test refused pauses the claim exchange:
/// the engine says it waits until then (the simulator lets a pair settle
/// only after what its nodes wait for).
#[test]
fn a_refused_give_back_is_waited_for() {
    let mut d = holding_then_hearing(300, 1_000);
    d.answer = false;
    heard(&mut d, 1_100, Kind::Claim);
    d.until(1_200);
    heard(&mut d, 1_200, Kind::Claim);
    assert_eq!(d.e.state(), State::Releasing);
    let id = d.e.moving().expect("the give-back").0;
    d.feed(Input::Moved(MoveReport { id, held: Held::All, vetoed: true }), 1_210);
    assert_eq!(d.e.state(), State::Holding);
    let pause = d.e.settings().timing.veto_pause();
    assert!(pause > ms(300), "longer than the retry of a failed removal");
    assert_eq!(d.e.waits_until(), Some(d.t0 + ms(1_210) + pause));
}

/// Claims heard before a change of state (here the put-back of an address
/// someone removed) count no longer: the give-back waits for claims of two
/// rounds (half an interval) after it. With recover_after = 0 (Apple's
/// immediate give-back) nothing else holds it.
#[test]
fn claims_before_a_change_of_state_count_no_longer() {
    let mut d = holding_then_hearing(0, 1_000);
    heard(&mut d, 1_100, Kind::Claim);
    d.feed(Input::Kernel(Held::None), 1_120);
    let put_back = d.transitions();
    assert!(put_back.contains(&(State::Holding, State::Acquiring, Reason::AddressLost)), "{put_back:?}");
    assert_eq!(d.e.state(), State::Holding);
    heard(&mut d, 1_160, Kind::Claim);
    assert_eq!(d.e.state(), State::Holding, "one round of claims since the change");
    d.until(1_210);
    heard(&mut d, 1_210, Kind::Claim);
    assert_eq!(d.e.state(), State::Watching, "given back after two");
}

/// A primary that claims for a moment and stands down (it declares the
/// addresses free) ends its run of claims: when it claims again, the
/// give-back waits for claims of two rounds from then.
#[test]
fn a_primary_that_stood_down_between_claims_starts_a_new_run() {
    let mut d = holding_then_hearing(0, 1_000);
    heard(&mut d, 1_100, Kind::Claim);
    for net in NetId::ALL {
        let order = Some(Order::of(1, 1_120 * 2 + net.index() as u64));
        d.hear(1_120, net, Kind::Heartbeat, UP | Flags::ADDRESS_FREE, None, order);
    }
    assert_eq!(d.e.state(), State::Holding);
    heard(&mut d, 1_160, Kind::Claim);
    assert_eq!(d.e.state(), State::Holding, "one round of claims since it stood down");
    d.until(1_210);
    heard(&mut d, 1_210, Kind::Claim);
    assert_eq!(d.e.state(), State::Watching, "given back after two");
}

/// A secondary whose own checks fail does not take over from a primary
/// that declared the addresses free, and goes on watching the networks: a
/// silent one is still an anomaly to report.
#[test]
fn a_gated_secondary_still_reports_a_silent_network() {
    let mut d = Driver::new(settings(Role::Secondary, Mode::Managed, timing(100, 300, 300, 0)), 1);
    d.answer = true;
    d.feed(Input::Fitness { fit: false }, 0);
    for at in (0..=500).step_by(100) {
        d.until(at);
        heard(&mut d, at, Kind::Heartbeat);
    }
    // The primary's public link goes down: it says so on the private
    // network only, and declares the addresses free.
    for at in (600..=1_200).step_by(100) {
        d.until(at);
        let order = Some(Order::of(1, at * 2 + 1));
        let flags = Flags::PRIVATE_UP | Flags::ADDRESS_FREE;
        d.hear(at, NetId::Private, Kind::Heartbeat, flags, None, order);
    }
    assert!(!d.e.holding());
    assert!(d.transitions().iter().any(|t| t.1 == State::Anomaly(NetId::Public)), "{:?}", d.transitions());
}

/// What `status` says of a watching secondary whose primary is silent on
/// both networks and that does not take over (`primary-silent`): why, in
/// each case; and nothing for a primary, a node that holds the addresses
/// or moves them, or one that still hears its primary on one network.
#[test]
fn held_off_says_why_the_takeover_does_not_come() {
    use super::test_driver::Driver;
    // A secondary that heard its primary last at 0 (takeover probe `probe`
    // ms; its moves answered at once or not), looked at `at` ms after
    // `setup`.
    fn held_off(probe: u64, answer: bool, at: u64, setup: fn(&mut Driver)) -> Option<&'static str> {
        let mut d = Driver::new(settings(Role::Secondary, Mode::Managed, timing(100, 300, 300, probe)), 1);
        d.answer = answer;
        d.feed(Input::Tick, 0);
        heard(&mut d, 0, Kind::Heartbeat);
        setup(&mut d);
        d.until(at);
        d.e.held_off(d.t0 + ms(at)).map(|(_, why)| why)
    }
    let nothing: fn(&mut Driver) = |_| {};
    let unfit: fn(&mut Driver) = |d| {
        d.feed(Input::Fitness { fit: false }, 10);
    };
    let own_checks = "this node's own service checks fail (check_gates_takeover)";
    assert_eq!(held_off(0, false, 400, unfit), Some(own_checks));
    let rival: fn(&mut Driver) = |d| {
        let flags = Flags(UP | Flags::HOLDING);
        d.feed(Input::SameRole { flags, outranks: true }, 390);
    };
    let rival_serves = "another secondary of this pair serves or outranks this one";
    assert_eq!(held_off(0, false, 400, rival), Some(rival_serves));
    let probing = "probing whether another host answers for the addresses";
    assert_eq!(held_off(20, false, 400, nothing), Some(probing));
    let answered: fn(&mut Driver) = |d| {
        d.until(300);
        let (_, id) = *d.probes().last().expect("a probe");
        d.feed(Input::Probed { id, free: Some(false) }, 310);
    };
    let told = "another host answers for the addresses (probed again every dead_after)";
    assert_eq!(held_off(20, false, 400, answered), Some(told));
    // Frozen from 0 to 400: settling, nothing decided yet.
    let stalled: fn(&mut Driver) = |d| {
        d.feed(Input::Tick, 400);
    };
    assert_eq!(held_off(0, false, 400, stalled), Some("the takeover is being decided"));
    assert_eq!(held_off(0, false, 400, nothing), None, "moving");
    assert_eq!(held_off(0, true, 400, nothing), None, "holding");
    // Heard on the private network at 20 ms: not silent there until 320.
    let private_later: fn(&mut Driver) = |d| {
        d.hear(20, NetId::Private, Kind::Heartbeat, UP, None, Some(Order::of(1, 41)));
    };
    assert_eq!(held_off(0, false, 310, private_later), None, "heard on the private network");
    let mut p = Driver::new(settings(Role::Primary, Mode::Managed, timing(100, 300, 300, 0)), 1);
    p.feed(Input::Tick, 0);
    p.until(400);
    assert_eq!(p.e.held_off(p.t0 + ms(400)), None, "a primary");
}
