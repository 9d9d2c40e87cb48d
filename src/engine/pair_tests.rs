//! A primary and a secondary engine wired through a simulated network on a
//! virtual clock: cables, datagram loss and restarts, with one invariant
//! checked after every single step — the service address is never on both
//! nodes while both can be reached on the public network.

use super::*;
use crate::config::{Failback, Mode};
use crate::proto::Kind;
use std::collections::VecDeque;

const P: usize = 0;
const S: usize = 1;
const LATENCY: u64 = 1;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Node {
    e: Engine,
    holds: bool,
    /// Cables: [public, private].
    plugged: [bool; 2],
    log: Vec<(u64, State, Reason)>,
}

struct Pair {
    t0: Instant,
    now: u64,
    n: [Node; 2],
    /// In flight: (arrival, to, net, kind, flags, claim).
    wire: VecDeque<(u64, usize, NetId, Kind, Flags, ClaimId)>,
    /// Datagrams for which this returns true are lost.
    drop: Box<dyn FnMut(u64, usize, Kind) -> bool>,
    seq: u64,
    both_held_ms: u64,
    /// Without loss two owners is a bug at once; with loss a false takeover
    /// can happen (as the timing predicts) and must be resolved quickly.
    strict: bool,
    episode_start: Option<u64>,
    longest_episode: u64,
    answers: Vec<Result<String, String>>,
}

fn settings(role: Role) -> Settings {
    Settings {
        role,
        mode: Mode::Managed,
        failback: Failback::Auto,
        timing: Timing {
            interval: ms(100),
            dead_after: ms(300),
            recover_after: ms(300),
            startup_grace: Duration::ZERO,
            takeover_probe: Duration::ZERO,
        },
        gates_takeover: true,
    }
}

impl Pair {
    fn new() -> Pair {
        let t0 = Instant::now();
        let node = |role| Node {
            e: Engine::new(settings(role), t0, 1000),
            holds: false,
            plugged: [true, true],
            log: vec![],
        };
        let mut p = Pair {
            t0,
            now: 0,
            n: [node(Role::Primary), node(Role::Secondary)],
            wire: VecDeque::new(),
            drop: Box::new(|_, _, _| false),
            seq: 0,
            both_held_ms: 0,
            strict: true,
            episode_start: None,
            longest_episode: 0,
            answers: vec![],
        };
        p.input(P, Input::Tick);
        p.input(S, Input::Tick);
        p
    }

    fn at(&self, t: u64) -> Instant {
        self.t0 + ms(t)
    }

    fn input(&mut self, who: usize, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(i) = queue.pop_front() {
            let actions = self.n[who].e.step(i, self.at(self.now));
            for a in actions {
                match a {
                    Action::Transition(t) => self.n[who].log.push((self.now, t.to, t.reason)),
                    Action::Move { id, dir, .. } => {
                        self.n[who].holds = dir == Direction::Acquire;
                        let held = if dir == Direction::Acquire { Held::All } else { Held::None };
                        queue.push_back(Input::Moved(MoveReport { id, held, vetoed: false }));
                    }
                    Action::Probe { id, .. } => {
                        // The other node answers ARP if it holds the address
                        // and is on the public LAN with us.
                        let other = &self.n[1 - who];
                        let seen = other.holds && other.plugged[0] && self.n[who].plugged[0];
                        queue.push_back(Input::Probed { id, free: Some(!seen) });
                    }
                    Action::SendHeartbeat => self.send(who, Kind::Heartbeat, None, None),
                    Action::SendStatus { only } => self.send(who, Kind::Status, None, only),
                    Action::SendGoodbye => self.send(who, Kind::Goodbye, None, None),
                    Action::SendClaim { id } => self.send(who, Kind::Claim, Some(id), None),
                    Action::SendReleased { id } => self.send(who, Kind::Released, Some(id), None),
                    Action::Notify(_) | Action::Exit | Action::Reconfigure | Action::CheckKernel => {}
                    Action::Answer(a) => self.answers.push(a),
                }
            }
            self.check();
        }
    }

    fn send(&mut self, from: usize, kind: Kind, claim: Option<ClaimId>, only: Option<NetId>) {
        let flags = self.n[from].e.flags(self.at(self.now));
        let claim = claim.unwrap_or(self.n[from].e.claim_id());
        for net in NetId::ALL.into_iter().filter(|&n| only.is_none_or(|o| o == n)) {
            self.seq += 1;
            let to = 1 - from;
            let up = self.n[from].plugged[net.index()] && self.n[to].plugged[net.index()];
            if up && !(self.drop)(self.seq, from, kind) {
                self.wire.push_back((self.now + LATENCY, to, net, kind, flags, claim));
            }
        }
    }

    fn check(&mut self) {
        let [p, s] = &self.n;
        let both = p.holds && s.holds && p.plugged[0] && s.plugged[0];
        match (both, self.episode_start) {
            (true, None) => self.episode_start = Some(self.now),
            (false, Some(t)) => {
                self.longest_episode = self.longest_episode.max(self.now - t);
                self.episode_start = None;
            }
            _ => {}
        }
        let [p, s] = &self.n;
        assert!(
            !(self.strict && both),
            "two owners at {} ms\nprimary {:?}\nsecondary {:?}",
            self.now,
            p.log,
            s.log
        );
    }

    /// Runs the world until `until` ms.
    fn run(&mut self, until: u64) {
        loop {
            let t0 = self.t0;
            let deadline =
                move |n: &Node| n.e.next_deadline().map(|d| d.duration_since(t0).as_millis() as u64);
            let next_wire = self.wire.iter().map(|w| w.0).min();
            let candidates = [deadline(&self.n[P]), deadline(&self.n[S]), next_wire];
            let Some(next) = candidates.into_iter().flatten().min() else {
                break;
            };
            if next > until {
                break;
            }
            let step = next.max(self.now) - self.now;
            if self.n[P].holds && self.n[S].holds {
                self.both_held_ms += step;
            }
            self.now = next.max(self.now);
            // Datagrams that arrive now go first (the monitor reads its
            // channel before acting on a timeout).
            while let Some(i) = self.wire.iter().position(|w| w.0 <= self.now) {
                let (_, to, net, kind, flags, claim) = self.wire.remove(i).unwrap();
                self.input(to, Input::Heard { net, kind, flags, claim: Some(claim), order: None });
            }
            for who in [P, S] {
                if deadline(&self.n[who]).is_some_and(|d| d <= self.now) {
                    self.input(who, Input::Tick);
                }
            }
        }
        self.now = until.max(self.now);
    }

    fn cable(&mut self, who: usize, net: NetId, plugged: bool) {
        self.n[who].plugged[net.index()] = plugged;
        // The node sees its carrier change.
        self.input(who, Input::Link { net, up: plugged });
    }

    fn restart(&mut self, who: usize) {
        let role = if who == P { Role::Primary } else { Role::Secondary };
        self.n[who].e = Engine::new(settings(role), self.at(self.now), 1000 + self.now * 1000);
        self.n[who].log.push((self.now, State::Starting, Reason::Startup));
        if self.n[who].holds {
            self.input(who, Input::Kernel(Held::All));
        }
        for net in NetId::ALL {
            let up = self.n[who].plugged[net.index()];
            self.input(who, Input::Link { net, up });
        }
        self.input(who, Input::Tick);
    }

    fn holder(&self) -> &'static str {
        match (self.n[P].holds, self.n[S].holds) {
            (true, false) => "primary",
            (false, true) => "secondary",
            (false, false) => "nobody",
            (true, true) => "both",
        }
    }
}

#[test]
fn start_primary_takes_the_address_secondary_watches() {
    let mut w = Pair::new();
    w.run(2_000);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.n[S].e.state(), State::Watching);
    assert_eq!(w.both_held_ms, 0);
}

#[test]
fn host_falls_off_the_network_and_comes_back() {
    let mut w = Pair::new();
    w.run(2_000);
    w.cable(P, NetId::Public, false);
    w.cable(P, NetId::Private, false);
    w.run(3_000);
    assert_eq!(w.holder(), "secondary");
    w.cable(P, NetId::Public, true);
    w.cable(P, NetId::Private, true);
    w.run(5_000);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.n[S].e.state(), State::Watching);
    assert_eq!(w.both_held_ms, 0);
}

#[test]
fn primary_public_link_down_moves_the_address_at_once() {
    let mut w = Pair::new();
    w.run(2_000);
    w.cable(P, NetId::Public, false);
    // The declaration travels on the private network: a few ms, not dead_after.
    w.run(2_010);
    assert_eq!(w.holder(), "secondary");
    let took = w.n[S].log.iter().find(|l| l.1 == State::Acquiring).unwrap();
    assert_eq!(took.2, Reason::PrimaryPublicDown);
    assert!(took.0 < 2_010, "{took:?}");
    w.cable(P, NetId::Public, true);
    w.run(3_000);
    assert_eq!(w.holder(), "primary");
}

#[test]
fn private_link_down_changes_nothing() {
    let mut w = Pair::new();
    w.run(2_000);
    w.cable(S, NetId::Private, false);
    w.run(10_000);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.n[S].e.state(), State::Anomaly(NetId::Private));
}

#[test]
fn graceful_stop_hands_over_without_waiting() {
    let mut w = Pair::new();
    w.run(2_000);
    w.input(P, Input::Shutdown);
    w.run(2_005);
    assert_eq!(w.holder(), "secondary");
    assert_eq!(w.n[P].e.state(), State::Stopped);
}

#[test]
fn primary_restart_while_secondary_holds() {
    let mut w = Pair::new();
    w.run(2_000);
    w.input(P, Input::Shutdown);
    w.run(3_000);
    assert_eq!(w.holder(), "secondary");
    w.restart(P);
    w.run(4_000);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.both_held_ms, 0);
}

#[test]
fn secondary_restart_while_holding_adopts_the_address() {
    let mut w = Pair::new();
    w.run(2_000);
    w.cable(P, NetId::Public, false);
    w.cable(P, NetId::Private, false);
    w.run(3_000);
    w.restart(S);
    w.run(3_500);
    assert_eq!(w.holder(), "secondary");
    assert!(w.n[S].log.iter().any(|l| l.2 == Reason::Adopted));
    w.cable(P, NetId::Public, true);
    w.cable(P, NetId::Private, true);
    w.run(5_000);
    assert_eq!(w.holder(), "primary");
}

#[test]
fn lost_claims_and_releases_only_delay_the_give_back() {
    let mut w = Pair::new();
    w.run(2_000);
    w.cable(P, NetId::Public, false);
    w.cable(P, NetId::Private, false);
    w.run(3_000);
    // Drop four out of five claims and releases.
    w.drop = Box::new(|seq, _, kind| matches!(kind, Kind::Claim | Kind::Released) && seq % 5 != 0);
    w.cable(P, NetId::Public, true);
    w.cable(P, NetId::Private, true);
    w.run(8_000);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.both_held_ms, 0);
}

#[test]
fn random_loss_and_cable_chaos_never_make_two_owners() {
    // The invariant is checked after every step inside `Pair`; this drives
    // many random worlds through it.
    for seed in 1..40u64 {
        let mut w = Pair::new();
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let loss = if seed % 2 == 0 { 0 } else { rnd() % 40 };
        w.strict = loss == 0;
        w.drop = Box::new(move |seq, _, _| seq.wrapping_mul(2_654_435_761) % 100 < loss);
        let mut t = 1_000;
        for _ in 0..30 {
            w.run(t);
            let who = (rnd() % 2) as usize;
            let net = NetId::ALL[(rnd() % 2) as usize];
            let plugged = rnd() % 3 != 0;
            w.cable(who, net, plugged);
            t += 50 + rnd() % 1_500;
        }
        for who in [P, S] {
            for net in NetId::ALL {
                w.cable(who, net, true);
            }
        }
        w.drop = Box::new(|_, _, _| false);
        w.run(t + 3_000);
        assert_eq!(w.holder(), "primary", "seed {seed}: primary {:?} secondary {:?}", w.n[P].log, w.n[S].log);
        // A false takeover under loss is undone by the conflict rule within
        // a few intervals plus the claim exchange.
        assert!(w.longest_episode <= 1_000, "seed {seed}: two owners for {} ms", w.longest_episode);
    }
}

#[test]
fn manual_takeover_on_the_secondary_is_refused_while_the_primary_serves() {
    let mut w = Pair::new();
    w.run(2_000);
    w.input(S, Input::Command(Command::Takeover));
    let a = w.answers.pop().unwrap();
    assert!(a.unwrap_err().contains("run 'ipfailoverd release' on the primary"));
    w.run(3_000);
    assert_eq!(w.holder(), "primary");
}

#[test]
fn manual_release_on_the_primary_hands_over_and_takeover_brings_back() {
    let mut w = Pair::new();
    w.run(2_000);
    w.input(P, Input::Command(Command::Release));
    assert!(w.answers.pop().unwrap().is_ok());
    w.run(2_010);
    assert_eq!(w.holder(), "secondary");
    assert!(w.n[S].log.iter().any(|l| l.1 == State::Acquiring && l.2 == Reason::Manual));
    // It stays there: the primary is in standby.
    w.run(10_000);
    assert_eq!(w.holder(), "secondary");
    assert_eq!(w.n[P].e.state(), State::Standby);
    w.input(P, Input::Command(Command::Takeover));
    assert!(w.answers.pop().unwrap().is_ok());
    w.run(10_050);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.both_held_ms, 0);
}

#[test]
fn manual_failback_waits_for_the_operator() {
    let mut w = Pair::new();
    w.n[S].e.s.failback = Failback::Manual;
    w.run(2_000);
    w.cable(P, NetId::Public, false);
    w.cable(P, NetId::Private, false);
    w.run(3_000);
    w.cable(P, NetId::Public, true);
    w.cable(P, NetId::Private, true);
    w.run(10_000);
    assert_eq!(w.holder(), "secondary", "manual failback must keep the address");
    // `release` on the secondary: the primary, claiming, gets it at once.
    w.input(S, Input::Command(Command::Release));
    assert!(w.answers.pop().unwrap().is_ok());
    w.run(10_020);
    assert_eq!(w.holder(), "primary");
    // And again, this time `takeover` on the primary.
    w.cable(P, NetId::Public, false);
    w.cable(P, NetId::Private, false);
    w.run(11_000);
    w.cable(P, NetId::Public, true);
    w.cable(P, NetId::Private, true);
    w.run(15_000);
    assert_eq!(w.holder(), "secondary", "primary {:?}\nsecondary {:?}", w.n[P].log, w.n[S].log);
    w.input(P, Input::Command(Command::Takeover));
    w.run(15_050);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.both_held_ms, 0);
}

/// After `release` on the primary the secondary serves; when the
/// secondary's public cable is then pulled, it drops the addresses (they
/// serve nobody there) and the standing-by primary claims them back at
/// once: its status says its public link is down. Nobody-serves lasts
/// about one interval and a claim exchange, not until the cable is back.
#[test]
fn a_standby_primary_covers_for_a_secondary_that_lost_its_public_link() {
    let mut w = Pair::new();
    w.run(2_000);
    w.input(P, Input::Command(Command::Release));
    w.run(3_000);
    assert_eq!((w.holder(), w.n[P].e.state()), ("secondary", State::Standby));
    w.cable(S, NetId::Public, false);
    let mut nobody_since = None;
    for t in (3_001..6_000).step_by(1) {
        w.run(t);
        match (w.holder(), nobody_since) {
            ("nobody", None) => nobody_since = Some(t),
            ("primary", Some(since)) => {
                // Statuses every 100 ms (interval), one claim exchange.
                assert!(t - since <= 250, "nobody served for {} ms", t - since);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(w.holder(), "primary", "primary {:?}\nsecondary {:?}", w.n[P].log, w.n[S].log);
    assert!(w.n[P].log.iter().any(|l| l.1 == State::Claiming && l.2 == Reason::PeerLost));
    // The cable comes back: the primary keeps serving, one owner.
    w.cable(S, NetId::Public, true);
    w.run(10_000);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.both_held_ms, 0);
}

/// The same for a secondary whose service checks fail after it took over
/// from a standing-by primary: the primary claims back, and the unfit
/// secondary gives the addresses back as to any claim.
#[test]
fn a_standby_primary_covers_for_an_unfit_secondary() {
    let mut w = Pair::new();
    w.run(2_000);
    w.input(P, Input::Command(Command::Release));
    w.run(3_000);
    assert_eq!(w.holder(), "secondary");
    w.input(S, Input::Fitness { fit: false });
    w.run(5_000);
    assert_eq!(w.holder(), "primary", "primary {:?}\nsecondary {:?}", w.n[P].log, w.n[S].log);
    assert_eq!(w.both_held_ms, 0);
}

/// The fitness table of docs/design.md §9: when both are unfit, nothing moves. The primary's
/// service dies and the secondary takes over (right); then the
/// secondary's dies too: it keeps the addresses, and the unfit primary
/// does not claim them back (a move, with every hook, for nothing).
#[test]
fn when_both_are_unfit_the_holder_keeps_the_addresses() {
    let mut w = Pair::new();
    w.run(2_000);
    w.input(P, Input::Fitness { fit: false });
    w.run(3_000);
    assert_eq!(w.holder(), "secondary");
    let moves = w.n[P].log.len() + w.n[S].log.len();
    w.input(S, Input::Fitness { fit: false });
    w.run(10_000);
    assert_eq!(w.holder(), "secondary", "primary {:?}\nsecondary {:?}", w.n[P].log, w.n[S].log);
    assert_eq!(w.n[P].log.len() + w.n[S].log.len(), moves, "something moved");
    // The primary's service comes back: after recover_after it claims.
    w.input(P, Input::Fitness { fit: true });
    w.run(12_000);
    assert_eq!(w.holder(), "primary");
    assert_eq!(w.both_held_ms, 0);
}

/// An unfit primary that handed the addresses over takes them back when
/// the secondary loses its public link (serving unfit beats nobody), and
/// does not flap between claiming and standing down meanwhile.
#[test]
fn an_unfit_primary_serves_when_the_secondary_loses_its_public_link() {
    let mut w = Pair::new();
    w.run(2_000);
    w.input(P, Input::Fitness { fit: false });
    w.run(3_000);
    assert_eq!(w.holder(), "secondary");
    w.cable(S, NetId::Public, false);
    w.run(5_000);
    assert_eq!(w.holder(), "primary", "primary {:?}\nsecondary {:?}", w.n[P].log, w.n[S].log);
    let claims = w.n[P].log.iter().filter(|l| l.0 > 2_000 && l.1 == State::Claiming).count();
    assert_eq!(claims, 1, "primary {:?}", w.n[P].log);
    assert_eq!(w.both_held_ms, 0);
}
