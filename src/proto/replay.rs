//! The stateful half of the receive checks: whose datagram this is, whether
//! it arrived on the network it claims, and whether it is fresh.
//!
//! State is kept per sender id and per network, so that a datagram on the
//! private network overtaking one on the public network is not a replay.

use super::codec::{Message, Reject};
use super::ids::{Generation, Order, SenderId, Seq};
use crate::config::{NetId, Role};
use std::time::{Instant, SystemTime};

/// At most this many senders are tracked; the one accepted longest ago is
/// forgotten first. Only authenticated senders (or, without a key, sources
/// that passed the address check) get this far.
const MAX_PEERS: usize = 8;
/// How far one generation's sequence may move ahead of the highest one
/// accepted (0 for a generation not seen yet). A sender counts one per
/// datagram, a few per interval: 2^40 is 87 years at the 10 ms minimum
/// interval. Without this bound one signed datagram with a sequence near
/// `u64::MAX` would turn every later real one into a replay.
const MAX_SEQ_STEP: u64 = 1 << 40;
/// How far a generation may be ahead of this host's clock: one day, in the
/// 2^-20 s units of a generation's clock part (`store::clock_units`). A
/// real peer's generation is its wall clock at its start (or one more than
/// the last it used): it is never ahead of ours by more than the two
/// clocks disagree. Accepting one from further ahead would turn every real
/// datagram of that sender into an `old-generation`, across restarts.
pub(crate) const FUTURE_BOUND: u64 = 86_400 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Floor {
    pub sender: SenderId,
    pub generation: Generation,
    pub seq: Seq,
}

impl Floor {
    fn order(&self) -> Order {
        Order { generation: self.generation, seq: self.seq }
    }
}

#[derive(Clone, Debug)]
struct Peer {
    floor: Floor,
    last: [Option<Order>; 2],
    touched: u64,
}

impl Peer {
    /// The highest (generation, sequence) accepted on any network, or
    /// loaded from the state file.
    fn best(&self) -> Order {
        self.last
            .iter()
            .flatten()
            .copied()
            .chain(std::iter::once(self.floor.order()))
            .max()
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Guard {
    own_role: Role,
    own_sender: SenderId,
    peers: Vec<Peer>,
    clock: u64,
    dirty: bool,
    /// Our own generation and when we took it: see `now`.
    started: Option<(Generation, Instant)>,
}

impl Guard {
    /// `floors` come from the state file: what was accepted before a restart.
    pub(crate) fn new(own_role: Role, own_sender: SenderId, floors: &[Floor]) -> Guard {
        let peers = floors
            .iter()
            .take(MAX_PEERS)
            .map(|f| Peer { floor: *f, last: [None, None], touched: 0 })
            .collect();
        Guard { own_role, own_sender, peers, clock: 0, dirty: false, started: None }
    }

    /// Our own generation for this start (taken from the wall clock, or
    /// above what the state file recorded) becomes a floor for "now", moved
    /// on by the monotonic clock: the wall clock set back after the start,
    /// or wrong at boot while the state file is right, cannot make a real
    /// peer's generation look like one from the future.
    pub(crate) fn with_own_generation(mut self, generation: Generation) -> Guard {
        self.started = Some((generation, Instant::now()));
        self
    }

    /// This host's idea of the current time in generation units: the later
    /// of the wall clock and our own generation plus the time since.
    pub(crate) fn now(&self) -> u64 {
        let wall = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let since_start =
            self.started.map_or(0, |(g, at)| g.0.saturating_add(super::store::clock_units(at.elapsed())));
        super::store::clock_units(wall).max(since_start)
    }

    /// Accepts `msg` (and remembers it) or says why not, at the current
    /// time. The daemon reads `now` and calls `check_at` through the
    /// intake (`proto::intake`); this is for the tests.
    #[cfg(test)]
    pub(crate) fn check(&mut self, msg: &Message, arrived_on: NetId) -> Result<(), Reject> {
        let now = self.now();
        self.check_at(msg, arrived_on, now)
    }

    /// `check` with the current time given, in generation units: the whole
    /// decision, without reading a clock.
    pub(crate) fn check_at(&mut self, msg: &Message, arrived_on: NetId, now: u64) -> Result<(), Reject> {
        if msg.role == self.own_role {
            return Err(if msg.sender == self.own_sender { Reject::Own } else { Reject::WrongRole });
        }
        if msg.net != arrived_on {
            return Err(Reject::WrongNetwork);
        }
        if msg.generation.0 > now.saturating_add(FUTURE_BOUND) {
            return Err(Reject::FutureGeneration);
        }
        let new = Order { generation: msg.generation, seq: msg.seq };
        // The newest stream of the peer role, whoever sent it.
        let newest = self.peers.iter().map(|p| (p.best().generation, p.floor.sender)).max();
        if newest.is_some_and(|(generation, sender)| sender != msg.sender && msg.generation <= generation) {
            return Err(Reject::OtherSender);
        }
        let idx = self.peers.iter().position(|p| p.floor.sender == msg.sender);
        let base = idx
            .map(|i| self.peers[i].best())
            .filter(|b| b.generation == msg.generation)
            .map_or(0, |b| b.seq.0);
        if msg.seq.0 > base.saturating_add(MAX_SEQ_STEP) {
            return Err(Reject::SequenceJump);
        }
        if let Some(peer) = idx.map(|i| &self.peers[i]) {
            let floor = peer.floor.order();
            if let Some(err) = stale(new, floor) {
                return Err(err);
            }
            if let Some(last) = peer.last[arrived_on.index()] {
                if let Some(err) = stale(new, last) {
                    return Err(err);
                }
            }
        }
        self.clock += 1;
        let i = match idx {
            Some(i) => i,
            None => self.insert(msg.sender),
        };
        let peer = &mut self.peers[i];
        peer.last[arrived_on.index()] = Some(new);
        peer.touched = self.clock;
        self.dirty = true;
        Ok(())
    }

    fn insert(&mut self, sender: SenderId) -> usize {
        let peer = Peer {
            floor: Floor { sender, generation: Generation(0), seq: Seq(0) },
            last: [None, None],
            touched: 0,
        };
        if self.peers.len() < MAX_PEERS {
            self.peers.push(peer);
            return self.peers.len() - 1;
        }
        let oldest = (0..self.peers.len()).min_by_key(|&i| self.peers[i].touched).unwrap_or(0);
        self.peers[oldest] = peer;
        oldest
    }

    /// What to persist: per sender, the highest (generation, sequence) seen
    /// on any network. Clears the dirty mark.
    pub(crate) fn floors(&mut self) -> Vec<Floor> {
        self.dirty = false;
        self.peers
            .iter()
            .map(|p| {
                let best = p.best();
                Floor { sender: p.floor.sender, generation: best.generation, seq: best.seq }
            })
            .collect()
    }

    /// True when something was accepted since the last `floors()`.
    pub(crate) fn dirty(&self) -> bool {
        self.dirty
    }
}

/// `Some(reason)` when `new` is not strictly after `seen`.
fn stale(new: Order, seen: Order) -> Option<Reject> {
    if new.generation < seen.generation {
        Some(Reject::OldGeneration)
    } else if new <= seen {
        Some(Reject::Replay)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::codec::{Flags, Kind};

    fn msg(sender: u32, net: NetId, generation: u64, seq: u64) -> Message {
        Message {
            kind: Kind::Heartbeat,
            role: Role::Primary,
            net,
            flags: Flags(0),
            sender: SenderId(sender),
            generation: Generation(generation),
            seq: Seq(seq),
            pair: crate::proto::PairId(0),
            claim: Some(crate::proto::ClaimId(0)),
        }
    }

    #[test]
    fn accepts_increasing_and_refuses_replay() {
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        assert_eq!(g.check(&msg(1, NetId::Public, 5, 1), NetId::Public), Ok(()));
        assert_eq!(g.check(&msg(1, NetId::Public, 5, 2), NetId::Public), Ok(()));
        let replay = msg(1, NetId::Public, 5, 2);
        assert_eq!(g.check(&replay, NetId::Public), Err(Reject::Replay));
        let older = msg(1, NetId::Public, 5, 1);
        assert_eq!(g.check(&older, NetId::Public), Err(Reject::Replay));
        let old_gen = msg(1, NetId::Public, 4, 100);
        assert_eq!(g.check(&old_gen, NetId::Public), Err(Reject::OldGeneration));
        // A restart of the sender: higher generation, sequence starts over.
        assert_eq!(g.check(&msg(1, NetId::Public, 6, 1), NetId::Public), Ok(()));
    }

    #[test]
    fn networks_are_independent() {
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        assert_eq!(g.check(&msg(1, NetId::Private, 5, 11), NetId::Private), Ok(()));
        // Sent before the private one, arrives after: still fresh.
        assert_eq!(g.check(&msg(1, NetId::Public, 5, 10), NetId::Public), Ok(()));
    }

    #[test]
    fn wrong_network_role_and_own() {
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        let m = msg(1, NetId::Public, 5, 1);
        assert_eq!(g.check(&m, NetId::Private), Err(Reject::WrongNetwork));
        let mut mine = m;
        mine.role = Role::Secondary;
        mine.sender = SenderId(9);
        assert_eq!(g.check(&mine, NetId::Public), Err(Reject::Own));
        mine.sender = SenderId(2);
        assert_eq!(g.check(&mine, NetId::Public), Err(Reject::WrongRole));
        // The rejected datagrams did not consume anything.
        assert_eq!(g.check(&m, NetId::Public), Ok(()));
    }

    #[test]
    fn floors_survive_a_restart() {
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        g.check(&msg(1, NetId::Public, 5, 10), NetId::Public).unwrap();
        g.check(&msg(1, NetId::Private, 5, 11), NetId::Private).unwrap();
        assert!(g.dirty());
        let floors = g.floors();
        assert!(!g.dirty());
        assert_eq!(floors, vec![Floor { sender: SenderId(1), generation: Generation(5), seq: Seq(11) }]);
        let mut restarted = Guard::new(Role::Secondary, SenderId(9), &floors);
        let replay = msg(1, NetId::Public, 5, 10);
        assert_eq!(restarted.check(&replay, NetId::Public), Err(Reject::Replay));
        let old = msg(1, NetId::Public, 4, 99);
        assert_eq!(restarted.check(&old, NetId::Public), Err(Reject::OldGeneration));
        assert_eq!(restarted.check(&msg(1, NetId::Public, 5, 12), NetId::Public), Ok(()));
    }

    #[test]
    fn sequence_wrap_is_not_accepted_as_fresh() {
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        g.check(&msg(1, NetId::Public, 5, MAX_SEQ_STEP), NetId::Public).unwrap();
        let wrapped = msg(1, NetId::Public, 5, 0);
        assert_eq!(g.check(&wrapped, NetId::Public), Err(Reject::Replay));
    }

    #[test]
    fn a_sequence_near_the_end_cannot_mute_the_sender() {
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        g.check(&msg(1, NetId::Public, 5, 100), NetId::Public).unwrap();
        for seq in [u64::MAX, u64::MAX - 1, 101 + MAX_SEQ_STEP] {
            let forged = msg(1, NetId::Public, 5, seq);
            assert_eq!(g.check(&forged, NetId::Public), Err(Reject::SequenceJump), "{seq}");
        }
        // Nor as the first datagram of a generation nobody has seen.
        assert_eq!(g.check(&msg(1, NetId::Public, 6, u64::MAX), NetId::Public), Err(Reject::SequenceJump));
        // The real sender goes on, on both networks, even after a long
        // silence on one of them.
        assert_eq!(g.check(&msg(1, NetId::Public, 5, 101), NetId::Public), Ok(()));
        assert_eq!(g.check(&msg(1, NetId::Private, 5, 100 + MAX_SEQ_STEP), NetId::Private), Ok(()));
        // After a restart of the receiver, the floor is the base.
        let floors = g.floors();
        let mut restarted = Guard::new(Role::Secondary, SenderId(9), &floors);
        assert_eq!(restarted.check(&msg(1, NetId::Public, 5, 102 + MAX_SEQ_STEP), NetId::Public), Ok(()));
    }

    #[test]
    fn a_generation_from_the_future_is_refused_and_not_kept() {
        let now = 1_800_000_000u64 << 20;
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        assert_eq!(g.check_at(&msg(1, NetId::Public, now - 5, 1), NetId::Public, now), Ok(()));
        // A peer whose clock is a bit ahead of ours is fine.
        let ahead = now + FUTURE_BOUND;
        assert_eq!(g.check_at(&msg(1, NetId::Public, ahead, 1), NetId::Public, now), Ok(()));
        let floors = g.floors();
        for generation in [ahead + 1, u64::MAX / 2, u64::MAX] {
            let forged = msg(1, NetId::Private, generation, 1);
            assert_eq!(
                g.check_at(&forged, NetId::Private, now),
                Err(Reject::FutureGeneration),
                "{generation}"
            );
            let other = msg(2, NetId::Private, generation, 1);
            assert_eq!(g.check_at(&other, NetId::Private, now), Err(Reject::FutureGeneration));
        }
        // Nothing of it was remembered, so nothing of it can be saved.
        assert!(!g.dirty());
        assert_eq!(g.floors(), floors);
        // The real sender goes on.
        assert_eq!(g.check_at(&msg(1, NetId::Private, ahead, 2), NetId::Private, now), Ok(()));
        // A day later the same generation is no longer from the future.
        let later = now + FUTURE_BOUND;
        assert_eq!(g.check_at(&msg(1, NetId::Public, ahead + 1, 1), NetId::Public, later), Ok(()));
    }

    #[test]
    fn our_own_generation_is_a_floor_for_now() {
        // Our wall clock reads 1970 (a dead RTC), but our generation, from
        // the state file, says when we last ran: the peer's real
        // generation is not from the future.
        let last_run = 1_800_000_000u64 << 20;
        let g = Guard::new(Role::Secondary, SenderId(9), &[]).with_own_generation(Generation(last_run));
        assert!(g.now() >= last_run);
        let mut g = g;
        assert_eq!(g.check(&msg(1, NetId::Public, last_run + 1000, 1), NetId::Public), Ok(()));
        // Without it, the wall clock alone decides.
        let mut plain = Guard::new(Role::Secondary, SenderId(9), &[]);
        let far = plain.now() + 2 * FUTURE_BOUND;
        assert_eq!(plain.check(&msg(1, NetId::Public, far, 1), NetId::Public), Err(Reject::FutureGeneration));
    }

    #[test]
    fn peer_table_is_bounded() {
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        for sender in 1..=100 {
            g.check(&msg(sender, NetId::Public, u64::from(sender), 1), NetId::Public).unwrap();
        }
        assert_eq!(g.floors().len(), MAX_PEERS);
    }

    #[test]
    fn another_sender_needs_a_newer_generation() {
        let mut g = Guard::new(Role::Secondary, SenderId(9), &[]);
        g.check(&msg(1, NetId::Public, 50, 7), NetId::Public).unwrap();
        for generation in [49, 50] {
            let other = msg(2, NetId::Public, generation, 1000);
            assert_eq!(g.check(&other, NetId::Public), Err(Reject::OtherSender), "{generation}");
        }
        // The primary restarted under a new host name: a newer generation.
        assert_eq!(g.check(&msg(2, NetId::Private, 51, 1), NetId::Private), Ok(()));
        // From then on the old sender id is the stale one.
        assert_eq!(g.check(&msg(1, NetId::Public, 50, 8), NetId::Public), Err(Reject::OtherSender));
        // Also after the receiver restarts.
        let floors = g.floors();
        let mut restarted = Guard::new(Role::Secondary, SenderId(9), &floors);
        assert_eq!(restarted.check(&msg(1, NetId::Public, 50, 9), NetId::Public), Err(Reject::OtherSender));
        assert_eq!(restarted.check(&msg(2, NetId::Public, 51, 2), NetId::Public), Ok(()));
    }
}
