//! The engine's vocabulary: its inputs, outputs, states and reasons.

use crate::config::{Failback, Mode, NetId, Role};
use crate::proto::{Flags, Kind};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub interval: Duration,
    pub dead_after: Duration,
    pub recover_after: Duration,
    pub startup_grace: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub role: Role,
    pub mode: Mode,
    pub failback: Failback,
    pub timing: Timing,
}

impl Settings {
    pub fn from_config(c: &crate::config::Config) -> Settings {
        Settings {
            role: c.role,
            mode: c.mode,
            failback: c.failback,
            timing: Timing {
                interval: c.interval,
                dead_after: c.dead_after,
                recover_after: c.recover_after,
                startup_grace: c.startup_grace,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Nothing happened; a deadline passed.
    Tick,
    /// An authenticated, fresh datagram from the peer.
    Heard { net: NetId, kind: Kind, flags: Flags },
    /// Our own link on `net` went up or down.
    Link { net: NetId, up: bool },
    /// The monitor finished an `Acquire`.
    Acquired(Moved),
    /// The monitor finished a `Release`.
    Released(Moved),
    /// Result of a `Probe`: nobody answered for any service address.
    Probed { free: bool },
    /// At start, the service addresses were found on our interface.
    FoundHolding,
    /// SIGTERM or SIGINT.
    Shutdown,
    /// An operator's `ipfailoverd takeover` or `release`.
    Command(Command),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Takeover,
    Release,
}

/// How a move of the addresses ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moved {
    /// Done (for an acquire: at least one address is held).
    Done,
    /// The ioctls failed (for an acquire: no address could be added; for a
    /// release: an address is still on the interface).
    Failed,
    /// The operator's `Test` hook said no.
    Vetoed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Transition(Transition),
    /// Put the service addresses on this node and announce them.
    Acquire {
        reason: Reason,
    },
    /// Take the service addresses off this node.
    Release {
        reason: Reason,
    },
    SendHeartbeat,
    SendStatus,
    SendGoodbye,
    /// Primary: ask the secondary to release the addresses.
    SendClaim,
    /// Secondary: the addresses are off this node.
    SendReleased,
    /// Primary: ask the network (ARP) whether anyone holds the addresses.
    Probe,
    /// The answer to a `Command`: what was started, or why it was refused.
    Answer(Result<String, String>),
    /// Something the administrator should hear about that is not a state
    /// change of ours (the peer's standby lost or back, conflicts).
    Notice(Notice),
    /// Everything is cleaned up: the daemon may exit.
    Exit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub reason: Reason,
    /// Human words for the log and mail: which networks, for how long.
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
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
    /// Secondary: a takeover failed; retried after dead_after.
    Failed,
    /// Secondary: the `Test` hook refused the takeover; nothing is retried
    /// until the primary is heard again.
    Vetoed,
    /// Stood down by an operator (`ipfailoverd release`): the primary
    /// declares its addresses free; the secondary does not take them until
    /// the primary is heard again. `ipfailoverd takeover` ends it.
    Standby,
    Stopped,
}

impl State {
    pub fn as_str(self) -> &'static str {
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
            State::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transition happened. The first six are the hook contract's
/// `IPFAILOVER_REASON` values (SPEC 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
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
}

impl Reason {
    pub fn as_str(self) -> &'static str {
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
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
