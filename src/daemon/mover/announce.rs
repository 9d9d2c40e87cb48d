//! The announcer thread: gratuitous ARP bursts off the monitor's path.
//! Each takeover gets `garp_count` packets `garp_interval` apart, and the
//! same burst again `REPEAT_AFTER` later for switches that were slow to
//! learn. A release cancels what is still pending for that address.

use crate::log;
use crate::sys::nd::NdSocket;
use crate::sys::packet::ArpSocket;
use std::collections::binary_heap::PeekMut;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

pub(in crate::daemon) const REPEAT_AFTER: Duration = Duration::from_secs(5);

pub(in crate::daemon) enum Request {
    /// `count` announcements `interval` apart, and again after REPEAT_AFTER.
    Announce {
        ifname: String,
        addr: IpAddr,
        count: u32,
        interval: Duration,
    },
    Cancel {
        addr: IpAddr,
    },
}

pub(in crate::daemon) struct Announcer;

/// Apple's tickle (`monitor/ops.rs`): on a thread of its own, `count`
/// gratuitous ARP bursts `every` apart for `addrs` on `ifname`, each
/// failure logged. `Err`: the thread could not be started.
pub(in crate::daemon) fn tickle(
    ifname: String,
    addrs: Vec<std::net::Ipv4Addr>,
    count: u32,
    every: Duration,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("tickle".into()).spawn(move || {
        let sock = match ArpSocket::sender(&ifname) {
            Ok(s) => s,
            Err(e) => return log::warn!("gratuitous ARP on {ifname}: {e}"),
        };
        for k in 0..count {
            if k > 0 {
                std::thread::sleep(every);
            }
            for a in &addrs {
                if let Err(e) = sock.send_garp(*a) {
                    log::warn!("gratuitous ARP for {a} on {ifname}: {e}");
                }
            }
        }
    })?;
    Ok(())
}

struct Job {
    due: Instant,
    /// Order of scheduling, among jobs due at the same instant.
    seq: u64,
    ifname: std::sync::Arc<str>,
    addr: IpAddr,
}

/// The earliest job first in a `BinaryHeap` (a max-heap): a takeover of
/// hundreds of addresses schedules thousands of packets, and each request
/// costs a push, not a pass over all of them (issue 32).
impl Ord for Job {
    fn cmp(&self, other: &Job) -> std::cmp::Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Job) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Job {
    fn eq(&self, other: &Job) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Job {}

impl Announcer {
    pub(in crate::daemon) fn spawn(self) -> std::io::Result<Sender<Request>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new().name("announcer".into()).spawn(move || self.run(rx))?;
        Ok(tx)
    }

    fn run(self, rx: Receiver<Request>) {
        let mut jobs: BinaryHeap<Job> = BinaryHeap::new();
        let mut seq = 0u64;
        let mut sockets = Sockets::default();
        loop {
            let now = Instant::now();
            while let Some(job) = jobs.peek_mut().filter(|j| j.due <= now).map(PeekMut::pop) {
                send(&mut sockets, &job);
            }
            let wait = jobs.peek().map(|j| j.due.saturating_duration_since(Instant::now()));
            let req = match wait {
                Some(w) => rx.recv_timeout(w),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match req {
                Ok(Request::Announce { ifname, addr, count, interval }) => {
                    let now = Instant::now();
                    let ifname: std::sync::Arc<str> = ifname.into();
                    for burst in [Duration::ZERO, REPEAT_AFTER] {
                        for k in 0..count {
                            let due = now + burst + interval * k;
                            seq += 1;
                            jobs.push(Job { due, seq, ifname: ifname.clone(), addr });
                        }
                    }
                }
                Ok(Request::Cancel { addr }) => jobs.retain(|j| j.addr != addr),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// One open socket per interface and family, reopened after an error (the
/// interface may have been recreated).
#[derive(Default)]
struct Sockets {
    arp: HashMap<String, ArpSocket>,
    nd: HashMap<String, NdSocket>,
}

fn send(sockets: &mut Sockets, job: &Job) {
    let result = match job.addr {
        IpAddr::V4(v4) => with(&mut sockets.arp, &job.ifname, ArpSocket::sender, |s| s.send_garp(v4)),
        IpAddr::V6(v6) => with(&mut sockets.nd, &job.ifname, NdSocket::open, |s| s.send_unsolicited_na(v6)),
    };
    if let Err(e) = result {
        let what = if job.addr.is_ipv4() { "gratuitous ARP" } else { "neighbour advertisement" };
        log::warn!("{what} for {} on {}: {e}", job.addr, job.ifname);
    }
}

fn with<S>(
    map: &mut HashMap<String, S>,
    ifname: &str,
    open: impl Fn(&str) -> std::io::Result<S>,
    send: impl Fn(&S) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if !map.contains_key(ifname) {
        map.insert(ifname.to_string(), open(ifname)?);
    }
    let result = map.get(ifname).map_or(Ok(()), &send);
    if result.is_err() {
        map.remove(ifname);
    }
    result
}
