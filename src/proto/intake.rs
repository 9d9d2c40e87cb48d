//! The datagram intake (issue 29): everything between the wire and the
//! engine, as one pure function that the daemon and the simulator both
//! run. No I/O and no clock reads: the time is passed in, in generation
//! units (`store::clock_units`). Its order is the one of docs/protocol.md,
//! "Receiving: order of checks", whose step numbers these are:
//!
//! 1. to 4. the codec (`codec::decode`): framing, authentication, field
//!    values (`Outcome::Malformed`);
//! 5. pair: another pair's datagram (`Outcome::OtherPair`);
//! 6. own: our sender id and role with a generation at or below ours is
//!    ours, never a rival (`Outcome::Own`: `own` for our current
//!    generation, looped back; `own-old` for an older one, a datagram of
//!    an earlier run replayed by someone on the network);
//! 7. network field equal to the network it arrived on (`wrong-network`);
//! 8. our role: a datagram of our own pair from another node with our
//!    role passes the rivals' replay guard (fresh, authentic, in order)
//!    before it is a rival (`Outcome::Rival`); with another pair id (a
//!    node from before pair ids) it is `wrong-role`. Our own sender id
//!    with a HIGHER generation is another host with our host name that
//!    started after us (a clone), or our own earlier run when this host's
//!    state file was lost and its clock set back: a rival only when its
//!    generation is not ahead of our clock by more than `CLONE_SKEW`;
//! 9. the peer's role: the peer's replay guard (`Guard`), whose floors are
//!    saved; then `Outcome::Peer`, the engine's `Input::Heard`.
//!
//! The reader threads run steps 1 to 6 (`screen`) to spare the monitor,
//! and the monitor runs `Intake::classify`, which repeats 5 and 6 (cheap)
//! so that the simulator, which calls `Intake::receive` with the bytes,
//! runs every step the daemon runs.
#![forbid(unsafe_code)]

use super::codec::{self, Flags, Kind, Message, Reject};
use super::pair;
use super::replay::Guard;
use crate::config::{NetId, Role};
use crate::crypto::hmac::Key;

/// How far ahead of our clock a datagram with our own sender id and a
/// higher generation may be and still count as a clone that started after
/// us: one minute, in generation units. A host that shares our host name
/// and started after us has a generation below its clock, and two hosts
/// on one LAN rarely disagree by a minute. Our own datagrams from an
/// earlier run can only carry a generation above ours when our state file
/// was lost and our clock set back; their generation then says they were
/// sent after "now" (the clock went back by more than this bound), and
/// they are refused as `future-generation`.
pub(crate) const CLONE_SKEW: u64 = 60 << 20;

/// Who this node is, for the intake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Me {
    pub role: Role,
    pub sender: u32,
    pub generation: u64,
    /// Our pair id (`pair::UNNAMED` when unnamed).
    pub pair: u64,
}

/// What became of one datagram. Everything but `Rival` and `Peer` is a
/// drop: counted under `reject()`, never seen by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Failed the codec: framing, MAC, field values.
    Malformed(Reject),
    /// Authentic, from another pair (its id).
    OtherPair(u64),
    /// Ours: `Reject::Own` (this run's, looped back) or `Reject::OwnOld`
    /// (an earlier run's, replayed).
    Own(Reject),
    /// Stale, replayed, or not for this network (peer or rival).
    Dropped(Reject),
    /// A fresh datagram of another node of our pair with our role: what
    /// `Input::SameRole` needs: its flags, and whether it outranks us
    /// (the tie-break's rank: the lower sender id, then the older start).
    /// Counted as `wrong-role`.
    Rival { flags: Flags, outranks: bool },
    /// The peer, fresh: what the engine hears of it (`Heard`, its
    /// `Input::Heard`), and whether its generation differs from the
    /// previous accepted one (a restart: the floors are saved durably at
    /// once).
    Peer { heard: Heard, restarted: bool },
}

/// A fresh, authentic datagram of the peer as the engine needs it (the
/// engine's `Input::Heard` is made from it: `proto` names nothing of the
/// engine). Made by `Intake::classify` only (the monitor makes the
/// `Input::Heard` of Apple's text itself); nobody changes one after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Heard {
    /// The network it arrived on (and names).
    pub net: NetId,
    pub kind: Kind,
    pub flags: Flags,
    /// The claim id it carries: on a claim its own id; on a status or
    /// released the latest claim the secondary had seen; `None` from a
    /// peer that predates claim ids (docs/protocol.md).
    pub claim: Option<u64>,
    /// (generation, sequence); `None` for Apple's text.
    pub order: Option<(u64, u64)>,
}

impl Outcome {
    /// The counter a datagram goes under: its drop reason, or
    /// `wrong-role` for a rival; `None` for the peer.
    pub(crate) fn reject(&self) -> Option<Reject> {
        match *self {
            Outcome::Malformed(r) | Outcome::Own(r) | Outcome::Dropped(r) => Some(r),
            Outcome::OtherPair(_) => Some(Reject::OtherPair),
            Outcome::Rival { .. } => Some(Reject::WrongRole),
            Outcome::Peer { .. } => None,
        }
    }

    /// The engine hears of it (`Rival` or `Peer`).
    pub(crate) fn acts(&self) -> bool {
        matches!(self, Outcome::Rival { .. } | Outcome::Peer { .. })
    }
}

/// Step 6: our own datagram? `Own` for this run's generation, `OwnOld` for
/// an earlier one. The reader's check and its socket filter (which drops
/// only this run's generation, in the kernel) use this predicate.
pub(crate) fn own(me: &Me, msg: &Message) -> Option<Reject> {
    if msg.role != me.role || msg.sender != me.sender || msg.generation > me.generation {
        return None;
    }
    Some(if msg.generation == me.generation { Reject::Own } else { Reject::OwnOld })
}

/// Steps 5 and 6, the stateless part after the codec.
pub(crate) fn screen(me: &Me, msg: &Message) -> Result<(), Outcome> {
    if !pair::admits(me.pair, msg.pair) {
        return Err(Outcome::OtherPair(msg.pair));
    }
    match own(me, msg) {
        Some(r) => Err(Outcome::Own(r)),
        None => Ok(()),
    }
}

/// The intake's state: the peer's replay guard (saved), the rivals' (in
/// memory only) and the peer's latest generation.
#[derive(Clone, Debug)]
pub(crate) struct Intake {
    me: Me,
    guard: Guard,
    /// Another node with our role is not the peer: its streams must not
    /// move the peer's floors or reach the state file, yet a replay of its
    /// datagrams must not count as a fresh rival. A guard of its own, for
    /// the other role's point of view, never saved: after our restart a
    /// rival's datagrams recorded before it count once each again (see
    /// docs/robustness.md, "replay of own datagrams").
    rivals: Guard,
    peer_generation: Option<u64>,
}

impl Intake {
    /// `guard` holds the peer floors from the state file.
    pub(crate) fn new(me: Me, guard: Guard) -> Intake {
        let other = match me.role {
            Role::Primary => Role::Secondary,
            Role::Secondary => Role::Primary,
        };
        // Sender 0 never occurs on the wire (it maps to 1).
        let rivals = Guard::new(other, 0, &[]);
        Intake { me, guard, rivals, peer_generation: None }
    }

    /// The peer's replay guard: its floors are what the state file saves.
    pub(crate) fn guard(&self) -> &Guard {
        &self.guard
    }

    pub(crate) fn guard_mut(&mut self) -> &mut Guard {
        &mut self.guard
    }

    /// The generation of the peer's latest accepted datagram.
    pub(crate) fn peer_generation(&self) -> Option<u64> {
        self.peer_generation
    }

    /// Every step, from the bytes: what the simulator runs for each
    /// datagram it delivers. `now` in generation units.
    pub(crate) fn receive(&mut self, buf: &[u8], key: Option<&Key>, arrived: NetId, now: u64) -> Outcome {
        match codec::decode(buf, key) {
            Ok(msg) => self.classify(&msg, arrived, now),
            Err(r) => Outcome::Malformed(r),
        }
    }

    /// Steps 5 to 9, for a datagram that passed the codec and arrived on
    /// `arrived`; `now` in generation units (`Guard::now`).
    pub(crate) fn classify(&mut self, msg: &Message, arrived: NetId, now: u64) -> Outcome {
        if let Err(out) = screen(&self.me, msg) {
            return out;
        }
        if msg.net != arrived {
            return Outcome::Dropped(Reject::WrongNetwork);
        }
        if msg.role == self.me.role {
            return self.rival(msg, arrived, now);
        }
        if let Err(r) = self.guard.check_at(msg, arrived, now) {
            return Outcome::Dropped(r);
        }
        let restarted = self.peer_generation != Some(msg.generation);
        self.peer_generation = Some(msg.generation);
        let heard = Heard {
            net: arrived,
            kind: msg.kind,
            flags: msg.flags,
            claim: msg.claim,
            order: Some((msg.generation, msg.seq)),
        };
        Outcome::Peer { heard, restarted }
    }

    /// Step 8: a datagram with our role (not ours: `own` ruled that out).
    fn rival(&mut self, msg: &Message, arrived: NetId, now: u64) -> Outcome {
        // Only a datagram naming our pair is one of ours: one from a node
        // of an older version (unnamed) could be another pair's.
        if msg.pair != self.me.pair {
            return Outcome::Dropped(Reject::WrongRole);
        }
        if msg.sender == self.me.sender && msg.generation > now.saturating_add(CLONE_SKEW) {
            return Outcome::Dropped(Reject::FutureGeneration);
        }
        if let Err(r) = self.rivals.check_at(msg, arrived, now) {
            return Outcome::Dropped(r);
        }
        let outranks = (msg.sender, msg.generation) < (self.me.sender, self.me.generation);
        Outcome::Rival { flags: msg.flags, outranks }
    }
}

#[cfg(test)]
#[path = "intake_tests.rs"]
mod tests;
