//! The engine's vocabulary: its inputs, outputs, states and reasons.

use super::timing::Timing;
use crate::config::{Failback, Mode, NetId, Role};
use crate::proto::{ClaimId, Flags, Kind, Order};
use std::time::Duration;

/// `Display` as the name that logs, mails, status and metrics use.
macro_rules! display_by_name {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub role: Role,
    pub mode: Mode,
    pub failback: Failback,
    pub timing: Timing,
    /// Secondary: failing service checks keep it from taking over.
    pub gates_takeover: bool,
}

impl Settings {
    pub(crate) fn from_config(c: &crate::config::Config) -> Settings {
        Settings {
            role: c.role,
            mode: c.mode,
            failback: c.failback,
            timing: Timing::from_config(c),
            gates_takeover: c.check_gates_takeover,
        }
    }
}

/// Identifies one move of the addresses: the engine accepts a report only
/// for the move it is waiting for. Equal or not, never ordered; the engine
/// numbers its moves from `MoveId::FIRST` with `next`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct MoveId(pub u64);

impl MoveId {
    pub(crate) const FIRST: MoveId = MoveId(1);

    /// The id of the move after this one.
    pub(crate) fn next(self) -> MoveId {
        MoveId(self.0.wrapping_add(1))
    }
}

/// As logs and mails show it: the bare number.
impl std::fmt::Display for MoveId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

/// As the monitor's debug log and the simulator's traces showed it: the
/// bare number.
impl std::fmt::Debug for MoveId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

/// Identifies one probe of the addresses (ARP, neighbour solicitation):
/// the engine accepts an answer only for the probe it is waiting for, so
/// an answer that comes after the engine gave up on its probe, or from an
/// earlier episode, decides nothing. Equal or not, never ordered; the
/// engine numbers its probes from `ProbeId::FIRST` with `next`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ProbeId(pub u64);

impl ProbeId {
    pub(crate) const FIRST: ProbeId = ProbeId(1);

    /// The id of the probe after this one.
    pub(crate) fn next(self) -> ProbeId {
        ProbeId(self.0.wrapping_add(1))
    }
}

/// As logs and mails show it: the bare number.
impl std::fmt::Display for ProbeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

/// As the monitor's debug log and the simulator's traces showed it: the
/// bare number.
impl std::fmt::Debug for ProbeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Put the addresses on this node (for reason `Reload`: bring the
    /// kernel in line with a reloaded address list while holding).
    Acquire,
    /// Take the addresses off this node.
    Release,
}

/// How many of the configured addresses the kernel shows on this node,
/// looked at after a move (never taken from the ioctls' return values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Held {
    None,
    Some,
    All,
}

/// The mover's report of one move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MoveReport {
    pub id: MoveId,
    /// What the kernel shows now.
    pub held: Held,
    /// The operator's `Test` hook refused (for at least one address).
    pub vetoed: bool,
}

/// A reloaded configuration, as far as the engine is concerned. Applied
/// between moves, never beside one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reload {
    pub settings: Settings,
    /// The list of service addresses changed.
    pub addresses_changed: bool,
}

/// The intake's word of the peer (`proto::intake::Heard`) as the engine's
/// input: the same fields.
impl From<crate::proto::intake::Heard> for Input {
    fn from(h: crate::proto::intake::Heard) -> Input {
        Input::Heard { net: h.net, kind: h.kind, flags: h.flags, claim: h.claim, order: h.order }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// Nothing happened; a deadline passed.
    Tick,
    /// An authenticated, fresh datagram from the peer. `claim` is the claim
    /// id it carries: on a claim its own id; on a status or released the
    /// latest claim the secondary had seen when it sent it; `None` from a
    /// peer that predates claim ids (docs/protocol.md). `order` is the
    /// datagram's place in the peer's stream (`None` for Apple's text): one
    /// older than the newest already heard, overtaken on the other
    /// network, says only that the peer is alive.
    Heard { net: NetId, kind: Kind, flags: Flags, claim: Option<ClaimId>, order: Option<Order> },
    /// Our own link on `net` went up or down.
    Link { net: NetId, up: bool },
    /// The mover finished a move.
    Moved(MoveReport),
    /// Result of probe `id`: `Some(true)` nobody answered for any service
    /// address, `Some(false)` someone did, `None` the probe could not be
    /// made (its thread could not be started, or a socket failed and
    /// nobody answered): see `Engine::probed_any`.
    Probed { id: ProbeId, free: Option<bool> },
    /// What the kernel shows of the configured addresses, when no move is
    /// in progress: at start, and after `CheckKernel`.
    Kernel(Held),
    /// SIGTERM or SIGINT.
    Shutdown,
    /// An operator's `ipfailoverd takeover` or `release`.
    Command(Command),
    /// SIGHUP with a valid file that a reload may apply.
    Reload(Reload),
    /// An authentic, fresh datagram of our own pair from another node with
    /// our role: two primaries, or two secondaries, in one pair. `flags`:
    /// what it says of itself (holding, fit, public link); `outranks`: its
    /// (sender id, generation) is lower than ours, so it wins a tie
    /// (`Engine::rival_blocks`).
    SameRole { flags: Flags, outranks: bool },
    /// This node's service checks (docs/design.md §9) changed its fitness: `fit`
    /// when every check passes, not after `check_fall` failures in a row
    /// of any check. A node without checks is fit and never says so.
    Fitness { fit: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Takeover,
    Release,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Transition(Transition),
    /// Move the service addresses; answer with `Input::Moved` for `id`.
    Move {
        id: MoveId,
        dir: Direction,
        reason: Reason,
    },
    SendHeartbeat,
    /// The secondary's status: on `only` that network, or on both
    /// (`Engine::status_networks`).
    SendStatus {
        only: Option<crate::config::NetId>,
    },
    SendGoodbye,
    /// Primary: ask the secondary to release the addresses (claim `id`).
    SendClaim {
        id: ClaimId,
    },
    /// Secondary: the addresses are off this node (answers claim `id`).
    SendReleased {
        id: ClaimId,
    },
    /// Ask the network (ARP, neighbour solicitation) whether anyone holds
    /// the addresses, waiting `wait` for an answer; answered with
    /// `Input::Probed` for the same `id`.
    Probe {
        id: ProbeId,
        wait: Duration,
    },
    /// A reload the engine accepted takes effect now: the monitor switches
    /// to the new configuration (before any `Move` that follows).
    Reconfigure,
    /// Look at the kernel and answer with `Input::Kernel`.
    CheckKernel,
    /// The answer to a `Command`: what was started, or why it was refused.
    Answer(Result<String, String>),
    /// Mail the administrator (docs/design.md §7). The engine decides what is mailed;
    /// the monitor only words it.
    Notify(Notice),
    /// Everything is cleaned up: the daemon may exit.
    Exit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    /// A move ended in a way the administrator hears about: a takeover
    /// (done, vetoed, failed), a give-back, a failed removal.
    Move {
        id: MoveId,
        dir: Direction,
        reason: Reason,
        outcome: Outcome,
    },
    /// Secondary: the primary fell silent on one network / is heard there again.
    Anomaly {
        net: NetId,
        detail: String,
    },
    AnomalyCleared {
        net: NetId,
        detail: String,
    },
    /// Primary: the secondary's status stopped on both networks.
    PeerLost {
        silent_for: Duration,
    },
    PeerBack,
    /// Primary: the secondary keeps the addresses (failback = manual).
    PeerKeeps,
    /// Primary: an ARP probe found the address in use while the secondary
    /// is silent.
    ProbeAnswered,
    /// A stopping node could not remove its addresses and stops without a
    /// goodbye: the secondary takes them only after dead_after.
    StoppedHolding,
    /// Another node of this pair runs with our role (at most once an
    /// hour). `holding`: this node has the addresses (a primary that does
    /// not hold them does not add them while it hears the other).
    SameRole {
        holding: bool,
    },
    /// Secondary: the primary is silent but another host answers for the
    /// addresses; no takeover while it does.
    TakeoverBlocked,
    /// This node's service checks started failing, or pass again.
    Fitness {
        fit: bool,
    },
    /// Primary: the secondary's checks started failing (the pair has no fit
    /// standby), or pass again.
    PeerFitness {
        fit: bool,
    },
    /// Primary: our checks fail and there is no fit secondary to hand over
    /// to: nothing moves.
    NoFitStandby,
    /// Secondary: the primary is gone but our own checks fail: no takeover
    /// (check_gates_takeover) until they pass.
    TakeoverGated,
    /// A service address this node holds was removed by someone else
    /// (`ip addr del`, NetworkManager, a second daemon): put back after
    /// `wait`; `again`: how many put-backs came just before this one
    /// (something keeps removing it).
    AddressLost {
        again: u32,
        wait: Duration,
    },
    /// A service address this node does not hold was added by someone
    /// else: removed (`kept` false), or kept because the engine's rules
    /// say this node should hold the addresses anyway.
    AddressAdded {
        kept: bool,
    },
}

/// How a move ended, as mailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    /// Some addresses, not all.
    Partial,
    Vetoed,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Transition {
    pub from: State,
    pub to: State,
    pub reason: Reason,
    /// Human words for the log and mail: which networks, for how long.
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Starting,
    /// Secondary: the primary is heard on both networks.
    Watching,
    /// Secondary: the primary is silent on exactly this network.
    Anomaly(NetId),
    /// Secondary: the primary is silent on both networks but our own public
    /// link is down, so taking the address over would serve nobody.
    Isolated,
    /// Putting the addresses on this node (hooks, ioctls, announcements).
    Acquiring,
    /// Secondary: holds the primary's addresses.
    Holding,
    /// Primary: serving (in managed mode: holds its addresses).
    Active,
    /// Primary: waiting for the secondary to release the addresses.
    Claiming,
    /// Primary: its public link is down; it dropped the addresses and
    /// declares them free.
    PublicDown,
    /// Taking the addresses off this node.
    Releasing,
    /// A takeover failed; retried after dead_after, then at doubling
    /// intervals (`Engine::retry_delay`).
    Failed,
    /// Secondary: the `Test` hook refused the takeover; nothing is retried
    /// until the primary is heard again.
    Vetoed,
    /// Primary: stood down by an operator (`ipfailoverd release`): it
    /// declares its addresses free until `ipfailoverd takeover`, or until
    /// the secondary is no longer heard (then it claims them back).
    Standby,
    /// Primary: its service checks fail and a fit secondary is heard: it
    /// removed the addresses and declares them free.
    Unfit,
    Stopped,
}

impl State {
    /// Every state, for metrics (one series each). A new state goes here
    /// too; `every_state_and_reason_once` checks the names.
    pub(crate) const ALL: [State; 16] = [
        State::Starting,
        State::Watching,
        State::Anomaly(NetId::Public),
        State::Anomaly(NetId::Private),
        State::Isolated,
        State::Acquiring,
        State::Holding,
        State::Active,
        State::Claiming,
        State::PublicDown,
        State::Releasing,
        State::Failed,
        State::Vetoed,
        State::Standby,
        State::Unfit,
        State::Stopped,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Watching => "watching",
            State::Anomaly(NetId::Public) => "anomaly-public",
            State::Anomaly(NetId::Private) => "anomaly-private",
            State::Isolated => "isolated",
            State::Acquiring => "acquiring",
            State::Holding => "holding",
            State::Active => "active",
            State::Claiming => "claiming",
            State::PublicDown => "public-down",
            State::Releasing => "releasing",
            State::Failed => "failed",
            State::Vetoed => "vetoed",
            State::Standby => "standby",
            State::Unfit => "unfit",
            State::Stopped => "stopped",
        }
    }
}

display_by_name!(State);

/// Why a transition happened. The first six are the hook contract's
/// `IPFAILOVER_REASON` values (docs/design.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    BothNetworksSilent,
    Goodbye,
    PrimaryPublicDown,
    PrimaryBack,
    Manual,
    Shutdown,
    Startup,
    NetworkSilent,
    NetworkBack,
    OwnPublicLinkDown,
    Acquired,
    AcquireFailed,
    Released,
    /// The operator's Test hook refused.
    Veto,
    ReleaseFailed,
    /// Primary: the secondary said it holds the addresses too.
    Conflict,
    /// Primary: nobody answered the probe for the addresses.
    ProbedFree,
    /// Secondary: the addresses were on our interface at start.
    Adopted,
    /// A configuration reload added or removed addresses.
    Reload,
    /// Primary in standby or unfit: the secondary is no longer heard, or
    /// says it cannot serve (its public link down, its checks failing),
    /// or holds nothing: nobody would serve the addresses.
    PeerLost,
    /// The service checks fail (docs/design.md §9, a hook `IPFAILOVER_REASON`).
    ServiceCheckFailed,
    /// Primary: its service checks pass again.
    ChecksPass,
    /// A held address was removed from outside this daemon and is put
    /// back (a hook `IPFAILOVER_REASON`).
    AddressLost,
    /// An address was added from outside this daemon where it must not be,
    /// and is removed (or kept, when this node should hold it anyway).
    AddressAdded,
}

impl Reason {
    /// Every reason, for metrics (a counter each, from zero). A new reason
    /// goes here too.
    pub(crate) const ALL: [Reason; 24] = [
        Reason::BothNetworksSilent,
        Reason::Goodbye,
        Reason::PrimaryPublicDown,
        Reason::PrimaryBack,
        Reason::Manual,
        Reason::Shutdown,
        Reason::Startup,
        Reason::NetworkSilent,
        Reason::NetworkBack,
        Reason::OwnPublicLinkDown,
        Reason::Acquired,
        Reason::AcquireFailed,
        Reason::Released,
        Reason::Veto,
        Reason::ReleaseFailed,
        Reason::Conflict,
        Reason::ProbedFree,
        Reason::Adopted,
        Reason::Reload,
        Reason::PeerLost,
        Reason::ServiceCheckFailed,
        Reason::ChecksPass,
        Reason::AddressLost,
        Reason::AddressAdded,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::BothNetworksSilent => "both-networks-silent",
            Reason::Goodbye => "goodbye",
            Reason::PrimaryPublicDown => "primary-public-down",
            Reason::PrimaryBack => "primary-back",
            Reason::Manual => "manual",
            Reason::Shutdown => "shutdown",
            Reason::Startup => "startup",
            Reason::NetworkSilent => "network-silent",
            Reason::NetworkBack => "network-back",
            Reason::OwnPublicLinkDown => "own-public-link-down",
            Reason::Acquired => "acquired",
            Reason::AcquireFailed => "acquire-failed",
            Reason::Released => "released",
            Reason::Veto => "test-veto",
            Reason::ReleaseFailed => "release-failed",
            Reason::Conflict => "conflict",
            Reason::ProbedFree => "probed-free",
            Reason::Adopted => "adopted",
            Reason::Reload => "reload",
            Reason::PeerLost => "peer-lost",
            Reason::ServiceCheckFailed => "service-check-failed",
            Reason::ChecksPass => "checks-pass",
            Reason::AddressLost => "address-lost",
            Reason::AddressAdded => "address-added",
        }
    }
}

display_by_name!(Reason);
