//! What the engine knows of its peer (and of a rival with our role): when
//! it was heard on each network, what its newest datagram said. Written
//! when a datagram is taken (`Engine::step`, `heard_from_peer`,
//! `note_heard`, `overtaken`, `same_role`); a secondary forgets what it
//! heard on the primary's goodbye.

use crate::proto::Flags;
use std::time::Instant;

/// The peer's facts. See the module's comment for who changes them.
#[derive(Debug, Default)]
pub(super) struct PeerFacts {
    /// Last accepted datagram from the peer, per network.
    pub(super) heard: [Option<Instant>; 2],
    /// Per network: since when the peer has been heard without a silence
    /// of dead_after (`recover_after` counts from here).
    pub(super) steady_since: [Option<Instant>; 2],
    /// When the peer's current generation was first heard: a restarted
    /// peer (a new generation) starts a new steady run, so a primary that
    /// crash-loops never looks steady.
    pub(super) peer_gen_since: Option<Instant>,
    /// Per network: the last datagram the peer sent us, whatever it said
    /// (a goodbye or an overtaken one too): what `status` shows.
    pub(super) last_datagram: [Option<Instant>; 2],
    /// Per network: the last datagram of protocol v1 (not Apple's text).
    pub(super) heard_v1: [Option<Instant>; 2],
    /// Flags of the peer's newest datagram.
    pub(super) peer_flags: Option<Flags>,
    /// (generation, sequence) of the peer's newest datagram.
    pub(super) peer_order: Option<(u64, u64)>,
    /// The peer's newest datagram was a goodbye.
    pub(super) peer_left: bool,
    /// When the peer was heard again after silence on both networks (or
    /// for the first time): the other network's silence counts from then,
    /// not from before the peer went away.
    pub(super) peer_back_at: Option<Instant>,
    /// Another node with our role, as last heard (`Input::SameRole`), and
    /// when that was last notified.
    pub(super) rival: Option<Rival>,
    pub(super) same_role_noticed: Option<Instant>,
}

/// Another node with our role, as its latest datagram described it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rival {
    pub(super) at: Instant,
    pub(super) flags: Flags,
    pub(super) outranks: bool,
}
