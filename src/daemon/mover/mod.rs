//! The mover thread: one long-lived thread that carries out the engine's
//! moves of the service addresses, one at a time and in order, with the
//! operator's hooks around each address (docs/design.md §3): Test, PreAcq*, add and
//! announce, PostAcq* — or Test, PreRel*, remove, PostRel*. It runs off the
//! monitor's path, so heartbeats keep flowing while a hook runs. Every job
//! carries the engine's move id and everything it needs (addresses, hook
//! settings), so a reload never needs a second mover; the report comes back
//! as one `Report` with the same id and what the kernel shows after
//! the move.
//!
//! Only the addresses whose state the move changes are touched (issue 28):
//! an acquire leaves alone an address already on its interface, a release
//! one already gone, with no hook and no ioctl (an address left on is
//! announced again, as an added one is). A retry after a partial
//! takeover thus runs PreAcq and PostAcq for the missing address only, not
//! again for those that serve (whose hooks often restart a service).
//!
//! `Test` is all or nothing: it is asked for every address the move would
//! change, before any of them is touched, and one refusal vetoes the whole
//! move (until issue 28 a refused address was skipped and the others were
//! moved: a partial takeover, retried with Test asked again, without end).

pub(super) mod addrs;
pub(super) mod announce;
pub(crate) mod confirm;

use super::post::Post;
use crate::config::{Config, Role, ServiceAddr};
use crate::engine::{Direction, Held, MoveId, MoveReport, Reason};
use crate::hooks::{self, Ran, Stage};
use crate::log;
use addrs::{Addresses, Announce};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

/// Where the hooks are and how long they may run.
#[derive(Clone, Debug)]
pub(super) struct Hooks {
    pub scripts_dir: PathBuf,
    pub timeout: Duration,
    pub peer: Option<IpAddr>,
}

pub(super) struct Job {
    pub id: MoveId,
    pub dir: Direction,
    pub reason: Reason,
    /// Every configured address: the kernel check after the move looks at
    /// these.
    pub addrs: Vec<ServiceAddr>,
    /// The addresses to move: all of `addrs`, or for a reload only the
    /// ones it added.
    pub moving: Vec<ServiceAddr>,
    /// Addresses no longer configured (dropped by a reload, or left over
    /// from one whose removal failed): removed first, without hooks.
    pub dropped: Vec<ServiceAddr>,
    /// Run the hooks (the secondary does; the primary does not).
    pub hooks: Option<Hooks>,
    /// Consult `Test` first (not for an operator's command, a shutdown or
    /// a reload).
    pub test: bool,
    pub announce: Announce,
}

impl Job {
    /// Move `id` of the addresses `moving` (and the `dropped` ones away),
    /// as the configuration in force says to do it.
    pub(super) fn new(
        id: MoveId,
        dir: Direction,
        reason: Reason,
        cfg: &Config,
        moving: Vec<ServiceAddr>,
        dropped: Vec<ServiceAddr>,
    ) -> Job {
        let hooks = (cfg.role == Role::Secondary).then(|| Hooks {
            scripts_dir: cfg.scripts_dir.clone(),
            timeout: cfg.hook_timeout,
            peer: cfg.peer,
        });
        Job {
            id,
            dir,
            reason,
            addrs: cfg.addresses.clone(),
            moving,
            dropped,
            hooks,
            // The operator's Test hook judges the daemon's own decisions,
            // not an operator's command, a shutdown or a reload.
            // Nor the repair of what someone else did to the addresses.
            test: !matches!(
                reason,
                Reason::Shutdown
                    | Reason::Manual
                    | Reason::Reload
                    | Reason::AddressLost
                    | Reason::AddressAdded
            ),
            announce: Announce { count: cfg.garp_count, interval: cfg.garp_interval },
        }
    }
}

/// What a move did, for the engine, the log and the mail.
#[derive(Debug)]
pub(crate) struct Report {
    pub id: MoveId,
    pub dir: Direction,
    pub reason: Reason,
    /// What the kernel shows after the move.
    pub held: Held,
    pub vetoed: bool,
    /// One line per address: what happened to it.
    pub done: Vec<String>,
    pub failures: Vec<String>,
    pub refused: Vec<String>,
    /// The configured addresses the move left in the wrong place (not on
    /// the interface after an acquire, still on it after a release), as
    /// the kernel shows them: which mails are alike (`monitor::tell`).
    pub wrong: Vec<IpAddr>,
    pub hooks: Vec<Ran>,
    /// Hooks found but not run (unsafe owner or mode, not executable),
    /// each with the reason: the mail lists them beside those that ran.
    pub skipped: Vec<hooks::Skipped>,
    pub took: Duration,
    /// Dropped addresses still on the interface after the move.
    pub strays: Vec<ServiceAddr>,
    /// Addresses were added and a watch for the first client packet runs
    /// (`confirm.rs`), or it could not be started (why).
    pub watch: Option<Result<(), String>>,
}

impl Report {
    pub(crate) fn for_engine(&self) -> MoveReport {
        MoveReport { id: self.id, held: self.held, vetoed: self.vetoed }
    }
}

pub(super) struct Mover {
    pub addrs: Addresses,
    /// Where each move's client watch reports (`confirm.rs`).
    pub confirmed: Post<confirm::Confirmation>,
}

impl Mover {
    pub(super) fn spawn(self, events: Post<Report>) -> std::io::Result<Sender<Job>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new().name("mover".into()).spawn(move || self.run(rx, events))?;
        Ok(tx)
    }

    fn run(self, rx: Receiver<Job>, events: Post<Report>) {
        // The client watch of the latest move that added addresses: the
        // next move ends it (dropped).
        let mut watch: Option<confirm::Watch> = None;
        for job in rx {
            watch = None;
            let report = self.perform(&job, &mut watch);
            if events.send(report).is_err() {
                return;
            }
        }
        drop(watch);
    }

    fn perform(&self, job: &Job, watch: &mut Option<confirm::Watch>) -> Report {
        let start = Instant::now();
        let mut r = Report {
            id: job.id,
            dir: job.dir,
            reason: job.reason,
            held: Held::None,
            vetoed: false,
            done: vec![],
            failures: vec![],
            refused: vec![],
            wrong: vec![],
            hooks: vec![],
            skipped: vec![],
            took: Duration::ZERO,
            strays: vec![],
            watch: None,
        };
        self.remove_dropped(job, &mut r);
        let wanted = job.dir == Direction::Acquire;
        // What this move changes: an address whose presence cannot be read
        // is moved (the ioctls are idempotent).
        let kernel = addrs::Kernel::look(&job.moving);
        let (change, unchanged): (Vec<&ServiceAddr>, Vec<&ServiceAddr>) =
            job.moving.iter().partition(|a| kernel.has(a) != Some(wanted));
        for a in unchanged {
            self.leave(job, a, &mut r);
        }
        // The hook directories, listed once for the whole move.
        let hooks = job.hooks.as_ref().map(|h| (h, hooks::Dirs::list(&h.scripts_dir)));
        if let Some(h) = hooks.as_ref().filter(|_| job.test) {
            // All or nothing: the first refusal vetoes the move before any
            // address is touched; the addresses after it are not asked.
            if let Some(a) = change.iter().find(|a| !stage(h, a, Stage::Test, job.reason, &mut r)) {
                let line = format!("{}/{}: Test refused: no address was moved", a.addr, a.prefix);
                log::warn!("{line}");
                r.refused.push(line);
                r.vetoed = true;
            }
        }
        let pending = if r.vetoed { None } else { self.change(job, hooks.as_ref(), &change, &mut r) };
        r.watch = self.watch(pending, watch);
        if let Some(Err(e)) = &r.watch {
            log::warn!("no watch for the first client packet: {e}");
        }
        settle(job, &mut r);
        r.took = start.elapsed();
        r
    }

    /// Removes the addresses no longer configured, first, without hooks.
    fn remove_dropped(&self, job: &Job, r: &mut Report) {
        let kernel = addrs::Kernel::look(&job.dropped);
        for a in &job.dropped {
            if kernel.has(a) == Some(false) {
                continue;
            }
            match self.addrs.release_one(a, job.reason.as_str(), &job.addrs) {
                Ok(line) => r.done.push(line),
                Err(line) => r.failures.push(line),
            }
        }
    }

    /// An address already where the move wants it: no hook and no ioctl.
    fn leave(&self, job: &Job, a: &ServiceAddr, r: &mut Report) {
        let line = match job.dir {
            Direction::Acquire => {
                // No hook and no ioctl, but announced as an added one
                // is: whoever missed the earlier announcement learns
                // where it is.
                self.addrs.announce_kept(a, job.announce);
                format!("{}/{} already on {}: left as it is, announced again", a.addr, a.prefix, a.interface)
            }
            Direction::Release => format!("{}/{} already gone from {}", a.addr, a.prefix, a.interface),
        };
        log::info!("{line} (no hooks)");
        r.done.push(line);
    }

    /// Moves each address of `change` between its Pre and Post hooks.
    /// An acquire returns the client watch it opened before the first add
    /// (`confirm.rs`), with what was added.
    fn change(
        &self,
        job: &Job,
        hooks: Option<&(&Hooks, hooks::Dirs)>,
        change: &[&ServiceAddr],
        r: &mut Report,
    ) -> Option<Result<confirm::Pending, String>> {
        let (pre, post) = match job.dir {
            Direction::Acquire => (Stage::PreAcq, Stage::PostAcq),
            Direction::Release => (Stage::PreRel, Stage::PostRel),
        };
        let why = job.reason.as_str();
        let mut adds = addrs::Adds::default();
        // The watch's socket is open before the first add, so that the
        // first client packet after it is not missed (microseconds).
        let mut pending = match job.dir {
            Direction::Acquire if !change.is_empty() => Some(confirm::Pending::open(job.id, change)),
            _ => None,
        };
        for a in change {
            if let Some(h) = hooks {
                stage(h, a, pre, job.reason, r);
            }
            let result = match job.dir {
                Direction::Acquire => self.addrs.acquire_one(a, why, job.announce, &mut adds),
                Direction::Release => self.addrs.release_one(a, why, &job.addrs),
            };
            match result {
                Ok(line) => {
                    if let Some(Ok(p)) = pending.as_mut() {
                        p.added(a);
                    }
                    r.done.push(line)
                }
                Err(line) => {
                    r.failures.push(line);
                    continue;
                }
            }
            if let Some(h) = hooks {
                stage(h, a, post, job.reason, r);
            }
        }
        pending
    }

    /// Starts the client watch of `pending` (kept in `watch` until the
    /// next move); the report's word on it.
    fn watch(
        &self,
        pending: Option<Result<confirm::Pending, String>>,
        watch: &mut Option<confirm::Watch>,
    ) -> Option<Result<(), String>> {
        match pending? {
            Ok(p) => match p.start(self.confirmed.clone()) {
                Ok(Some(w)) => {
                    *watch = Some(w);
                    Some(Ok(()))
                }
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            },
            Err(e) => Some(Err(e)),
        }
    }
}

/// After the move: the kernel, not the ioctls' answers, says where the
/// addresses are; a move that did not get there without saying why says
/// so now.
fn settle(job: &Job, r: &mut Report) {
    let wanted = job.dir == Direction::Acquire;
    let present = addrs::present(&job.addrs);
    r.held = match present.len() {
        0 => Held::None,
        n if n == job.addrs.len() => Held::All,
        _ => Held::Some,
    };
    r.wrong = job.addrs.iter().filter(|a| present.contains(a) != wanted).map(|a| a.addr).collect();
    r.strays = addrs::present(&job.dropped).into_iter().cloned().collect();
    if r.held == Held::All && !r.strays.is_empty() && job.dir == Direction::Acquire {
        // Not yet what the configuration says: tried again like a
        // partial takeover.
        r.held = Held::Some;
    }
    let expected = match job.dir {
        Direction::Acquire => Held::All,
        Direction::Release => Held::None,
    };
    if r.held != expected && r.failures.is_empty() && !r.vetoed {
        let line = format!(
            "after the move the kernel shows {} of the addresses on this node, not {}",
            held_words(r.held),
            held_words(expected)
        );
        log::error!("{line}");
        r.failures.push(line);
    }
}

/// Whether `a` is on its interface now; `None` when that cannot be read.
fn held_words(h: Held) -> &'static str {
    match h {
        Held::None => "none",
        Held::Some => "some",
        Held::All => "all",
    }
}

/// Runs every hook of `stage` for `a`; returns false if one failed (only
/// `Test` makes that matter: for Pre/Post hooks the move goes on).
fn stage(
    (h, dirs): &(&Hooks, hooks::Dirs),
    a: &ServiceAddr,
    stage: Stage,
    reason: Reason,
    r: &mut Report,
) -> bool {
    if !dirs.may_have(a) {
        return true;
    }
    let (list, skipped) = hooks::discover(&h.scripts_dir, a, stage);
    for s in &skipped {
        log::warn!("{s}");
    }
    r.skipped.extend(skipped);
    let ctx = hooks::Context { stage, addr: a, peer: h.peer, reason: reason.as_str() };
    let mut ok = true;
    for path in list {
        let ran = hooks::run(&path, &ctx, h.timeout);
        ok &= ran.exit.success();
        r.hooks.push(ran);
    }
    ok
}
