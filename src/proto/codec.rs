//! Encoding and stateless checking of v1 datagrams (`docs/protocol.md`).
//!
//! `decode` never panics and never allocates: every input is either a
//! `Message` or a `Reject` reason that the caller counts.

use crate::config::{NetId, Role};
use crate::crypto::hmac::Key;

use super::ids::{ClaimId, Generation, PairId, SenderId, Seq};

pub(crate) const MAGIC: [u8; 4] = *b"IPFO";
pub(crate) const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 32;
pub const MAC_LEN: usize = 32;
pub(crate) const MAX_BODY: usize = 64;
/// The body every datagram of this version carries: pair id, claim id.
pub(crate) const BODY_LEN: usize = 16;
/// The largest valid datagram; readers use a bigger buffer to see oversize.
pub const MAX_LEN: usize = HEADER_LEN + MAX_BODY + MAC_LEN;

/// Message types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Heartbeat = 1,
    Goodbye = 2,
    Status = 3,
    Claim = 4,
    Released = 5,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Heartbeat,
            2 => Kind::Goodbye,
            3 => Kind::Status,
            4 => Kind::Claim,
            5 => Kind::Released,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Heartbeat => "heartbeat",
            Kind::Goodbye => "goodbye",
            Kind::Status => "status",
            Kind::Claim => "claim",
            Kind::Released => "released",
        }
    }
}

/// Flag bits of the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

impl Flags {
    pub const HOLDING: u16 = 1 << 0;
    pub const PUBLIC_UP: u16 = 1 << 1;
    pub const PRIVATE_UP: u16 = 1 << 2;
    pub(crate) const HEARS_PUBLIC: u16 = 1 << 3;
    pub(crate) const HEARS_PRIVATE: u16 = 1 << 4;
    pub(crate) const ADDRESS_FREE: u16 = 1 << 5;
    pub(crate) const STATIC: u16 = 1 << 6;
    pub(crate) const MANUAL: u16 = 1 << 7;
    /// The sender's service checks fail (docs/design.md §9). Inverted so that a peer
    /// from before checks, which never sets it, counts as fit.
    pub(crate) const UNFIT: u16 = 1 << 8;

    pub(crate) fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    pub(crate) fn with(self, bit: u16, on: bool) -> Flags {
        if on {
            Flags(self.0 | bit)
        } else {
            Flags(self.0 & !bit)
        }
    }
}

/// A datagram that passed the stateless checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub role: Role,
    pub net: NetId,
    pub flags: Flags,
    pub sender: SenderId,
    pub generation: Generation,
    pub seq: Seq,
    /// The sender's pair id (`proto::pair`): `pair::UNNAMED` from a peer
    /// that predates pair ids (empty body).
    pub pair: PairId,
    /// Claim id: on a claim, its own; on a status or released, the latest
    /// claim the secondary had heard when it sent it. `None` from a peer
    /// that predates claim ids (empty body).
    pub claim: Option<ClaimId>,
}

/// Why a datagram was dropped. Each reason has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reject {
    Truncated,
    Oversized,
    BadMagic,
    BadVersion,
    Unauthenticated,
    UnexpectedMac,
    BadMac,
    BadField,
    WrongSource,
    WrongRole,
    Own,
    WrongNetwork,
    Replay,
    OldGeneration,
    /// A sequence number further ahead than the sender can have counted:
    /// accepting it would make every real datagram after it a replay.
    SequenceJump,
    /// A sender id other than the newest stream's, with a generation that
    /// is not newer: a pair has one peer, and a real restart (even under a
    /// new host name) always brings a higher generation.
    OtherSender,
    /// Apple's datagram after the primary has spoken protocol v1.
    LegacySuperseded,
    /// A generation more than a day ahead of this host's clock: accepted,
    /// it would make every real datagram of the sender an old generation.
    FutureGeneration,
    /// Authentic, but from another pair on the same network (same key, or
    /// none): never a heartbeat of ours, never seen by the replay guard.
    OtherPair,
    /// Our own sender id and role with an older generation than ours: a
    /// datagram this node sent in an earlier run, replayed by someone on
    /// the network (`proto::intake`). Never a rival, never the peer.
    OwnOld,
}

impl Reject {
    pub(crate) const ALL: [Reject; 20] = [
        Reject::Truncated,
        Reject::Oversized,
        Reject::BadMagic,
        Reject::BadVersion,
        Reject::Unauthenticated,
        Reject::UnexpectedMac,
        Reject::BadMac,
        Reject::BadField,
        Reject::WrongSource,
        Reject::WrongRole,
        Reject::Own,
        Reject::WrongNetwork,
        Reject::Replay,
        Reject::OldGeneration,
        Reject::SequenceJump,
        Reject::OtherSender,
        Reject::LegacySuperseded,
        Reject::FutureGeneration,
        Reject::OtherPair,
        Reject::OwnOld,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reject::Truncated => "truncated",
            Reject::Oversized => "oversized",
            Reject::BadMagic => "bad-magic",
            Reject::BadVersion => "bad-version",
            Reject::Unauthenticated => "unauthenticated",
            Reject::UnexpectedMac => "unexpected-mac",
            Reject::BadMac => "bad-mac",
            Reject::BadField => "bad-field",
            Reject::WrongSource => "wrong-source",
            Reject::WrongRole => "wrong-role",
            Reject::Own => "own",
            Reject::WrongNetwork => "wrong-network",
            Reject::Replay => "replay",
            Reject::OldGeneration => "old-generation",
            Reject::SequenceJump => "sequence-jump",
            Reject::OtherSender => "other-sender",
            Reject::LegacySuperseded => "legacy-superseded",
            Reject::FutureGeneration => "future-generation",
            Reject::OtherPair => "other-pair",
            Reject::OwnOld => "own-old",
        }
    }

    /// Rejections that mean someone sent us something we could not trust
    /// (as opposed to our own looped-back broadcasts, or another pair's
    /// authentic datagrams, which are reported on their own).
    pub(crate) fn is_auth_failure(self) -> bool {
        !matches!(self, Reject::Own | Reject::LegacySuperseded | Reject::OtherPair)
    }
}

fn role_code(role: Role) -> u8 {
    match role {
        Role::Primary => 1,
        Role::Secondary => 2,
    }
}

fn net_code(net: NetId) -> u8 {
    match net {
        NetId::Public => 0,
        NetId::Private => 1,
    }
}

/// The bytes, at their offsets, that every datagram of one sender's run
/// carries: role (6), sender id (12) and generation (16). A datagram that
/// has them all is our own, looped back by the kernel (the reader's `own`
/// check); `sys::net::drop_matching` drops it before it wakes anyone.
pub(crate) fn own_pattern(role: Role, sender: SenderId, generation: Generation) -> Vec<(usize, Vec<u8>)> {
    let mut id = sender.0.to_be_bytes().to_vec();
    id.extend_from_slice(&generation.0.to_be_bytes());
    vec![(6, vec![role_code(role)]), (12, id)]
}

/// Writes `msg` into `out` and returns the datagram's length.
pub fn encode(msg: &Message, key: Option<&Key>, out: &mut [u8; MAX_LEN]) -> usize {
    out[0..4].copy_from_slice(&MAGIC);
    out[4] = VERSION;
    out[5] = msg.kind as u8;
    out[6] = role_code(msg.role);
    out[7] = net_code(msg.net);
    out[8..10].copy_from_slice(&msg.flags.0.to_be_bytes());
    out[10] = u8::from(key.is_some());
    out[11] = BODY_LEN as u8;
    out[12..16].copy_from_slice(&msg.sender.0.to_be_bytes());
    out[16..24].copy_from_slice(&msg.generation.0.to_be_bytes());
    out[24..32].copy_from_slice(&msg.seq.0.to_be_bytes());
    out[32..40].copy_from_slice(&msg.pair.0.to_be_bytes());
    out[40..48].copy_from_slice(&msg.claim.map_or(0, |c| c.0).to_be_bytes());
    let signed = HEADER_LEN + BODY_LEN;
    match key {
        Some(key) => {
            let mac = key.mac(&out[..signed]);
            out[signed..signed + MAC_LEN].copy_from_slice(&mac);
            signed + MAC_LEN
        }
        None => signed,
    }
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Checks framing, authentication and field values, in the order of
/// `docs/protocol.md`. The pair id is returned, not judged: the reader
/// compares it with its own (`pair::admits`). Role, network and replay
/// checks need the receiver's state and are done by the caller
/// (`replay::Guard`).
pub fn decode(buf: &[u8], key: Option<&Key>) -> Result<Message, Reject> {
    if buf.len() < HEADER_LEN {
        return Err(Reject::Truncated);
    }
    if buf[0..4] != MAGIC {
        return Err(Reject::BadMagic);
    }
    if buf[4] != VERSION {
        return Err(Reject::BadVersion);
    }
    let auth = buf[10];
    let body_len = usize::from(buf[11]);
    if body_len > MAX_BODY || auth > 1 {
        return Err(Reject::BadField);
    }
    let signed_len = HEADER_LEN + body_len;
    let expected = signed_len + if auth == 1 { MAC_LEN } else { 0 };
    if buf.len() < expected {
        return Err(Reject::Truncated);
    }
    if buf.len() > expected {
        return Err(Reject::Oversized);
    }
    match (key, auth) {
        (Some(_), 0) => return Err(Reject::Unauthenticated),
        (None, 1) => return Err(Reject::UnexpectedMac),
        (Some(key), _) => {
            if !key.verify(&buf[..signed_len], &buf[signed_len..]) {
                return Err(Reject::BadMac);
            }
        }
        (None, _) => {}
    }
    let kind = Kind::from_u8(buf[5]).ok_or(Reject::BadField)?;
    let role = match buf[6] {
        1 => Role::Primary,
        2 => Role::Secondary,
        _ => return Err(Reject::BadField),
    };
    let net = match buf[7] {
        0 => NetId::Public,
        1 => NetId::Private,
        _ => return Err(Reject::BadField),
    };
    // A body shorter than this version's comes from a peer that predates
    // it (empty) or is malformed; longer ones may carry more in a later
    // version and are read as far as we understand them.
    let (pair, claim) = match body_len {
        0 => (super::pair::UNNAMED, None),
        n if n < BODY_LEN => return Err(Reject::BadField),
        _ => (
            PairId(be_u64(&buf[HEADER_LEN..HEADER_LEN + 8])),
            Some(ClaimId(be_u64(&buf[HEADER_LEN + 8..HEADER_LEN + 16]))),
        ),
    };
    Ok(Message {
        pair,
        claim,
        kind,
        role,
        net,
        flags: Flags(u16::from_be_bytes([buf[8], buf[9]])),
        sender: SenderId(u32::from_be_bytes([buf[12], buf[13], buf[14], buf[15]])),
        generation: Generation(be_u64(&buf[16..24])),
        seq: Seq(be_u64(&buf[24..32])),
    })
}

/// Apple's legacy heartbeat: the configured text, optionally followed by a
/// NUL or a newline. Carries no MAC, so only its source address can be
/// checked (by the caller).
pub fn is_legacy(buf: &[u8], message: &str) -> bool {
    let body = match buf.last() {
        Some(0) | Some(b'\n') => &buf[..buf.len() - 1],
        _ => buf,
    };
    !message.is_empty() && body == message.as_bytes()
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
