//! Issue 28: a move that keeps failing is retried at doubling intervals up
//! to `RETRY_CAP`, starting again from dead_after when a move succeeds or
//! the situation changes; and a probe's answer counts only for the probe
//! the engine waits for. On a virtual clock; moves are answered at once
//! with what the test says the kernel shows.

use super::test_driver::{settings, timing, Driver};
use super::*;
use crate::config::Mode;
use crate::proto::Kind;

const DEAD: u64 = 1_000;

/// A node of `role` (takeover_probe `probe` ms) started at t = 0, whose
/// moves are answered at once.
fn drive(role: Role, probe: u64) -> Driver {
    let mut d = Driver::new(settings(role, Mode::Managed, timing(250, DEAD, DEAD, probe)), 1000);
    d.answer = true;
    d.feed(Input::Tick, 0);
    d
}

/// What these tests say to and ask of the shared driver.
trait BackoffWords {
    /// The peer heard on both networks at `at`, echoing our claim.
    fn heard(&mut self, at: u64, kind: Kind, flags: u16);
    /// When each move of `dir` started.
    fn starts(&self, dir: Direction) -> Vec<u64>;
    /// The move mails.
    fn mails(&self) -> usize;
}

impl BackoffWords for Driver {
    fn heard(&mut self, at: u64, kind: Kind, flags: u16) {
        for net in NetId::ALL {
            let claim = Some(self.e.claim_id());
            self.hear(at, net, kind, flags, claim, None);
        }
    }

    fn starts(&self, dir: Direction) -> Vec<u64> {
        self.moves().iter().filter(|m| m.1 == dir).map(|m| m.0).collect()
    }

    fn mails(&self) -> usize {
        self.actions.iter().filter(|(_, a)| matches!(a, Action::Notify(Notice::Move { .. }))).count()
    }
}

fn gaps(times: &[u64]) -> Vec<u64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// A takeover that cannot succeed (the kernel refuses every address): the
/// attempts back off 1, 2, 4 ... dead_after, then stay at the cap.
#[test]
fn a_takeover_that_keeps_failing_backs_off_to_the_cap() {
    let mut d = drive(Role::Secondary, 0);
    d.after_acquire = Held::None;
    let cap = RETRY_CAP.as_millis() as u64;
    d.until(DEAD + 2 * 1023 * DEAD + 3 * cap);
    let tries = d.starts(Direction::Acquire);
    assert_eq!(tries[0], DEAD, "the first takeover at dead_after");
    let mut want: Vec<u64> = (0..10).map(|k| DEAD << k).collect();
    want.extend([cap; 4]);
    assert_eq!(gaps(&tries)[..want.len()], want[..], "{tries:?}");
    assert_eq!(d.e.state(), State::Failed);
    eprintln!("attempts in {} s: {}", (DEAD + 2 * 1023 * DEAD + 3 * cap) / 1000, tries.len());
}

/// A partial takeover (one address refused) is retried with the same
/// backoff, and a move that completes starts it again from dead_after.
#[test]
fn a_partial_takeover_backs_off_and_a_success_resets_it() {
    let mut d = drive(Role::Secondary, 0);
    d.after_acquire = Held::Some;
    d.until(16 * DEAD);
    let tries = d.starts(Direction::Acquire);
    assert_eq!(tries, vec![DEAD, 2 * DEAD, 4 * DEAD, 8 * DEAD, 16 * DEAD]);
    assert_eq!(d.e.state(), State::Holding);
    // The next try adds the missing address: the backoff starts again.
    d.after_acquire = Held::All;
    d.until(32 * DEAD);
    assert_eq!(d.starts(Direction::Acquire).len(), 6);
    // Someone removes an address by hand; the put-back fails: the retry
    // comes after dead_after, not after the 32 dead_afters the earlier
    // run had reached.
    d.after_acquire = Held::Some;
    d.feed(Input::Kernel(Held::Some), 40 * DEAD);
    d.until(45 * DEAD);
    let tries = d.starts(Direction::Acquire);
    assert_eq!(tries[6..], [40 * DEAD, 41 * DEAD, 43 * DEAD], "{tries:?}");
}

/// The situation changes (the primary is heard again, a link changes, an
/// operator command, a reload): the next failure waits dead_after again.
#[test]
fn a_change_of_situation_resets_the_backoff() {
    type Change = fn(&mut Driver, u64);
    let changes: [(&str, Change); 4] = [
        ("the primary heard again", |d, t| d.heard(t, Kind::Heartbeat, Flags::PUBLIC_UP | Flags::PRIVATE_UP)),
        ("a link", |d, t| {
            d.feed(Input::Link { net: NetId::Private, up: false }, t);
            d.feed(Input::Link { net: NetId::Private, up: true }, t);
        }),
        ("an operator command", |d, t| {
            d.feed(Input::Command(Command::Release), t);
        }),
        ("a reload", |d, t| {
            let settings = d.e.settings();
            d.feed(Input::Reload(Reload { settings, addresses_changed: false }), t);
        }),
    ];
    for (what, change) in changes {
        let mut d = drive(Role::Secondary, 0);
        d.after_acquire = Held::None;
        d.until(8 * DEAD);
        assert_eq!(d.starts(Direction::Acquire), vec![DEAD, 2 * DEAD, 4 * DEAD, 8 * DEAD], "{what}");
        change(&mut d, 8 * DEAD + 100);
        // Silent again from the change on: the takeover is due at once or
        // after dead_after, and its failure is retried after dead_after.
        d.until(30 * DEAD);
        let tries = d.starts(Direction::Acquire);
        assert!(tries.len() >= 6, "{what}: {tries:?}");
        assert_eq!(tries[5] - tries[4], DEAD, "{what}: {tries:?}");
    }
}

/// A removal that keeps failing (a secondary whose public link is down
/// cannot drop the addresses) backs off too.
#[test]
fn a_removal_that_keeps_failing_backs_off() {
    let mut d = drive(Role::Secondary, 0);
    d.until(DEAD);
    assert_eq!(d.e.state(), State::Holding);
    d.after_release = Held::All;
    d.feed(Input::Link { net: NetId::Public, up: false }, 2 * DEAD);
    d.until(40 * DEAD);
    let tries = d.starts(Direction::Release);
    assert_eq!(gaps(&tries), vec![DEAD, 2 * DEAD, 4 * DEAD, 8 * DEAD, 16 * DEAD], "{tries:?}");
    assert_eq!(d.e.state(), State::Holding);
    // Each failed removal is a move notice (the takeover's, then one per
    // try): how many are mailed is the mail limiter's business.
    assert_eq!(d.mails(), 1 + tries.len());
}

/// A removal that fails halfway puts back what it removed; that put-back
/// succeeding is no success of the removal: the removals still back off.
/// (An unfit primary handing over to a fit secondary, as in
/// `defect_tests::a_hand_over_that_fails_halfway_waits_before_it_is_tried_again`.)
#[test]
fn the_put_back_of_a_half_failed_removal_does_not_reset_the_backoff() {
    const ALIVE: u16 = Flags::PUBLIC_UP | Flags::PRIVATE_UP;
    let mut p = drive(Role::Primary, 0);
    p.heard(10, Kind::Status, ALIVE);
    p.until(20);
    assert_eq!(p.e.state(), State::Active);
    p.after_release = Held::Some;
    p.feed(Input::Fitness { fit: false }, 100);
    for t in (100..=20 * DEAD).step_by(250) {
        p.heard(t, Kind::Status, ALIVE);
        p.until(t);
    }
    let releases = p.starts(Direction::Release);
    assert_eq!(gaps(&releases), vec![DEAD, 2 * DEAD, 4 * DEAD, 8 * DEAD], "{releases:?}");
    // Each failed removal was followed by a put-back at once.
    let putbacks: Vec<u64> = p.moves().iter().filter(|m| m.2 == Reason::AcquireFailed).map(|m| m.0).collect();
    assert_eq!(putbacks, releases);
    assert_eq!(p.e.state(), State::Active);
}

/// Item 9: an answer to a probe the engine does not wait for (never asked,
/// answered already) decides nothing; the one it waits for does.
#[test]
fn a_stale_probe_answer_is_ignored() {
    // The secondary's takeover probe.
    let mut d = drive(Role::Secondary, 20);
    d.until(DEAD);
    let (_, id) = *d.probes().last().expect("a takeover probe");
    d.feed(Input::Probed { id: id + 1, free: Some(true) }, DEAD + 20);
    assert_eq!(d.e.state(), State::Starting, "an answer to a probe never made");
    assert!(d.moves().is_empty());
    d.feed(Input::Probed { id, free: Some(true) }, DEAD + 20);
    assert_eq!(d.e.state(), State::Holding);
    // The same answer again, later, changes nothing.
    d.feed(Input::Probed { id, free: Some(false) }, DEAD + 30);
    assert!(!d.actions.iter().any(|(_, a)| matches!(a, Action::Notify(Notice::TakeoverBlocked))));

    // The primary: a probe of an earlier claim does not answer the next.
    let mut p = drive(Role::Primary, 0);
    p.until(DEAD);
    assert_eq!(p.e.state(), State::Claiming);
    let (_, first) = *p.probes().last().expect("the claim's probe");
    // The public link goes and comes back: a new claim.
    p.feed(Input::Link { net: NetId::Public, up: false }, DEAD + 10);
    p.feed(Input::Link { net: NetId::Public, up: true }, DEAD + 20);
    p.until(2 * DEAD + 20);
    assert_eq!(p.e.state(), State::Claiming);
    p.feed(Input::Probed { id: first, free: Some(true) }, 2 * DEAD + 30);
    assert_eq!(p.e.state(), State::Claiming, "the earlier claim's probe answered this one");
    p.until(3 * DEAD + 20);
    let (_, second) = *p.probes().last().expect("the new claim's probe");
    assert!(second > first);
    p.feed(Input::Probed { id: second, free: Some(true) }, 3 * DEAD + 30);
    assert_eq!(p.e.state(), State::Active);
}

/// Item 9: a probe that could not be made (its thread did not start) is
/// answered at once with `None`. The secondary takes over on the silence
/// alone, as takeover_probe = 0 would; the primary claims on and probes
/// again after dead_after, without a mail.
#[test]
fn a_probe_that_could_not_be_made_is_answered_and_acted_on() {
    let mut d = drive(Role::Secondary, 20);
    d.until(DEAD);
    let (_, id) = *d.probes().last().expect("a takeover probe");
    d.feed(Input::Probed { id, free: None }, DEAD);
    assert_eq!(d.e.state(), State::Holding);
    let took = d.actions.iter().find_map(|(_, a)| match a {
        Action::Transition(t) if t.to == State::Acquiring => Some(t.detail.clone()),
        _ => None,
    });
    assert!(took.is_some_and(|t| t.contains("could not be probed")));

    let mut p = drive(Role::Primary, 0);
    p.until(DEAD);
    let (t, id) = *p.probes().last().expect("the claim's probe");
    assert_eq!(t, DEAD);
    p.feed(Input::Probed { id, free: None }, DEAD);
    assert_eq!(p.e.state(), State::Claiming);
    assert!(!p.actions.iter().any(|(_, a)| matches!(a, Action::Notify(_))), "nothing was answered");
    p.until(2 * DEAD);
    assert_eq!(p.probes().last().map(|p| p.0), Some(2 * DEAD), "probed again after dead_after");
}

/// Found by the simulator (seed 10211): an operator's `takeover` on the
/// primary repeats its claim every interval; a secondary whose removal
/// fails tried again at each one. It waits for its retry like any other.
#[test]
fn a_removal_asked_for_by_an_operators_claim_backs_off() {
    let mut d = drive(Role::Secondary, 0);
    d.until(DEAD);
    assert_eq!(d.e.state(), State::Holding);
    d.after_release = Held::All;
    let alive = Flags::PUBLIC_UP | Flags::PRIVATE_UP | Flags::MANUAL;
    // The primary claims with its operator's MANUAL flag every interval.
    for t in (2 * DEAD..20 * DEAD).step_by(250) {
        d.heard(t, Kind::Claim, alive);
        d.until(t);
    }
    let tries = d.starts(Direction::Release);
    assert!(tries.len() >= 3, "{tries:?}");
    let g = gaps(&tries);
    assert!(g.windows(2).all(|w| w[1] >= w[0]), "the retries do not back off: {tries:?}");
    assert!(g.iter().all(|&x| x >= DEAD), "a retry before dead_after: {tries:?}");
}

/// Found by the simulator (seeds 343179, 443224, 954727): the back-off
/// started afresh when the peer came back, but a retry already waiting
/// kept the time the long run had given it, so an address stayed off
/// every node for 2^n dead_afters after the change. A change of situation
/// brings the waiting retry to dead_after as well.
#[test]
fn a_change_of_situation_brings_a_waiting_retry_forward() {
    const ALIVE: u16 = Flags::PUBLIC_UP | Flags::PRIVATE_UP;
    let mut p = drive(Role::Primary, 0);
    p.heard(10, Kind::Status, ALIVE);
    p.until(20);
    assert_eq!(p.e.state(), State::Active);
    // An address goes, and putting it back keeps failing halfway.
    p.after_acquire = Held::Some;
    p.feed(Input::Kernel(Held::Some), 100);
    for t in (100..=16 * DEAD).step_by(250) {
        p.heard(t, Kind::Status, ALIVE);
        p.until(t);
    }
    let tries = p.starts(Direction::Acquire);
    assert_eq!(gaps(&tries[1..]), vec![DEAD, 2 * DEAD, 4 * DEAD, 8 * DEAD], "{tries:?}");
    // The next retry now waits 16 dead_afters. The secondary falls silent
    // and is heard again: whatever failed starts afresh, the waiting retry
    // included.
    let back = 18 * DEAD;
    p.until(back);
    for t in (back..=21 * DEAD).step_by(250) {
        p.heard(t, Kind::Status, ALIVE);
        p.until(t);
    }
    let tries = p.starts(Direction::Acquire);
    // tries[0] is the primary's own acquire after the claim.
    let next = tries[6];
    eprintln!("retry {} ms after the peer came back (was due at {} ms)", next - back, tries[5] + 16 * DEAD);
    assert_eq!(next, back + DEAD, "{tries:?}");
    assert_eq!(tries[7] - tries[6], DEAD, "the next failure waits dead_after: {tries:?}");
}
