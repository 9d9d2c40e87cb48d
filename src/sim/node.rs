//! One simulated server: its daemon process (the real engine and replay
//! guard), its mover with hooks that take time and ioctls that fail, the
//! kernel's addresses and its cables.

use crate::config::{NetId, Role};
use crate::engine::{Direction, Engine, Held, MoveId, Reason, Settings};
use crate::proto::intake::Intake;
use crate::proto::replay::Floor;
use crate::proto::{Generation, PairId, SenderId, Seq};
use std::collections::VecDeque;

/// The pair's name as both configuration files have it, and the wrong one
/// an operator may give one node (both named: they do not admit each
/// other's datagrams, `proto::pair::admits`).
pub(super) const PAIR: PairId = PairId(0x5a5a_0001);
pub(super) const OTHER_PAIR: PairId = PairId(0x5a5a_0002);

/// What is written in the node's state file.
#[derive(Clone, Debug, Default)]
pub(super) struct StateFile {
    pub generation: Generation,
    pub floors: Vec<Floor>,
}

/// A job the simulated mover is carrying out or has queued.
#[derive(Clone, Debug)]
pub(super) struct SimJob {
    pub id: MoveId,
    pub dir: Direction,
    pub reason: Reason,
    /// Indices of the addresses to move.
    pub moving: Vec<usize>,
    /// Indices of addresses a reload dropped (removed).
    pub dropped: Vec<usize>,
    /// The hooks run so far, per moved address in the mover's order.
    pub hooks: Vec<HookCount>,
}

/// Invariant (g): the hooks one move ran for one address.
#[derive(Clone, Debug)]
pub(super) struct HookCount {
    pub addr: usize,
    /// The address was not yet where the move puts it when the mover
    /// reached it.
    pub needed: bool,
    /// Pre and Post hook runs.
    pub pre: u32,
    pub post: u32,
    /// The move changed it: it was needed and the address change worked
    /// (an administrator may have made the same change meanwhile).
    pub changed: bool,
}

pub(super) enum Proc {
    /// The daemon runs.
    Up(Box<Daemon>),
    /// SIGSTOP: the process keeps its state but runs nothing until thawed.
    Frozen(Box<Daemon>),
    /// Not running (crashed, stopped, refused to start); restarted at the
    /// given time if any.
    Down(Option<u64>),
}

pub(super) struct Daemon {
    pub engine: Engine,
    /// The daemon's intake, with its replay guards (`proto::intake`).
    pub intake: Intake,
    pub generation: Generation,
    pub seq: Seq,
    /// The last time the replay floors were written to the state file.
    pub persisted_at: u64,
}

pub(super) struct Node {
    pub role: Role,
    pub sender: SenderId,
    pub proc: Proc,
    /// The kernel: which of the addresses are on this node.
    pub kernel: Vec<bool>,
    /// The configuration file: settings and which addresses are listed.
    pub settings: Settings,
    pub configured: Vec<bool>,
    /// The address list in the configuration file (read at start).
    pub file: Vec<bool>,
    pub state_file: StateFile,
    /// Cables: [public, private].
    pub plugged: [bool; 2],
    /// Bumped when the process dies: events of an earlier life are void.
    pub life: u64,
    /// The mover: the job in progress and the queue behind it.
    pub job: Option<SimJob>,
    pub queue: VecDeque<SimJob>,
    /// Probability that one address change fails (the ioctl errors).
    pub fail: f64,
    /// Events held back while the process is frozen, replayed at thaw.
    pub held_back: Vec<super::Ev>,
    /// The node's service checks pass.
    pub fit: bool,
    /// Addresses a reload dropped whose removal failed.
    pub strays: Vec<usize>,
    /// Consecutive failed moves (for the liveness bound).
    pub failed_moves: u32,
    /// The waits before the retries of those failed moves (ms), as the
    /// engine set them (`Engine::retry_delay`: doubling from dead_after
    /// with each failure in a row, issue 28).
    pub retry_waits: u64,
    /// The pair id the running daemon sends and admits, and the one in
    /// its configuration file (read at the next start): an operator may
    /// rename one node's pair and restart it (issue 29).
    pub pair: PairId,
    pub pair_file: PairId,
    /// The name in traces: `P` and `S`, or `A` and `B` when both nodes are
    /// configured with the same role.
    pub label: &'static str,
    /// The public interface has disappeared: no address can be added.
    pub gone: bool,
}

impl Node {
    pub(super) fn new(role: Role, settings: Settings, addresses: usize, index: usize) -> Node {
        Node {
            role,
            // Distinct per node, also when both run the same role.
            sender: SenderId(0x5111_0001 + index as u32),
            proc: Proc::Down(Some(0)),
            kernel: vec![false; addresses],
            settings,
            configured: vec![true; addresses],
            file: vec![true; addresses],
            state_file: StateFile::default(),
            plugged: [true, true],
            life: 0,
            job: None,
            queue: VecDeque::new(),
            fail: 0.0,
            held_back: Vec::new(),
            failed_moves: 0,
            retry_waits: 0,
            strays: Vec::new(),
            fit: true,
            pair: PAIR,
            pair_file: PAIR,
            gone: false,
            label: match role {
                Role::Primary => "P",
                Role::Secondary => "S",
            },
        }
    }

    pub(super) fn daemon(&mut self) -> Option<&mut Daemon> {
        match &mut self.proc {
            Proc::Up(d) => Some(d),
            _ => None,
        }
    }

    pub(super) fn daemon_ref(&self) -> Option<&Daemon> {
        match &self.proc {
            Proc::Up(d) | Proc::Frozen(d) => Some(d),
            Proc::Down(_) => None,
        }
    }

    pub(super) fn running(&self) -> bool {
        matches!(self.proc, Proc::Up(_))
    }

    pub(super) fn alive(&self) -> bool {
        !matches!(self.proc, Proc::Down(_))
    }

    /// What the kernel shows for the configured addresses.
    pub(super) fn held(&self) -> Held {
        let list: Vec<bool> =
            (0..self.kernel.len()).filter(|&i| self.configured[i]).map(|i| self.kernel[i]).collect();
        match list.iter().filter(|&&h| h).count() {
            0 => Held::None,
            n if n == list.len() => Held::All,
            _ => Held::Some,
        }
    }

    pub(super) fn name(&self) -> &'static str {
        self.label
    }

    pub(super) fn link(&self, net: NetId) -> bool {
        self.plugged[net.index()]
    }
}
