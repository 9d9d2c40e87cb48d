//! Moves of the service addresses as the monitor sees them: handed to the
//! mover thread (which builds nothing the engine decides: `mover::Job`),
//! reported back, and the kernel looked at; what their mails will name is
//! kept here.

use super::Monitor;
use crate::config::ServiceAddr;
use crate::daemon::mover::{addrs, Job, Report};
use crate::engine::{Direction, Input, MoveId, MoveReport, Reason};
use crate::log;
use std::collections::HashMap;

/// The moves' story, for their mails and status. Changed by this file, and
/// `move_detail` by each transition into a move (`tell.rs`, `started`).
#[derive(Default)]
pub(super) struct Moves {
    /// Why the move in progress started, for its mail.
    move_detail: String,
    /// Finished moves whose mail the engine may still ask for.
    reports: HashMap<MoveId, Report>,
    /// Addresses a reload dropped whose removal failed: every later move
    /// tries again.
    strays: Vec<ServiceAddr>,
    /// The service addresses the kernel showed at the monitor's latest
    /// look (`look_at_kernel`): what the mails about addresses removed or
    /// added from outside name.
    kernel_present: Vec<ServiceAddr>,
}

impl Moves {
    /// A move starts: why, in the words of its transition.
    pub(super) fn started(&mut self, detail: &str) {
        self.move_detail = detail.to_string();
    }

    /// Why the move in progress (or the latest) started.
    pub(super) fn detail(&self) -> &str {
        &self.move_detail
    }

    /// The report of move `id`, if it is the latest finished.
    pub(super) fn report(&self, id: MoveId) -> Option<&Report> {
        self.reports.get(&id)
    }

    /// Whether the kernel showed `a` at the monitor's latest look.
    pub(super) fn shown(&self, a: &ServiceAddr) -> bool {
        self.kernel_present.contains(a)
    }
}

impl Monitor {
    /// Hands a move to the mover thread; its report comes back as an event.
    pub(super) fn start_move(&mut self, id: MoveId, dir: Direction, reason: Reason) -> Option<Input> {
        let addrs = &self.cfg.addresses;
        let (moving, mut dropped) =
            if reason == Reason::Reload { self.staged.take_diff() } else { (addrs.clone(), Vec::new()) };
        dropped.extend(self.moves.strays.iter().filter(|a| !addrs.contains(a)).cloned());
        let job = Job::new(id, dir, reason, &self.cfg, moving, dropped);
        if self.io.mover.send(job).is_err() {
            log::error!("the mover thread is gone: cannot move the addresses");
            // Report what the kernel shows, so the engine believes the truth.
            let held = addrs::held(&self.cfg.addresses);
            return Some(Input::Moved(MoveReport { id, held, vetoed: false }));
        }
        None
    }

    /// What the kernel shows of the service addresses now, for the engine;
    /// kept for the words of the mails.
    pub(super) fn look_at_kernel(&mut self) -> Input {
        self.moves.kernel_present = addrs::present(&self.cfg.addresses).into_iter().cloned().collect();
        self.kernel_as_seen()
    }

    /// What the kernel showed at the latest look, for the engine.
    pub(super) fn kernel_as_seen(&self) -> Input {
        Input::Kernel(addrs::held_of(self.moves.kernel_present.len(), self.cfg.addresses.len()))
    }

    /// A move's report: the engine takes it only if it is the move it
    /// waits for; its mail waits for the engine's `Notify`.
    pub(super) fn moved(&mut self, r: Report) {
        // Counted whether or not the engine still waits for it: the move
        // happened and its hooks ran.
        self.view.counters.moved(self.cfg.role, r.dir, r.reason, r.held, r.vetoed, r.took);
        self.view.counters.hooks_ran(&r.hooks);
        self.watch_started(&r);
        self.view.publisher.urgent();
        if self.engine.moving().map(|m| m.0) != Some(r.id) {
            log::warn!("ignoring the report of move {}: not the move in progress", r.id);
            return;
        }
        let input = Input::Moved(r.for_engine());
        self.moves.strays = r.strays.clone();
        self.moves.reports.clear();
        self.moves.reports.insert(r.id, r);
        self.feed(input);
    }
}
