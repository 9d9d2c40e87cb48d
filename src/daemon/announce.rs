//! The announcer thread: gratuitous ARP bursts off the monitor's path.
//! Each takeover gets `garp_count` packets `garp_interval` apart, and the
//! same burst again `REPEAT_AFTER` later for switches that were slow to
//! learn. A release cancels what is still pending for that address.

use crate::log;
use crate::sys::packet::ArpSocket;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

pub const REPEAT_AFTER: Duration = Duration::from_secs(5);

pub enum Request {
    Announce { ifname: String, addr: Ipv4Addr },
    Cancel { addr: Ipv4Addr },
}

pub struct Announcer {
    pub count: u32,
    pub interval: Duration,
}

struct Job {
    due: Instant,
    ifname: String,
    addr: Ipv4Addr,
}

impl Announcer {
    pub fn spawn(self) -> std::io::Result<Sender<Request>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new().name("announcer".into()).spawn(move || self.run(rx))?;
        Ok(tx)
    }

    fn run(self, rx: Receiver<Request>) {
        let mut jobs: Vec<Job> = Vec::new();
        let mut sockets: HashMap<String, ArpSocket> = HashMap::new();
        loop {
            let now = Instant::now();
            let (due, later): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.due <= now);
            jobs = later;
            for job in due {
                send(&mut sockets, &job);
            }
            let wait = jobs.iter().map(|j| j.due).min().map(|d| d.saturating_duration_since(Instant::now()));
            let req = match wait {
                Some(w) => rx.recv_timeout(w),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match req {
                Ok(Request::Announce { ifname, addr }) => {
                    let now = Instant::now();
                    for burst in [Duration::ZERO, REPEAT_AFTER] {
                        for k in 0..self.count {
                            let due = now + burst + self.interval * k;
                            jobs.push(Job { due, ifname: ifname.clone(), addr });
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

fn send(sockets: &mut HashMap<String, ArpSocket>, job: &Job) {
    if !sockets.contains_key(&job.ifname) {
        match ArpSocket::open(&job.ifname) {
            Ok(s) => {
                sockets.insert(job.ifname.clone(), s);
            }
            Err(e) => {
                log::warn(&format!("gratuitous ARP for {} on {}: cannot open: {e}", job.addr, job.ifname));
                return;
            }
        }
    }
    if let Some(s) = sockets.get(&job.ifname) {
        if let Err(e) = s.send_garp(job.addr) {
            log::warn(&format!("gratuitous ARP for {} on {}: {e}", job.addr, job.ifname));
            // The interface may have been recreated: reopen next time.
            sockets.remove(&job.ifname);
        }
    }
}
