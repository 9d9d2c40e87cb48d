//! The mover thread: one move of the service addresses at a time, with the
//! operator's hooks around each address (SPEC 3): Test, PreAcq*, add and
//! announce, PostAcq* — or Test, PreRel*, remove, PostRel*. It runs off the
//! monitor's path, so heartbeats keep flowing while a hook runs; the result
//! comes back as one `Event::Moved`.

use super::addrs::Addresses;
use super::Event;
use crate::config::ServiceAddr;
use crate::engine::{Moved, Reason};
use crate::hooks::{self, Ran, Stage};
use crate::log;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::time::{Duration, Instant};

pub struct Job {
    pub acquire: bool,
    pub reason: Reason,
    /// Run the hooks at all (the secondary does; the primary does not).
    pub hooks: bool,
    /// Consult `Test` first (not when shutting down).
    pub test: bool,
    /// Move only these addresses (a reload adding or dropping some), not
    /// the whole configured list.
    pub only: Option<Vec<ServiceAddr>>,
}

/// What a move did, for the engine, the log and the mail.
#[derive(Debug)]
pub struct Report {
    pub acquire: bool,
    pub reason: Reason,
    pub moved: Moved,
    /// One line per address: what happened to it.
    pub done: Vec<String>,
    pub failures: Vec<String>,
    pub vetoed: Vec<String>,
    pub hooks: Vec<Ran>,
    pub took: Duration,
}

pub struct Mover {
    pub addrs: Addresses,
    pub scripts_dir: PathBuf,
    pub hook_timeout: Duration,
    pub peer: Option<IpAddr>,
}

impl Mover {
    pub fn spawn(self, events: SyncSender<Event>) -> std::io::Result<Sender<Job>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new().name("mover".into()).spawn(move || self.run(rx, events))?;
        Ok(tx)
    }

    fn run(self, rx: Receiver<Job>, events: SyncSender<Event>) {
        for job in rx {
            let report = self.perform(&job);
            if events.send(Event::Moved(report)).is_err() {
                return;
            }
        }
    }

    fn perform(&self, job: &Job) -> Report {
        let start = Instant::now();
        let mut r = Report {
            acquire: job.acquire,
            reason: job.reason,
            moved: Moved::Done,
            done: vec![],
            failures: vec![],
            vetoed: vec![],
            hooks: vec![],
            took: Duration::ZERO,
        };
        let (pre, post) =
            if job.acquire { (Stage::PreAcq, Stage::PostAcq) } else { (Stage::PreRel, Stage::PostRel) };
        for a in job.only.as_deref().unwrap_or(self.addrs.list()) {
            if job.hooks && job.test && !self.stage(a, Stage::Test, job.reason, &mut r) {
                r.vetoed.push(format!("{}/{}: Test refused", a.addr, a.prefix));
                continue;
            }
            if job.hooks {
                self.stage(a, pre, job.reason, &mut r);
            }
            let result = if job.acquire {
                self.addrs.acquire_one(a, job.reason.as_str())
            } else {
                self.addrs.release_one(a, job.reason.as_str())
            };
            match result {
                Ok(line) => r.done.push(line),
                Err(line) => {
                    r.failures.push(line);
                    continue;
                }
            }
            if job.hooks {
                self.stage(a, post, job.reason, &mut r);
            }
        }
        r.moved = outcome(job.acquire, r.done.len(), r.failures.len(), r.vetoed.len());
        r.took = start.elapsed();
        r
    }

    /// Runs every hook of `stage` for `a`; returns false if one failed (only
    /// `Test` makes that matter: for Pre/Post hooks the move goes on).
    fn stage(&self, a: &ServiceAddr, stage: Stage, reason: Reason, r: &mut Report) -> bool {
        let (list, skipped) = hooks::discover(&self.scripts_dir, a, stage);
        for s in skipped {
            log::warn(&s);
        }
        let ctx = hooks::Context { stage, addr: a, peer: self.peer, reason: reason.as_str() };
        let mut ok = true;
        for path in list {
            let ran = hooks::run(&path, &ctx, self.hook_timeout);
            ok &= ran.exit.success();
            r.hooks.push(ran);
        }
        ok
    }
}

/// An acquire is done if any address is held; a release only if every
/// address that was not vetoed is gone.
fn outcome(acquire: bool, done: usize, failed: usize, vetoed: usize) -> Moved {
    match (acquire, done, failed, vetoed) {
        (true, d, _, _) if d > 0 => Moved::Done,
        (true, 0, 0, v) if v > 0 => Moved::Vetoed,
        (true, 0, 0, 0) => Moved::Done, // no addresses configured
        (true, _, _, _) => Moved::Failed,
        (false, _, f, _) if f > 0 => Moved::Failed,
        (false, _, 0, v) if v > 0 => Moved::Vetoed,
        (false, _, _, _) => Moved::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        assert_eq!(outcome(true, 1, 1, 1), Moved::Done);
        assert_eq!(outcome(true, 0, 0, 2), Moved::Vetoed);
        assert_eq!(outcome(true, 0, 1, 1), Moved::Failed);
        assert_eq!(outcome(false, 2, 0, 0), Moved::Done);
        assert_eq!(outcome(false, 1, 1, 0), Moved::Failed);
        assert_eq!(outcome(false, 1, 0, 1), Moved::Vetoed);
    }
}
