//! One reader thread per network: receives datagrams on a socket bound to
//! that network's interface, runs the stateless checks and queues what
//! passes for the monitor (`inbox`), waking it only for news. It also
//! watches the interface: when it goes down, disappears or comes back
//! (netlink says at once, `sys::linkwatch`), it says so and reopens its
//! socket.

// What passes the readers waits here for the monitor.
pub(super) mod inbox;
// The sending half: one outbox per network, which the monitor writes to.
pub(super) mod outbox;

use super::post::{Gone, Post};
use crate::config::{Legacy, NetId, Role};
use crate::crypto::hmac::Key;
use crate::engine::Timing;
use crate::log;
use crate::proto::{codec, intake, pair, Generation, PairId, Reject, SenderId};
use crate::sys;
use crate::sys::linkwatch::LinkEvents;
use crate::sys::net::Ready;
use inbox::{Arrival, Inbox, Routine};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// With netlink, every change is looked at when it happens; this look is
/// only the safety net for a message lost in between.
const LINK_RECHECK: Duration = Duration::from_secs(2);
/// Rejections are reported in batches at most this often, so a flood of
/// garbage cannot crowd heartbeats out of the channel.
const REPORT_EVERY: Duration = Duration::from_millis(100);
/// Our own broadcasts loop back every interval; counting them needs no
/// hurry, and reporting each one would wake the monitor as often as the
/// heartbeats themselves.
const OWN_REPORT_EVERY: Duration = Duration::from_secs(10);

/// The socket a network listens on: IPv4 or IPv6 after the family of its
/// destination; an IPv6 multicast destination is joined on the interface.
/// `shared` when the other network listens on the same interface and
/// family (see `shares_socket`).
pub(super) fn listen(ifname: &str, port: u16, dest: IpAddr, shared: bool) -> std::io::Result<UdpSocket> {
    match dest {
        IpAddr::V4(_) => sys::net::udp_socket(ifname, port, false, shared),
        IpAddr::V6(v6) => sys::net::udp6_socket(ifname, port, v6.is_multicast().then_some(v6), shared),
    }
}

/// What a reader tells the monitor, through its `Post`.
#[derive(Debug)]
pub(in crate::daemon) enum News {
    /// A reader queued a datagram that may change something (`inbox`):
    /// the monitor takes the queue, as it does at every wake-up.
    Heard,
    /// Apple's unauthenticated heartbeat, from an accepted source.
    Legacy { net: NetId, src: SocketAddr },
    /// Datagrams the reader dropped since its last report: per reason, how
    /// many and the latest source; the latest other pair's id, if any.
    Rejected { net: NetId, counts: Vec<(Reject, u64, SocketAddr)>, other_pair: Option<PairId> },
    /// Our own interface changed: `up` means it exists, is up and has carrier.
    Link { net: NetId, up: bool, why: String },
}

/// Said when the UDP port is taken, by the start and by `-n`
/// (`instances.rs`): both bind the port through `listen`.
pub(in crate::daemon) fn port_in_use(port: u16, ifname: &str) -> String {
    format!(
        "UDP port {port} on {ifname} is in use: another ipfailoverd, or another program bound to it \
         (see: ss -ulpn 'sport = :{port}'); heartbeats must reach this daemon alone: every instance \
         on the same interfaces needs its own port"
    )
}

/// Whether both networks listen on one interface in one address family:
/// then their two sockets share the port on that device (and each may
/// receive the other's broadcasts, which the replay guard counts as
/// `wrong-network`).
pub(super) fn shares_socket(cfg: &crate::config::Config) -> bool {
    let [a, b] = &cfg.networks;
    a.interface == b.interface && a.dest.is_ipv4() == b.dest.is_ipv4()
}

pub(super) struct Reader {
    pub net: NetId,
    pub ifname: String,
    pub port: u16,
    /// The network's destination, for the socket's family and group.
    pub dest: IpAddr,
    /// The periods at start (`Timing::link_poll`, the interval).
    pub timing: Timing,
    /// The periods after each reload, from the monitor.
    pub retime: Receiver<Timing>,
    /// See `shares_socket`.
    pub shared: bool,
    pub key: Option<Arc<Key>>,
    /// Without a key, the private network only accepts this source.
    pub peer: Option<IpAddr>,
    pub legacy: Legacy,
    pub legacy_message: String,
    /// Our pair's id (`proto::pair`): another pair's datagrams are dropped
    /// here, before the monitor's replay guard could adopt them.
    pub pair: PairId,
    /// Our sender id, role and generation: datagrams carrying the first
    /// two and a generation at or below ours are our own (`intake::own`):
    /// this run's looped back, or an earlier run's replayed. Another node
    /// with our role and the same sender id (the same host name) that
    /// started after us has a higher generation: it goes on to the
    /// monitor, whose intake decides whether it is a rival.
    pub own: (SenderId, Role, Generation),
    pub tx: Post<News>,
    /// Where accepted datagrams wait for the monitor.
    pub inbox: Arc<Inbox>,
    /// The socket opened before the daemon detached, if that worked.
    pub initial: Option<UdpSocket>,
}

struct Bound {
    sock: UdpSocket,
    index: u32,
}

/// What a reader keeps from one pass of its loop to the next; only the
/// reader's own thread has it.
struct Pass {
    /// The socket, while the interface is there.
    bound: Option<Bound>,
    timing: Periods,
    /// When the interface is looked at next.
    next_look: Instant,
    /// What the monitor was last told of the link.
    link_up: Option<bool>,
    /// Per reason: how many since the last report, and the latest source.
    rejected: BTreeMap<Reject, (u64, SocketAddr)>,
    other_pair: Option<PairId>,
    last_report: Instant,
    routine: Routine,
}

/// The reader's periods, from the timing in force: a reload that changes
/// the interval changes them at the reader's next wake-up.
struct Periods {
    /// The heartbeat interval in force (see `inbox::Routine`).
    interval: Duration,
    /// `Timing::link_poll`.
    poll: Duration,
    /// How often the interface is looked at.
    look_every: Duration,
    /// Told of every link change by netlink, the reader only looks now and
    /// then in case a message was missed; without it, looking is all it has.
    netlink: bool,
}

impl Periods {
    fn new(timing: &Timing, netlink: bool) -> Periods {
        let poll = timing.link_poll();
        let look_every = if netlink { LINK_RECHECK } else { poll };
        Periods { interval: timing.interval, poll, look_every, netlink }
    }

    /// Takes the latest timing the monitor sent, if any. Returns whether
    /// the periods changed.
    fn update(&mut self, rx: &Receiver<Timing>) -> bool {
        let Some(timing) = rx.try_iter().last() else { return false };
        let new = Periods::new(&timing, self.netlink);
        let changed = (new.poll, new.look_every) != (self.poll, self.look_every);
        *self = new;
        changed
    }
}

impl Reader {
    pub(super) fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        let name = format!("reader-{}", self.net.as_str());
        std::thread::Builder::new().name(name).spawn(move || self.run())
    }

    fn run(mut self) {
        let poll = self.timing.link_poll();
        let bound: Option<Bound> = self.initial.take().and_then(|sock| {
            let index = sys::net::if_index(&self.ifname).ok()?;
            self.filter_own(&sock);
            sock.set_read_timeout(Some(poll)).ok()?;
            Some(Bound { sock, index })
        });
        let events = match LinkEvents::open() {
            Ok(ev) => Some(ev),
            Err(e) => {
                log::warn!(
                    "{}: cannot watch links through netlink ({e}); looking at {} every {} ms",
                    self.net.as_str(),
                    self.ifname,
                    poll.as_millis()
                );
                None
            }
        };
        let mut st = Pass {
            bound,
            timing: Periods::new(&self.timing, events.is_some()),
            next_look: Instant::now(),
            link_up: None,
            rejected: BTreeMap::new(),
            other_pair: None,
            last_report: Instant::now(),
            routine: Routine::default(),
        };
        let mut buf = [0u8; 2048];
        loop {
            if self.look(&mut st).is_err() {
                return;
            }
            let only_own = st.rejected.keys().all(|r| *r == Reject::Own);
            let due = if only_own { OWN_REPORT_EVERY } else { REPORT_EVERY };
            let mut wait = st.next_look.saturating_duration_since(Instant::now());
            if !st.rejected.is_empty() {
                wait = wait.min(due.saturating_sub(st.last_report.elapsed()));
            }
            let sock = st.bound.as_ref().map(|b| &b.sock);
            let ready = sys::net::wait_readable(sock, events.as_ref(), wait).unwrap_or_else(|_| {
                std::thread::sleep(st.timing.poll);
                Ready::default()
            });
            if ready.second && events.as_ref().is_some_and(LinkEvents::drain) {
                st.next_look = Instant::now();
            }
            if ready.first && self.receive(&mut st, &mut buf).is_err() {
                return;
            }
            if !st.rejected.is_empty() && st.last_report.elapsed() >= due {
                st.last_report = Instant::now();
                let counts =
                    std::mem::take(&mut st.rejected).into_iter().map(|(r, (n, src))| (r, n, src)).collect();
                let news = News::Rejected { net: self.net, counts, other_pair: st.other_pair.take() };
                if self.tx.send(news).is_err() {
                    return;
                }
            }
        }
    }

    /// Takes a reload's interval, and looks at the link when that is due,
    /// telling the monitor when it changed. `Err`: the monitor is gone.
    fn look(&self, st: &mut Pass) -> Result<(), Gone> {
        if st.timing.update(&self.retime) {
            st.next_look = st.next_look.min(Instant::now() + st.timing.look_every);
            if let Some(b) = &st.bound {
                let _ = b.sock.set_read_timeout(Some(st.timing.poll));
            }
        }
        if Instant::now() >= st.next_look {
            st.next_look = Instant::now() + st.timing.look_every;
            let (up, why) = self.watch_link(&mut st.bound, st.timing.poll);
            if st.link_up != Some(up) {
                st.link_up = Some(up);
                self.tx.send(News::Link { net: self.net, up, why })?;
            }
        }
        Ok(())
    }

    /// Receives one datagram, if the socket has one: checked, then queued
    /// in the inbox (the monitor woken for news), handed on as Apple's
    /// text, or counted as rejected. `Err`: the monitor is gone.
    fn receive(&self, st: &mut Pass, buf: &mut [u8]) -> Result<(), Gone> {
        let Some(b) = &st.bound else { return Ok(()) };
        match b.sock.recv_from(buf) {
            Ok((n, src)) => match self.check(&buf[..n], src) {
                Ok(Checked::Legacy) => self.tx.send(News::Legacy { net: self.net, src })?,
                Ok(Checked::Datagram(msg)) => {
                    let at = Instant::now();
                    let news = !st.routine.repeats(&msg, at, st.timing.interval);
                    let wake = self.inbox.push(Arrival { net: self.net, src, msg, at }, news).ok_or(Gone)?;
                    if wake {
                        self.tx.send(News::Heard)?;
                    }
                }
                Err((reason, pair)) => {
                    // Our own broadcasts come back every interval
                    // where the kernel filter is missing: not news.
                    if reason != Reject::Own {
                        log::debug!(
                            "{} network: dropped {n} bytes from {src}: {}",
                            self.net.as_str(),
                            reason.as_str()
                        );
                    }
                    let entry = st.rejected.entry(reason).or_insert((0, src));
                    *entry = (entry.0 + 1, src);
                    if reason == Reject::OtherPair {
                        st.other_pair = Some(pair);
                    }
                }
            },
            Err(e) if is_timeout(&e) => {}
            Err(_) => {
                // Reopened at the next look, which comes soon.
                st.bound = None;
                st.next_look = st.next_look.min(Instant::now() + st.timing.poll);
            }
        }
        Ok(())
    }

    /// Looks at the interface; (re)opens or drops the socket to match.
    fn watch_link(&self, bound: &mut Option<Bound>, poll: Duration) -> (bool, String) {
        let state = match sys::net::link_state(&self.ifname) {
            Ok(s) => s,
            Err(e) => {
                *bound = None;
                return (false, format!("interface {}: {e}", self.ifname));
            }
        };
        if bound.as_ref().is_some_and(|b| b.index != state.index) {
            // Deleted and recreated: the old socket is tied to the old index.
            *bound = None;
        }
        if bound.is_none() {
            match self.open(state.index, poll) {
                Ok(b) => *bound = Some(b),
                Err(e) => return (false, format!("cannot listen on {}: {e}", self.ifname)),
            }
        }
        match (state.up, state.running) {
            (true, true) => (true, format!("{} is up", self.ifname)),
            (false, _) => (false, format!("{} is administratively down", self.ifname)),
            (true, false) => (false, format!("{} has no carrier", self.ifname)),
        }
    }

    fn open(&self, index: u32, poll: Duration) -> std::io::Result<Bound> {
        let sock = listen(&self.ifname, self.port, self.dest, self.shared)?;
        sock.set_read_timeout(Some(poll))?;
        self.filter_own(&sock);
        Ok(Bound { sock, index })
    }

    /// Our own broadcasts, looped back to this socket by the kernel every
    /// interval, are dropped there by a socket filter: they would wake this
    /// thread and cost an HMAC each, only to be thrown away. Without the
    /// filter, `check` still drops them (and counts them as `own`).
    fn filter_own(&self, sock: &UdpSocket) {
        let (sender, role, generation) = self.own;
        if let Err(e) = sys::net::drop_matching(sock, &codec::own_pattern(role, sender, generation)) {
            log::warn!(
                "{}: cannot filter our own datagrams in the kernel ({e}); they are dropped here instead",
                self.net.as_str()
            );
        }
    }

    /// The stateless checks of docs/protocol.md, steps 1 to 5. A refusal
    /// carries the datagram's pair id (`pair::UNNAMED` where it has none).
    fn check(&self, buf: &[u8], src: SocketAddr) -> Result<Checked, (Reject, PairId)> {
        let net = self.net;
        if self.legacy.accepts() && codec::is_legacy(buf, &self.legacy_message) {
            // Its source is checked by the monitor, which knows the
            // current addresses.
            return Ok(Checked::Legacy);
        }
        if self.key.is_none() && net == NetId::Private && self.peer.is_some_and(|p| p != src.ip()) {
            return Err((Reject::WrongSource, pair::UNNAMED));
        }
        let msg = codec::decode(buf, self.key.as_deref()).map_err(|r| (r, pair::UNNAMED))?;
        // Another pair on this network with our key (or none): authentic,
        // and not ours. Dropped before the replay guard sees it, so that
        // its generations are never adopted or saved.
        if !pair::admits(self.pair, msg.pair) {
            return Err((Reject::OtherPair, msg.pair));
        }
        // Our own datagrams: this run's looping back (where the socket
        // filter is missing), or an earlier run's replayed by someone on
        // the network (`own-old`). The intake would drop them too (the
        // same predicate, `intake::own`), but answering here spares the
        // monitor a wake-up per interval and network. A forgery has failed
        // the MAC above and counts as bad-mac.
        let (sender, role, generation) = self.own;
        let me = intake::Me { role, sender, generation, pair: self.pair };
        if let Some(reason) = intake::own(&me, &msg) {
            return Err((reason, msg.pair));
        }
        Ok(Checked::Datagram(msg))
    }
}

/// What passed the stateless checks.
enum Checked {
    Datagram(crate::proto::Message),
    /// Apple's heartbeat text.
    Legacy,
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_reload_retimes_the_reader() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut without = Periods::new(&Timing::every(Duration::from_secs(1)), false);
        let mut with = Periods::new(&Timing::every(Duration::from_secs(1)), true);
        assert_eq!((without.poll, without.look_every), (MS(500), MS(500)));
        assert!(!without.update(&rx), "nothing sent, nothing changes");
        // Two reloads before the reader woke up: the latest wins.
        tx.send(Timing::every(Duration::from_secs(10))).unwrap();
        tx.send(Timing::every(MS(400))).unwrap();
        assert!(without.update(&rx));
        assert_eq!((without.poll, without.look_every), (MS(200), MS(200)));
        tx.send(Timing::every(MS(400))).unwrap();
        assert!(with.update(&rx));
        assert_eq!((with.poll, with.look_every), (MS(200), LINK_RECHECK));
        tx.send(Timing::every(MS(400))).unwrap();
        assert!(!with.update(&rx), "the same interval again changes nothing");
    }
}
