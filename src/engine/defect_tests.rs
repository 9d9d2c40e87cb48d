//! Regression tests for the defects of issue 15, each on the virtual clock
//! with the engine driven by hand: every move stays in flight until the
//! test reports it, as the mover would.

use super::*;
use crate::config::{Failback, Mode};
use crate::proto::Kind;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Bare {
    e: Engine,
    t0: Instant,
    out: Vec<Action>,
}

impl Bare {
    fn new(role: Role, failback: Failback) -> Bare {
        Bare::with_recover(role, failback, 300)
    }

    fn with_recover(role: Role, failback: Failback, recover: u64) -> Bare {
        let s = Settings {
            role,
            mode: Mode::Managed,
            failback,
            timing: Timing {
                interval: ms(100),
                dead_after: ms(300),
                recover_after: ms(recover),
                startup_grace: Duration::ZERO,
                takeover_probe: Duration::ZERO,
            },
            gates_takeover: true,
        };
        let t0 = Instant::now();
        let mut b = Bare { e: Engine::new(s, t0, 5000), t0, out: vec![] };
        b.at(0, Input::Tick);
        b
    }

    fn at(&mut self, t: u64, input: Input) -> Vec<Action> {
        let a = self.e.step(input, self.t0 + ms(t));
        self.out.extend(a.clone());
        a
    }

    fn heard(&mut self, t: u64, kind: Kind, flags: u16, claim: ClaimId) -> Vec<Action> {
        let mut all = vec![];
        for net in NetId::ALL {
            let order = Some(Order::of(1, t * 10 + net.index() as u64));
            all.extend(
                self.at(t, Input::Heard { net, kind, flags: Flags(flags), claim: Some(claim), order }),
            );
        }
        all
    }

    /// The move the engine waits for.
    fn moving(&self) -> MoveId {
        self.e.moving().expect("a move in progress").0
    }

    fn report(&mut self, t: u64, held: Held) -> Vec<Action> {
        let id = self.moving();
        self.at(t, Input::Moved(MoveReport { id, held, vetoed: false }))
    }

    /// Ticks every 10 ms from `from` to `to`, heartbeats from nobody.
    fn silence(&mut self, from: u64, to: u64) {
        for t in (from..=to).step_by(10) {
            self.at(t, Input::Tick);
        }
    }
}

fn sent(actions: &[Action], pred: impl Fn(&Action) -> bool) -> bool {
    actions.iter().any(pred)
}

const ALIVE: u16 = Flags::PUBLIC_UP | Flags::PRIVATE_UP;

/// Defect 1: after `release` on a secondary with manual failback, a later
/// death of the primary is taken over (it was not: standby only ended on a
/// claim).
#[test]
fn after_release_on_the_secondary_the_next_death_is_taken_over() {
    let mut s = Bare::new(Role::Secondary, Failback::Manual);
    for t in (0..=500).step_by(100) {
        s.heard(t, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    }
    s.silence(510, 900);
    assert_eq!(s.e.state(), State::Acquiring);
    s.report(900, Held::All);
    assert_eq!(s.e.state(), State::Holding);
    // The primary is back and claims; manual failback keeps the addresses.
    for t in (1000..=1500).step_by(100) {
        s.heard(t, Kind::Claim, ALIVE, ClaimId(7001));
    }
    assert_eq!(s.e.state(), State::Holding);
    s.at(1510, Input::Command(Command::Release));
    assert_eq!(s.e.state(), State::Releasing);
    let done = s.report(1520, Held::None);
    assert!(sent(&done, |a| *a == Action::SendReleased { id: ClaimId(7001) }), "{done:?}");
    assert_eq!(s.e.state(), State::Watching);
    // The primary serves, then dies long after any claim was in flight.
    for t in (1600..=3000).step_by(100) {
        s.heard(t, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    }
    s.silence(3010, 3400);
    assert_eq!(s.e.state(), State::Acquiring, "the secondary must take over again");
}

/// Defect 1, the other side: `release` on a secondary whose primary is not
/// heard would leave nobody serving: refused.
#[test]
fn release_on_the_secondary_is_refused_when_nobody_would_serve() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    s.silence(0, 400);
    s.report(400, Held::All);
    let a = s.at(500, Input::Command(Command::Release));
    assert!(sent(&a, |a| matches!(a, Action::Answer(Err(_)))), "{a:?}");
    assert_eq!(s.e.state(), State::Holding);
}

fn active_primary() -> Bare {
    let mut p = Bare::new(Role::Primary, Failback::Auto);
    assert_eq!(p.e.state(), State::Claiming);
    let claim = p.e.claim_id();
    p.heard(10, Kind::Released, 0, claim);
    assert_eq!(p.e.state(), State::Acquiring);
    p.report(20, Held::All);
    assert_eq!(p.e.state(), State::Active);
    p
}

/// Defect 2: a primary whose removal fails still holds: no goodbye, no
/// ADDRESS_FREE, retried; after a few attempts it stops without a goodbye.
#[test]
fn a_failed_removal_on_the_primary_sends_no_goodbye_and_declares_nothing_free() {
    let mut p = active_primary();
    p.at(100, Input::Shutdown);
    assert_eq!(p.e.state(), State::Releasing);
    let a = p.report(110, Held::All);
    assert!(!sent(&a, |a| *a == Action::SendGoodbye));
    assert_eq!(p.e.state(), State::Active);
    assert!(p.e.flags(p.t0 + ms(110)).has(Flags::HOLDING));
    assert!(!p.e.flags(p.t0 + ms(110)).has(Flags::ADDRESS_FREE));
    for k in 0..2 {
        p.silence(120 + k * 1000, 1100 + k * 1000);
        assert_eq!(p.e.state(), State::Releasing, "retry {k}");
        p.report(1110 + k * 1000, Held::Some);
    }
    assert_eq!(p.e.state(), State::Stopped);
    assert!(!p.out.contains(&Action::SendGoodbye), "no goodbye while holding");
    assert!(sent(&p.out, |a| *a == Action::Notify(Notice::StoppedHolding)));
    assert!(sent(&p.out, |a| *a == Action::Exit));
}

#[test]
fn a_failed_manual_release_on_the_primary_keeps_it_active() {
    let mut p = active_primary();
    p.at(100, Input::Command(Command::Release));
    p.report(110, Held::Some);
    // What was removed already is put back at once: the primary serves on.
    assert_eq!(p.e.state(), State::Acquiring);
    assert!(!p.e.flags(p.t0 + ms(110)).has(Flags::ADDRESS_FREE));
    p.report(115, Held::All);
    assert_eq!(p.e.state(), State::Active);
    let f = p.e.flags(p.t0 + ms(110));
    assert!(f.has(Flags::HOLDING) && !f.has(Flags::ADDRESS_FREE));
    assert!(sent(&p.out, |a| matches!(a, Action::Notify(Notice::Move { outcome: Outcome::Failed, .. }))));
}

/// Defect 3: a reload during a move waits for it; a report for another
/// move is not taken as the result of the one in progress.
#[test]
fn a_reload_during_a_move_waits_and_a_stale_report_is_ignored() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    s.silence(0, 400);
    assert_eq!(s.e.state(), State::Acquiring);
    let id = s.moving();
    let mut settings = s.e.settings();
    settings.timing.dead_after = ms(500);
    let a = s.at(410, Input::Reload(Reload { settings, addresses_changed: true }));
    assert!(!sent(&a, |a| matches!(a, Action::Reconfigure | Action::Move { .. })), "{a:?}");
    // A report that is not the move's own changes nothing.
    s.at(420, Input::Moved(MoveReport { id: MoveId(id.0 + 40), held: Held::None, vetoed: false }));
    assert_eq!(s.e.state(), State::Acquiring);
    let a = s.report(430, Held::All);
    let order: Vec<&Action> =
        a.iter().filter(|a| matches!(a, Action::Reconfigure | Action::Move { .. })).collect();
    assert!(matches!(order[..], [Action::Reconfigure, Action::Move { reason: Reason::Reload, .. }]), "{a:?}");
    assert_eq!(s.e.settings().timing.dead_after, ms(500));
}

/// Defect 5: a status the secondary sent before it saw the claim (it
/// echoes an older claim) does not complete the claim.
#[test]
fn a_status_from_before_the_claim_does_not_complete_it() {
    let mut p = Bare::new(Role::Primary, Failback::Auto);
    let claim = p.e.claim_id();
    p.heard(10, Kind::Status, ALIVE, ClaimId(claim.0 - 1));
    p.at(20, Input::Tick);
    assert_eq!(p.e.state(), State::Claiming, "an old status must not answer the claim");
    p.heard(30, Kind::Released, 0, ClaimId(claim.0 - 1));
    assert_eq!(p.e.state(), State::Claiming, "a released for another claim neither");
    p.heard(40, Kind::Status, ALIVE, claim);
    p.at(50, Input::Tick);
    assert_eq!(p.e.state(), State::Acquiring);
}

/// Found by the simulator: a datagram overtaken by a newer one on the
/// other network must not bring back what it said (here: ADDRESS_FREE of
/// a primary that has since claimed its addresses back).
#[test]
fn an_overtaken_datagram_only_proves_life() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    let free = Flags::ADDRESS_FREE | Flags::MANUAL | ALIVE;
    let newer = Input::Heard {
        net: NetId::Private,
        kind: Kind::Heartbeat,
        flags: Flags(ALIVE | Flags::HOLDING),
        claim: Some(ClaimId(0)),
        order: Some(Order::of(1, 20)),
    };
    s.at(10, newer);
    let older = Input::Heard {
        net: NetId::Public,
        kind: Kind::Heartbeat,
        flags: Flags(free),
        claim: Some(ClaimId(0)),
        order: Some(Order::of(1, 19)),
    };
    s.at(11, older);
    assert_ne!(s.e.state(), State::Acquiring);
    assert!(!s.e.peer_flags().unwrap().has(Flags::ADDRESS_FREE));
}

/// The two readers race: a heartbeat sent on the public network just before
/// its private copy is often delivered after it. Overtaken or not, it shows
/// that the public network carries heartbeats (found in namespaces: a fresh
/// secondary saw the public network "silent" while it was fine).
#[test]
fn heartbeats_overtaken_every_time_still_count_as_heard() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    for k in 0..10u64 {
        let t = k * 100;
        let hb = |net, seq| Input::Heard {
            net,
            kind: Kind::Heartbeat,
            flags: Flags(ALIVE | Flags::HOLDING),
            claim: Some(ClaimId(0)),
            order: Some(Order::of(1, seq)),
        };
        s.at(t, hb(NetId::Private, 2 * k + 2));
        s.at(t, hb(NetId::Public, 2 * k + 1));
    }
    assert_eq!(s.e.state(), State::Watching);
    assert!(!s.out.iter().any(|a| matches!(a, Action::Notify(Notice::Anomaly { .. }))), "{:?}", s.out);
}

/// But a datagram overtaken by the peer's goodbye does not bring it back.
#[test]
fn nothing_older_than_a_goodbye_revives_the_primary() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    s.heard(0, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    let bye = Input::Heard {
        net: NetId::Private,
        kind: Kind::Goodbye,
        flags: Flags(ALIVE),
        claim: Some(ClaimId(0)),
        order: Some(Order::of(1, 50)),
    };
    s.at(10, bye);
    let late = Input::Heard {
        net: NetId::Public,
        kind: Kind::Heartbeat,
        flags: Flags(ALIVE | Flags::HOLDING),
        claim: Some(ClaimId(0)),
        order: Some(Order::of(1, 49)),
    };
    s.at(11, late);
    assert_eq!(s.e.last_heard(NetId::Public), None);
}

/// Issue 30, item 9: a goodbye that arrives while the secondary's public
/// link is down is taken over later, for silence (with the probe), and the
/// words say that the primary stopped, not that it fell silent.
#[test]
fn a_takeover_long_after_a_goodbye_says_the_primary_stopped() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    s.heard(0, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    s.at(5, Input::Link { net: NetId::Public, up: false });
    let bye = Input::Heard {
        net: NetId::Private,
        kind: Kind::Goodbye,
        flags: Flags(ALIVE),
        claim: Some(ClaimId(0)),
        order: Some(Order::of(1, 50)),
    };
    s.at(10, bye);
    s.silence(20, 1000);
    assert_eq!(s.e.state(), State::Isolated);
    s.at(1010, Input::Link { net: NetId::Public, up: true });
    s.silence(1020, 2000);
    let took = s.out.iter().find_map(|a| match a {
        Action::Transition(t) if t.to == State::Acquiring => Some(t.clone()),
        _ => None,
    });
    let took = took.unwrap_or_else(|| panic!("no takeover: {:?}", s.out));
    assert_eq!(took.reason, Reason::BothNetworksSilent);
    assert!(took.detail.contains("announced that it was stopping"), "{}", took.detail);
}

/// Found by the simulator's no-progress check (seed 171467): an unfit
/// primary's hand-over that removed only some addresses put the rest back
/// and, the retry pause cleared by that move, handed over again at once,
/// without end.
#[test]
fn a_hand_over_that_fails_halfway_waits_before_it_is_tried_again() {
    let mut p = Bare::new(Role::Primary, Failback::Auto);
    let claim = p.e.claim_id();
    p.heard(10, Kind::Status, ALIVE, claim);
    p.at(20, Input::Tick);
    p.report(20, Held::All);
    assert_eq!(p.e.state(), State::Active);
    p.at(100, Input::Fitness { fit: false });
    p.heard(110, Kind::Status, ALIVE, claim);
    assert_eq!(p.e.state(), State::Releasing, "unfit with a fit secondary: hand over");
    p.report(110, Held::Some);
    // What was removed is put back; the hand-over waits for dead_after.
    let mut releases = 0;
    for t in (110..=390).step_by(10) {
        if p.e.moving().is_some() {
            let dir = p.e.moving().unwrap().1;
            releases += usize::from(dir == Direction::Release);
            p.report(t, Held::Some);
        }
        p.heard(t, Kind::Status, ALIVE, claim);
    }
    assert_eq!(releases, 0, "handed over again before dead_after");
    p.silence(400, 420);
    p.heard(420, Kind::Status, ALIVE, claim);
    assert_eq!(p.e.moving().map(|m| m.1), Some(Direction::Release), "tried again after dead_after");
}

/// Found by the million-seed campaign (seed 557065): a primary restarted
/// with failing checks took an operator's `takeover` before it had heard
/// the secondary; the secondary gave the addresses up, the primary heard
/// it was fit and withdrew the claim: nobody held them for seconds.
#[test]
fn an_unfit_primary_refuses_takeover_until_it_knows_the_secondary() {
    let mut p = Bare::new(Role::Primary, Failback::Auto);
    p.at(1, Input::Fitness { fit: false });
    let a = p.at(50, Input::Command(Command::Takeover));
    assert!(matches!(a.last(), Some(Action::Answer(Err(e))) if e.contains("not been heard yet")), "{a:?}");
    assert!(!sent(&a, |x| matches!(x, Action::SendClaim { .. })));
    // dead_after without a word from it: it is gone, the command goes on.
    p.silence(60, 310);
    let a = p.at(320, Input::Command(Command::Takeover));
    assert!(matches!(a.last(), Some(Action::Answer(Ok(_)))), "{a:?}");
}

/// Seed 729088: the same after the primary's own cables came back (the
/// silence while they were out proves nothing about the secondary).
#[test]
fn an_unfit_primary_whose_links_just_came_back_refuses_takeover() {
    let mut p = Bare::new(Role::Primary, Failback::Auto);
    p.at(1, Input::Fitness { fit: false });
    p.at(10, Input::Link { net: NetId::Public, up: false });
    p.at(10, Input::Link { net: NetId::Private, up: false });
    p.silence(20, 1_000);
    p.at(1_000, Input::Link { net: NetId::Public, up: true });
    p.at(1_000, Input::Link { net: NetId::Private, up: true });
    let a = p.at(1_050, Input::Command(Command::Takeover));
    assert!(matches!(a.last(), Some(Action::Answer(Err(e))) if e.contains("not been heard yet")), "{a:?}");
}

/// Seed 23846 (issue 29): a secondary thawed from SIGSTOP reads a backlog
/// of claims from a primary life that has ended, all at one instant. Its
/// steady run began with that backlog and nothing came after it; at
/// run + recover_after it gave the addresses back to nobody. A give-back
/// now needs a claim heard recover_after into the steady run: the
/// primary must still be there to be given the addresses.
#[test]
fn a_backlog_of_claims_from_a_dead_primary_is_not_steady_hearing() {
    // recover_after shorter than dead_after, as in the seed (200, 600).
    let mut s = Bare::with_recover(Role::Secondary, Failback::Auto, 200);
    for t in (0..=500).step_by(100) {
        s.heard(t, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    }
    s.silence(510, 900);
    s.report(900, Held::All);
    assert_eq!(s.e.state(), State::Holding);
    // The primary comes back and claims; the secondary is frozen at 2050
    // and reads the claims sent meanwhile at its thaw (3500), all at once;
    // the primary died at 2300.
    s.heard(2000, Kind::Claim, ALIVE, ClaimId(7001));
    for _ in 0..3 {
        s.heard(3500, Kind::Claim, ALIVE, ClaimId(7001));
    }
    s.silence(3510, 3900);
    assert_eq!(s.e.state(), State::Holding, "no give-back to a primary heard only in one burst");
    // A live primary claiming steadily gets them once it has been heard
    // for recover_after (200 ms), not before.
    for t in (4000..=4100).step_by(100) {
        s.heard(t, Kind::Claim, ALIVE, ClaimId(7002));
        s.silence(t + 10, t + 90);
        assert_eq!(s.e.state(), State::Holding, "at {t} ms");
    }
    s.heard(4200, Kind::Claim, ALIVE, ClaimId(7002));
    assert_eq!(s.e.state(), State::Releasing);
}

/// Seeds 88540, 311405, 722679 and 928582 (the campaign of 7 December):
/// as above with recover_after = 0. The primary's claims began before the
/// freeze, so the backlog read at the thaw looked like a second round of
/// claims (half an interval after the first) and the addresses went to a
/// primary that had died meanwhile. A claim that comes dead_after or more
/// after the one before begins a new run of claims.
#[test]
fn a_backlog_of_claims_after_a_freeze_is_one_round_of_claims() {
    let mut s = Bare::with_recover(Role::Secondary, Failback::Auto, 0);
    for t in (0..=500).step_by(100) {
        s.heard(t, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    }
    s.silence(510, 900);
    s.report(900, Held::All);
    assert_eq!(s.e.state(), State::Holding);
    // One claim, then the secondary is frozen (2010 to 3500) and reads
    // the claims sent meanwhile at its thaw, all at once; the primary
    // died at 2300.
    s.heard(2000, Kind::Claim, ALIVE, ClaimId(7001));
    assert_eq!(s.e.state(), State::Holding, "one round of claims is not enough");
    for _ in 0..3 {
        s.heard(3500, Kind::Claim, ALIVE, ClaimId(7001));
    }
    assert_eq!(s.e.state(), State::Holding, "a backlog after a freeze is one round of claims");
    s.silence(3510, 3900);
    assert_eq!(s.e.state(), State::Holding);
    // A live primary that claims over two rounds gets them.
    s.heard(4000, Kind::Claim, ALIVE, ClaimId(7002));
    assert_eq!(s.e.state(), State::Holding);
    s.heard(4100, Kind::Claim, ALIVE, ClaimId(7002));
    assert_eq!(s.e.state(), State::Releasing);
}

/// Seed 287873 (the campaign of 7 December): the primary falls silent,
/// the secondary probes the addresses, and its public cable is pulled
/// before the probe ends. A probe through a link that is down finds
/// nobody; the secondary took the addresses over anyway, serving nobody,
/// and had to drop them again (and the primary, its cable back, would
/// have found them on both). A probe that ends with our public link down
/// takes nothing.
#[test]
fn a_takeover_probe_that_ends_with_our_public_link_down_takes_nothing() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    let mut settings = s.e.settings();
    settings.timing.takeover_probe = ms(50);
    s.e = Engine::new(settings, s.t0, 5000);
    for t in (0..=500).step_by(100) {
        s.heard(t, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    }
    s.silence(510, 800);
    let id = last_probe(&s.out.iter().map(|a| (0, a.clone())).collect::<Vec<_>>());
    assert!(id != ProbeId(0), "the silent primary is probed first: {:?}", s.out);
    assert_eq!(s.e.state(), State::Watching);
    s.at(810, Input::Link { net: NetId::Public, up: false });
    let a = s.at(850, Input::Probed { id, free: Some(true) });
    assert!(s.e.moving().is_none(), "took the addresses with its public link down: {a:?}");
    assert!(!s.e.holding());
    s.silence(860, 1200);
    assert_eq!(s.e.state(), State::Isolated);
    assert!(!s.e.holding());
    // Its link back, the primary still silent: it probes again and takes
    // them.
    s.at(1210, Input::Link { net: NetId::Public, up: true });
    s.silence(1220, 1600);
    let again = last_probe(&s.out.iter().map(|a| (0, a.clone())).collect::<Vec<_>>());
    assert!(again.0 > id.0, "probed again once the link is back");
    s.at(1610, Input::Probed { id: again, free: Some(true) });
    assert_eq!(s.e.state(), State::Acquiring);
}

/// Seeds 172421 234133 345032 688211 791836 (the campaign of 7 December):
/// the primary says goodbye on both networks, a moment after our links
/// came back, and the takeover fails. Neither network counted as silent
/// yet (our links had just come back), so `failed` went to `watching`
/// ("the primary is heard on both networks", though nothing was heard
/// since the goodbye), which dropped the retry's pause, and the goodbye's
/// twin on the other network started the next takeover at once: a failed
/// move mailed per copy. A failed takeover now stays failed until the
/// primary is heard on both networks, and is retried after its pause.
#[test]
fn a_goodbyes_twin_does_not_retry_a_failed_takeover_at_once() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    for t in (0..=500).step_by(100) {
        s.heard(t, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    }
    for net in NetId::ALL {
        s.at(510, Input::Link { net, up: false });
    }
    for net in NetId::ALL {
        s.at(600, Input::Link { net, up: true });
    }
    let goodbye = |net: NetId| Input::Heard {
        net,
        kind: Kind::Goodbye,
        flags: Flags(ALIVE),
        claim: None,
        order: Some(Order::of(1, 7000 + net.index() as u64)),
    };
    s.at(650, goodbye(NetId::Public));
    assert_eq!(s.e.state(), State::Acquiring);
    s.report(651, Held::None);
    assert_eq!(s.e.state(), State::Failed);
    let a = s.at(655, goodbye(NetId::Private));
    assert!(s.e.moving().is_none(), "the goodbye's twin retried at once: {a:?}");
    assert_eq!(s.e.state(), State::Failed, "nothing was heard since the goodbye");
    // Tried again after the pause (dead_after, 300 ms), once the silence
    // is dead_after long.
    s.silence(660, 940);
    assert!(s.e.moving().is_none());
    s.silence(950, 1000);
    assert_eq!(s.e.state(), State::Acquiring);
}

/// Seed 265219 (the campaign of 7 December): SIGTERM during a give-back
/// whose removal fails. The stopping daemon tries again after its own
/// pause, three times at most; the primary's claims, one per interval,
/// each started a give-back of their own meanwhile, spending the three
/// attempts (and mailing three failures) within 40 ms. A stopping daemon
/// takes no claim as a reason to move.
#[test]
fn a_claim_starts_no_give_back_while_stopping() {
    let mut s = Bare::with_recover(Role::Secondary, Failback::Auto, 0);
    for t in (0..=500).step_by(100) {
        s.heard(t, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    }
    s.silence(510, 900);
    s.report(900, Held::All);
    assert_eq!(s.e.state(), State::Holding);
    s.heard(1000, Kind::Claim, ALIVE, ClaimId(7001));
    s.heard(1100, Kind::Claim, ALIVE, ClaimId(7001));
    assert_eq!(s.e.state(), State::Releasing);
    s.at(1105, Input::Shutdown);
    s.report(1110, Held::All);
    assert_eq!(s.e.state(), State::Holding);
    for t in [1120, 1150, 1180] {
        let a = s.heard(t, Kind::Claim, ALIVE, ClaimId(7001));
        assert!(s.e.moving().is_none(), "a claim at {t} ms moved while stopping: {a:?}");
    }
    // The stop's own retry (100 ms here) removes them.
    s.silence(1190, 1210);
    assert_eq!(s.e.moving().map(|m| m.2), Some(Reason::Shutdown));
}

/// Issue 30, item 7: a secondary that does not take over a primary silent
/// on both networks (its own checks fail and gate the takeover) is not
/// shown as "watching"; once the primary is heard it is again.
#[test]
fn a_secondary_held_off_a_silent_primary_says_why() {
    let mut s = Bare::new(Role::Secondary, Failback::Auto);
    s.heard(0, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    assert!(s.e.held_off(s.t0 + ms(10)).is_none());
    s.at(20, Input::Fitness { fit: false });
    s.silence(30, 1000);
    assert_eq!(s.e.state(), State::Watching);
    let (silent, why) = s.e.held_off(s.t0 + ms(1000)).expect("held off");
    assert!(silent >= ms(300), "{silent:?}");
    assert!(why.contains("own service checks fail"), "{why}");
    s.heard(1010, Kind::Heartbeat, ALIVE | Flags::HOLDING, ClaimId(0));
    assert!(s.e.held_off(s.t0 + ms(1010)).is_none());
}

/// Issue 32, item 4: a healthy secondary's status datagrams come one per
/// interval, on the networks in turn; a few lost in a row (silence of
/// dead_after, three intervals here) must not mail "secondary no longer
/// heard". Ten intervals of silence do.
#[test]
fn a_few_lost_status_datagrams_are_no_lost_secondary() {
    let mut p = active_primary();
    let lost =
        |p: &Bare| p.out.iter().filter(|a| matches!(a, Action::Notify(Notice::PeerLost { .. }))).count();
    p.heard(100, Kind::Status, ALIVE, ClaimId(0));
    // Silent for 400 ms: more than dead_after (300 ms), less than ten
    // intervals (1 s).
    p.silence(110, 500);
    assert_eq!(lost(&p), 0, "a few lost datagrams mailed a lost secondary");
    p.heard(510, Kind::Status, ALIVE, ClaimId(0));
    p.silence(520, 1500);
    assert_eq!(lost(&p), 0);
    p.silence(1510, 1600);
    assert_eq!(lost(&p), 1, "ten intervals of silence are a lost secondary");
    let at = p.out.iter().find_map(|a| match a {
        Action::Notify(Notice::PeerLost { silent_for }) => Some(*silent_for),
        _ => None,
    });
    assert!(at.is_some_and(|s| s >= ms(1000)), "{at:?}");
}

/// Mutation testing (issue 29, item 6: `enter` kept the operator's mark
/// when the primary left its stand-down on its own rules, and no test
/// saw it). A standby primary that claims its addresses back because the
/// secondary is lost claims as itself, not as an operator: its datagrams
/// no longer say MANUAL, which would make a secondary with failback =
/// manual give the addresses back at once, as to an operator's takeover.
#[test]
fn a_standby_primary_that_claims_back_on_its_own_no_longer_says_manual() {
    let mut p = active_primary();
    p.heard(50, Kind::Status, ALIVE, ClaimId(0));
    p.at(100, Input::Command(Command::Release));
    assert_eq!(p.e.state(), State::Releasing);
    p.report(110, Held::None);
    assert_eq!(p.e.state(), State::Standby);
    assert!(p.e.flags(p.t0 + ms(110)).has(Flags::MANUAL));
    // The secondary falls silent: nobody would serve; the primary claims.
    p.silence(120, 1_000);
    assert_eq!(p.e.state(), State::Claiming);
    assert!(!p.e.flags(p.t0 + ms(1_000)).has(Flags::MANUAL));
}

/// Mutation testing (issue 29, item 6: `primary_deadlines` without its
/// standby arm survived). A standby primary whose secondary, though heard,
/// has not taken the addresses dead_after after the stand-down claims
/// them back at that moment, on its own deadline, not at whatever input
/// comes next.
#[test]
fn a_standby_primary_claims_back_at_dead_after_when_the_secondary_takes_nothing() {
    let mut p = active_primary();
    p.heard(50, Kind::Status, ALIVE, ClaimId(0));
    p.at(100, Input::Command(Command::Release));
    p.report(110, Held::None);
    assert_eq!(p.e.state(), State::Standby);
    // The secondary's statuses (holding nothing) at x50, the primary's own
    // sends at x00: neither at 410.
    for t in 111..=460 {
        while let Some(d) = p.e.next_deadline() {
            let d = d.duration_since(p.t0).as_millis() as u64;
            if d > t {
                break;
            }
            p.at(d, Input::Tick);
        }
        if t % 100 == 50 {
            p.heard(t, Kind::Status, ALIVE, ClaimId(0));
        }
        if p.e.state() == State::Claiming {
            assert_eq!(t, 410, "claimed back at {t}");
            return;
        }
    }
    panic!("still {} at 460", p.e.state());
}

/// Mutation testing (issue 29, item 6: `secondary_evaluate` giving back
/// whether or not the retry is due survived). A holding secondary whose
/// give-back to a static (Apple) primary failed tries again at its retry
/// time (dead_after after the first failure), not as soon as the primary
/// has been heard steadily for recover_after once more.
#[test]
fn a_failed_give_back_to_a_static_primary_waits_for_its_retry() {
    let mut s = Bare::with_recover(Role::Secondary, Failback::Auto, 100);
    s.e.s.mode = Mode::Static;
    s.silence(10, 400);
    assert_eq!(s.e.state(), State::Acquiring);
    s.report(400, Held::All);
    assert_eq!(s.e.state(), State::Holding);
    let mut failed_at = None;
    let mut releases = vec![];
    for t in (500..=1_500).step_by(10) {
        s.at(t, Input::Tick);
        if t % 50 == 0 {
            for net in NetId::ALL {
                let order = Some(Order::of(1, t * 10 + net.index() as u64));
                let flags = Flags(ALIVE | Flags::STATIC);
                s.at(t, Input::Heard { net, kind: Kind::Heartbeat, flags, claim: None, order });
            }
        }
        if s.e.state() == State::Releasing {
            releases.push(t);
            if failed_at.is_none() {
                s.report(t, Held::All);
                failed_at = Some(t);
            } else {
                break;
            }
        }
    }
    let failed = failed_at.expect("a first give-back");
    assert_eq!(releases.len(), 2, "{releases:?}");
    assert!(releases[1] >= failed + 300, "retried at {} after a failure at {failed}", releases[1]);
}
