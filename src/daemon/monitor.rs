//! The monitor thread: owns the engine and every piece of mutable state,
//! turns events into engine inputs and carries out the engine's actions.

use super::addrs::Addresses;
use super::outbox::Outbox;
use super::stats::{AuthLog, NetStats};
use super::Event;
use crate::config::{Config, NetId};
use crate::crypto::hmac::Key;
use crate::engine::{Action, Engine, Input, Notice, Settings, Transition};
use crate::log;
use crate::proto::{self, replay::Guard, Kind, Message, Reject};
use crate::sys::signal::Signal;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
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

pub struct Monitor {
    cfg: Config,
    engine: Engine,
    guard: Guard,
    key: Option<Arc<Key>>,
    id: Identity,
    seq: u64,
    out: [Outbox; 2],
    addrs: Addresses,
    stats: [NetStats; 2],
    auth_log: AuthLog,
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
        out: [Outbox; 2],
        addrs: Addresses,
        now: Instant,
    ) -> Monitor {
        Monitor {
            engine: Engine::new(Settings::from_config(&cfg), now),
            cfg,
            guard,
            key,
            id,
            seq: 0,
            out,
            addrs,
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
        if !self.addrs.present().is_empty() {
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
                let input = Input::Heard {
                    net,
                    kind: Kind::Heartbeat,
                    flags: proto::Flags(0),
                };
                self.feed(input);
            }
            Event::Rejected {
                net,
                counts,
                last_src,
            } => {
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
        }
    }

    fn datagram(&mut self, net: NetId, src: std::net::SocketAddr, msg: Message) {
        if let Err(reason) = self.guard.check(&msg, net) {
            self.reject(net, src, reason, 1);
            return;
        }
        self.stats[net.index()].accepted += 1;
        self.persist(false);
        self.feed(Input::Heard {
            net,
            kind: msg.kind,
            flags: msg.flags,
        });
    }

    fn reject(&mut self, net: NetId, src: std::net::SocketAddr, reason: Reject, n: u64) {
        self.stats[net.index()].reject(reason, n);
        if reason.is_auth_failure() {
            if let Some(line) = self
                .auth_log
                .note(Instant::now(), net.as_str(), src, reason, n)
            {
                log::warn(&line);
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
            Signal::Hup => log::warn("SIGHUP: configuration reload is not available in this version; restart to apply changes"),
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
            Action::Acquire { reason } => {
                let outcome = self.addrs.acquire(reason.as_str());
                if !outcome.failures.is_empty() {
                    log::error(&format!(
                        "{} of {} service addresses could not be added",
                        outcome.failures.len(),
                        self.addrs.list().len()
                    ));
                }
                Some(Input::Acquired { ok: outcome.ok })
            }
            Action::Release { reason } => {
                self.addrs.release(reason.as_str());
                Some(Input::Released)
            }
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

    fn record(&mut self, t: Transition) {
        let detail = if t.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", t.detail)
        };
        log::notice(&format!(
            "state {} -> {} ({}){detail}",
            t.from, t.to, t.reason
        ));
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
            .list()
            .iter()
            .filter_map(|a| match a.addr {
                std::net::IpAddr::V4(v4) => Some((a.interface.as_str().to_string(), v4)),
                std::net::IpAddr::V6(_) => None,
            })
            .collect();
        log::info(&format!(
            "the secondary is silent: probing {} address(es) with ARP",
            targets.len()
        ));
        let spawned = std::thread::Builder::new()
            .name("probe".into())
            .spawn(move || {
                let mut free = true;
                for (ifname, addr) in targets {
                    match crate::sys::packet::ArpSocket::open(&ifname)
                        .and_then(|s| s.probe(addr, wait))
                    {
                        Ok(None) => {}
                        Ok(Some(mac)) => {
                            let mac: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
                            log::warn(&format!(
                                "ARP probe: {addr} is in use by {} on {ifname}",
                                mac.join(":")
                            ));
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
        match n {
            Notice::PeerLost { silent_for } => log::warn(&format!(
                "the secondary has not been heard on either network for {}: the pair has no standby",
                crate::engine::secs(silent_for)
            )),
            Notice::PeerBack => log::notice("the secondary is heard again: the pair has its standby back"),
            Notice::PeerKeeps => log::warn(
                "the secondary keeps the service addresses (failback = manual, or its Test hook refused): run 'ipfailoverd release' on the secondary",
            ),
            Notice::ProbeAnswered => log::warn("the secondary is silent but the service addresses answer ARP: not adding them"),
        }
    }

    fn persist(&mut self, force: bool) {
        let due = force || self.last_persist.elapsed() >= PERSIST_EVERY;
        if !due || !(force || self.guard.dirty()) {
            return;
        }
        self.last_persist = Instant::now();
        let state = proto::store::State {
            generation: self.id.generation,
            peers: self.guard.floors(),
        };
        if let Err(e) = proto::store::save(&self.id.state_dir, &state) {
            log::error(&format!(
                "cannot save replay state in {}: {e}",
                self.id.state_dir.display()
            ));
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
            let rejected: Vec<String> = s
                .rejected
                .iter()
                .map(|(r, n)| format!("{}={n}", r.as_str()))
                .collect();
            lines.push(format!(
                "status: {} network ({}): link {}, last heard {age}, accepted {}, rejected {} [{}]",
                net.as_str(),
                self.cfg.network(net).interface,
                if self.engine.link_up(net) {
                    "up"
                } else {
                    "down"
                },
                s.accepted + s.legacy,
                s.rejected_total(),
                rejected.join(" "),
            ));
        }
        let held: Vec<String> = self.addrs.present().iter().map(|a| a.to_string()).collect();
        lines.push(format!("status: holding [{}]", held.join(", ")));
        if let Some((_, t)) = self.history.back() {
            lines.push(format!(
                "status: last transition {} -> {} ({})",
                t.from, t.to, t.reason
            ));
        }
        lines
    }
}
