//! One simulated server: its daemon process (the real engine and replay
//! guard), its mover with hooks that take time and ioctls that fail, the
//! kernel's addresses and its cables.

use crate::config::{NetId, Role};
use crate::engine::{Direction, Engine, Held, MoveId, Reason, Settings};
use crate::proto::intake::Intake;
use crate::proto::replay::Floor;
use std::collections::VecDeque;

/// What is written in the node's state file.
#[derive(Clone, Debug, Default)]
pub(super) struct StateFile {
    pub generation: u64,
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
    pub generation: u64,
    pub seq: u64,
    /// The last time the replay floors were written to the state file.
    pub persisted_at: u64,
}

pub(super) struct Node {
    pub role: Role,
    pub sender: u32,
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
}

impl Node {
    pub(super) fn new(role: Role, settings: Settings, addresses: usize) -> Node {
        Node {
            role,
            sender: if role == Role::Primary { 0x5111_0001 } else { 0x5111_0002 },
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
            strays: Vec::new(),
            fit: true,
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
        match self.role {
            Role::Primary => "P",
            Role::Secondary => "S",
        }
    }

    pub(super) fn link(&self, net: NetId) -> bool {
        self.plugged[net.index()]
    }
}
