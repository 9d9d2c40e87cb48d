//! The engine on a virtual clock: `t(ms)` is a point in time, nothing sleeps.

use super::*;
use crate::config::{Failback, Mode};
use crate::proto::Kind;

struct Sim {
    e: Engine,
    t0: Instant,
    log: Vec<(u64, Transition)>,
    actions: Vec<(u64, Action)>,
    /// What the monitor reports back for an Acquire.
    acquire_result: (Held, bool),
    /// For tests that deliver heartbeats by hand: the last one's time.
    last_hb: u64,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn settings(role: Role, interval: u64, dead: u64, recover: u64) -> Settings {
    Settings {
        role,
        mode: Mode::Managed,
        failback: Failback::Auto,
        timing: Timing {
            interval: ms(interval),
            dead_after: ms(dead),
            recover_after: ms(recover),
            startup_grace: Duration::ZERO,
            takeover_probe: Duration::ZERO,
        },
        gates_takeover: true,
    }
}

impl Sim {
    fn new(s: Settings) -> Sim {
        Sim::new_at(s, Instant::now())
    }

    fn new_at(s: Settings, t0: Instant) -> Sim {
        let mut sim = Sim {
            e: Engine::new(s, t0, 1000),
            t0,
            log: vec![],
            actions: vec![],
            acquire_result: (Held::All, false),
            last_hb: 0,
        };
        sim.feed(Input::Tick, 0);
        sim
    }

    fn feed(&mut self, input: Input, at: u64) {
        let now = self.t0 + ms(at);
        for a in self.e.step(input, now) {
            if let Action::Transition(tr) = &a {
                self.log.push((at, tr.clone()));
            }
            // The monitor carries out moves at once in these tests.
            let done = match &a {
                Action::Move { id, dir: Direction::Acquire, .. } => {
                    let (held, vetoed) = self.acquire_result;
                    Some(Input::Moved(MoveReport { id: *id, held, vetoed }))
                }
                Action::Move { id, dir: Direction::Release, .. } => {
                    Some(Input::Moved(MoveReport { id: *id, held: Held::None, vetoed: false }))
                }
                _ => None,
            };
            self.actions.push((at, a));
            if let Some(d) = done {
                self.feed(d, at);
            }
        }
    }

    /// Runs the clock to `until`, firing deadlines as the monitor would and
    /// delivering heartbeats on the networks `up(t)` says are carrying them.
    fn run(&mut self, from: u64, until: u64, every: u64, up: impl Fn(u64) -> [bool; 2]) {
        let mut next_hb = from;
        let mut now = from;
        while now <= until {
            let deadline = self.e.next_deadline().map(|d| d.duration_since(self.t0).as_millis() as u64);
            if let Some(d) = deadline.filter(|&d| d < next_hb && d <= until) {
                now = d.max(now);
                self.feed(Input::Tick, now);
                continue;
            }
            now = next_hb;
            if now > until {
                break;
            }
            for (i, net) in NetId::ALL.iter().enumerate() {
                if up(now)[i] {
                    self.hb(*net, now);
                }
            }
            next_hb += every;
        }
    }

    /// Fires every deadline before `t` (or up to and including it), as the
    /// monitor's recv_timeout would. A datagram queued at exactly a
    /// deadline is received before the timeout fires.
    fn advance(&mut self, t: u64, inclusive: bool) {
        loop {
            let Some(d) = self.e.next_deadline() else {
                return;
            };
            let d = d.duration_since(self.t0).as_millis() as u64;
            if d > t || (d == t && !inclusive) {
                return;
            }
            self.feed(Input::Tick, d);
        }
    }

    fn hb(&mut self, net: NetId, at: u64) {
        let input = Input::Heard {
            net,
            kind: Kind::Heartbeat,
            flags: Flags(Flags::HOLDING),
            claim: None,
            order: None,
        };
        self.feed(input, at);
    }

    /// A claim from a peer that predates claim ids, on the private network.
    fn claim(&mut self, at: u64) {
        let claim = Input::Heard {
            net: NetId::Private,
            kind: Kind::Claim,
            flags: Flags(0),
            claim: None,
            order: None,
        };
        self.feed(claim, at);
    }

    fn states(&self) -> Vec<State> {
        self.log.iter().map(|(_, t)| t.to).collect()
    }

    fn when(&self, state: State) -> Option<u64> {
        self.log.iter().find(|(_, t)| t.to == state).map(|(at, _)| *at)
    }

    fn count(&self, pred: impl Fn(&Action) -> bool) -> usize {
        self.actions.iter().filter(|(_, a)| pred(a)).count()
    }
}

#[test]
fn watching_while_both_networks_carry_heartbeats() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 60_000, 1000, |_| [true, true]);
    assert_eq!(s.states(), vec![State::Watching]);
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 0);
}

#[test]
fn takes_over_when_both_silent_after_dead_after() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 20_000, 1000, |t| [t < 10_000, t < 10_000]);
    // Last heartbeat at 9000: silent from 12000 exactly.
    assert_eq!(s.when(State::Acquiring), Some(12_000));
    assert_eq!(s.when(State::Holding), Some(12_000));
    let tr = &s.log.iter().find(|(_, t)| t.to == State::Acquiring).unwrap().1;
    assert_eq!(tr.reason, Reason::BothNetworksSilent);
    assert!(tr.detail.contains("public network for 3.0s"), "{}", tr.detail);
}

#[test]
fn one_silent_network_is_an_anomaly_only() {
    for (net, up) in [(NetId::Public, [false, true]), (NetId::Private, [true, false])] {
        let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
        s.run(0, 5_000, 1000, |_| [true, true]);
        s.run(6_000, 60_000, 1000, |_| up);
        assert_eq!(s.states(), vec![State::Watching, State::Anomaly(net)]);
        assert_eq!(s.when(State::Anomaly(net)), Some(8_000));
        // The anomaly clears when the network comes back.
        s.run(61_000, 65_000, 1000, |_| [true, true]);
        assert_eq!(s.states().last(), Some(&State::Watching));
        assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 0);
        // Back to watching from an anomaly, not from a give-back: no
        // "released" for the primary to take as the end of a claim.
        assert_eq!(s.count(|a| matches!(a, Action::SendReleased { .. })), 0);
    }
}

#[test]
fn anomaly_then_second_network_silent_takes_over() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 20_000, 1000, |t| [t < 5_000, t < 12_000]);
    assert_eq!(
        s.states(),
        vec![State::Watching, State::Anomaly(NetId::Public), State::Acquiring, State::Holding]
    );
    assert_eq!(s.when(State::Acquiring), Some(14_000));
}

#[test]
fn gives_back_when_the_primary_claims() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 30_000, 1000, |t| [!(5_000..20_000).contains(&t), !(5_000..20_000).contains(&t)]);
    assert_eq!(s.when(State::Holding), Some(7_000));
    // Heartbeats alone do not move the address in managed mode...
    assert_eq!(s.states().last(), Some(&State::Holding));
    // ...the primary's claims do (two rounds: one is not yet a claim it
    // keeps making), and the secondary answers "released".
    for at in [30_000, 31_000] {
        s.claim(at);
    }
    assert_eq!(s.when(State::Releasing), Some(31_000));
    assert_eq!(s.states().last(), Some(&State::Watching));
    assert!(s.actions.iter().any(|(at, a)| *at == 31_000 && matches!(a, Action::SendReleased { .. })));
}

#[test]
fn a_claim_while_not_holding_is_answered_at_once() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 2_000, 1000, |_| [true, true]);
    s.feed(
        Input::Heard { net: NetId::Private, kind: Kind::Claim, flags: Flags(0), claim: None, order: None },
        2_500,
    );
    assert!(s.actions.iter().any(|(at, a)| *at == 2_500 && matches!(a, Action::SendReleased { .. })));
}

#[test]
fn address_free_declaration_takes_over_at_once() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 2_000, 1000, |_| [true, true]);
    let free = Flags(Flags::ADDRESS_FREE | Flags::PRIVATE_UP);
    s.feed(
        Input::Heard { net: NetId::Private, kind: Kind::Heartbeat, flags: free, claim: None, order: None },
        2_300,
    );
    assert_eq!(s.when(State::Acquiring), Some(2_300));
    let tr = &s.log.iter().find(|(_, t)| t.to == State::Acquiring).unwrap().1;
    assert_eq!(tr.reason, Reason::PrimaryPublicDown);
}

#[test]
fn one_network_back_is_not_enough_to_give_back() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 60_000, 1000, |t| [!(5_000..=20_000).contains(&t), t < 5_000]);
    assert_eq!(s.states().last(), Some(&State::Holding));
}

#[test]
fn flapping_at_exactly_dead_after() {
    // Heartbeats exactly dead_after apart: each arrives at the very instant
    // the network would count as silent. The monitor delivers the queued
    // datagram before acting on the deadline, so nothing happens.
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    for k in 0..100u64 {
        s.advance(k * 300, false);
        s.hb(NetId::Public, k * 300);
        s.hb(NetId::Private, k * 300);
    }
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 0);
    assert!(s.count(|a| matches!(a, Action::SendStatus { .. })) > 250, "the engine was ticking");
    // A heartbeat that misses the instant: the takeover happens at 300 ms.
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    s.hb(NetId::Public, 0);
    s.hb(NetId::Private, 0);
    s.advance(300, true);
    assert_eq!(s.when(State::Acquiring), Some(300));
}

#[test]
fn ten_millisecond_interval() {
    let mut s = Sim::new(settings(Role::Secondary, 10, 30, 30));
    s.run(0, 1_000, 10, |t| [t < 500, t < 500]);
    // Last heartbeat at 490, silent at 520.
    assert_eq!(s.when(State::Acquiring), Some(520));
    s.run(1_000, 2_000, 10, |_| [true, true]);
    for at in [2_000, 2_010] {
        s.claim(at);
    }
    assert_eq!(s.when(State::Releasing), Some(2_010));
}

#[test]
fn nothing_heard_at_start_takes_over_after_grace_plus_dead_after() {
    let mut st = settings(Role::Secondary, 1000, 3000, 3000);
    st.timing.startup_grace = ms(10_000);
    let mut s = Sim::new(st);
    s.run(0, 20_000, 1000, |_| [false, false]);
    assert_eq!(s.when(State::Acquiring), Some(13_000));
}

#[test]
fn own_public_link_down_means_isolated_not_takeover() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 4_000, 1000, |_| [true, true]);
    s.feed(Input::Link { net: NetId::Public, up: false }, 4_500);
    s.run(5_000, 20_000, 1000, |_| [false, false]);
    assert_eq!(s.states().last(), Some(&State::Isolated));
    // The link returns: the primary gets dead_after to be heard on it.
    s.feed(Input::Link { net: NetId::Public, up: true }, 21_000);
    s.advance(23_999, true);
    assert_ne!(s.states().last(), Some(&State::Holding));
    s.advance(24_000, true);
    assert_eq!(s.states().last(), Some(&State::Holding));
}

#[test]
fn goodbye_takes_over_at_once() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 5_000, 1000, |_| [true, true]);
    let bye =
        Input::Heard { net: NetId::Private, kind: Kind::Goodbye, flags: Flags(0), claim: None, order: None };
    s.feed(bye, 5_200);
    assert_eq!(s.when(State::Acquiring), Some(5_200));
    let tr = &s.log.iter().find(|(_, t)| t.to == State::Acquiring).unwrap().1;
    assert_eq!(tr.reason, Reason::Goodbye);
}

#[test]
fn a_stalled_monitor_settles_before_deciding() {
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    s.run(0, 1_000, 100, |_| [true, true]);
    s.advance(1_000, true);
    // Frozen (SIGSTOP) for 10 s: the first tick after waking is far past the
    // deadline asked for. No takeover yet...
    s.feed(Input::Tick, 11_000);
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 0);
    // ...and the heartbeats that queued up meanwhile arrive in time.
    s.hb(NetId::Public, 11_005);
    s.hb(NetId::Private, 11_006);
    s.run(11_100, 12_000, 100, |_| [true, true]);
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 0);
    // Had nothing been queued, the takeover comes after the settle time.
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    s.run(0, 1_000, 100, |_| [true, true]);
    s.advance(1_000, true);
    s.feed(Input::Tick, 11_000);
    s.run(11_000, 12_000, 100, |_| [false, false]);
    assert_eq!(s.when(State::Acquiring), Some(11_200));
}

#[test]
fn a_stalled_monitor_reports_no_anomaly_while_the_queue_drains() {
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    s.run(0, 1_000, 100, |_| [true, true]);
    s.advance(1_000, true);
    // Frozen 2 s; on waking one reader delivers its backlog before the other.
    s.feed(Input::Tick, 3_000);
    s.hb(NetId::Private, 3_002);
    s.hb(NetId::Public, 3_040);
    s.run(3_100, 4_000, 100, |_| [true, true]);
    assert_eq!(s.when(State::Anomaly(NetId::Public)), None, "{:?}", s.states());
    // A network that stays silent is still an anomaly, after the settle time.
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    s.run(0, 1_000, 100, |_| [true, true]);
    s.advance(1_000, true);
    s.feed(Input::Tick, 3_000);
    s.run(3_002, 4_000, 100, |_| [false, true]);
    // Silence counts from the first datagram after the freeze (the peer's
    // "return"), not from before it: dead_after after 3_002.
    let at = s.when(State::Anomaly(NetId::Public)).expect("an anomaly");
    assert!((3_302..=3_400).contains(&at), "{at}");
}

#[test]
fn the_wall_clock_does_not_exist_for_the_engine() {
    // The engine only sees the instants it is given. The same inputs,
    // given an hour apart in the process's own clock, give the same
    // transitions at the same offsets: anything in it that read the clock
    // itself (Instant::now, SystemTime) would be an hour off.
    let run = |t0: Instant| {
        let mut s = Sim::new_at(settings(Role::Secondary, 200, 600, 600), t0);
        s.run(0, 10_000, 200, |t| [!(3_000..=6_000).contains(&t), !(3_000..=6_000).contains(&t)]);
        s.log.iter().map(|(at, t)| (*at, t.to)).collect::<Vec<_>>()
    };
    let now = Instant::now();
    let transitions = run(now + Duration::from_secs(3600));
    assert_eq!(transitions, run(now));
    assert!(transitions.iter().any(|(_, to)| *to == State::Holding), "{transitions:?}");
}

#[test]
fn manual_failback_keeps_the_address() {
    let mut st = settings(Role::Secondary, 1000, 3000, 3000);
    st.failback = Failback::Manual;
    let mut s = Sim::new(st);
    s.run(0, 60_000, 1000, |t| [!(5_000..20_000).contains(&t), !(5_000..20_000).contains(&t)]);
    assert_eq!(s.states().last(), Some(&State::Holding));
}

#[test]
fn static_mode_gives_back_on_the_public_network() {
    // Heard again from 20 s on: given back once that has lasted
    // recover_after (3 s).
    let mut st = settings(Role::Secondary, 1000, 3000, 3000);
    st.mode = Mode::Static;
    let mut s = Sim::new(st);
    s.run(0, 30_000, 1000, |t| [!(5_000..20_000).contains(&t), t < 5_000]);
    assert_eq!(s.when(State::Releasing), Some(23_000));
}

#[test]
fn failed_takeover_is_retried_after_dead_after() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.acquire_result = (Held::None, false);
    s.run(0, 4_000, 1000, |_| [true, true]);
    s.advance(7_000, true);
    assert_eq!(s.e.state(), State::Failed);
    assert_eq!(s.when(State::Failed), Some(7_000));
    s.acquire_result = (Held::All, false);
    s.advance(9_999, true);
    assert_eq!(s.e.state(), State::Failed);
    s.advance(10_000, true);
    assert_eq!(s.e.state(), State::Holding);
    let tries: Vec<u64> = s.log.iter().filter(|(_, t)| t.to == State::Acquiring).map(|(at, _)| *at).collect();
    assert_eq!(tries, vec![7_000, 10_000]);
}

#[test]
fn primary_alone_probes_then_acquires() {
    let mut s = Sim::new(settings(Role::Primary, 200, 600, 600));
    s.advance(1_000, true);
    assert_eq!(s.states(), vec![State::Claiming]);
    assert_eq!(s.count(|a| matches!(a, Action::Probe { .. })), 1);
    assert_eq!(s.count(|a| *a == Action::SendHeartbeat), 6); // 0..=1000 every 200
    assert!(s.count(|a| matches!(a, Action::SendClaim { .. })) >= 5);
    s.feed(Input::Probed { id: last_probe(&s.actions), free: Some(true) }, 1_000);
    assert_eq!(s.states(), vec![State::Claiming, State::Acquiring, State::Active]);
}

#[test]
fn primary_waits_while_the_secondary_holds() {
    let mut s = Sim::new(settings(Role::Primary, 200, 600, 600));
    let holding = Flags(Flags::HOLDING);
    for t in (0..5_000).step_by(200) {
        s.advance(t, false);
        s.feed(
            Input::Heard {
                net: NetId::Private,
                kind: Kind::Status,
                flags: holding,
                claim: None,
                order: None,
            },
            t,
        );
    }
    assert_eq!(s.states(), vec![State::Claiming]);
    assert_eq!(s.count(|a| matches!(a, Action::Notify(Notice::PeerKeeps))), 1);
    assert_eq!(s.count(|a| matches!(a, Action::Probe { .. })), 0);
    s.feed(
        Input::Heard { net: NetId::Private, kind: Kind::Released, flags: Flags(0), claim: None, order: None },
        5_000,
    );
    assert_eq!(s.states().last(), Some(&State::Active));
}

#[test]
fn primary_public_link_down_drops_and_declares_free() {
    let mut s = Sim::new(settings(Role::Primary, 200, 600, 600));
    s.feed(
        Input::Heard { net: NetId::Private, kind: Kind::Status, flags: Flags(0), claim: None, order: None },
        0,
    );
    assert_eq!(s.states().last(), Some(&State::Active));
    s.feed(Input::Link { net: NetId::Public, up: false }, 1_000);
    assert_eq!(s.states().last(), Some(&State::PublicDown));
    assert!(s.e.flags(s.t0 + ms(1_000)).has(Flags::ADDRESS_FREE));
    assert!(!s.e.holding());
    // Back, steady for recover_after: claim again.
    s.feed(Input::Link { net: NetId::Public, up: true }, 2_000);
    s.advance(2_599, true);
    assert_eq!(s.states().last(), Some(&State::PublicDown));
    s.advance(2_600, true);
    assert_eq!(s.states().last(), Some(&State::Claiming));
}

#[test]
fn primary_static_mode_touches_no_address() {
    let mut st = settings(Role::Primary, 200, 600, 600);
    st.mode = Mode::Static;
    let s = Sim::new(st);
    assert_eq!(s.states(), vec![State::Active]);
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 0);
}

#[test]
fn shutdown_releases_then_exits() {
    let mut s = Sim::new(settings(Role::Primary, 200, 600, 600));
    s.feed(
        Input::Heard { net: NetId::Private, kind: Kind::Status, flags: Flags(0), claim: None, order: None },
        0,
    );
    s.advance(500, false);
    s.feed(Input::Shutdown, 500);
    assert!(s.actions.iter().any(|(_, a)| *a == Action::SendGoodbye));
    // No heartbeat after the goodbye: it would undo it.
    let bye = s.actions.iter().position(|(_, a)| *a == Action::SendGoodbye).unwrap();
    assert!(!s.actions[bye..].iter().any(|(_, a)| *a == Action::SendHeartbeat));
    // The addresses go before the goodbye: never two owners.
    let release = s
        .actions
        .iter()
        .position(|(_, a)| matches!(a, Action::Move { dir: Direction::Release, .. }))
        .unwrap();
    assert!(release < bye);
    assert!(s
        .actions
        .iter()
        .any(|(_, a)| matches!(a, Action::Move { dir: Direction::Release, reason: Reason::Shutdown, .. })));
    assert_eq!(s.actions.last().map(|(_, a)| a.clone()), Some(Action::Exit));
    assert_eq!(s.e.next_deadline(), None);
    // A secondary that holds nothing just exits.
    let mut s = Sim::new(settings(Role::Secondary, 200, 600, 600));
    s.feed(Input::Shutdown, 100);
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Release, .. })), 0);
    assert_eq!(s.actions.last().map(|(_, a)| a.clone()), Some(Action::Exit));
}

#[test]
fn no_deadline_in_the_past() {
    // Whatever happens, the engine never asks to be woken at or before the
    // last step (that would make the monitor spin).
    let mut s = Sim::new(settings(Role::Secondary, 10, 30, 30));
    let mut x: u64 = 12345;
    let mut t = 0;
    for _ in 0..5_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t += x % 25;
        match x % 5 {
            0 => s.feed(Input::Tick, t),
            1 => s.hb(NetId::Public, t),
            2 => s.hb(NetId::Private, t),
            3 => s.feed(Input::Link { net: NetId::Public, up: x % 7 != 0 }, t),
            _ => s.feed(Input::Tick, t),
        }
        let d = s.e.next_deadline().unwrap();
        assert!(d > s.t0 + ms(t));
    }
}

#[test]
fn a_vetoed_takeover_is_not_retried_until_the_primary_is_back() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.acquire_result = (Held::None, true);
    s.run(0, 30_000, 1000, |t| [t < 4_000, t < 4_000]);
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 1);
    assert_eq!(s.states().last(), Some(&State::Vetoed));
    // Back, its private heartbeat read a moment after the public one:
    // no anomaly (the private silence counts from its return).
    s.hb(NetId::Public, 31_000);
    s.advance(31_001, false);
    s.hb(NetId::Private, 31_001);
    s.run(32_000, 33_000, 1000, |_| [true, true]);
    assert_eq!(s.states().last(), Some(&State::Watching));
    assert!(!s.states().iter().any(|st| matches!(st, State::Anomaly(_))), "{:?}", s.states());
    s.acquire_result = (Held::All, false);
    s.run(34_000, 40_000, 1000, |_| [false, false]);
    assert_eq!(s.states().last(), Some(&State::Holding));
}

#[test]
fn a_static_primary_says_no_goodbye_and_its_goodbye_is_not_trusted() {
    // Its addresses stay on the host, configured by the OS, after it stops.
    let mut st = settings(Role::Primary, 200, 600, 600);
    st.mode = Mode::Static;
    let mut s = Sim::new(st);
    s.feed(Input::Shutdown, 1_000);
    assert_eq!(s.count(|a| *a == Action::SendGoodbye), 0);
    assert_eq!(s.states().last(), Some(&State::Stopped));

    // A secondary hearing a goodbye from a static primary (an Apple-style
    // pair) waits for silence on both networks instead.
    let mut s = Sim::new(settings(Role::Secondary, 200, 600, 600));
    let flags = Flags(Flags::STATIC | Flags::PUBLIC_UP | Flags::PRIVATE_UP);
    for t in (0..=1_000).step_by(200) {
        for net in NetId::ALL {
            s.feed(Input::Heard { net, kind: Kind::Heartbeat, flags, claim: None, order: None }, t);
        }
    }
    s.feed(Input::Heard { net: NetId::Private, kind: Kind::Goodbye, flags, claim: None, order: None }, 1_050);
    s.advance(1_599, true);
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 0);
    s.advance(1_600, true);
    assert_eq!(s.when(State::Acquiring), Some(1_600));
}

#[test]
fn no_manual_takeover_while_a_static_primary_is_heard() {
    let mut s = Sim::new(settings(Role::Secondary, 200, 600, 600));
    let flags = Flags(Flags::STATIC | Flags::PUBLIC_UP | Flags::PRIVATE_UP);
    s.feed(Input::Heard { net: NetId::Public, kind: Kind::Heartbeat, flags, claim: None, order: None }, 0);
    s.feed(Input::Command(Command::Takeover), 10);
    assert!(s.actions.iter().any(|(_, a)| matches!(a, Action::Answer(Err(_)))));
    assert_eq!(s.count(|a| matches!(a, Action::Move { dir: Direction::Acquire, .. })), 0);
}

#[test]
fn a_host_dying_is_not_an_anomaly_first() {
    // Heartbeats leave one after the other: the private one 1 ms later.
    let mut s = Sim::new(settings(Role::Secondary, 200, 600, 600));
    for t in (0..=2_000).step_by(200) {
        s.hb(NetId::Public, t);
        s.hb(NetId::Private, t + 1);
    }
    s.advance(5_000, true);
    assert_eq!(s.states(), vec![State::Watching, State::Acquiring, State::Holding]);
    assert_eq!(s.when(State::Acquiring), Some(2_601));
    // A real anomaly is declared at dead_after: the other network carried
    // later heartbeats, so the primary is alive.
    let mut s = Sim::new(settings(Role::Secondary, 200, 600, 600));
    for t in (0..=5_000).step_by(200) {
        s.advance(t, false);
        if t <= 2_000 {
            s.hb(NetId::Public, t);
        }
        s.advance(t + 1, false);
        s.hb(NetId::Private, t + 1);
    }
    assert_eq!(s.states(), vec![State::Watching, State::Anomaly(NetId::Public)]);
    assert_eq!(s.when(State::Anomaly(NetId::Public)), Some(2_600));
    let tr = &s.log.iter().find(|(_, t)| t.to == State::Anomaly(NetId::Public)).unwrap().1;
    assert!(tr.detail.contains("for 600ms"), "{}", tr.detail);
}

/// Apple's text (or a static primary's heartbeat) on `net`.
fn static_hb(s: &mut Sim, net: NetId, flags: u16, at: u64) {
    s.feed(Input::Heard { net, kind: Kind::Heartbeat, flags: Flags(flags), claim: None, order: None }, at);
}

/// A static-mode secondary that took the addresses over at 3 s (nothing
/// heard since its start).
fn static_holding(recover: u64) -> Sim {
    let mut st = settings(Role::Secondary, 1000, 3000, recover);
    st.mode = Mode::Static;
    let mut s = Sim::new(st);
    s.advance(3_000, true);
    assert_eq!(s.e.state(), State::Holding);
    s
}

const APPLE: u16 = Flags::STATIC | Flags::PUBLIC_UP | Flags::PRIVATE_UP;

#[test]
fn static_primary_heard_on_private_with_public_up_gets_its_address_back() {
    // A Mac's public heartbeats come from the address we hold: unheard.
    // Its private ones, steady for recover_after, are enough.
    let mut s = static_holding(3000);
    for t in (10_000..=14_000).step_by(1000) {
        s.advance(t, false);
        static_hb(&mut s, NetId::Private, APPLE, t);
    }
    assert_eq!(s.when(State::Releasing), Some(13_000));
    // Without PUBLIC_UP the private network alone is not enough.
    let mut s = static_holding(3000);
    for t in (10_000..=20_000).step_by(1000) {
        s.advance(t, false);
        static_hb(&mut s, NetId::Private, Flags::STATIC | Flags::PRIVATE_UP, t);
    }
    s.advance(25_000, true);
    assert_eq!(s.e.state(), State::Holding);
}

#[test]
fn one_forged_text_does_not_make_a_static_secondary_give_back() {
    // Issue 16, item 4: Apple's text from `peer` forged once (or a few
    // times, never steadily) while the secondary holds. Apple gave back
    // at once; here the primary must be heard steadily for recover_after.
    let mut s = static_holding(3000);
    static_hb(&mut s, NetId::Private, APPLE, 10_000);
    s.advance(20_000, true);
    assert_eq!(s.e.state(), State::Holding, "{:?}", s.log);
    // Forged every 3.5 s: each one after a silence of dead_after (3 s)
    // starts a new steady run, which never lasts recover_after.
    for t in (20_000..60_000).step_by(3_500) {
        s.advance(t, false);
        static_hb(&mut s, NetId::Private, APPLE, t);
        static_hb(&mut s, NetId::Public, APPLE, t);
    }
    s.advance(70_000, true);
    assert_eq!(s.e.state(), State::Holding, "{:?}", s.log);
    // The deadline at the end of a steady run is asked for, so the
    // give-back does not wait for the next datagram.
    for t in (80_000..=83_000).step_by(1000) {
        s.advance(t, false);
        static_hb(&mut s, NetId::Private, APPLE, t);
    }
    s.advance(83_500, true);
    assert_eq!(s.when(State::Releasing), Some(83_000));
}

#[test]
fn recover_after_zero_is_apples_immediate_give_back() {
    let mut s = static_holding(0);
    static_hb(&mut s, NetId::Private, APPLE, 10_000);
    assert_eq!(s.when(State::Releasing), Some(10_000));
}

#[test]
fn apples_text_alone_on_the_public_network_is_checked_by_a_probe() {
    // Issue 16, item 4: the Mac is dead, its private network silent, and
    // someone sends Apple's text from a service address on the public LAN.
    // With Apple that was an anomaly for as long as the forger liked; here
    // a probe asks who holds the addresses.
    fn probes(s: &Sim) -> Vec<u64> {
        s.actions.iter().filter(|(_, a)| matches!(a, Action::Probe { .. })).map(|(t, _)| *t).collect()
    }
    fn probe_ids(s: &Sim) -> Vec<(u64, ProbeId)> {
        let probes = s.actions.iter().filter_map(|(t, a)| match a {
            Action::Probe { id, .. } => Some((*t, *id)),
            _ => None,
        });
        probes.collect()
    }
    // In 100 ms steps up to `until`: text every second on the public
    // network (until we hold the address: then the kernel drops it), on the
    // private one only until 5 s; each probe answered (`free` or not)
    // 300 ms after it was sent.
    fn answer(s: &mut Sim, until: u64, free: bool) {
        let mut t = s.last_hb;
        while t < until {
            t += 100;
            s.advance(t, false);
            for (_, id) in probe_ids(s).into_iter().filter(|&(p, _)| p + 300 == t) {
                s.feed(Input::Probed { id, free: Some(free) }, t);
            }
            if t % 1000 == 0 && s.e.state() != State::Holding {
                static_hb(s, NetId::Public, APPLE, t);
            }
            if t % 1000 == 0 && t <= 5_000 {
                static_hb(s, NetId::Private, APPLE, t);
            }
        }
        s.last_hb = t;
    }
    // With the takeover probe off and on (main's probe before every
    // takeover of a silent primary: one probe at a time, and this one
    // is not repeated by the takeover).
    for takeover_probe in [Duration::ZERO, ms(50)] {
        let mut st = settings(Role::Secondary, 1000, 3000, 3000);
        st.mode = Mode::Static;
        st.timing.takeover_probe = takeover_probe;
        let mut s = Sim::new(st);
        static_hb(&mut s, NetId::Public, APPLE, 0);
        static_hb(&mut s, NetId::Private, APPLE, 0);
        answer(&mut s, 8_000, false);
        // Anomaly at 8 s, probed at once.
        assert_eq!(s.when(State::Anomaly(NetId::Private)), Some(8_000));
        assert_eq!(probes(&s), vec![8_000]);
        // The Mac is alive (its private link broke): it answers. The anomaly
        // stays; the probe is repeated 10 dead_afters after the answer.
        answer(&mut s, 38_200, false);
        assert_eq!(probes(&s), vec![8_000]);
        answer(&mut s, 39_000, false);
        assert_eq!(probes(&s), vec![8_000, 38_300]);
        assert_eq!(s.e.state(), State::Anomaly(NetId::Private));
        // Nobody answers now: the text is not the primary's.
        answer(&mut s, 69_000, true);
        assert_eq!(probes(&s), vec![8_000, 38_300, 68_600]);
        assert_eq!(s.when(State::Holding), Some(68_900), "{:?}", s.log);
        let (_, tr) = s.log.iter().find(|(_, t)| t.to == State::Acquiring).unwrap();
        assert_eq!(tr.reason, Reason::BothNetworksSilent);
        assert!(tr.detail.contains("Apple's unauthenticated text"), "{}", tr.detail);
        // The text heard before the takeover did not stop it and does not undo
        // it (found by scenario_forged_text_on_the_public_network_...: given
        // back 1 ms after the takeover). Once we hold the address the forger's
        // text from it is dropped by the kernel; heard anyway, it needs a
        // steady run of recover_after counted from the takeover.
        s.advance(68_901, true);
        assert_eq!(s.e.state(), State::Holding, "{:?}", s.log);
        for t in (70_000..=71_000).step_by(1000) {
            s.advance(t, false);
            static_hb(&mut s, NetId::Public, APPLE, t);
        }
        s.advance(71_899, true);
        assert_eq!(s.e.state(), State::Holding, "{:?}", s.log);
        s.advance(71_900, true);
        assert_eq!(s.when(State::Releasing), Some(71_900));
    }
}

#[test]
fn a_v1_heartbeat_on_the_public_network_is_not_doubted() {
    // Protocol v1 (`order` set) carries a MAC: a private-network anomaly
    // is Apple's rule, no probe.
    let mut st = settings(Role::Secondary, 1000, 3000, 3000);
    st.mode = Mode::Static;
    let mut s = Sim::new(st);
    for (i, t) in (0..=30_000).step_by(1000).enumerate() {
        s.advance(t, false);
        let flags = Flags(APPLE);
        let order = Some(Order::of(7, i as u64 * 2 + 1));
        s.feed(Input::Heard { net: NetId::Public, kind: Kind::Heartbeat, flags, claim: None, order }, t);
        if t <= 5_000 {
            let order = Some(Order::of(7, i as u64 * 2 + 2));
            s.feed(Input::Heard { net: NetId::Private, kind: Kind::Heartbeat, flags, claim: None, order }, t);
        }
    }
    assert_eq!(s.e.state(), State::Anomaly(NetId::Private));
    assert_eq!(s.count(|a| matches!(a, Action::Probe { .. })), 0);
}

#[test]
fn a_backlog_after_a_freeze_is_not_an_anomaly() {
    // Frozen for 2 s (no tick at all), then one reader's backlog comes
    // first: the other network's datagrams are right behind it.
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    for t in (0..=1_000).step_by(100) {
        s.hb(NetId::Public, t);
        s.hb(NetId::Private, t);
    }
    s.advance(1_050, true);
    s.hb(NetId::Private, 3_000);
    s.hb(NetId::Public, 3_001);
    s.advance(3_200, true);
    assert_eq!(s.states(), vec![State::Watching], "{:?}", s.log);
}

/// The primary's heartbeat and claim of generation `gen`, as a managed
/// primary sends them every interval while it claims.
fn claim_from(s: &mut Sim, at: u64, gen: u64, flags: u16) {
    for (i, kind) in [Kind::Heartbeat, Kind::Claim].into_iter().enumerate() {
        for net in NetId::ALL {
            let order = Some(Order::of(gen, at * 2 + i as u64));
            s.feed(Input::Heard { net, kind, flags: Flags(flags), claim: Some(ClaimId(gen)), order }, at);
        }
    }
}

/// A secondary that took over at 7 s (the primary silent from 4 s).
fn holding_secondary(recover: u64) -> Sim {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, recover));
    s.run(0, 10_000, 1000, |t| [t < 4_000, t < 4_000]);
    assert_eq!(s.states().last(), Some(&State::Holding));
    s
}

#[test]
fn a_returning_primary_gets_its_addresses_after_recover_after() {
    let mut s = holding_secondary(3000);
    // Back at 20 s, claiming at once: given back 3 s later, not before.
    for t in (20_000..=24_000).step_by(500) {
        s.advance(t, false);
        claim_from(&mut s, t, 7, 0);
    }
    assert_eq!(s.when(State::Releasing), Some(23_000));
    let tr = &s.log.iter().find(|(_, t)| t.to == State::Releasing).unwrap().1;
    assert_eq!(tr.reason, Reason::PrimaryBack);
    assert!(tr.detail.contains("heard steadily for 3.0s"), "{}", tr.detail);
    assert!(s.actions.iter().any(|(at, a)| *at == 23_000 && matches!(a, Action::SendReleased { .. })));
}

#[test]
fn a_crash_looping_primary_is_not_given_the_addresses() {
    let mut s = holding_secondary(3000);
    // It restarts every 2 s (a new generation each time), claiming at
    // once, with no silence of dead_after between its runs.
    for t in (20_000..40_000).step_by(500) {
        s.advance(t, false);
        claim_from(&mut s, t, t / 2000, 0);
    }
    assert_eq!(s.states().last(), Some(&State::Holding), "{:?}", s.log);
    // Then it stays up: the run counts from its last start (40 s).
    for t in (40_000..=45_000).step_by(500) {
        s.advance(t, false);
        claim_from(&mut s, t, 20, 0);
    }
    assert_eq!(s.when(State::Releasing), Some(43_000));
}

#[test]
fn a_primary_that_stops_claiming_is_not_given_back_later() {
    let mut s = holding_secondary(3000);
    // One claim at 20 s, then only heartbeats (say its public link went
    // down and it declares nothing yet): the claim expires.
    claim_from(&mut s, 20_000, 7, 0);
    s.run(20_500, 30_000, 500, |_| [true, true]);
    assert_eq!(s.states().last(), Some(&State::Holding));
}

#[test]
fn an_operators_takeover_on_the_primary_is_not_damped() {
    let mut s = holding_secondary(3000);
    claim_from(&mut s, 20_000, 7, Flags::MANUAL);
    assert_eq!(s.when(State::Releasing), Some(20_000));
}

#[test]
fn the_primary_mails_that_the_secondary_keeps_only_after_recover_after() {
    let mut s = Sim::new(settings(Role::Primary, 200, 600, 2000));
    for t in (0..4_000).step_by(200) {
        s.advance(t, false);
        let input = Input::Heard {
            net: NetId::Private,
            kind: Kind::Status,
            flags: Flags(Flags::HOLDING),
            claim: None,
            order: None,
        };
        s.feed(input, t);
    }
    // The claim began at 0: the secondary had 2 s to hear us steadily and
    // 600 ms more to answer.
    let kept = s.actions.iter().find(|(_, a)| matches!(a, Action::Notify(Notice::PeerKeeps)));
    assert_eq!(kept.map(|(at, _)| *at), Some(2_600));
}

#[test]
fn a_claim_withdrawn_by_a_primary_that_declares_the_addresses_free_is_not_answered() {
    // Found by the simulator (seed 80169): the primary claimed, then its
    // service checks failed and it declared the addresses free; the
    // secondary gave them back on the old claim, leaving nobody.
    let mut s = holding_secondary(300);
    claim_from(&mut s, 20_000, 7, 0);
    let free = Flags::ADDRESS_FREE | Flags::UNFIT | Flags::PUBLIC_UP | Flags::PRIVATE_UP;
    for t in (20_100..=22_000).step_by(100) {
        s.advance(t, false);
        for net in NetId::ALL {
            let order = Some(Order::of(7, t * 2 + 10));
            s.feed(
                Input::Heard {
                    net,
                    kind: Kind::Heartbeat,
                    flags: Flags(free),
                    claim: Some(ClaimId(7)),
                    order,
                },
                t,
            );
        }
    }
    assert_eq!(s.states().last(), Some(&State::Holding), "{:?}", s.log);
}

#[test]
fn a_healthy_secondary_sends_its_status_on_one_network_in_turn() {
    let statuses = |dead: u64, flags: u16| {
        let mut s = Sim::new(settings(Role::Secondary, 100, dead, 300));
        for t in (0..=2_000).step_by(100) {
            s.advance(t, false);
            for net in NetId::ALL {
                s.feed(
                    Input::Heard {
                        net,
                        kind: Kind::Heartbeat,
                        flags: Flags(flags),
                        claim: None,
                        order: None,
                    },
                    t,
                );
            }
        }
        let sent: Vec<Option<NetId>> = s
            .actions
            .iter()
            .filter(|(at, _)| *at >= 1_000)
            .filter_map(|(_, a)| match a {
                Action::SendStatus { only } => Some(*only),
                _ => None,
            })
            .collect();
        assert!(sent.len() >= 9, "{sent:?}");
        sent
    };
    let hears = Flags::HEARS_PUBLIC | Flags::HEARS_PRIVATE | Flags::PUBLIC_UP | Flags::PRIVATE_UP;
    let healthy = statuses(300, hears);
    assert!(healthy.windows(2).all(|w| w[0].is_some() && w[1].is_some() && w[0] != w[1]), "{healthy:?}");
    // The primary does not hear us on the private network: both, always.
    assert!(statuses(300, hears & !Flags::HEARS_PRIVATE).iter().all(Option::is_none));
    // dead_after of two intervals: a network's status every two intervals
    // would be late.
    assert!(statuses(200, hears).iter().all(Option::is_none));
}

/// `State::ALL` and `Reason::ALL` (one metric series each) list every
/// variant once: as many as `as_str` has arms, each name once.
#[test]
fn every_state_and_reason_once() {
    let src = include_str!("types.rs");
    let arms = |prefix: &str| {
        src.lines().filter(|l| l.trim_start().starts_with(prefix) && l.contains(" => \"")).count()
    };
    assert_eq!(arms("State::"), State::ALL.len());
    assert_eq!(arms("Reason::"), Reason::ALL.len());
    let states: std::collections::BTreeSet<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
    let reasons: std::collections::BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!((states.len(), reasons.len()), (State::ALL.len(), Reason::ALL.len()));
}

#[test]
fn a_holding_secondary_whose_public_link_goes_down_drops_the_addresses() {
    // Found by the pair test: isolated, it kept them; the primary's probe
    // found nobody and it took them; the cable back made two owners.
    let mut s = holding_secondary(3000);
    s.feed(Input::Link { net: NetId::Public, up: false }, 12_000);
    assert_eq!(s.when(State::Releasing), Some(12_000));
    let tr = &s.log.iter().find(|(_, t)| t.to == State::Releasing).unwrap().1;
    assert_eq!(tr.reason, Reason::OwnPublicLinkDown);
    assert!(!s.e.holding());
    // Back, the primary still silent: taken again through the watch.
    s.feed(Input::Link { net: NetId::Public, up: true }, 13_000);
    s.advance(20_000, true);
    assert_eq!(s.states().last(), Some(&State::Holding), "{:?}", s.states());
}

#[test]
fn a_single_round_of_claims_is_not_enough_to_give_back() {
    let mut s = holding_secondary(0);
    // Heard steadily from 20 s; one round of claims at 25 s, then none.
    s.run(20_000, 25_000, 500, |_| [true, true]);
    claim_from(&mut s, 25_000, 0, 0);
    s.run(25_500, 30_000, 500, |_| [true, true]);
    assert_eq!(s.states().last(), Some(&State::Holding), "{:?}", s.log);
}

/// Mutation testing (issue 29, item 6: `secondary_deadlines` with the
/// holding secondary's give-back deadlines gone survived). A claim round
/// that stopped ends at dead_after after its last claim, on the clock: a
/// claim that comes a moment later (before anything else wakes the
/// engine) starts a new round, which must last half an interval like any
/// other, and is not taken as the old round going on.
#[test]
fn a_claim_round_that_stopped_ends_on_time_and_a_new_one_starts_afresh() {
    let mut s = holding_secondary(3000);
    let hb = |s: &mut Sim, at: u64| {
        for net in NetId::ALL {
            let order = Some(Order::of(7, at * 2));
            s.feed(Input::Heard { net, kind: Kind::Heartbeat, flags: Flags(0), claim: None, order }, at);
        }
    };
    // Heard again from 20 s; one claim at 20.1 s, then heartbeats only,
    // off the secondary's own send times (every second) and off the end
    // of recover_after (23 s): the round ends at 23.1 s.
    s.advance(20_000, false);
    hb(&mut s, 20_000);
    s.advance(20_100, false);
    claim_from(&mut s, 20_100, 7, 0);
    for t in (20_250..=22_750).step_by(500) {
        s.advance(t, false);
        hb(&mut s, t);
    }
    // Claims again at 23.15 s (its claim first, the heartbeat of that
    // round lost), steady for recover_after by then: a new round, given
    // back half an interval later (23.65 s), not at once.
    s.advance(23_150, false);
    let claim = Input::Heard {
        net: NetId::Private,
        kind: Kind::Claim,
        flags: Flags(0),
        claim: Some(ClaimId(7)),
        order: Some(Order::of(7, 23_150 * 2 + 1)),
    };
    s.feed(claim, 23_150);
    assert_eq!(s.states().last(), Some(&State::Holding), "{:?}", s.log);
    s.advance(23_250, false);
    hb(&mut s, 23_250);
    s.advance(23_650, false);
    claim_from(&mut s, 23_650, 7, 0);
    assert_eq!(s.when(State::Releasing), Some(23_650), "{:?}", s.log);
}

/// Mutation testing (issue 29, item 6: `Engine::stopping` answering true
/// survived). The simulator relies on it: its world restarts a node only
/// once it has stopped, and invariants (c), (f) and (b) leave a stopping
/// node out; an engine that always said "stopping" would switch them off.
#[test]
fn an_engine_is_stopping_only_after_a_shutdown() {
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    s.run(0, 1_000, 100, |_| [true, true]);
    assert!(!s.e.stopping());
    s.feed(Input::Shutdown, 1_050);
    assert!(s.e.stopping());
}

/// Mutation testing (issue 29, item 6: `doubt_public_text` starting a
/// probe while one is under way survived). One probe of Apple's text at a
/// time: text that arrives while the probe waits for its answer starts no
/// second one (whose id would make the first one's answer count for
/// nothing).
#[test]
fn apples_text_while_its_probe_runs_starts_no_second_probe() {
    let mut st = settings(Role::Secondary, 1000, 3000, 3000);
    st.mode = Mode::Static;
    let mut s = Sim::new(st);
    static_hb(&mut s, NetId::Public, APPLE, 0);
    static_hb(&mut s, NetId::Private, APPLE, 0);
    for t in (1_000..=8_000).step_by(1_000) {
        s.advance(t, false);
        static_hb(&mut s, NetId::Public, APPLE, t);
        if t <= 5_000 {
            static_hb(&mut s, NetId::Private, APPLE, t);
        }
    }
    let probes = |s: &Sim| s.count(|a| matches!(a, Action::Probe { .. }));
    assert_eq!(s.when(State::Anomaly(NetId::Private)), Some(8_000));
    assert_eq!(probes(&s), 1);
    // More text before the answer: still one probe.
    for t in [8_050, 8_100] {
        s.advance(t, false);
        static_hb(&mut s, NetId::Public, APPLE, t);
    }
    assert_eq!(probes(&s), 1, "{:?}", s.actions);
}

/// What a node says of itself (`holding`, `has_addresses`, the flags of
/// every datagram it sends) and of its peer (`peer_flags`, `peer_left`),
/// as status, the metrics and the peer read them. A secondary, managed or
/// static, says it holds once it took over, and that an address is here
/// when someone else put one on it; only a static *primary* never does:
/// its address is its own, not a service address it holds.
#[test]
fn what_a_node_says_of_itself_and_of_its_peer() {
    use super::test_driver::{settings, timing, Driver};
    let hb = Kind::Heartbeat;
    for mode in [Mode::Managed, Mode::Static] {
        let mut d = Driver::new(settings(Role::Secondary, mode, timing(200, 600, 600, 0)), 7);
        assert_eq!((d.e.peer_flags(), d.e.peer_left()), (None, false), "{mode:?}");
        let up = Flags::HOLDING | Flags::PUBLIC_UP;
        d.hear(0, NetId::Private, hb, up, Some(ClaimId(0)), Some(Order::of(1, 1)));
        d.hear(0, NetId::Public, hb, up, Some(ClaimId(0)), Some(Order::of(1, 2)));
        assert_eq!((d.e.peer_flags(), d.e.peer_left()), (Some(Flags(up)), false), "{mode:?}");
        assert!(!d.e.holding() && !d.e.has_addresses(), "{mode:?}");
        // An address put on this node from outside: here, not held.
        d.feed(Input::Kernel(Held::Some), 100);
        assert!(!d.e.holding() && d.e.has_addresses(), "{mode:?}");
        assert!(!d.e.flags(d.t0 + ms(100)).has(Flags::HOLDING), "{mode:?}");
        d.report(150, Held::None);
        assert!(!d.e.has_addresses(), "{mode:?}");
        // Both networks silent from 0 on: taken over at dead_after.
        d.answer = true;
        d.until(2_000);
        assert_eq!(d.e.state(), State::Holding, "{mode:?}");
        assert!(d.e.holding() && d.e.has_addresses(), "{mode:?}");
        let f = d.e.flags(d.t0 + ms(2_000));
        assert!(f.has(Flags::HOLDING) && !f.has(Flags::ADDRESS_FREE), "{mode:?}: {f:?}");
        assert!(!f.has(Flags::STATIC) && !f.has(Flags::MANUAL), "a secondary is neither: {mode:?}: {f:?}");
        // The primary stops on purpose: its goodbye says it left, and
        // nothing of its flags (those of its last heartbeat stay).
        d.hear(
            2_100,
            NetId::Private,
            Kind::Goodbye,
            Flags::PUBLIC_UP,
            Some(ClaimId(0)),
            Some(Order::of(1, 50)),
        );
        assert_eq!((d.e.peer_flags(), d.e.peer_left()), (Some(Flags(up)), true), "{mode:?}");
    }
    let mut d = Driver::new(settings(Role::Primary, Mode::Static, timing(200, 600, 600, 0)), 7);
    d.answer = true;
    d.until(3_000);
    d.feed(Input::Kernel(Held::All), 3_000);
    assert!(!d.e.holding() && !d.e.has_addresses(), "{:?}", d.e.state());
    let f = d.e.flags(d.t0 + ms(3_000));
    assert!(f.has(Flags::STATIC) && !f.has(Flags::HOLDING), "{f:?}");
}

/// A give-back that succeeded is no failure: the next takeover that fails
/// is tried again after dead_after, not after the longer back-off of moves
/// that failed in a row.
#[test]
fn a_successful_give_back_leaves_no_back_off_behind() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 30_000, 1000, |t| [!(5_000..20_000).contains(&t), !(5_000..20_000).contains(&t)]);
    for at in [30_000, 31_000] {
        s.claim(at);
    }
    assert_eq!(s.states().last(), Some(&State::Watching));
    s.run(32_000, 40_000, 1000, |_| [true, true]);
    // The primary falls silent again, and this takeover fails.
    s.acquire_result = (Held::None, false);
    s.run(41_000, 50_000, 1000, |_| [false, false]);
    let tries: Vec<u64> =
        s.log.iter().filter(|(at, t)| *at > 40_000 && t.to == State::Acquiring).map(|(at, _)| *at).collect();
    assert_eq!(tries, vec![43_000, 46_000]);
}

/// A takeover that put only some of the addresses on this node holds
/// them, and says so in its transition and its mail.
#[test]
fn a_partial_takeover_says_what_it_could_not_do() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.acquire_result = (Held::Some, false);
    s.run(0, 5_000, 1000, |t| [t < 2_000, t < 2_000]);
    let tr = &s.log.iter().find(|(_, t)| t.from == State::Acquiring).expect("the takeover ended").1;
    assert_eq!((tr.to, tr.detail.as_str()), (State::Holding, "some of the addresses could not be added"));
    let mailed = s.count(|a| {
        matches!(a, Action::Notify(Notice::Move { dir: Direction::Acquire, outcome: Outcome::Partial, .. }))
    });
    assert_eq!(mailed, 1);
}

/// The moves a reload starts: `(direction, reason)` of each, from action
/// index `from` on.
fn moves_since(s: &Sim, from: usize) -> Vec<(Direction, Reason)> {
    let moves = s.actions[from..].iter().filter_map(|(_, a)| match a {
        Action::Move { dir, reason, .. } => Some((*dir, *reason)),
        _ => None,
    });
    moves.collect()
}

fn reload(s: &mut Sim, at: u64, addresses_changed: bool) -> Vec<(Direction, Reason)> {
    let from = s.actions.len();
    let settings = s.e.settings();
    s.feed(Input::Reload(Reload { settings, addresses_changed }), at);
    assert!(s.actions[from..].iter().any(|(_, a)| *a == Action::Reconfigure), "the reload is applied");
    moves_since(s, from)
}

/// A reload brings the kernel in line only on a node that holds the
/// addresses and only when the list changed: a static primary's addresses
/// are the OS's, a watching node has none, an unchanged list needs no move.
#[test]
fn a_reload_moves_only_a_holder_whose_address_list_changed() {
    let mut p = Sim::new(settings(Role::Primary, 200, 600, 600));
    p.advance(1_000, true);
    p.feed(Input::Probed { id: last_probe(&p.actions), free: Some(true) }, 1_000);
    assert_eq!(p.e.state(), State::Active);
    assert_eq!(reload(&mut p, 1_100, false), vec![], "a managed primary, the same list");
    assert_eq!(p.e.state(), State::Active);
    let moved = reload(&mut p, 1_200, true);
    assert_eq!(moved, vec![(Direction::Acquire, Reason::Reload)], "a managed primary, a new list");
    assert_eq!(p.e.state(), State::Active);

    let mut st = settings(Role::Primary, 200, 600, 600);
    st.mode = Mode::Static;
    let mut p = Sim::new(st);
    assert_eq!(p.e.state(), State::Active);
    assert_eq!(reload(&mut p, 100, true), vec![], "a static primary");

    let mut s = static_holding(3_000);
    let moved = reload(&mut s, 3_100, true);
    assert_eq!(moved, vec![(Direction::Acquire, Reason::Reload)], "a static secondary holding");
    assert_eq!(reload(&mut s, 3_200, false), vec![], "a static secondary holding, the same list");

    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 2_000, 1000, |_| [true, true]);
    assert_eq!(s.e.state(), State::Watching);
    assert_eq!(reload(&mut s, 2_100, true), vec![], "a watching secondary");
    assert_eq!(s.e.state(), State::Watching);
}

/// The role and the mode need a restart (`config::restart_needed` refuses
/// such a reload): a reload that names others is not applied in part.
#[test]
fn a_reload_that_names_another_role_or_mode_changes_no_setting() {
    let before = settings(Role::Primary, 200, 600, 600);
    for (role, mode) in [(Role::Secondary, Mode::Managed), (Role::Primary, Mode::Static)] {
        let mut s = Sim::new(before);
        let mut other = settings(role, 100, 300, 300);
        other.mode = mode;
        s.feed(Input::Reload(Reload { settings: other, addresses_changed: false }), 100);
        assert_eq!(s.e.settings(), before, "{role:?} {mode:?}");
    }
}

/// The reason a secondary's give-back ends with says who asked for it:
/// an operator's `release`, or the primary's claim.
#[test]
fn a_give_back_says_who_asked_for_it() {
    // The primary is heard again (the secondary stands down only for
    // a primary that wants the addresses) and has not claimed yet.
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 10_000, 1000, |t| [!(2_000..8_000).contains(&t), !(2_000..8_000).contains(&t)]);
    assert_eq!(s.e.state(), State::Holding);
    s.feed(Input::Command(Command::Release), 10_100);
    let last = &s.log.last().expect("transitions").1;
    assert_eq!((last.from, last.to, last.reason), (State::Releasing, State::Watching, Reason::Manual));

    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.run(0, 10_000, 1000, |t| [!(2_000..8_000).contains(&t), !(2_000..8_000).contains(&t)]);
    assert_eq!(s.e.state(), State::Holding);
    for at in [10_000, 11_000] {
        s.claim(at);
    }
    let last = &s.log.last().expect("transitions").1;
    assert_eq!((last.from, last.to, last.reason), (State::Releasing, State::Watching, Reason::Released));
}

/// A second stop request (SIGTERM twice) after the engine stopped asks for
/// nothing more: no second goodbye, no second exit.
#[test]
fn a_second_shutdown_after_the_stop_does_nothing() {
    for role in [Role::Primary, Role::Secondary] {
        let mut s = Sim::new(settings(role, 200, 600, 600));
        s.feed(Input::Shutdown, 100);
        assert_eq!(s.e.state(), State::Stopped, "{role:?}");
        let before = s.actions.len();
        s.feed(Input::Shutdown, 200);
        assert_eq!(s.actions[before..], [], "{role:?}");
    }
}

/// The periodic send keeps its grid: a wake-up a little late sends at
/// once, and the next one is due an interval after the one it missed, not
/// an interval after the late wake-up (which would slow the heartbeat by
/// every lateness, the timer slack included). One that fell a whole
/// interval behind starts a new grid instead of sending a burst.
#[test]
fn the_periodic_send_keeps_its_grid_when_a_wake_up_is_late() {
    let mut s = Sim::new(settings(Role::Primary, 200, 600, 600));
    let heartbeats =
        |s: &Sim, at: u64| s.actions.iter().filter(|(t, a)| *t == at && *a == Action::SendHeartbeat).count();
    assert_eq!(heartbeats(&s, 0), 1);
    for (at, sends) in [(203, 1), (399, 0), (400, 1), (1_000, 1), (1_100, 0), (1_199, 0), (1_200, 1)] {
        s.feed(Input::Tick, at);
        assert_eq!(heartbeats(&s, at), sends, "at {at} ms");
    }
}

/// A stall that leaves one network's last heartbeat older than dead_after
/// and the other's not: its backlog is read next, so no anomaly is
/// declared while the monitor settles (it would be mailed, and cleared a
/// moment later).
#[test]
fn a_stall_with_one_network_behind_declares_no_anomaly() {
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    s.run(0, 900, 100, |t| [t <= 800, true]);
    // Frozen from 900 to 1 150: the public heartbeats of 900 to 1 100
    // wait in its reader's queue.
    s.feed(Input::Tick, 1_150);
    for at in [1_151, 1_152] {
        s.hb(NetId::Public, at);
    }
    s.run(1_200, 2_000, 100, |_| [true, true]);
    assert!(!s.states().iter().any(|st| matches!(st, State::Anomaly(_))), "{:?}", s.states());
}

/// A takeover the operator's Test refused stands until the primary is
/// heard again: on one network is enough to leave it.
#[test]
fn a_refused_takeover_ends_when_the_primary_is_heard_on_one_network() {
    let mut s = Sim::new(settings(Role::Secondary, 1000, 3000, 3000));
    s.acquire_result = (Held::None, true);
    s.run(0, 10_000, 1000, |t| [t < 4_000, t < 4_000]);
    assert_eq!(s.e.state(), State::Vetoed);
    s.hb(NetId::Private, 10_500);
    let back = s
        .log
        .iter()
        .find(|(_, t)| t.from == State::Vetoed)
        .map(|(at, t)| (*at, t.to, t.reason, t.detail.clone()));
    assert_eq!(
        back,
        Some((10_500, State::Watching, Reason::NetworkBack, "the primary is heard again".to_string()))
    );
}

/// The first word of the watch says why: the start, not a network back.
#[test]
fn a_secondary_that_hears_its_primary_at_start_says_so() {
    let mut s = Sim::new(settings(Role::Secondary, 100, 300, 300));
    s.run(0, 500, 100, |_| [true, true]);
    let first = s.log.first().map(|(_, t)| (t.from, t.to, t.reason));
    assert_eq!(first, Some((State::Starting, State::Watching, Reason::Startup)));
}
