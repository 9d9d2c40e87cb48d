//! The primary's rules of `primary.rs` that concern what it hears of the
//! secondary, on the virtual clock (interval 100 ms, dead_after 300 ms):
//! when it wakes for the secondary's silence, what proves a conflict, and
//! how an answered probe of a claim is told.

use super::test_driver::{settings, timing, Driver};
use super::*;
use crate::config::Mode;
use crate::proto::Kind;

const UP: u16 = Flags::PUBLIC_UP | Flags::PRIVATE_UP;

/// A primary whose moves succeed at once, started at 0.
fn primary() -> Driver {
    let mut d = Driver::new(settings(Role::Primary, Mode::Managed, timing(100, 300, 300, 0)), 1);
    d.answer = true;
    d.feed(Input::Tick, 0);
    d
}

/// The secondary's status with `flags` on both networks at `at`.
fn status(d: &mut Driver, at: u64, flags: u16) {
    d.hear_both(at, Kind::Status, flags);
}

/// A primary that probed the addresses free at start and holds them.
fn active() -> Driver {
    let mut d = primary();
    d.until(1_000);
    let id = last_probe(&d.actions);
    d.feed(Input::Probed { id, free: Some(true) }, 1_000);
    assert_eq!(d.e.state(), State::Active);
    d
}

/// The secondary's last status arrives between two of the primary's own
/// sends: what its silence decides happens at its deadline, not at the
/// primary's next send. An unfit primary claims the addresses dead_after
/// after it; "secondary no longer heard" is mailed after
/// `peer_alarm_after` (ten intervals here).
#[test]
fn the_secondarys_silence_is_acted_on_at_its_deadline() {
    let mut d = primary();
    d.feed(Input::Fitness { fit: false }, 0);
    for at in (0..=1_000).step_by(100) {
        d.until(at);
        status(&mut d, at, UP | Flags::HOLDING);
    }
    d.until(1_050);
    status(&mut d, 1_050, UP | Flags::HOLDING);
    d.until(3_000);
    let claimed = d.actions.iter().find_map(|(at, a)| match a {
        Action::Transition(t) if t.from == State::Unfit => Some((*at, t.to, t.reason)),
        _ => None,
    });
    assert_eq!(claimed, Some((1_350, State::Claiming, Reason::PeerLost)));
    let lost: Vec<u64> = d
        .notices()
        .into_iter()
        .filter(|(_, n)| matches!(n, Notice::PeerLost { .. }))
        .map(|(at, _)| at)
        .collect();
    assert_eq!(lost, vec![2_050]);
}

/// A status saying the secondary holds the addresses, sent before its
/// release, may arrive after we took them: only one newer than two
/// intervals after that proves both hold them.
#[test]
fn only_a_holding_status_two_intervals_after_the_takeover_is_a_conflict() {
    let mut d = active();
    d.until(1_050);
    status(&mut d, 1_050, UP | Flags::HOLDING);
    d.until(1_199);
    assert_eq!(d.e.state(), State::Active, "a late status is no conflict");
    d.until(1_250);
    status(&mut d, 1_250, UP | Flags::HOLDING);
    let left = d.actions.iter().find_map(|(at, a)| match a {
        Action::Transition(t) if t.from == State::Active => Some((*at, t.to, t.reason)),
        _ => None,
    });
    assert_eq!(left, Some((1_250, State::Releasing, Reason::Conflict)));
}

/// A probe of a claim that another host answers is mailed once per claim,
/// however often it is answered again.
#[test]
fn an_answered_claim_probe_is_told_once_per_claim() {
    let mut d = primary();
    d.until(1_000);
    assert_eq!(d.e.state(), State::Claiming);
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(false) }, 1_000);
    d.until(1_400);
    assert!(d.probes().len() >= 2, "probed again after dead_after: {:?}", d.probes());
    d.feed(Input::Probed { id: last_probe(&d.actions), free: Some(false) }, 1_400);
    let told = d.notices().into_iter().filter(|(_, n)| *n == Notice::ProbeAnswered).count();
    assert_eq!(told, 1);
    assert_eq!(d.e.state(), State::Claiming);
}

/// An unfit primary whose checks pass again claims the addresses back
/// recover_after later, at that instant (between two of its own sends).
#[test]
fn a_primary_fit_again_claims_recover_after_later_at_that_instant() {
    let mut d = primary();
    d.feed(Input::Fitness { fit: false }, 0);
    for at in (0..=1_000).step_by(100) {
        d.until(at);
        status(&mut d, at, UP | Flags::HOLDING);
    }
    d.feed(Input::Fitness { fit: true }, 1_050);
    for at in (1_100..=1_500).step_by(100) {
        d.until(at);
        status(&mut d, at, UP | Flags::HOLDING);
    }
    let claimed = d.actions.iter().find_map(|(at, a)| match a {
        Action::Transition(t) if t.from == State::Unfit => Some((*at, t.to, t.reason)),
        _ => None,
    });
    assert_eq!(claimed, Some((1_350, State::Claiming, Reason::ChecksPass)));
}

/// A claim the secondary does not answer while it is heard (it keeps the
/// addresses: failback = manual, its Test hook) is mailed once, after
/// recover_after and dead_after, at that instant.
#[test]
fn a_claim_the_secondary_ignores_is_told_when_it_is_overdue() {
    let mut d = primary();
    status(&mut d, 0, UP | Flags::HOLDING);
    d.feed(Input::Command(Command::Release), 50);
    assert_eq!(d.e.state(), State::Standby);
    for at in (100..=3_000).step_by(100) {
        d.until(at);
        status(&mut d, at, UP | Flags::HOLDING);
        if at == 1_000 {
            d.until(1_050);
            d.feed(Input::Command(Command::Takeover), 1_050);
            assert_eq!(d.e.state(), State::Claiming);
        }
    }
    let told: Vec<u64> =
        d.notices().into_iter().filter(|(_, n)| *n == Notice::PeerKeeps).map(|(at, _)| at).collect();
    assert_eq!(told, vec![1_650]);
}
