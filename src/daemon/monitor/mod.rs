//! The monitor thread: owns the engine and every piece of mutable state,
//! turns events into engine inputs and dispatches the engine's actions to
//! their executors (the files below, and the worker threads they drive).

mod confirm;
mod event;
mod figures;
mod fitness;
mod legacy;
mod moves;
mod ops;
mod pairing;
mod persist;
mod publish;
mod readers;
mod reload;
mod send;
mod tell;

use super::addrwatch::Look;
use super::checks;
use super::control::Asked;
use super::mail::rate::MailLimit;
use super::mail::Mail;
use super::mover::Job;
use super::net::inbox::{Arrival, Inbox};
use super::net::outbox::Outbox;
use super::net::News;
use super::post::Failed;
use super::probe::Probed;
use super::saver::Saver;
use crate::config::{Config, NetId};
use crate::crypto::hmac::Key;
use crate::engine::{Action, Engine, Input, Settings};
use crate::log;
use crate::proto::intake::{Intake, Me, Outcome};
use crate::proto::{self, replay::Guard, Generation, Kind, Message, PairId, SenderId};
pub(super) use event::{or_failed, post, Event};
use persist::FINAL_SAVE;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::Instant;

/// Who this node is, for the whole run: set at start (`start.rs`), never
/// changed (a reload never renames a running pair).
pub(super) struct Identity {
    pub sender: SenderId,
    pub generation: Generation,
    pub state_dir: PathBuf,
    /// From the state file: the peer has proved with the key that it
    /// speaks protocol v1 (Apple's text no longer counts).
    pub peer_speaks_v1: bool,
    /// The pair's name as taken at start (`Config::pair_name`): a reload
    /// never renames a running pair. `None`: unnamed.
    pub pair: Option<crate::config::PairName>,
    /// Its wire id (`proto::pair::id`), `proto::pair::UNNAMED` without a name.
    pub pair_id: PairId,
}

/// The monitor's ways out: sockets, the mover, the notifier, the reader
/// threads (by `NetId::index`), which take new timing after a reload, and
/// the state writer.
pub(super) struct Io {
    pub out: [Outbox; 2],
    pub mover: Sender<Job>,
    pub mail: SyncSender<Mail>,
    pub readers: [Sender<crate::engine::Timing>; 2],
    /// The readers' accepted datagrams.
    pub inbox: Arc<Inbox>,
    pub saver: Saver,
    /// The service checks' thread, restarted with each reload.
    pub checks: crate::daemon::checks::Checks,
    /// Where the metrics thread finds the latest sample (metrics_listen).
    pub metrics: Option<crate::daemon::scrape::Shelf>,
    /// The address watch thread, told the new list after a reload (None:
    /// it could not start).
    pub addrwatch: Option<Sender<Vec<std::net::IpAddr>>>,
}

/// The datagrams the readers queued (`net/inbox.rs`), as the monitor
/// takes them: only `take_inbox` and `feed_at` change it.
struct Arrivals {
    /// The latest instant the engine was stepped at: a queued datagram is
    /// fed at the instant it arrived, but never before this.
    clock: Instant,
    /// When the monitor last took the inbox.
    taken_at: Instant,
    /// What it took, swapped with the inbox's queue (no allocation).
    taken: VecDeque<Arrival>,
}

/// The monitor: the engine, and what the daemon must remember around it,
/// each part in a struct of its own file (named beside each field).
pub(super) struct Monitor {
    cfg: Config,
    engine: Engine,
    /// Everything between the reader and the engine, with the replay
    /// guards (`proto::intake`).
    intake: Intake,
    id: Identity,
    /// The key and the sequence number of what this node sends (`send.rs`).
    stamp: send::Stamp,
    /// The ways out: sockets, worker threads' channels.
    io: Io,
    arrivals: Arrivals,
    /// Every mail passes here: at most one of a kind per mail_min_interval.
    mail_limit: MailLimit,
    /// Other pairs, a second node with our role, a peer with another key,
    /// datagrams failing authentication (`pairing.rs`).
    strangers: pairing::Strangers,
    /// Whether the peer speaks protocol v1 (`legacy.rs`).
    v1: legacy::V1,
    /// When the replay state was last saved (`persist.rs`).
    saving: persist::Saving,
    /// The moves' story for their mails (`moves.rs`).
    moves: moves::Moves,
    /// A reload the engine has not applied yet (`reload.rs`).
    staged: reload::Staged,
    /// Move mails waiting for the first client packet (`confirm.rs`).
    waiting: confirm::Waiting,
    /// What status and the metrics show (`figures.rs`).
    view: figures::Figures,
    /// The control client waiting for the engine's answer to its command.
    reply: Option<Sender<Result<String, String>>>,
    exit: bool,
    /// For helpers the monitor starts (probes, the notifier after a
    /// reload) to report back.
    events: Option<SyncSender<Event>>,
    /// systemd's supervision: READY=1, WATCHDOG=1, from this loop only.
    supervision: super::sdnotify::Supervision,
}

impl Monitor {
    pub(super) fn new(
        cfg: Config,
        key: Option<Arc<Key>>,
        id: Identity,
        guard: Guard,
        io: Io,
        now: Instant,
    ) -> Monitor {
        let publisher = publish::Publisher::new(io.metrics.clone(), now);
        Monitor {
            mail_limit: MailLimit::new(cfg.mail_min_interval),
            arrivals: Arrivals { clock: now, taken_at: now, taken: VecDeque::new() },
            engine: Engine::new(Settings::from_config(&cfg), now, id.generation.0),
            intake: Intake::new(
                Me { role: cfg.role, sender: id.sender, generation: id.generation, pair: id.pair_id },
                guard,
            ),
            cfg,
            stamp: send::Stamp::new(key),
            v1: legacy::V1::new(id.peer_speaks_v1),
            id,
            io,
            strangers: pairing::Strangers::new(),
            saving: persist::Saving::new(now),
            moves: Default::default(),
            staged: Default::default(),
            waiting: Default::default(),
            view: figures::Figures::new(publisher),
            reply: None,
            exit: false,
            events: None,
            supervision: super::sdnotify::Supervision::from_env(now),
        }
    }

    /// Runs until the engine says the daemon may exit.
    /// The periods in force (the configuration's, as the engine derives
    /// them): the readers' looks, state writes and metrics samples ask it.
    pub(super) fn timing(&self) -> crate::engine::Timing {
        crate::engine::Timing::from_config(&self.cfg)
    }

    pub(super) fn run(mut self, rx: Receiver<Event>, tx: SyncSender<Event>) {
        self.events = Some(tx);
        // What the engine must know before its first decision: our links
        // (a primary must not claim through a dead public link), then what
        // the kernel holds. The readers report link changes from now on.
        for net in NetId::ALL {
            let ifname = self.cfg.network(net).interface.as_str();
            let up = crate::sys::net::link_state(ifname).is_ok_and(|s| s.up && s.running);
            if !up {
                self.feed(Input::Link { net, up });
            }
        }
        let kernel = self.look_at_kernel();
        self.feed(kernel);
        self.feed(Input::Tick);
        self.publish(Instant::now());
        self.supervise();
        while !self.exit {
            let engine_due = self.engine.next_deadline();
            // At least every interval, for what waits in the inbox: the
            // engine has always asked for sooner while it sends.
            let inbox_due = Some(self.arrivals.taken_at + self.cfg.interval);
            let due = [
                engine_due,
                self.mail_limit.next_due(),
                self.view.publisher.due(&self.timing()),
                inbox_due,
                self.supervision.due(),
                self.held_mail_due(),
            ];
            let event = match due.into_iter().flatten().min() {
                Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            // What waits in the inbox arrived before this wake-up: the
            // engine hears it first, at the instants it arrived.
            self.take_inbox();
            match event {
                Ok(ev) => self.handle(ev),
                Err(RecvTimeoutError::Timeout) => {
                    if self.engine.next_deadline().is_some_and(|d| Instant::now() >= d) {
                        self.feed(Input::Tick)
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    log::error!("all event sources are gone; stopping");
                    self.feed(Input::Shutdown);
                    break;
                }
            }
            self.held_mail_timeout(Instant::now());
            self.flush_mail();
            self.publish(Instant::now());
            self.supervise();
        }
        self.held_mail_at_exit();
        self.io.inbox.close();
        self.persist(true);
        if !self.io.saver.finish(FINAL_SAVE) {
            log::error!(
                "the replay state was not saved in {} within {}: the disk is stalled; stopping without it",
                self.id.state_dir.display(),
                crate::timefmt::secs(FINAL_SAVE)
            );
        }
        log::notice!("stopped");
    }

    fn handle(&mut self, ev: Event) {
        // Every event but a reader's wake-up may change what the metrics
        // show (what datagrams change, `publish` sees for itself).
        if !matches!(ev, Event::Reader(News::Heard)) {
            self.view.publisher.changed();
        }
        match ev {
            Event::Reader(news) => self.reader_news(news),
            Event::Addresses(Look { overrun, unread }) => {
                // Cleared before the look: a change after it sends another.
                unread.store(false, std::sync::atomic::Ordering::SeqCst);
                if overrun {
                    log::debug!(
                        "kernel: address notifications were dropped (ENOBUFS): looking at the addresses"
                    );
                }
                let kernel = match self.engine.moving() {
                    // In the middle of a move the engine only notes that
                    // something changed, and asks for a look (CheckKernel)
                    // once the move's report is in (engine/kernel.rs): a
                    // look now would only see the move's work, once per
                    // address the mover adds (issue 32).
                    Some(_) => self.kernel_as_seen(),
                    None => self.look_at_kernel(),
                };
                self.feed(kernel);
            }
            Event::ThreadFailed(Failed { name, error }) => {
                log::error!("thread {name} failed: {error}");
            }
            Event::Signal(sig) => self.signal(sig),
            Event::Probed(Probed { id, free, answers }) => {
                // Named in the mails of an answered probe (`tell.rs`).
                self.view.probe_answers = answers;
                self.feed(Input::Probed { id, free })
            }
            Event::Moved(report) => self.moved(report),
            Event::Confirmed(c) => self.confirmed(c),
            Event::Control(Asked { request, reply }) => self.control(request, reply),
            Event::Checks(checks::News::Fitness { fit, failing }) => self.fitness(fit, failing),
            Event::Checks(checks::News::Views(views)) => self.checks_seen(views),
            Event::Mailed(m) => self.view.counters.mailed(m),
        }
    }

    /// What a reader says: the inbox has news (taken already, at every
    /// wake-up), Apple's text, datagrams it dropped, its link.
    fn reader_news(&mut self, news: News) {
        match news {
            News::Heard => {}
            News::Legacy { net, src } => self.legacy(net, src),
            News::Rejected { net, counts, other_pair } => {
                for (reason, n, src) in counts {
                    self.reject(net, src, reason, n);
                    if reason == proto::Reject::OtherPair {
                        self.other_pair(net, src, other_pair.unwrap_or(proto::pair::UNNAMED), n);
                    }
                }
            }
            News::Link { net, up, why } => {
                let verb = if up { "up" } else { "down" };
                log::notice!("{} network link {verb}: {why}", net.as_str());
                self.feed(Input::Link { net, up });
            }
        }
    }

    /// Once per pass of the loop, the only place that tells systemd the
    /// daemon makes progress (WATCHDOG=1) and that its start is over
    /// (READY=1, at the first state that is not on the way to the
    /// engine's first decision; sdnotify.rs).
    fn supervise(&mut self) {
        use super::sdnotify::Progress;
        use crate::engine::State;
        let progress = match self.engine.state() {
            State::Starting | State::Claiming => Progress::Waiting,
            State::Acquiring | State::Releasing | State::Stopped => Progress::Working,
            _ => Progress::Settled,
        };
        self.supervision.pass(Instant::now(), progress);
    }

    /// Hands the engine every datagram the readers queued, in the order
    /// they arrived.
    fn take_inbox(&mut self) {
        self.arrivals.taken_at = Instant::now();
        let mut taken = std::mem::take(&mut self.arrivals.taken);
        self.io.inbox.take(&mut taken);
        for a in taken.drain(..) {
            self.datagram(a.net, a.src, a.msg, a.at);
        }
        // After a flood, give back what an idle pair never needs.
        taken.shrink_to(16);
        self.arrivals.taken = taken;
    }

    /// A datagram that passed the reader's checks, received `at`. The
    /// intake (`proto::intake`, docs/protocol.md "Receiving: order of
    /// checks") says what it is; the monitor logs, counts, saves and feeds
    /// the engine accordingly.
    fn datagram(&mut self, net: NetId, src: std::net::SocketAddr, msg: Message, at: Instant) {
        let now = self.intake.guard().now();
        let outcome = self.intake.classify(&msg, net, now);
        match outcome {
            Outcome::Peer { heard, restarted } => {
                log::debug!(
                    "{} network: accepted a {} from {src}: {} {:08x}, generation {}, seq {}, flags {}",
                    net.as_str(),
                    msg.kind.as_str(),
                    msg.role.as_str(),
                    msg.sender,
                    msg.generation,
                    msg.seq,
                    crate::daemon::view::status::flag_names(msg.flags).join(",")
                );
                self.view.stats[net.index()].accepted += 1;
                self.heard_v1();
                self.persist(restarted);
                self.feed_at(heard.into(), at.max(self.arrivals.clock));
            }
            Outcome::Rival { flags, outranks } => self.same_role(net, src, flags, outranks),
            Outcome::OtherPair(id) => {
                self.reject(net, src, proto::Reject::OtherPair, 1);
                self.other_pair(net, src, id, 1);
            }
            dropped => {
                let reason = dropped.reject().unwrap_or(proto::Reject::Replay);
                log::debug!(
                    "{} network: dropped a {} from {src}: {}",
                    net.as_str(),
                    msg.kind.as_str(),
                    reason.as_str()
                );
                self.reject(net, src, reason, 1);
            }
        }
    }

    /// Steps the engine and carries out its actions; moves report back as
    /// further inputs, handled in order.
    fn feed(&mut self, first: Input) {
        self.feed_at(first, Instant::now());
    }

    /// `feed`, with the first input at `now` (a queued datagram's arrival).
    fn feed_at(&mut self, first: Input, now: Instant) {
        let mut inputs = VecDeque::from([(first, now)]);
        while let Some((input, now)) = inputs.pop_front() {
            self.arrivals.clock = self.arrivals.clock.max(now);
            let actions = self.engine.step(input, now);
            if log::debugging() {
                debug_step(&input, &actions);
            }
            for action in actions {
                if let Some(next) = self.act(action) {
                    inputs.push_back((next, Instant::now()));
                }
            }
        }
    }

    fn act(&mut self, action: Action) -> Option<Input> {
        match action {
            Action::Transition(t) => {
                self.record(t);
                None
            }
            Action::Move { id, dir, reason } => self.start_move(id, dir, reason),
            Action::SendHeartbeat => self.send(Kind::Heartbeat, 1, self.engine.claim_id(), None),
            Action::SendStatus { only } => self.send(Kind::Status, 1, self.engine.claim_id(), only),
            // Twice: a lost goodbye costs the secondary dead_after.
            Action::SendGoodbye => self.send(Kind::Goodbye, 2, self.engine.claim_id(), None),
            Action::SendClaim { id } => self.send(Kind::Claim, 1, id, None),
            Action::SendReleased { id } => self.send(Kind::Released, 1, id, None),
            Action::Probe { id, wait } => self.probe(id, wait),
            Action::Reconfigure => {
                self.reconfigure();
                None
            }
            Action::CheckKernel => Some(self.look_at_kernel()),
            Action::Answer(a) => {
                match &a {
                    Ok(m) => log::notice!("operator command: {m}"),
                    Err(e) => log::warn!("operator command refused: {e}"),
                }
                if let Some(r) = self.reply.take() {
                    let _ = r.send(a.map(|m| format!("{m}\n")));
                }
                None
            }
            Action::Notify(n) => {
                self.notice(n);
                None
            }
            Action::Exit => {
                self.exit = true;
                None
            }
        }
    }
}

/// `-v`: what the engine was told and what it decided. The routine (a
/// deadline or a datagram that changes nothing but the next heartbeat or
/// status) is left out: the datagram has its own line already.
fn debug_step(input: &Input, actions: &[Action]) {
    let decided: Vec<&Action> =
        actions.iter().filter(|a| !matches!(a, Action::SendHeartbeat | Action::SendStatus { .. })).collect();
    if decided.is_empty() && matches!(input, Input::Tick | Input::Heard { .. }) {
        return;
    }
    log::debug!("engine: {input:?} -> {decided:?}");
}

#[cfg(test)]
mod tests;
