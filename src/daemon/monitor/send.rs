//! Sending datagrams: the engine's Send actions put into messages, signed
//! and handed to each network's outbox (`net/outbox.rs`).

use super::Monitor;
use crate::config::{Legacy, NetId};
use crate::crypto::hmac::Key;
use crate::proto::{self, ClaimId, Kind, Message, Seq};
use std::sync::Arc;
use std::time::Instant;

/// What every datagram this node sends carries besides its identity: the
/// key it is signed with, and the sequence number of the latest one. Only
/// `Monitor::send` changes it.
pub(super) struct Stamp {
    key: Option<Arc<Key>>,
    seq: Seq,
}

impl Stamp {
    pub(super) fn new(key: Option<Arc<Key>>) -> Stamp {
        Stamp { key, seq: Seq(0) }
    }

    /// Whether datagrams are signed (a key is configured).
    pub(super) fn signed(&self) -> bool {
        self.key.is_some()
    }
}

impl Monitor {
    /// Sends `copies` of a datagram on each network, or on `only` one.
    pub(super) fn send(
        &mut self,
        kind: Kind,
        copies: usize,
        claim: ClaimId,
        only: Option<NetId>,
    ) -> Option<crate::engine::Input> {
        let flags = self.engine.flags(Instant::now());
        for net in NetId::ALL.into_iter().filter(|&n| only.is_none_or(|o| o == n)) {
            for _ in 0..copies {
                self.stamp.seq = self.stamp.seq.next();
                let msg = Message {
                    kind,
                    role: self.cfg.role,
                    net,
                    flags,
                    sender: self.id.sender,
                    generation: self.id.generation,
                    seq: self.stamp.seq,
                    pair: self.id.pair_id,
                    claim: Some(claim),
                };
                let mut buf = [0u8; proto::codec::MAX_LEN];
                let n = proto::encode(&msg, self.stamp.key.as_deref(), &mut buf);
                self.io.out[net.index()].send(&buf[..n]);
            }
            if kind == Kind::Heartbeat && self.cfg.legacy_heartbeat == Legacy::Send {
                // For an old Mac running failoverd (docs/protocol.md).
                self.io.out[net.index()].send(self.cfg.legacy_message.as_bytes());
            }
        }
        None
    }
}
