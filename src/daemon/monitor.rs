//! The monitor thread: owns the engine and every piece of mutable state,
//! turns events into engine inputs and carries out the engine's actions.

use super::mover::{Job, Report};
use super::outbox::Outbox;
use super::report;
use super::stats::{AuthLog, NetStats};
use super::Event;
use crate::config::{Config, NetId};
use crate::config::{Role, ServiceAddr};
use crate::crypto::hmac::Key;
use crate::engine::{Action, Engine, Input, Notice, Reason, Settings, State, Transition};
use crate::log;
use crate::mail::Mail;
use crate::proto::{self, replay::Guard, Kind, Message, Reject};
use crate::sys::signal::Signal;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the replay floors are written to the state file at most.
const PERSIST_EVERY: Duration = Duration::from_secs(1);
/// Transitions kept for status.
const HISTORY: usize = 16;

pub struct Identity {
    pub sender: u32,
    pub generation: u64,
    pub state_dir: PathBuf,
}

/// The monitor's ways out: sockets, the mover and the notifier.
pub struct Io {
    pub out: [Outbox; 2],
    pub mover: Sender<Job>,
    pub mail: SyncSender<Mail>,
}

pub struct Monitor {
    cfg: Config,
    engine: Engine,
    guard: Guard,
    key: Option<Arc<Key>>,
    id: Identity,
    seq: u64,
    out: [Outbox; 2],
    addrs: Vec<ServiceAddr>,
    mover: Sender<Job>,
    mail: SyncSender<Mail>,
    stats: [NetStats; 2],
    auth_log: AuthLog,
    auth_mail: AuthLog,
    /// Why the move in progress started, for its mail.
    move_detail: String,
    history: VecDeque<(std::time::SystemTime, Transition)>,
    last_persist: Instant,
    exit: bool,
    /// For helpers the monitor starts (probes) to report back.
    events: Option<SyncSender<Event>>,
}

impl Monitor {
    pub fn new(
        cfg: Config,
        key: Option<Arc<Key>>,
        id: Identity,
        guard: Guard,
        io: Io,
        now: Instant,
    ) -> Monitor {
        let Io { out, mover, mail } = io;
        Monitor {
            addrs: cfg.addresses.clone(),
            mover,
            mail,
            auth_mail: AuthLog::new(Duration::from_secs(3600)),
            move_detail: String::new(),
            engine: Engine::new(Settings::from_config(&cfg), now),
            cfg,
            guard,
            key,
            id,
            seq: 0,
            out,
            stats: Default::default(),
            auth_log: AuthLog::new(Duration::from_secs(60)),
            history: VecDeque::new(),
            last_persist: now,
            exit: false,
            events: None,
        }
    }

    /// Runs until the engine says the daemon may exit.
    pub fn run(mut self, rx: Receiver<Event>, tx: SyncSender<Event>) {
        self.events = Some(tx);
        if !super::addrs::present(&self.addrs).is_empty() {
            self.feed(Input::FoundHolding);
        }
        self.feed(Input::Tick);
        while !self.exit {
            let event = match self.engine.next_deadline() {
                Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(ev) => self.handle(ev),
                Err(RecvTimeoutError::Timeout) => self.feed(Input::Tick),
                Err(RecvTimeoutError::Disconnected) => {
                    log::error("all event sources are gone; stopping");
                    self.feed(Input::Shutdown);
                    break;
                }
            }
        }
        self.persist(true);
        log::notice("stopped");
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Datagram { net, src, msg } => self.datagram(net, src, msg),
            Event::Legacy { net, .. } => {
                self.stats[net.index()].legacy += 1;
                let input = Input::Heard { net, kind: Kind::Heartbeat, flags: proto::Flags(0) };
                self.feed(input);
            }
            Event::Rejected { net, counts, last_src } => {
                for (reason, n) in counts {
                    self.reject(net, last_src, reason, n);
                }
            }
            Event::Link { net, up, why } => {
                let verb = if up { "up" } else { "down" };
                log::notice(&format!("{} network link {verb}: {why}", net.as_str()));
                self.feed(Input::Link { net, up });
            }
            Event::ThreadFailed { name, error } => {
                log::error(&format!("thread {name} failed: {error}"));
            }
            Event::Signal(sig) => self.signal(sig),
            Event::Probed { free } => self.feed(Input::Probed { free }),
            Event::Moved(report) => self.moved(report),
        }
    }

    fn datagram(&mut self, net: NetId, src: std::net::SocketAddr, msg: Message) {
        if let Err(reason) = self.guard.check(&msg, net) {
            self.reject(net, src, reason, 1);
            return;
        }
        self.stats[net.index()].accepted += 1;
        self.persist(false);
        self.feed(Input::Heard { net, kind: msg.kind, flags: msg.flags });
    }

    fn reject(&mut self, net: NetId, src: std::net::SocketAddr, reason: Reject, n: u64) {
        self.stats[net.index()].reject(reason, n);
        if reason.is_auth_failure() {
            let now = Instant::now();
            if let Some(line) = self.auth_log.note(now, net.as_str(), src, reason, n) {
                log::warn(&line);
            }
            if let Some(line) = self.auth_mail.note(now, net.as_str(), src, reason, n) {
                let subject = format!("datagrams failing authentication on the {} network", net.as_str());
                let details = format!(
                    "{line}.\nThey count as silence. A wrong key on one node, a replay or a forgery: \
                     check `ipfailoverd status` on both nodes.\nFurther reports: at most one per hour."
                );
                self.send_mail(report::text_mail(subject, details));
            }
        }
    }

    fn signal(&mut self, sig: Signal) {
        match sig {
            Signal::Term | Signal::Int => {
                log::notice("stopping on signal");
                self.feed(Input::Shutdown);
            }
            Signal::Usr1 => {
                for line in self.status_lines() {
                    log::info(&line);
                }
            }
            Signal::Hup => log::warn(
                "SIGHUP: configuration reload is not available in this version; restart to apply changes",
            ),
            _ => {}
        }
    }

    /// Steps the engine and carries out its actions; moves report back as
    /// further inputs, handled in order.
    fn feed(&mut self, first: Input) {
        let mut inputs = VecDeque::from([first]);
        while let Some(input) = inputs.pop_front() {
            for action in self.engine.step(input, Instant::now()) {
                if let Some(next) = self.act(action) {
                    inputs.push_back(next);
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
            Action::Acquire { reason } => self.start_move(true, reason),
            Action::Release { reason } => self.start_move(false, reason),
            Action::SendHeartbeat => self.send(Kind::Heartbeat, 1),
            Action::SendStatus => self.send(Kind::Status, 1),
            // Twice: a lost goodbye costs the secondary dead_after.
            Action::SendGoodbye => self.send(Kind::Goodbye, 2),
            Action::SendClaim => self.send(Kind::Claim, 1),
            Action::SendReleased => self.send(Kind::Released, 1),
            Action::Probe => {
                self.probe();
                None
            }
            Action::Notice(n) => {
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
    fn start_move(&mut self, acquire: bool, reason: Reason) -> Option<Input> {
        let job = Job {
            acquire,
            reason,
            hooks: self.cfg.role == Role::Secondary,
            test: reason != Reason::Shutdown,
        };
        if self.mover.send(job).is_err() {
            log::error("the mover thread is gone: cannot move the addresses");
            let m = crate::engine::Moved::Failed;
            return Some(if acquire { Input::Acquired(m) } else { Input::Released(m) });
        }
        None
    }

    fn moved(&mut self, r: Report) {
        let list: Vec<String> = self.addrs.iter().map(|a| a.addr.to_string()).collect();
        let secondary = self.cfg.role == Role::Secondary;
        if let Some(mail) = report::move_mail(&r, &self.move_detail, &list.join(", "), secondary) {
            self.send_mail(mail);
        }
        self.feed(if r.acquire { Input::Acquired(r.moved) } else { Input::Released(r.moved) });
    }

    fn send_mail(&mut self, mail: Mail) {
        match self.mail.try_send(mail) {
            Ok(()) => {}
            Err(TrySendError::Full(m)) => {
                log::warn(&format!("mail queue full: not sending \"{}\"", m.subject))
            }
            Err(TrySendError::Disconnected(m)) => {
                log::error(&format!("the notifier is gone: not sending \"{}\"", m.subject))
            }
        }
    }

    fn record(&mut self, t: Transition) {
        let detail = if t.detail.is_empty() { String::new() } else { format!(": {}", t.detail) };
        log::notice(&format!("state {} -> {} ({}){detail}", t.from, t.to, t.reason));
        if matches!(t.to, State::Acquiring | State::Releasing) {
            self.move_detail = t.detail.clone();
        }
        match (t.from, t.to) {
            (_, State::Anomaly(net)) => self.send_mail(report::anomaly_mail(&t, true, net.as_str())),
            (State::Anomaly(net), State::Watching) => {
                self.send_mail(report::anomaly_mail(&t, false, net.as_str()))
            }
            _ => {}
        }
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((std::time::SystemTime::now(), t));
    }

    fn send(&mut self, kind: Kind, copies: usize) -> Option<Input> {
        let flags = self.engine.flags(Instant::now());
        for net in NetId::ALL {
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
                };
                let mut buf = [0u8; proto::codec::MAX_LEN];
                let n = proto::encode(&msg, self.key.as_deref(), &mut buf);
                self.out[net.index()].send(&buf[..n]);
            }
        }
        None
    }

    /// ARP-probes every IPv4 service address off the monitor's path.
    fn probe(&self) {
        let Some(tx) = self.events.clone() else {
            return;
        };
        let wait = (self.cfg.interval * 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let targets: Vec<(String, std::net::Ipv4Addr)> = self
            .addrs
            .iter()
            .filter_map(|a| match a.addr {
                std::net::IpAddr::V4(v4) => Some((a.interface.as_str().to_string(), v4)),
                std::net::IpAddr::V6(_) => None,
            })
            .collect();
        log::info(&format!("the secondary is silent: probing {} address(es) with ARP", targets.len()));
        let spawned = std::thread::Builder::new().name("probe".into()).spawn(move || {
            let mut free = true;
            for (ifname, addr) in targets {
                match crate::sys::packet::ArpSocket::open(&ifname).and_then(|s| s.probe(addr, wait)) {
                    Ok(None) => {}
                    Ok(Some(mac)) => {
                        let mac: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
                        log::warn(&format!("ARP probe: {addr} is in use by {} on {ifname}", mac.join(":")));
                        free = false;
                    }
                    Err(e) => {
                        log::warn(&format!("ARP probe for {addr} on {ifname} failed: {e}"));
                        free = false;
                    }
                }
            }
            let _ = tx.send(Event::Probed { free });
        });
        if let Err(e) = spawned {
            log::error(&format!("cannot start the probe thread: {e}"));
        }
    }

    fn notice(&mut self, n: Notice) {
        let (subject, details) = match n {
            Notice::PeerLost { silent_for } => (
                "secondary no longer heard: the pair has no standby".to_string(),
                format!("The secondary's status datagrams stopped on both networks {} ago. If this server fails now, nobody takes over.", crate::engine::secs(silent_for)),
            ),
            Notice::PeerBack => ("secondary heard again: the pair has its standby back".to_string(), "The secondary's status datagrams arrive again.".to_string()),
            Notice::PeerKeeps => (
                "the secondary keeps the service addresses".to_string(),
                "The primary claims its addresses but the secondary keeps them (failback = manual, or its Test hook refused the give-back). Run 'ipfailoverd release' on the secondary to move them back.".to_string(),
            ),
            Notice::ProbeAnswered => (
                "service address in use by another host".to_string(),
                "The secondary is silent, but an ARP probe for the service addresses was answered (see the log for the MAC). The primary does not add them while someone else has them.".to_string(),
            ),
        };
        log::warn(&format!("{subject}: {details}"));
        self.send_mail(report::text_mail(subject, details));
    }

    fn persist(&mut self, force: bool) {
        let due = force || self.last_persist.elapsed() >= PERSIST_EVERY;
        if !due || !(force || self.guard.dirty()) {
            return;
        }
        self.last_persist = Instant::now();
        let state = proto::store::State { generation: self.id.generation, peers: self.guard.floors() };
        if let Err(e) = proto::store::save(&self.id.state_dir, &state) {
            log::error(&format!("cannot save replay state in {}: {e}", self.id.state_dir.display()));
        }
    }

    fn status_lines(&self) -> Vec<String> {
        let now = Instant::now();
        let mut lines = vec![format!(
            "status: role {} state {} for {}",
            self.cfg.role.as_str(),
            self.engine.state(),
            crate::engine::secs(now.duration_since(self.engine.since())),
        )];
        for net in NetId::ALL {
            let s = &self.stats[net.index()];
            let age = match self.engine.last_heard(net) {
                Some(t) => format!("{} ago", crate::engine::secs(now.duration_since(t))),
                None => "never".to_string(),
            };
            let rejected: Vec<String> =
                s.rejected.iter().map(|(r, n)| format!("{}={n}", r.as_str())).collect();
            lines.push(format!(
                "status: {} network ({}): link {}, last heard {age}, accepted {}, rejected {} [{}]",
                net.as_str(),
                self.cfg.network(net).interface,
                if self.engine.link_up(net) { "up" } else { "down" },
                s.accepted + s.legacy,
                s.rejected_total(),
                rejected.join(" "),
            ));
        }
        let held: Vec<String> = super::addrs::present(&self.addrs).iter().map(|a| a.to_string()).collect();
        lines.push(format!("status: holding [{}]", held.join(", ")));
        if let Some((_, t)) = self.history.back() {
            lines.push(format!("status: last transition {} -> {} ({})", t.from, t.to, t.reason));
        }
        lines
    }
}
