//! The monitor thread: owns the engine and every piece of mutable state,
//! turns events into engine inputs and carries out the engine's actions.

mod confirm;
mod event;
mod fitness;
mod ops;
mod pairing;
mod publish;
mod readers;
mod reload;
mod tell;

use super::addrwatch::Look;
use super::checks;
use super::control::Asked;
use super::mail::rate::MailLimit;
use super::mail::Mail;
use super::mover::{addrs, Job, Report};
use super::net::inbox::Inbox;
use super::net::outbox::Outbox;
use super::net::News;
use super::post::Failed;
use super::probe::Probed;
use super::saver::Saver;
use super::throttle::AuthLog;
use super::view::stats::NetStats;
use crate::config::{Config, Legacy, NetId, Role, ServiceAddr};
use crate::crypto::hmac::Key;
use crate::engine::{Action, Direction, Engine, Input, MoveId, MoveReport, Reason, Settings, Transition};
use crate::log;
use crate::proto::intake::{Intake, Me, Outcome};
use crate::proto::{self, replay::Guard, Kind, Message};
pub(super) use event::{or_failed, post, Event};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the replay floors are written to the state file at most while
/// only sequence numbers move: once a second, or once an interval if that
/// is longer (no more than one datagram per network comes in between).
/// These routine writes skip fsync, the largest part of their cost at a
/// 1 s interval (issue 19); a peer's new generation is written at once and
/// durably, and so is everything at exit. After a crash of the daemon, the
/// datagrams accepted since the last write can be replayed once each, in
/// order, and each keeps a dead peer looking alive for dead_after: at most
/// dead_after x max(1, 1 s / interval) in all, 3 s at the defaults and at
/// any interval with dead_after = 3 intervals.
fn persist_every(interval: Duration) -> Duration {
    interval.max(Duration::from_secs(1))
}
/// A routine write is durable once a minute, too: after a power loss, the
/// floors are at most that old (filesystems usually write within seconds).
const DURABLE_EVERY: Duration = Duration::from_secs(60);
/// How long the final save may take at shutdown before the daemon exits
/// without it (a stalled disk).
const FINAL_SAVE: Duration = Duration::from_secs(5);
/// Transitions kept for status.
const HISTORY: usize = 16;

pub(super) struct Identity {
    pub sender: u32,
    pub generation: u64,
    pub state_dir: PathBuf,
    /// From the state file: the peer has proved with the key that it
    /// speaks protocol v1 (Apple's text no longer counts).
    pub peer_speaks_v1: bool,
    /// The pair's name as taken at start (`Config::pair_name`): a reload
    /// never renames a running pair. `None`: unnamed.
    pub pair: Option<crate::config::PairName>,
    /// Its wire id (`proto::pair::id`), `proto::pair::UNNAMED` without a name.
    pub pair_id: u64,
}

/// The monitor's ways out: sockets, the mover, the notifier, the reader
/// threads (by `NetId::index`), which take new timing after a reload, and
/// the state writer.
pub(super) struct Io {
    pub out: [Outbox; 2],
    pub mover: Sender<Job>,
    pub mail: SyncSender<Mail>,
    pub readers: [Sender<Duration>; 2],
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

pub(super) struct Monitor {
    cfg: Config,
    engine: Engine,
    /// Everything between the reader and the engine, with the replay
    /// guards (`proto::intake`).
    intake: Intake,
    key: Option<Arc<Key>>,
    id: Identity,
    seq: u64,
    out: [Outbox; 2],
    addrs: Vec<ServiceAddr>,
    mover: Sender<Job>,
    mail: SyncSender<Mail>,
    /// Every mail passes here: at most one of a kind per mail_min_interval.
    mail_limit: MailLimit,
    readers: [Sender<Duration>; 2],
    inbox: Arc<Inbox>,
    /// The latest instant the engine was stepped at: a queued datagram is
    /// fed at the instant it arrived, but never before this.
    clock: Instant,
    /// When the monitor last took the inbox.
    inbox_taken: Instant,
    /// What it took, swapped with the inbox's queue (no allocation).
    taken: std::collections::VecDeque<super::net::inbox::Arrival>,
    saver: Saver,
    stats: [NetStats; 2],
    /// Per network: a wrong key on the private link must not hide
    /// forgeries on the public one.
    auth_log: [AuthLog; 2],
    auth_mail: [AuthLog; 2],
    /// Why the move in progress started, for its mail.
    move_detail: String,
    /// Finished moves whose mail the engine may still ask for.
    reports: HashMap<MoveId, Report>,
    /// A reloaded configuration the engine has not applied yet (it waits
    /// for the move in progress).
    staged: Option<Config>,
    /// What the latest applied reload added and dropped, for the move that
    /// brings the kernel in line with it.
    reload_diff: (Vec<ServiceAddr>, Vec<ServiceAddr>),
    /// Addresses a reload dropped whose removal failed: every later move
    /// tries again.
    strays: Vec<ServiceAddr>,
    /// The control client waiting for the engine's answer to its command.
    reply: Option<Sender<Result<String, String>>>,
    history: VecDeque<(std::time::SystemTime, Transition)>,
    /// When the replay state was last handed to the writer, and last
    /// handed to be written durably.
    last_persist: Instant,
    last_durable: Instant,
    exit: bool,
    /// The peer has sent an accepted protocol v1 datagram, since we
    /// started or (`v1_recorded`) ever.
    speaks_v1: bool,
    /// The state file says so: the datagram carried a valid MAC. Without a
    /// key a v1 datagram is as easy to forge as Apple's text, so it proves
    /// nothing beyond this run.
    v1_recorded: bool,
    /// Apple's text dropped because the peer speaks v1: logged, not silent,
    /// in case the primary really is an old Mac again.
    superseded_log: AuthLog,
    /// For helpers the monitor starts (probes) to report back.
    events: Option<SyncSender<Event>>,
    /// Other pairs, a second node with our role, a peer with another key.
    strangers: pairing::Strangers,
    checks: crate::daemon::checks::Checks,
    /// This node's fitness as its checks last said (fit without checks).
    fit: bool,
    /// The checks as they stand, for status.
    check_views: Vec<crate::daemon::checks::View>,
    /// Transitions, moves, hooks and mails counted for the metrics.
    counters: crate::daemon::view::counters::Counters,
    /// What the metrics thread serves, and when it was last refreshed.
    publisher: publish::Publisher,
    /// Who answered the latest probe of the service addresses ("ADDRESS
    /// by MAC on INTERFACE"): what the NOT-taking-over mail names.
    probe_answers: Vec<String>,
    /// systemd's supervision: READY=1, WATCHDOG=1, from this loop only.
    supervision: super::sdnotify::Supervision,
    /// The address watch thread's list of addresses (after a reload).
    addrwatch: Option<Sender<Vec<std::net::IpAddr>>>,
    /// The service addresses the kernel showed at the monitor's latest
    /// look (`look_at_kernel`): what the mails about addresses removed or
    /// added from outside name.
    kernel_present: Vec<ServiceAddr>,
    /// A move's mail waiting for the first client packet (`confirm.rs`).
    held_mail: Option<confirm::Held>,
    /// A move whose mail went before its watch ended: the end is mailed.
    owed: Option<MoveId>,
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
        let Io { out, mover, mail, readers, inbox, saver, checks, metrics, addrwatch } = io;
        let v1 = id.peer_speaks_v1;
        Monitor {
            addrs: cfg.addresses.clone(),
            mover,
            mail,
            mail_limit: MailLimit::new(cfg.mail_min_interval),
            readers,
            inbox,
            clock: now,
            inbox_taken: now,
            taken: Default::default(),
            saver,
            auth_mail: [0, 1].map(|_| AuthLog::new(Duration::from_secs(3600))),
            move_detail: String::new(),
            reports: HashMap::new(),
            staged: None,
            reload_diff: (Vec::new(), Vec::new()),
            strays: Vec::new(),
            reply: None,
            engine: Engine::new(Settings::from_config(&cfg), now, id.generation),
            intake: Intake::new(
                Me { role: cfg.role, sender: id.sender, generation: id.generation, pair: id.pair_id },
                guard,
            ),
            cfg,
            key,
            id,
            seq: 0,
            out,
            stats: Default::default(),
            auth_log: [0, 1].map(|_| AuthLog::new(Duration::from_secs(60))),
            history: VecDeque::new(),
            last_persist: now,
            last_durable: now,
            exit: false,
            speaks_v1: v1,
            v1_recorded: v1,
            superseded_log: AuthLog::new(Duration::from_secs(3600)),
            events: None,
            strangers: pairing::Strangers::new(),
            checks,
            fit: true,
            check_views: Vec::new(),
            counters: Default::default(),
            publisher: publish::Publisher::new(metrics, now),
            probe_answers: Vec::new(),
            supervision: super::sdnotify::Supervision::from_env(now),
            addrwatch,
            kernel_present: Vec::new(),
            held_mail: None,
            owed: None,
        }
    }

    /// Runs until the engine says the daemon may exit.
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
            let inbox_due = Some(self.inbox_taken + self.cfg.interval);
            let due = [
                engine_due,
                self.mail_limit.next_due(),
                self.publisher.due(self.cfg.dead_after),
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
        self.inbox.close();
        self.persist(true);
        if !self.saver.finish(FINAL_SAVE) {
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
            self.publisher.changed();
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
                    Some(_) => {
                        Input::Kernel(addrs::held_of(self.kernel_present.len(), self.cfg.addresses.len()))
                    }
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
                self.probe_answers = answers;
                self.feed(Input::Probed { id, free })
            }
            Event::Moved(report) => self.moved(report),
            Event::Confirmed(c) => self.confirmed(c),
            Event::Control(Asked { request, reply }) => self.control(request, reply),
            Event::Checks(checks::News::Fitness { fit, failing }) => self.fitness(fit, failing),
            Event::Checks(checks::News::Views(views)) => self.checks_seen(views),
            Event::Mailed(m) => self.counters.mailed(m),
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
        self.inbox_taken = Instant::now();
        let mut taken = std::mem::take(&mut self.taken);
        self.inbox.take(&mut taken);
        for a in taken.drain(..) {
            self.datagram(a.net, a.src, a.msg, a.at);
        }
        // After a flood, give back what an idle pair never needs.
        taken.shrink_to(16);
        self.taken = taken;
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
                self.stats[net.index()].accepted += 1;
                self.heard_v1();
                self.persist(restarted);
                self.feed_at(heard, at.max(self.clock));
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

    /// Apple's unauthenticated heartbeat. Without a MAC only its source
    /// vouches for it: the primary's private address (`peer`) on the
    /// private network, one of the service addresses (Apple's primary owns
    /// them) on the public one. Once the primary has spoken protocol v1 in
    /// this run, Apple's datagrams are ignored: a forger must not be able
    /// to keep the secondary from taking over with them.
    fn legacy(&mut self, net: NetId, src: std::net::SocketAddr) {
        let expected = match net {
            NetId::Private => self.cfg.peer == Some(src.ip()),
            NetId::Public => self.addrs.iter().any(|a| a.addr == src.ip()),
        };
        if !expected {
            log::debug!("{} network: dropped Apple's heartbeat text from {src}: wrong-source", net.as_str());
            return self.reject(net, src, proto::Reject::WrongSource, 1);
        }
        if self.speaks_v1 {
            log::debug!(
                "{} network: dropped Apple's heartbeat text from {src}: legacy-superseded",
                net.as_str()
            );
            self.reject(net, src, proto::Reject::LegacySuperseded, 1);
            if let Some(line) = self.superseded_log.note(
                Instant::now(),
                net.as_str(),
                src,
                proto::Reject::LegacySuperseded,
                1,
            ) {
                let recorded = if self.v1_recorded { ", recorded in the state file" } else { "" };
                log::warn!(
                    "{line}: the primary has spoken protocol v1{recorded}, so Apple's text no longer counts \
                     (if the primary is an old Mac again, see ipfailoverd(8), MIGRATING FROM MAC OS X SERVER)"
                );
            }
            return;
        }
        log::debug!("{} network: accepted Apple's heartbeat text from {src}", net.as_str());
        self.stats[net.index()].legacy += 1;
        // An Apple primary holds its addresses through the OS: static mode.
        let flags = proto::Flags(proto::Flags::STATIC | proto::Flags::PUBLIC_UP | proto::Flags::PRIVATE_UP);
        self.feed(Input::Heard { net, kind: Kind::Heartbeat, flags, claim: None, order: None });
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
            self.clock = self.clock.max(now);
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

    /// Hands a move to the mover thread; its report comes back as an event.
    fn start_move(&mut self, id: MoveId, dir: Direction, reason: Reason) -> Option<Input> {
        let addrs = self.cfg.addresses.clone();
        let (moving, mut dropped) = if reason == Reason::Reload {
            std::mem::take(&mut self.reload_diff)
        } else {
            (addrs.clone(), Vec::new())
        };
        dropped.extend(self.strays.iter().filter(|a| !addrs.contains(a)).cloned());
        let hooks = (self.cfg.role == Role::Secondary).then(|| super::mover::Hooks {
            scripts_dir: self.cfg.scripts_dir.clone(),
            timeout: self.cfg.hook_timeout,
            peer: self.cfg.peer,
        });
        let job = Job {
            id,
            dir,
            reason,
            addrs,
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
            announce: addrs::Announce { count: self.cfg.garp_count, interval: self.cfg.garp_interval },
        };
        if self.mover.send(job).is_err() {
            log::error!("the mover thread is gone: cannot move the addresses");
            // Report what the kernel shows, so the engine believes the truth.
            let held = addrs::held(&self.cfg.addresses);
            return Some(Input::Moved(MoveReport { id, held, vetoed: false }));
        }
        None
    }

    /// What the kernel shows of the service addresses now, for the engine;
    /// kept for the words of the mails.
    fn look_at_kernel(&mut self) -> Input {
        self.kernel_present = addrs::present(&self.cfg.addresses).into_iter().cloned().collect();
        Input::Kernel(addrs::held_of(self.kernel_present.len(), self.cfg.addresses.len()))
    }

    /// Sends `copies` of a datagram on each network, or on `only` one.
    fn send(&mut self, kind: Kind, copies: usize, claim: u64, only: Option<NetId>) -> Option<Input> {
        let flags = self.engine.flags(Instant::now());
        for net in NetId::ALL.into_iter().filter(|&n| only.is_none_or(|o| o == n)) {
            for _ in 0..copies {
                self.seq += 1;
                let msg = Message {
                    kind,
                    role: self.cfg.role,
                    net,
                    flags,
                    sender: self.id.sender,
                    generation: self.id.generation,
                    seq: self.seq,
                    pair: self.id.pair_id,
                    claim: Some(claim),
                };
                let mut buf = [0u8; proto::codec::MAX_LEN];
                let n = proto::encode(&msg, self.key.as_deref(), &mut buf);
                self.out[net.index()].send(&buf[..n]);
            }
            if kind == Kind::Heartbeat && self.cfg.legacy_heartbeat == Legacy::Send {
                // For an old Mac running failoverd (docs/protocol.md).
                self.out[net.index()].send(self.cfg.legacy_message.as_bytes());
            }
        }
        None
    }

    /// An accepted protocol v1 datagram. With a key it proves that the
    /// peer speaks v1, for good: recorded at once, so that forgeries of
    /// Apple's text do not count after a restart either.
    fn heard_v1(&mut self) {
        if !self.speaks_v1 && self.cfg.legacy_heartbeat.accepts() {
            log::notice!("the primary speaks protocol v1: Apple's heartbeat text no longer counts");
        }
        self.speaks_v1 = true;
        if self.key.is_some() && !self.v1_recorded {
            self.v1_recorded = true;
            self.persist(true);
        }
    }

    /// Hands the replay state to the state writer (at most every
    /// `persist_every` unless forced); the disk never holds up the monitor.
    fn persist(&mut self, force: bool) {
        let due = force || self.last_persist.elapsed() >= persist_every(self.cfg.interval);
        if !due || !(force || self.intake.guard().dirty()) {
            return;
        }
        self.last_persist = Instant::now();
        let durable = force || self.last_persist >= self.last_durable + DURABLE_EVERY;
        if durable {
            self.last_durable = self.last_persist;
        }
        self.saver.submit(
            proto::store::State {
                generation: self.id.generation,
                peers: self.intake.guard_mut().floors(),
                peer_speaks_v1: self.v1_recorded,
            },
            durable,
        );
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
