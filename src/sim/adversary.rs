//! The adversary of issue 29 (invariant (j) of `check.rs`): one per
//! network, without the key. It records every datagram that leaves a node
//! on its network and, at random times, replays any of them (a node's own
//! of an earlier generation included, from any source: a copy is the same
//! bytes whoever sends it), sends garbage, genuine datagrams with a bit
//! flipped or cut short, and altered ones signed with a key that is not
//! the pair's; and on the public network it answers the probes for a
//! service address for a while (a squatter). It draws from its own random
//! numbers, so the rest of a seed's run is the same with or without it.
//!
//! Genuine datagrams and exact copies of them travel as decoded messages
//! (`Forged::Copy`): their bytes would decode to the same message with a
//! valid MAC (`proto::codec` tests the round trip), and an HMAC per
//! delivery would slow the 3000 seeds of the test suite several times.
//! Everything the adversary makes up travels as bytes (`Forged::Bytes`)
//! and goes through the whole intake, the codec and the MAC included.

use super::world::{World, P, S};
use super::{Ev, Rng};
use crate::config::NetId;
use crate::crypto::hmac::Key;
use crate::engine::{Action, Input};
use crate::proto::codec::{self, Flags, Kind, Message, MAX_LEN};
use crate::proto::intake::Outcome;
use std::collections::{HashSet, VecDeque};

/// The key the pair's nodes share in the simulator.
pub(super) const PAIR_KEY: &[u8] = b"simulated pair key";
/// The adversary's guess: not the pair's key.
const WRONG_KEY: &[u8] = b"the adversary's key";
/// The most recent datagrams kept per network, and a sample of all older
/// ones (reservoir sampling), so that datagrams of early generations stay
/// available for the whole run.
const RECENT: usize = 64;
const SAMPLE: usize = 64;

/// A datagram as it left its sender.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recorded {
    pub msg: Message,
    /// The node that sent it.
    pub from: usize,
    /// When it was sent (virtual ms).
    pub at: u64,
}

/// What the adversary puts on the wire.
#[derive(Clone, Debug)]
pub(crate) enum Forged {
    /// An exact copy of a recorded datagram.
    Copy(Recorded),
    /// Bytes it made up or altered.
    Bytes(Vec<u8>),
}

/// One move of the adversary.
pub(super) enum Act {
    /// Send these, to every node on the network.
    Send(Vec<Forged>),
    /// Answer the probes for service address `addr` until `until`.
    Squat {
        addr: usize,
        until: u64,
    },
    Nothing,
}

pub(super) struct Adversary {
    rng: Rng,
    /// Per network: whether an adversary is there.
    pub active: [bool; 2],
    recent: [VecDeque<Recorded>; 2],
    sample: [Vec<Recorded>; 2],
    recorded: [u64; 2],
    /// The squatter: the address it answers for and until when.
    pub squat: Option<(usize, u64)>,
    key: Key,
    wrong: Key,
    /// Per node, this life: every (network, generation, sequence) of the
    /// peer its intake accepted, whoever sent the copy ((j): none twice).
    accepted: [HashSet<(usize, crate::proto::Generation, crate::proto::Seq)>; 2],
    /// While a datagram of the adversary that passed the intake is fed to
    /// an engine: what the engine did with it (its tag, for (j)'s report).
    tagged: Option<Vec<String>>,
}

impl Adversary {
    pub(super) fn new(seed: u64) -> Adversary {
        let mut rng = Rng::new(seed ^ 0xad7e_5a47_0bad_cafe);
        let active = [rng.chance(0.6), rng.chance(0.6)];
        Adversary {
            rng,
            active,
            recent: Default::default(),
            sample: Default::default(),
            recorded: [0, 0],
            squat: None,
            key: Key::new(PAIR_KEY),
            wrong: Key::new(WRONG_KEY),
            accepted: Default::default(),
            tagged: None,
        }
    }

    /// Node `i` started a new life: its intake forgot what it accepted.
    pub(super) fn restarted(&mut self, i: usize) {
        self.accepted[i].clear();
    }

    /// An engine acts: part of the effect of a tagged datagram, if one is
    /// being fed.
    pub(super) fn traced(&mut self, a: &Action) {
        if let Some(t) = self.tagged.as_mut() {
            t.push(format!("{a:?}"));
        }
    }

    /// A datagram left node `from` on `net` at `at`.
    pub(super) fn record(&mut self, net: NetId, from: usize, msg: Message, at: u64) {
        let k = net.index();
        if !self.active[k] {
            return;
        }
        let r = Recorded { msg, from, at };
        self.recorded[k] += 1;
        if let Some(old) = (self.recent[k].len() == RECENT).then(|| self.recent[k].pop_front()).flatten() {
            if self.sample[k].len() < SAMPLE {
                self.sample[k].push(old);
            } else {
                let j = self.rng.range(0, self.recorded[k]) as usize;
                if j < SAMPLE {
                    self.sample[k][j] = old;
                }
            }
        }
        self.recent[k].push_back(r);
    }

    /// The time until its next move on a network.
    pub(super) fn gap(&mut self, interval: u64, dead_after: u64) -> u64 {
        self.rng.range(interval / 2, 3 * dead_after).max(1)
    }

    /// Whether the squatter answers for `addr` at `now`.
    pub(super) fn squats(&self, addr: usize, now: u64) -> bool {
        self.squat.is_some_and(|(a, until)| a == addr && now < until)
    }

    /// Its next move on `net`.
    pub(super) fn act(&mut self, net: NetId, now: u64, addresses: usize, dead_after: u64) -> Act {
        let k = net.index();
        let pool = self.recent[k].len() + self.sample[k].len();
        match self.rng.range(0, 9) {
            0 if net == NetId::Public && self.squat.is_none_or(|(_, until)| now >= until) => {
                let addr = self.rng.range(0, addresses as u64 - 1) as usize;
                let until = now + self.rng.range(dead_after, 8 * dead_after);
                self.squat = Some((addr, until));
                Act::Squat { addr, until }
            }
            1 => Act::Send(vec![Forged::Bytes(self.garbage())]),
            2 | 3 if pool > 0 => {
                let r = self.pick(k);
                Act::Send(vec![Forged::Bytes(self.tampered(r.msg))])
            }
            4 if !self.recent[k].is_empty() => {
                // A burst of the latest few, in order.
                let n = self.rng.range(1, 6) as usize;
                let start = self.recent[k].len().saturating_sub(n);
                Act::Send(self.recent[k].iter().skip(start).map(|r| Forged::Copy(*r)).collect())
            }
            _ if pool > 0 => {
                let r = self.pick(k);
                Act::Send(vec![Forged::Copy(r)])
            }
            _ => Act::Nothing,
        }
    }

    fn pick(&mut self, k: usize) -> Recorded {
        let n = self.recent[k].len() + self.sample[k].len();
        let i = self.rng.range(0, n as u64 - 1) as usize;
        match self.recent[k].get(i) {
            Some(r) => *r,
            None => self.sample[k][i - self.recent[k].len()],
        }
    }

    fn garbage(&mut self) -> Vec<u8> {
        let len = *self.rng.pick(&[0, 1, 31, 32, 48, 80, 81, 120]);
        let mut b: Vec<u8> = (0..len).map(|_| self.rng.range(0, 255) as u8).collect();
        if len >= 32 && self.rng.chance(0.5) {
            // A plausible header, so that the codec gets further.
            b[..4].copy_from_slice(b"IPFO");
            b[4] = 1;
        }
        b
    }

    /// A recorded datagram made to say something else: signed with the
    /// wrong key, or the genuine bytes with a bit flipped or cut short.
    fn tampered(&mut self, mut msg: Message) -> Vec<u8> {
        let mut buf = [0u8; MAX_LEN];
        match self.rng.range(0, 2) {
            0 => {
                msg.flags =
                    Flags(msg.flags.0 ^ *self.rng.pick(&[Flags::HOLDING, Flags::ADDRESS_FREE, 0x1ff]));
                msg.kind = *self.rng.pick(&[msg.kind, Kind::Claim, Kind::Goodbye, Kind::Released]);
                msg.seq.0 += self.rng.range(1, 1000);
                msg.generation.0 += self.rng.range(0, 1) << 20;
                let n = codec::encode(&msg, Some(&self.wrong), &mut buf);
                buf[..n].to_vec()
            }
            1 => {
                let n = codec::encode(&msg, Some(&self.key), &mut buf);
                let bit = self.rng.range(0, 8 * n as u64 - 1) as usize;
                buf[bit / 8] ^= 1 << (bit % 8);
                buf[..n].to_vec()
            }
            _ => {
                let n = codec::encode(&msg, Some(&self.key), &mut buf);
                let cut = self.rng.range(0, n as u64 - 1) as usize;
                buf[..cut].to_vec()
            }
        }
    }

    /// The pair's key, for the intake of the nodes.
    pub(super) fn pair_key(&self) -> &Key {
        &self.key
    }
}

/// The simulator's side: the adversary's moves and its datagrams' arrival.
impl World {
    /// The adversary on `net` makes its move; its datagrams reach every
    /// node on the network (broadcast), a moment later.
    pub(super) fn adversary(&mut self, net: NetId) {
        let (interval, dead_after) = (self.p.interval, self.p.dead_after);
        let gap = self.adversary.gap(interval, dead_after);
        self.schedule(self.now + gap, Ev::Adversary { net });
        match self.adversary.act(net, self.now, self.p.addresses, dead_after) {
            Act::Send(list) => {
                for forged in list {
                    for to in [P, S] {
                        let at = self.now + 1;
                        self.schedule(at, Ev::Forged { to, net, forged: forged.clone(), at });
                    }
                }
            }
            Act::Squat { addr, until } => {
                self.trace(format!("adversary: answers the probes for address {addr} until {until} ms"));
                self.check.squatted(until);
            }
            Act::Nothing => {}
        }
    }

    /// One of the adversary's datagrams arrives, through the whole intake
    /// (the codec and the MAC for what it made up). Invariant (j): the
    /// intake drops it, with one exception: an exact copy of a datagram
    /// the peer sent to this node on this network, which the node has not
    /// accepted yet (a network that delays or loses datagrams delivers
    /// those too, and nothing in a datagram tells late from on time); it
    /// is accepted once, as the original would have been. Anything else
    /// that passes is a broken (j): it is fed to the engine as the daemon
    /// would, tagged, and the report says what the node did with it.
    pub(super) fn deliver_forged(&mut self, to: usize, net: NetId, forged: Forged, at: u64) {
        if !self.n[to].link(net) || self.now < self.blocked_until[net.index()] {
            return;
        }
        let clock = self.clock_units();
        let key = self.adversary.pair_key();
        let Some(d) = self.n[to].daemon() else { return };
        let outcome = match &forged {
            Forged::Copy(r) => d.intake.classify(&r.msg, net, clock),
            Forged::Bytes(b) => d.intake.receive(b, Some(key), net, clock),
        };
        if !outcome.acts() {
            return;
        }
        if let Forged::Copy(r) = &forged {
            if self.took_peer_copy(to, net, r, outcome, at) {
                return;
            }
        }
        self.forged_passed(to, net, &forged, outcome);
    }

    /// A copy of the peer's datagram to this node on this network that
    /// the intake passed: taken as the original would have been, when
    /// the network could have delivered it so. False for any other copy.
    fn took_peer_copy(&mut self, to: usize, net: NetId, r: &Recorded, outcome: Outcome, at: u64) -> bool {
        let k = net.index();
        let name = self.n[to].name();
        let late = self.now.saturating_sub(r.at + self.p.bias[k] + self.p.delay_max[k]);
        // Two nodes of one role (issue 29): the other node is a rival,
        // whose datagrams no replay floor guards; a copy that arrives
        // within the network's own delay is what the network's
        // duplication delivers too. A later one is a replay, and (j)
        // still rejects what the node does with it.
        let rival_dup = matches!(outcome, Outcome::Rival { .. }) && late == 0;
        if !(r.from == 1 - to && r.msg.net == net && (matches!(outcome, Outcome::Peer { .. }) || rival_dup)) {
            return false;
        }
        let how =
            if late == 0 { "raced ahead of its original".to_string() } else { format!("{late} ms late") };
        let from = self.n[r.from].name();
        self.trace(format!(
            "adversary: {name} took a copy of {from}'s {:?} (seq {}): {how}",
            r.msg.kind, r.msg.seq
        ));
        // The liveness twins count it as the network carrying the
        // peer, as they count the original.
        if self.n[r.from].daemon_ref().is_some_and(|d| d.generation == r.msg.generation) {
            self.check.carried(to, net, r.msg.generation, self.now);
        }
        if late > 0 {
            self.check.late_copy(to, self.now);
        }
        // A copy of the goodbye that raced ahead of it is the
        // goodbye, for the checker as for the engine (the original
        // is then a replay; seed 322469).
        if r.msg.kind == crate::proto::Kind::Goodbye && matches!(outcome, Outcome::Peer { .. }) {
            self.check.goodbye(to);
        }
        // The give-back twin: the peer's life was on the wire
        // until the copy reached the node's socket.
        self.check.copy_taken(to, r.msg.generation, at);
        self.take(to, net, outcome);
        true
    }

    /// Any other forged datagram the intake passed: a rival's replayed
    /// copy (a known limit), or a broken (j), fed to the engine tagged.
    fn forged_passed(&mut self, to: usize, net: NetId, forged: &Forged, outcome: Outcome) {
        let name = self.n[to].name();
        let what = match forged {
            Forged::Copy(r) => format!(
                "a copy of {}'s {:?} (generation {}, seq {}) sent at {} ms",
                self.n[r.from].name(),
                r.msg.kind,
                r.msg.generation,
                r.msg.seq,
                r.at
            ),
            Forged::Bytes(b) => format!("{} bytes it made up", b.len()),
        };
        // A copy of this node's own datagram of an earlier life is ours,
        // never a rival (docs/protocol.md: own-old is dropped before any
        // role check): taken as a rival, it is a broken (j), not the
        // known limit below.
        let own_old = matches!(forged, Forged::Copy(r) if r.from == to
            && self.n[to].daemon_ref().is_some_and(|d| r.msg.generation < d.generation));
        if let (Outcome::Rival { flags, outranks }, false) = (outcome, own_old) {
            // A known limit (docs/robustness.md, "Known limits"): a rival's
            // datagrams are guarded by a floor kept in memory only, so
            // after this node's start a replayed copy of an earlier one
            // passes once. It may hold this node off for a dead_after or
            // make it mail; (f) still bounds how long nobody serves.
            self.trace(format!("adversary: {name} took {what} for its rival (known limit)"));
            self.input(to, Input::SameRole { flags, outranks });
            return;
        }
        self.trace(format!("adversary: TAGGED {what} passed {name}'s intake as {outcome:?}"));
        self.adversary.tagged = Some(Vec::new());
        match outcome {
            Outcome::Peer { heard, .. } => self.input(to, heard.into()),
            Outcome::Rival { flags, outranks } => self.input(to, Input::SameRole { flags, outranks }),
            _ => {}
        }
        let effect = self.adversary.tagged.take().unwrap_or_default();
        let effect = if effect.is_empty() { "nothing yet".to_string() } else { effect.join(", ") };
        self.check.problem(format!(
            "(j) the adversary made {name} act: {what} passed the intake on the {} network as {outcome:?}; \
             the engine did: {effect}",
            net.as_str()
        ));
    }

    /// What the intake of node `to` accepted from the peer: never the same
    /// datagram twice in one life, whoever sent the copy ((j)).
    pub(super) fn accepted_once(&mut self, to: usize, net: NetId, heard: &crate::proto::intake::Heard) {
        let Some(crate::proto::Order { generation, seq }) = heard.order else { return };
        if !self.adversary.accepted[to].insert((net.index(), generation, seq)) {
            self.check.problem(format!(
                "(j) {} accepted generation {generation} seq {seq} on the {} network twice",
                self.n[to].name(),
                net.as_str()
            ));
        }
    }
}
